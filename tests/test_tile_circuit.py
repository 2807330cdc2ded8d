"""One tile circuit, two emitters: the netlist and the native stamper read the same ``TileCircuit``.

Each wire setting is built both ways and held against each other: the netlist's distinct nodes
against the node counts, the Laplacian of the netlist's resistors against the stamped blocks, the
netlist's capacitors against the capacitance per node, and each cell element against the cell list.
"""

from __future__ import annotations

import numpy as np
import pytest

from pyims.errors import SpecError
from pyims.netlist import build_tile_netlist
from pyims.netlist.model import Capacitor, PwlVoltageSource, Resistor, VoltageSource
from pyims.netlist.tile import TileNodes, crossbar_elements
from pyims.netlist.tile_circuit import NodeLayout, TileCircuit
from pyims.runners.native import NativeTileSolver, assemble_tile, count_unknowns
from pyims.runners.ordering import grid_order
from pyims.spec import TileSpec, WireParasitics

W = WireParasitics
WIRES = {
    "ideal": W(),
    "row": W(r_row_ohm=1.5),
    "col": W(r_col_ohm=2.5),
    "row_col": W(r_row_ohm=1.5, r_col_ohm=2.5),
    "driver": W(r_driver_ohm=10.0),
    "sense": W(r_sense_ohm=5.0),
    "driver_sense_merged_wires": W(r_driver_ohm=10.0, r_sense_ohm=5.0, c_row_f=1e-15, c_col_f=2e-15),
    "full": W(r_row_ohm=1.5, r_col_ohm=2.5, r_driver_ohm=10.0, r_sense_ohm=5.0, c_row_f=1e-15, c_col_f=2e-15),
    "pair": W(r_row_ohm=1.5, r_col_ohm=2.5, c_row_f=1e-15, row_node_per_pair=True),
    "pair_merged_row": W(r_col_ohm=2.5, r_sense_ohm=5.0, c_row_f=1e-15, c_col_f=2e-15, row_node_per_pair=True),
    "pair_full": W(r_row_ohm=1.5, r_col_ohm=2.5, r_driver_ohm=10.0, r_sense_ohm=5.0, c_row_f=1e-15,
                   c_col_f=2e-15, row_node_per_pair=True),
    "caps_only": W(c_row_f=1e-15, c_col_f=2e-15),
}
SHAPES = [(1, 2), (3, 4), (4, 6)]


def _tile(m: int, n: int, wires: WireParasitics) -> TileSpec:
    g = np.random.default_rng(m * 10 + n).uniform(1e-6, 1e-4, size=(m, n))
    return TileSpec(g_s=g, wires=wires)


class _Parsed:
    """The netlist of a tile read back as nodal analysis: node names, Laplacian, capacitance per node."""

    def __init__(self, tile: TileSpec) -> None:
        m = tile.n_rows
        netlist = build_tile_netlist(tile, np.linspace(-0.2, 0.3, 2 * m).reshape(2, m))
        self.resistors = {e.name: e for e in netlist.elements if isinstance(e, Resistor)}
        caps = [e for e in netlist.elements if isinstance(e, Capacitor)]
        sources = [e for e in netlist.elements if isinstance(e, PwlVoltageSource)]
        senses = [e for e in netlist.elements if isinstance(e, VoltageSource) and e.name.startswith("VS")]
        names: dict[str, int] = {}
        for e in (*self.resistors.values(), *caps, *sources, *senses):
            for node in (e.node_a, e.node_b) if isinstance(e, (Resistor, Capacitor)) else (e.node_pos, e.node_neg):
                if node not in ("0", "ctl"):
                    names.setdefault(node, len(names))
        self.names = names
        self.source = [names[e.node_pos] for e in sources]  # row i's source node, in order of i
        self.sense = [names[e.node_pos] for e in senses]  # column j's sense node
        n_nodes = len(names)
        self.lap = np.zeros((n_nodes, n_nodes))
        for r in self.resistors.values():
            a, b, g = names[r.node_a], names[r.node_b], 1.0 / r.r_ohm
            self.lap[[a, b], [a, b]] += g
            self.lap[[a, b], [b, a]] -= g
        self.cap = np.zeros(n_nodes)
        for c in caps:
            self.cap[names[c.node_a]] += c.c_f


CASES = [(m, n, key) for m, n in SHAPES for key in WIRES if not (WIRES[key].row_node_per_pair and n % 2)]


@pytest.mark.parametrize(("m", "n", "key"), CASES)
def test_node_counts_are_the_netlists_distinct_nodes(m, n, key):
    tile = _tile(m, n, WIRES[key])
    circuit = TileCircuit.from_tile(tile)
    parsed = _Parsed(tile)
    assert circuit.n_nodes == len(parsed.names) == NodeLayout.of(tile).n_nodes
    assert circuit.n_unknowns == count_unknowns(tile) == len(parsed.names) - m - n
    assert NativeTileSolver(tile, method="solves").n_unknowns == circuit.n_unknowns
    assert sorted(circuit.source_node.tolist() + circuit.sense_node.tolist()) == np.flatnonzero(circuit.known()).tolist()


