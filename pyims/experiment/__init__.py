"""Experiment stage: a TOML config -> dataset, model, mapping, inference, comparison, report."""

from pyims.experiment.config import ExperimentConfig, SimulationSpec, load_config, parse_config
from pyims.experiment.run import ExperimentResult, run_experiment

__all__ = ["ExperimentConfig", "SimulationSpec", "load_config", "parse_config", "ExperimentResult", "run_experiment"]
