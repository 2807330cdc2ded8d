"""The native solver against hand calculations and physical laws (no simulator needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import random_tile_arrays, rel_diff
from pyims import ConvergenceError, SpecError, TileSpec, WireParasitics, simulate_tile
from pyims.runners import TileJob
from pyims.runners.native import NativeRunner, NativeTileSolver

NO_WIRES = dict(r_row_ohm=0.0, r_col_ohm=0.0, r_driver_ohm=0.0, r_sense_ohm=0.0)


def test_one_cell_is_a_series_circuit():
    # V -> r_driver -> 1/G -> r_sense -> 0 V: I = V / (r_d + 1/G + r_s)
    i = simulate_tile([[1e-4]], [[0.5]], r_row_ohm=7.0, r_col_ohm=9.0, r_driver_ohm=100.0, r_sense_ohm=50.0)
    assert i.shape == (1, 1)
    np.testing.assert_allclose(i, [[0.5 / (100.0 + 1e4 + 50.0)]], rtol=1e-14, atol=0)


def test_two_rows_one_column_by_hand():
    # rows 0 and 1 feed column node c0 and c1; segment r_col between them; c1 is the sense node.
    g0, g1, rc = 1e-3, 2e-3, 100.0
    v0, v1 = 1.0, 0.5
    # Node c0 (unknown): g0 (v0 - c0) = (c0 - c1) / rc, with c1 = 0 V (no sense resistor).
    c0 = g0 * v0 / (g0 + 1.0 / rc)
    expected = g0 * (v0 - c0) + g1 * v1
    i = simulate_tile([[g0], [g1]], [[v0, v1]], r_row_ohm=0.0, r_col_ohm=rc, r_driver_ohm=0.0, r_sense_ohm=0.0)
    np.testing.assert_allclose(i, [[expected]], rtol=1e-14, atol=0)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), n=st.integers(1, 12), k=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_zero_parasitics_is_exactly_v_times_g(m, n, k, seed):
    g, v = random_tile_arrays(m, n, k, seed)
    for method in ("auto", "transfer", "solve"):
        res = NativeRunner(method=method).run(TileJob(tile=TileSpec(g_s=g), v_in_v=v))
        np.testing.assert_allclose(res.i_col_a, v @ g, rtol=1e-12, atol=1e-12 * np.abs(v @ g).max())


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(1, 10), n=st.integers(1, 10), k=st.integers(1, 3), seed=st.integers(0, 2**31),
    r=st.lists(st.sampled_from([0.0, 0.1, 3.0, 250.0]), min_size=4, max_size=4),
)
def test_kcl_source_current_equals_column_current(m, n, k, seed, r):
    g, v = random_tile_arrays(m, n, k, seed)
    wires = WireParasitics(r_row_ohm=r[0], r_col_ohm=r[1], r_driver_ohm=r[2], r_sense_ohm=r[3])
    for method in ("transfer", "solve"):
        res = NativeRunner(method=method).run(TileJob(tile=TileSpec(g_s=g, wires=wires), v_in_v=v))
        scale = np.abs(res.i_src_a).sum(axis=1).max()
        # Plus rounding: a current through a small resistor is a difference of two nearly equal
        # voltages, good to ~eps * |v| * g (found by hypothesis: 3e-16 A through a 0.1 ohm driver).
        g_max = max([1.0 / x for x in r if x > 0.0] + [float(g.max())])
        assert np.abs(res.kcl_residual_a()).max() <= 1e-10 * scale + 64 * np.finfo(float).eps * np.abs(v).max() * g_max


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 8), n=st.integers(1, 8), seed=st.integers(0, 2**31), which=st.integers(0, 3))
def test_more_wire_resistance_never_increases_total_current(m, n, seed, which):
    """Rayleigh monotonicity: with every row at the same voltage, total current falls as any R rises."""
    g, _ = random_tile_arrays(m, n, 1, seed)
    v = np.full((1, m), 0.3)
    names = ("r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm")
    totals = []
    for r in (0.0, 1.0, 10.0, 100.0):
        wires = WireParasitics(**{name: (r if k == which else 2.0) for k, name in enumerate(names)})
        totals.append(NativeRunner().run(TileJob(tile=TileSpec(g_s=g, wires=wires), v_in_v=v)).i_col_a.sum())
    assert all(b <= a * (1 + 1e-12) for a, b in zip(totals, totals[1:]))


def test_transfer_matrix_and_direct_solves_agree_on_a_large_tile():
    g, v = random_tile_arrays(96, 40, 70, seed=11)  # 70 vectors and 40 columns: several RHS blocks
    wires = WireParasitics(r_row_ohm=2.0, r_col_ohm=3.0, r_driver_ohm=20.0, r_sense_ohm=10.0)
    solver = NativeTileSolver(TileSpec(g_s=g, wires=wires))
    t = solver.transfer_matrix()
    assert t.shape == (96, 40) and not t.flags.writeable
    i_col, i_src = solver.solve(v)
    assert rel_diff(v @ t, i_col) <= 1e-12
    assert rel_diff(v @ solver.input_conductance(), i_src) <= 1e-10
    # more columns than rows takes the other (direct) branch of the transfer computation
    g2, v2 = random_tile_arrays(10, 30, 3, seed=12)
    solver2 = NativeTileSolver(TileSpec(g_s=g2, wires=wires))
    assert rel_diff(v2 @ solver2.transfer_matrix(), solver2.solve(v2)[0]) <= 1e-12


def test_zero_ohm_merge_is_the_limit_of_tiny_resistances():
    g, v = random_tile_arrays(6, 5, 2, seed=5)
    merged = simulate_tile(g, v, r_row_ohm=0.0, r_col_ohm=0.0, r_driver_ohm=0.0, r_sense_ohm=0.0)
    tiny = simulate_tile(g, v, r_row_ohm=1e-9, r_col_ohm=1e-9, r_driver_ohm=1e-9, r_sense_ohm=1e-9)
    assert rel_diff(tiny, merged) < 1e-9


def test_wire_resistance_reduces_far_cells_most():
    """IR drop: with uniform cells and inputs, the column farthest from the drivers loses the most."""
    g = np.full((32, 32), 5e-5)
    v = np.full((1, 32), 0.2)
    i = simulate_tile(g, v, r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=0.0, r_sense_ohm=0.0)[0]
    assert np.all(np.diff(i) < 0)
    assert np.all(i < (v @ g)[0])


def test_unknown_native_method():
    with pytest.raises(SpecError, match=r"NativeRunner.method='lu' is unknown; use one of auto, transfer, solve"):
        NativeRunner(method="lu")


def test_native_solver_needs_a_tile():
    with pytest.raises(SpecError, match=r"NativeTileSolver needs a TileSpec, got ndarray"):
        NativeTileSolver(np.ones((2, 2)))


def test_native_overflow_is_a_convergence_error():
    # Conductances near the float64 limit overflow the nodal matrix: the solver must say so.
    g = np.full((3, 3), 1e308)
    tile = TileSpec(g_s=g, wires=WireParasitics(r_row_ohm=1e-308, r_col_ohm=1e-308))
    with pytest.raises(ConvergenceError, match=r"native solver: the 3x3 tile.s nodal matrix has non-finite entries \(overflow\)"):
        NativeTileSolver(tile).solve(np.ones((1, 3)))


def test_unknown_backend_is_rejected():
    with pytest.raises(SpecError, match=r"backend='spectre' is unknown; use one of native, ngspice, pyspice"):
        simulate_tile(np.ones((1, 1)), np.ones((1, 1)), backend="spectre", **NO_WIRES)


def test_auto_method_matches_both_paths_on_either_side_of_its_switch():
    wires = WireParasitics(r_row_ohm=1.0, r_col_ohm=2.0, r_driver_ohm=5.0, r_sense_ohm=5.0)
    for k in (2, 40):  # 3x4 tile: auto uses "solve" up to 3 + 3 = 6 vectors, "transfer" beyond
        g, v = random_tile_arrays(3, 4, k, seed=k)
        job = TileJob(tile=TileSpec(g_s=g, wires=wires), v_in_v=v)
        auto = NativeRunner().run(job)
        for method in ("transfer", "solve"):
            other = NativeRunner(method=method).run(job)
            assert rel_diff(auto.i_col_a, other.i_col_a) <= 1e-12
            assert rel_diff(auto.i_src_a, other.i_src_a) <= 1e-10
