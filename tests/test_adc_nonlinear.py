"""ADC non-linearity (threshold tables from a drawn INL or a measured CSV) and the near-memory digital correction
(per-output scale and offset, float or fixed point, ReLU fused): by hand, statistically, every error path, and
in ngspice (the converter chain and the correction subcircuits, and whole networks) against the native model."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

import pyims
from pyims.components import adc as adc_module
from pyims.components.adc import INL_BLOCK, Adc, read_inl_file
from pyims.errors import ConfigError, SpecError
from pyims.inference import NativeNetwork
from pyims.inference.simulate import calibrated
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec

WIRES = pyims.WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=10.0)
PLAN = pyims.PartitionPlan(horizontal=(2, 1), vertical=(2, 1))


def _mlp(neuron: NeuronSpec | str = "relu", seed: int = 12) -> MLP:
    rng = np.random.default_rng(seed)
    sizes = (12, 6, 3)
    spec = neuron if isinstance(neuron, NeuronSpec) else NeuronSpec(kind=neuron)
    return MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
               biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=spec)


def _x(n: int = 40, seed: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 12))


def _csv(path, rows, header="code,threshold_lsb"):
    path.write_text("\n".join([header] + [f"{c},{t!r}" for c, t in rows]) + "\n")
    return path


# ---------------------------------------------------------------- defaults: nothing changes
def test_without_inl_or_correction_the_converter_is_todays():
    """Default fields: no table, no correction, the ideal staircase of the module docstring by hand, the ideal
    subcircuit alone in netlists, and ``digital_out`` is the drift compensation alone."""
    adc = Adc(bits=5, full_scale_norm=2.0, offset_lsb_sigma=0.7, gain_error_sigma_ratio=0.03, seed=4)
    assert not adc.inl and adc.correction == "none" and adc.calibrated and adc.thresholds(0, 2, 3) is None
    z = np.random.default_rng(0).uniform(-2.5, 2.5, size=(50, 3))
    gain, off = adc.errors(1, 2, 3)
    lsb = 2.0 / 16
    for part in range(2):
        want = np.clip(np.floor(z * (1.0 + gain[part]) / lsb + off[part] + 0.5), -16, 15) * lsb
        np.testing.assert_array_equal(adc.convert(z, layer=1, n_layers=2, part=part, n_parts=2), want)
    assert [lib.name for lib in adc.libraries(correction=True)] == ["adc.sub"]
    assert len(adc.instances("XQ", "a", "b", full_scale_v=1.0)) == 1
    net = map_network(_mlp(), pyims.Hardware(plan=PLAN, topology="tiled", adc=adc))
    zz = np.random.default_rng(1).normal(size=(4, 6))
    np.testing.assert_array_equal(net.digital_out(0, zz), zz)
    assert adc.describe() == "5-bit ADC (fixed ranges, fs 2, offset sigma 0.7 LSB, gain sigma 0.03)"


# ---------------------------------------------------------------- threshold tables
def test_a_measured_table_converts_by_hand(tmp_path):
    """A 2-bit converter (codes -2..1) whose code 0 is missing: codes -1, 0 and 1 start at -1.25, 0.25 and 0.25 LSB.
    A code starts exactly at its threshold; gain and offset act on the input before the table."""
    path = _csv(tmp_path / "curve.csv", [(-1, -1.25), (0, 0.25), (1, 0.25)])
    adc = Adc(bits=2, full_scale_norm=1.0, inl_file=str(path))  # lsb 0.5
    table = adc.thresholds(0, 1, 2)
    assert table.shape == (1, 2, 3) and not table.flags.writeable
    np.testing.assert_array_equal(table[0, 1], [-1.25, 0.25, 0.25])
    u = np.array([-5.0, -1.2500001, -1.25, 0.0, 0.2, 0.25, 7.0])  # on the code axis (lsb 0.5: z = u / 2)
    got = adc.quantize(np.stack([u / 2, u / 2], axis=-1), 1.0, thresholds=table[0])
    want = np.array([-2, -2, -1, -1, -1, 1, 1]) * 0.5
    np.testing.assert_array_equal(got, np.stack([want, want], axis=-1))
    # gain +50 % and offset -0.5 LSB: u = z * 1.5 / 0.5 - 0.5 = 3 z - 0.5 (exact binary numbers at the thresholds)
    z = np.array([-0.2500001, -0.25, -0.2, 0.25, 0.2])  # u = -1.25-, -1.25, -1.1, 0.25, 0.1
    got = adc.quantize(z[:, None], 1.0, 0.5, -0.5, thresholds=table[0, :1])
    np.testing.assert_array_equal(got[:, 0], np.array([-2, -1, -1, 1, -1]) * 0.5)
    table_read, digest = read_inl_file(path, 2)
    np.testing.assert_array_equal(table_read, [-1.25, 0.25, 0.25])
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert adc.describe() == f"2-bit ADC (fixed ranges, fs 1, INL from curve.csv (sha256 {digest[:12]}))"


def test_an_ideal_table_is_the_staircase():
    bits = 6
    half = 2 ** (bits - 1)
    ideal = np.arange(-half + 1, half) - 0.5
    adc = Adc(bits=bits, full_scale_norm=1.0)
    z = np.random.default_rng(3).uniform(-1.3, 1.3, size=(400, 2))
    np.testing.assert_array_equal(adc.quantize(z, 1.0, 0.02, 0.3, thresholds=np.stack([ideal, ideal])),
                                  adc.quantize(z, 1.0, 0.02, 0.3))


def test_drawn_inl_has_the_stated_sigma_and_keeps_the_ends_and_the_order():
    """Expected mean square INL over the codes = inl_sigma_lsb**2 (4000 converters: within 5 %, the standard error
    is ~1 %); the first and last thresholds sit at the ideal ends; thresholds never decrease, also where large
    DNL clips widths at 0 (missing codes)."""
    bits, sigma = 6, 0.3
    half = 2 ** (bits - 1)
    ideal = np.arange(-half + 1, half) - 0.5
    t = Adc(bits=bits, inl_sigma_lsb=sigma, seed=3).thresholds(0, 4, 1000)
    inl = t - ideal
    assert abs(np.mean(inl**2) / sigma**2 - 1.0) < 0.05
    np.testing.assert_allclose(inl[..., [0, -1]], 0.0, rtol=0, atol=1e-12 * half)
    assert np.all(np.diff(t, axis=-1) >= 0.0)
    big = Adc(bits=bits, inl_sigma_lsb=4.0, seed=3).thresholds(0, 2, 50)
    widths = np.diff(big, axis=-1)
    assert np.all(widths >= 0.0) and np.sum(widths == 0.0) > 10  # missing codes, never a reversed threshold
    np.testing.assert_allclose(big[..., -1], ideal[-1], rtol=0, atol=1e-12 * half)


def test_inl_draws_are_seeded_per_converter_and_leave_offset_and_gain_draws_alone():
    a = Adc(bits=5, inl_sigma_lsb=1.0, offset_lsb_sigma=0.5, gain_error_sigma_ratio=0.02, seed=1)
    same = Adc(bits=5, inl_sigma_lsb=1.0, offset_lsb_sigma=0.5, gain_error_sigma_ratio=0.02, seed=1)
    np.testing.assert_array_equal(a.thresholds(1, 3, 4), same.thresholds(1, 3, 4))
    assert not np.array_equal(a.thresholds(1, 3, 4), replace(a, seed=2).thresholds(1, 3, 4))
    assert not np.array_equal(a.thresholds(0, 3, 4), a.thresholds(1, 3, 4))
    t = a.thresholds(1, 3, 4)
    assert not np.array_equal(t[0, 0], t[1, 0]) and not np.array_equal(t[0, 0], t[0, 1])  # per partition and output
    plain = replace(a, inl_sigma_lsb=0.0)
    for x, y in zip(a.errors(1, 3, 4), plain.errors(1, 3, 4)):
        np.testing.assert_array_equal(x, y)


def test_code_margin_with_a_table_is_the_distance_to_the_nearest_threshold(tmp_path):
    path = _csv(tmp_path / "c.csv", [(-1, -1.2), (0, 0.1), (1, 0.9)])
    adc = Adc(bits=2, full_scale_norm=1.0, inl_file=str(path))  # lsb 0.5: z = u / 2
    z = np.array([[-5.0], [-0.5], [0.25], [0.3], [3.0]])  # u = -10, -1, 0.5, 0.6, 6
    want = np.array([[8.8], [0.2], [0.4], [0.3], [5.1]]) / 2
    np.testing.assert_allclose(adc.code_margin(z, layer=0, n_layers=1), want, rtol=1e-12, atol=1e-12)


def test_a_network_with_inl_reads_other_codes_than_without():
    x = _x(20)
    hw = pyims.Hardware(wires=WIRES, plan=PLAN, topology="tiled", adc=Adc(bits=6, full_scale_norm=6.0))
    plain = pyims.infer(_mlp(), x, hardware=hw)
    inl = pyims.infer(_mlp(), x, hardware=hw.replaced(adc=replace(hw.adc, inl_sigma_lsb=1.0)))
    assert np.max(np.abs(inl - plain)) > 0.05 * 6.0 / 32


# ---------------------------------------------------------------- the CSV is untrusted input
@pytest.mark.parametrize("text, match", [
    ("", r"inl_file='.*bad.csv' is empty; it needs the header"),
    ("code,thr\n-1,0\n", r"bad.csv:1: the first line must be the header 'code,threshold_lsb'"),
    ("code,threshold_lsb\n-1,0,3\n", r"bad.csv:2: '-1,0,3' has 3 fields"),
    ("code,threshold_lsb\nx,0\n", r"bad.csv:2: code 'x' is not an integer"),
    ("code,threshold_lsb\n0,0\n", r"bad.csv:2: code 0 where code -1 comes"),
    ("# measured\ncode,threshold_lsb\n\n-1,-1\n0,zero\n", r"bad.csv:5: threshold 'zero' is not a number"),
    ("code,threshold_lsb\n-1,nan\n", r"bad.csv:2: threshold 'nan' is not finite"),
    ("code,threshold_lsb\n-1,-1\n0,inf\n", r"bad.csv:3: threshold 'inf' is not finite"),
    ("code,threshold_lsb\n-1,0.5\n0,0.4\n", r"bad.csv:3: code 0 starts at 0.4 LSB, below code -1 \(0.5\)"),
    ("code,threshold_lsb\n-1,-1\n0,0\n", r"bad.csv' has 2 codes; a 2-bit converter has 3 thresholds \(codes -1..1\)"),
    ("code,threshold_lsb\n-1,-1\n0,0\n1,1\n2,2\n", r"bad.csv:5: more than 3 codes"),
])
def test_a_bad_inl_file_names_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(SpecError, match=match):
        Adc(bits=2, inl_file=str(path))


def test_inl_file_size_encoding_and_existence_are_checked(tmp_path, monkeypatch):
    with pytest.raises(SpecError, match=r"inl_file='.*none.csv' does not exist; give the path of a CSV"):
        Adc(bits=2, inl_file=str(tmp_path / "none.csv"))
    with pytest.raises(SpecError, match=r"inl_file='.*' is not a file"):
        Adc(bits=2, inl_file=str(tmp_path))
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"code,threshold_lsb\n-1,\xff\n")
    with pytest.raises(SpecError, match=r"bin.csv' is not UTF-8 text"):
        Adc(bits=2, inl_file=str(binary))
    big = _csv(tmp_path / "big.csv", [(-1, -1.0), (0, 0.0), (1, 1.0)])
    monkeypatch.setattr(adc_module, "INL_FILE_MAX_BYTES", 20)
    with pytest.raises(SpecError, match=r"big.csv' is \d+ bytes; a threshold table is at most 20 bytes"):
        Adc(bits=2, inl_file=str(big))


@pytest.mark.parametrize("kwargs, match", [
    ({"bits": 1, "inl_sigma_lsb": 0.5}, r"adc.inl_sigma_lsb=0.5 needs adc.bits in 2..16 .* adc.bits=1"),
    ({"bits": 17, "inl_sigma_lsb": 0.5}, r"adc.inl_sigma_lsb=0.5 needs adc.bits in 2..16"),
    ({"bits": 4, "inl_sigma_lsb": -0.1}, r"adc.inl_sigma_lsb"),
    ({"bits": 4, "inl_file": ""}, r"adc.inl_file='' must be the path of a CSV file"),
    ({"bits": 4, "inl_file": 3}, r"adc.inl_file=3 must be the path of a CSV file"),
    ({"bits": 4, "inl_file": "x.csv", "inl_sigma_lsb": 1.0}, r"adc.inl_file and adc.inl_sigma_lsb=1.0 are both given"),
])
def test_inl_field_errors(kwargs, match):
    with pytest.raises(SpecError, match=match):
        Adc(**kwargs)


def test_the_config_reads_inl_file_against_its_folder_and_the_correction_fields(tmp_path):
    from pyims.experiment.config import parse_config

    _csv(tmp_path / "curve.csv", [(-1, -1.0), (0, 0.25), (1, 1.0)])
    cfg = parse_config({"adc": {"bits": 2, "inl_file": "curve.csv", "correction": "fixed", "correction_out_bits": 12,
                                "correction_rounding": "floor", "correction_saturate": False}}, base_dir=tmp_path)
    adc = cfg.hardware.adc
    assert adc.inl_file == str(tmp_path / "curve.csv") and adc.correction_out_bits == 12
    np.testing.assert_array_equal(adc.thresholds(0, 1, 1)[0, 0], [-1.0, 0.25, 1.0])
    with pytest.raises(ConfigError, match=r"adc.correction_saturate"):
        parse_config({"adc": {"bits": 4, "correction_saturate": "yes"}})
    with pytest.raises(SpecError, match=r"adc.correction='linear' is unknown; use one of 'none', 'float', 'fixed'"):
        parse_config({"adc": {"bits": 4, "correction": "linear"}})


# ---------------------------------------------------------------- the correction
@pytest.mark.parametrize("kwargs, match", [
    ({"correction": "linear"}, r"adc.correction='linear' is unknown"),
    ({"correction_scale_bits": 1}, r"adc.correction_scale_bits=1 must be an integer in 2..32"),
    ({"correction_out_bits": 33}, r"adc.correction_out_bits=33 must be an integer in 2..32"),
    ({"correction_offset_frac_bits": -1}, r"adc.correction_offset_frac_bits=-1 must be an integer in 0..48"),
    ({"correction_out_frac_bits": 2.0}, r"adc.correction_out_frac_bits=2.0 must be an integer"),
    ({"correction_rounding": "up"}, r"adc.correction_rounding='up' is unknown; use one of 'nearest', 'floor'"),
    ({"correction_saturate": 1}, r"adc.correction_saturate=1 must be true \(clip\) or false \(wrap\)"),
    ({"correction": "float", "correction_scale_ratio": ((1.0,),)}, r"adc.correction_offset_norm is missing"),
    ({"correction_scale_ratio": ((1.0,),), "correction_offset_norm": ((0.0,),)},
     r"are given but adc.correction='none'; set correction"),
    ({"correction": "float", "correction_scale_ratio": ((1.0, 2.0),), "correction_offset_norm": ((0.0,),)},
     r"correction_scale_ratio has \[2\] outputs per layer but adc.correction_offset_norm has \[1\]"),
    ({"correction": "float", "correction_scale_ratio": ((float("nan"),),), "correction_offset_norm": ((0.0,),)},
     r"adc.correction_scale_ratio\[0\]\[0\]=nan is not finite"),
    ({"correction": "float", "correction_scale_ratio": (), "correction_offset_norm": ()},
     r"adc.correction_scale_ratio=\(\) must be one non-empty list of numbers per crossbar layer"),
])
def test_correction_field_errors(kwargs, match):
    with pytest.raises(SpecError, match=match):
        Adc(bits=4, **kwargs)


def test_correct_refuses_missing_or_misshaped_coefficients():
    z = np.zeros((2, 3))
    with pytest.raises(SpecError, match=r"adc.correction='fixed' is not calibrated yet; calibrate it: .*pyims.calibrate"):
        Adc(bits=4, full_scale_norm=1.0, correction="fixed").correct(z, layer=0, n_layers=1)
    two = Adc(bits=4, full_scale_norm=1.0, correction="float", correction_scale_ratio=((1.0,) * 3, (1.0,)),
              correction_offset_norm=((0.0,) * 3, (0.0,)))
    with pytest.raises(SpecError, match=r"correction_scale_ratio has 2 layers but the network has 3 crossbar layers"):
        two.correct(z, layer=0, n_layers=3)
    with pytest.raises(SpecError, match=r"correction_scale_ratio\[1\] has 1 outputs but crossbar layer 1 has 3"):
        two.correct(z, layer=1, n_layers=2)
    wide = Adc(bits=12, full_scale_norm=1.0, correction="fixed", correction_scale_ratio=((1.0,) * 3,),
               correction_offset_norm=((0.0,) * 3,), correction_scale_frac_bits=0, correction_offset_frac_bits=48)
    with pytest.raises(SpecError, match=r"beyond the 2\*\*53 float64 holds exactly; use fewer adc.correction_scale_frac_bits"):
        wide.correct(np.full((1, 3), 0.5), layer=0, n_layers=1)


def _unit(**kwargs) -> Adc:
    """4 bits, lsb 1 (full scale 8); alpha 1.3 -> S = 21 (1.3125, scale 8.4), beta -0.6 -> O = -2 (-0.5, offset 8.2),
    output 6.1: signed steps of 1/2 in -32..31."""
    return Adc(bits=4, full_scale_norm=8.0, correction="fixed", correction_scale_ratio=((1.3,),),
               correction_offset_norm=((-0.6,),), correction_scale_bits=8, correction_scale_frac_bits=4,
               correction_offset_bits=8, correction_offset_frac_bits=2, correction_out_bits=6,
               correction_out_frac_bits=1, **kwargs)


def test_the_fixed_point_unit_by_hand():
    """x = 3: 21/16 * 3 - 1/2 = 3.4375 = 6.875 steps -> 7 (nearest) / 6 (floor); x = 20: 51.5 steps -> 52, clipped to
    31 or wrapped to 52 - 64 = -12; with a fused ReLU the output is unsigned (0..63): 52 passes, x = -3 -> 0."""
    z = np.array([[3.0], [20.0], [-3.0]])
    s_int, o_int, clipped = _unit().fixed_coefficients(0, 1, 1)
    assert (s_int[0], o_int[0], clipped) == (21.0, -2.0, 0)
    np.testing.assert_array_equal(_unit().correct(z, layer=0, n_layers=1), [[3.5], [15.5], [-4.5]])
    np.testing.assert_array_equal(_unit(correction_rounding="floor").correct(z, layer=0, n_layers=1),
                                  [[3.0], [15.5], [-4.5]])
    np.testing.assert_array_equal(_unit(correction_saturate=False).correct(z, layer=0, n_layers=1),
                                  [[3.5], [-6.0], [-4.5]])
    np.testing.assert_array_equal(_unit().correct(z, layer=0, n_layers=1, relu=True), [[3.5], [26.0], [0.0]])
    # off the grid (after a drift compensation) the input is taken as it is; on the grid it is snapped to its code
    np.testing.assert_array_equal(_unit().correct(np.array([[3.4]]), layer=0, n_layers=1, on_grid=False), [[4.0]])
    np.testing.assert_array_equal(_unit().correct(np.array([[3.4]]), layer=0, n_layers=1), [[3.5]])
    # the float unit: alpha z + beta, ReLU fused
    flt = replace(_unit(), correction="float")
    np.testing.assert_allclose(flt.correct(z, layer=0, n_layers=1, relu=True), [[3.3], [25.4], [0.0]], rtol=1e-15, atol=1e-15)
    # coefficients beyond their formats are clipped, and counted
    s_big, _, clipped = replace(_unit(), correction_scale_ratio=((9.0,),)).fixed_coefficients(0, 1, 1)
    assert (float(s_big[0]), clipped) == (127.0, 1)


def test_least_squares_recovers_an_affine_map_per_output():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(200, 3))
    ref = z * np.array([1.3, 0.8, 1.0]) + np.array([-0.2, 0.5, 0.0])
    ref[:, 2] = 2.0 + 0.1 * rng.normal(size=200)
    z[:, 2] = 0.25  # a column that never changes: alpha 1, the mean difference as offset
    alpha, beta = Adc.fit_correction(z, ref)
    np.testing.assert_allclose(alpha, [1.3, 0.8, 1.0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(beta, [-0.2, 0.5, np.mean(ref[:, 2]) - 0.25], rtol=1e-12, atol=1e-12)
    with pytest.raises(SpecError, match=r"fit_correction: converted outputs \(200, 3\) and reference \(200, 2\)"):
        Adc.fit_correction(z, ref[:, :2])


def test_relu_fusion_follows_the_network():
    from pyims.model.layers import Activation, Dense, Node

    for neuron, want in (("relu", True), ("sigmoid", False), (NeuronSpec(kind="relu", inverting=True), False)):
        seq = map_network(_mlp(neuron), pyims.Hardware()).sequence
        assert (Adc.fuses_relu(seq, 0), Adc.fuses_relu(seq, 1)) == (want, False)
    d = Dense(weight=np.eye(2), bias=np.zeros(2))
    relu = Activation(NeuronSpec(kind="relu"))
    bypassed = (d, relu, Node(layer=d, inputs=(1,)), Node(layer=Activation(NeuronSpec(kind="linear")), inputs=(0,)))
    assert not Adc.fuses_relu(bypassed, 0)  # step 3 reads layer 0's output too: its negative values are needed
    with pytest.raises(SpecError, match=r"crossbar layer 2 does not exist; the network has 2"):
        Adc.fuses_relu(bypassed, 2)


def test_digital_out_compensates_drift_then_corrects():
    """Drift compensation first, on each array's partial sums before they are combined (the unit's input is the
    compensated value, off the code grid), then the correction, with the ReLU fused on the hidden layer of a ReLU
    network."""
    adc = _unit()
    alpha = tuple(1.0 + 0.1 * j for j in range(6))
    adc = replace(adc, correction_scale_ratio=(alpha, (1.3,) * 3), correction_offset_norm=((-0.6,) * 6, (0.2,) * 3))
    net = map_network(_mlp(), pyims.Hardware(plan=PLAN, topology="tiled", adc=adc))
    n_h = net.layers[0].n_h
    assert n_h >= 2
    scale = np.linspace(1.1, 1.6, 6 * n_h).reshape(n_h, 6)
    drifted = net.with_layers((replace(net.layers[0], out_scale=scale), net.layers[1]))
    parts = [np.arange(-6.0, 6.0).reshape(2, 6) + p for p in range(n_h)]
    z = drifted.combine(0, parts)
    np.testing.assert_allclose(z, net.combiner.combine([q * f for q, f in zip(parts, scale)]), rtol=1e-15, atol=0.0)
    np.testing.assert_array_equal(drifted.digital_out(0, z),
                                  adc.correct(z, layer=0, n_layers=2, relu=True, on_grid=False))
    z = np.arange(-6.0, 6.0).reshape(2, 6)
    np.testing.assert_array_equal(net.digital_out(0, z), adc.correct(z, layer=0, n_layers=2, relu=True))
    assert np.all(net.digital_out(0, z) >= 0.0) and np.any(net.digital_out(1, z[:, :3]) < 0.0)


def test_calibrate_fits_the_correction_and_it_brings_the_outputs_back():
    """``pyims.calibrate`` fits ranges and correction; the hardware it returns holds them and is calibrated once.
    With large converter errors (INL 1.5 LSB, offsets 1.5 LSB, gains 8 %) the corrected network is closer to the
    float model than the uncorrected one, on images it was not fitted on too."""
    mlp, x = _mlp(), _x(80)
    adc = Adc(bits=6, inl_sigma_lsb=1.5, offset_lsb_sigma=1.5, gain_error_sigma_ratio=0.08, seed=5)
    errors = {}
    for correction in ("none", "float", "fixed"):
        hw = pyims.Hardware(wires=WIRES, plan=PLAN, topology="tiled", adc=replace(adc, correction=correction))
        fixed = pyims.calibrate(mlp, x[:40], hw)
        assert fixed.adc.calibrated and pyims.calibrate(mlp, x, fixed) is fixed
        if correction != "none":
            assert [len(r) for r in fixed.adc.correction_scale_ratio] == [6, 3]
            assert fixed.replaced(adc=replace(fixed.adc, correction_scale_ratio=None, correction_offset_norm=None,
                                              full_scale_norm=None)) == hw
        errors[correction] = np.abs(pyims.infer(mlp, x[40:], hardware=fixed) - mlp.logits(x[40:])).mean()
    assert errors["float"] < 0.7 * errors["none"] and errors["fixed"] < 0.7 * errors["none"]


def test_calibrating_a_correction_needs_the_model():
    net = map_network(_mlp(), pyims.Hardware(plan=PLAN, topology="tiled", adc=Adc(bits=6, correction="float")))
    orphan = replace(net, model=None)
    with pytest.raises(SpecError, match=r"is calibrated against the float model's pre-activations; this MappedNetwork"):
        NativeNetwork(orphan).calibrate_adc(_x(4))


def test_fixed_point_correction_stays_within_its_formats_lsbs_of_the_float_one():
    """On a small network's real read-outs (every layer's converted outputs), the fixed-point unit differs from the
    float one with the same alpha / beta by at most the formats' quantisation: per sample
    lsb * (2**-fs / 2 * |x| + 2**-fo / 2 + output rounding), output rounding 2**-fy / 2 (nearest) or 2**-fy (floor)."""
    mlp, x = _mlp(), _x(60)
    base = Adc(bits=7, inl_sigma_lsb=1.0, offset_lsb_sigma=1.0, gain_error_sigma_ratio=0.05, correction="float",
               correction_scale_frac_bits=8, correction_offset_frac_bits=3, correction_out_frac_bits=2)
    hw = pyims.calibrate(mlp, x, pyims.Hardware(wires=WIRES, plan=PLAN, topology="tiled", adc=base))
    flt = hw.adc
    bare = replace(flt, correction="none", correction_scale_ratio=None, correction_offset_norm=None)
    net = map_network(mlp, hw.replaced(adc=bare))
    reads = NativeNetwork(net).run(x).pre_norm  # what each layer's unit receives
    worst = 0.0
    for rounding, out_step in (("nearest", 0.5), ("floor", 1.0)):
        fixed = replace(flt, correction="fixed", correction_rounding=rounding)
        for k, z in enumerate(reads):
            relu = Adc.fuses_relu(net.sequence, k)
            lsb = flt.full_scale(k, 2) / 2 ** (flt.bits - 1)
            a = fixed.correct(z, layer=k, n_layers=2, relu=relu)
            b = flt.correct(z, layer=k, n_layers=2, relu=relu)
            bound = lsb * (2.0**-8 / 2 * np.abs(np.rint(z / lsb)) + 2.0**-3 / 2 + 2.0**-2 * out_step)
            assert np.all(np.abs(a - b) <= bound * (1 + 1e-9))
            worst = max(worst, float(np.max(np.abs(a - b) / lsb)))
    assert 0.0 < worst <= 2.0**-2 + 2.0**-4 + 2.0**-9 * 2 ** 8  # measured, in LSB of the converter


# ---------------------------------------------------------------- SPICE: the same functions in ngspice
def _run(elements, saved, run_root, subckts, sweep):
    from pyims.netlist.library import load_library
    from pyims.netlist.model import Netlist
    from pyims.runners.session import NgspiceSession
    from pyims.spec.simulator import TIGHT

    libs = {}
    for s in subckts:
        lib = load_library(s)
        libs[lib.name] = lib
    netlist = Netlist(title="* adc test", elements=tuple(elements), analysis=sweep, saved_voltages=tuple(saved),
                      libraries=tuple(libs.values()))
    return NgspiceSession(TIGHT.with_(timeout_s=60.0), run_root=run_root).run(
        netlist, expect=[f"v({n})" for n in saved]).data


@pytest.mark.ngspice
def test_the_table_converter_in_ngspice_is_the_native_one_to_the_threshold(tmp_path, run_root):
    """A 3-bit measured table with a missing code, swept so that points land exactly on thresholds (lsb 0.125 V,
    steps of 1/16 V: exact binary numbers), and an 8-bit drawn table (four step blocks) with gain and offset errors:
    ngspice's codes are the native ones at every point."""
    from pyims.netlist.model import GROUND, DcSweep, VoltageSource

    path = _csv(tmp_path / "t.csv", [(-3, -2.5), (-2, -1.0), (-1, -1.0), (0, 0.5), (1, 1.0), (2, 1.75), (3, 2.5)])
    adc = Adc(bits=3, inl_file=str(path))
    fs_v = 0.5  # lsb 0.125 V
    els = [VoltageSource("VIN", "in", GROUND, 0.0)]
    els += adc.instances("XQ", "in", "out", full_scale_v=fs_v, thresholds=adc.thresholds(0, 1, 1)[0, 0])
    vals = _run(els, ["in", "out"], run_root, ["pyims_adc_steps"], DcSweep("VIN", -0.5, 0.5, 0.0625))
    want = adc.quantize(vals[:, :1], fs_v, thresholds=adc.thresholds(0, 1, 1)[0])[:, 0]
    # the same codes (ngspice's solution of the output node is the code's voltage to an ulp)
    np.testing.assert_array_equal(np.rint(vals[:, 1] / 0.125), want / 0.125)
    np.testing.assert_allclose(vals[:, 1], want, rtol=0, atol=1e-12)
    on = np.isin(vals[:, 0] / 0.125, [-1.0, 0.5, 1.0, 2.5])
    assert on.sum() >= 4  # points exactly at thresholds were compared
    assert -0.25 not in np.round(vals[:, 1], 12) and -0.125 in np.round(vals[:, 1], 12)  # code -2 is missing
    big = Adc(bits=8, inl_sigma_lsb=2.0, seed=9)
    table = big.thresholds(0, 1, 1)[0, 0]
    assert -(-table.size // INL_BLOCK) == 4
    els = [VoltageSource("VIN", "in", GROUND, 0.0)]
    els += big.instances("XQ", "in", "out", full_scale_v=1.0, gain_error=0.03, offset_lsb=-0.7, thresholds=table)
    vals = _run(els, ["in", "out"], run_root, ["pyims_adc_steps"], DcSweep("VIN", -1.1, 1.1, 0.00113))
    want = big.quantize(vals[:, :1], 1.0, 0.03, -0.7, thresholds=table[None, :])[:, 0]
    np.testing.assert_array_equal(np.rint(vals[:, 1] * 128), want * 128)
    assert len(np.unique(np.round(want, 9))) >= 250  # nearly every code, both ends clipped


@pytest.mark.ngspice
def test_the_correction_subcircuits_are_the_native_unit(run_root):
    """The fixed-point unit (nearest / floor, clip / wrap, ReLU fused) and the float one, fed every code of a 4-bit
    converter and beyond: ngspice's outputs are the native ones (fixed: exactly)."""
    from pyims.netlist.model import GROUND, DcSweep, VoltageSource

    fs_v = 8.0  # lsb 1 V: the unit's full-scale voltage per pre-activation unit is 1
    cases = [_unit(), _unit(correction_rounding="floor"), _unit(correction_saturate=False)]
    els = [VoltageSource("VIN", "in", GROUND, 0.0)]
    saved = ["in"]
    for i, unit in enumerate(cases):
        for relu in (False, True):
            els.append(unit.correction_instance(f"XK{i}{int(relu)}", "in", f"o{i}{int(relu)}", full_scale_v=fs_v, layer=0,
                                                n_layers=1, out=0, n_out=1, relu=relu))
            saved.append(f"o{i}{int(relu)}")
    flt = replace(_unit(), correction="float")
    els.append(flt.correction_instance("XKF", "in", "of", full_scale_v=fs_v, layer=0, n_layers=1, out=0, n_out=1))
    saved.append("of")
    vals = _run(els, saved, run_root, ["pyims_adc_fixed"], DcSweep("VIN", -24.0, 24.0, 1.0))
    z = vals[:, :1]
    col = 1
    for unit in cases:
        for relu in (False, True):
            np.testing.assert_array_equal(vals[:, col], unit.correct(z, layer=0, n_layers=1, relu=relu)[:, 0])
            col += 1
    np.testing.assert_allclose(vals[:, col], flt.correct(z, layer=0, n_layers=1)[:, 0], rtol=1e-14, atol=1e-13)
    assert np.any(vals[:, 1] == 15.5) and np.any(vals[:, 5] < 0) and np.any(vals[:, 6] == 0.0)  # clip, wrap, ReLU


def _codes_clear(net, native, x, margin_rel=1e-6) -> None:
    """Every converter input of ``native``'s run sits farther than ``margin_rel`` of its range from a threshold: ngspice
    (agreeing to ~1e-12) must then read the same codes."""
    solver = NativeNetwork(net)
    n_layers = len(net.layers)
    inputs = [net.augment(x)]
    for k, layer in enumerate(net.layers):
        parts = solver._parts(k, layer, inputs[-1])
        for p, z in enumerate(parts):
            fs = net.adc.full_scale(k, n_layers)
            if net.topology.converts(k, n_layers):
                m = net.adc.code_margin(z, layer=k, n_layers=n_layers, part=p, n_parts=len(parts))
                assert m.min() > margin_rel * fs
        if k + 1 < n_layers:
            inputs.append(net.augment(np.asarray(net.sequence[2 * k + 1](native.pre_norm[k]))))


@pytest.mark.ngspice
@pytest.mark.parametrize("topology, neuron, correction", [("tiled", "relu", "fixed"), ("tiled", "relu", "float"),
                                                          ("analog", "sigmoid", "fixed")])
def test_native_and_ngspice_read_the_same_codes_with_inl(run_root, topology, neuron, correction):
    """A network with drawn INL (1.5 LSB) and offset / gain errors, corrected: ngspice (the table converters and, in the
    fully-analog circuit, the correction subcircuits; tiled, Python's correction after the read-out) gives the native
    outputs code for code, and ``verify_against_ngspice`` passes. Without INL the codes differ: INL was simulated."""
    from pyims.inference.spice import SpiceNetwork
    from pyims.inference.verify import verify_against_ngspice

    x = _x(6)
    adc = Adc(bits=8, inl_sigma_lsb=1.5, offset_lsb_sigma=1.0, gain_error_sigma_ratio=0.05, correction=correction, seed=2)
    net = calibrated(map_network(_mlp(neuron), pyims.Hardware(wires=WIRES, plan=PLAN, topology=topology, adc=adc)), x)
    assert net.topology.name == topology
    native = NativeNetwork(net).run(x)
    if topology == "tiled":
        _codes_clear(net, native, x)
    spice = SpiceNetwork(net, run_root=run_root).run(x)
    n_layers = len(net.layers)
    for k in range(n_layers):
        lsb = net.adc.full_scale(k, n_layers) / 2 ** (net.adc.bits - 1)
        converted = net.topology.converts(k, n_layers)
        scale = np.abs(native.pre_norm[k]).max()
        np.testing.assert_allclose(spice.pre_norm[k], native.pre_norm[k], rtol=0,
                                   atol=1e-9 * lsb if converted else 1e-7 * scale)
    verification, _ = verify_against_ngspice(net, x, native, np.arange(x.shape[0]))
    assert verification.passed
    no_inl = NativeNetwork(net.on(adc=replace(net.adc, inl_sigma_lsb=0.0))).run(x)
    assert np.max(np.abs(no_inl.logits - native.logits)) > 0.5 * lsb


def test_describe_says_whether_the_ranges_are_fixed():
    """#26 bug F: an ADC whose ranges are not fixed is calibrated on each run's images (its results depend on the
    batch); it is not described as "calibrated". After ``pyims.calibrate`` its ranges are fixed, and it says so."""
    adc = Adc(bits=8)
    assert adc.describe() == "8-bit ADC (ranges calibrated on each run's images)"
    hw = pyims.Hardware(plan=PLAN, topology="tiled", adc=adc)
    assert "8-bit ADC (ranges calibrated on each run's images)" in hw.describe() and "fixed" not in hw.describe()
    x = np.random.default_rng(2).uniform(size=(6, 12))
    fixed = pyims.calibrate(_mlp(), x, hw).adc
    fs = fixed.full_scale_norm
    assert fixed.calibrated and isinstance(fs, tuple) and len(fs) == 2
    assert fixed.describe() == f"8-bit ADC (fixed ranges, fs {fs[0]:.3g}/{fs[1]:.3g})"
    corrected = Adc(bits=6, full_scale_norm=1.0, correction="float")
    assert corrected.describe() == "6-bit ADC (fixed ranges, fs 1, float correction calibrated on each run's images)"
