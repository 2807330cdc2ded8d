"""IMAC-Sim preset: circuit conventions on hand-checkable networks, ngspice vs native, weight files."""

from __future__ import annotations

import numpy as np
import pytest

from pyims.errors import ModelFileError, SpecError
from pyims.inference import NativeNetwork, SpiceNetwork
from pyims.model import MLP, NeuronSpec, save_csv_weights
from pyims.netlist import format_netlist
from pyims.netlist.network import build_network_netlist
from pyims.presets.imac import ImacPreset
from pyims.spec import PartitionPlan, PeripherySpec, WireParasitics
from pyims.spec.wires import scaled_resistivity_ohm_m

LINEAR = NeuronSpec(kind="linear")


def _binary_mlp(rng, sizes, neuron=LINEAR) -> MLP:
    return MLP(
        weights=tuple(np.where(rng.uniform(size=(a, b)) < 0.5, -1.0, 1.0) for a, b in zip(sizes[:-1], sizes[1:])),
        biases=tuple(np.where(rng.uniform(size=b) < 0.5, -1.0, 1.0) for b in sizes[1:]),
        neuron=neuron,
    )


def test_wires_from_the_9nm_geometry_are_imac_sims():
    pre = ImacPreset()
    assert scaled_resistivity_ohm_m(1.9e-8, 27e-9) == pytest.approx(5.08e-8, rel=2e-3)
    w = pre.wires
    assert w.r_row_ohm == pytest.approx(9.24, abs=0.01) and w.r_driver_ohm == w.r_row_ohm
    assert w.r_col_ohm == pytest.approx(11.55, abs=0.01) and w.r_sense_ohm == w.r_col_ohm
    assert w.row_node_per_pair
    assert ImacPreset(wire_scale_ratio=2.0).wires.r_col_ohm == pytest.approx(2 * w.r_col_ohm)


def test_2x2_weights_by_hand():
    """One layer, W = [[+1, -1], [-1, +1]], B = [+1, -1], inputs (+0.8, -0.8) V, no wires.

    By hand: an output's I+ line is a divider of its cells against (1 + g) r_in to ground; its
    I- line meets r_in into the op-amp's inverting node at v(I+) g / (1 + g); v_d = g (v+ - v-).
    """
    g, r_in, v = 30.0, 1e3, 0.8
    pre = ImacPreset(gains_ratio=(g,), opamp_gain_ratio=1e9)
    w = np.array([[1.0, -1.0], [-1.0, 1.0]])
    b = np.array([1.0, -1.0])
    mlp = pre.scale_binary(MLP(weights=(w,), biases=(b,), neuron=LINEAR))
    net = pre.map(mlp)
    lo, hi = 1 / 5e3, 1 / 15e3  # conductance of weight +1 / -1 on the I+ line (reversed on I-)
    volts = np.array([v, -v, v])  # inputs then the bias row
    expected = []
    for j in range(2):
        wj = np.append(w[:, j], b[j])
        g_pos = np.where(wj > 0, lo, hi)
        g_neg = np.where(wj > 0, hi, lo)
        v_pos = g_pos @ volts / (g_pos.sum() + 1 / ((1 + g) * r_in))
        v_nn = v_pos * g / (1 + g)
        v_neg = (g_neg @ volts + v_nn / r_in) / (g_neg.sum() + 1 / r_in)
        expected.append(g * (v_pos - v_neg))
    u = np.array([[1.0, -1.0]])
    native = NativeNetwork(net, WireParasitics(row_node_per_pair=True)).run(u)
    # v_z = 1 V per unit: pre-activations are the amplifier outputs in volts
    assert net.layer_v_z(0) == pytest.approx(1.0)
    np.testing.assert_allclose(native.pre_norm[0][0], expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max())


