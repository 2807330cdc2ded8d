"""Port matrices from one Cholesky factorization (the Schur complement onto the ports) against direct solves;
CHOLMOD interior solves against SuperLU; the fork guard."""

from __future__ import annotations

import logging
import multiprocessing

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pyims.errors import SpecError
from pyims.inference import NativeNetwork
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.runners import factor as factor_module
from pyims.runners.factor import SpdFactor, cholmod_available
from pyims.runners.native import NativeTileSolver, count_unknowns
from pyims.runners.transient import native_tile_transient
from pyims.spec import PartitionPlan, PeripherySpec, Stimulus, TileSpec, TransientSpec, WireParasitics

pytestmark = pytest.mark.skipif(not cholmod_available(), reason="scikit-sparse (CHOLMOD) is not installed")


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def _tile(m, n, seed, r):
    g = np.random.default_rng(seed).uniform(1e-6, 1e-4, size=(m, n))
    pair = bool(r[4]) and n % 2 == 0
    return TileSpec(g_s=g, wires=WireParasitics(r_row_ohm=r[0], r_col_ohm=r[1], r_driver_ohm=r[2], r_sense_ohm=r[3],
                                                row_node_per_pair=pair))


# Wire resistances from 1 ohm up (cells 10 kohm .. 1 Mohm): agreement of T to 1e-12 holds there; a 0.1 ohm
# wire against 1 Mohm cells (a 1e7 conductance ratio) costs both methods a few more digits.
@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), n=st.integers(1, 12), seed=st.integers(0, 2**31),
       r=st.tuples(*[st.sampled_from([0.0, 1.0, 2.5, 250.0])] * 4, st.booleans()))
def test_schur_equals_solves_and_obeys_the_laws(m, n, seed, r):
    tile = _tile(m, n, seed, r)
    solver = NativeTileSolver(tile, method="schur")
    t, s_in, y = solver.port_matrices()
    reference = NativeTileSolver(tile, method="solves")
    t_ref, s_ref, y_ref = reference.port_matrices()  # m + n SuperLU solves
    assert solver.backend == "cholmod" and reference.backend == "superlu"
    assert count_unknowns(tile) == solver.n_unknowns
    assert _rel(t, t_ref) <= 1e-12  # the transfer matrix, as the issue asks
    # S and Y are port conductances minus what the interior takes: both methods cancel conductances up to
    # the largest in the circuit (a 1 ohm wire: 1 S against 1e-4 S cells), so both carry eps times it
    b = solver._blocks
    diagonals = [b.l_ss.diagonal(), b.l_kk.diagonal()] + ([b.l_uu.diagonal()] if b.l_uu.shape[0] else [])
    big = max(float(np.abs(d).max()) for d in diagonals)
    np.testing.assert_allclose(s_in, s_ref, rtol=1e-12, atol=1e-13 * big)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13 * big)
    # reciprocity: a passive network's port admittance is symmetric
    np.testing.assert_allclose(s_in, s_in.T, rtol=0, atol=1e-12 * np.abs(s_in).max())
    np.testing.assert_allclose(y, y.T, rtol=0, atol=1e-12 * np.abs(y).max())
    # KCL: with every port at the same voltage no current flows, so each port's row sums to zero
    np.testing.assert_allclose(s_in.sum(axis=1) - t.sum(axis=1), 0.0, atol=1e-12 * big)
    np.testing.assert_allclose(y.sum(axis=1) - t.sum(axis=0), 0.0, atol=1e-12 * big)


def test_zero_wires_is_exactly_the_conductances():
    tile = TileSpec(g_s=np.random.default_rng(3).uniform(1e-6, 1e-4, size=(9, 7)))
    t, s_in, y = NativeTileSolver(tile, method="schur").port_matrices()
    np.testing.assert_allclose(t, tile.g_s, rtol=1e-14, atol=0)
    np.testing.assert_allclose(np.diag(s_in), tile.g_s.sum(axis=1), rtol=1e-14)


@pytest.mark.parametrize("periphery", [PeripherySpec(), PeripherySpec(sense="opamp", opamp_gain_ratio=300.0),
                                       PeripherySpec(sense="opamp", combine="average"),
                                       PeripherySpec(sense="diffamp", combine="average", layer_gains_ratio=(3.0, 2.0))])