@pytest.mark.parametrize(("m", "n", "key"), CASES)
def test_stamped_laplacian_and_capacitance_equal_the_netlists(m, n, key):
    """The stamper's blocks, mapped onto netlist nodes by the emitter's names, equal the Laplacian of
    the netlist's resistors and the sum of its capacitors per node (merged nodes included)."""
    tile = _tile(m, n, WIRES[key])
    circuit = TileCircuit.from_tile(tile)
    parsed = _Parsed(tile)
    nodes = TileNodes(tile, circuit=circuit)
    to_net = np.array([parsed.names[nodes.name(k)] for k in range(circuit.n_nodes)])
    assert to_net[circuit.source_node].tolist() == parsed.source
    assert to_net[circuit.sense_node].tolist() == parsed.sense
    unknown = to_net[np.flatnonzero(~circuit.known())]
    src, sns = parsed.source, parsed.sense
    b = assemble_tile(circuit)
    lap = parsed.lap
    scale = np.abs(lap).max()
    for got, rows, cols in ((b.l_uu, unknown, unknown), (b.l_us, unknown, src), (b.l_ku, sns, unknown),
                            (b.l_ks, sns, src), (b.l_su, src, unknown), (b.l_ss, src, src), (b.l_kk, sns, sns)):
        np.testing.assert_allclose(got.toarray(), lap[np.ix_(rows, cols)], rtol=1e-14, atol=1e-15 * scale)
    cap_scale = max(parsed.cap.max(), 1e-30)
    for got, where in ((b.c_u, unknown), (b.c_s, src), (b.c_k, sns)):
        np.testing.assert_allclose(got, parsed.cap[where], rtol=1e-14, atol=1e-15 * cap_scale)
    # the Laplacian is singular only through its constant vector: every row sums to zero (KCL)
    np.testing.assert_allclose(lap.sum(axis=1), 0.0, rtol=0, atol=1e-14 * scale)


@pytest.mark.parametrize(("m", "n", "key"), CASES)
def test_cells_are_the_netlists_cell_resistors(m, n, key):
    """Cell (i, j) joins ``cells.a[i, j]`` and ``cells.b[i, j]`` with ``g_s[i, j]``: RX{i}_{j} in the netlist."""
    tile = _tile(m, n, WIRES[key])
    circuit = TileCircuit.from_tile(tile)
    nodes = TileNodes(tile, circuit=circuit)
    parsed = _Parsed(tile)
    assert circuit.cells.shape == (m, n)
    np.testing.assert_array_equal(circuit.cells.g_s, tile.g_s)
    for i in range(m):
        for j in range(n):
            rx = parsed.resistors[f"RX{i}_{j}"]
            assert (rx.node_a, rx.node_b) == (nodes.name(circuit.cells.a[i, j]), nodes.name(circuit.cells.b[i, j]))
            assert (rx.node_a, rx.node_b) == (nodes.row(i, j), nodes.col(i, j))
            assert rx.r_ohm == 1.0 / tile.g_s[i, j]
    # every resistor of the netlist is one element of the description, and nothing else is
    described = sum(br.size for br in circuit.branches())
    assert described == len(parsed.resistors)


def test_merging_follows_the_zero_ohm_wires():
    m, n = 3, 4
    merged = TileCircuit.from_tile(_tile(m, n, W(row_node_per_pair=True)))
    assert merged.n_nodes == m + n  # one node per row (its source) and one per column (its sense)
    assert all(np.unique(merged.row_node[i]).size == 1 for i in range(m))
    assert merged.row_wires.size == merged.col_wires.size == merged.drivers.size == merged.senses.size == 0
    np.testing.assert_array_equal(merged.source_node, merged.row_node[:, 0])
    np.testing.assert_array_equal(merged.sense_node, merged.col_node[-1, :])
    pair = TileCircuit.from_tile(_tile(m, n, W(r_row_ohm=1.0, r_driver_ohm=2.0, row_node_per_pair=True)))
    np.testing.assert_array_equal(pair.row_node[:, 0::2], pair.row_node[:, 1::2])
    assert pair.row_wires.shape == (m, n // 2 - 1)
    assert not np.isin(pair.source_node, pair.row_node).any()  # driver nodes of their own
    np.testing.assert_array_equal(pair.drivers.b, pair.row_node[:, 0])


def test_external_node_names_replace_the_merged_ends():
    """In a network the tile's ends are the layer's nodes: with 0-ohm drivers / senses the first row
    node and the last column node carry those names, otherwise the resistors lead to them."""
    m, n = 2, 3
    ext_src, ext_sns = ("a0", "a1"), ("s0x", "s1x", "s2x")
    for wires, internal in ((W(r_row_ohm=1.0, r_col_ohm=1.0), set()),
                            (W(r_row_ohm=1.0, r_col_ohm=1.0, r_driver_ohm=3.0, r_sense_ohm=4.0), {"RTD0", "RTS2"})):
        tile = _tile(m, n, wires)
        nodes = TileNodes(tile, prefix="t_", source_nodes=ext_src, sense_nodes=ext_sns)
        elements = crossbar_elements(tile, nodes, tag="T")
        used = {node for e in elements for node in (e.node_a, e.node_b)} - {"0"}
        assert set(ext_src) <= used and set(ext_sns) <= used
        assert all(node.startswith("t_") for node in used - set(ext_src) - set(ext_sns))
        assert len(used) == TileCircuit.from_tile(tile).n_nodes
        assert internal <= {e.name for e in elements}


def test_grid_order_is_a_permutation_of_the_unknowns():
    tile = _tile(6, 8, WIRES["pair_full"])
    b = assemble_tile(tile)
    order = grid_order(b)
    assert b.n_unknowns == count_unknowns(tile)
    np.testing.assert_array_equal(np.sort(order), np.arange(b.n_unknowns))
    np.testing.assert_array_equal(np.sort(grid_order(b, leaf=1)), np.arange(b.n_unknowns))


def test_a_circuit_needs_a_tile_spec():
    with pytest.raises(SpecError, match=r"built from a TileSpec, got ndarray; make one with TileSpec\(g_s="):
        TileCircuit.from_tile(np.ones((2, 2)))
    with pytest.raises(SpecError, match=r"got dict"):
        count_unknowns({"g_s": np.ones((2, 2))})
