"""Simulator options: tolerances, integration method, KLU and time limit, apart from the circuit.

A netlist model says what the circuit is; a ``SimOptions`` says how to solve it. The
simulator session (``pyims.runners.session``) applies the options when it writes the netlist
(``.options`` lines), so the same circuit can be run tight or loose, with or without KLU,
without rebuilding it. The named presets below are the settings pyims uses, each with the
measurement that chose it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pyims.errors import SpecError
from pyims.spec._checks import positive

if TYPE_CHECKING:
    from pyims.netlist.model import Netlist

__all__ = [
    "SimOptions",
    "NativeOptions",
    "INTEGRATION_METHODS",
    "DEFAULT_TIMEOUT_S",
    "TIGHT",
    "DEVICE",
    "TILE_TRANSIENT",
    "NETWORK_TRANSIENT",
]

INTEGRATION_METHODS = ("trap", "gear")
DEFAULT_TIMEOUT_S = 3600.0
_EXTRA = re.compile(r"[A-Za-z][A-Za-z0-9_]*(=[A-Za-z0-9_.+-]+)?")


def _number(x: float) -> str:
    """``1e-08`` -> ``1e-8``: the shortest exact text, exponent unpadded."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", repr(float(x)))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    """How a SPICE simulator solves a circuit.

    Attributes:
        reltol / abstol_a / vntol_v: Newton's relative tolerance, absolute current tolerance (A)
            and absolute voltage tolerance (V); ``None`` keeps the simulator's default.
        method: transient integration, "trap" or "gear" (``None``: the simulator's default).
        klu: use ngspice's KLU sparse solver; ``None`` uses it when the simulator has it.
        timeout_s: wall-clock limit of one run (``None``: none); the whole process group is killed.
        extra: further ``NAME`` or ``NAME=VALUE`` options, written after the others.
    """

    reltol: float | None = None
    abstol_a: float | None = None
    vntol_v: float | None = None
    method: str | None = None
    klu: bool | None = None
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("reltol", "abstol_a", "vntol_v", "timeout_s"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, positive("SimOptions", name, value))
        if self.method is not None and self.method not in INTEGRATION_METHODS:
            raise SpecError(f"SimOptions.method={self.method!r} is unknown; use one of {', '.join(INTEGRATION_METHODS)}")
        if self.klu is not None and not isinstance(self.klu, bool):
            raise SpecError(f"SimOptions.klu={self.klu!r} must be true, false or None (automatic)")
        extra = tuple(self.extra)
        for option in extra:
            if not isinstance(option, str) or not _EXTRA.fullmatch(option):
                raise SpecError(f"SimOptions.extra option {option!r} is invalid; use NAME or NAME=VALUE")
        object.__setattr__(self, "extra", extra)

    def with_(self, **changes: object) -> "SimOptions":
        """A copy with ``changes`` (e.g. ``TIGHT.with_(timeout_s=60)``)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def overridden(self, *, timeout_s: float | None, klu: bool | None = None) -> "SimOptions":
        """A copy with a run's own time limit and, unless ``klu`` is ``None``, its KLU choice."""
        return self.with_(timeout_s=timeout_s, **({} if klu is None else {"klu": klu}))

    def use_klu(self, available: bool) -> bool:
        return available if self.klu is None else self.klu

    def lines(self, *, klu_available: bool) -> tuple[str, ...]:
        """The ``.options`` words, in a fixed order: klu, reltol, abstol, vntol, method, extras."""
        out = ["klu"] if self.use_klu(klu_available) else []
        for key, value in (("reltol", self.reltol), ("abstol", self.abstol_a), ("vntol", self.vntol_v)):
            if value is not None:
                out.append(f"{key}={_number(value)}")
        if self.method is not None:
            out.append(f"method={self.method}")
        return tuple(out) + self.extra

    def apply(self, netlist: "Netlist", *, klu_available: bool) -> "Netlist":
        """``netlist`` with these options as its ``.options`` lines (replacing any it had)."""
        return replace(netlist, options=self.lines(klu_available=klu_available))


PORT_METHOD_NAMES = ("auto", "solves", "schur")


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeOptions:
    """How the native solver works, apart from the circuit (what ``SimOptions`` is to ngspice).

    Attributes:
        port_method: how each tile's port matrices are formed: "auto" (one CHOLMOD factorization for
            tiles big enough to gain from it, where scikit-sparse is installed), "schur" or "solves"
            (``pyims.runners.native``; results agree to ~1e-12).
        workers: processes sharing the solves (``None``: the machine's cores for large networks, 1 for
            small ones). Results do not depend on it (beyond round-off: workers run single-threaded BLAS).
        energy: also compute the drivers' power / energy (DC: ``m`` more solves per tile; read time: the
            source-current kernels).
    """

    port_method: str = "auto"
    workers: int | None = 1
    energy: bool = False

    def __post_init__(self) -> None:
        if self.port_method not in PORT_METHOD_NAMES:
            raise SpecError(f"port_method={self.port_method!r} is unknown; use one of {', '.join(PORT_METHOD_NAMES)}")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise SpecError(f"workers={self.workers!r} must be an integer >= 1, or None for automatic")
        if not isinstance(self.energy, bool):
            raise SpecError(f"energy={self.energy!r} must be True or False")


#: DC runs of networks: behavioural neurons make the circuit non-linear, and ngspice's defaults
#: (reltol 1e-3) stop Newton far from the 1e-6 agreement pyims promises.
TIGHT = SimOptions(reltol=1e-10, abstol_a=1e-18, vntol_v=1e-13)

#: DC runs of networks with transistor-level neurons: MOSFET currents cannot meet abstol=1e-18 A,
#: and with reltol=1e-10 ngspice's Newton failed on a 64x12x8x10 IMAC network after gmin and
#: source stepping (160 s); these converge in 0.2 s, and ngspice then agrees with native to
#: 6e-11 .. 1e-9 at 400x120x84x10 (docs/reproduction.md).
DEVICE = SimOptions(reltol=1e-8, abstol_a=1e-14, vntol_v=1e-10)

#: Tile transients: Newton converges tightly at every time point; the step is bounded by the
#: grid (``t_max = t_step``), which keeps ngspice's own truncation error small.
TILE_TRANSIENT = SimOptions(reltol=1e-7, abstol_a=1e-15, vntol_v=1e-10, method="trap")

#: Network transients integrate with Gear (BDF): an ideal op-amp's virtual ground with the
#: column's wire capacitance is a sub-femtosecond mode (C * rf / (1 + A)); the trapezoidal rule
#: rings on it and ngspice's step control then crawls (a 8x4x2 op-amp network was still at
#: t ~ 1e-14 s after 10 min), while Gear damps it (0.1 s for the whole window).
NETWORK_TRANSIENT = TIGHT.with_(method="gear")
