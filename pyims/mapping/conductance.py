"""Weights -> conductance pairs: linear scaling into [g_off, g_on], levels, variation, the device.

For a layer's augmented weights ``w`` (inputs plus the bias row), with ``w_max = max |w|`` and
``dg = g_on - g_off``:

    G+ = g_off + dg * q(max(w, 0) / w_max)        G- = g_off + dg * q(max(-w, 0) / w_max)

so ``G+ - G- = dg * w / w_max`` (before quantisation ``q`` and variation). ``q`` rounds to
``levels`` evenly spaced values in [0, 1] (identity when continuous). Variation multiplies
each programmed G by ``exp(sigma * N(0, 1))``, independently per device (G+ drawn first, then G-).
The cells are then programmed to those targets by the device and read ``t_since_program_s``
later (``Device.state``: programming noise, stuck cells, drift, read-noise spread; the linear
device lands exactly on them and stays).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyims.devices import Device, LinearDevice, device_for
from pyims.devices.base import CellState
from pyims.errors import SpecError
from pyims.spec import DeviceSpec
from pyims.spec._checks import nonnegative, positive

__all__ = ["ConductanceMapping", "weights_to_conductances"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConductanceMapping:
    """The weights-to-conductances converter of one set of devices.

    Attributes:
        g_on_s / g_off_s: the conductances the largest weight / a zero weight map to, siemens (g_on > g_off >= 0):
            the device's range (``Device.g_range_s``).
        levels: programmable levels evenly spaced in [g_off, g_on] (``None``: continuous).
        variation_sigma_ratio: the standard deviation of ln(G) of the device-to-device variation (0: none).
        device: the cells the targets are programmed into (``pyims.devices``).
    """

    g_on_s: float = 1e-4
    g_off_s: float = 1e-6
    levels: int | None = None
    variation_sigma_ratio: float = 0.0
    device: Device = field(default_factory=LinearDevice)

    def __post_init__(self) -> None:
        object.__setattr__(self, "g_on_s", positive("ConductanceMapping", "g_on_s", self.g_on_s))
        object.__setattr__(self, "g_off_s", nonnegative("ConductanceMapping", "g_off_s", self.g_off_s))
        if self.g_on_s <= self.g_off_s:
            raise SpecError(f"ConductanceMapping.g_on_s={self.g_on_s!r} must exceed g_off_s={self.g_off_s!r}")
        if self.levels is not None:
            if isinstance(self.levels, bool) or not isinstance(self.levels, (int, np.integer)) or self.levels < 2:
                raise SpecError(f"ConductanceMapping.levels={self.levels!r} must be an integer >= 2 (or None: continuous)")
            object.__setattr__(self, "levels", int(self.levels))
        object.__setattr__(self, "variation_sigma_ratio",
                           nonnegative("ConductanceMapping", "variation_sigma_ratio", self.variation_sigma_ratio))
        if not isinstance(self.device, Device):
            raise SpecError(f"ConductanceMapping.device is a {type(self.device).__name__}; pass a pyims.devices.Device")

    @classmethod
    def from_spec(cls, spec: DeviceSpec, device: Device | None = None) -> "ConductanceMapping":
        """The converter of a ``[device]`` spec, with the device it names (or ``device``), over the device's range."""
        device = device if device is not None else device_for(spec)
        g_off, g_on = device.g_range_s
        return cls(g_on_s=g_on, g_off_s=g_off, levels=spec.levels, variation_sigma_ratio=spec.variation_sigma_ratio,
                   device=device)

    @property
    def dg_s(self) -> float:
        """``g_on_s - g_off_s``: the swing a full-scale weight spans."""
        return self.g_on_s - self.g_off_s

    @staticmethod
    def w_max(w: np.ndarray) -> float:
        """``max |w|``, the weight mapped to a full swing (1.0 for all-zero or empty weights)."""
        w = np.asarray(w, dtype=np.float64)
        w_max = float(np.max(np.abs(w))) if w.size else 0.0
        return 1.0 if w_max == 0.0 else w_max

    def targets(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """``(G+, G-, w_max)`` aimed at for weights ``w`` ``(rows, n_out)``: float64, siemens, same shape;
        scaled and quantised, no variation."""
        w = np.asarray(w, dtype=np.float64)
        w_max = self.w_max(w)
        dg = self.dg_s
        out = []
        for part in (np.clip(w, 0.0, None) / w_max, np.clip(-w, 0.0, None) / w_max):
            if self.levels is not None:
                top = self.levels - 1
                part = np.round(part * top) / top
            out.append(self.g_off_s + dg * part)
        return out[0], out[1], w_max

    def varied_targets(self, w: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """``(G+, G-, w_max)``: the targets with the device-to-device variation drawn from ``rng`` (G+ first)."""
        g_pos, g_neg, w_max = self.targets(w)
        if self.variation_sigma_ratio > 0.0:
            if rng is None:
                raise SpecError(f"ConductanceMapping.program: variation_sigma_ratio={self.variation_sigma_ratio!r} "
                                "needs a generator; pass rng=numpy.random.default_rng(seed)")
            sigma = self.variation_sigma_ratio
            g_pos = g_pos * np.exp(sigma * rng.standard_normal(g_pos.shape))
            g_neg = g_neg * np.exp(sigma * rng.standard_normal(g_neg.shape))
        return g_pos, g_neg, w_max

    def cells(self, w: np.ndarray, rng: np.random.Generator | None = None,
              device_rng: np.random.Generator | None = None) -> tuple[CellState, CellState, float]:
        """``(G+ cells, G- cells, w_max)`` for weights ``w`` ``(rows, n_out)``: the varied targets (``rng``) written
        into the device and read at its ``t_since_program_s`` (``Device.state``; its draws from ``device_rng``,
        default ``rng``: G+ cells first)."""
        g_pos, g_neg, w_max = self.varied_targets(w, rng)
        dev_rng = rng if device_rng is None else device_rng
        return self.device.state(g_pos, dev_rng), self.device.state(g_neg, dev_rng), w_max

    def program(self, w: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """``(G+, G-, w_max)`` for weights ``w`` ``(rows, n_out)``: the mean conductances the cells hold when read
        (float64, siemens, same shape; ``cells``). ``rng`` draws the variation and the device's draws."""
        pos, neg, w_max = self.cells(w, rng)
        return pos.g_s, neg.g_s, w_max


def weights_to_conductances(
    w: np.ndarray, device: DeviceSpec, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(G+, G-, w_max)`` for weights ``w`` ``(rows, n_out)``: two float64 arrays in S, same shape
    (``ConductanceMapping.from_spec(device).program(w, rng)``).

    ``rng`` draws the variation (needed when ``device.variation_sigma_ratio > 0``).
    """
    return ConductanceMapping.from_spec(device).program(w, rng)
