"""Experiment stage: a TOML config -> dataset, model, mapping, inference, comparison, report."""

from pyims.experiment.config import ExperimentConfig, SimulationSpec, load_config, parse_config
from pyims.experiment.preflight import PreflightReport, preflight
from pyims.experiment.run import ExperimentResult, run_experiment
from pyims.experiment.summary import ExperimentSummary

__all__ = [
    "ExperimentConfig",
    "SimulationSpec",
    "load_config",
    "parse_config",
    "preflight",
    "PreflightReport",
    "ExperimentResult",
    "ExperimentSummary",
    "run_experiment",
]
