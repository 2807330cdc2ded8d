"""Analyses as data: what to compute on a mapped network, apart from the circuit and the solver.

    Dc()                         the settled outputs (the default)
    ReadAt(t_read_s)             the outputs at a read time under the wires' capacitance
    Tran(t_stop_s)               the outputs' waveforms from t = 0 to t_stop_s (inputs step at t_delay_s)
    Repeat(inner, n, seed)       ``inner`` on ``n`` seeded draws of the hardware (device variation,
                                 converter errors), each draw's seed derived from ``seed``

``pyims.inference.simulate(net, analysis, backend=..., options=...)`` runs any of them with any
backend and returns a typed result. A ``ReadAt`` chooses its time grid itself: any positive read
time works, the grid hits the read time, the inputs' ramp corners and every extra read time
exactly; an explicit ``t_step_s`` is still accepted (and checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyims.errors import SpecError
from pyims.spec._checks import nonnegative, positive

__all__ = ["Analysis", "Dc", "ReadAt", "Tran", "Repeat", "DEFAULT_STEPS", "MAX_STEPS", "MAX_DRAWS", "draw_seeds"]

#: Grid steps up to the read time when ``t_step_s`` is not given (at least this many).
DEFAULT_STEPS = 200
#: The most grid steps a read time may take (memory and time grow with them).
MAX_STEPS = 200_000
#: The most draws a ``Repeat`` (``simulation.repeats``) may take: each maps and runs the network again, and their seeds
#: and outputs are held at once.
MAX_DRAWS = 10_000


class Analysis:
    """Base of the analyses (plain data; ``simulate`` dispatches on the type)."""

    __slots__ = ()

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Dc(Analysis):
    """The settled (DC) outputs: every tile's port matrices, exact for the linear circuit."""

    def describe(self) -> str:
        return "DC"


def _on_grid(t: float, h: float) -> bool:
    return abs(t / h - round(t / h)) <= 1e-6


def _auto_steps(times: list[float], t_end: float) -> int | None:
    """The fewest steps ``n >= DEFAULT_STEPS`` of ``t_end / n`` that hit every time in ``times``."""
    n = np.arange(DEFAULT_STEPS, MAX_STEPS + 1, dtype=np.float64)
    ok = np.ones(n.size, dtype=bool)
    for t in times:
        k = t * n / t_end  # grid index of t for every candidate
        ok &= np.abs(k - np.round(k)) <= 1e-6
    hits = np.flatnonzero(ok)
    return int(n[hits[0]]) if hits.size else None


@dataclass(frozen=True, slots=True)
class ReadAt(Analysis):
    """The outputs at a read time, after the inputs start to rise (native: a BDF2 network transient).

    Attributes:
        t_read_s: the read time, seconds after the inputs start to rise (``t = t_delay_s``).
        t_rise_s: every input ramps linearly from 0 to its value in this time (bias rows and the
            network's initial state are at DC from t = 0); ``None``: one grid step.
        t_delay_s: when the ramp starts.
        t_step_s: the integration step; ``None`` chooses it: the fewest steps (at least
            ``DEFAULT_STEPS`` up to the read time) whose grid hits the delay, the ramp's end, the read
            time and every extra read time. Given, it must hit them itself.
        read_times_s: further read times in ``(0, t_read_s]`` reported from the same run (the
            waveform's samples there).
        band_ratio: settling band for the settling times (a fraction of each image's swing).
    """

    t_read_s: float
    t_rise_s: float | None = None
    t_delay_s: float = 0.0
    t_step_s: float | None = None
    read_times_s: tuple[float, ...] = ()
    band_ratio: float = 0.01
    # the resolved grid (equality and hashing go by what the user asked for)
    _step: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_read_s", positive("simulation", "t_read_s", self.t_read_s))
        if self.t_rise_s is not None:
            object.__setattr__(self, "t_rise_s", positive("simulation", "t_rise_s", self.t_rise_s))
        object.__setattr__(self, "t_delay_s", nonnegative("simulation", "t_delay_s", self.t_delay_s))
        if self.t_step_s is not None:
            object.__setattr__(self, "t_step_s", positive("simulation", "t_step_s", self.t_step_s))
        extra = tuple(positive("simulation", f"read_times_s[{k}]", t) for k, t in enumerate(self.read_times_s))
        for t in extra:
            if t > self.t_read_s * (1 + 1e-12):
                raise SpecError(f"simulation.read_times_s: {t!r} s is beyond the simulated window (0, t_read_s={self.t_read_s!r}]; "
                                "raise t_read_s or drop it")
        object.__setattr__(self, "read_times_s", extra)
        object.__setattr__(self, "band_ratio", positive("ReadAt", "band_ratio", self.band_ratio))
        end = self.t_delay_s + self.t_read_s
        if self.t_step_s is None:
            times = [self.t_delay_s] + [self.t_delay_s + t for t in extra]
            if self.t_rise_s is not None:
                times.append(self.t_delay_s + self.t_rise_s)
            n = _auto_steps(times, end)
            if n is None:
                raise SpecError(
                    f"simulation: no grid of at most {MAX_STEPS} steps up to the read time {self.t_read_s!r} s hits the delay "
                    f"{self.t_delay_s!r} s, the rise time {self.t_rise_s!r} s and the read times {list(extra)}; "
                    "leave t_rise_s unset (one grid step) or make the times simple multiples of each other")
            step = end / n
        else:
            step = self.t_step_s
            for name, t in (("t_read_s", end), ("t_rise_s", self.t_delay_s + (self.t_rise_s or step)),
                            ("t_delay_s", self.t_delay_s)) + tuple(
                    (f"read_times_s[{k}]", self.t_delay_s + t) for k, t in enumerate(extra)):
                if not _on_grid(t, step):
                    raise SpecError(f"simulation.{name}: t = {t!r} s is not on the grid of step {step!r} s; leave t_step_s "
                                    "unset (the grid is then chosen to hit every time) or choose one that does")
            if end / step > MAX_STEPS:
                raise SpecError(f"simulation.t_step_s={step!r}: {round(end / step)} steps up to the read time is too many "
                                f"(at most {MAX_STEPS}); use a longer step, or leave it unset")
        object.__setattr__(self, "_step", float(step))

    @property
    def step_s(self) -> float:
        """The integration step, seconds."""
        return self._step

    @property
    def rise_s(self) -> float:
        """The inputs' rise time, seconds (one step when ``t_rise_s`` is unset)."""
        return self.t_rise_s if self.t_rise_s is not None else self._step

    @property
    def n_steps(self) -> int:
        """Grid steps from t = 0 to the read time."""
        return int(round((self.t_delay_s + self.t_read_s) / self._step))

    @property
    def t_grid_s(self) -> np.ndarray:
        """``(n_steps + 1,)`` seconds."""
        return np.arange(self.n_steps + 1) * self._step

    def index_of(self, t_read_s: float) -> int:
        """The grid index of a read time (``t_read_s`` or one of ``read_times_s``)."""
        return int(round((self.t_delay_s + t_read_s) / self._step))

    @property
    def all_read_times_s(self) -> tuple[float, ...]:
        """Every read time reported, ascending (``read_times_s`` and ``t_read_s``)."""
        return tuple(sorted(set(self.read_times_s) | {self.t_read_s}))

    def ramp(self) -> np.ndarray:
        """The inputs' common profile on the grid, 0 -> 1: ``(K+1,)``."""
        return np.clip((self.t_grid_s - self.t_delay_s) / self.rise_s, 0.0, 1.0)

    def describe(self) -> str:
        return f"read at {self.t_read_s:.3g} s"


