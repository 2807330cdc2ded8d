"""``combine = "average"``: each partition has its own sense and differential stage (gain times
the number of partitions ``h``, for current mode), and equal resistors ``r_avg_ohm`` average the
stages' outputs at the neuron input -- ``h`` partial outputs of gain ``g h`` average to gain ``g``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pyims.components.combiner import Combiner
from pyims.components.registry import COMBINERS

if TYPE_CHECKING:
    from pyims.netlist.model import Element

__all__ = ["AverageCombiner"]


@COMBINERS.register
class AverageCombiner(Combiner):
    kind = "average"

    def groups(self, n_h: int) -> tuple[tuple[int, ...], ...]:
        return tuple((p,) for p in range(n_h))

    def tag(self, p: int) -> str:
        return f"{p}_"

    def stage_gain(self, gain: float, n_h: int) -> float:
        return gain * n_h

    def stage_output(self, l: int, p: int, j: int) -> tuple[str, list["Element"]]:
        from pyims.netlist.model import Resistor

        out = f"d{l}_{p}_{j}"
        return out, [Resistor(f"RA{l}_{p}_{j}", out, f"z{l}_{j}", self.r_avg_ohm)]

    def combine(self, parts: list[np.ndarray]) -> np.ndarray:
        n_h = len(parts)
        return np.mean([n_h * q for q in parts], axis=0)
