"""The device base: a cell says what it conducts; programming, reads and linearisation follow.

Like scikit-rf's ``Media``, the base asks a kind for little:

* ``conductance(g_prog_s, v_v, t_since_program_s, rng)`` -- the chord conductance I / V in siemens --
  or ``current(...)`` in amperes (either one; the other is derived), given the programmed state
  ``g_prog_s`` (the conductance the cell was programmed to, siemens), the voltage across the cell,
  the time since programming and a seeded ``numpy.random.Generator`` for read noise;
* ``linear``: whether I is proportional to V (then the netlist is a resistor and the solvers
  stay linear);
* ``element(stem, node_a, node_b, g_prog_s)``: its SPICE element between two nodes.

From these come ``program`` (default: the cell lands exactly on target), ``read_conductance``
(what one read sees, seeded), ``g_small_signal`` (dI/dV, the diagonal Jacobian of a cell array:
analytic for a linear cell, a central difference otherwise) and ``companion`` (the Newton
linearisation ``I ~ g * V + i_eq``). A kind registers itself with ``@DEVICES.register``
(``pyims.devices.registry``); ``docs/architecture.md`` has the recipe.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from pyims.errors import SpecError

if TYPE_CHECKING:
    from pyims.netlist.model import Element
    from pyims.spec import DeviceSpec

__all__ = ["Device", "V_READ_V", "cell_arrays"]

#: The read voltage ``read_conductance`` evaluates a non-linear cell at (``InputEncoding``'s default).
V_READ_V = 0.2
#: Central-difference step per volt of scale: cbrt(machine epsilon) balances truncation and round-off.
_FD_STEP = float(np.cbrt(np.finfo(np.float64).eps))


def cell_arrays(g_prog_s: object, v_v: object) -> tuple[np.ndarray, np.ndarray]:
    """``g_prog_s`` and ``v_v`` as float64 arrays broadcast to one shape (read-only views)."""
    g, v = np.broadcast_arrays(np.asarray(g_prog_s, dtype=np.float64), np.asarray(v_v, dtype=np.float64))
    return g, v


def _fork(rng: np.random.Generator | None) -> np.random.Generator | None:
    """A generator that makes the draws ``rng`` would make next, leaving ``rng`` where it is."""
    return None if rng is None else copy.deepcopy(rng)


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(Device, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """One kind of resistive cell. Subclasses are frozen dataclasses whose fields are the kind's
    parameters (units in their names); class attributes ``kind`` (the ``[device] kind`` name) and
    ``linear`` (bool). Arrays broadcast: ``g_prog_s`` and ``v_v`` of any shapes that broadcast give
    results of the broadcast shape, float64."""

    kind: ClassVar[str] = ""
    linear: ClassVar[bool]
    #: The voltage scale of a non-linear cell's I-V curve: the finite-difference step of
    #: ``g_small_signal`` is cbrt(eps) times the larger of |V| and this.
    v_scale_v: ClassVar[float] = 0.1

    def __init_subclass__(cls, **kwargs: object) -> None:
        super(Device, cls).__init_subclass__(**kwargs)  # the slots class, not the one the body defined
        if not cls.__dict__.get("kind"):
            return  # an intermediate base; a kind declares the rest
        name = cls.__name__
        if not isinstance(getattr(cls, "linear", None), bool):
            raise TypeError(f"device kind {name}: declare linear = True or False (is I proportional to V?)")
        if not (_overrides(cls, "conductance") or _overrides(cls, "current")):
            raise TypeError(f"device kind {name}: define conductance(...) or current(...): what the cell conducts")
        if not _overrides(cls, "element"):
            raise TypeError(f"device kind {name}: define element(stem, node_a, node_b, g_prog_s): its SPICE element")

    # ------------------------------------------------------------------ what a kind says
    def conductance(
        self, g_prog_s: object, v_v: object, t_since_program_s: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Chord conductance I / V of cells in state ``g_prog_s`` (S) at ``v_v`` (V), siemens; one read's draw
        from ``rng``. Derived from ``current``: a linear cell's I at 1 V; otherwise I / V, and dI/dV at V = 0."""
        g, v = cell_arrays(g_prog_s, v_v)
        if self.linear:
            return self.current(g, np.ones_like(v), t_since_program_s, rng)  # I(1 V) / 1 V, exact
        zero = v == 0.0
        g0 = self.g_small_signal(g, 0.0, t_since_program_s, rng) if zero.any() else 0.0  # the limit of I / V
        i = self.current(g, v, t_since_program_s, rng)
        return np.where(zero, g0, i / np.where(zero, 1.0, v))

    def current(
        self, g_prog_s: object, v_v: object, t_since_program_s: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Current through cells in state ``g_prog_s`` (S) at ``v_v`` (V), amperes, from node a to node b;
        one read's draw from ``rng``. Derived from ``conductance``: I = G V."""
        g, v = cell_arrays(g_prog_s, v_v)
        return self.conductance(g, v, t_since_program_s, rng) * v

    def element(self, stem: str, node_a: str, node_b: str, g_prog_s: float) -> "Element":
        """The SPICE element of one cell in state ``g_prog_s`` (S) between ``node_a`` and ``node_b``. ``stem``
        is generated by the caller without a type letter; the device prepends its element's (``R`` ...)."""
        raise NotImplementedError(f"{type(self).__name__}.element")

    @classmethod
    def from_spec(cls, spec: "DeviceSpec") -> "Device":
        """The device a ``[device]`` spec describes (default: the kind's defaults)."""
        return cls()

    # ------------------------------------------------------------------ derived
    def program(self, g_target_s: object, rng: np.random.Generator | None = None) -> np.ndarray:
        """The programmed state of cells written to ``g_target_s`` (S), float64 of its shape. Default: exactly
        on target, no draw (a kind with programming noise or stuck cells draws from ``rng``)."""
        return np.asarray(g_target_s, dtype=np.float64)

    def read_conductance(
        self, g_target_s: object, t_since_program_s: float = 0.0, seed: object = 0, *, v_v: float = V_READ_V
    ) -> np.ndarray:
        """The conductances one read sees, float64 shaped like ``g_target_s``, siemens: cells programmed to
        ``g_target_s`` and read ``t_since_program_s`` later at ``v_v`` (a non-linear cell's chord conductance).
        Programming and read draws come from ``numpy.random.default_rng(seed)``: the same seed, the same draw.
        At ``t_since_program_s = 0`` a kind applies no drift and no read noise."""
        t = float(t_since_program_s)
        if not np.isfinite(t) or t < 0.0:
            raise SpecError(f"{type(self).__name__}.read_conductance: t_since_program_s={t_since_program_s!r} "
                            "must be finite and >= 0 (0 = right after programming)")
        g_target = np.asarray(g_target_s, dtype=np.float64)
        if not np.all(np.isfinite(g_target)) or (g_target <= 0.0).any():
            raise SpecError(f"{type(self).__name__}.read_conductance: g_target_s holds values that are not finite "
                            "and > 0; pass conductances in siemens, e.g. between g_off_s and g_on_s")
        rng = np.random.default_rng(seed)
        g_prog = self.program(g_target, rng)
        return np.array(np.broadcast_to(self.conductance(g_prog, v_v, t, rng), g_target.shape), dtype=np.float64)

    def g_small_signal(
        self, g_prog_s: object, v_v: object, t_since_program_s: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """dI/dV of cells in state ``g_prog_s`` at ``v_v``, siemens: the diagonal of the cell array's Jacobian.
        Analytic for a linear cell (its conductance); otherwise a central difference in which both sides see
        the same read draw. ``rng`` is not advanced: the derivative is at the draw ``current`` makes next."""
        g, v = cell_arrays(g_prog_s, v_v)
        if self.linear:
            return self.conductance(g, v, t_since_program_s, _fork(rng))
        h = _FD_STEP * np.maximum(np.abs(v), self.v_scale_v)
        v_hi, v_lo = v + h, v - h
        i_hi = self.current(g, v_hi, t_since_program_s, _fork(rng))
        i_lo = self.current(g, v_lo, t_since_program_s, _fork(rng))
        return (i_hi - i_lo) / (v_hi - v_lo)  # the steps as represented, not 2h

    def companion(
        self, g_prog_s: object, v_v: object, t_since_program_s: float = 0.0, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The Newton linearisation at ``v_v``: ``(g_s, i_eq_a)`` with ``I(V') ~ g_s * V' + i_eq_a`` near ``v_v``
        (a conductance in parallel with a current source), at one read draw; ``rng`` is not advanced."""
        g, v = cell_arrays(g_prog_s, v_v)
        g_ss = self.g_small_signal(g, v, t_since_program_s, rng)
        return g_ss, self.current(g, v, t_since_program_s, _fork(rng)) - g_ss * v

    @classmethod
    def from_config(cls, values: Mapping[str, object]) -> "Device":
        """The device from a ``[device]`` table's fields (``kind`` excluded); SpecError naming an unknown field."""
        known = tuple(f.name for f in fields(cls))
        for key in values:
            if key not in known:
                raise SpecError(f"device.{key} is unknown for device.kind={cls.kind!r}; "
                                f"use {', '.join(known) if known else 'no fields'}")
        return cls(**values)
