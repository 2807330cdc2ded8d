"""``combine = "sum"``: every partition's column wires end at one shared sense amplifier, whose
virtual ground sums their currents (current-mode senses only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pyims.components.combiner import Combiner
from pyims.components.registry import COMBINERS

if TYPE_CHECKING:
    from pyims.netlist.model import Element

__all__ = ["SumCombiner"]


@COMBINERS.register
class SumCombiner(Combiner):
    kind = "sum"

    def groups(self, n_h: int) -> tuple[tuple[int, ...], ...]:
        return (tuple(range(n_h)),)

    def tag(self, p: int) -> str:
        return ""

    def stage_gain(self, gain: float, n_h: int) -> float:
        return gain

    def stage_output(self, l: int, p: int, j: int) -> tuple[str, list["Element"]]:
        return f"z{l}_{j}", []

    def combine(self, parts: list[np.ndarray]) -> np.ndarray:
        return sum(parts)