@pytest.mark.ngspice
def test_2x2_weights_by_hand_in_ngspice():
    pre = ImacPreset(gains_ratio=(30.0,))
    mlp = pre.scale_binary(MLP(weights=(np.array([[1.0, -1.0], [-1.0, 1.0]]),), biases=(np.array([1.0, -1.0]),), neuron=LINEAR))
    net = pre.map(mlp)
    u = np.array([[1.0, -1.0], [-1.0, -1.0]])
    a = NativeNetwork(net, pre.wires).run(u)
    b = SpiceNetwork(net, pre.wires).run(u)
    np.testing.assert_allclose(b.pre_norm[0], a.pre_norm[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.power_w, a.power_w, rtol=1e-9)


@pytest.mark.ngspice
@pytest.mark.parametrize("plan", [PartitionPlan(), PartitionPlan(horizontal=(3, 2), vertical=(2, 1))])
@pytest.mark.parametrize("scale", [0.0, 1.0, 50.0])
def test_imac_network_ngspice_matches_native(plan, scale, measured_neuron):
    """Two layers with the transistor-level neuron in ngspice and its measured curve natively."""
    rng = np.random.default_rng(3)
    pre = ImacPreset(gains_ratio=(30.0, 10.0), wire_scale_ratio=scale)
    mlp = pre.scale_binary(_binary_mlp(rng, (9, 6, 3), neuron=pre.neuron_spec(measured_neuron)))
    net = pre.map(mlp, plan)
    u = np.where(rng.uniform(size=(3, 9)) < 0.5, -1.0, 1.0)
    a = NativeNetwork(net, pre.wires).run(u)
    b = SpiceNetwork(net, pre.wires).run(u)
    for l in range(2):
        np.testing.assert_allclose(b.pre_norm[l], a.pre_norm[l], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b.power_w, a.power_w, rtol=1e-6)


def test_netlist_holds_imac_conventions():
    rng = np.random.default_rng(0)
    pre = ImacPreset(gains_ratio=(30.0, 10.0))
    mlp = pre.scale_binary(_binary_mlp(rng, (4, 3, 2)))
    net = pre.map(mlp, PartitionPlan(horizontal=(2, 1), vertical=(1, 1)))
    text = format_netlist(build_network_netlist(net, np.ones((1, 4)), klu=False).netlist)
    lines = text.splitlines()
    cells = [l.split() for l in lines if l.startswith("RL0P") and "X" in l.split()[0]]
    values = sorted({float(c[3]) for c in cells})
    assert values == pytest.approx([5e3, 15e3])  # two MTJ states only
    # layer 1 tile 0: 3 rows (2 inputs + ... split 3/2 of 5 rows), one input-line segment per output pair
    row_segments = [l for l in lines if l.startswith("RL0P0C0R")]
    assert len(row_segments) == 3 * (3 - 1)
    assert all(float(l.split()[3]) == pytest.approx(9.2416, rel=1e-4) for l in row_segments)
    amps = [l for l in lines if l.startswith("XD0_")]
    assert len(amps) == 2 * 3 and all("pyims_diffamp" in l and "gain=30.0" in l and "rin=1000.0" in l for l in amps)
    assert "VB0 b0 0 DC 0.8" in text


def test_load_imac_csv_layout(tmp_path):
    rng = np.random.default_rng(1)
    raw = _binary_mlp(rng, (5, 4, 3))
    save_csv_weights(raw, tmp_path)
    pre = ImacPreset(gains_ratio=(30.0, 10.0))
    mlp = pre.load_network(tmp_path, LINEAR)
    c = pre.hardware_scales((5, 4, 3))
    np.testing.assert_array_equal(mlp.weights[0], c[0] * raw.weights[0])
    np.testing.assert_array_equal(mlp.biases[0], c[0] * raw.biases[0])
    # the output layer is negated: the largest pre-activation is IMAC-Sim's largest inverted neuron output
    np.testing.assert_array_equal(mlp.weights[1], -c[1] * raw.weights[1])
    np.testing.assert_array_equal(mlp.biases[1], -c[1] * raw.biases[1])


def test_load_imac_rejects_non_binary(tmp_path):
    raw = MLP(weights=(np.array([[1.0, -1.0], [0.5, 1.0]]),), biases=(np.array([1.0, -1.0]),), neuron=LINEAR)
    save_csv_weights(raw, tmp_path)
    with pytest.raises(ModelFileError, match=r"W1: value 0.5 .* not \+1 or -1"):
        ImacPreset(gains_ratio=(30.0,)).load_network(tmp_path, LINEAR)


def test_preset_errors():
    with pytest.raises(SpecError, match="combine"):
        PeripherySpec(sense="diffamp", combine="sum")
    with pytest.raises(SpecError, match="one gain per layer"):
        ImacPreset().hardware_scales((4, 3))
    rng = np.random.default_rng(0)
    pre = ImacPreset(gains_ratio=(30.0,))
    unscaled = _binary_mlp(rng, (4, 2))
    with pytest.raises(SpecError, match="scale_binary"):
        pre.map(unscaled)
    net = pre.map(pre.scale_binary(unscaled))
    with pytest.raises(SpecError, match=r'pyims.FullyAnalog\(\) \(simulation.mode = "analog"\)'):
        NativeNetwork(net, pre.wires, mode="tiled")
    with pytest.raises(SpecError, match="even number of columns"):
        from pyims.spec import TileSpec

        TileSpec(g_s=np.ones((2, 3)), wires=WireParasitics(row_node_per_pair=True))


@pytest.mark.ngspice
def test_imac_command_runs_a_published_layout(tmp_path, capsys):
    """An IMAC-Sim data folder: W/B CSVs of +-1, test_data.csv (one image per row), one-hot labels."""
    from pyims.cli import main

    rng = np.random.default_rng(5)
    raw = _binary_mlp(rng, (8, 6, 4, 3))
    save_csv_weights(raw, tmp_path)
    data = rng.uniform(-1, 1, size=(12, 8))
    data[0, :3] = 0.0  # IMAC-Sim's sign(): a zero pixel is driven at 0 V
    np.savetxt(tmp_path / "test_data.csv", data, delimiter=",")
    labels = np.eye(3)[rng.integers(0, 3, size=12)]
    np.savetxt(tmp_path / "test_labels.csv", labels, delimiter=",", fmt="%d")
    assert main(["imac", str(tmp_path), "--data", str(tmp_path / "test_data.csv"), "--labels", str(tmp_path / "test_labels.csv"),
                 "--horizontal", "2", "1", "1", "--vertical", "2", "1", "1"]) == 0
    out = capsys.readouterr().out
    assert "8x6x4x3, partitions 2/1/1 x 2/1/1, 12 images" in out and "digital" in out and "analog" in out
    diff = float(out.split("max relative difference ")[1].split()[0])
    assert diff < 1e-6 and "2/2 same prediction" in out
    # the same numbers from the Python API
    pre = ImacPreset()
    from pyims.characterize import characterize_neuron

    mlp = pre.load_network(tmp_path, pre.neuron_spec(characterize_neuron()))
    u = np.sign(data)
    digital = np.mean(np.argmax(mlp.logits(u), 1) == np.argmax(labels, 1))
    assert f"digital {100 * digital:.2f} %" in out


def test_new_spec_errors_name_the_fix():
    from pyims.experiment.reproduce import ReproductionSettings
    from pyims.model import TrainSpec

    with pytest.raises(SpecError, match="layer_gains_ratio is empty"):
        PeripherySpec(sense="diffamp", combine="average", layer_gains_ratio=())
    with pytest.raises(SpecError, match=r"layer_gains_ratio\[1\]=-1.0 must be > 0"):
        PeripherySpec(layer_gains_ratio=(30.0, -1.0))
    with pytest.raises(SpecError, match="has 2 entries but the network has 3 layers"):
        PeripherySpec(layer_gains_ratio=(30.0, 10.0)).gain(0, 3)
    with pytest.raises(SpecError, match="specularity_ratio=1.5 must be in"):
        scaled_resistivity_ohm_m(1.9e-8, 27e-9, specularity_ratio=1.5)
    with pytest.raises(SpecError, match="r_low_ohm < r_high_ohm"):
        ImacPreset(r_low_ohm=15e3, r_high_ohm=5e3)
    with pytest.raises(SpecError, match="wire_scale_ratio=-1.0 must be >= 0"):
        ImacPreset(wire_scale_ratio=-1.0)
    with pytest.raises(SpecError, match="binary_scales=.* must be positive"):
        TrainSpec(binary_scales=(1.0, 0.0))
    with pytest.raises(SpecError, match="must include 0 .* and 1"):
        ReproductionSettings(wire_scales=(0.5, 2.0))
    with pytest.raises(SpecError, match="must name a library subcircuit"):
        NeuronSpec(kind="measured", curve_in_v=(0.0, 1.0, 2.0, 3.0), curve_out_v=(1.0, 0.5, 0.2, 0.0), subckt="not a name")
    with pytest.raises(SpecError, match="in_scale_v=0.0 must be > 0"):
        NeuronSpec(kind="measured", curve_in_v=(0.0, 1.0, 2.0, 3.0), curve_out_v=(1.0, 0.5, 0.2, 0.0),
                   subckt="pyims_neuron_inverter", in_scale_v=0.0)


@pytest.mark.ngspice
def test_imac_flow_as_a_library_function(tmp_path):
    """``pyims imac`` is ``run_imac_network``: typed accuracies and the shared ngspice verification."""
    from pyims.experiment.imac_run import run_imac_network
    from pyims.errors import DatasetError

    rng = np.random.default_rng(7)
    save_csv_weights(_binary_mlp(rng, (8, 6, 4, 3)), tmp_path)
    data = rng.uniform(-1, 1, size=(10, 8))
    np.savetxt(tmp_path / "test_data.csv", data, delimiter=",")
    y = rng.integers(0, 3, size=10)
    np.savetxt(tmp_path / "test_labels.csv", y, delimiter=",", fmt="%d")
    res = run_imac_network(tmp_path, tmp_path / "test_data.csv", tmp_path / "test_labels.csv",
                           plan=PartitionPlan(horizontal=(2, 1, 1), vertical=(1, 1, 1)), verify_images=2)
    assert res.layer_sizes == (8, 6, 4, 3) and res.partitions == "2/1/1 x 1/1/1" and res.n_images == 10
    assert res.digital.n_images == res.analog.n_images == 10 and 0.0 <= res.analog.accuracy <= 1.0
    v = res.verification
    assert v is not None and v.n_images == 2 and v.image_index == [0, 1] and v.passed and v.max_rel_diff < 1e-6
    np.savetxt(tmp_path / "short_labels.csv", y[:4], delimiter=",", fmt="%d")
    with pytest.raises(DatasetError, match=r"has 10 images but .*short_labels.csv has 4 labels"):
        run_imac_network(tmp_path, tmp_path / "test_data.csv", tmp_path / "short_labels.csv", verify_images=0)


@pytest.mark.ngspice
def test_an_ngspice_timeout_keeps_the_native_results_and_exits_3(tmp_path, capsys):
    """#25: ``pyims imac`` with ngspice past its time limit prints the native accuracies, says why the verification
    failed and exits 3; the library call returns the same accuracies with ``verification_incomplete`` set."""
    from pyims.cli import EXIT_VERIFICATION_FAILED, main
    from pyims.experiment.imac_run import run_imac_network
    from pyims.experiment.summary import VerificationIncomplete

    rng = np.random.default_rng(11)
    save_csv_weights(_binary_mlp(rng, (8, 6, 4, 3)), tmp_path)
    np.savetxt(tmp_path / "test_data.csv", rng.uniform(-1, 1, size=(10, 8)), delimiter=",")
    np.savetxt(tmp_path / "test_labels.csv", rng.integers(0, 3, size=10), delimiter=",", fmt="%d")
    files = (tmp_path, tmp_path / "test_data.csv", tmp_path / "test_labels.csv")
    plan = PartitionPlan(horizontal=(2, 1, 1), vertical=(1, 1, 1))
    reference = run_imac_network(*files, plan=plan, verify_images=0)
    res = run_imac_network(*files, plan=plan, verify_images=2, spice_timeout_s=0.001)
    stopped = res.verification_incomplete
    assert res.verification is None and isinstance(stopped, VerificationIncomplete)
    assert stopped.status == "failed" and stopped.n_images == 2 and stopped.batch_store is None
    assert stopped.reason.startswith("SimulationTimeout: ngspice did not finish within timeout_s=0.001")
    assert (res.digital, res.analog) == (reference.digital, reference.analog)  # what was computed is kept
    capsys.readouterr()
    assert main(["imac", str(tmp_path), "--data", str(files[1]), "--labels", str(files[2]), "--horizontal", "2", "1", "1",
                 "--vertical", "1", "1", "1", "--timeout-s", "0.001"]) == EXIT_VERIFICATION_FAILED
    captured = capsys.readouterr()
    assert f"analog (native, wires x1 the 9 nm geometry's) {100 * reference.analog.accuracy:.2f} %" in captured.out
    err = [line for line in captured.err.splitlines() if line.startswith("pyims:")]
    assert len(err) == 1 and err[0].startswith("pyims: verification FAILED: SimulationTimeout: ngspice did not finish "
                                               "within timeout_s=0.001")
    assert "(run directory kept: " in err[0] and err[0].endswith("; the native results above are whole")
