"""One crossbar tile as a circuit: its nodes (zero-ohm wires merged), cells, wire segments, driver
and sense resistors and wire capacitances, as plain index arrays.

The one description of a tile's topology. Two emitters read it: the SPICE netlister
(``pyims.netlist.tile``: node and element names, netlist order) and the native stamper
(``pyims.runners.native.assemble_tile``: the Laplacian and capacitance per node). Node counts
(``NodeLayout.n_unknowns``) come from it too, without building any array.

Nodes are numbered 0 .. n_nodes-1 in blocks:

    row-wire nodes      i * row_nodes_per_row + q        (m x row_nodes_per_row)
    column-wire nodes   then ii * n + j                  (col_nodes_per_col x n)
    driver nodes        then i, one per row              (only when r_driver_ohm > 0)
    sense nodes         then j, one per column           (only when r_sense_ohm > 0)

A zero resistance is a short, so the nodes it joins are one node: with ``r_row_ohm == 0`` a row
is one node, with ``r_col_ohm == 0`` a column is one node, with ``r_driver_ohm == 0`` the row's
first node is its source node, with ``r_sense_ohm == 0`` the column's last node (at row m-1) is
its sense node. With ``row_node_per_pair`` cells 2q and 2q+1 share one row-wire node. Source and
sense nodes are known (driven at V_i, held at 0 V); every other node is an unknown.

Every element carries the cell site ``(i, j)`` it is named and ordered after, so an emitter
can write names and today's netlist order without knowing how nodes were merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.spec import TileSpec

__all__ = ["NodeLayout", "Branches", "Shunts", "TileCircuit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeLayout:
    """How many nodes a tile has after merging, from its shape and wires alone (no arrays).

    ``cols_per_row_node``: cells sharing one row-wire node along a row (2 with
    ``row_node_per_pair``, else 1); it also sets one row capacitor per pair.
    """

    n_rows: int
    n_cols: int
    cols_per_row_node: int
    row_nodes_per_row: int  # n / cols_per_row_node with row wires, 1 when r_row_ohm == 0
    col_nodes_per_col: int  # m with column wires, 1 when r_col_ohm == 0
    has_driver_nodes: bool  # r_driver_ohm > 0: each row's source is a node of its own
    has_sense_nodes: bool  # r_sense_ohm > 0: each column's sense node is a node of its own

    @classmethod
    def of(cls, tile: TileSpec) -> NodeLayout:
        """The layout of ``tile``; raises SpecError for anything but a ``TileSpec``."""
        if not isinstance(tile, TileSpec):
            raise SpecError(f"a tile circuit is built from a TileSpec, got {type(tile).__name__}; "
                            "make one with TileSpec(g_s=..., wires=...)")
        m, n, w = tile.n_rows, tile.n_cols, tile.wires
        pair = 2 if w.row_node_per_pair else 1
        return cls(
            n_rows=m,
            n_cols=n,
            cols_per_row_node=pair,
            row_nodes_per_row=n // pair if w.r_row_ohm > 0.0 else 1,
            col_nodes_per_col=m if w.r_col_ohm > 0.0 else 1,
            has_driver_nodes=w.r_driver_ohm > 0.0,
            has_sense_nodes=w.r_sense_ohm > 0.0,
        )

    @property
    def n_row_nodes(self) -> int:
        """Row-wire nodes (including the merged source nodes when there is no driver resistance)."""
        return self.n_rows * self.row_nodes_per_row

    @property
    def n_col_nodes(self) -> int:
        """Column-wire nodes (including the merged sense nodes when there is no sense resistance)."""
        return self.col_nodes_per_col * self.n_cols

    @property
    def n_nodes(self) -> int:
        """Every node of the tile except ground."""
        return (self.n_row_nodes + self.n_col_nodes + (self.n_rows if self.has_driver_nodes else 0)
                + (self.n_cols if self.has_sense_nodes else 0))

    @property
    def n_known(self) -> int:
        """Nodes with a known voltage: the m source nodes and the n sense nodes (always distinct)."""
        return self.n_rows + self.n_cols

    @property
    def n_unknowns(self) -> int:
        """Internal nodes: what the native solver factors."""
        return self.n_nodes - self.n_known


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Branches:
    """Two-terminal resistive elements of one kind (cells, one wire's segments, drivers, senses), as
    arrays of one shape S.

    Attributes:
        a, b: int64 arrays of shape S; element k joins node ``a[k]`` and node ``b[k]`` (cells:
            ``a`` the row-wire node, ``b`` the column-wire node).
        g_s: float64 array broadcastable to S, siemens: each element's conductance.
        r_ohm: the one resistance of every element, ohm, for a group specified by resistance
            (wire segments, drivers, senses: ``g_s = 1 / r_ohm``); None for cells, specified by
            conductance (their resistance is ``1 / g_s``).
        site_i, site_j: int64 arrays broadcastable to S: the cell ``(i, j)`` the element is named
            and ordered after.
    """

    a: np.ndarray
    b: np.ndarray
    g_s: np.ndarray
    r_ohm: float | None
    site_i: np.ndarray
    site_j: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """S, the group's shape."""
        return self.a.shape

    @property
    def size(self) -> int:
        """Number of elements (0: the group is absent, e.g. zero-ohm wires)."""
        return int(self.a.size)

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, g_s)`` raveled in C order, each ``(size,)``."""
        return self.a.ravel(), self.b.ravel(), np.broadcast_to(self.g_s, self.a.shape).ravel()

    def resistance_ohm(self) -> np.ndarray:
        """Each element's resistance, ohm, shape S: ``r_ohm`` as given, or ``1 / g_s`` for cells."""
        if self.r_ohm is not None:
            return np.broadcast_to(np.float64(self.r_ohm), self.a.shape)
        return np.broadcast_to(1.0 / self.g_s, self.a.shape)

    def sites(self) -> tuple[np.ndarray, np.ndarray]:
        """``(i, j)`` of every element, each an int64 array of shape S."""
        return np.broadcast_to(self.site_i, self.a.shape), np.broadcast_to(self.site_j, self.a.shape)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Shunts:
    """Capacitors from nodes to ground, as arrays of one shape S.

    Attributes:
        node: int64 array of shape S; capacitor k sits on ``node[k]`` (merged nodes carry several).
        c_f: the one capacitance of every capacitor, F.
        site_i, site_j: int64 arrays broadcastable to S: the cell each capacitor is named after.
    """

    node: np.ndarray
    c_f: float
    site_i: np.ndarray
    site_j: np.ndarray

    @property
    def size(self) -> int:
        """Number of capacitors (0 when the capacitance is 0)."""
        return int(self.node.size)

    def sites(self) -> tuple[np.ndarray, np.ndarray]:
        """``(i, j)`` of every capacitor, each an int64 array of shape S."""
        return np.broadcast_to(self.site_i, self.node.shape), np.broadcast_to(self.site_j, self.node.shape)


