"""Build the netlist model of one crossbar tile (the circuit contract in ``docs/circuit.md``).

The SPICE emitter of the tile's circuit description (``pyims.netlist.tile_circuit.TileCircuit``:
nodes after merging, cells, wire segments, drivers, senses, capacitors); the native stamper
(``pyims.runners.native.assemble_tile``) reads the same description. Names come from each
node's and element's cell site, the order is cell by cell as below.

Node names (generated):
    in{i}      row i's source node (only when r_driver_ohm > 0)
    r{i}_{j}   row i at cell (i, j)   (all j merge into r{i}_0 when r_row_ohm == 0; with
               wires.row_node_per_pair, cells 2q and 2q+1 share r{i}_{2q})
    c{i}_{j}   column j at cell (i, j) (all i merge into c{m-1}_{j} when r_col_ohm == 0)
    s{j}       column j's sense node at 0 V (only when r_sense_ohm > 0)
    ctl        the sweep control node when several input vectors are batched

Element names (generated):
    VIN{i} / BIN{i}   input source of row i (DC for one vector, PWL of v(ctl) for several)
    RD{i}             driver resistance of row i
    RR{i}_{j}         row i's wire segment from cell (i, j-1) to (i, j), j >= 1
    RX{i}_{j}         the cell (i, j), R = 1 / g_s[i, j]
    RC{i}_{j}         column j's wire segment from cell (i-1, j) to (i, j), i >= 1
    RS{j}             sense resistance of column j
    VS{j}             0 V source of column j's virtual ground; i(VS{j}) is the column current
    CR{i}_{j} / CC{i}_{j}  wire capacitance to ground at row / column node (i, j)

A zero resistance is not emitted: the two nodes it joins are one node, which is exactly a
short and keeps the zero-parasitic tile exactly ``I = V @ G``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pyims.netlist.model import (
    GROUND,
    Capacitor,
    DcSweep,
    Element,
    Netlist,
    OperatingPoint,
    PwlVoltageSource,
    Resistor,
    VoltageSource,
)
from pyims.netlist.tile_circuit import Branches, TileCircuit
from pyims.spec import TileSpec, as_input_voltages

__all__ = [
    "build_tile_netlist",
    "TileNodes",
    "CONTROL_SOURCE",
    "CONTROL_NODE",
    "input_source_name",
    "sense_source_name",
    "crossbar_elements",
    "tile_elements",
    "driver_resistor",
    "array_elements",
    "sense_resistor",
    "capacitor_elements",
]

CONTROL_SOURCE = "VCTL"
CONTROL_NODE = "ctl"


def input_source_name(i: int, batched: bool) -> str:
    """Name of row ``i``'s input source (a B element when vectors are batched)."""
    return f"BIN{i}" if batched else f"VIN{i}"


def sense_source_name(j: int) -> str:
    """Name of column ``j``'s 0 V sense source; its branch current is the column current."""
    return f"VS{j}"


class TileNodes:
    """Generated node names of a tile's circuit (``TileCircuit``: zero-ohm wires merged).

    A row-wire node is named after the first cell it touches (``r{i}_{j}``), a column-wire node
    after the last (``c{i}_{j}``, nearest the sense end), a driver node ``in{i}``, a sense node
    ``s{j}``. ``prefix`` namespaces the tile's internal nodes when several tiles share one netlist.
    ``source_nodes`` / ``sense_nodes`` name the external nodes that drive row i / receive column j
    (default: the tile's own); when the driver / sense resistance is 0, the first row node / last
    column node *is* that external node. ``circuit``: the tile's circuit, if already built.
    """

    def __init__(
        self,
        tile: TileSpec,
        *,
        prefix: str = "",
        source_nodes: tuple[str, ...] | None = None,
        sense_nodes: tuple[str, ...] | None = None,
        circuit: TileCircuit | None = None,
    ) -> None:
        self.circuit = circuit if circuit is not None else TileCircuit.from_tile(tile)
        self._names = _node_names(self.circuit, prefix, source_nodes, sense_nodes)

    def name(self, node: int) -> str:
        """The name of node ``node`` (an index into the circuit's nodes)."""
        return self._names[node]

    def row(self, i: int, j: int) -> str:
        return self._names[self.circuit.row_node[i, j]]

    def col(self, i: int, j: int) -> str:
        return self._names[self.circuit.col_node[i, j]]

    def source(self, i: int) -> str:
        return self._names[self.circuit.source_node[i]]

    def sense(self, j: int) -> str:
        return self._names[self.circuit.sense_node[j]]


