"""Exact native DC solver of a linear tile: sparse nodal analysis in float64.

The tile's nodes split into known ones (row source nodes at V_i, sense nodes at 0 V) and
unknown ones u. With the conductance (Laplacian) matrix L of all resistors and cells,

    L_uu x_u = -L_us V          (s: source nodes, V: one input vector)
    i_col    = -(L_ku x_u + L_ks V)      (k: sense nodes; current into the virtual ground)
    i_src    =   L_su x_u + L_ss V       (current each source pushes into the tile)

L_uu is symmetric positive definite; it is factored once (``pyims.runners.factor.SpdFactor``:
CHOLMOD with a nested-dissection ordering, or SuperLU in symmetric mode), then any number of input
vectors is solved. The tile's port matrices -- T (inputs -> column currents), S (the input
conductance the drivers see), Y (the sense-side admittance) -- come one of two ways:

* ``"schur"``: one Cholesky factorization of the whole nodal matrix with the ports ordered last;
  its trailing block is the Schur complement onto the ports, which holds T, S and Y at once
  (``port_matrices``). Needs CHOLMOD (``pyims[fast]``).
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
from pyims.results import RunInfo, TileResult
from pyims.runners.base import TileJob
from pyims.runners.factor import SpdFactor, cholmod_available, resolve_backend, schur_onto_last
from pyims.spec import TileSpec

log = logging.getLogger(__name__)

#: Tiles with at least this many unknown nodes log their factorization (start, then time taken).
BIG_TILE_UNKNOWNS = 250_000

__all__ = ["NativeTileSolver", "NativeRunner", "NATIVE_METHODS", "PORT_METHODS", "resolve_port_method", "count_unknowns"]

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
        raise SpecError('port_method="schur" needs scikit-sparse (CHOLMOD): pip install "pyims[fast]" '
                        '(with libsuitesparse-dev installed), or use port_method="solves"')
    if method == "auto" and n_unknowns is not None and n_unknowns < SCHUR_MIN_UNKNOWNS:
        return "solves"
    return "schur" if resolve_backend("auto") == "cholmod" else "solves"


#: Right-hand sides per sparse solve. SuperLU solves column by column anyway, so blocking costs
#: no time and bounds memory at N_u x RHS_BLOCK doubles (a 512x512 tile: 0.5M unknowns).
RHS_BLOCK = 32


@dataclass(frozen=True, slots=True)
class _Blocks:
    """The blocks of the tile's Laplacian, partitioned into unknown / source / sense nodes."""

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