def _branches(a: np.ndarray, b: np.ndarray, g_s: np.ndarray | float, r_ohm: float | None,
              site_i: np.ndarray, site_j: np.ndarray) -> Branches:
    return Branches(a=a, b=b, g_s=np.asarray(g_s, dtype=np.float64), r_ohm=r_ohm, site_i=site_i, site_j=site_j)


def _none(shape: tuple[int, ...]) -> Branches:
    empty = np.zeros(shape, dtype=np.int64)
    return Branches(a=empty, b=empty, g_s=np.zeros(shape), r_ohm=None, site_i=empty, site_j=empty)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TileCircuit:
    """A tile's circuit with zero-ohm wires merged (see the module docstring for the numbering).

    Attributes:
        layout: the node counts.
        row_node, col_node: int64 arrays ``(m, n)``: the row-wire / column-wire node at cell (i, j).
        source_node: int64 ``(m,)``: the node row i's input drives (a driver node, or the row's
            first row-wire node when ``r_driver_ohm == 0``).
        sense_node: int64 ``(n,)``: column j's virtual-ground node (its own node, or the column's
            last column-wire node when ``r_sense_ohm == 0``).
        cells: ``(m, n)`` cells, cell (i, j) from ``row_node[i, j]`` to ``col_node[i, j]`` with
            ``g_s[i, j]`` -- the elements a device model will replace.
        row_wires: ``(m, row_nodes_per_row - 1)`` row segments, segment (i, q) joining row-wire
            nodes q and q + 1 of row i (site: the cell of node q + 1); empty without row wires.
        col_wires: ``(col_nodes_per_col - 1, n)`` column segments from row ii to ii + 1 (site:
            cell (ii + 1, j)); empty without column wires.
        drivers: ``(m,)`` driver resistors, source node -> first row-wire node; empty at 0 ohm.
        senses: ``(n,)`` sense resistors, last column-wire node -> sense node; empty at 0 ohm.
        row_caps: one capacitor per row-wire cell node (per pair with ``row_node_per_pair``),
            ``(m, n / cols_per_row_node)``; empty when ``c_row_f == 0``.
        col_caps: one capacitor per column-wire cell node ``(m, n)``; empty when ``c_col_f == 0``.
    """

    layout: NodeLayout
    row_node: np.ndarray
    col_node: np.ndarray
    source_node: np.ndarray
    sense_node: np.ndarray
    cells: Branches
    row_wires: Branches
    col_wires: Branches
    drivers: Branches
    senses: Branches
    row_caps: Shunts
    col_caps: Shunts

    @classmethod
    def from_tile(cls, tile: TileSpec) -> TileCircuit:
        """The circuit of ``tile`` (vectorised: no Python loop per cell); SpecError for a non-TileSpec."""
        lay = NodeLayout.of(tile)
        m, n, w = tile.n_rows, tile.n_cols, tile.wires
        pair, n_r, m_c = lay.cols_per_row_node, lay.row_nodes_per_row, lay.col_nodes_per_col
        row_idx = np.arange(lay.n_row_nodes).reshape(m, n_r)
        col_idx = lay.n_row_nodes + np.arange(lay.n_col_nodes).reshape(m_c, n)
        top = lay.n_row_nodes + lay.n_col_nodes
        if lay.has_driver_nodes:
            source, top = top + np.arange(m), top + m
        else:
            source = row_idx[:, 0]
        sense = top + np.arange(n) if lay.has_sense_nodes else col_idx[-1, :]
        row_node = row_idx if n_r == n else np.repeat(row_idx, n // n_r, axis=1)
        col_node = col_idx if m_c == m else np.repeat(col_idx, m, axis=0)
        ii, jj = np.arange(m)[:, None], np.arange(n)[None, :]
        i1, j1 = np.arange(m), np.arange(n)

        cells = _branches(row_node, col_node, tile.g_s, None, ii, jj)
        row_wires = (_branches(row_idx[:, :-1], row_idx[:, 1:], 1.0 / w.r_row_ohm, w.r_row_ohm, ii,
                               (pair * np.arange(1, n_r))[None, :])
                     if w.r_row_ohm > 0.0 else _none((m, 0)))
        col_wires = (_branches(col_idx[:-1, :], col_idx[1:, :], 1.0 / w.r_col_ohm, w.r_col_ohm,
                               np.arange(1, m_c)[:, None], jj)
                     if w.r_col_ohm > 0.0 else _none((0, n)))
        drivers = (_branches(source, row_idx[:, 0], 1.0 / w.r_driver_ohm, w.r_driver_ohm, i1, np.zeros((), np.int64))
                   if lay.has_driver_nodes else _none((0,)))
        senses = (_branches(col_idx[-1, :], sense, 1.0 / w.r_sense_ohm, w.r_sense_ohm, np.int64(m - 1), j1)
                  if lay.has_sense_nodes else _none((0,)))
        no_caps = np.zeros((m, 0), dtype=np.int64)
        row_caps = (Shunts(node=row_node[:, ::pair], c_f=w.c_row_f, site_i=ii, site_j=jj[:, ::pair])
                    if w.c_row_f > 0.0 else Shunts(node=no_caps, c_f=0.0, site_i=no_caps, site_j=no_caps))
        col_caps = (Shunts(node=col_node, c_f=w.c_col_f, site_i=ii, site_j=jj)
                    if w.c_col_f > 0.0 else Shunts(node=no_caps, c_f=0.0, site_i=no_caps, site_j=no_caps))
        return cls(layout=lay, row_node=row_node, col_node=col_node, source_node=source, sense_node=sense,
                   cells=cells, row_wires=row_wires, col_wires=col_wires, drivers=drivers, senses=senses,
                   row_caps=row_caps, col_caps=col_caps)

    @property
    def n_rows(self) -> int:
        return self.layout.n_rows

    @property
    def n_cols(self) -> int:
        return self.layout.n_cols

    @property
    def n_nodes(self) -> int:
        return self.layout.n_nodes

    @property
    def n_unknowns(self) -> int:
        return self.layout.n_unknowns

    def branches(self) -> tuple[Branches, ...]:
        """Every resistive group, in stamping order: cells, row wires, column wires, drivers, senses."""
        return (self.cells, self.row_wires, self.col_wires, self.drivers, self.senses)

    def conductances(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every resistive element as flat ``(a, b, g_s)`` arrays ``(K,)`` (node, node, siemens), in
        ``branches()`` order; the Laplacian is their sum of ``g [[1, -1], [-1, 1]]`` stamps."""
        parts = [br.flat() for br in self.branches() if br.size]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        a, b, g = zip(*parts)
        return np.concatenate(a), np.concatenate(b), np.concatenate(g)

    def known(self) -> np.ndarray:
        """Bool ``(n_nodes,)``: True at the source and sense nodes (voltage known)."""
        out = np.zeros(self.n_nodes, dtype=bool)
        out[self.source_node] = True
        out[self.sense_node] = True
        return out

    def node_c_f(self) -> np.ndarray:
        """Capacitance to ground per node ``(n_nodes,)``, F; capacitors on one merged node add up."""
        cap = np.zeros(self.n_nodes)
        for caps in (self.row_caps, self.col_caps):
            if caps.size:
                np.add.at(cap, caps.node.ravel(), caps.c_f)
        return cap
