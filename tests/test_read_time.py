"""Outputs at a read time under wire capacitance: the native network transient against ngspice, late = DC,
early differs, a golden, the tiled kernel against ngspice tile transients, configs, and every error."""

from __future__ import annotations

import numpy as np
import pytest

import pyims
from pyims.errors import ConfigError, SpecError
from pyims.inference import NativeNetwork
from pyims.hardware import Hardware
from pyims.inference.read_time import READ_TIME_TOLERANCE_REL, NativeReadTime, ngspice_read_time
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.spec import PartitionPlan, PeripherySpec, WireParasitics
from pyims.spec.analysis import ReadAt
from pyims.spec.simulator import NativeOptions

WIRES = WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=10.0, c_row_f=5e-15, c_col_f=5e-15)
SPEC = ReadAt(t_read_s=1.2e-10, t_rise_s=1e-11, t_delay_s=1e-11, t_step_s=2e-13)
PERIPHERIES = {
    "ideal": PeripherySpec(),
    "opamp-sum": PeripherySpec(sense="opamp", opamp_gain_ratio=1e3),
    "diffamp-average": PeripherySpec(sense="diffamp", combine="average", r_in_ohm=1e3, layer_gains_ratio=(3.0, 2.0)),
}


def _mlp(seed: int = 12, neuron: str = "sigmoid") -> MLP:
    rng = np.random.default_rng(seed)
    sizes = (12, 6, 3)
    return MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
               biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind=neuron))


def _net(per: str = "ideal", plan=PartitionPlan(horizontal=(2, 1), vertical=(2, 1)), topology="analog", adc=None):
    return map_network(_mlp(), Hardware(plan=plan, periphery=PERIPHERIES[per], wires=WIRES, topology=topology, adc=adc))


def _rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


@pytest.mark.ngspice
@pytest.mark.parametrize("per", list(PERIPHERIES))
def test_native_read_time_matches_ngspice_network_transients(per, run_root):
    """Two images, every grid time from 0 to the read time, every layer; energy too."""
    net = _net(per)
    u = np.random.default_rng(1).uniform(size=(2, 12))
    native = NativeReadTime(net, SPEC, options=NativeOptions(energy=True)).run(u)
    spice = ngspice_read_time(net, SPEC, u, run_root=run_root)
    # the last layer over the whole window, and every layer at the read time
    scale = np.max(np.abs(spice.output_t))
    assert np.max(np.abs(native.output_t - spice.output_t)) <= READ_TIME_TOLERANCE_REL * scale
    for got, want in zip(native.pre_norm, spice.pre_norm):
        assert _rel(got, want) <= READ_TIME_TOLERANCE_REL
    assert _rel(native.energy_j, spice.energy_j) <= 1e-3
    # it is a transient: early in the ramp the outputs are far from the read time's
    assert _rel(native.output_t[:, 60], native.logits) > 0.05


@pytest.mark.parametrize("per", list(PERIPHERIES))
def test_a_late_read_equals_dc(per):
    net = _net(per)
    u = np.random.default_rng(2).uniform(size=(5, 12))
    dc = NativeNetwork(net).run(u).logits
    late = NativeReadTime(net, ReadAt(t_read_s=2e-8, t_rise_s=1e-11, t_step_s=1e-11)).run(u).logits
    assert _rel(late, dc) <= 1e-6
    early = NativeReadTime(net, ReadAt(t_read_s=2e-11, t_rise_s=1e-11, t_step_s=1e-13)).run(u).logits
    assert _rel(early, dc) > 1e-2


def test_second_order_in_the_step():
    """BDF2: halving the step cuts the error against a fine-step reference by ~4x (> 2.5x)."""
    net = _net("ideal")
    u = np.random.default_rng(3).uniform(size=(2, 12))

    def at(h):
        return NativeReadTime(net, ReadAt(t_read_s=6e-11, t_rise_s=2e-11, t_step_s=h)).run(u).logits

    ref = at(2.5e-14)
    e1, e2 = _rel(at(1e-12), ref), _rel(at(5e-13), ref)
    assert e1 / e2 > 2.5