def _assemble(tile: TileSpec) -> _Blocks:
    """Vectorised assembly of the Laplacian blocks with zero-ohm wires merged (as the netlist does)."""
    m, n = tile.n_rows, tile.n_cols
    w = tile.wires
    pair = 2 if w.row_node_per_pair else 1  # columns sharing one row-wire node
    n_r = n // pair if w.r_row_ohm > 0.0 else 1  # row nodes per row
    m_c = m if w.r_col_ohm > 0.0 else 1  # column nodes per column
    row_idx = np.arange(m * n_r).reshape(m, n_r)
    col_idx = m * n_r + np.arange(m_c * n).reshape(m_c, n)
    n_nodes = m * n_r + m_c * n
    if w.r_driver_ohm > 0.0:
        src_idx = n_nodes + np.arange(m)
        n_nodes += m
    else:
        src_idx = row_idx[:, 0]
    if w.r_sense_ohm > 0.0:
        sense_idx = n_nodes + np.arange(n)
        n_nodes += n
    else:
        sense_idx = col_idx[-1, :]

    a_parts, b_parts, g_parts = [], [], []

    def add(a: np.ndarray, b: np.ndarray, g: np.ndarray | float) -> None:
        a_parts.append(a.ravel())
        b_parts.append(b.ravel())
        g_parts.append(np.broadcast_to(np.asarray(g, dtype=np.float64), a.shape).ravel())

    cell_rows = row_idx if n_r == n else np.repeat(row_idx, n // n_r, axis=1)
    cell_cols = col_idx if m_c == m else np.repeat(col_idx, m, axis=0)
    add(cell_rows, cell_cols, tile.g_s)
    if w.r_row_ohm > 0.0 and n > 1:
        add(row_idx[:, :-1], row_idx[:, 1:], 1.0 / w.r_row_ohm)
    if w.r_col_ohm > 0.0 and m > 1:
        add(col_idx[:-1, :], col_idx[1:, :], 1.0 / w.r_col_ohm)
    if w.r_driver_ohm > 0.0:
        add(src_idx, row_idx[:, 0], 1.0 / w.r_driver_ohm)
    if w.r_sense_ohm > 0.0:
        add(col_idx[-1, :], sense_idx, 1.0 / w.r_sense_ohm)

    a = np.concatenate(a_parts)
    b = np.concatenate(b_parts)
    g = np.concatenate(g_parts)
    # Laplacian: +g on both diagonals, -g off the diagonal (duplicates are summed).
    rows = np.concatenate([a, b, a, b])
    cols = np.concatenate([a, b, b, a])
    vals = np.concatenate([g, g, -g, -g])
    lap = sp.csr_matrix((vals, (rows, cols)), shape=(n_nodes, n_nodes))

    known = np.zeros(n_nodes, dtype=bool)
    known[src_idx] = True
    known[sense_idx] = True
    unknown = np.flatnonzero(~known)
    # Wire capacitance: one capacitor to ground per row / column cell node; merged nodes add up.
    cap = np.zeros(n_nodes)
    np.add.at(cap, cell_rows[:, ::pair].ravel(), w.c_row_f)
    np.add.at(cap, cell_cols.ravel(), w.c_col_f)
    position = np.full(n_nodes, -1)
    position[unknown] = np.arange(unknown.size)
    l_u = lap[unknown]
    l_s = lap[src_idx]
    l_k = lap[sense_idx]
    return _Blocks(
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
        row_nodes=position[cell_rows],
        col_nodes=position[cell_cols],
    )


#: Sets of at most this many unknowns end the nested dissection (ordered as they come).
ND_LEAF = 256


def _spans(b: _Blocks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unknown: is it a row-wire node, and the first / last site (i, j) it covers ``(N_u, 2)``."""
    n_u = b.l_uu.shape[0]
    is_row = np.zeros(n_u, dtype=bool)
    lo = np.zeros((n_u, 2), dtype=np.int64)
    hi = np.zeros((n_u, 2), dtype=np.int64)
    for nodes, row_kind in ((b.row_nodes, True), (b.col_nodes, False)):
        # a node covers one row segment (row wires) or one column segment (column wires); walk the
        # sites in the order where those are contiguous (i major for rows, j major for columns)
        walk = nodes if row_kind else nodes.T
        where = np.indices(walk.shape).reshape(2, -1).T  # (i, j) for rows, (j, i) for columns
        if not row_kind:
            where = where[:, ::-1]
        flat = walk.ravel()
        ok = flat >= 0
        u, w = flat[ok], where[ok]
        is_row[u] = row_kind
        first_u, first = np.unique(u, return_index=True)
        last_u, last = np.unique(u[::-1], return_index=True)
        lo[first_u] = w[first]
        hi[last_u] = w[::-1][last]
    return is_row, lo, hi


def _grid_order(b: _Blocks) -> np.ndarray:
    """A nested-dissection ordering of the tile's unknowns from its geometry (a permutation of ``N_u``).

    Row-wire node (i, j) touches its row neighbours and, through cell (i, j), column-wire node
    (i, j); column-wire nodes chain along i. Cutting a box of sites at column c, the row-wire nodes
    covering c separate it (column-wire nodes at c touch only those); at row r the column-wire
    nodes covering r do. Each box is cut across its longer side; halves come first, the separator
    last -- George's nested dissection of a grid, as METIS finds it for this graph but without its
    search, which costs more than the factorization it orders (``docs/performance.md``). Merged
    nodes (zero-ohm wires, one row node per column pair) span several sites and are cut as spans.
    The recursion runs level by level over all boxes at once (boxes numbered as a heap: root 1,
    children 2k and 2k + 1); the order is the tree's post-order.
    """
    n_u = b.l_uu.shape[0]
    box, depth = _nd_boxes(b)
    # post-order: pad each box number with ones down to the deepest level; deeper boxes first on ties
    deepest = int(depth.max()) if n_u else 0
    key = (box << (deepest - depth)) | ((1 << (deepest - depth)) - 1)
    return np.lexsort((np.arange(n_u), -depth, key))


def _nd_boxes(b: _Blocks) -> tuple[np.ndarray, np.ndarray]:
    """Per unknown, the dissection-tree box it is eliminated in (heap number) and that box's depth."""
    n_u = b.l_uu.shape[0]
    is_row, lo, hi = _spans(b)
    m, n = b.row_nodes.shape
    box = np.ones(n_u, dtype=np.int64)
    depth = np.zeros(n_u, dtype=np.int64)
    rects = np.array([[0, m - 1, 0, n - 1]])  # i0, i1, j0, j1 (inclusive) of boxes 2^level .. 2^(level+1) - 1
    active = np.arange(n_u)
    level = 0
    while active.size:
        slot = box[active] - (1 << level)  # the box's index within its level
        counts = np.bincount(slot, minlength=1 << level)
        i0, i1, j0, j1 = rects.T
        along_j = (j1 - j0) >= (i1 - i0)  # cut across the longer side: at a column
        leaf = (counts <= ND_LEAF) | ((i0 == i1) & (j0 == j1))
        cut = np.where(along_j, (j0 + j1) // 2, (i0 + i1) // 2)
        a, c = along_j[slot], cut[slot]
        axis = a.astype(np.int64)  # 1: j, 0: i
        nlo, nhi = lo[active, axis], hi[active, axis]
        kind = np.where(a, is_row[active], ~is_row[active])  # the nodes that can separate this cut
        sep = kind & (nlo <= c) & (nhi >= c)
        first = ~sep & (nhi <= c) & (~kind | (nhi < c))
        placed = leaf[slot] | sep
        depth[active[placed]] = level
        moving = active[~placed]
        box[moving] = 2 * box[moving] + (~first[~placed]).astype(np.int64)
        # children 2k (first half) and 2k + 1 (second half), interleaved as the next level's slots
        left = np.stack([i0, np.where(along_j, i1, cut), j0, np.where(along_j, cut, j1)], axis=1)
        right = np.stack([np.where(along_j, i0, cut + 1), i1, np.where(along_j, cut + 1, j0), j1], axis=1)
        rects = np.stack([left, right], axis=1).reshape(-1, 4)
        active = moving
        level += 1
    return box, depth


def count_unknowns(tile: TileSpec) -> int:
    """Internal nodes of ``tile``'s nodal system without assembling it (what ``_assemble`` makes)."""
    m, n, w = tile.n_rows, tile.n_cols, tile.wires
    pair = 2 if w.row_node_per_pair else 1
    n_r = n // pair if w.r_row_ohm > 0.0 else 1
    m_c = m if w.r_col_ohm > 0.0 else 1
    known = (m if w.r_driver_ohm == 0.0 else 0) + (n if w.r_sense_ohm == 0.0 else 0)
    return m * n_r + m_c * n - known


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
        self._blocks = _assemble(tile)
        self._factor_uu: SpdFactor | None = None
        self._ports: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._transfer: np.ndarray | None = None
        self._input_g: np.ndarray | None = None

    @property
    def n_unknowns(self) -> int:
        """Number of internal (unknown-voltage) nodes."""
        return int(self._blocks.l_uu.shape[0])

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
                order = _grid_order(self._blocks) if self.backend == "cholmod" else None
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
        the tile's geometric nested-dissection order ``_grid_order``; the shift that
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
                    p_full = schur_onto_last(b.l_uu, sp.hstack([b.l_us, b.l_ku.T]), ports, shift, _grid_order(b))
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
