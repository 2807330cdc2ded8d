"""The logistic neuron: ``a = lo + (hi - lo) * (1 + tanh(s g z / 2)) / 2`` (overflow-free);
in SPICE ``circuits/neuron_sigmoid.sub`` with the same formula in volts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyims.components.neuron import ParametricNeuron
from pyims.components.registry import NEURONS
from pyims.model.curves import SigmoidCurve

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance

__all__ = ["SigmoidNeuron"]


@NEURONS.register
class SigmoidNeuron(SigmoidCurve, ParametricNeuron):
    subckt = "pyims_neuron_sigmoid"

    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        from pyims.netlist.model import SubcktInstance

        lo, hi = self.out_lo_norm * v_read_v, self.out_hi_norm * v_read_v
        return SubcktInstance(name, (node_in, node_out), self.subckt, (("k", self.k / v_z), ("vlo", lo), ("vhi", hi)))
