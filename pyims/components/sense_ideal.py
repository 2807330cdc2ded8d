"""``periphery.sense = "ideal"``: a 0 V virtual ground and an ideal transimpedance ``v = -rf i``
(``circuits/sense_ideal.sub``). The array sees exactly 0 V at every column end."""

from __future__ import annotations

from pyims.components.registry import SENSES
from pyims.components.sense import CurrentSense

__all__ = ["IdealSense"]


@SENSES.register
class IdealSense(CurrentSense):
    kind = "ideal"
