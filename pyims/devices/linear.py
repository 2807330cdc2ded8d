"""The ideal linear cell: I = G V, exactly the programmed conductance, no drift, no noise.

Its SPICE element is the resistor R = 1 / G that ``pyims/netlist/tile.py`` writes for every cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from pyims.devices.base import Device, cell_arrays
from pyims.devices.registry import DEVICES

if TYPE_CHECKING:
    from pyims.netlist.model import Resistor
    from pyims.spec import DeviceSpec

__all__ = ["LinearDevice"]


@DEVICES.register
@dataclass(frozen=True, slots=True, kw_only=True)
class LinearDevice(Device):
    """Today's cell: an ideal resistor at its programmed conductance."""

    kind: ClassVar[str] = "linear"
    linear: ClassVar[bool] = True

    def conductance(
        self, g_prog_s: object, v_v: object, t_since_program_s: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        g, _ = cell_arrays(g_prog_s, v_v)
        return g.copy()  # the programmed floats, unchanged

    def element(self, stem: str, node_a: str, node_b: str, g_prog_s: float) -> "Resistor":
        from pyims.netlist.model import Resistor

        return Resistor(f"R{stem}", node_a, node_b, 1.0 / float(g_prog_s))

    @classmethod
    def from_spec(cls, spec: "DeviceSpec") -> "LinearDevice":
        return cls()  # g_on / g_off / levels / variation belong to the mapping (ConductanceMapping)
