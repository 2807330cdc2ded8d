"""Exact native DC solver of a linear tile: sparse nodal analysis in float64.

The tile's circuit is ``pyims.netlist.tile_circuit.TileCircuit`` -- the description the SPICE
netlister emits too -- and ``assemble_tile`` stamps it into ``TileMatrices``. Its nodes split into
known ones (row source nodes at V_i, sense nodes at 0 V) and unknown ones u. With the
conductance (Laplacian) matrix L of all resistors and cells,

    L_uu x_u = -L_us V          (s: source nodes, V: one input vector)
    i_col    = -(L_ku x_u + L_ks V)      (k: sense nodes; current into the virtual ground)
    i_src    =   L_su x_u + L_ss V       (current each source pushes into the tile)

L_uu is symmetric positive definite; it is factored once (``pyims.runners.factor.SpdFactor``:
CHOLMOD in the tile's nested-dissection order ``pyims.runners.ordering.grid_order``, or SuperLU
in symmetric mode), then any number of input vectors is solved. The tile's port matrices -- T (inputs -> column currents), S (the input
conductance the drivers see), Y (the sense-side admittance) -- come one of two ways:

* ``"schur"``: one Cholesky factorization of the whole nodal matrix with the ports ordered last;
  its trailing block is the Schur complement onto the ports, which holds T, S and Y at once
  (``port_matrices``). Needs CHOLMOD (``pyims-spice[fast]``).
* ``"solves"``: one SuperLU factorization of the interior, then one sparse solve per port,

      i_col = V @ T,   T = (Q L_uu^-1 P - R)^T,  P = L_us, Q = L_ku, R = L_ks   (m x n)

  with min(m, n) solves for T alone (the adjoint solve when there are fewer columns than rows).
  Kept as the reference the tests and benchmarks hold the new path against.

``"auto"`` (the default) is "schur" where CHOLMOD can run and the tile has ``SCHUR_MIN_UNKNOWNS``
internal nodes or more, else "solves" (``resolve_port_method``); both agree to ~1e-12.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pyims.errors import ConvergenceError, SpecError
from pyims.netlist.tile_circuit import NodeLayout, TileCircuit
from pyims.results import RunInfo, TileResult
from pyims.runners.base import TileJob
from pyims.runners.factor import SpdFactor, cholmod_available, resolve_backend, schur_onto_last
from pyims.runners.ordering import grid_order
from pyims.spec import TileSpec

log = logging.getLogger(__name__)

#: Tiles with at least this many unknown nodes log their factorization (start, then time taken).
BIG_TILE_UNKNOWNS = 250_000

__all__ = ["NativeTileSolver", "NativeRunner", "NATIVE_METHODS", "PORT_METHODS", "resolve_port_method", "count_unknowns",
           "TileMatrices", "assemble_tile"]

NATIVE_METHODS = ("auto", "transfer", "solve")

#: How a tile's port matrices (and its interior solves) are computed; see the module docstring.
PORT_METHODS = ("auto", "solves", "schur")


#: Below this many unknown nodes "auto" takes the solves: a small tile's few SuperLU solves cost
#: less than CHOLMOD's fixed overhead (measured: even at 30x40, 2,400 unknowns; docs/performance.md).
SCHUR_MIN_UNKNOWNS = 2_500


def resolve_port_method(method: str, n_unknowns: int | None = None) -> str:
    """The method a tile of ``n_unknowns`` internal nodes gets: "schur" or "solves".

    ``"auto"`` -> "schur" where CHOLMOD can run and the tile has at least ``SCHUR_MIN_UNKNOWNS``
    unknowns (``None``: any size), else "solves"; an explicit method is kept. Raises SpecError for
    an unknown method, or "schur" without scikit-sparse. In a process forked after CHOLMOD ran
    (where it would hang), "schur" becomes "solves" with a warning (``pyims.runners.factor``).
    """
    if method not in PORT_METHODS:
        raise SpecError(f"port_method={method!r} is unknown; use one of {', '.join(PORT_METHODS)}")
    if method == "solves":
        return method
    if method == "schur" and not cholmod_available():
        raise SpecError('port_method="schur" needs scikit-sparse (CHOLMOD): pip install "pyims-spice[fast]" '
                        '(with libsuitesparse-dev installed), or use port_method="solves"')
    if method == "auto" and n_unknowns is not None and n_unknowns < SCHUR_MIN_UNKNOWNS:
        return "solves"
    return "schur" if resolve_backend("auto") == "cholmod" else "solves"


#: Right-hand sides per sparse solve. SuperLU solves column by column anyway, so blocking costs
#: no time and bounds memory at N_u x RHS_BLOCK doubles (a 512x512 tile: 0.5M unknowns).
RHS_BLOCK = 32


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TileMatrices:
    """A tile's Laplacian (conductance matrix, S) split into unknown (u) / source (s) / sense (k)
    nodes, and its capacitance to ground per node (F); stamped from its ``TileCircuit``."""

    l_uu: sp.csc_matrix  # (N_u, N_u)
    l_us: sp.csr_matrix  # (N_u, m)
    l_ku: sp.csr_matrix  # (n, N_u)
    l_ks: sp.csr_matrix  # (n, m)
    l_su: sp.csr_matrix  # (m, N_u)
    l_ss: sp.csr_matrix  # (m, m)
    l_kk: sp.csr_matrix  # (n, n)
    c_u: np.ndarray  # (N_u,) capacitance to ground of each unknown node, F
    c_s: np.ndarray  # (m,) capacitance to ground at each source node, F (nonzero when r_driver = 0)
    c_k: np.ndarray  # (n,) capacitance to ground at each sense node, F (nonzero when r_sense = 0)
    row_nodes: np.ndarray  # (m, n): index among the unknowns of row node (i, j), -1 if known
    col_nodes: np.ndarray  # (m, n): index among the unknowns of column node (i, j), -1 if known

    @property
    def n_unknowns(self) -> int:
        """N_u, the number of internal (unknown-voltage) nodes."""
        return int(self.l_uu.shape[0])


def assemble_tile(tile: TileSpec | TileCircuit) -> TileMatrices:
    """Stamp ``tile``'s circuit (``TileCircuit``: zero-ohm wires merged, as in the netlist) into its
    Laplacian blocks; vectorised, no Python loop per cell."""
    circuit = tile if isinstance(tile, TileCircuit) else TileCircuit.from_tile(tile)
    n_nodes = circuit.n_nodes
    src_idx, sense_idx = circuit.source_node, circuit.sense_node
    a, b, g = circuit.conductances()
    # Laplacian: +g on both diagonals, -g off the diagonal (duplicates are summed).
    rows = np.concatenate([a, b, a, b])
    cols = np.concatenate([a, b, b, a])
    vals = np.concatenate([g, g, -g, -g])
    lap = sp.csr_matrix((vals, (rows, cols)), shape=(n_nodes, n_nodes))

    unknown = np.flatnonzero(~circuit.known())
    cap = circuit.node_c_f()
    position = np.full(n_nodes, -1)
    position[unknown] = np.arange(unknown.size)
    l_u = lap[unknown]
    l_s = lap[src_idx]
    l_k = lap[sense_idx]
    return TileMatrices(
        l_uu=l_u[:, unknown].tocsc(),
        l_us=l_u[:, src_idx].tocsr(),
        l_ku=l_k[:, unknown].tocsr(),
        l_ks=l_k[:, src_idx].tocsr(),
        l_su=l_s[:, unknown].tocsr(),
        l_ss=l_s[:, src_idx].tocsr(),
        l_kk=l_k[:, sense_idx].tocsr(),
        c_u=cap[unknown],
        c_s=cap[src_idx],
        c_k=cap[sense_idx],
        row_nodes=position[circuit.row_node],
        col_nodes=position[circuit.col_node],
    )


def count_unknowns(tile: TileSpec) -> int:
    """Internal nodes of ``tile``'s nodal system, from its node layout (no arrays built)."""
    return NodeLayout.of(tile).n_unknowns


