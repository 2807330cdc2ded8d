"""``periphery.sense = "diffamp"``: IMAC-Sim's voltage-mode readout (``circuits/diffamp.sub``).

No virtual ground: each output's I+ and I- lines end in the inputs of a four-resistor
difference amplifier, ``r_in_ohm`` in series and ``gain * r_in_ohm`` to ground / in feedback,
op-amp gain ``A`` (``opamp_gain_ratio``): ``v_d = A g (v+ - v-) / (1 + g + A)`` (``g (v+ - v-)`` for
an ideal op-amp). One amplifier per output and horizontal partition; partitions are averaged
(``combine = "average"``: they cannot share a node in voltage mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from pyims.components.combiner import Combiner
from pyims.components.registry import SENSES
from pyims.components.sense import Sense, diff_matrix
from pyims.errors import SpecError

if TYPE_CHECKING:
    from pyims.netlist.model import Element
    from pyims.spec.network import DeviceSpec, PeripherySpec

__all__ = ["DiffampSense"]


@SENSES.register
class DiffampSense(Sense):
    kind = "diffamp"
    current_mode = False
    loads_lines = True

    @classmethod
    def validate(cls, spec: "PeripherySpec") -> None:
        if spec.combine != "average":
            raise SpecError(
                'periphery.sense="diffamp" is voltage mode: partitions cannot share a virtual ground; '
                'set periphery.combine = "average"'
            )

    def subckts(self) -> tuple[str, ...]:
        return ("pyims_diffamp",)

    def v_z(self, *, gain: float, v_read_v: float, w_max: float, dg_s: float, n_rows: int, device: "DeviceSpec") -> float:
        """Each line is a conductance-weighted average of its inputs, so to first order (unloaded
        lines, ideal op-amp) ``v_d = gain v_read sum_i (G+_i - G-_i) u_i / (sum_i (G+_i + G-_i) / 2)``;
        with every cell pair's mean conductance at ``g_mid = (g_on + g_off) / 2`` that is
        ``gain v_read dg / (w_max rows g_mid)``. Exact for the pre-activation's *definition* only:
        line loading and common-mode terms are what the analog result measures against it."""
        g_mid = 0.5 * (device.g_on_s + device.g_off_s)
        return gain * v_read_v * dg_s / (w_max * n_rows * g_mid)

    def layer_elements(self, l: int, n_h: int, n_out: int, *, gain: float, combiner: Combiner) -> list["Element"]:
        from pyims.netlist.model import SubcktInstance

        per = self.spec
        amp = (("rin", per.r_in_ohm), ("gain", gain), ("a", per.opamp_gain_ratio))
        out: list[Element] = []
        for p in range(n_h):
            tag = combiner.tag(p)
            for j in range(n_out):
                node, rest = combiner.stage_output(l, p, j)
                out.append(SubcktInstance(f"XD{l}_{tag}{j}", (f"s{l}_{tag}{2 * j}", f"s{l}_{tag}{2 * j + 1}", node), "pyims_diffamp", amp))
                out += rest
        return out

    def load(self, n_out: int, *, gain: float) -> np.ndarray:
        """Row-vector convention, ``i_load = v_s @ L``: the I+ end sees ``RP + RG = (1 + g) r_in`` to
        ground; the I- end feeds ``RN`` into the inverting node held by the op-amp at
        ``v_nn = (g v- + A g/(1+g) v+) / (1 + g + A)``, so
        ``i- = ((1 + A) v- - A g/(1+g) v+) / ((1 + g + A) r_in)``."""
        r_in, a = self.spec.r_in_ohm, self.spec.opamp_gain_ratio
        j = np.arange(n_out)
        load = np.zeros((2 * n_out, 2 * n_out))
        denom = (1.0 + gain + a) * r_in
        load[2 * j, 2 * j] = 1.0 / ((1.0 + gain) * r_in)
        load[2 * j + 1, 2 * j + 1] = (1.0 + a) / denom
        load[2 * j, 2 * j + 1] = -a * gain / ((1.0 + gain) * denom)
        return load

    def readout(self, n_out: int, *, gain: float, scale: float, v_read_v: float, v_z: float, n_h: int) -> np.ndarray:
        """``v_d = k (v+ - v-)``, ``k = A g / (1 + g + A)``, averaged over the ``h`` partitions, per ``v_z``."""
        a = self.spec.opamp_gain_ratio
        k = a * gain / (1.0 + gain + a)
        return (diff_matrix(n_out) * k) * (v_read_v / (n_h * v_z))

    def sense_currents(self, l: int, n_h: int, n_out: int, combiner: Combiner,
                       columns: Callable[[list[str]], np.ndarray], *, gain: float) -> np.ndarray:
        """``i = v_s @ load``: what the amplifiers' input resistors draw from each line end."""
        load = self.load(n_out, gain=gain)
        tags = [combiner.tag(group[0]) for group in combiner.groups(n_h)]
        v_s = np.stack([columns([f"v(s{l}_{g}{k})" for k in range(2 * n_out)]) for g in tags], axis=1)
        return v_s @ load
