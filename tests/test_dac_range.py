"""#26 requirement 2 (inputs): the DAC's input range is explicit -- given, fixed from data by ``pyims.calibrate`` or
derived from a declared normalisation; values outside it are counted and warned about (with the fraction), and the
digital reference sees the same clipped inputs the circuit sees."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

import pyims
from pyims.errors import ConfigError, InputRangeWarning, SpecError
from pyims.experiment import parse_config, run_experiment
from pyims.experiment.config import config_key
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.spec import InputEncoding
from pyims.spec.network import InputClipping

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# Fashion-MNIST's normalisation (torchvision's Normalize((0.2860,), (0.3530,))): pixels in [0, 1] -> -0.81..2.02
MEAN, STD = 0.2860, 0.3530
SIZES = (24, 16, 8)


def _mlp(seed: int = 5, first_scale: float = 1.0, first_shift: np.ndarray | None = None) -> MLP:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in zip(SIZES[:-1], SIZES[1:])]
    biases = [0.1 * rng.normal(size=b) for b in SIZES[1:]]
    weights[0] = weights[0] * first_scale
    if first_shift is not None:
        biases[0] = biases[0] + first_shift
    return MLP(weights=tuple(weights), biases=tuple(biases), neuron=NeuronSpec(kind="relu"))


def _pixels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, SIZES[0]))


def _raw_model() -> MLP:
    """The same classifier on raw pixels: the normalisation folded into its first layer by hand."""
    w1 = _mlp().weights[0]
    return _mlp(first_scale=1.0 / STD, first_shift=-(MEAN / STD) * w1.sum(axis=0))


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))


def test_normalised_inputs_with_a_calibrated_range_agree_as_unclipped_ones_do():
    model, pixels = _mlp(), _pixels(300, 1)
    x = (pixels - MEAN) / STD  # -0.81 .. 2.02
    truth = pyims.infer(model, x)  # digital, unclipped
    np.testing.assert_allclose(pyims.infer(_raw_model(), pixels), truth, rtol=1e-12, atol=1e-12 * np.abs(truth).max())
    dac = pyims.Hardware(encoding=InputEncoding(dac_bits=5))
    # the reference: raw pixels, which the DAC's default [0, 1] holds whole (nothing clipped, no warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        unclipped = _agreement(pyims.infer(_raw_model(), pixels, hardware=dac), truth)
    # before: normalised inputs through the default [0, 1] are clipped (now with a warning)
    with pytest.warns(InputRangeWarning, match="clipped"):
        clipped = _agreement(pyims.infer(model, x, hardware=dac), truth)
    x_cal = (_pixels(200, 2) - MEAN) / STD
    calibrated_hw = pyims.calibrate(model, x_cal, dac)
    assert calibrated_hw.encoding.input_range == (x_cal.min(), x_cal.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputRangeWarning)  # test values beyond the calibration set's extremes, if any
        calibrated = _agreement(pyims.infer(model, x, hardware=calibrated_hw), truth)
    assert calibrated >= unclipped
    assert clipped < unclipped - 0.1  # the silent loss the range removes (here 0.77 against 0.97)
    # a declared normalisation spans exactly the pixels' range: the same DAC levels as the raw-pixel circuit
    declared = pyims.Hardware(encoding=InputEncoding(dac_bits=5, x_mean_norm=(MEAN,), x_std_norm=(STD,)))
    assert declared.encoding.input_range == pytest.approx((-MEAN / STD, (1 - MEAN) / STD), rel=1e-15, abs=0.0)
    a = pyims.infer(model, x, hardware=declared)
    b = pyims.infer(_raw_model(), pixels, hardware=dac)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(b).max())


def test_the_warning_gives_the_fraction_outside():
    rng = np.random.default_rng(7)
    x = rng.normal(0.5, 0.6, size=(40, SIZES[0]))
    x[:5] = 0.5  # five images wholly inside
    lo, hi = -0.2, 1.3
    enc = InputEncoding(dac_bits=6, x_min_norm=lo, x_max_norm=hi)
    outside = (x < lo) | (x > hi)
    fraction = outside.sum() / x.size  # counted here, independently of pyims
    with pytest.warns(InputRangeWarning, match=rf"{100 * fraction:.3g} % of the input values \({outside.sum()} of "
                      rf"{x.size}, in {outside.any(axis=1).sum()} of 40 images\).*\[-0.2, 1.3\]") as record:
        y = pyims.infer(_mlp(), x, hardware=pyims.Hardware(encoding=enc))
    (w,) = [r.message for r in record if isinstance(r.message, InputRangeWarning)]
    assert w.clipping.fraction == pytest.approx(fraction, rel=1e-15, abs=0.0)
    assert (w.clipping.n_outside, w.clipping.n_images_outside, w.clipping.n_images) == (outside.sum(), 35, 40)
    # the digital reference sees the inputs the circuit sees: clipped to the range (and not quantised)
    with pytest.warns(InputRangeWarning, match=rf"{100 * fraction:.3g} %"):
        digital = pyims.infer(_mlp(), x, hardware=pyims.Hardware(encoding=enc), mode="digital")
    np.testing.assert_allclose(digital, pyims.infer(_mlp(), np.clip(x, lo, hi)), rtol=1e-15, atol=0.0)
    assert np.abs(y - digital).max() < 0.05 * np.abs(digital).max()  # 6-bit levels, else the same
    # inside the range: nothing is counted, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        pyims.infer(_mlp(), np.clip(x, lo, hi), hardware=pyims.Hardware(encoding=enc))
    assert enc.clipping(np.clip(x, lo, hi)).n_outside == 0
    # an ideal DAC without a range clips nothing: no range, no count
    assert InputEncoding().input_range is None and InputEncoding().clipping(x) is None


def test_the_quantised_levels_span_the_range():
    enc = InputEncoding(dac_bits=2, x_min_norm=-1.0, x_max_norm=2.0)  # 4 levels: -1, 0, 1, 2
    x = np.array([[-3.0, -0.6, 0.4, 0.6, 1.49, 5.0]])
    with pytest.warns(InputRangeWarning):
        u = enc.quantized(x)
    np.testing.assert_allclose(u, [[-1.0, -1.0, 0.0, 1.0, 1.0, 2.0]], rtol=0.0, atol=1e-15)
    # the default [0, 1] of a quantising DAC is what it always was
    np.testing.assert_array_equal(InputEncoding(dac_bits=3).quantized(np.array([[0.3, 0.5]])),
                                  np.round(np.array([[0.3, 0.5]]) * 7) / 7)


def test_fixed_ranges_give_an_image_the_same_outputs_alone_and_in_a_batch():
    model = _mlp()
    x = (_pixels(12, 3) - MEAN) / STD
    hw = pyims.Hardware(wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0),
                        plan=pyims.PartitionPlan(max_rows=8, max_cols=8), topology="tiled",
                        encoding=InputEncoding(dac_bits=5), adc=pyims.Adc(bits=6))
    fixed = pyims.calibrate(model, (_pixels(50, 4) - MEAN) / STD, hw)
    assert fixed.encoding.range_fixed and fixed.adc.calibrated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputRangeWarning)  # values beyond the calibration set's: clipped alike
        batch = pyims.infer(model, x, hardware=fixed)
        for k in (0, 5, 11):
            alone = pyims.infer(model, x[k : k + 1], hardware=fixed)
            np.testing.assert_allclose(alone[0], batch[k], rtol=0.0, atol=1e-12 * np.abs(batch).max())
        analog = pyims.compile(model, fixed)
        parts = np.concatenate([analog(x[:1]), analog(x[1:7]), analog(x[7:])])
    np.testing.assert_allclose(parts, batch, rtol=0.0, atol=1e-12 * np.abs(batch).max())
    assert analog.clipping.n_values == x.size and analog.clipping == fixed.encoding.clipping(x)


def test_compile_fixes_the_dac_range_and_counts_the_clipping():
    model = _mlp()
    x_cal = (_pixels(30, 8) - MEAN) / STD
    analog = pyims.compile(model, pyims.Hardware(encoding=InputEncoding(dac_bits=4)), x_cal=x_cal)
    assert analog.hardware.encoding.input_range == (x_cal.min(), x_cal.max())
    assert analog.clipping is None  # nothing read yet
    x = np.array([[x_cal.max() + 1.0] * SIZES[0], [0.0] * SIZES[0]])
    with pytest.warns(InputRangeWarning, match=r"50 % of the input values"):
        analog(x)
    with pytest.warns(InputRangeWarning, match=r"50 % of the input values"):
        analog(x)
    assert (analog.clipping.n_values, analog.clipping.n_outside, analog.clipping.n_images_outside) == (
        4 * SIZES[0], 2 * SIZES[0], 2)


def test_calibrate_keeps_a_given_range_and_leaves_an_ideal_dac_unbounded():
    model, x_cal = _mlp(), _pixels(20, 9) * 3.0
    given = pyims.Hardware(encoding=InputEncoding(dac_bits=4, x_min_norm=0.0, x_max_norm=1.0))
    assert pyims.calibrate(model, x_cal, given) is given  # nothing left to fix
    ideal = pyims.Hardware()
    assert pyims.calibrate(model, x_cal, ideal) is ideal and ideal.encoding.input_range is None


def test_the_drive_voltages_in_the_netlist_follow_the_range(run_root):
    from pyims.inference.native import NativeNetwork
    from pyims.inference.spice import SpiceNetwork

    pytest.importorskip("scipy")
    enc = InputEncoding(dac_bits=3, v_read_v=0.1, x_min_norm=-0.8, x_max_norm=2.0)
    net = map_network(_mlp(), pyims.Hardware(encoding=enc, wires=pyims.WireParasitics(r_row_ohm=1.0, r_col_ohm=1.0)))
    x = np.linspace(-1.5, 2.6, SIZES[0])[None, :]  # below, across and above the range
    with pytest.warns(InputRangeWarning):
        u = enc.quantized(x)
    step = 2.8 / 7  # 8 levels over [-0.8, 2.0]
    expect_v = 0.1 * (-0.8 + np.round((np.clip(x, -0.8, 2.0) + 0.8) / step) * step)
    res = SpiceNetwork(net, run_root=run_root, keep_run_dir=True).run(u)
    (rundir,) = res.run_dirs
    lines = (Path(rundir) / "circuit.cir").read_text().splitlines()
    drive = {ln.split()[0]: float(ln.split()[-1]) for ln in lines if ln.upper().startswith("VX")}
    v = np.array([drive[f"VX{i}"] for i in range(SIZES[0])])
    np.testing.assert_allclose(v, expect_v[0], rtol=1e-12, atol=1e-15)
    assert v.min() == pytest.approx(-0.08, rel=1e-12) and v.max() == pytest.approx(0.2, rel=1e-12)
    native = NativeNetwork(net).run(u)
    np.testing.assert_allclose(res.logits, native.logits, rtol=1e-6, atol=1e-6 * np.abs(native.logits).max())


def test_config_keys_set_the_range_and_bad_values_name_the_field():
    cfg = parse_config({"encoding": {"dac_bits": 4, "x_mean_norm": [MEAN], "x_std_norm": [STD]}})
    assert cfg.hardware.encoding.input_range == pytest.approx((-MEAN / STD, (1 - MEAN) / STD), rel=1e-15, abs=0.0)
    given = parse_config({"encoding": {"dac_bits": 4, "x_min_norm": -1, "x_max_norm": 2.5}})
    assert given.hardware.encoding.input_range == (-1.0, 2.5)
    assert config_key(given) != config_key(parse_config({"encoding": {"dac_bits": 4}}))
    assert config_key(parse_config({})) == "083d6865ba5e35eb"  # without a range: the key it had before (test_monte_carlo)
    with pytest.raises(ConfigError, match="x_max_norm"):
        parse_config({"encoding": {"x_min_norm": 1.0, "x_max_norm": 0.5}})
    with pytest.raises(ConfigError, match="x_mean_norm"):
        parse_config({"encoding": {"x_mean_norm": 0.3, "x_std_norm": [0.3]}})


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "binary", "x_min_norm": 0.0, "x_max_norm": 1.0}, r"encoding.x_min_norm sets a DAC's input range.*binarises"),
    ({"x_min_norm": 0.0}, r"encoding.x_min_norm is set but encoding.x_max_norm is not"),
    ({"x_std_norm": (0.3,)}, r"encoding.x_std_norm is set but encoding.x_mean_norm is not"),
    ({"x_min_norm": 0.0, "x_max_norm": 1.0, "x_mean_norm": (0.5,), "x_std_norm": (0.2,)}, r"not both"),
    ({"x_min_norm": 1.0, "x_max_norm": 1.0}, r"x_max_norm=1.0 must exceed encoding.x_min_norm=1.0"),
    ({"x_min_norm": float("nan"), "x_max_norm": 1.0}, r"x_min_norm=nan is not finite"),
    ({"x_mean_norm": (0.5, 0.4), "x_std_norm": (0.2,)}, r"2 value\(s\) and encoding.x_std_norm 1"),
    ({"x_mean_norm": (0.5,), "x_std_norm": (0.0,)}, r"x_std_norm\[0\]=0.0 must be > 0"),
    ({"x_mean_norm": (), "x_std_norm": ()}, r"must be one number or one per channel"),
])
def test_range_errors_name_the_field(kwargs, match):
    with pytest.raises(SpecError, match=match):
        InputEncoding(**kwargs)


def test_data_and_normalisation_errors():
    with pytest.raises(SpecError, match=r"calibration inputs are all 0.5.*x_min_norm=\.\.\., x_max_norm=\.\.\."):
        pyims.calibrate(_mlp(), np.full((4, SIZES[0]), 0.5), pyims.Hardware(encoding=InputEncoding(dac_bits=4)))
    for bad in (np.zeros((0, SIZES[0])), np.array([[np.nan, 1.0]])):
        with pytest.raises(SpecError, match=r"calibration inputs are empty or hold NaN or inf"):
            InputEncoding(dac_bits=4).fitted(bad)
    rgb = InputEncoding(x_mean_norm=(0.485, 0.456, 0.406), x_std_norm=(0.229, 0.224, 0.225))
    with pytest.raises(SpecError, match=r"3 channels, but an image has 10 values"):
        rgb.normalized(np.zeros((2, 10)))
    img = np.random.default_rng(0).uniform(size=(2, 3, 4, 4))
    np.testing.assert_allclose(rgb.normalized(img)[:, 1], (img[:, 1] - 0.456) / 0.224, rtol=1e-15, atol=0.0)
    assert rgb.input_range == pytest.approx((-0.485 / 0.229, (1 - 0.406) / 0.225), rel=1e-15, abs=0.0)
    a = InputClipping(x_min_norm=0.0, x_max_norm=1.0, n_values=4, n_outside=1, n_images=1, n_images_outside=1)
    with pytest.raises(SpecError, match=r"ranges \[0.0, 1.0\] and \[0.0, 2.0\] differ"):
        a + InputClipping(x_min_norm=0.0, x_max_norm=2.0, n_values=4, n_outside=0, n_images=1, n_images_outside=0)


def test_run_summary_records_the_inputs_against_the_range(tmp_path):
    data = tomllib.loads((EXAMPLES / "digits_basic.toml").read_text())
    data["train"]["epochs"] = 2
    data["dataset"]["max_train"] = 300
    data["dataset"]["max_test"] = 60
    data["simulation"]["verify_images"] = 0
    data["encoding"] = {"dac_bits": 4, "x_min_norm": 0.0, "x_max_norm": 0.5}
    with pytest.warns(InputRangeWarning):
        result = run_experiment(parse_config(data, base_dir=EXAMPLES), tmp_path / "out")
    inputs = result.summary.inputs
    pixels = result.dataset.test.x_norm
    assert inputs.fraction_outside == pytest.approx(np.mean(pixels > 0.5), rel=1e-15, abs=0.0)
    assert (inputs.range_from, inputs.x_min_norm, inputs.x_max_norm, inputs.dac_bits) == ("given", 0.0, 0.5, 4)
    assert inputs.n_images_outside == int((pixels.reshape(pixels.shape[0], -1) > 0.5).any(axis=1).sum())
    # the digital reference saw the clipped pixels
    clipped = pyims.infer(result.mlp, np.clip(pixels.reshape(pixels.shape[0], -1), 0.0, 0.5))
    np.testing.assert_allclose(result.digital_out, clipped, rtol=1e-12, atol=1e-12 * np.abs(clipped).max())
    back = type(result.summary).from_dict(result.summary.to_dict())
    assert back.inputs == inputs
