"""The linear neuron ``a = s g z`` (no clipping): makes a whole network linear, for exact checks;
in SPICE ``circuits/neuron_linear.sub``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyims.components.neuron import ParametricNeuron
from pyims.components.registry import NEURONS
from pyims.model.curves import LinearCurve

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance

__all__ = ["LinearNeuron"]


@NEURONS.register
class LinearNeuron(LinearCurve, ParametricNeuron):
    subckt = "pyims_neuron_linear"
    # a linear network is solved by one Newton step: ngspice meets the native result to 1e-9
    ngspice_tolerance_rel = 1e-9

    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        from pyims.netlist.model import SubcktInstance

        return SubcktInstance(name, (node_in, node_out), self.subckt, (("slope", self.k * v_read_v / v_z),))