def test_settling_and_read_time_spec():
    net = _net("ideal")
    u = np.random.default_rng(4).uniform(size=(6, 12))
    rt = NativeReadTime(net, SPEC)
    assert rt.run(u).settling_s is None  # only when asked for
    res = rt.run(u, settling=True)
    assert res.settling_s.shape == (6,) and np.all(res.settling_s > 0)
    # an image counted as settled at t stays within 1 % of its swing of DC from then on
    dc = NativeNetwork(net).run(u).logits
    for i in range(6):
        if np.isfinite(res.settling_s[i]):
            k = int(round((SPEC.t_delay_s + res.settling_s[i]) / SPEC.step_s))
            swing = np.max(np.abs(dc[i] - res.output_t[i, 0]))
            assert np.max(np.abs(res.output_t[i, k:] - dc[i])) <= 0.01 * swing
    assert SPEC.n_steps == 650 and SPEC.t_grid_s[-1] == pytest.approx(1.3e-10)


@pytest.mark.ngspice
def test_tiled_read_time_kernel_matches_ngspice_tile_transients():
    """Tiled mode reads every tile alone: one tile's partial sums at the read time against ngspice's tile transient."""
    from pyims.runners.transient import ngspice_tile_transient
    from pyims.spec import Stimulus, TransientSpec

    net = _net("ideal", plan=PartitionPlan(horizontal=(2, 1), vertical=(1, 1)), topology="tiled")
    rt = NativeReadTime(net, SPEC)
    layer = net.layers[0]
    a = np.random.default_rng(5).uniform(size=(1, 12))
    z_native = rt.run(a).pre_norm[0]
    v_rows = net.augment(a)[0] * net.v_read_v
    z = np.zeros(layer.n_out)
    scale = layer.w_max / (layer.dg_s * net.v_read_v)
    for p in range(layer.n_h):
        rows = layer.rows_of(p)
        v0 = np.where(np.arange(layer.n_rows)[rows] == layer.n_rows - 1, v_rows[rows], 0.0)  # the bias row is on from t = 0
        stim = Stimulus(t_s=np.array([0.0, SPEC.t_delay_s, SPEC.t_delay_s + SPEC.t_rise_s]),
                        v_v=np.vstack([v0, v0, v_rows[rows]]))
        res = ngspice_tile_transient(layer.tile(p, 0, WIRES), stim, TransientSpec(t_stop_s=1.3e-10, t_step_s=SPEC.step_s))
        i_col = res.i_col_a[-1]
        z += (i_col[0::2] - i_col[1::2]) * scale
    assert _rel(z_native[0], z) <= READ_TIME_TOLERANCE_REL


def test_infer_with_a_read_time():
    mlp = _mlp(neuron="relu")
    x = np.random.default_rng(6).uniform(size=(4, 12))
    wires = WIRES
    dc = pyims.infer(mlp, x, mode="analog", wires=wires)
    late = pyims.infer(mlp, x, mode="analog", wires=wires, t_read_s=1e-8, t_rise_s=1e-11, t_step_s=1e-11)
    assert _rel(late, dc) <= 1e-6
    early = pyims.infer(mlp, x, mode="analog", wires=wires, t_read_s=1.5e-11, t_rise_s=1e-11, t_step_s=1e-13)
    assert _rel(early, dc) > 1e-2
    tiled = pyims.infer(mlp, x, mode="analog", wires=wires, circuit="tiled", t_read_s=1e-8, t_rise_s=1e-11, t_step_s=1e-11)
    np.testing.assert_allclose(tiled, pyims.infer(mlp, x, mode="analog", wires=wires, circuit="tiled"), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    ({"t_read_s": 1e-10}, r"a read time needs wire capacitance: wires.c_row_f and wires.c_col_f are both 0"),
    ({"t_read_s": -1e-10, "wires": WIRES}, r"simulation.t_read_s=-1e-10 must be > 0"),
    ({"t_read_s": 1e-10, "t_step_s": 3e-11, "wires": WIRES}, r"is not on the grid of step 3e-11 s"),
    ({"t_read_s": 1e-10, "mode": "mapped"}, r't_read_s=1e-10 reads the circuit at a time; it needs mode="analog"'),
    ({"t_read_s": 1e-10, "t_step_s": 1e-17, "wires": WIRES}, r"steps up to the read time is too many"),
])
def test_read_time_errors(kwargs, match):
    kw = {"mode": "analog", **kwargs}
    with pytest.raises(SpecError, match=match):
        pyims.infer(_mlp(), np.zeros((2, 12)), **kw)


def test_negative_capacitance_is_refused():
    with pytest.raises(SpecError, match="c_col_f"):
        WireParasitics(c_col_f=-1e-15)


