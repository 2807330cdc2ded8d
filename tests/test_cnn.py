"""CNNs on crossbars: conv tiles native vs ngspice, pyims.infer's contract, the ADC, configs and runs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

from onnx_graphs import tiny_cnn  # noqa: E402

import pyims  # noqa: E402
from pyims.components.adc import Adc  # noqa: E402
from pyims.errors import AdcCalibrationWarning, ConfigError, SpecError  # noqa: E402
from pyims.inference import NativeNetwork, SpiceNetwork  # noqa: E402
from pyims.inference.infer import map_model  # noqa: E402
from pyims.model import Model, load_model  # noqa: E402

WIRES = pyims.WireParasitics(r_row_ohm=3.0, r_col_ohm=4.0, r_driver_ohm=20.0, r_sense_ohm=10.0)
PLAN = pyims.PartitionPlan(max_rows=8, max_cols=4)  # conv2 (27+1 rows, 4 outputs) -> 4 x 2 tiles


@pytest.fixture(scope="module")
def cnn_paths(tmp_path_factory):
    d = tmp_path_factory.mktemp("cnn")
    return {"relu": tiny_cnn(d / "relu.onnx", seed=1), "linear": tiny_cnn(d / "linear.onnx", seed=2, activation=None),
            "bn": tiny_cnn(d / "bn.onnx", seed=3, bn=True)}


def _images(n: int, seed: int = 0) -> np.ndarray:
    from pyims.data import load_dataset

    return load_dataset("digits").test.x_norm[seed : seed + n].reshape(n, 1, 8, 8)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.ngspice
@pytest.mark.parametrize("kind, tol", [("linear", 1e-9), ("relu", 1e-6)])
def test_conv_tiles_native_vs_ngspice(cnn_paths, run_root, kind, tol):
    """Every layer of a partitioned CNN with wire R, tile by tile: native equals ngspice (patches batched in DC sweeps)."""
    net = map_model(load_model(cnn_paths[kind]), plan=PLAN)
    assert [(layer.n_h, layer.n_v) for layer in net.layers] == [(2, 2), (4, 2), (3, 5)]
    u = _images(3)
    native = NativeNetwork(net, WIRES, mode="tiled").run(u)
    spice = SpiceNetwork(net, WIRES, mode="tiled", run_root=run_root).run(u)
    for got, want in zip(spice.pre_norm, native.pre_norm):
        assert got.shape == want.shape
        assert _rel(got, want) <= tol
    assert _rel(spice.logits, native.logits) <= tol
    assert _rel(spice.power_w, native.power_w) <= tol  # a conv's power sums its reads per image
    # the wires matter: the circuit is not the ideal product
    assert _rel(native.logits, pyims.infer(load_model(cnn_paths[kind]), u)) > 1e-4


def test_infer_ideal_analog_equals_digital(cnn_paths):
    x = _images(20)
    for kind in ("relu", "bn"):
        model = pyims.load_model(cnn_paths[kind])
        digital = pyims.infer(model, x)
        assert digital.shape == (20, 10)
        for mode in ("mapped", "analog"):
            out = pyims.infer(model, x, mode=mode)
            assert _rel(out, digital) <= 1e-6, mode
        # (N, features) is accepted too
        np.testing.assert_array_equal(pyims.infer(model, x.reshape(20, -1)), digital)


def test_infer_dense_stack_runs_fully_analog_and_tiled():
    from pyims.model import MLP, NeuronSpec

    rng = np.random.default_rng(4)
    mlp = MLP(weights=(rng.normal(size=(12, 6)), rng.normal(size=(6, 3))), biases=(0.1 * rng.normal(size=6), np.zeros(3)),
              neuron=NeuronSpec(kind="sigmoid"))
    x = rng.uniform(size=(9, 12))
    digital = pyims.infer(mlp, x)
    want = mlp.logits(x)  # signed logits: round-off near zero is judged on their scale
    np.testing.assert_allclose(digital, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    for circuit in ("analog", "tiled", "auto"):
        assert _rel(pyims.infer(mlp, x, mode="analog", circuit=circuit), digital) <= 1e-6
    wired = pyims.infer(mlp, x, mode="analog", wires=pyims.WireParasitics(r_row_ohm=50.0, r_col_ohm=50.0))
    assert _rel(wired, digital) > 1e-4
    levels = pyims.infer(mlp, x, mode="mapped", devices=pyims.DeviceSpec(levels=4))
    assert _rel(levels, digital) > 1e-3


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "quantum"}, r"mode='quantum' is unknown; use one of digital, mapped, analog"),
    ({"backend": "xyce"}, r"backend='xyce' is unknown"),
    ({"circuit": "both"}, r"circuit='both' is unknown"),
    ({"activations": "spice"}, r"activations='spice' is unknown"),
    ({"mode": "analog", "t_read_s": 1e-9}, r"a read time needs wire capacitance"),
    ({"backend": "ngspice"}, r'backend="ngspice" simulates the circuit; it needs mode="analog"'),
    ({"mode": "analog", "wires": {"r_row_ohm": 1.0}}, r"wires is a dict; pass a pyims.WireParasitics"),
    ({"mode": "analog", "plan": (2, 2)}, r"plan is a tuple; pass a pyims.PartitionPlan"),
    ({"mode": "analog", "adc": 8}, r"adc is a int; pass a pyims.Adc"),
    ({"mode": "analog", "circuit": "analog"}, r'fully-analog topology \(mode="analog"\) builds one circuit from a dense stack'),
    ({"mode": "analog", "plan": pyims.PartitionPlan(horizontal=(1, 1))}, r"has 2 entries but the network has 3 layers"),
])
def test_infer_errors_name_the_argument(cnn_paths, kwargs, match):
    with pytest.raises(SpecError, match=match):
        pyims.infer(load_model(cnn_paths["relu"]), _images(2), **kwargs)


def test_infer_refuses_inputs_of_the_wrong_shape(cnn_paths):
    with pytest.raises(SpecError, match=r"inputs have shape \(2, 63\); model 'relu.onnx' needs \(N, 1, 8, 8\) or \(N, 64\)"):
        pyims.infer(load_model(cnn_paths["relu"]), np.zeros((2, 63)))
    with pytest.raises(SpecError, match="NaN or inf"):
        pyims.infer(load_model(cnn_paths["relu"]), np.full((2, 64), np.nan))
    with pytest.raises(SpecError, match="pass what pyims.load_model returns"):
        pyims.infer("model.onnx", np.zeros((2, 64)))


# ------------------------------------------------------------------ ADC

def test_adc_quantizes_by_hand():
    adc = Adc(bits=2, full_scale_norm=1.0)  # lsb 0.5, codes -2..1
    z = np.array([[-1.3, -0.26, -0.24, 0.0, 0.24, 0.26, 0.74, 0.76, 9.0]])
    np.testing.assert_array_equal(adc.quantize(z, 1.0), [[-1.0, -0.5, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5]])
    # a gain error of +10 % and an offset of +0.5 LSB move the thresholds
    np.testing.assert_array_equal(adc.quantize(np.array([0.0, 0.2, 0.5]), 1.0, 0.1, 0.5), [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(adc.quantize(np.array([-0.45, -0.5]), 1.0, 0.1, 0.5), [0.0, -0.5])


def test_adc_calibration_is_the_largest_partial_sum_per_layer(cnn_paths):
    """Tiled: layer 1's range is max |z_p| over its tiles' partial sums for the calibration images, by hand."""
    net = map_model(load_model(cnn_paths["relu"]), plan=PLAN)
    x = _images(5)
    native = NativeNetwork(net, pyims.WireParasitics(), mode="tiled", adc=Adc(bits=6, calibration_images=4))
    adc = native.calibrate_adc(x)
    layer = net.layers[0]
    rows = net.augment(layer.unroll(x[:4]))
    w = layer.effective_weights()
    want = max(np.max(np.abs(rows[:, layer.rows_of(p)] @ w[layer.rows_of(p)])) for p in range(layer.n_h))
    assert adc.full_scale(0, 3) == pytest.approx(want, rel=1e-12)
    assert len(adc.full_scale_norm) == 3
    out = native.run(x).logits
    assert _rel(out, pyims.infer(load_model(cnn_paths["relu"]), x)) < 0.2  # 6 bits: close, not equal
    with pytest.warns(AdcCalibrationWarning):  # calibrated on these images, and said so
        more = pyims.infer(load_model(cnn_paths["relu"]), x, mode="analog", plan=PLAN, adc=Adc(bits=14))
    assert _rel(more, pyims.infer(load_model(cnn_paths["relu"]), x)) < 1e-3


def test_adc_errors_are_seeded():
    a, b, c = Adc(bits=8, offset_lsb_sigma=0.5, gain_error_sigma_ratio=0.02, seed=1), \
        Adc(bits=8, offset_lsb_sigma=0.5, gain_error_sigma_ratio=0.02, seed=1), \
        Adc(bits=8, offset_lsb_sigma=0.5, gain_error_sigma_ratio=0.02, seed=2)
    np.testing.assert_array_equal(a.errors(1, 3, 4)[0], b.errors(1, 3, 4)[0])
    assert not np.array_equal(a.errors(1, 3, 4)[1], c.errors(1, 3, 4)[1])
    assert not np.array_equal(a.errors(0, 3, 4)[1], a.errors(1, 3, 4)[1])
    assert np.all(Adc(bits=8).errors(0, 2, 2)[0] == 0.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"bits": 0}, r"adc.bits=0 must be an integer in 1..24"),
    ({"bits": True}, r"adc.bits=True"),
    ({"bits": 8, "full_scale_norm": -1.0}, r"adc.full_scale_norm"),
    ({"bits": 8, "full_scale_norm": ()}, r"adc.full_scale_norm is empty"),
    ({"bits": 8, "calibration_percentile": 101.0}, r"calibration_percentile=101.0 must be in \(0, 100\]"),
    ({"bits": 8, "offset_lsb_sigma": -0.1}, r"adc.offset_lsb_sigma"),
    ({"bits": 8, "calibration_images": 0}, r"adc.calibration_images=0"),
])
def test_adc_spec_errors(kwargs, match):
    with pytest.raises(SpecError, match=match):
        Adc(**kwargs)


def test_adc_ranges_must_match_the_layers(cnn_paths):
    with pytest.raises(SpecError, match=r"has 2 entries but the network has 3 crossbar layers"):
        pyims.infer(load_model(cnn_paths["relu"]), _images(2), mode="analog", adc=Adc(bits=8, full_scale_norm=(1.0, 2.0)))
    with pytest.raises(SpecError, match="needs a calibrated ADC"):
        SpiceNetwork(map_model(load_model(cnn_paths["relu"])), WIRES, mode="tiled", adc=Adc(bits=8))


@pytest.mark.ngspice
def test_adc_in_ngspice_equals_the_native_converter_tiled(cnn_paths, run_root):
    """The behavioural converters on every tile output, with offsets and gain errors: the same codes as native."""
    net = map_model(load_model(cnn_paths["relu"]), plan=PLAN)
    x = _images(2)
    native = NativeNetwork(net, WIRES, mode="tiled", adc=Adc(bits=5, offset_lsb_sigma=0.3, gain_error_sigma_ratio=0.02, seed=3))
    adc = native.calibrate_adc(_images(20, seed=5))
    want = native.run(x)
    got = SpiceNetwork(net, WIRES, mode="tiled", adc=adc, run_root=run_root).run(x)
    lsb = adc.full_scale(2, 3) / 2**4
    assert np.max(np.abs(got.logits - want.logits)) <= 1e-9 * lsb
    for l in range(3):  # every layer's outputs are sums of whole codes of its converters
        codes = want.pre_norm[l] / (adc.full_scale(l, 3) / 2**4)
        np.testing.assert_allclose(codes, np.round(codes), rtol=0, atol=1e-6)


@pytest.mark.ngspice
def test_adc_in_ngspice_fully_analog_dense_stack(run_root):
    from pyims.mapping import map_network
    from pyims.model import MLP, NeuronSpec

    rng = np.random.default_rng(6)
    mlp = MLP(weights=(rng.normal(size=(10, 5)), rng.normal(size=(5, 4))), biases=(np.zeros(5), 0.1 * rng.normal(size=4)),
              neuron=NeuronSpec(kind="relu"))
    net = map_network(mlp, plan=pyims.PartitionPlan(horizontal=(2, 1), vertical=(1, 2)))
    u = rng.uniform(size=(6, 10))
    native = NativeNetwork(net, WIRES, mode="analog", adc=Adc(bits=4, offset_lsb_sigma=0.2, seed=1))
    adc = native.calibrate_adc(rng.uniform(size=(30, 10)))
    want = native.run(u)
    got = SpiceNetwork(net, WIRES, mode="analog", adc=adc, run_root=run_root).run(u)
    lsb = adc.full_scale(1, 2) / 8
    np.testing.assert_allclose(got.logits, want.logits, rtol=0, atol=1e-9 * lsb)
    assert len(np.unique(np.round(want.logits / lsb, 6))) <= 16  # a 4-bit converter's codes
    np.testing.assert_allclose(got.pre_norm[0], want.pre_norm[0], rtol=1e-6,
                               atol=1e-6 * np.abs(want.pre_norm[0]).max())  # the hidden layer stays analog


@pytest.mark.ngspice
def test_relu_circuit_activations(cnn_paths):
    """activations="circuit": the characterised precision rectifier between the tiles: close to the ideal ReLU, not equal."""
    x = _images(10)
    model = load_model(cnn_paths["relu"])
    ideal = pyims.infer(model, x, mode="analog")
    circuit = pyims.infer(model, x, mode="analog", activations="circuit")
    assert 1e-7 < _rel(circuit, ideal) < 1e-2


# ------------------------------------------------------------------ configs and runs

def test_cnn_experiment_runs_tiled_with_an_adc_and_verifies(cnn_paths, tmp_path):
    from pyims.experiment import parse_config, run_experiment

    cfg = parse_config({
        "name": "tiny-cnn",
        "dataset": {"name": "digits", "max_test": 60},
        "model": {"file": str(cnn_paths["relu"])},
        "wires": {"r_row_ohm": 2.0, "r_col_ohm": 2.0},
        "partitions": {"max_rows": 16, "max_cols": 8},
        "adc": {"bits": 7, "offset_lsb_sigma": 0.2},
        "simulation": {"mode": "tiled", "verify_images": 2 if _have_ngspice() else 0},
    }, base_dir=tmp_path)
    result = run_experiment(cfg, tmp_path / "out")
    s = result.summary
    assert s.network.arrays == ["conv 10x3", "conv 28x4", "dense 17x10"]
    assert s.network.partitions == "1/2/2 x 1/1/3"
    assert result.analog.logits.shape == (60, 10)
    want = load_model(cnn_paths["relu"]).forward(result.dataset.test.x_norm)
    np.testing.assert_allclose(result.digital_out, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    if s.spice_verification is not None:
        assert s.spice_verification.passed
    assert (tmp_path / "out" / "summary.json").is_file()
    assert s.config["adc"]["bits"] == 7


def _have_ngspice() -> bool:
    import shutil

    return shutil.which("ngspice") is not None


@pytest.mark.parametrize("data, match", [
    ({"model": {"file": "x.onnx", "weights": "w.npz"}}, r"model.file='x.onnx' names the model alone"),
    ({"model": {"file": ""}}, r"model.file is empty"),
    ({"adc": {"bits": 40}}, r"adc.bits=40"),
    ({"adc": {"full_scale_norm": 1.0}}, r"\[adc\]"),
])
def test_model_file_and_adc_config_errors(data, match):
    from pyims.experiment import parse_config

    with pytest.raises(ConfigError, match=match):
        parse_config(data)


def test_cnn_config_preflight_refuses_fully_analog_and_missing_files(cnn_paths, tmp_path):
    from pyims.experiment import parse_config
    from pyims.experiment.preflight import preflight

    base = {"dataset": {"name": "digits"}, "model": {"file": str(cnn_paths["relu"])}, "simulation": {"verify_images": 0}}
    with pytest.raises(ConfigError, match=r"simulation.mode='analog': the fully-analog topology .* builds one circuit .* \(simulation.mode = \"tiled\"\)"):
        preflight(parse_config({**base, "simulation": {"mode": "analog", "verify_images": 0}}, base_dir=tmp_path))
    with pytest.raises(pyims.ModelFileError, match=r"model.file='nowhere.onnx'.*does not exist"):
        preflight(parse_config({**base, "model": {"file": "nowhere.onnx"}}, base_dir=tmp_path))
    with pytest.raises(pyims.ModelFileError, match=r"takes inputs \(1, 8, 8\) \(64 values\) but the dataset's images have 400"):
        preflight(parse_config({**base, "dataset": {"name": "digits", "resize": [20, 20]},
                                "simulation": {"mode": "tiled", "verify_images": 0}}, base_dir=tmp_path))
    report = preflight(parse_config({**base, "simulation": {"mode": "tiled", "verify_images": 0}}, base_dir=tmp_path))
    assert report.layer_sizes == (9, 3, 4, 10)


def test_config_keys_of_earlier_configs_do_not_change():
    """model.file and [adc] were added later: a config without them keeps its store key."""
    from pyims.experiment import parse_config
    from pyims.experiment.config import config_key

    cfg = parse_config({"wires": {"r_row_ohm": 1.0}})
    assert "adc" not in cfg.as_dict()
    assert config_key(cfg) != config_key(parse_config({"wires": {"r_row_ohm": 1.0}, "adc": {"bits": 8}}))
    assert config_key(cfg) == config_key(parse_config({"wires": {"r_row_ohm": 1.0}, "model": {}}))


def test_model_summary_and_steps(cnn_paths):
    model = load_model(cnn_paths["bn"])
    assert isinstance(model, Model)
    text = model.summary()
    assert "Conv2d 1->3 3x3" in text and "MaxPool2d" in text and "BatchNorm" not in text
    assert model.dense_stack() is None


@pytest.mark.ngspice
def test_adc_in_resumable_verification_batches(cnn_paths, tmp_path):
    """The cluster verification path carries the calibrated ADC into its batches, stores outputs, and resumes."""
    from pyims.inference.spice_batches import SpiceCluster, run_spice_batches

    net = map_model(load_model(cnn_paths["relu"]), plan=PLAN)
    x = _images(2)
    native = NativeNetwork(net, WIRES, mode="tiled", adc=Adc(bits=5, offset_lsb_sigma=0.3))
    adc = native.calibrate_adc(_images(20, seed=5))
    want = native.run(x).logits
    cluster = SpiceCluster(store_dir=tmp_path / "batches", batch_size=2)
    lsb = adc.full_scale(2, 3) / 2**4
    for resumed in (False, True):
        res, infos = run_spice_batches(net.on(wires=WIRES, topology="tiled", adc=adc), x, np.arange(2), cluster=cluster, run_key="k")
        assert [i["resumed"] for i in infos] == [resumed]
        np.testing.assert_allclose(res.logits, want, rtol=0, atol=1e-9 * lsb)


@pytest.mark.ngspice
def test_circuit_activations_in_a_config_and_without_relus(cnn_paths, tmp_path):
    from pyims.experiment import parse_config, run_experiment

    cfg = parse_config({"dataset": {"name": "digits", "max_test": 30}, "model": {"file": str(cnn_paths["relu"])},
                        "simulation": {"mode": "tiled", "verify_images": 0, "activations": "circuit"}}, base_dir=tmp_path)
    result = run_experiment(cfg)
    kinds = {getattr(layer, "neuron", None) and layer.neuron.kind for layer in result.mlp.layers}
    assert "measured" in kinds and "relu" not in kinds
    ideal = load_model(cnn_paths["relu"]).forward(result.dataset.test.x_norm)
    np.testing.assert_allclose(result.digital_out, ideal, rtol=1e-12, atol=1e-12 * np.abs(ideal).max())  # the reference keeps the ideal ReLU
    assert 1e-7 < _rel(result.analog.logits, ideal) < 1e-2
    with pytest.raises(SpecError, match="replaces ReLU activations .* this model has none"):
        pyims.infer(load_model(cnn_paths["linear"]), _images(2), activations="circuit")
    with pytest.raises(ConfigError, match="simulation.activations='spice' is unknown"):
        parse_config({"simulation": {"activations": "spice"}})


@pytest.mark.ngspice
def test_the_lenet_example_config_runs_with_ngspice_verification(tmp_path):
    """examples/cnn/lenet_fashion.toml as written, on 100 test images and one ngspice image."""
    import tomllib
    from pathlib import Path

    from pyims.experiment import parse_config, run_experiment

    folder = Path(__file__).resolve().parents[1] / "examples" / "cnn"
    data = tomllib.loads((folder / "lenet_fashion.toml").read_text())
    data["dataset"]["max_test"] = 100
    data["simulation"]["verify_images"] = 1
    result = run_experiment(parse_config(data, base_dir=folder), tmp_path)
    s = result.summary
    assert s.spice_verification.passed and s.spice_verification.max_rel_diff_per_layer[-1] < 1e-9
    assert s.network.arrays == ["conv 26x6", "conv 151x16", "dense 401x120", "dense 121x84", "dense 85x10"]
    assert s.accuracy.digital.accuracy > 0.8 and abs(s.accuracy.analog.accuracy - s.accuracy.digital.accuracy) < 0.05