def _node_names(circuit: TileCircuit, prefix: str, sources: tuple[str, ...] | None,
                senses: tuple[str, ...] | None) -> list[str]:
    """One name per node of ``circuit`` (see ``TileNodes``)."""
    names = [""] * circuit.n_nodes
    n = circuit.n_cols
    for grid, letter, last in ((circuit.row_node, "r", False), (circuit.col_node, "c", True)):
        flat = grid.ravel()
        if last:  # the last cell in row-major order: the highest row the node covers
            nodes, where = np.unique(flat[::-1], return_index=True)
            where = flat.size - 1 - where
        else:
            nodes, where = np.unique(flat, return_index=True)
        for k, i, j in zip(nodes.tolist(), (where // n).tolist(), (where % n).tolist()):
            names[k] = f"{prefix}{letter}{i}_{j}"
    for ends, letter, external in ((circuit.source_node, "in", sources), (circuit.sense_node, "s", senses)):
        for q, k in enumerate(ends.tolist()):
            if external is not None:
                names[k] = external[q]
            elif not names[k]:  # a node of its own beyond a driver / sense resistor
                names[k] = f"{prefix}{letter}{q}"
    return names


def _in_site_order(n_cols: int, sites: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[int, int]]:
    """``(group, index in group)`` of the elements of several groups with sites ``(i, j)``: cell by cell
    in row-major order and, at one cell, in the order of the groups (the netlist order)."""
    i, j, group, index = (np.concatenate(x) for x in zip(*(
        (si.ravel(), sj.ravel(), np.full(si.size, g), np.arange(si.size)) for g, (si, sj) in enumerate(sites))))
    order = np.argsort((i * n_cols + j) * len(sites) + group, kind="stable")
    return list(zip(group[order].tolist(), index[order].tolist()))


def _resistors(groups: list[tuple[str, Branches]], nodes: TileNodes, tag: str) -> list[Element]:
    """Resistors ``R{tag}{letter}{i}_{j}`` of several groups, in site order (``_in_site_order``)."""
    cols = []
    for letter, br in groups:
        i, j = br.sites()
        a, b, _ = br.flat()
        cols.append((letter, i.ravel().tolist(), j.ravel().tolist(), [nodes.name(k) for k in a.tolist()],
                     [nodes.name(k) for k in b.tolist()], br.resistance_ohm().ravel().tolist()))
    out: list[Element] = []
    for g, k in _in_site_order(nodes.circuit.n_cols, [br.sites() for _, br in groups]):
        letter, i, j, a, b, r = cols[g]
        out.append(Resistor(f"R{tag}{letter}{i[k]}_{j[k]}", a[k], b[k], r[k]))
    return out


def driver_resistor(tile: TileSpec, nodes: TileNodes, i: int, tag: str = "") -> Resistor | None:
    """Row i's driver resistance ``R{tag}D{i}``, or None when it is 0 ohm (merged)."""
    drivers = nodes.circuit.drivers
    if not drivers.size:
        return None
    return Resistor(f"R{tag}D{i}", nodes.name(drivers.a[i]), nodes.name(drivers.b[i]), drivers.r_ohm)


def array_elements(tile: TileSpec, nodes: TileNodes, tag: str = "") -> list[Element]:
    """Cells and row / column wire segments, cell by cell (``R{tag}R..`` into the cell's row node,
    ``R{tag}X..`` the cell, ``R{tag}C..`` into its column node)."""
    c = nodes.circuit
    return _resistors([("R", c.row_wires), ("X", c.cells), ("C", c.col_wires)], nodes, tag)


def sense_resistor(tile: TileSpec, nodes: TileNodes, j: int, tag: str = "") -> Resistor | None:
    """Column j's sense resistance ``R{tag}S{j}``, or None when it is 0 ohm (merged)."""
    senses = nodes.circuit.senses
    if not senses.size:
        return None
    return Resistor(f"R{tag}S{j}", nodes.name(senses.a[j]), nodes.name(senses.b[j]), senses.r_ohm)


def capacitor_elements(tile: TileSpec, nodes: TileNodes, tag: str = "") -> list[Element]:
    """Wire capacitance to ground at every row / column cell node (``C{tag}R..``, ``C{tag}C..``), cell
    by cell; one row capacitor per row-wire node (per pair with ``row_node_per_pair``)."""
    groups = (("R", nodes.circuit.row_caps), ("C", nodes.circuit.col_caps))
    cols = []
    for letter, caps in groups:
        i, j = caps.sites()
        cols.append((letter, i.ravel().tolist(), j.ravel().tolist(), [nodes.name(k) for k in caps.node.ravel().tolist()],
                     caps.c_f))
    out: list[Element] = []
    for g, k in _in_site_order(nodes.circuit.n_cols, [caps.sites() for _, caps in groups]):
        letter, i, j, node, c_f = cols[g]
        out.append(Capacitor(f"C{tag}{letter}{i[k]}_{j[k]}", node[k], GROUND, c_f))
    return out


def tile_elements(tile: TileSpec, nodes: TileNodes, source: Callable[[int], Element]) -> list[Element]:
    """The whole tile in netlist order: each row's ``source(i)`` and driver, the array, each column's
    sense resistor and 0 V sense source, the capacitors."""
    elements: list[Element] = []
    for i in range(tile.n_rows):
        elements.append(source(i))
        if (rd := driver_resistor(tile, nodes, i)) is not None:
            elements.append(rd)
    elements += array_elements(tile, nodes)
    for j in range(tile.n_cols):
        if (rs := sense_resistor(tile, nodes, j)) is not None:
            elements.append(rs)
        elements.append(VoltageSource(sense_source_name(j), nodes.sense(j), GROUND, 0.0))
    elements += capacitor_elements(tile, nodes)
    return elements


def crossbar_elements(tile: TileSpec, nodes: TileNodes, tag: str = "") -> list[Element]:
    """Every passive element of the tile (drivers, array, sense resistors, capacitors); no sources."""
    out: list[Element] = [r for i in range(tile.n_rows) if (r := driver_resistor(tile, nodes, i, tag)) is not None]
    out += array_elements(tile, nodes, tag)
    out += [r for j in range(tile.n_cols) if (r := sense_resistor(tile, nodes, j, tag)) is not None]
    out += capacitor_elements(tile, nodes, tag)
    return out


def _describe(tile: TileSpec, n_vectors: int) -> tuple[str, ...]:
    w = tile.wires
    return (
        f"crossbar tile: {tile.n_rows} rows (inputs) x {tile.n_cols} columns (outputs), {n_vectors} input vector(s)",
        f"r_row_ohm={w.r_row_ohm!r} r_col_ohm={w.r_col_ohm!r} r_driver_ohm={w.r_driver_ohm!r} "
        f"r_sense_ohm={w.r_sense_ohm!r}",
        f"c_row_f={w.c_row_f!r} c_col_f={w.c_col_f!r}",
        "column current j = i(VS<j>), positive from the array into the 0 V sense node",
    )


def build_tile_netlist(tile: TileSpec, v_in_v: object, *, klu: bool = False) -> Netlist:
    """The netlist model of ``tile`` driven by ``v_in_v`` (shape ``(n_vectors, m)``, volts).

    One vector gives an operating point (``.op``) with DC sources. Several vectors are batched
    in one DC sweep: ``VCTL`` steps 0, 1, ..., K-1 and every row source is
    ``pwl(v(ctl), 0,v0, 1,v1, ...)``, so the matrix is ordered once and refactored per vector.
    """
    v = as_input_voltages(tile, v_in_v)
    m, n = tile.n_rows, tile.n_cols
    n_vectors = v.shape[0]
    nodes = TileNodes(tile)
    batched = n_vectors > 1
    elements: list[Element] = []

    if batched:
        elements.append(VoltageSource(CONTROL_SOURCE, CONTROL_NODE, GROUND, 0.0))
        xs = tuple(float(k) for k in range(n_vectors))

    def source(i: int) -> Element:
        name = input_source_name(i, batched)
        if batched:
            return PwlVoltageSource(name, nodes.source(i), GROUND, CONTROL_NODE, xs, tuple(v[:, i].tolist()))
        return VoltageSource(name, nodes.source(i), GROUND, float(v[0, i]))

    elements += tile_elements(tile, nodes, source)

    saved = tuple(sense_source_name(j) for j in range(n)) + tuple(input_source_name(i, batched) for i in range(m))
    analysis = DcSweep(CONTROL_SOURCE, 0.0, float(n_vectors - 1), 1.0) if batched else OperatingPoint()
    return Netlist(
        title=f"* pyims crossbar tile {m}x{n}",
        elements=tuple(elements),
        analysis=analysis,
        options=("klu",) if klu else (),
        saved_currents=saved,
        comments=_describe(tile, n_vectors),
    )
