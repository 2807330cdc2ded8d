"""Typed results shared by every runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["RunInfo", "TileResult", "TransientResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """How a result was produced.

    Attributes:
        backend: "native", "ngspice" or "pyspice".
        ngspice_version: major version of the ngspice used, ``None`` for the native solver.
        klu: whether ngspice was told to use its KLU solver (``None`` for native).
        wall_time_s: wall-clock time of the run, seconds (netlist writing and parsing included).
        run_dir: directory with the netlist and simulator output when kept, else ``None``.
    """

    backend: str
    ngspice_version: int | None
    klu: bool | None
    wall_time_s: float
    run_dir: Path | None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TileResult:
    """DC currents of one tile for a batch of input vectors.

    Attributes:
        i_col_a: float64 array ``(n_vectors, n)``, amperes; current of each column into its
            sense node (positive from the array into the virtual ground).
        i_src_a: float64 array ``(n_vectors, m)``, amperes; current each row's input source
            delivers into the tile (positive out of the source's + terminal).
        info: provenance of the run.
    """

    i_col_a: np.ndarray
    i_src_a: np.ndarray
    info: RunInfo

    @property
    def n_vectors(self) -> int:
        return int(self.i_col_a.shape[0])

    def kcl_residual_a(self) -> np.ndarray:
        """Total source current minus total column current per vector, ``(n_vectors,)`` in A.

        At DC no current leaves the tile except through the sense nodes, so this is ~0.
        """
        return self.i_src_a.sum(axis=1) - self.i_col_a.sum(axis=1)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TransientResult:
    """Waveforms of one tile transient on a uniform time grid.

    Attributes:
        t_s: float64 ``(T,)``, seconds.
        i_col_a: float64 ``(T, n)``, amperes into each column's 0 V sense node.
        i_src_a: float64 ``(T, m)``, amperes each row source delivers (resistive and charging current).
        v_src_v: float64 ``(T, m)``, volts applied by each row source.
        v_probe_v: float64 ``(T, P)``, volts at the probed nodes.
        probes: the P probes, ``("row" | "col", i, j)``: the row / column wire node at cell (i, j).
        info: provenance of the run.
    """

    t_s: np.ndarray
    i_col_a: np.ndarray
    i_src_a: np.ndarray
    v_src_v: np.ndarray
    v_probe_v: np.ndarray
    probes: tuple[tuple[str, int, int], ...]
    info: RunInfo

    def power_w(self) -> np.ndarray:
        """``(T,)`` watts delivered by all row sources."""
        return np.einsum("ti,ti->t", self.v_src_v, self.i_src_a)

    def energy_j(self) -> float:
        """Energy delivered by the row sources over the window (trapezoidal rule), joules."""
        from pyims.waveforms import energy_j

        return energy_j(self.t_s, self.power_w())
