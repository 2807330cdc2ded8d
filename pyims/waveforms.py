"""Waveform metrics: settling time and energy.

Defaults (documented in ``docs/transient.md``): a waveform has settled when it stays within
``band_ratio = 1 %`` of its total change (final minus value at ``t_start_s``) around its final
value, the final value being the last sample. The window must be long enough for that to mean
something: if the waveform still moves by more than half the band over the last 10 % of the
window, ``NotSettledError`` says to extend it.
"""

from __future__ import annotations

import numpy as np

from pyims.errors import SpecError

__all__ = ["settling_time_s", "energy_j", "NotSettledError", "DEFAULT_BAND_RATIO"]

DEFAULT_BAND_RATIO = 0.01


class NotSettledError(SpecError):
    """The waveform has not settled by the end of the window; simulate longer."""


def settling_time_s(t_s: np.ndarray, y: np.ndarray, *, band_ratio: float = DEFAULT_BAND_RATIO, t_start_s: float = 0.0) -> np.ndarray:
    """Time after ``t_start_s`` from which each column of ``y`` ``(T,)`` or ``(T, k)`` stays in its band, ``(k,)`` s.

    Resolution is one sample: the result is the first grid time after the last sample outside
    the band (0 for a waveform that never leaves it, e.g. one that does not change).
    """
    t = np.asarray(t_s, dtype=np.float64)
    arr = np.asarray(y, dtype=np.float64)
    y2 = arr[:, None] if arr.ndim == 1 else arr
    if y2.shape[0] != t.size or t.size < 3:
        raise SpecError(f"settling_time_s needs y with {t.size} samples (and at least 3); got shape {arr.shape}")
    if not 0.0 < band_ratio < 1.0:
        raise SpecError(f"band_ratio={band_ratio!r} must be in (0, 1), e.g. 0.01 for 1 %")
    after = t >= t_start_s
    if not after.any():
        raise SpecError(f"t_start_s={t_start_s!r} is after the window's end {t[-1]!r}")
    final = y2[-1]
    start = np.array([np.interp(t_start_s, t, y2[:, k]) for k in range(y2.shape[1])])
    band = band_ratio * np.abs(final - start)
    tail = t >= t[0] + 0.9 * (t[-1] - t[0])
    moving = np.max(np.abs(y2[tail] - final), axis=0) > 0.5 * band
    if np.any(moving & (band > 0)):
        k = int(np.argmax(moving & (band > 0)))
        raise NotSettledError(
            f"waveform {k} still moves by more than half its {100 * band_ratio:g} % band over the last 10 % "
            f"of the window (t <= {t[-1]!r} s); extend t_stop_s"
        )
    out = np.zeros(y2.shape[1])
    idx = np.flatnonzero(after)
    for k in range(y2.shape[1]):
        if band[k] == 0.0:
            continue
        outside = idx[np.abs(y2[idx, k] - final[k]) > band[k]]
        if outside.size:
            last = min(int(outside[-1]) + 1, t.size - 1)
            out[k] = t[last] - t_start_s
    return out


def energy_j(t_s: np.ndarray, power_w: np.ndarray) -> float:
    """``integral power dt`` over the window (trapezoidal rule), joules."""
    t = np.asarray(t_s, dtype=np.float64)
    p = np.asarray(power_w, dtype=np.float64)
    if p.shape != t.shape:
        raise SpecError(f"energy_j needs power of shape {t.shape}; got {p.shape}")
    return float(np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(t)))
