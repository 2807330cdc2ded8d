"""The neurons' transfer curves: the math of every ``neuron.kind``, in normalised units.

A curve maps a pre-activation ``z`` (dimensionless) to an activation ``a`` (dimensionless) and
gives its slope; training, the digital reference and native inference use it. It validates the
``[neuron]`` fields its kind uses (SpecError naming the field). Curves are math only: the
circuit that realises a kind in SPICE is its component, ``pyims.components.neuron_<kind>``, a
subclass of the kind's curve that adds the subcircuit (``pyims.components.neuron_for(spec)``).
The formulas are listed in ``pyims.model.neurons``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from pyims.errors import SpecError
from pyims.registry import Registry
from pyims.spec._checks import real_scalar

if TYPE_CHECKING:
    from pyims.model.neurons import NeuronSpec

__all__ = ["CURVES", "Curve", "ParametricCurve", "SigmoidCurve", "HardSigmoidCurve", "LinearCurve", "ReluCurve",
           "MeasuredCurve"]

#: ``neuron.kind`` -> curve class. A kind whose math is not here brings its own: registering a
#: component in ``pyims.components.NEURONS`` registers it here too.
CURVES: Registry = Registry("neuron.kind")


class Curve(ABC):
    """A transfer function ``a = f(z)`` and its slope."""

    #: the config name (``neuron.kind``)
    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: "NeuronSpec") -> "Curve":
        """Validate the spec's fields that this kind uses (SpecError naming the field) and build the curve."""

    @abstractmethod
    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Activation ``a`` for pre-activation ``z`` (any shape, dimensionless)."""

    @abstractmethod
    def derivative(self, z: np.ndarray) -> np.ndarray:
        """``da/dz`` (for training)."""


class ParametricCurve(Curve):
    """A curve with gain ``g``, rails ``lo`` / ``hi`` and sign ``s`` (-1 when inverting)."""

    def __init__(self, *, gain_norm: float, out_lo_norm: float, out_hi_norm: float, inverting: bool) -> None:
        self.gain_norm, self.out_lo_norm, self.out_hi_norm, self.inverting = gain_norm, out_lo_norm, out_hi_norm, inverting

    @classmethod
    def from_spec(cls, spec: "NeuronSpec") -> "ParametricCurve":
        if spec.curve_in_v is not None or spec.curve_out_v is not None:
            raise SpecError(f'neuron.curve_in_v / curve_out_v belong to kind = "measured", not {spec.kind!r}')
        if spec.gain_norm <= 0.0:
            raise SpecError(f"neuron.gain_norm={spec.gain_norm!r} must be > 0; use inverting = true for a falling curve")
        if spec.out_hi_norm <= spec.out_lo_norm:
            raise SpecError(f"neuron.out_hi_norm={spec.out_hi_norm!r} must exceed out_lo_norm={spec.out_lo_norm!r}")
        return cls(gain_norm=spec.gain_norm, out_lo_norm=spec.out_lo_norm, out_hi_norm=spec.out_hi_norm,
                   inverting=spec.inverting)

    @property
    def k(self) -> float:
        """Signed gain ``s * g``."""
        return (-1.0 if self.inverting else 1.0) * self.gain_norm


@CURVES.register
class SigmoidCurve(ParametricCurve):
    """``a = lo + (hi - lo) * (1 + tanh(s g z / 2)) / 2``: the logistic, overflow-free."""

    kind = "sigmoid"

    def __call__(self, z: np.ndarray) -> np.ndarray:
        lo, hi = self.out_lo_norm, self.out_hi_norm
        return lo + (hi - lo) * 0.5 * (1.0 + np.tanh(0.5 * self.k * np.asarray(z, dtype=np.float64)))

    def derivative(self, z: np.ndarray) -> np.ndarray:
        k = self.k
        t = np.tanh(0.5 * k * np.asarray(z, dtype=np.float64))
        return (self.out_hi_norm - self.out_lo_norm) * 0.25 * k * (1.0 - t * t)


@CURVES.register
class HardSigmoidCurve(ParametricCurve):
    """``a = clip((lo + hi)/2 + s g (hi - lo) z / 4, lo, hi)``: the logistic's slope at 0."""

    kind = "hardsigmoid"

    def __call__(self, z: np.ndarray) -> np.ndarray:
        lo, hi = self.out_lo_norm, self.out_hi_norm
        return np.clip(0.5 * (lo + hi) + 0.25 * self.k * (hi - lo) * np.asarray(z, dtype=np.float64), lo, hi)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        k, span = self.k, self.out_hi_norm - self.out_lo_norm
        inside = np.abs(0.25 * k * span * np.asarray(z, dtype=np.float64)) < 0.5 * span
        return np.where(inside, 0.25 * k * span, 0.0)


