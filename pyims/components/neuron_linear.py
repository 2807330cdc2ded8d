"""The linear neuron ``a = s g z`` (no clipping): makes a whole network linear, for exact checks;
in SPICE ``circuits/neuron_linear.sub``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pyims.components.neuron import ParametricNeuron
from pyims.components.registry import NEURONS

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance

__all__ = ["LinearNeuron"]


@NEURONS.register
class LinearNeuron(ParametricNeuron):
    kind = "linear"
    subckt = "pyims_neuron_linear"
    # a linear network is solved by one Newton step: ngspice meets the native result to 1e-9
    ngspice_tolerance_rel = 1e-9

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.k * np.asarray(z, dtype=np.float64)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return np.full_like(np.asarray(z, dtype=np.float64), self.k)

    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        from pyims.netlist.model import SubcktInstance

        return SubcktInstance(name, (node_in, node_out), self.subckt, (("slope", self.k * v_read_v / v_z),))
