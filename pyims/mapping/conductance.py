"""Weights -> conductance pairs: linear scaling into [g_off, g_on], levels, variation.

For a layer's augmented weights ``w`` (inputs plus the bias row), with ``w_max = max |w|`` and
``dg = g_on - g_off``:

    G+ = g_off + dg * q(max(w, 0) / w_max)        G- = g_off + dg * q(max(-w, 0) / w_max)

so ``G+ - G- = dg * w / w_max`` (before quantisation ``q`` and variation). ``q`` rounds to
``levels`` evenly spaced values in [0, 1] (identity when continuous). Variation multiplies
each programmed G by ``exp(sigma * N(0, 1))``, independently per device.
"""

from __future__ import annotations

import numpy as np

from pyims.spec import DeviceSpec

__all__ = ["weights_to_conductances"]


def weights_to_conductances(
    w: np.ndarray, device: DeviceSpec, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(G+, G-, w_max)`` for weights ``w`` ``(rows, n_out)``: two float64 arrays in S, same shape.

    ``rng`` draws the variation (needed when ``device.variation_sigma_ratio > 0``).
    """
    w = np.asarray(w, dtype=np.float64)
    w_max = float(np.max(np.abs(w))) if w.size else 0.0
    if w_max == 0.0:
        w_max = 1.0
    dg = device.g_on_s - device.g_off_s
    out = []
    for part in (np.clip(w, 0.0, None) / w_max, np.clip(-w, 0.0, None) / w_max):
        if device.levels is not None:
            top = device.levels - 1
            part = np.round(part * top) / top
        out.append(device.g_off_s + dg * part)
    if device.variation_sigma_ratio > 0.0:
        if rng is None:
            raise ValueError("weights_to_conductances: variation needs an rng")
        out = [g * np.exp(device.variation_sigma_ratio * rng.standard_normal(g.shape)) for g in out]
    return out[0], out[1], w_max