@CURVES.register
class LinearCurve(ParametricCurve):
    """``a = s g z`` (no clipping): a whole network becomes linear, for exact checks."""

    kind = "linear"

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.k * np.asarray(z, dtype=np.float64)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return np.full_like(np.asarray(z, dtype=np.float64), self.k)


@CURVES.register
class ReluCurve(ParametricCurve):
    """``a = max(0, s g z)``: unbounded above, like ``torch.nn.ReLU``."""

    kind = "relu"

    @classmethod
    def from_spec(cls, spec: "NeuronSpec") -> "ReluCurve":
        if (spec.out_lo_norm, spec.out_hi_norm) != (0.0, 1.0):
            raise SpecError('neuron.out_lo_norm / out_hi_norm do not apply to kind = "relu" (output max(0, g z), no rails); '
                            'remove them, or characterise a rectifier with rails and use kind = "measured"')
        return super().from_spec(spec)  # type: ignore[return-value]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(self.k * np.asarray(z, dtype=np.float64), 0.0)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return np.where(self.k * np.asarray(z, dtype=np.float64) > 0.0, self.k, 0.0)


@CURVES.register
class MeasuredCurve(Curve):
    """A DC transfer curve measured from a circuit (``pyims.characterize``).

    ``a = f(z * in_scale_v) / out_scale_v``: ``f`` interpolates ``curve_in_v -> curve_out_v`` (volts)
    with a monotone cubic (PCHIP: C1, no overshoot) and is held flat beyond its ends. ``subckt``
    (and ``subckt_file``) name the circuit it was measured from, which SPICE runs instantiate.
    """

    kind = "measured"

    def __init__(self, *, curve_in_v: tuple[float, ...], curve_out_v: tuple[float, ...], in_scale_v: float,
                 out_scale_v: float, subckt: str, subckt_file: str | None) -> None:
        from scipy.interpolate import PchipInterpolator

        self.curve_in_v, self.curve_out_v = curve_in_v, curve_out_v
        self.in_scale_v, self.out_scale_v = in_scale_v, out_scale_v
        self.subckt, self.subckt_file = subckt, subckt_file
        # built once; a curve has ~30k points
        self._f = PchipInterpolator(np.asarray(curve_in_v), np.asarray(curve_out_v), extrapolate=False)

    @classmethod
    def from_spec(cls, spec: "NeuronSpec") -> "MeasuredCurve":
        if spec.curve_in_v is None or spec.curve_out_v is None or spec.subckt is None:
            raise SpecError(
                'neuron.kind = "measured" needs curve_in_v, curve_out_v (volts) and subckt; '
                "get them from pyims.characterize.characterize_neuron(...).neuron_spec(...)"
            )
        x = tuple(real_scalar("neuron", "curve_in_v", v) for v in spec.curve_in_v)
        y = tuple(real_scalar("neuron", "curve_out_v", v) for v in spec.curve_out_v)
        if len(x) != len(y) or len(x) < 4:
            raise SpecError(f"neuron.curve_in_v has {len(x)} points and curve_out_v {len(y)}; give the same number, at least 4")
        if not all(b > a for a, b in zip(x, x[1:])):
            raise SpecError("neuron.curve_in_v must be strictly increasing (a DC sweep's input axis)")
        if not isinstance(spec.subckt, str) or not spec.subckt.isidentifier():
            raise SpecError(f"neuron.subckt={spec.subckt!r} must name a library subcircuit, e.g. 'pyims_neuron_inverter'")
        scales = {}
        for name in ("in_scale_v", "out_scale_v"):
            value = real_scalar("neuron", name, getattr(spec, name))
            if value <= 0.0:
                raise SpecError(f"neuron.{name}={value!r} must be > 0 (volts per normalised unit)")
            scales[name] = value
        return cls(curve_in_v=x, curve_out_v=y, subckt=spec.subckt, subckt_file=spec.subckt_file, **scales)

    def _v(self, z: np.ndarray) -> np.ndarray:
        x = self.curve_in_v
        return np.clip(np.asarray(z, dtype=np.float64) * self.in_scale_v, x[0], x[-1])

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self._f(self._v(z)) / self.out_scale_v

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        inside = (z * self.in_scale_v > self.curve_in_v[0]) & (z * self.in_scale_v < self.curve_in_v[-1])
        return np.where(inside, self._f(self._v(z), 1) * self.in_scale_v / self.out_scale_v, 0.0)