@pytest.mark.parametrize("sim, match", [
    ({"t_read_s": 1e-10, "read_times_s": [2e-10]}, r"2e-10 s is beyond the simulated window \(0, t_read_s=1e-10\]"),
    ({"read_times_s": [1e-10]}, r"read_times_s needs simulation.t_read_s"),
    ({"t_read_s": 0.0}, r"t_read_s=0.0 must be > 0"),
])
def test_read_time_config_errors(sim, match):
    from pyims.experiment import parse_config

    with pytest.raises(ConfigError, match=match):
        parse_config({"simulation": sim})


@pytest.mark.ngspice
def test_experiment_with_a_read_time_reports_and_verifies(tmp_path):
    from pyims.experiment import parse_config, run_experiment

    cfg = parse_config({
        "dataset": {"name": "digits", "max_test": 40}, "train": {"hidden": [8], "epochs": 5},
        "wires": {"r_row_ohm": 5.0, "r_col_ohm": 5.0, "r_driver_ohm": 50.0, "c_row_f": 3e-15, "c_col_f": 3e-15},
        "partitions": {"horizontal": [2, 1], "vertical": [1, 1]},
        "simulation": {"t_read_s": 3e-11, "t_rise_s": 5e-12, "t_step_s": 5e-13, "read_times_s": [1e-11, 2e-11],
                       "verify_images": 1},
    }, base_dir=tmp_path)
    result = run_experiment(cfg, tmp_path / "out")
    rt = result.summary.read_time
    assert [p.t_read_s for p in rt.accuracy_at] == [1e-11, 2e-11, 3e-11]
    assert rt.accuracy == result.summary.accuracy.analog.accuracy == rt.accuracy_at[-1].accuracy
    assert rt.energy_per_inference_j > 0 and set(rt.settling_s) == {"p50", "p90", "p99", "max"}
    v = result.summary.spice_verification
    assert v.passed and v.tolerance_rel == READ_TIME_TOLERANCE_REL and "read at 3e-11" in v.mode
    assert (tmp_path / "out" / "summary.json").read_text().count('"read_time"') == 1


def test_a_sweep_over_read_time_and_capacitance(tmp_path):
    """Sweeps take simulation.t_read_s and capacitance axes (per segment, or per length from geometry)."""
    from pyims.sweeps import ResultStore, parse_sweep
    from pyims.sweeps.run import run_sweep

    geometry = {"width_m": 2.7e-8, "thickness_m": 2.2e-8, "pitch_m": 1.08e-7, "resistivity_ohm_m": 5e-8}
    spec = parse_sweep({
        "name": "read-time",
        "experiment": {"dataset": {"name": "digits", "max_test": 30}, "train": {"hidden": [8], "epochs": 3},
                       "wires": {"row_geometry": geometry, "col_geometry": geometry, "r_driver_ohm": 50.0},
                       "simulation": {"verify_images": 0, "t_rise_s": 1e-12, "t_step_s": 1e-13, "t_read_s": 5e-12}},
        "axes": {"simulation.t_read_s": [2e-12, 2e-11],
                 "wires.row_geometry+wires.col_geometry": [{**geometry, "c_per_length_f_per_m": c} for c in (2e-10, 2e-8)]},
    }, base_dir=tmp_path)
    store = ResultStore(tmp_path / "store")
    summary = run_sweep(spec, store, serial=True)
    assert summary.n_ran == 4
    t = store.table()
    assert {"accuracy_dc", "latency_s", "settling_p50_s"} <= set(t.columns)
    assert t["status"].eq("ok").all()
    # more capacitance settles later (read at 20 ps)
    late = t[t["simulation.t_read_s"] == 2e-11]
    c = late["wires.row_geometry+wires.col_geometry"].astype(str).str.contains('"c_per_length_f_per_m": 2e-08', regex=False)
    small, big = float(late[~c]["settling_p50_s"].iloc[0]), float(late[c]["settling_p50_s"].iloc[0])
    assert np.isfinite(small) and small < big


