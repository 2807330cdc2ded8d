"""Stage 4 — runners: ngspice subprocess, PySpice shared library, native sparse solver; one interface."""

from pyims.runners.base import BACKENDS, Runner, TileJob, get_runner
from pyims.runners.ngspice_env import NgspiceInfo, find_ngspice

__all__ = ["BACKENDS", "Runner", "TileJob", "get_runner", "NgspiceInfo", "find_ngspice"]
