"""The rectifier: ``a = max(0, s g z)`` (unbounded above, like ``torch.nn.ReLU``); in SPICE the
behavioural ``circuits/neuron_relu.sub``. Its circuit counterpart, the op-amp precision rectifier
``circuits/neuron_relu_rectifier.sub``, runs as ``kind = "measured"`` after ``pyims characterize``
(``pyims.characterize.relu_circuit_neuron``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyims.components.neuron import ParametricNeuron
from pyims.components.registry import NEURONS
from pyims.model.curves import ReluCurve

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance

__all__ = ["ReluNeuron"]


@NEURONS.register
class ReluNeuron(ReluCurve, ParametricNeuron):
    subckt = "pyims_neuron_relu"

    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        from pyims.netlist.model import SubcktInstance

        return SubcktInstance(name, (node_in, node_out), self.subckt, (("slope", self.k * v_read_v / v_z),))