def test_cnn_tiles_read_at_a_time(tmp_path):
    """Conv networks in tiled mode: a late read equals DC, an early one is short of it."""
    pytest.importorskip("onnx")
    from onnx_graphs import tiny_cnn

    model = pyims.load_model(tiny_cnn(tmp_path / "cnn.onnx", seed=4))
    x = np.random.default_rng(7).uniform(size=(5, 64))
    plan = PartitionPlan(max_rows=8, max_cols=4)
    dc = pyims.infer(model, x, mode="analog", wires=WIRES, plan=plan)
    late = pyims.infer(model, x, mode="analog", wires=WIRES, plan=plan, t_read_s=1e-8, t_rise_s=1e-11, t_step_s=1e-11)
    assert _rel(late, dc) <= 1e-6
    early = pyims.infer(model, x, mode="analog", wires=WIRES, plan=plan, t_read_s=1e-11, t_rise_s=1e-11, t_step_s=1e-13)
    assert _rel(early, dc) > 1e-3


def test_native_read_time_against_the_golden_ngspice_waveforms():
    """tests/golden/network_read_time (ngspice network transients of a difference-amplifier ReLU network):
    the native read time over the whole window and at the read time, without running ngspice."""
    from pyims.golden import load_golden, read_time_case_network

    data, _ = load_golden("network_read_time")
    net, analysis, u = read_time_case_network()
    res = NativeReadTime(net, analysis).run(u)
    np.testing.assert_allclose(res.t_s, data["t_s"], rtol=0, atol=1e-18)
    for i in range(2):
        want = data[f"output_image{i}_norm"]
        assert np.max(np.abs(res.output_t[i] - want)) <= READ_TIME_TOLERANCE_REL * np.max(np.abs(want))
    read = data["read_logits_norm"][0].reshape(res.logits.shape)
    assert _rel(res.logits, read) <= READ_TIME_TOLERANCE_REL


# ------------------------------------------------------------------ progress of the kernel build
def test_step_kernels_report_progress_at_every_step():
    """The recursion reports after the factorizations, the DC solve and each of its K+1 steps, its units summing to
    ``kernel_work``; the kernels are the same with or without the callback."""
    from pyims.runners.lti import KERNEL_WORK_UNIT, kernel_work, layer_blocks, step_kernels

    net = _net("ideal")
    h, k_max = 2e-13, 40
    for l, layer in enumerate(net.layers):
        blocks = layer_blocks(net, l)
        calls: list[int] = []
        n_z = net.topology.partial_outputs(layer) * layer.n_out
        kern = step_kernels(blocks, layer.n_rows, n_z, h, k_max, energy=False, progress=calls.append)
        assert len(calls) == k_max + 3 and sum(calls) == kernel_work(blocks, k_max, energy=False)
        unknowns = sum(b.l.shape[0] for b in blocks)
        width = min(max(b.e.shape[1] for b in blocks), max(b.q.shape[0] for b in blocks))
        assert calls[-1] == max(1, -(-unknowns * width // KERNEL_WORK_UNIT))  # one step: its size in work units
        quiet = step_kernels(blocks, layer.n_rows, n_z, h, k_max, energy=False)
        np.testing.assert_array_equal(kern.z_step, quiet.z_step)


@pytest.mark.parametrize("topology", ["analog", "tiled"])
def test_the_kernel_build_moves_its_bar_at_every_step(monkeypatch, topology):
    """NativeReadTime's bar: one total for all layers (weighted by their solves' size), moved many more times than
    there are layers, to its total; the layer being built shown beside it."""
    import pyims.inference.read_time as read_time_module
    from pyims.progress import BAR_DELAY_S

    bars = []

    class Recorder:
        def __init__(self, total, desc, enabled=None, *, delay_s=0.0, unit=""):
            self.total, self.desc, self.delay_s, self.updates, self.postfix, self.closed = total, desc, delay_s, [], [], False
            bars.append(self)

        def update(self, n=1):
            self.updates.append(n)

        def set_postfix_str(self, text):
            self.postfix.append(text)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.closed = True

    monkeypatch.setattr(read_time_module, "progress_bar", Recorder)
    net = _net("ideal", topology=topology)
    analysis = ReadAt(t_read_s=2e-11, t_rise_s=1e-11, t_step_s=2e-13)
    NativeReadTime(net, analysis)
    (bar,) = bars
    n_layers = len(net.layers)
    assert n_layers == 2 and len(bar.updates) == n_layers * (analysis.n_steps + 3) > 10 * n_layers
    assert sum(bar.updates) == bar.total and bar.closed and bar.delay_s == BAR_DELAY_S
    assert bar.postfix == ["layer 1/2", "layer 2/2"]
    assert bar.desc == f"read time: step kernels ({analysis.n_steps + 1} steps, 2 layers)"
