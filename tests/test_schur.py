"""Port matrices from one Cholesky factorization (the Schur complement onto the ports) against direct solves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyims.errors import SpecError
from pyims.inference import NativeNetwork
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.runners.native import NativeTileSolver, schur_available
from pyims.spec import PartitionPlan, PeripherySpec, TileSpec, WireParasitics

pytestmark = pytest.mark.skipif(not schur_available(), reason="scikit-sparse (CHOLMOD) is not installed")


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
    solver = NativeTileSolver(tile)
    t, s_in, y = solver.port_matrices()
    t_ref, s_ref = solver.port_block("rows", 0, m)
    _, y_ref = solver.port_block("cols", 0, n)
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
    t, s_in, y = NativeTileSolver(tile).port_matrices()
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
    with pytest.raises(SpecError, match=r"port_method='qr' is unknown; use one of solves, schur"):
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
        np.testing.assert_array_equal(a, b)
