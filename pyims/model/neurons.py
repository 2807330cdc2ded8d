"""Transfer functions of the analog neurons, in normalised units.

A neuron maps a pre-activation ``z`` (dimensionless: the weighted sum the layer computes) to
an activation ``a`` (dimensionless; the next layer's rows are driven at ``a * v_read_v``).
With ``s = -1`` for an inverting neuron and ``+1`` otherwise, ``g = gain_norm`` and
``lo, hi = out_lo_norm, out_hi_norm``:

* ``sigmoid``:     a = lo + (hi - lo) * (1 + tanh(s*g*z/2)) / 2      (the logistic, overflow-free)
* ``hardsigmoid``: a = clip((lo + hi)/2 + s*g*(hi - lo)*z/4, lo, hi)  (same slope at z = 0)
* ``linear``:      a = s*g*z                                          (no clipping; for linear checks)
* ``measured``:    a = f(z * in_scale_v) / out_scale_v, where f is a DC transfer curve measured
  from a circuit (``curve_in_v`` -> ``curve_out_v``, volts; see ``pyims.characterize``),
  interpolated with a monotone cubic (PCHIP: C1, no overshoot) and held flat beyond its ends.
  ``subckt`` names the library subcircuit it was measured from; SPICE runs use that circuit
  itself, so a network run in ngspice checks the curve too. ``gain_norm``, ``out_*_norm`` and
  ``inverting`` do not apply (the curve says it all).

The same formulas, scaled to volts, are the behavioural neuron subcircuits in ``circuits/``,
so native and SPICE evaluate one function. The trainer uses them as the hidden activation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyims.errors import SpecError
from pyims.spec._checks import real_scalar

__all__ = ["NEURON_KINDS", "NeuronSpec"]

NEURON_KINDS = ("sigmoid", "hardsigmoid", "linear", "measured")


def _pchip(x: tuple[float, ...], y: tuple[float, ...]):
    from scipy.interpolate import PchipInterpolator

    return PchipInterpolator(np.asarray(x), np.asarray(y), extrapolate=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class NeuronSpec:
    """One analog neuron's transfer function (see the module docstring)."""

    kind: str = "sigmoid"
    gain_norm: float = 1.0
    out_lo_norm: float = 0.0
    out_hi_norm: float = 1.0
    inverting: bool = False
    curve_in_v: tuple[float, ...] | None = None
    curve_out_v: tuple[float, ...] | None = None
    in_scale_v: float = 1.0
    out_scale_v: float = 1.0
    subckt: str | None = None
    subckt_file: str | None = None
    _interp: object = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in NEURON_KINDS:
            raise SpecError(f"neuron.kind={self.kind!r} is unknown; use one of {', '.join(NEURON_KINDS)}")
        if self.kind == "measured":
            self._check_curve()
        elif self.curve_in_v is not None or self.curve_out_v is not None:
            raise SpecError(f'neuron.curve_in_v / curve_out_v belong to kind = "measured", not {self.kind!r}')
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

    def _check_curve(self) -> None:
        if self.curve_in_v is None or self.curve_out_v is None or self.subckt is None:
            raise SpecError(
                'neuron.kind = "measured" needs curve_in_v, curve_out_v (volts) and subckt; '
                "get them from pyims.characterize.characterize_neuron(...).neuron_spec(...)"
            )
        x = tuple(real_scalar("neuron", "curve_in_v", v) for v in self.curve_in_v)
        y = tuple(real_scalar("neuron", "curve_out_v", v) for v in self.curve_out_v)
        if len(x) != len(y) or len(x) < 4:
            raise SpecError(f"neuron.curve_in_v has {len(x)} points and curve_out_v {len(y)}; give the same number, at least 4")
        if not all(b > a for a, b in zip(x, x[1:])):
            raise SpecError("neuron.curve_in_v must be strictly increasing (a DC sweep's input axis)")
        if not isinstance(self.subckt, str) or not self.subckt.isidentifier():
            raise SpecError(f"neuron.subckt={self.subckt!r} must name a library subcircuit, e.g. 'pyims_neuron_inverter'")
        object.__setattr__(self, "curve_in_v", x)
        object.__setattr__(self, "curve_out_v", y)
        object.__setattr__(self, "_interp", _pchip(x, y))  # built once; a curve has ~30k points
        for name in ("in_scale_v", "out_scale_v"):
            value = real_scalar("neuron", name, getattr(self, name))
            if value <= 0.0:
                raise SpecError(f"neuron.{name}={value!r} must be > 0 (volts per normalised unit)")
            object.__setattr__(self, name, value)

    def _curve(self, z: np.ndarray) -> tuple[np.ndarray, object]:
        x = self.curve_in_v
        v = np.clip(z * self.in_scale_v, x[0], x[-1])
        return v, self._interp

    @property
    def sign(self) -> float:
        return -1.0 if self.inverting else 1.0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Activation ``a`` for pre-activation ``z`` (any shape, dimensionless)."""
        z = np.asarray(z, dtype=np.float64)
        if self.kind == "measured":
            v, f = self._curve(z)
            return f(v) / self.out_scale_v
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
        if self.kind == "measured":
            v, f = self._curve(z)
            inside = (z * self.in_scale_v > self.curve_in_v[0]) & (z * self.in_scale_v < self.curve_in_v[-1])
            return np.where(inside, f(v, 1) * self.in_scale_v / self.out_scale_v, 0.0)
        k = self.sign * self.gain_norm
        lo, hi = self.out_lo_norm, self.out_hi_norm
        if self.kind == "sigmoid":
            t = np.tanh(0.5 * k * z)
            return (hi - lo) * 0.25 * k * (1.0 - t * t)
        if self.kind == "hardsigmoid":
            inside = np.abs(0.25 * k * (hi - lo) * z) < 0.5 * (hi - lo)
            return np.where(inside, 0.25 * k * (hi - lo), 0.0)
        return np.full_like(z, k)
