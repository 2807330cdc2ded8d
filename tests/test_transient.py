"""Tile and network transients: native vs ngspice, metrics, stimuli (marker: ngspice where simulated)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import rel_diff
from pyims.errors import NetlistError, SpecError
from pyims.inference import NativeNetwork
from pyims.inference.transient import network_transient
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.netlist import format_netlist
from pyims.netlist.transient import build_tile_transient_netlist
from pyims.runners.native import NativeTileSolver
from pyims.runners.transient import native_tile_transient, ngspice_tile_transient
from pyims.spec import PartitionPlan, Stimulus, TileSpec, TransientSpec, WireParasitics
from pyims.waveforms import NotSettledError, energy_j, settling_time_s

#: Stated agreement of the native transient with ngspice (docs/transient.md): relative to the
#: waveform's maximum, on a grid with >= 20 steps per stimulus ramp.
TOL_COLUMN = 2e-3
TOL_SOURCE = 2e-2
TOL_ENERGY = 1e-3

TILES = {
    "driven": ((8, 8), WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=50.0, c_row_f=2e-15, c_col_f=3e-15)),
    "no-driver": ((16, 12), WireParasitics(r_row_ohm=20.0, r_col_ohm=10.0, c_row_f=5e-15, c_col_f=5e-15)),
    "rows-only": ((6, 10), WireParasitics(r_row_ohm=50.0, r_driver_ohm=20.0, c_row_f=1e-14)),
    "cols-only": ((10, 6), WireParasitics(r_col_ohm=50.0, r_sense_ohm=20.0, c_col_f=1e-14)),
}


def _tile(shape, wires, seed=0):
    rng = np.random.default_rng(seed)
    return TileSpec(g_s=rng.uniform(1e-6, 1e-4, size=shape), wires=wires), rng.uniform(0.0, 0.2, size=shape[0])


@pytest.mark.ngspice
@pytest.mark.parametrize("name", TILES)
def test_native_transient_matches_ngspice(name, run_root):
    (m, n), wires = TILES[name]
    tile, v = _tile((m, n), wires)
    stim = Stimulus.step(v, t_rise_s=2e-11, t_delay_s=1e-11)
    spec = TransientSpec(t_stop_s=4e-10, t_step_s=1e-12)
    probes = (("row", 0, n - 1), ("col", m - 1, 0), ("row", m - 1, 0))
    nat = native_tile_transient(tile, stim, spec, probes=probes)
    ref = ngspice_tile_transient(tile, stim, spec, probes=probes, run_root=run_root)
    assert rel_diff(nat.i_col_a, ref.i_col_a) < TOL_COLUMN
    assert rel_diff(nat.v_probe_v, ref.v_probe_v) < TOL_COLUMN
    assert rel_diff(nat.i_src_a, ref.i_src_a) < TOL_SOURCE
    assert abs(nat.energy_j() - ref.energy_j()) < TOL_ENERGY * abs(ref.energy_j())
    # both end at the DC solution
    dc = NativeTileSolver(tile).solve(v[None, :])[0][0]
    assert rel_diff(nat.i_col_a[-1], dc) < 1e-6 and rel_diff(ref.i_col_a[-1], dc) < 1e-6
    assert not list(run_root.iterdir())


def test_native_transient_converges_with_the_step():
    """Halving the step cuts the error against a fine reference by ~4x (second order)."""
    tile, v = _tile((8, 8), TILES["driven"][1])
    stim = Stimulus.step(v, t_rise_s=4e-11, t_delay_s=4e-11)
    fine = native_tile_transient(tile, stim, TransientSpec(t_stop_s=3.2e-10, t_step_s=1.25e-13))
    errs = []
    for h in (2e-12, 1e-12, 5e-13):
        res = native_tile_transient(tile, stim, TransientSpec(t_stop_s=3.2e-10, t_step_s=h))
        stride = int(round(h / 1.25e-13))
        errs.append(rel_diff(res.i_col_a, fine.i_col_a[::stride]))
    assert errs[0] / errs[1] > 2.5 and errs[1] / errs[2] > 2.5


def test_without_capacitance_the_transient_is_dc_at_every_time():
    tile, v = _tile((6, 5), WireParasitics(r_row_ohm=3.0, r_col_ohm=4.0, r_driver_ohm=10.0))
    stim = Stimulus(t_s=[0.0, 1e-9, 2e-9], v_v=np.vstack([np.zeros(6), v, 0.5 * v]))
    res = native_tile_transient(tile, stim, TransientSpec(t_stop_s=2e-9, t_step_s=1e-10))
    dc_col, dc_src = NativeTileSolver(tile).solve(res.v_src_v)
    np.testing.assert_allclose(res.i_col_a, dc_col, rtol=1e-10, atol=1e-18)
    np.testing.assert_allclose(res.i_src_a, dc_src, rtol=1e-10, atol=1e-18)


def test_backward_euler_is_available_and_first_order():
    tile, v = _tile((8, 8), TILES["driven"][1])
    stim = Stimulus.step(v, t_rise_s=4e-11, t_delay_s=4e-11)
    spec = TransientSpec(t_stop_s=3.2e-10, t_step_s=1e-12)
    fine = native_tile_transient(tile, stim, TransientSpec(t_stop_s=3.2e-10, t_step_s=1.25e-13))
    be = native_tile_transient(tile, stim, spec, method="be")
    trap = native_tile_transient(tile, stim, spec)
    assert rel_diff(trap.i_col_a, fine.i_col_a[::8]) < rel_diff(be.i_col_a, fine.i_col_a[::8])
    with pytest.raises(SpecError, match="method='rk4' is unknown"):
        native_tile_transient(tile, stim, spec, method="rk4")


def test_settling_time_of_an_rc_is_tau_ln_100():
    t = np.linspace(0.0, 10e-9, 10001)
    tau = 1e-9
    y = np.where(t > 1e-9, 1.0 - np.exp(-(t - 1e-9) / tau), 0.0)
    # the final value is the last sample, 1 - e^-9, so the 1 % band sits slightly below tau ln(100)
    y_end = 1.0 - np.exp(-9.0)
    for band in (0.01, 0.1):
        expected = -tau * np.log(band * y_end + np.exp(-9.0))
        assert settling_time_s(t, y, band_ratio=band, t_start_s=1e-9)[0] == pytest.approx(expected, abs=1.01e-12)
    assert -tau * np.log(0.01 * y_end + np.exp(-9.0)) == pytest.approx(tau * np.log(100), rel=3e-3)
    assert settling_time_s(t, np.ones_like(t))[0] == 0.0
    with pytest.raises(NotSettledError, match="extend t_stop_s"):
        settling_time_s(t[:2000], y[:2000], t_start_s=1e-9)
    with pytest.raises(SpecError, match="band_ratio"):
        settling_time_s(t, y, band_ratio=2.0)


def test_energy_of_a_constant_power():
    t = np.linspace(0.0, 1e-9, 11)
    assert energy_j(t, np.full(11, 2e-3)) == pytest.approx(2e-12, rel=1e-12)


def test_stimulus_and_spec_errors():
    with pytest.raises(SpecError, match="start at 0"):
        Stimulus(t_s=[1e-9, 2e-9], v_v=[[0.0], [1.0]])
    with pytest.raises(SpecError, match="whole number of steps"):
        TransientSpec(t_stop_s=1e-9, t_step_s=3e-10)
    with pytest.raises(SpecError, match="t_rise_s"):
        Stimulus.step(np.ones(3), t_rise_s=0.0)
    tile, _ = _tile((4, 4), TILES["driven"][1])
    with pytest.raises(SpecError, match="drives 3 rows but the tile has 4"):
        native_tile_transient(tile, Stimulus.step(np.ones(3), t_rise_s=1e-12), TransientSpec(t_stop_s=1e-11, t_step_s=1e-12))
    with pytest.raises(SpecError, match="outside the 4x4 tile"):
        native_tile_transient(tile, Stimulus.step(np.ones(4), t_rise_s=1e-12), TransientSpec(t_stop_s=1e-11, t_step_s=1e-12),
                              probes=(("row", 4, 0),))


def test_transient_netlist_text():
    tile, v = _tile((2, 2), TILES["driven"][1])
    text = format_netlist(build_tile_transient_netlist(tile, Stimulus.step(v, t_rise_s=1e-11), TransientSpec(t_stop_s=1e-10, t_step_s=1e-12), klu=False))
    assert "VIN0 in0 0 PWL(\n+ 0.0 0.0  1e-11 " in text
    assert ".tran 1e-12 1e-10 0.0 1e-12" in text and "CR0_0 r0_0 0 2e-15" in text
    with pytest.raises(NetlistError, match="strictly increasing"):
        from pyims.netlist.model import PwlTimeSource

        PwlTimeSource("V1", "a", "0", (0.0, 0.0), (1.0, 1.0))


@pytest.mark.ngspice
def test_network_transient_settles_to_the_dc_result(run_root):
    rng = np.random.default_rng(0)
    sizes = (12, 6, 3)
    mlp = MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec())
    net = map_network(mlp, plan=PartitionPlan(horizontal=(2, 1), vertical=(1, 1)))
    wires = WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=10.0, c_row_f=5e-15, c_col_f=5e-15)
    u = rng.uniform(size=12)
    stim = Stimulus.step(u * net.v_read_v, t_rise_s=1e-11, t_delay_s=1e-11)
    res = network_transient(net.on(wires=wires), stim, TransientSpec(t_stop_s=5e-10, t_step_s=1e-12), run_root=run_root,
                            probe_nodes=("a1_0", "l0p0c0_r0_5"))
    dc = NativeNetwork(net, wires).run(u[None, :])
    # sense currents, converted as the differential stage does, are the pre-activations
    layer = net.layers[0]
    i = res.i_sense_a[0][:, 0, :]
    z = (i[:, 0::2] - i[:, 1::2]) * layer.w_max / (layer.dg_s * net.v_read_v)
    assert rel_diff(z, res.pre_norm[0]) < 1e-6
    assert res.v_probe_v.shape == (res.t_s.size, 2)
    assert res.v_probe_v[-1, 0] == pytest.approx(float(net.neuron(dc.pre_norm[0][0, 0])) * net.v_read_v, rel=1e-6)
    for a, b in zip(res.pre_norm, dc.pre_norm):
        assert rel_diff(a[-1], b[0]) < 1e-6
    assert res.power_w[-1] == pytest.approx(dc.power_w[0], rel=1e-6)
    assert 0.0 < res.latency_s() < 5e-10 and res.t_start_s == 1e-11
    # more wire capacitance -> slower inference, more energy
    heavy = WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=10.0, c_row_f=2e-14, c_col_f=2e-14)
    slow = network_transient(net.on(wires=heavy), stim, TransientSpec(t_stop_s=1e-9, t_step_s=1e-12), run_root=run_root)
    assert slow.latency_s() > res.latency_s()
    assert slow.energy_j() > 0.0 and res.energy_j() > 0.0


@pytest.mark.ngspice
def test_network_transient_averaged_partitions_report_each_sense_amplifier(run_root, waveform_check):
    rng = np.random.default_rng(1)
    sizes = (8, 4, 2)
    mlp = MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind="linear", gain_norm=0.3))
    from pyims.spec import PeripherySpec

    net = map_network(mlp, plan=PartitionPlan(horizontal=(3, 1), vertical=(1, 1)),
                      periphery=PeripherySpec(sense="opamp", combine="average", opamp_gain_ratio=200.0))
    wires = WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, c_row_f=5e-15, c_col_f=5e-15)
    u = rng.uniform(size=8)
    res = network_transient(net.on(wires=wires), Stimulus.step(u * net.v_read_v, t_rise_s=1e-11),
                            TransientSpec(t_stop_s=3e-10, t_step_s=1e-12), run_root=run_root)
    assert res.i_sense_a[0].shape == (res.t_s.size, 3, 8) and res.i_sense_a[1].shape == (res.t_s.size, 1, 4)
    dc = NativeNetwork(net, wires).run(u[None, :])
    waveform_check(res.pre_norm[-1][-1], dc.pre_norm[-1][0], rtol=1e-6, atol=1e-9, label="settled outputs")
