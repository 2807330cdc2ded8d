"""The rectifier: ``a = max(0, s g z)`` (unbounded above, like ``torch.nn.ReLU``); in SPICE the
behavioural ``circuits/neuron_relu.sub``. Its circuit counterpart, the op-amp precision rectifier
``circuits/neuron_relu_rectifier.sub``, runs as ``kind = "measured"`` after ``pyims characterize``
(``pyims.characterize.relu_circuit_neuron``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pyims.components.neuron import ParametricNeuron
from pyims.components.registry import NEURONS
from pyims.errors import SpecError

if TYPE_CHECKING:
    from pyims.model.neurons import NeuronSpec
    from pyims.netlist.model import SubcktInstance

__all__ = ["ReluNeuron"]


@NEURONS.register
class ReluNeuron(ParametricNeuron):
    kind = "relu"
    subckt = "pyims_neuron_relu"

    @classmethod
    def from_spec(cls, spec: "NeuronSpec") -> "ReluNeuron":
        if (spec.out_lo_norm, spec.out_hi_norm) != (0.0, 1.0):
            raise SpecError('neuron.out_lo_norm / out_hi_norm do not apply to kind = "relu" (output max(0, g z), no rails); '
                            'remove them, or characterise a rectifier with rails and use kind = "measured"')
        return super().from_spec(spec)  # type: ignore[return-value]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(self.k * np.asarray(z, dtype=np.float64), 0.0)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return np.where(self.k * np.asarray(z, dtype=np.float64) > 0.0, self.k, 0.0)

    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        from pyims.netlist.model import SubcktInstance

        return SubcktInstance(name, (node_in, node_out), self.subckt, (("slope", self.k * v_read_v / v_z),))
