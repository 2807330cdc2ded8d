"""How horizontal partitions' partial sums meet: the base of the combiners.

A layer's rows are split into ``h`` horizontal partitions; each output's partial sums are
combined either at one shared sense node (``sum``) or by averaging per-partition outputs
(``average``). A combiner decides which partitions share a sense node (its *groups*), how the
netlist names their nodes, the gain of each group's stage, the averaging resistors, and how
tiled co-simulation combines the partial sums in Python.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from pyims.netlist.model import Element

__all__ = ["Combiner"]


class Combiner(ABC):
    kind: ClassVar[str]

    def __init__(self, *, r_avg_ohm: float) -> None:
        self.r_avg_ohm = r_avg_ohm

    @abstractmethod
    def groups(self, n_h: int) -> tuple[tuple[int, ...], ...]:
        """Partitions (by index) whose column wires end at one sense node, one tuple per sense group."""

    @abstractmethod
    def tag(self, p: int) -> str:
        """The node-name tag of partition ``p``'s sense group (``""`` when all share one)."""

    @abstractmethod
    def stage_gain(self, gain: float, n_h: int) -> float:
        """The gain each group's differential stage needs so the layer's output has gain ``gain``."""

    @abstractmethod
    def stage_output(self, l: int, p: int, j: int) -> tuple[str, list["Element"]]:
        """The node partition ``p``'s stage of output ``j`` drives, and the elements from it to ``z{l}_{j}``."""

    @abstractmethod
    def combine(self, parts: list[np.ndarray]) -> np.ndarray:
        """Tiled co-simulation: the layer's pre-activations from each partition's ``(N, n)`` partial result."""