@dataclass(frozen=True, slots=True)
class Tran(Analysis):
    """The network's outputs over a window: every input ramps from 0 to its value (in ``t_rise_s``, from
    ``t_delay_s``), the circuit starting at DC, and the outputs are reported on a uniform grid from 0 to
    ``t_stop_s`` (``ReadTimeResult.output_t``). The same circuit in time as a read time -- the one read at the
    window's end -- so it runs on the same solvers; the grid is chosen as ``ReadAt``'s.

    Attributes:
        t_stop_s: the window's end, seconds after t = 0 (> ``t_delay_s``).
        t_step_s / t_rise_s: as ``ReadAt``'s (``None``: chosen / one grid step).
        t_delay_s: when the inputs start to rise.
    """

    t_stop_s: float
    t_step_s: float | None = None
    t_rise_s: float | None = None
    t_delay_s: float = 0.0
    _read: ReadAt = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        stop = positive("transient", "t_stop_s", self.t_stop_s)
        delay = nonnegative("transient", "t_delay_s", self.t_delay_s)
        if stop <= delay:
            raise SpecError(f"transient.t_stop_s={stop!r} must exceed t_delay_s={delay!r}: the window ends after the inputs start")
        object.__setattr__(self, "_read", ReadAt(t_read_s=stop - delay, t_rise_s=self.t_rise_s, t_delay_s=delay,
                                                 t_step_s=self.t_step_s))

    @property
    def as_read(self) -> ReadAt:
        """The read at the window's end: the same circuit, grid and stimulus."""
        return self._read

    @property
    def t_grid_s(self) -> np.ndarray:
        """``(K+1,)`` seconds, 0 .. ``t_stop_s``."""
        return self._read.t_grid_s

    def describe(self) -> str:
        return f"transient to {self.t_stop_s:.3g} s"


def draw_seeds(seed: int, n: int) -> tuple[int, ...]:
    """``n`` independent 63-bit seeds derived from ``seed`` (numpy's SeedSequence): draw k of a ``Repeat``."""
    states = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64)
    return tuple(int(s >> np.uint64(1)) for s in states)


@dataclass(frozen=True, slots=True)
class Repeat(Analysis):
    """``inner`` on ``n`` seeded draws of the hardware: every draw re-programs the devices (variation) and
    re-draws the converters' errors with seed ``draw_seeds(seed, n)[k]``; the same seed gives the same draws
    in the native solver and in ngspice.

    Attributes:
        inner: the analysis each draw runs (``Dc()`` or ``ReadAt(...)``).
        n: number of draws, >= 1.
        seed: the seed the draws' seeds come from.
    """

    inner: Analysis
    n: int
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.inner, (Dc, ReadAt, Tran)):
            raise SpecError(f"Repeat.inner is a {type(self.inner).__name__}; repeat a Dc(), a ReadAt(...) or a Tran(...)")
        for name, lo in (("n", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
                raise SpecError(f"Repeat.{name}={value!r} must be an integer >= {lo}")
            object.__setattr__(self, name, int(value))
        if self.n > MAX_DRAWS:
            raise SpecError(f"Repeat.n={self.n!r} draws is too many (at most {MAX_DRAWS:,}); the spread of a few hundred "
                            "draws is already tight")

    @property
    def seeds(self) -> tuple[int, ...]:
        """The draws' seeds."""
        return draw_seeds(self.seed, self.n)

    def describe(self) -> str:
        return f"{self.inner.describe()}, {self.n} draws (seed {self.seed})"
