"""pyims — SPICE-in-the-loop simulation of analog in-memory-computing crossbars.

Pipeline (one subpackage per stage, imports point down the list):
    spec      -> what the user asks for (tiles, wire parasitics)
    netlist   -> netlist model and ngspice text
    runners   -> ngspice subprocess, PySpice shared library, native sparse solver
    results   -> typed results
    cli       -> the ``pyims`` command
"""

from pyims.api import simulate_tile, tile_netlist
from pyims.errors import (
    ConvergenceError,
    NetlistError,
    PyimsError,
    SimulationError,
    SimulationTimeout,
    SimulatorNotFound,
    SpecError,
)
from pyims.results import RunInfo, TileResult
from pyims.runners import BACKENDS, TileJob, find_ngspice, get_runner
from pyims.spec import TileSpec, WireGeometry, WireParasitics

__version__ = "0.1.0"

__all__ = [
    "simulate_tile",
    "tile_netlist",
    "TileSpec",
    "WireParasitics",
    "WireGeometry",
    "TileJob",
    "TileResult",
    "RunInfo",
    "BACKENDS",
    "get_runner",
    "find_ngspice",
    "PyimsError",
    "SpecError",
    "NetlistError",
    "SimulatorNotFound",
    "SimulationError",
    "SimulationTimeout",
    "ConvergenceError",
]
