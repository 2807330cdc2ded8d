"""What every analog neuron circuit provides, and the shared base of the parametric ones.

A neuron kind's math is its curve (``pyims.model.curves``: transfer function, slope,
validation of the ``[neuron]`` fields it uses). Its component here is a subclass of that curve
that adds the circuit: the library subcircuit and an instance scaled to volts, whether it is
transistor-level, and the native-vs-ngspice agreement pyims promises for it. A kind defined
outside pyims can be one class (a ``Neuron`` with ``__call__`` and ``derivative``): registering it
with ``@NEURONS.register`` makes its curve known to ``NeuronSpec`` too.
``pyims.components.neuron_for(spec)`` builds the component of a ``NeuronSpec``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar

from pyims.model.curves import Curve, ParametricCurve

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance, SubcktLibrary

__all__ = ["Neuron", "ParametricNeuron"]


class Neuron(Curve):
    """An analog neuron: its curve (inherited) and its circuit."""

    #: a transistor-level circuit: network DC runs need looser device tolerances (``pyims.spec.simulator.DEVICE``)
    transistor_level: ClassVar[bool] = False
    #: native-vs-ngspice agreement pyims promises for networks with this neuron (relative)
    ngspice_tolerance_rel: ClassVar[float] = 1e-6

    @abstractmethod
    def library(self) -> "SubcktLibrary":
        """The subcircuit file this neuron runs as in SPICE."""

    @abstractmethod
    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        """The subcircuit instance scaled to volts: input ``v_z`` V per unit pre-activation, output
        ``v_read_v`` V per unit activation."""


class ParametricNeuron(ParametricCurve, Neuron):
    """A behavioural neuron with gain ``g``, rails ``lo`` / ``hi`` and sign ``s`` (-1 when inverting),
    run as the library subcircuit ``subckt``."""

    subckt: ClassVar[str]

    def library(self) -> "SubcktLibrary":
        from pyims.netlist.library import load_library

        return load_library(self.subckt)
