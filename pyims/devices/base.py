"""The device base: a cell says what it conducts; programming, reads and linearisation follow.

Like scikit-rf's ``Media``, the base asks a kind for little:

* ``conductance(g_prog_s, v_v, t_since_program_s, rng)`` -- the chord conductance I / V in siemens --
  or ``current(...)`` in amperes (either one; the other is derived), given the programmed state
  ``g_prog_s`` (the conductance the cell was programmed to, siemens), the voltage across the cell,
  the time since programming and a seeded ``numpy.random.Generator`` for read noise;
* ``linear``: whether I is proportional to V (then the netlist is a resistor and the solvers
  stay linear);
* ``element(stem, node_a, node_b, g_prog_s)``: its SPICE element between two nodes.

A kind with state that changes after programming says more, each optional:

* ``g_range_s``: the conductances a zero weight and the largest weight map to (its ``(g_off, g_on)``);
* ``program(g_target_s, rng)``: where cells written to a target land (programming noise);
* ``drift(g_prog_s, g_target_s, t_since_program_s, rng)``: their mean conductance that long after
  programming (e.g. PCM's power-law drift, with per-device exponents drawn from ``rng``);
* ``read_sigma_s(g_prog_s, g_t_s, t_since_program_s)``: the standard deviation of one read's
  Gaussian noise on each cell (a fresh draw every read: every input vector sees its own).

Every kind has the fields of the ``[device]`` table that are not its own (``COMMON_FIELDS``):
``t_since_program_s`` (when the arrays are read), ``drift_compensation`` ("none", "global" or
"per_column": ``pyims.mapping.compensation``), ``stuck_off_ratio`` / ``stuck_on_ratio`` (fractions of
cells stuck at ``g_off`` / ``g_on``: they neither drift nor see read noise) and ``seed`` (every draw of
programming, stuck cells, drift and read noise).

From these come ``state`` (the cells of one programming: ``CellState``), ``read_conductance`` (what
one read sees, seeded), ``g_small_signal`` (dI/dV, the diagonal Jacobian of a cell array: analytic
for a linear cell, a central difference otherwise) and ``companion`` (the Newton linearisation
``I ~ g * V + i_eq``). A kind registers itself with ``@DEVICES.register`` (``pyims.devices.registry``);
``docs/architecture.md`` has the recipe.

Conductances are floored at ``G_FLOOR_S`` (1e-12 S, a 1 TOhm resistor): a cell the published models
clip at 0 S stays a finite resistor in the netlist and leaves the solvers' matrices SPD.
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

__all__ = ["Device", "ResistiveCell", "CellState", "V_READ_V", "G_FLOOR_S", "COMMON_FIELDS", "DRIFT_COMPENSATIONS", "cell_arrays"]

#: The read voltage ``read_conductance`` evaluates a non-linear cell at (``InputEncoding``'s default).
V_READ_V = 0.2
#: The lowest conductance a cell reads (S): a 1 TOhm resistor (a model's 0 S, kept finite for the netlist).
G_FLOOR_S = 1e-12
#: ``[device] drift_compensation`` values (``pyims.mapping.compensation``).
DRIFT_COMPENSATIONS = ("none", "global", "per_column")
#: The ``[device]`` fields every kind has (the base's); a kind's own fields are the rest of its dataclass.
COMMON_FIELDS = ("t_since_program_s", "drift_compensation", "stuck_off_ratio", "stuck_on_ratio", "seed")
#: The mapping range of a kind that names none (``DeviceSpec``'s defaults).
_DEFAULT_RANGE_S = (1e-6, 1e-4)
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


@dataclass(frozen=True, slots=True)
class CellState:
    """The cells of one programming, read ``t_since_program_s`` after it (float64 arrays of one shape, siemens).

    Attributes:
        g_s: the mean conductance at that time (programmed, stuck cells set, drifted), >= ``G_FLOOR_S``.
        g_reference_s: the conductance right after programming (stuck cells set, no drift): what a calibration
            read at programming time sees (drift compensation's reference).
        read_sigma_s: the standard deviation of each cell's read noise, one fresh Gaussian draw per read (zeros:
            none).
        stuck: bool mask of the cells stuck at ``g_off`` or ``g_on``.
    """

    g_s: np.ndarray
    g_reference_s: np.ndarray
    read_sigma_s: np.ndarray
    stuck: np.ndarray

    @property
    def read_noise(self) -> bool:
        """Whether a read adds noise to any cell."""
        return bool(np.any(self.read_sigma_s > 0.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """One kind of resistive cell. Subclasses are frozen dataclasses whose fields are the kind's
    parameters (units in their names); class attributes ``kind`` (the ``[device] kind`` name) and
    ``linear`` (bool). Arrays broadcast: ``g_prog_s`` and ``v_v`` of any shapes that broadcast give
    results of the broadcast shape, float64."""

    t_since_program_s: float = 0.0
    drift_compensation: str = "none"
    stuck_off_ratio: float = 0.0
    stuck_on_ratio: float = 0.0
    seed: int = 0

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

    def __post_init__(self) -> None:
        """Checks the common fields; a kind with its own ``__post_init__`` calls ``Device.__post_init__(self)``."""
        from pyims.spec._checks import nonnegative, real_scalar

        name = f"device.kind={self.kind!r}" if self.kind else type(self).__name__
        t = real_scalar("device", "t_since_program_s", self.t_since_program_s)
        if t < 0.0:
            raise SpecError(f"device.t_since_program_s={t!r} must be >= 0 (seconds since programming; 0 = right after)")
        object.__setattr__(self, "t_since_program_s", t)
        if self.drift_compensation not in DRIFT_COMPENSATIONS:
            raise SpecError(f"device.drift_compensation={self.drift_compensation!r} is unknown; use one of "
                            f"{', '.join(repr(c) for c in DRIFT_COMPENSATIONS)}")
        for field_name in ("stuck_off_ratio", "stuck_on_ratio"):
            value = nonnegative("device", field_name, getattr(self, field_name))
            if value > 1.0:
                raise SpecError(f"device.{field_name}={value!r} must be a fraction of cells in [0, 1]")
            object.__setattr__(self, field_name, value)
        if self.stuck_off_ratio + self.stuck_on_ratio > 1.0:
            raise SpecError(f"device.stuck_off_ratio + device.stuck_on_ratio = {self.stuck_off_ratio + self.stuck_on_ratio!r} "
                            f"exceeds 1 ({name}); they are fractions of the same cells")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise SpecError(f"device.seed={self.seed!r} must be an integer >= 0")
        object.__setattr__(self, "seed", int(self.seed))

    # ------------------------------------------------------------------ what a kind says
    @property
    def g_range_s(self) -> tuple[float, float]:
        """``(g_off, g_on)``: the conductances a zero weight and the largest weight are programmed to, siemens."""
        return _DEFAULT_RANGE_S

    def drift(self, g_prog_s: np.ndarray, g_target_s: np.ndarray, t_since_program_s: float,
              rng: np.random.Generator | None = None) -> np.ndarray:
        """The mean conductance ``t_since_program_s`` after programming of cells at ``g_prog_s`` (written to
        ``g_target_s``), siemens; per-device draws (drift exponents) from ``rng``. Default: no drift."""
        return np.asarray(g_prog_s, dtype=np.float64)

    def read_sigma_s(self, g_prog_s: np.ndarray, g_t_s: np.ndarray, t_since_program_s: float) -> np.ndarray:
        """The standard deviation of one read's Gaussian noise on each cell (S), ``t_since_program_s`` after
        programming. Default: none (zeros)."""
        return np.zeros(np.shape(g_t_s))

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
        """The device a ``[device]`` spec describes: its common fields and its kind's (``spec.params``)."""
        common = {name: getattr(spec, name) for name in COMMON_FIELDS}
        device = cls.from_config({**dict(spec.params), **common})
        spec_range = (spec.g_off_s, spec.g_on_s)
        if spec_range != _DEFAULT_RANGE_S and spec_range != device.g_range_s:
            raise SpecError(f"device.g_on_s / device.g_off_s are not fields of device.kind={cls.kind!r}: its range is "
                            f"its own (g_off, g_on = {device.g_range_s}); remove them, or set the kind's own fields")
        return device

    def own_params(self) -> dict[str, object]:
        """The kind's own fields and values (not ``COMMON_FIELDS``): what ``DeviceSpec.params`` holds."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in COMMON_FIELDS}

    def describe(self) -> str:
        """E.g. ``pcm (t 3.6e+03 s, global drift compensation, stuck 1%/0%, seed 3)``."""
        parts = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.own_params().items()]
        if self.t_since_program_s:
            parts.append(f"read {self.t_since_program_s:g} s after programming")
        if self.drift_compensation != "none":
            parts.append(f"{self.drift_compensation} drift compensation")
        if self.stuck_off_ratio or self.stuck_on_ratio:
            parts.append(f"stuck off {self.stuck_off_ratio:g} / on {self.stuck_on_ratio:g}")
        parts.append(f"seed {self.seed}")
        return f"{self.kind or type(self).__name__} device ({', '.join(parts)})"

    # ------------------------------------------------------------------ derived
    def program(self, g_target_s: object, rng: np.random.Generator | None = None) -> np.ndarray:
        """The programmed state of cells written to ``g_target_s`` (S), float64 of its shape. Default: exactly
        on target, no draw (a kind with programming noise or stuck cells draws from ``rng``)."""
        return np.asarray(g_target_s, dtype=np.float64)

    def state(self, g_target_s: object, rng: np.random.Generator | None = None,
              t_since_program_s: float | None = None) -> CellState:
        """The cells written to ``g_target_s`` (S, any shape) and read ``t_since_program_s`` later (default: this
        device's ``t_since_program_s``). Draws from ``rng`` in this order: programming (``program``), the stuck
        cells (one uniform draw per cell, only when a stuck fraction is set), drift (``drift``)."""
        t = self.t_since_program_s if t_since_program_s is None else float(t_since_program_s)
        if not np.isfinite(t) or t < 0.0:
            raise SpecError(f"{type(self).__name__}: t_since_program_s={t_since_program_s!r} must be finite and >= 0 "
                            "(0 = right after programming)")
        g_target = np.asarray(g_target_s, dtype=np.float64)
        if not np.all(np.isfinite(g_target)) or (g_target < 0.0).any():
            raise SpecError(f"{type(self).__name__}: g_target_s holds values that are not finite and >= 0; pass "
                            "conductances in siemens, e.g. between g_off_s and g_on_s")
        if (self.stuck_off_ratio or self.stuck_on_ratio) and rng is None:
            raise SpecError(f"{type(self).__name__}: stuck cells need a generator; pass rng=numpy.random.default_rng(seed)")
        g_prog = np.maximum(np.asarray(self.program(g_target, rng), dtype=np.float64), 0.0)
        stuck = np.zeros(g_target.shape, dtype=bool)
        g_fixed = g_prog
        if self.stuck_off_ratio or self.stuck_on_ratio:
            draw = rng.random(g_target.shape)  # type: ignore[union-attr]
            off = draw < self.stuck_off_ratio
            on = (~off) & (draw >= 1.0 - self.stuck_on_ratio)
            stuck = off | on
            g_off, g_on = self.g_range_s
            g_fixed = np.where(off, g_off, np.where(on, g_on, g_prog))
        g_ref = np.maximum(g_fixed, G_FLOOR_S)
        if t > 0.0:
            g_t = np.maximum(np.asarray(self.drift(g_prog, g_target, t, rng), dtype=np.float64), 0.0)
            sigma = np.asarray(self.read_sigma_s(g_prog, g_t, t), dtype=np.float64) * np.ones(g_target.shape)
            g_t = np.where(stuck, g_fixed, g_t)
            sigma = np.where(stuck, 0.0, sigma)
        else:  # right after programming: no drift, no read noise
            g_t, sigma = g_fixed, np.zeros(g_target.shape)
        return CellState(g_s=np.maximum(g_t, G_FLOOR_S), g_reference_s=g_ref, read_sigma_s=sigma, stuck=stuck)

    def read_conductance(
        self, g_target_s: object, t_since_program_s: float | None = None, seed: int | None = None, *,
        v_v: float = V_READ_V
    ) -> np.ndarray:
        """The conductances one read sees, float64 shaped like ``g_target_s``, siemens: cells programmed to
        ``g_target_s`` and read ``t_since_program_s`` later at ``v_v`` (a non-linear cell's chord conductance):
        programming noise, stuck cells, drift and one read-noise draw. The draws come from
        ``numpy.random.default_rng(seed)`` (``state``'s, then the read's): the same seed, the same draw.
        At ``t_since_program_s = 0`` there is no drift and no read noise. ``None`` (the defaults): this device's own
        ``t_since_program_s`` and ``seed``."""
        if t_since_program_s is None:
            t_since_program_s = self.t_since_program_s
        if seed is None:
            seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SpecError(f"{type(self).__name__}.read_conductance: seed={seed!r} must be an integer >= 0 (the same seed "
                            "gives the same draw)")
        ok = isinstance(t_since_program_s, (int, float, np.floating, np.integer)) and not isinstance(t_since_program_s, bool)
        t = float(t_since_program_s) if ok else np.nan  # type: ignore[arg-type]
        if not np.isfinite(t) or t < 0.0:
            raise SpecError(f"{type(self).__name__}.read_conductance: t_since_program_s={t_since_program_s!r} "
                            "must be finite and >= 0 (0 = right after programming)")
        g_target = np.asarray(g_target_s, dtype=np.float64)
        if not np.all(np.isfinite(g_target)) or (g_target < 0.0).any():
            raise SpecError(f"{type(self).__name__}.read_conductance: g_target_s holds values that are not finite "
                            "and >= 0; pass conductances in siemens, e.g. between g_off_s and g_on_s")
        rng = np.random.default_rng(seed)
        st = self.state(g_target, rng, t)
        g = st.g_s
        if st.read_noise:
            g = np.maximum(g + st.read_sigma_s * rng.standard_normal(g.shape), G_FLOOR_S)
        return np.array(np.broadcast_to(self.conductance(g, v_v, t, rng), g_target.shape), dtype=np.float64)

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
        known = tuple(f.name for f in fields(cls) if f.init)
        for key in values:
            if key not in known:
                own = [k for k in known if k not in COMMON_FIELDS]
                every = ("kind", "levels", "variation_sigma_ratio", "variation_seed") + COMMON_FIELDS
                raise SpecError(f"device.{key} is unknown for device.kind={cls.kind!r}; "
                                f"use {', '.join(own) if own else 'no fields of its own'} (and every kind's: "
                                f"{', '.join(every)})")
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResistiveCell(Device):
    """An intermediate base for linear cells (I = G V): what a read sees is the conductance itself (the base draws
    its noise), and the SPICE element is the resistor 1 / G. ``LinearDevice``, ``PCM``, ``RRAM`` and
    ``MeasuredDevice`` differ only in how they program, drift and read; they share this."""

    linear: ClassVar[bool] = True

    def conductance(
        self, g_prog_s: object, v_v: object, t_since_program_s: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        g, _ = cell_arrays(g_prog_s, v_v)
        return g.copy()  # the programmed floats, unchanged

    def element(self, stem: str, node_a: str, node_b: str, g_prog_s: float) -> "Element":
        from pyims.netlist.model import Resistor

        return Resistor(f"R{stem}", node_a, node_b, 1.0 / float(g_prog_s))
