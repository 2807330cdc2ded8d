"""The ideal linear cell: I = G V, exactly the programmed conductance, no drift, no noise.

Its SPICE element is the resistor R = 1 / G that ``pyims/netlist/tile.py`` writes for every cell.
Its range is ``[device]``'s ``g_off_s`` .. ``g_on_s`` (``DeviceSpec``); stuck cells (``stuck_off_ratio``,
``stuck_on_ratio``) sit at those two values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pyims.devices.base import COMMON_FIELDS, Device, ResistiveCell
from pyims.devices.registry import DEVICES
from pyims.errors import SpecError
from pyims.spec._checks import positive

if TYPE_CHECKING:
    from pyims.spec import DeviceSpec

__all__ = ["LinearDevice"]


@DEVICES.register
@dataclass(frozen=True, slots=True, kw_only=True)
class LinearDevice(ResistiveCell):
    """Today's cell: an ideal resistor at its programmed conductance.

    Attributes:
        g_on_s / g_off_s: the conductances the largest weight / a zero weight are programmed to, siemens
            (``[device]`` ``g_on_s`` / ``g_off_s``; g_on > g_off > 0).
    """

    g_on_s: float = 1e-4
    g_off_s: float = 1e-6

    kind: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        Device.__post_init__(self)
        object.__setattr__(self, "g_on_s", positive("device", "g_on_s", self.g_on_s))
        object.__setattr__(self, "g_off_s", positive("device", "g_off_s", self.g_off_s))
        if self.g_on_s <= self.g_off_s:
            raise SpecError(f"device.g_on_s={self.g_on_s!r} must exceed device.g_off_s={self.g_off_s!r}")

    @property
    def g_range_s(self) -> tuple[float, float]:
        return (self.g_off_s, self.g_on_s)


    @classmethod
    def from_spec(cls, spec: "DeviceSpec") -> "LinearDevice":
        """Levels and variation belong to the mapping (``ConductanceMapping``); the range and common fields are the
        device's."""
        common = {name: getattr(spec, name) for name in COMMON_FIELDS}
        return cls.from_config({**dict(spec.params), "g_on_s": spec.g_on_s, "g_off_s": spec.g_off_s, **common})
