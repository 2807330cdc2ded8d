"""Transient stimuli and time grids.

A ``Stimulus`` is piecewise linear in time for every input row (what ngspice's PWL sources
do); ``Stimulus.step`` builds the usual one: every row ramps from its initial to its final
voltage with a given rise time. A ``TransientSpec`` is the uniform time grid results are
reported on (and the native solver's fixed step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.spec._checks import nonnegative, positive, real_array

__all__ = ["Stimulus", "TransientSpec"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Stimulus:
    """Row voltages over time.

    Attributes:
        t_s: float64 ``(P,)``, seconds, strictly increasing from 0 (P >= 2).
        v_v: float64 ``(P, m)``, volts; row i is ``v_v[:, i]`` at ``t_s``, linear in between and
            held at its last value after ``t_s[-1]``.
    """

    t_s: np.ndarray
    v_v: np.ndarray

    def __post_init__(self) -> None:
        t = real_array("Stimulus", "t_s", self.t_s).reshape(-1)
        v = real_array("Stimulus", "v_v", self.v_v)
        if v.ndim == 1:
            v = v[:, None]
        if t.size < 2 or v.ndim != 2 or v.shape[0] != t.size:
            raise SpecError(f"Stimulus needs t_s (P >= 2,) and v_v (P, m); got {t.shape} and {v.shape}")
        if t[0] != 0.0 or np.any(np.diff(t) <= 0.0):
            raise SpecError("Stimulus.t_s must start at 0 and increase strictly")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
            raise SpecError("Stimulus holds NaN or inf")
        t.flags.writeable = False
        v.flags.writeable = False
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "v_v", v)

    @property
    def n_rows(self) -> int:
        return int(self.v_v.shape[1])

    @classmethod
    def step(
        cls,
        v_final_v: np.ndarray,
        *,
        t_rise_s: float,
        t_delay_s: float = 0.0,
        v_initial_v: np.ndarray | None = None,
    ) -> "Stimulus":
        """Every row ramps linearly from ``v_initial_v`` (default 0) to ``v_final_v`` ``(m,)``
        between ``t_delay_s`` and ``t_delay_s + t_rise_s``."""
        v1 = real_array("Stimulus.step", "v_final_v", v_final_v).reshape(-1)
        v0 = np.zeros_like(v1) if v_initial_v is None else real_array("Stimulus.step", "v_initial_v", v_initial_v).reshape(-1)
        if v0.shape != v1.shape:
            raise SpecError(f"step: v_initial_v has shape {v0.shape} but v_final_v has {v1.shape}")
        rise = positive("step", "t_rise_s", t_rise_s)
        delay = nonnegative("step", "t_delay_s", t_delay_s)
        if delay > 0.0:
            t = np.array([0.0, delay, delay + rise])
            v = np.vstack([v0, v0, v1])
        else:
            t = np.array([0.0, rise])
            v = np.vstack([v0, v1])
        return cls(t_s=t, v_v=v)

    def at(self, t_s: np.ndarray) -> np.ndarray:
        """Row voltages ``(len(t_s), m)`` at the times ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)
        return np.stack([np.interp(t, self.t_s, self.v_v[:, i]) for i in range(self.n_rows)], axis=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransientSpec:
    """A uniform time grid ``0, t_step_s, ..., t_stop_s``: where waveforms are reported.

    ngspice integrates with its own adaptive steps (never longer than ``t_step_s``) and its
    results are interpolated onto the grid; the native solver steps on the grid itself.
    """

    t_stop_s: float
    t_step_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_stop_s", positive("transient", "t_stop_s", self.t_stop_s))
        object.__setattr__(self, "t_step_s", positive("transient", "t_step_s", self.t_step_s))
        n = self.t_stop_s / self.t_step_s
        if abs(n - round(n)) > 1e-9 * n or round(n) < 1:
            raise SpecError(
                f"transient.t_stop_s={self.t_stop_s!r} is not a whole number of steps of {self.t_step_s!r}; "
                "make t_stop_s a multiple of t_step_s"
            )
        if round(n) > 10_000_000:
            raise SpecError(f"transient: {round(n)} steps is too many; use a longer t_step_s")

    @property
    def n_steps(self) -> int:
        return int(round(self.t_stop_s / self.t_step_s))

    @property
    def t_grid_s(self) -> np.ndarray:
        """``(n_steps + 1,)`` seconds."""
        return np.arange(self.n_steps + 1) * self.t_step_s
