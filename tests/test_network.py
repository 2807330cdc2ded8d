"""Network inference: native laws, and native vs ngspice in both modes (marker: ngspice)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import rel_diff
from pyims.errors import SimulationError, SpecError
from pyims.inference import NativeNetwork, SpiceNetwork
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.runners.factor import cholmod_available
from pyims.netlist import build_network_netlist, format_netlist
from pyims.spec import DeviceSpec, InputEncoding, PartitionPlan, PeripherySpec, WireParasitics

WIRES = WireParasitics(r_row_ohm=3.0, r_col_ohm=4.0, r_driver_ohm=6.0, r_sense_ohm=5.0)
NO_WIRES = WireParasitics()
LINEAR_TOL = 1e-9  # issue #3: linear parts
NEURON_TOL = 1e-6  # issue #3: network outputs with behavioural neurons


def _mlp(sizes=(10, 7, 4), seed=0, neuron=NeuronSpec()):
    rng = np.random.default_rng(seed)
    ws = tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:]))
    bs = tuple(0.3 * rng.normal(size=b) for b in sizes[1:])
    return MLP(weights=ws, biases=bs, neuron=neuron)


def _inputs(n, d, seed=1):
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, d))


PERIPHERIES = {
    "ideal-sum": PeripherySpec(),
    "opamp-sum": PeripherySpec(sense="opamp", opamp_gain_ratio=300.0),
    "opamp-average": PeripherySpec(sense="opamp", combine="average", opamp_gain_ratio=300.0),
    "ideal-average": PeripherySpec(combine="average", diff_gain_ratio=2.0, rf_ohm=5e3),
}
PLAN = PartitionPlan(horizontal=(3, 2), vertical=(2, 1))


@pytest.mark.parametrize("periphery", PERIPHERIES.values(), ids=PERIPHERIES.keys())
@pytest.mark.parametrize("mode", ["analog", "tiled"])
def test_no_wires_ideal_is_mapped_ideal(periphery, mode):
    """Zero parasitics: the tiled mode (and the analog mode with ideal sensing) is exactly the mapped network."""
    net = map_network(_mlp(), plan=PLAN, periphery=periphery, device=DeviceSpec(levels=9))
    u = _inputs(5, 10)
    out = NativeNetwork(net, NO_WIRES, mode=mode).run(u)
    ref = net.mapped_ideal_forward(u)
    if mode == "tiled" or periphery.sense == "ideal":
        for a, b in zip(out.pre_norm, ref):
            assert rel_diff(a, b) < 1e-12
    else:  # finite gain: off by about 1/A, never exact
        assert 1e-5 < rel_diff(out.logits, ref[-1]) < 0.05


def test_opamp_gain_converges_to_ideal():
    errs = []
    for gain in (1e2, 1e4, 1e6):
        net = map_network(_mlp(), plan=PLAN, periphery=PeripherySpec(sense="opamp", opamp_gain_ratio=gain))
        u = _inputs(4, 10)
        errs.append(rel_diff(NativeNetwork(net, WIRES).run(u).pre_norm[0], NativeNetwork(net, WIRES, mode="tiled").run(u).pre_norm[0]))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-5


def test_partitions_reduce_ir_drop_error():
    """Smaller tiles -> shorter wires -> closer to the mapped network (the reference study's point)."""
    mlp = _mlp((40, 16, 4))
    u = _inputs(20, 40)
    wires = WireParasitics(r_row_ohm=20.0, r_col_ohm=20.0)
    errs = []
    for h in (1, 2, 4, 8):
        net = map_network(mlp, plan=PartitionPlan(horizontal=(h, 1), vertical=(1, 1)))
        errs.append(rel_diff(NativeNetwork(net, wires).run(u).pre_norm[0], net.mapped_ideal_forward(u)[0]))
    assert all(a > b for a, b in zip(errs, errs[1:]))


def test_power_matches_quadratic_form_without_wires():
    """No wires: each row delivers v_i * sum_j (G+ + G-)_ij * v_i."""
    net = map_network(_mlp((6, 3)), plan=PartitionPlan(horizontal=(2,), vertical=(2,)))
    u = _inputs(3, 6)
    out = NativeNetwork(net, NO_WIRES).run(u)
    layer = net.layers[0]
    v = net.augment(u) * net.v_read_v
    expected = (v**2) @ (layer.g_pos_s + layer.g_neg_s).sum(axis=1)
    np.testing.assert_allclose(out.power_w, expected, rtol=1e-12)
    assert NativeNetwork(net, NO_WIRES, energy=False).run(u).power_w is None


def test_native_input_errors():
    net = map_network(_mlp())
    with pytest.raises(SpecError, match=r"the network needs \(n_images >= 1, 10\)"):
        NativeNetwork(net, WIRES).run(np.zeros((2, 9)))
    with pytest.raises(SpecError, match="NaN or inf"):
        NativeNetwork(net, WIRES).run(np.full((1, 10), np.nan))
    with pytest.raises(SpecError, match="topology='mixed' is unknown"):
        NativeNetwork(net, WIRES, mode="mixed")


def test_network_netlist_is_self_contained():
    net = map_network(_mlp(), plan=PLAN, periphery=PERIPHERIES["opamp-average"])
    text = format_netlist(build_network_netlist(net.on(wires=WIRES), _inputs(3, 10), klu=True).netlist)
    for subckt in ("pyims_sense_opamp", "pyims_diff", "pyims_neuron_sigmoid"):
        assert f".subckt {subckt}" in text
    assert ".options klu" in text and ".dc VCTL 0.0 2.0 1.0" in text
    assert "np.float64" not in text


CASES = list(
    itertools.product(
        ["analog", "tiled"],
        ["ideal-sum", "opamp-sum", "opamp-average"],
        [NeuronSpec(kind="sigmoid", gain_norm=1.3), NeuronSpec(kind="hardsigmoid", inverting=True), NeuronSpec(kind="linear", gain_norm=0.4)],
    )
)


@pytest.mark.ngspice
@pytest.mark.parametrize("mode, periphery, neuron", CASES, ids=[f"{m}-{p}-{n.kind}" for m, p, n in CASES])
def test_native_matches_ngspice(mode, periphery, neuron, run_root):
    mlp = _mlp(neuron=neuron)
    net = map_network(mlp, plan=PLAN, periphery=PERIPHERIES[periphery], device=DeviceSpec(levels=16, variation_sigma_ratio=0.05),
                      encoding=InputEncoding(dac_bits=4))
    u = net.encoding.quantized(_inputs(5, 10))
    spi = SpiceNetwork(net, WIRES, mode=mode, run_root=run_root).run(u)
    tol = LINEAR_TOL if neuron.kind == "linear" else NEURON_TOL
    for port_method in ("solves", "schur") if cholmod_available() else ("solves",):
        nat = NativeNetwork(net, WIRES, mode=mode, port_method=port_method).run(u)
        assert rel_diff(spi.pre_norm[0], nat.pre_norm[0]) < LINEAR_TOL  # layer 1 is linear in every case
        for a, b in zip(spi.pre_norm, nat.pre_norm):
            assert rel_diff(a, b) < tol
        assert rel_diff(spi.power_w, nat.power_w) < tol
    assert spi.ngspice_version >= 42 and spi.backend == "ngspice" and spi.mode == mode
    assert not list(run_root.iterdir())  # successful runs clean up


@pytest.mark.ngspice
def test_single_image_and_batches(run_root):
    net = map_network(_mlp(), plan=PartitionPlan(max_rows=4, max_cols=4))
    u = _inputs(5, 10)
    nat = NativeNetwork(net, WIRES).run(u)
    one = SpiceNetwork(net, WIRES, run_root=run_root).run(u[:1])
    assert rel_diff(one.logits, nat.logits[:1]) < NEURON_TOL
    batched = SpiceNetwork(net, WIRES, run_root=run_root, batch_size=2, keep_run_dir=True).run(u)
    assert rel_diff(batched.logits, nat.logits) < NEURON_TOL
    assert len(batched.run_dirs) == 3 and all((run_root / p).exists() for p in batched.run_dirs)
    parallel = SpiceNetwork(net, WIRES, run_root=run_root, workers=2, batch_size=3, mode="tiled").run(u)
    serial = SpiceNetwork(net, WIRES, run_root=run_root, batch_size=3, mode="tiled").run(u)
    for a, b in zip(parallel.pre_norm, serial.pre_norm):
        np.testing.assert_array_equal(a, b)  # same batches -> same numbers, whatever the workers


@pytest.mark.ngspice
def test_failed_network_run_keeps_its_directory(run_root):
    net = map_network(_mlp())
    runner = SpiceNetwork(net, WIRES, run_root=run_root, options=("reltol=-1",))
    with pytest.raises(SimulationError) as info:
        runner.run(_inputs(2, 10))
    assert info.value.rundir is not None and (info.value.rundir / "circuit.cir").exists()
    assert str(info.value.rundir) in str(info.value)


def test_worker_processes_give_identical_results(monkeypatch):
    """Solves split across 2 processes (tiles cut into blocks of right-hand sides) change nothing."""
    import pyims.inference.native as native

    monkeypatch.setattr(native, "SPLIT_UNKNOWNS", 100)  # split even these small tiles
    net = map_network(_mlp((30, 12, 4)), plan=PartitionPlan(horizontal=(2, 1), vertical=(1, 1)),
                      periphery=PERIPHERIES["opamp-sum"])
    u = _inputs(7, 30)
    serial = NativeNetwork(net, WIRES, workers=1, port_method="solves")
    parallel = NativeNetwork(net, WIRES, workers=2, port_method="solves")
    assert parallel.n_tasks > serial.n_tasks
    a, b = serial.run(u), parallel.run(u)
    for x, y in zip(a.pre_norm, b.pre_norm):
        np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12 * np.abs(x).max())  # other block widths, 1-thread BLAS
    np.testing.assert_allclose(b.power_w, a.power_w, rtol=1e-12, atol=0)  # power > 0: read power of every image
    with pytest.raises(SpecError, match="workers=0"):
        NativeNetwork(net, WIRES, workers=0)
