"""Fill-reducing elimination order of a tile's unknowns from its geometry: nested dissection of the grid.

``grid_order`` gives the permutation the CHOLMOD factorizations use (``pyims.runners.factor``:
``SpdFactor(..., order=...)``, ``schur_onto_last``) for a tile's interior, and for the interiors
of a layer's tiles (``pyims.runners.lti``). It reads only where each unknown sits on the tile:
``TileMatrices.row_nodes`` / ``col_nodes`` (``pyims.runners.native.assemble_tile``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyims.runners.native import TileMatrices

__all__ = ["ND_LEAF", "grid_order", "nd_boxes", "node_spans"]

#: Sets of at most this many unknowns end the nested dissection (ordered as they come).
ND_LEAF = 256


def node_spans(b: TileMatrices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unknown: is it a row-wire node ``(N_u,)`` bool, and the first / last cell site (i, j) it
    covers, each ``(N_u, 2)`` int64."""
    n_u = b.n_unknowns
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


def grid_order(b: TileMatrices, *, leaf: int | None = None) -> np.ndarray:
    """A nested-dissection ordering of the tile's unknowns from its geometry (a permutation of ``N_u``).

    Row-wire node (i, j) touches its row neighbours and, through cell (i, j), column-wire node
    (i, j); column-wire nodes chain along i. Cutting a box of sites at column c, the row-wire nodes
    covering c separate it (column-wire nodes at c touch only those); at row r the column-wire
    nodes covering r do. Each box is cut across its longer side; halves come first, the separator
    last -- George's nested dissection of a grid, as METIS finds it for this graph but without its
    search, which costs more than the factorization it orders (``docs/performance.md``). Merged
    nodes (zero-ohm wires, one row node per column pair) span several sites and are cut as spans.
    The recursion runs level by level over all boxes at once (boxes numbered as a heap: root 1,
    children 2k and 2k + 1); the order is the tree's post-order. ``leaf``: boxes of at most this
    many unknowns are not cut further (default ``ND_LEAF``).
    """
    n_u = b.n_unknowns
    box, depth = nd_boxes(b, leaf=leaf)
    # post-order: pad each box number with ones down to the deepest level; deeper boxes first on ties
    deepest = int(depth.max()) if n_u else 0
    key = (box << (deepest - depth)) | ((1 << (deepest - depth)) - 1)
    return np.lexsort((np.arange(n_u), -depth, key))


def nd_boxes(b: TileMatrices, *, leaf: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per unknown, the dissection-tree box it is eliminated in (heap number) and that box's depth,
    each ``(N_u,)`` int64."""
    leaf = ND_LEAF if leaf is None else leaf
    n_u = b.n_unknowns
    is_row, lo, hi = node_spans(b)
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
        is_leaf = (counts <= leaf) | ((i0 == i1) & (j0 == j1))
        cut = np.where(along_j, (j0 + j1) // 2, (i0 + i1) // 2)
        a, c = along_j[slot], cut[slot]
        axis = a.astype(np.int64)  # 1: j, 0: i
        nlo, nhi = lo[active, axis], hi[active, axis]
        kind = np.where(a, is_row[active], ~is_row[active])  # the nodes that can separate this cut
        sep = kind & (nlo <= c) & (nhi >= c)
        first = ~sep & (nhi <= c) & (~kind | (nhi < c))
        placed = is_leaf[slot] | sep
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
