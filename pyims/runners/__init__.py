"""Stage 4 — runners: ngspice subprocess, PySpice shared library, native sparse solver; one interface."""

from pyims.runners.base import Runner, TileJob
from pyims.runners.ngspice_env import NgspiceInfo, find_ngspice
from pyims.runners.registry import BACKENDS, get_runner

__all__ = ["BACKENDS", "Runner", "TileJob", "get_runner", "NgspiceInfo", "find_ngspice"]
