"""Build the netlist model of one crossbar tile (the circuit contract in ``docs/circuit.md``).

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
    """Generated node names of a tile, with zero-ohm wires merged.

    ``prefix`` namespaces the tile's internal nodes when several tiles share one netlist.
    ``source_nodes`` / ``sense_nodes`` name the external nodes that drive row i / receive
    column j (default: the tile's own ``in{i}`` / ``s{j}``); when the driver / sense
    resistance is 0, the first row node / last column node *is* that external node.
    """

    def __init__(
        self,
        tile: TileSpec,
        *,
        prefix: str = "",
        source_nodes: tuple[str, ...] | None = None,
        sense_nodes: tuple[str, ...] | None = None,
    ) -> None:
        w = tile.wires
        self._m = tile.n_rows
        self._prefix = prefix
        self._row_split = w.r_row_ohm > 0.0
        self._pair = w.row_node_per_pair
        self._col_split = w.r_col_ohm > 0.0
        self._driver = w.r_driver_ohm > 0.0
        self._sense = w.r_sense_ohm > 0.0
        self._sources = source_nodes
        self._senses = sense_nodes

    def row(self, i: int, j: int) -> str:
        jj = (j - j % 2 if self._pair else j) if self._row_split else 0
        if jj == 0 and not self._driver and self._sources is not None:
            return self._sources[i]
        return f"{self._prefix}r{i}_{jj}"

    def col(self, i: int, j: int) -> str:
        ii = i if self._col_split else self._m - 1
        if ii == self._m - 1 and not self._sense and self._senses is not None:
            return self._senses[j]
        return f"{self._prefix}c{ii}_{j}"

    def source(self, i: int) -> str:
        if self._sources is not None:
            return self._sources[i]
        return f"{self._prefix}in{i}" if self._driver else self.row(i, 0)

    def sense(self, j: int) -> str:
        if self._senses is not None:
            return self._senses[j]
        return f"{self._prefix}s{j}" if self._sense else self.col(self._m - 1, j)


def driver_resistor(tile: TileSpec, nodes: TileNodes, i: int, tag: str = "") -> Resistor | None:
    """Row i's driver resistance ``R{tag}D{i}``, or None when it is 0 ohm (merged)."""
    if tile.wires.r_driver_ohm <= 0.0:
        return None
    return Resistor(f"R{tag}D{i}", nodes.source(i), nodes.row(i, 0), tile.wires.r_driver_ohm)


def array_elements(tile: TileSpec, nodes: TileNodes, tag: str = "") -> list[Element]:
    """Cells and row / column wire segments, row by row (``R{tag}X..``, ``R{tag}R..``, ``R{tag}C..``)."""
    m, n = tile.n_rows, tile.n_cols
    w = tile.wires
    out: list[Element] = []
    r_cell = (1.0 / tile.g_s).tolist()
    step = 2 if w.row_node_per_pair else 1  # columns per row-wire node
    for i in range(m):
        for j in range(n):
            if j > 0 and w.r_row_ohm > 0.0 and j % step == 0:
                out.append(Resistor(f"R{tag}R{i}_{j}", nodes.row(i, j - 1), nodes.row(i, j), w.r_row_ohm))
            out.append(Resistor(f"R{tag}X{i}_{j}", nodes.row(i, j), nodes.col(i, j), r_cell[i][j]))
            if i > 0 and w.r_col_ohm > 0.0:
                out.append(Resistor(f"R{tag}C{i}_{j}", nodes.col(i - 1, j), nodes.col(i, j), w.r_col_ohm))
    return out


def sense_resistor(tile: TileSpec, nodes: TileNodes, j: int, tag: str = "") -> Resistor | None:
    """Column j's sense resistance ``R{tag}S{j}``, or None when it is 0 ohm (merged)."""
    if tile.wires.r_sense_ohm <= 0.0:
        return None
    return Resistor(f"R{tag}S{j}", nodes.col(tile.n_rows - 1, j), nodes.sense(j), tile.wires.r_sense_ohm)


def capacitor_elements(tile: TileSpec, nodes: TileNodes, tag: str = "") -> list[Element]:
    """Wire capacitance to ground at every row / column cell node (``C{tag}R..``, ``C{tag}C..``);
    one row capacitor per row-wire node (per pair with ``row_node_per_pair``)."""
    w = tile.wires
    out: list[Element] = []
    step = 2 if w.row_node_per_pair else 1
    if w.c_row_f > 0.0 or w.c_col_f > 0.0:
        for i in range(tile.n_rows):
            for j in range(tile.n_cols):
                if w.c_row_f > 0.0 and j % step == 0:
                    out.append(Capacitor(f"C{tag}R{i}_{j}", nodes.row(i, j), GROUND, w.c_row_f))
                if w.c_col_f > 0.0:
                    out.append(Capacitor(f"C{tag}C{i}_{j}", nodes.col(i, j), GROUND, w.c_col_f))
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
