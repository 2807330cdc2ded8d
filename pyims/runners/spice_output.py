"""What ngspice's output means: success, failure or non-convergence; and tile currents from a plot.

ngspice exits 0 even after ``Error: .print: no dc analysis found`` and prints a "Note:" line
on every run, so success is decided from the exit status, explicit ``Error:`` lines and the
expected output, never from the substring "error".
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pyims.errors import ConvergenceError, SimulationError
from pyims.netlist.tile import input_source_name, sense_source_name
from pyims.runners.rawfile import RawPlot

__all__ = ["check_log", "tile_currents", "split_tile_currents", "tile_vector_names", "tail", "CONVERGENCE_PATTERNS"]

#: Lines that mean ngspice found no solution.
CONVERGENCE_PATTERNS = (
    r"singular matrix",
    r"iteration limit reached",
    r"timestep too small",
    r"gmin stepping failed",
    r"source stepping failed",
    r"no convergence",
)
_CONVERGENCE = re.compile("|".join(CONVERGENCE_PATTERNS), re.IGNORECASE)
_ERROR_LINE = re.compile(r"^\s*(?:stderr\s+)?(?:error\b|fatal error)", re.IGNORECASE | re.MULTILINE)


def tail(text: str, n_lines: int = 25) -> str:
    """The last ``n_lines`` non-empty lines of ``text``."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n_lines:])


def check_log(log_text: str, *, rundir: Path | None, cmd: tuple[str, ...], returncode: int | None) -> None:
    """Raise ConvergenceError / SimulationError when ngspice's output reports a failure."""
    convergence = [line for line in log_text.splitlines() if _CONVERGENCE.search(line)]
    if convergence:
        raise ConvergenceError(
            f"ngspice did not converge: {convergence[0].strip()}; check for floating nodes or "
            "conductances many orders of magnitude apart",
            rundir=rundir,
            cmd=cmd,
            returncode=returncode,
            output_tail=tail(log_text),
        )
    if returncode not in (0, None):
        raise SimulationError("ngspice failed", rundir=rundir, cmd=cmd, returncode=returncode, output_tail=tail(log_text))
    first = next((line for line in log_text.splitlines() if _ERROR_LINE.match(line)), None)
    if first is not None:
        raise SimulationError(
            f"ngspice reported an error: {first.strip()}",
            rundir=rundir,
            cmd=cmd,
            returncode=returncode,
            output_tail=tail(log_text),
        )


def tile_vector_names(*, n_rows: int, n_cols: int, batched: bool) -> tuple[str, ...]:
    """The vectors of a tile run: every column's sense-source current, then every row source's."""
    return tuple(f"i({sense_source_name(j)})" for j in range(n_cols)) + tuple(
        f"i({input_source_name(i, batched)})" for i in range(n_rows)
    )


def tile_currents(plot: RawPlot, *, n_rows: int, n_cols: int, n_vectors: int, batched: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column currents ``(K, n)`` and source currents ``(K, m)`` in A from a tile's plot (a hand-run netlist's)."""
    if plot.data.shape[0] != n_vectors:
        raise SimulationError(
            f"ngspice returned {plot.data.shape[0]} points in plot {plot.plotname!r}, expected {n_vectors}",
            rundir=None,
        )
    return split_tile_currents(plot.columns(tile_vector_names(n_rows=n_rows, n_cols=n_cols, batched=batched)), n_cols)


def split_tile_currents(data: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(i_col (K, n), i_src (K, m))`` in A from the vectors of ``tile_vector_names``, in that order.

    SPICE reports a source's branch current from its + terminal through the source: for the 0 V
    sense sources that is the column current; input sources report minus what they deliver.
    """
    return np.ascontiguousarray(data[:, :n_cols]), -data[:, n_cols:]