def test_network_results_do_not_depend_on_the_port_method(periphery):
    rng = np.random.default_rng(1)
    mlp = MLP(weights=(rng.normal(size=(20, 9)), rng.normal(size=(9, 4))), biases=(rng.normal(size=9), rng.normal(size=4)),
              neuron=NeuronSpec(kind="linear"))
    net = map_network(mlp, plan=PartitionPlan(horizontal=(3, 2), vertical=(2, 1)), periphery=periphery)
    wires = WireParasitics(r_row_ohm=3.0, r_col_ohm=4.0, r_driver_ohm=6.0, r_sense_ohm=5.0)
    u = rng.uniform(size=(5, 20))
    a = NativeNetwork(net, wires, port_method="schur").run(u)
    b = NativeNetwork(net, wires, port_method="solves").run(u)
    for x, ref in zip(a.pre_norm, b.pre_norm):
        assert _rel(x, ref) <= 1e-10
    assert _rel(a.power_w, b.power_w) <= 1e-10


def test_unknown_port_method_is_refused():
    net = map_network(MLP(weights=(np.ones((3, 2)),), biases=(np.zeros(2),)))
    with pytest.raises(SpecError, match=r"port_method='qr' is unknown; use one of auto, solves, schur"):
        NativeNetwork(net, WireParasitics(), port_method="qr")


def test_worker_processes_share_the_tiles_with_identical_results():
    rng = np.random.default_rng(2)
    mlp = MLP(weights=(rng.normal(size=(12, 6)), rng.normal(size=(6, 3))), biases=(rng.normal(size=6), rng.normal(size=3)))
    net = map_network(mlp, plan=PartitionPlan(horizontal=(2, 1), vertical=(1, 1)), periphery=PeripherySpec(sense="opamp"))
    wires = WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0)
    u = rng.uniform(size=(4, 12))
    one = NativeNetwork(net, wires, workers=1, port_method="schur")
    two = NativeNetwork(net, wires, workers=2, port_method="schur")
    assert one.n_tasks == two.n_tasks == 3  # one factorization per tile
    for a, b in zip(one.run(u).pre_norm, two.run(u).pre_norm):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12 * np.abs(a).max())  # workers run 1-thread BLAS


def test_default_is_the_one_factorization_path_for_tiles_big_enough():
    small = _tile(6, 5, 0, (2.0, 2.0, 0.0, 0.0, False))
    big = _tile(50, 40, 0, (2.0, 2.0, 0.0, 0.0, False))
    assert NativeTileSolver(small).method == "solves" and NativeTileSolver(big).method == "schur"
    rng = np.random.default_rng(0)
    mlp = MLP(weights=(rng.normal(size=(50, 20)), rng.normal(size=(20, 3))), biases=(np.zeros(20), np.zeros(3)))
    net = NativeNetwork(map_network(mlp), WireParasitics(r_row_ohm=1.0, r_col_ohm=1.0))
    assert net.port_method == "auto"
    assert net.tile_methods == {(0, 0, 0): "schur", (1, 0, 0): "solves"}  # 51x40 (4,080 nodes); 21x6


@pytest.mark.parametrize("wires", [WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5),
                                   WireParasitics(r_row_ohm=1.0, r_col_ohm=3.0, r_driver_ohm=10.0, r_sense_ohm=5.0,
                                                  row_node_per_pair=True)])
def test_cholmod_interior_solves_equal_superlu(wires):
    tile = TileSpec(g_s=np.random.default_rng(5).uniform(1e-6, 1e-4, size=(30, 24)), wires=wires)
    v = np.random.default_rng(6).uniform(0.0, 0.2, size=(7, 30))
    fast, ref = NativeTileSolver(tile, method="schur"), NativeTileSolver(tile, method="solves")
    for a, b in zip(fast.solve(v), ref.solve(v)):
        assert _rel(a, b) <= 1e-11  # currents are differences of wire-node voltages: eps x (1 S wires / 1e-4 S cells)
    for a, b in zip(fast.node_voltages(v[0]), ref.node_voltages(v[0])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(v @ fast.transfer_matrix(), fast.solve(v)[0], rtol=1e-11, atol=1e-17)


def test_native_transient_does_not_depend_on_the_factorization():
    tile = TileSpec(g_s=np.random.default_rng(7).uniform(1e-6, 1e-4, size=(12, 10)),
                    wires=WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0, c_row_f=1e-15, c_col_f=1e-15))
    stim = Stimulus.step(np.random.default_rng(8).uniform(0.0, 0.2, 12), t_rise_s=1e-11)
    spec = TransientSpec(t_stop_s=2e-10, t_step_s=2e-12)
    a = native_tile_transient(tile, stim, spec, backend="cholmod", probes=(("row", 3, 9),))
    b = native_tile_transient(tile, stim, spec, backend="superlu", probes=(("row", 3, 9),))
    assert _rel(a.i_col_a, b.i_col_a) <= 1e-11
    np.testing.assert_allclose(a.v_probe_v, b.v_probe_v, rtol=1e-11, atol=1e-15)
    with pytest.raises(SpecError, match="factorization backend 'mkl' is unknown; use one of auto, cholmod, superlu"):
        native_tile_transient(tile, stim, spec, backend="mkl")


