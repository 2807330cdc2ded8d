"""Experiment stage: a TOML config -> preflight (``pyims.experiment.preflight``) -> dataset, model, mapping,
inference, comparison, report."""

from pyims.experiment.config import ExperimentConfig, SimulationSpec, load_config, parse_config
from pyims.experiment.run import ExperimentResult, run_experiment
from pyims.experiment.summary import ExperimentSummary

__all__ = [
    "ExperimentConfig",
    "SimulationSpec",
    "load_config",
    "parse_config",
    "ExperimentResult",
    "ExperimentSummary",
    "run_experiment",
]
