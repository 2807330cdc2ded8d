"""Transfer functions of the analog neurons, in normalised units.

A neuron maps a pre-activation ``z`` (dimensionless: the weighted sum the layer computes) to
an activation ``a`` (dimensionless; the next layer's rows are driven at ``a * v_read_v``).
With ``s = -1`` for an inverting neuron and ``+1`` otherwise, ``g = gain_norm`` and
``lo, hi = out_lo_norm, out_hi_norm``:

* ``sigmoid``:     a = lo + (hi - lo) * (1 + tanh(s*g*z/2)) / 2      (the logistic, overflow-free)
* ``hardsigmoid``: a = clip((lo + hi)/2 + s*g*(hi - lo)*z/4, lo, hi)  (same slope at z = 0)
* ``linear``:      a = s*g*z                                          (no clipping; for linear checks)
* ``relu``:        a = max(s*g*z, 0)                                  (no upper rail; ONNX ``Relu``)
* ``measured``:    a = f(z * in_scale_v) / out_scale_v, where f is a DC transfer curve measured
  from a circuit (``curve_in_v`` -> ``curve_out_v``, volts; see ``pyims.characterize``),
  interpolated with a monotone cubic (PCHIP: C1, no overshoot) and held flat beyond its ends.
  ``subckt`` names the library subcircuit it was measured from; SPICE runs use that circuit
  itself, so a network run in ngspice checks the curve too. ``gain_norm``, ``out_*_norm`` and
  ``inverting`` do not apply (the curve says it all).

The same formulas, scaled to volts, are the behavioural neuron subcircuits in ``circuits/``,
so native and SPICE evaluate one function. The trainer uses them as the hidden activation.
The model is math: each kind's curve is a class in ``pyims.model.curves`` (registered in
``CURVES``), which ``NeuronSpec`` builds and calls. Its circuit is a component,
``pyims/components/neuron_<kind>.py`` (a subclass of the curve, registered in
``pyims.components.NEURONS``), built by ``pyims.components.neuron_for(spec)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyims.errors import SpecError
from pyims.model.curves import CURVES, Curve
from pyims.spec._checks import real_scalar


__all__ = ["NEURON_KINDS", "NeuronSpec"]

#: The built-in neuron kinds (``pyims.model.curves.CURVES``).
NEURON_KINDS = CURVES.kinds()


@dataclass(frozen=True, slots=True, kw_only=True)
class NeuronSpec:
    """One analog neuron, as a config names it (see the module docstring).

    ``curve`` is the transfer function of ``kind`` (``pyims.model.curves``), built and validated
    here; calling the spec calls it. The circuit is ``pyims.components.neuron_for(spec)``.
    """

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
    _curve: Curve = field(default=None, init=False, repr=False, compare=False, hash=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        cls = CURVES.get(self.kind)
        for name in ("gain_norm", "out_lo_norm", "out_hi_norm"):
            object.__setattr__(self, name, real_scalar("neuron", name, getattr(self, name)))
        if not isinstance(self.inverting, bool):
            raise SpecError(f"neuron.inverting={self.inverting!r} must be true or false")
        curve = cls.from_spec(self)
        for name in ("curve_in_v", "curve_out_v", "in_scale_v", "out_scale_v"):
            if hasattr(curve, name):  # the curve's normalised values (tuples of floats)
                object.__setattr__(self, name, getattr(curve, name))
        object.__setattr__(self, "_curve", curve)

    @property
    def curve(self) -> Curve:
        """The transfer function and its slope (math only)."""
        return self._curve

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Activation ``a`` for pre-activation ``z`` (any shape, dimensionless)."""
        return self._curve(z)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """``da/dz`` (for training)."""
        return self._curve.derivative(z)