def test_factor_errors_are_typed(monkeypatch):
    not_definite = sp.csc_matrix(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(np.linalg.LinAlgError, match="CHOLMOD"):
        SpdFactor(not_definite, "cholmod")
    monkeypatch.setattr(factor_module, "cholmod_available", lambda: False)
    with pytest.raises(SpecError, match=r'needs scikit-sparse: pip install "pyims-spice\[fast\]"'):
        SpdFactor(sp.identity(2), "cholmod")
    assert SpdFactor(sp.identity(2), "auto").backend == "superlu"  # auto without CHOLMOD: SuperLU, no error


def _forked_child(queue):
    tile = _tile(50, 40, 1, (2.0, 2.0, 0.0, 0.0, False))  # big enough that "auto" would take CHOLMOD
    solver = NativeTileSolver(tile)  # "auto": must not pick CHOLMOD here
    queue.put((solver.method, float(solver.transfer_matrix().sum())))


def test_a_process_forked_after_cholmod_ran_uses_superlu_and_does_not_hang(caplog):
    tile = _tile(50, 40, 1, (2.0, 2.0, 0.0, 0.0, False))
    assert NativeTileSolver(tile).method == "schur"  # here, in the parent
    expected = float(NativeTileSolver(tile, method="schur").transfer_matrix().sum())  # CHOLMOD runs here first
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_forked_child, args=(queue,))
    with caplog.at_level(logging.WARNING):
        child.start()
        child.join(60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung in CHOLMOD")
    method, total = queue.get(timeout=5)
    assert method == "solves" and total == pytest.approx(expected, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 24), n=st.integers(1, 24), leaf=st.integers(1, 12),
       r=st.tuples(*[st.sampled_from([0.0, 1.0])] * 4, st.booleans()))
def test_geometric_dissection_separates_and_agrees(m, n, leaf, r):
    """Every wire of the interior joins two nodes whose boxes are nested (no edge crosses between
    sibling boxes: the separators separate), the order is a permutation, and T still equals solves."""
    import pyims.runners.ordering as ordering
    from pyims.runners.native import assemble_tile

    tile = _tile(m, n, m * 100 + n, r)
    old = ordering.ND_LEAF
    ordering.ND_LEAF = leaf
    try:
        b = assemble_tile(tile)
        box, depth = ordering.nd_boxes(b)
        order = ordering.grid_order(b)
        t = NativeTileSolver(tile, method="schur").transfer_matrix()
    finally:
        ordering.ND_LEAF = old
    assert np.array_equal(np.sort(order), np.arange(b.l_uu.shape[0]))
    u, v = sp.triu(b.l_uu, k=1).nonzero()
    # the shallower node's box must be an ancestor of (or equal to) the deeper one's
    shallow_box = np.where(depth[u] <= depth[v], box[u], box[v])
    deeper_box = np.where(depth[u] <= depth[v], box[v], box[u])
    shift = np.abs(depth[u] - depth[v])
    assert np.all((deeper_box >> shift) == shallow_box)
    assert _rel(t, NativeTileSolver(tile, method="solves").transfer_matrix()) <= 1e-12


def test_schur_without_cholmod_is_refused_before_any_work(monkeypatch):
    import pyims.runners.native as native_module
    from pyims.experiment.config import SimulationSpec

    monkeypatch.setattr(native_module, "cholmod_available", lambda: False)
    with pytest.raises(SpecError, match=r'simulation.port_method="schur" needs scikit-sparse'):
        SimulationSpec(port_method="schur")
    assert SimulationSpec(port_method="auto").port_method == "auto"


def test_big_tiles_are_announced(caplog, monkeypatch):
    import pyims.inference.native as network_module

    monkeypatch.setattr(network_module, "SPLIT_UNKNOWNS", 100)
    rng = np.random.default_rng(4)
    mlp = MLP(weights=(rng.normal(size=(60, 20)),), biases=(rng.normal(size=20),))
    net = map_network(mlp)
    said = []
    with caplog.at_level(logging.INFO, logger="pyims.runners.native"):
        import pyims.runners.native as native

        old = native.BIG_TILE_UNKNOWNS
        native.BIG_TILE_UNKNOWNS = 100
        try:
            NativeNetwork(net, WireParasitics(r_row_ohm=1.0, r_col_ohm=1.0), status=said.append)
        finally:
            native.BIG_TILE_UNKNOWNS = old
    assert said == ["layer 1 tile (0, 0) 61x40: one factorization"]
    assert "61x40 tile, 4,779 unknowns: port matrices by one CHOLMOD factorization" in caplog.text
    assert "61x40 tile done in" in caplog.text
