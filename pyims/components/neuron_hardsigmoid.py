"""The hard sigmoid: ``a = clip((lo + hi)/2 + s g (hi - lo) z / 4, lo, hi)`` (the logistic's slope at 0);
in SPICE ``circuits/neuron_hardsigmoid.sub``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyims.components.neuron import ParametricNeuron
from pyims.components.registry import NEURONS
from pyims.model.curves import HardSigmoidCurve

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance

__all__ = ["HardSigmoidNeuron"]


@NEURONS.register
class HardSigmoidNeuron(HardSigmoidCurve, ParametricNeuron):
    subckt = "pyims_neuron_hardsigmoid"

    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        from pyims.netlist.model import SubcktInstance

        lo, hi = self.out_lo_norm * v_read_v, self.out_hi_norm * v_read_v
        slope = 0.25 * self.k * (self.out_hi_norm - self.out_lo_norm) * v_read_v / v_z
        return SubcktInstance(name, (node_in, node_out), self.subckt, (("slope", slope), ("vlo", lo), ("vhi", hi)))
