"""Sweeps stage: many experiment configurations on a Dask cluster, into a resumable result store."""

from pyims.sweeps.spec import SweepSpec, load_sweep, parse_sweep
from pyims.sweeps.store import ResultStore, config_key

__all__ = ["SweepSpec", "load_sweep", "parse_sweep", "ResultStore", "config_key", "run_sweep"]


def __getattr__(name: str):
    if name == "run_sweep":  # imports Dask only when a sweep runs
        from pyims.sweeps.run import run_sweep

        return run_sweep
    raise AttributeError(name)