class NativeTileSolver:
    """Factor a tile once; solve many input vectors or form its port matrices.

    ``method`` (``PORT_METHODS``): "auto" (default), "schur" or "solves"; see the module docstring
    and ``resolve_port_method``. The resolved one is ``self.method``. Not thread-safe for
    concurrent use of one instance; create one per thread or process.
    """

    def __init__(self, tile: TileSpec, *, method: str = "auto") -> None:
        if not isinstance(tile, TileSpec):
            raise SpecError(f"NativeTileSolver needs a TileSpec, got {type(tile).__name__}")
        self.method = resolve_port_method(method, count_unknowns(tile))  # a bad name fails before the assembly
        self.tile = tile
        self._blocks = assemble_tile(tile)
        self._factor_uu: SpdFactor | None = None
        self._ports: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._transfer: np.ndarray | None = None
        self._input_g: np.ndarray | None = None

    @property
    def n_unknowns(self) -> int:
        """Number of internal (unknown-voltage) nodes."""
        return self._blocks.n_unknowns

    @property
    def backend(self) -> str:
        """The sparse factorization used: "cholmod" (method "schur") or "superlu" (method "solves")."""
        return "cholmod" if self.method == "schur" else "superlu"

    def _singular(self, why: str) -> ConvergenceError:
        return ConvergenceError(
            f"native solver: the {self.tile.n_rows}x{self.tile.n_cols} tile's nodal matrix {why}; "
            "check for conductances so small that nodes float, or so large that they overflow float64",
            rundir=None,
        )

    def _finite(self, arr: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(arr)):
            raise self._singular("gives non-finite results (numerically singular or overflowing)")
        return arr

    def _check_entries(self) -> None:
        if not np.all(np.isfinite(self._blocks.l_uu.data)):
            raise self._singular("has non-finite entries (overflow)")

    def _factor(self) -> SpdFactor | None:
        if self._factor_uu is None and self.n_unknowns > 0:
            self._check_entries()
            try:
                order = grid_order(self._blocks) if self.backend == "cholmod" else None
                self._factor_uu = SpdFactor(self._blocks.l_uu, self.backend, order=order)
            except np.linalg.LinAlgError as exc:
                raise self._singular(f"is singular or not positive definite ({exc})") from exc
        return self._factor_uu

    def _solve_uu(self, rhs: np.ndarray) -> np.ndarray:
        factor = self._factor()
        assert factor is not None
        return self._finite(factor.solve(rhs))

    def _project_solve(self, left: sp.csr_matrix, right: sp.csr_matrix) -> np.ndarray:
        """``left @ L_uu^-1 @ right`` as a dense ``(left rows, right cols)`` array, in RHS blocks.

        ``right`` is ``(N_u, r)`` sparse; only ``N_u x RHS_BLOCK`` dense doubles exist at a time.
        """
        out = np.empty((left.shape[0], right.shape[1]))
        right = right.tocsc()
        for k in range(0, right.shape[1], RHS_BLOCK):
            x = self._solve_uu(right[:, k : k + RHS_BLOCK].toarray())
            out[:, k : k + RHS_BLOCK] = left @ x
        return out

    def port_matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(T (m, n), S (m, m), Y (n, n))`` in siemens (read-only).

        The tile's ports are its m row-source and n sense nodes. Its port admittance matrix -- what the
        ports see with every internal node solved -- is the Schur complement
        ``P = L_pp - L_pu L_uu^-1 L_up`` of the nodal (Laplacian) matrix onto them; ``S = P[src, src]``,
        ``Y = P[sense, sense]``, ``T = -P[src, sense]``. Method "schur" reads ``P`` off one Cholesky
        factorization with the ports last (``pyims.runners.factor.schur_onto_last``, the interior in
        the tile's geometric nested-dissection order ``pyims.runners.ordering.grid_order``; the shift that
        makes the floating tile definite is the largest total cell conductance at a port, which bounds
        ``P``'s diagonal). Method "solves" does m + n sparse solves.
        """
        if self._ports is None:
            b = self._blocks
            m = b.l_us.shape[1]
            big = self.n_unknowns >= BIG_TILE_UNKNOWNS
            t0 = time.perf_counter()
            if big:
                log.info("native: %dx%d tile, %s unknowns: port matrices by %s ...", self.tile.n_rows, self.tile.n_cols,
                         f"{self.n_unknowns:,}", "one CHOLMOD factorization" if self.method == "schur" else "solves")
            if self.method == "schur":
                self._check_entries()
                ports = sp.bmat([[b.l_ss, b.l_ks.T], [b.l_ks, b.l_kk]])
                cells = self.tile.g_s
                shift = float(max(cells.sum(axis=1).max(), cells.sum(axis=0).max()))
                try:
                    p_full = schur_onto_last(b.l_uu, sp.hstack([b.l_us, b.l_ku.T]), ports, shift, grid_order(b))
                except np.linalg.LinAlgError as exc:
                    raise self._singular(f"could not be factored ({exc})") from exc
                p_full = self._finite(p_full)
                t, s_in, y = -p_full[:m, m:], p_full[:m, :m], p_full[m:, m:]
            else:
                t, s_in = self.port_block("rows", 0, m)
                y = self.port_block("cols", 0, b.l_ku.shape[0])[1]
            self._ports = (self._frozen(t), self._frozen(s_in), self._frozen(y))
            if big:
                log.info("native: %dx%d tile done in %.1f s", self.tile.n_rows, self.tile.n_cols, time.perf_counter() - t0)
        return self._ports

    def port_block(self, side: str, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """One block of the port matrices from ``stop - start`` solves (for splitting work across processes).

        ``side="rows"``: right-hand sides are row sources ``start:stop``; returns ``T[start:stop, :]``
        ``(k, n)`` and ``S[:, start:stop]`` ``(m, k)``. ``side="cols"``: right-hand sides are sense
        nodes ``start:stop``; returns ``T[:, start:stop]`` ``(m, k)`` and ``Y[:, start:stop]`` ``(n, k)``.
        """
        b = self._blocks
        if side == "rows":
            a = (-b.l_ks[:, start:stop].toarray()).T
            c = b.l_ss[:, start:stop].toarray()
            if self.n_unknowns:
                proj = self._project_solve(sp.vstack([b.l_ku, b.l_su]).tocsr(), b.l_us[:, start:stop].tocsr())
                n = b.l_ku.shape[0]
                a = a + proj[:n].T
                c = c - proj[n:]
        elif side == "cols":
            a = -b.l_ks.T[:, start:stop].toarray()
            c = b.l_kk[:, start:stop].toarray()
            if self.n_unknowns:
                m = b.l_us.shape[1]
                proj = self._project_solve(sp.vstack([b.l_us.T, b.l_ku]).tocsr(), b.l_ku.T[:, start:stop].tocsr())
                a = a + proj[:m]
                c = c - proj[m:]
        else:
            raise SpecError(f"port_block side={side!r}; use 'rows' or 'cols'")
        return self._finite(np.ascontiguousarray(a)), self._finite(np.ascontiguousarray(c))

    @staticmethod
    def _frozen(arr: np.ndarray) -> np.ndarray:
        arr = np.ascontiguousarray(arr)
        arr.flags.writeable = False
        return arr

    def _rows_side(self) -> None:
        """m solves (row sources): ``T`` and ``S``."""
        t, s = self.port_block("rows", 0, self.tile.n_rows)
        self._transfer = self._transfer if self._transfer is not None else self._frozen(t)
        self._input_g = self._frozen(s)

    def _cols_side(self) -> None:
        """n solves (sense nodes): ``T`` (``Y`` comes with it; network inference takes it from ``port_block``)."""
        t, _ = self.port_block("cols", 0, self.tile.n_cols)
        self._transfer = self._transfer if self._transfer is not None else self._frozen(t)

    def transfer_matrix(self) -> np.ndarray:
        """``T`` of shape ``(m, n)`` in siemens with ``i_col_a = v_in_v @ T`` exactly (read-only).

        Method "solves": min(m, n) solves, unless ``S`` (which gives ``T`` too) came first; "schur":
        one factorization (``port_matrices``).
        """
        if self.method == "schur":
            return self.port_matrices()[0]
        if self._transfer is None:
            self._rows_side() if self.tile.n_rows < self.tile.n_cols else self._cols_side()
        return self._transfer

    def input_conductance(self) -> np.ndarray:
        """``S`` of shape ``(m, m)`` in siemens with ``i_src_a = v_in_v @ S`` (symmetric, read-only; "solves": m solves, ``T`` included)."""
        if self.method == "schur":
            return self.port_matrices()[1]
        if self._input_g is None:
            self._rows_side()
        return self._input_g

    def node_voltages(self, v_in_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row-wire and column-wire node voltages ``((m, n), (m, n))`` in V for one input vector ``(m,)``.

        ``v_row[i, j]`` is row i's wire at cell (i, j), ``v_col[i, j]`` column j's wire there; their
        difference is the voltage across the cell. Ideal wires would give ``v_row[i, :] = v_i`` and
        ``v_col = 0``: the deviation is the IR drop.
        """
        b = self._blocks
        v = np.asarray(v_in_v, dtype=np.float64).reshape(-1)
        if v.size != self.tile.n_rows:
            raise SpecError(f"node_voltages needs one vector of {self.tile.n_rows} row voltages; got {v.size}")
        x = self._solve_uu(-(b.l_us @ v)[:, None])[:, 0] if self.n_unknowns else np.zeros(0)
        m, n = self.tile.n_rows, self.tile.n_cols
        v_row = np.where(b.row_nodes >= 0, x[np.maximum(b.row_nodes, 0)] if x.size else 0.0, np.repeat(v[:, None], n, axis=1))
        v_col = np.where(b.col_nodes >= 0, x[np.maximum(b.col_nodes, 0)] if x.size else 0.0, 0.0)
        return v_row.reshape(m, n), v_col.reshape(m, n)

    def solve(self, v_in_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column and source currents for ``v_in_v`` ``(K, m)`` by direct solves: ``((K, n), (K, m))`` A."""
        b = self._blocks
        v_t = np.asarray(v_in_v, dtype=np.float64).T  # (m, K)
        i_col = -np.asarray(b.l_ks @ v_t)
        i_src = np.asarray(b.l_ss @ v_t)
        if self.n_unknowns:
            for k in range(0, v_t.shape[1], RHS_BLOCK):
                x = self._solve_uu(-(b.l_us @ v_t[:, k : k + RHS_BLOCK]))  # (N_u, block)
                i_col[:, k : k + RHS_BLOCK] -= b.l_ku @ x
                i_src[:, k : k + RHS_BLOCK] += b.l_su @ x
        return (
            np.ascontiguousarray(self._finite(i_col).T),
            np.ascontiguousarray(self._finite(i_src).T),
        )


class NativeRunner:
    """Runner on the native solver.

    Args:
        method: "solve" (factor once, one sparse solve per vector), "transfer" (form ``T`` and
            ``S`` together with m solves, then ``I = V @ T``), or "auto" (default): the one with
            fewer sparse solves for this job. To reuse ``T`` across calls, keep a ``NativeTileSolver``.
        port_method: how the tile is factored and its port matrices formed (``PORT_METHODS``).
    """

    name = "native"

    def __init__(self, *, method: str = "auto", port_method: str = "auto") -> None:
        if method not in NATIVE_METHODS:
            raise SpecError(f"NativeRunner.method={method!r} is unknown; use one of {', '.join(NATIVE_METHODS)}")
        resolve_port_method(port_method)  # refuse a bad name now, not at the first run
        self.method, self.port_method = method, port_method

    def run(self, job: TileJob) -> TileResult:
        t0 = time.perf_counter()
        solver = NativeTileSolver(job.tile, method=self.port_method)
        method = self.method
        if method == "auto":
            m = job.tile.n_rows
            method = "transfer" if job.n_vectors > m else "solve"
        if method == "transfer":
            i_src = job.v_in_v @ solver.input_conductance()  # first: its m solves give T as well
            i_col = job.v_in_v @ solver.transfer_matrix()
        else:
            i_col, i_src = solver.solve(job.v_in_v)
        info = RunInfo(backend=self.name, ngspice_version=None, klu=None, wall_time_s=time.perf_counter() - t0, run_dir=None)
        return TileResult(i_col_a=i_col, i_src_a=i_src, info=info)
