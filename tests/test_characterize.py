"""Neuron characterisation: DC sweep in ngspice, logistic fit, the measured NeuronSpec."""

from __future__ import annotations

import numpy as np
import pytest

from pyims.characterize import characterize_neuron, fit_logistic
from pyims.cli import main
from pyims.errors import NetlistError, SpecError
from pyims.model import NeuronSpec, TrainSpec, train_mlp
from pyims.netlist.network import neuron_instance


def test_fit_recovers_a_logistic():
    v = np.linspace(-1, 1, 401)
    y = 0.1 + 0.6 * 0.5 * (1 + np.tanh(0.5 * -12.0 * (v - 0.05)))
    fit = fit_logistic(v, y)
    assert (fit.lo_v, fit.hi_v, fit.k_per_v, fit.v_mid_v) == pytest.approx((0.1, 0.7, -12.0, 0.05), rel=1e-6, abs=1e-9)
    assert fit.rms_residual_v < 1e-9 and fit.slope_at_mid == pytest.approx(-0.25 * 12 * 0.6)


@pytest.mark.ngspice
def test_inverter_neuron_is_an_inverting_sigmoid_around_0v4(measured_neuron):
    c = measured_neuron
    assert c.v_in_v[0] == pytest.approx(-25.0) and c.v_in_v[-1] == pytest.approx(25.0)
    assert np.max(np.diff(c.v_in_v)[np.abs(c.v_in_v[1:]) < 0.9]) == pytest.approx(1e-4)  # the fine sweep
    assert np.all(np.diff(c.v_out_v) <= 1e-12)  # monotone falling
    # IMAC-Sim's neuron: out ~ clip(0.4 - 3 v_in, 0, 0.8) around its 0.4 V trip point
    assert np.interp(0.0, c.v_in_v, c.v_out_v) == pytest.approx(0.4, abs=1e-3)
    assert c.v_out_v[0] == pytest.approx(0.8, abs=5e-3) and c.v_out_v[-1] == pytest.approx(0.0, abs=5e-3)
    slope = np.gradient(c.v_out_v, c.v_in_v)[np.argmin(np.abs(c.v_in_v))]
    assert -3.0 < slope < -2.6  # 3 x the inverter's loop gain / (1 + loop gain)
    assert -3.6 < c.fit.slope_at_mid < -2.6
    assert abs(c.fit.v_mid_v) < 1e-3


@pytest.mark.ngspice
def test_measured_spec_follows_the_curve_and_its_slope(measured_neuron):
    n = measured_neuron.neuron_spec(in_scale_v=1.0, out_scale_v=0.8)
    z = np.array([-30.0, -0.3, -0.05, 0.0, 0.07, 0.2, 30.0])
    np.testing.assert_allclose(n(z) * 0.8, np.interp(np.clip(z, -25, 25), measured_neuron.v_in_v, measured_neuron.v_out_v), atol=2e-4)
    h = 1e-6
    inside = z[1:-1]
    np.testing.assert_allclose(n.derivative(inside), (n(inside + h) - n(inside - h)) / (2 * h), rtol=1e-4, atol=1e-6)
    assert n.derivative(np.array([-30.0, 30.0])).tolist() == [0.0, 0.0]


@pytest.mark.ngspice
def test_characterize_a_user_subcircuit_file(tmp_path):
    sub = tmp_path / "my_neuron.sub"
    sub.write_text(".subckt my_tanh in out\nB0 out 0 V = 0.5 + 0.5 * tanh(4 * v(in))\n.ends my_tanh\n")
    c = characterize_neuron("my_tanh", subckt_file=sub, v_start_v=-1.0, v_stop_v=1.0, v_step_v=0.01)
    np.testing.assert_allclose(c.v_out_v, 0.5 + 0.5 * np.tanh(4 * c.v_in_v), atol=1e-9)
    assert c.fit.k_per_v == pytest.approx(8.0, rel=1e-6) and c.fit.rms_residual_v < 1e-9
    assert main(["characterize", "my_tanh", "--file", str(sub), "--start", "-1", "--stop", "1", "--step", "0.05",
                 "--out", str(tmp_path / "c.csv")]) == 0
    rows = np.loadtxt(tmp_path / "c.csv", delimiter=",", skiprows=1)
    assert rows.shape == (20001, 2)  # the 0.1 mV fine sweep covers the whole +-1 V range


def test_characterize_errors(tmp_path):
    with pytest.raises(SpecError, match="at least 4 steps"):
        characterize_neuron(v_start_v=0.0, v_stop_v=0.01, v_step_v=0.01)
    with pytest.raises(NetlistError, match="does not exist"):
        characterize_neuron("x", subckt_file=tmp_path / "missing.sub")
    (tmp_path / "other.sub").write_text(".subckt other a b\nR1 a b 1\n.ends other\n")
    with pytest.raises(NetlistError, match="does not define .subckt wanted"):
        characterize_neuron("wanted", subckt_file=tmp_path / "other.sub")


def test_measured_spec_validation():
    good = dict(kind="measured", curve_in_v=(0.0, 1.0, 2.0, 3.0), curve_out_v=(1.0, 0.8, 0.2, 0.0), subckt="pyims_neuron_inverter")
    NeuronSpec(**good)
    with pytest.raises(SpecError, match="needs curve_in_v"):
        NeuronSpec(kind="measured")
    with pytest.raises(SpecError, match="strictly increasing"):
        NeuronSpec(**{**good, "curve_in_v": (0.0, 2.0, 1.0, 3.0)})
    with pytest.raises(SpecError, match="same number"):
        NeuronSpec(**{**good, "curve_out_v": (1.0, 0.0)})
    with pytest.raises(SpecError, match='belong to kind = "measured"'):
        NeuronSpec(kind="sigmoid", curve_in_v=(0.0, 1.0))
    n = NeuronSpec(**good)
    with pytest.raises(SpecError, match="scale the weights"):
        neuron_instance("XN", "a", "b", n, v_z=2.0, v_read=1.0)


def test_binary_training_gives_scaled_signs():
    rng = np.random.default_rng(0)
    x = np.where(rng.uniform(size=(200, 6)) < 0.5, -1.0, 1.0)
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + 2 * (x[:, 2] - x[:, 3] > 0)
    spec = TrainSpec(hidden=(8,), epochs=100, learning_rate=0.02, binary_scales=(0.25, 0.5), surrogate_width_ratio=4.0,
                     weight_decay=0.0)
    mlp = train_mlp(x, y, n_classes=4, neuron=NeuronSpec(kind="sigmoid", gain_norm=4.0), spec=spec)
    for c, w, b in zip((0.25, 0.5), mlp.weights, mlp.biases):
        assert set(np.unique(np.abs(w))) == {c} and set(np.unique(np.abs(b))) == {c}
    assert np.mean(np.argmax(mlp.logits(x), 1) == y) > 0.6  # chance: 0.25
    with pytest.raises(SpecError, match="binary_scales has 1 entries"):
        train_mlp(x, y, n_classes=4, neuron=NeuronSpec(), spec=TrainSpec(hidden=(8,), binary_scales=(1.0,)))
    with pytest.raises(SpecError, match="surrogate_width_ratio"):
        TrainSpec(surrogate_width_ratio=0.5)
