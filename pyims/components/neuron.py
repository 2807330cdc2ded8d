"""What every analog neuron provides, and the shared base of the parametric ones.

A neuron maps a pre-activation ``z`` (dimensionless) to an activation ``a`` (dimensionless; the
next layer's rows are driven at ``a * v_read_v``). Each kind is one class in its own file that
owns its parameters and validation, its transfer function and slope (native inference and
training), and its SPICE form: the library subcircuit and an instance scaled to volts. A
``NeuronSpec`` (the config) builds its component through ``pyims.components.NEURONS``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from pyims.errors import SpecError

if TYPE_CHECKING:
    from pyims.model.neurons import NeuronSpec
    from pyims.netlist.model import SubcktInstance, SubcktLibrary

__all__ = ["Neuron", "ParametricNeuron"]


class Neuron(ABC):
    """An analog neuron: transfer function, slope, and its circuit."""

    #: the config name (``neuron.kind``)
    kind: ClassVar[str]
    #: a transistor-level circuit: network DC runs need looser device tolerances (``pyims.spec.simulator.DEVICE``)
    transistor_level: ClassVar[bool] = False
    #: native-vs-ngspice agreement pyims promises for networks with this neuron (relative)
    ngspice_tolerance_rel: ClassVar[float] = 1e-6

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: "NeuronSpec") -> "Neuron":
        """Validate the spec's fields that this kind uses (SpecError naming the field) and build the neuron."""

    @abstractmethod
    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Activation ``a`` for pre-activation ``z`` (any shape, dimensionless)."""

    @abstractmethod
    def derivative(self, z: np.ndarray) -> np.ndarray:
        """``da/dz`` (for training)."""

    @abstractmethod
    def library(self) -> "SubcktLibrary":
        """The subcircuit file this neuron runs as in SPICE."""

    @abstractmethod
    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        """The subcircuit instance scaled to volts: input ``v_z`` V per unit pre-activation, output
        ``v_read_v`` V per unit activation."""


class ParametricNeuron(Neuron):
    """A behavioural neuron with gain ``g``, rails ``lo`` / ``hi`` and sign ``s`` (-1 when inverting)."""

    subckt: ClassVar[str]

    def __init__(self, *, gain_norm: float, out_lo_norm: float, out_hi_norm: float, inverting: bool) -> None:
        self.gain_norm, self.out_lo_norm, self.out_hi_norm, self.inverting = gain_norm, out_lo_norm, out_hi_norm, inverting

    @classmethod
    def from_spec(cls, spec: "NeuronSpec") -> "ParametricNeuron":
        if spec.curve_in_v is not None or spec.curve_out_v is not None:
            raise SpecError(f'neuron.curve_in_v / curve_out_v belong to kind = "measured", not {spec.kind!r}')
        if spec.gain_norm <= 0.0:
            raise SpecError(f"neuron.gain_norm={spec.gain_norm!r} must be > 0; use inverting = true for a falling curve")
        if spec.out_hi_norm <= spec.out_lo_norm:
            raise SpecError(f"neuron.out_hi_norm={spec.out_hi_norm!r} must exceed out_lo_norm={spec.out_lo_norm!r}")
        return cls(gain_norm=spec.gain_norm, out_lo_norm=spec.out_lo_norm, out_hi_norm=spec.out_hi_norm,
                   inverting=spec.inverting)

    @property
    def k(self) -> float:
        """Signed gain ``s * g``."""
        return (-1.0 if self.inverting else 1.0) * self.gain_norm

    def library(self) -> "SubcktLibrary":
        from pyims.netlist.library import load_library

        return load_library(self.subckt)
