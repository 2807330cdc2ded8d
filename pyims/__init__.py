"""pyims — SPICE-in-the-loop simulation of analog in-memory-computing crossbars.

Pipeline (one subpackage per stage, imports point down the list):
    data, model -> datasets; layer objects and the one forward routine, MLP, trainer, weight files
    spec        -> what the user asks for (tiles, wires, devices, encoding, periphery, partitions, SimOptions)
    components  -> neurons, sense peripheries, combiners: one class per kind, one registry
    mapping     -> weights -> G+/G- tiles
    netlist     -> netlist model and ngspice text (tiles, networks, subcircuit library)
    runners     -> the simulator session (ngspice; PySpice as a dialect), native sparse solver (tiles)
    inference   -> networks, native and ngspice, fully-analog and tiled
    compare     -> digital vs mapped-ideal vs analog metrics
    experiment  -> TOML config -> run -> report; cli -> the ``pyims`` command

Heavy stages (scipy, matplotlib, PySpice) load only when used: ``from pyims.experiment import
run_experiment``, ``from pyims.inference import NativeNetwork, SpiceNetwork``.
"""

from pyims.api import simulate_tile, tile_netlist
from pyims.errors import (
    ChecksumError,
    ConfigError,
    ConvergenceError,
    DatasetError,
    ModelFileError,
    NetlistError,
    UnsupportedOpError,
    PyimsError,
    SimulationError,
    SimulationTimeout,
    SimulatorNotFound,
    SpecError,
)
from pyims.results import RunInfo, TileResult
from pyims.runners import BACKENDS, TileJob, find_ngspice, get_runner
from pyims.model import MLP, Model, NeuronSpec, TrainSpec, load_model
from pyims.spec.simulator import NativeOptions, SimOptions
from pyims.spec.analysis import Dc, ReadAt, Repeat, Tran
from pyims.hardware import FullyAnalog, Hardware, Tiled
from pyims.spec import (
    DeviceSpec,
    InputEncoding,
    PartitionPlan,
    PeripherySpec,
    TileSpec,
    WireGeometry,
    WireParasitics,
)

__version__ = "0.1.0"

#: Loaded on first use (they pull in scipy and the simulators): ``pyims.infer``, ``pyims.Adc``.
_LAZY = {"infer": ("pyims.inference.infer", "infer"), "simulate": ("pyims.inference.simulate", "simulate"),
         "calibrate": ("pyims.inference.simulate", "calibrate"),
         "compile": ("pyims.inference.compiled", "compile_model"),
         "AnalogModel": ("pyims.inference.compiled", "AnalogModel"),
         "Adc": ("pyims.components.adc", "Adc")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pyims' has no attribute {name!r}")


__all__ = [
    "load_model",
    "infer",
    "simulate",
    "calibrate",
    "compile",
    "AnalogModel",
    "Hardware",
    "FullyAnalog",
    "Tiled",
    "Dc",
    "ReadAt",
    "Repeat",
    "Tran",
    "NativeOptions",
    "Model",
    "Adc",
    "simulate_tile",
    "tile_netlist",
    "TileSpec",
    "WireParasitics",
    "WireGeometry",
    "DeviceSpec",
    "InputEncoding",
    "PeripherySpec",
    "PartitionPlan",
    "SimOptions",
    "NeuronSpec",
    "TrainSpec",
    "MLP",
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
    "ConfigError",
    "DatasetError",
    "ChecksumError",
    "ModelFileError",
    "UnsupportedOpError",
]
