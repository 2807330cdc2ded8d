"""``periphery.sense = "opamp"``: an inverting op-amp of finite open-loop gain ``A``
(``opamp_gain_ratio``) with feedback ``rf_ohm`` (``circuits/sense_opamp.sub``). Its input is not
exactly at 0 V, so the array sees it: at a sense node, ``(1 + A) / rf`` to ground, and the
amplifier's output is ``-A v_s``; per output the stage reads ``(A / rf) (v(I+) - v(I-))``."""

from __future__ import annotations

import numpy as np

from pyims.components.registry import SENSES
from pyims.components.sense import CurrentSense, diff_matrix

__all__ = ["OpampSense"]


@SENSES.register
class OpampSense(CurrentSense):
    kind = "opamp"
    loads_lines = True

    def params(self) -> tuple[tuple[str, float], ...]:
        return (("rf", self.spec.rf_ohm), ("a", self.spec.opamp_gain_ratio))

    def load(self, n_out: int, *, gain: float) -> np.ndarray:
        return (1.0 + self.spec.opamp_gain_ratio) / self.spec.rf_ohm * np.eye(2 * n_out)

    def readout(self, n_out: int, *, gain: float, scale: float, v_read_v: float, v_z: float, n_h: int) -> np.ndarray:
        return diff_matrix(n_out) * scale * (self.spec.opamp_gain_ratio / self.spec.rf_ohm)
