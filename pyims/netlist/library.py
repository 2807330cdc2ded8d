"""The subcircuit library in ``circuits/``: located, read and handed to netlists verbatim."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from pyims.errors import NetlistError
from pyims.netlist.model import SubcktLibrary
from pyims.netlist.untrusted import check_untrusted_spice

__all__ = ["circuits_dir", "load_library", "load_library_file", "LIBRARY_FILES"]

#: Subcircuit name -> file in ``circuits/``.
LIBRARY_FILES = {
    "pyims_sense_ideal": "sense_ideal.sub",
    "pyims_sense_opamp": "sense_opamp.sub",
    "pyims_diff": "diff_stage.sub",
    "pyims_neuron_sigmoid": "neuron_sigmoid.sub",
    "pyims_neuron_hardsigmoid": "neuron_hardsigmoid.sub",
    "pyims_neuron_linear": "neuron_linear.sub",
    "pyims_neuron_inverter": "neuron_inverter.sub",
    "pyims_diffamp": "diffamp.sub",
    "pyims_neuron_relu": "neuron_relu.sub",
    "pyims_neuron_relu_rectifier": "neuron_relu_rectifier.sub",
    "pyims_adc": "adc.sub",
    # the converter with a threshold table (INL/DNL) and the digital correction: one file, several subcircuits
    "pyims_adc_steps": "adc_table.sub",
    "pyims_adc_front": "adc_table.sub",
    "pyims_adc_code": "adc_table.sub",
    "pyims_adc_fixed": "adc_table.sub",
    "pyims_adc_affine": "adc_table.sub",
}


#: Where an installed pyims (wheel, ``pip install .``) keeps its copy of ``circuits/`` (see setup.py).
PACKAGED_CIRCUITS = Path(__file__).resolve().parents[1] / "circuits"
#: The source of truth: ``circuits/`` at the top of a pyims checkout (editable installs use it directly).
CHECKOUT_CIRCUITS = Path(__file__).resolve().parents[2] / "circuits"


def circuits_dir() -> Path:
    """``$PYIMS_CIRCUITS_DIR``, else the copy shipped inside the installed package, else the checkout's ``circuits/``."""
    env = os.environ.get("PYIMS_CIRCUITS_DIR")
    if env:
        path = Path(env)
    else:
        path = PACKAGED_CIRCUITS if PACKAGED_CIRCUITS.is_dir() else CHECKOUT_CIRCUITS
    if not path.is_dir():
        raise NetlistError(
            f"subcircuit library {path} not found; reinstall pyims (its wheel ships circuits/ as pyims/circuits) "
            "or set PYIMS_CIRCUITS_DIR to the project's circuits/ folder"
        )
    return path


@lru_cache(maxsize=None)
def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise NetlistError(f"subcircuit file {path} cannot be read as text ({exc})") from exc


def load_library(subckt: str) -> SubcktLibrary:
    """The library file defining ``subckt``, checked to define it."""
    if subckt not in LIBRARY_FILES:
        raise NetlistError(f"subcircuit {subckt!r} is not in the library; use one of {', '.join(LIBRARY_FILES)}")
    path = circuits_dir() / LIBRARY_FILES[subckt]
    if not path.is_file():
        raise NetlistError(f"subcircuit file {path} is missing from the library; restore it from the repository")
    return load_library_file(path, subckt)


def load_library_file(path: str | os.PathLike[str], subckt: str) -> SubcktLibrary:
    """Any subcircuit file (yours or the library's) that defines ``subckt``, checked against the allow-list of
    ``pyims.netlist.untrusted``; its text then goes into netlists verbatim."""
    path = Path(path)
    if not path.is_file():
        raise NetlistError(f"subcircuit file {path} does not exist; pass the path of a file with .subckt {subckt}")
    text = _read(path.resolve())
    check_untrusted_spice(text, str(path))
    defines = tuple(m.group(1) for m in re.finditer(r"^\s*\.subckt\s+(\S+)", text, re.IGNORECASE | re.MULTILINE))
    if subckt not in defines:
        raise NetlistError(f"{path} does not define .subckt {subckt}")
    return SubcktLibrary(name=path.name, text=text, defines=defines)
