"""Transfer functions of the analog neurons, in normalised units.

A neuron maps a pre-activation ``z`` (dimensionless: the weighted sum the layer computes) to
an activation ``a`` (dimensionless; the next layer's rows are driven at ``a * v_read_v``).
With ``s = -1`` for an inverting neuron and ``+1`` otherwise, ``g = gain_norm`` and
``lo, hi = out_lo_norm, out_hi_norm``:

* ``sigmoid``:     a = lo + (hi - lo) * (1 + tanh(s*g*z/2)) / 2      (the logistic, overflow-free)
* ``hardsigmoid``: a = clip((lo + hi)/2 + s*g*(hi - lo)*z/4, lo, hi)  (same slope at z = 0)
* ``linear``:      a = s*g*z                                          (no clipping; for linear checks)

The same formulas, scaled to volts, are the behavioural neuron subcircuits in ``circuits/``,
so native and SPICE evaluate one function. The trainer uses them as the hidden activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.spec._checks import real_scalar

__all__ = ["NEURON_KINDS", "NeuronSpec"]

NEURON_KINDS = ("sigmoid", "hardsigmoid", "linear")


@dataclass(frozen=True, slots=True, kw_only=True)
class NeuronSpec:
    """One analog neuron's transfer function (see the module docstring)."""

    kind: str = "sigmoid"
    gain_norm: float = 1.0
    out_lo_norm: float = 0.0
    out_hi_norm: float = 1.0
    inverting: bool = False

    def __post_init__(self) -> None:
        if self.kind not in NEURON_KINDS:
            raise SpecError(f"neuron.kind={self.kind!r} is unknown; use one of {', '.join(NEURON_KINDS)}")
        for name in ("gain_norm", "out_lo_norm", "out_hi_norm"):
            object.__setattr__(self, name, real_scalar("neuron", name, getattr(self, name)))
        if self.gain_norm <= 0.0:
            raise SpecError(f"neuron.gain_norm={self.gain_norm!r} must be > 0; use inverting = true for a falling curve")
        if self.out_hi_norm <= self.out_lo_norm:
            raise SpecError(
                f"neuron.out_hi_norm={self.out_hi_norm!r} must exceed out_lo_norm={self.out_lo_norm!r}"
            )
        if not isinstance(self.inverting, bool):
            raise SpecError(f"neuron.inverting={self.inverting!r} must be true or false")

    @property
    def sign(self) -> float:
        return -1.0 if self.inverting else 1.0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Activation ``a`` for pre-activation ``z`` (any shape, dimensionless)."""
        z = np.asarray(z, dtype=np.float64)
        k = self.sign * self.gain_norm
        lo, hi = self.out_lo_norm, self.out_hi_norm
        if self.kind == "sigmoid":
            return lo + (hi - lo) * 0.5 * (1.0 + np.tanh(0.5 * k * z))
        if self.kind == "hardsigmoid":
            return np.clip(0.5 * (lo + hi) + 0.25 * k * (hi - lo) * z, lo, hi)
        return k * z

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """``da/dz`` (for training)."""
        z = np.asarray(z, dtype=np.float64)
        k = self.sign * self.gain_norm
        lo, hi = self.out_lo_norm, self.out_hi_norm
        if self.kind == "sigmoid":
            t = np.tanh(0.5 * k * z)
            return (hi - lo) * 0.25 * k * (1.0 - t * t)
        if self.kind == "hardsigmoid":
            inside = np.abs(0.25 * k * (hi - lo) * z) < 0.5 * (hi - lo)
            return np.where(inside, 0.25 * k * (hi - lo), 0.0)
        return np.full_like(z, k)
