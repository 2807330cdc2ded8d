"""Neurons, the MLP trainer and weight files."""

from __future__ import annotations

import numpy as np
import pytest

from pyims.data import load_dataset
from pyims.errors import ModelFileError, SpecError
from pyims.model import (
    MLP,
    NeuronSpec,
    TrainSpec,
    load_csv_weights,
    load_npz_weights,
    save_csv_weights,
    save_npz_weights,
    train_mlp,
)

NEURONS = [
    NeuronSpec(kind="sigmoid", gain_norm=1.7),
    NeuronSpec(kind="sigmoid", gain_norm=0.5, out_lo_norm=-1.0, out_hi_norm=2.0, inverting=True),
    NeuronSpec(kind="hardsigmoid", gain_norm=2.0),
    NeuronSpec(kind="hardsigmoid", gain_norm=1.0, inverting=True),
    NeuronSpec(kind="linear", gain_norm=0.3),
]


@pytest.mark.parametrize("neuron", NEURONS)
def test_neuron_derivative_matches_finite_difference(neuron):
    z = np.linspace(-4, 4, 161) + 0.013  # avoid the hard sigmoid's kinks
    h = 1e-6
    numeric = (neuron(z + h) - neuron(z - h)) / (2 * h)
    np.testing.assert_allclose(neuron.derivative(z), numeric, rtol=1e-5, atol=1e-7)


def test_neuron_formulas():
    s = NeuronSpec(kind="sigmoid", gain_norm=2.0)
    np.testing.assert_allclose(s(np.array([0.0, 1.0])), [0.5, 1 / (1 + np.exp(-2.0))], rtol=1e-15)
    inv = NeuronSpec(kind="sigmoid", inverting=True)
    assert inv(np.array(3.0)) < inv(np.array(-3.0))
    hs = NeuronSpec(kind="hardsigmoid", gain_norm=1.0, out_lo_norm=0.0, out_hi_norm=0.8)
    np.testing.assert_allclose(hs(np.array([-100.0, 0.0, 1.0, 100.0])), [0.0, 0.4, 0.6, 0.8], rtol=1e-7, atol=1e-12)
    assert np.all(np.isfinite(s(np.array([-1e5, 1e5]))))  # tanh form: no overflow


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "swish"}, "neuron.kind='swish' is unknown; use one of sigmoid, hardsigmoid, linear"),
        ({"gain_norm": 0.0}, "gain_norm"),
        ({"out_lo_norm": 1.0, "out_hi_norm": 0.5}, "must exceed"),
        ({"inverting": "yes"}, "true or false"),
    ],
)
def test_neuron_spec_errors(kwargs, match):
    with pytest.raises(SpecError, match=match):
        NeuronSpec(**kwargs)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_trainer_is_deterministic_and_learns(digits):
    spec = TrainSpec(hidden=(16,), epochs=30, seed=3)
    neuron = NeuronSpec(kind="sigmoid")
    a = train_mlp(digits.train.x_norm, digits.train.y, n_classes=10, neuron=neuron, spec=spec)
    b = train_mlp(digits.train.x_norm, digits.train.y, n_classes=10, neuron=neuron, spec=spec)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
    c = train_mlp(digits.train.x_norm, digits.train.y, n_classes=10, neuron=neuron, spec=TrainSpec(hidden=(16,), epochs=30, seed=4))
    assert not np.array_equal(a.weights[0], c.weights[0])
    acc = np.mean(a.logits(digits.test.x_norm).argmax(1) == digits.test.y)
    assert acc > 0.9
    assert a.layer_sizes == (64, 16, 10)


def test_trainer_uses_the_neuron(digits):
    """An inverting hard sigmoid trains too, and its network differs from the sigmoid one."""
    spec = TrainSpec(hidden=(16,), epochs=15)
    inv = train_mlp(digits.train.x_norm, digits.train.y, n_classes=10, neuron=NeuronSpec(kind="hardsigmoid", inverting=True), spec=spec)
    assert np.mean(inv.logits(digits.test.x_norm).argmax(1) == digits.test.y) > 0.85
    pre = inv.forward(digits.test.x_norm[:5])
    want = inv.neuron(pre[0]) @ inv.weights[1] + inv.biases[1]
    np.testing.assert_allclose(pre[1], want, rtol=1e-7, atol=1e-12 * np.abs(want).max())


def _mlp(seed=0, sizes=(6, 4, 3)):
    rng = np.random.default_rng(seed)
    ws = tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:]))
    bs = tuple(rng.normal(size=b) for b in sizes[1:])
    return MLP(weights=ws, biases=bs)


def test_npz_round_trip(tmp_path):
    m = _mlp()
    save_npz_weights(m, tmp_path / "w.npz")
    back = load_npz_weights(tmp_path / "w.npz")
    for a, b in zip(m.weights + m.biases, back.weights + back.biases):
        np.testing.assert_array_equal(a, b)


def test_npz_refuses_pickles(tmp_path):
    obj = np.empty(1, dtype=object)
    obj[0] = {"evil": 1}
    np.savez(tmp_path / "p.npz", W1=obj, B1=np.zeros(1))
    with pytest.raises(ModelFileError, match="pickled objects"):
        load_npz_weights(tmp_path / "p.npz")


def test_npz_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_npz_weights(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a readable .npz"):
        load_npz_weights(tmp_path / "junk.npz")
    np.savez(tmp_path / "nob.npz", W1=np.zeros((2, 2)))
    with pytest.raises(ModelFileError, match="lacks bias arrays"):
        load_npz_weights(tmp_path / "nob.npz")
    np.savez(tmp_path / "gap.npz", W1=np.zeros((2, 2)), B1=np.zeros(2), W3=np.zeros((2, 2)), B3=np.zeros(2))
    with pytest.raises(ModelFileError, match="without gaps"):
        load_npz_weights(tmp_path / "gap.npz")


def test_csv_round_trip_and_layout(tmp_path):
    m = _mlp(1)
    save_csv_weights(m, tmp_path)
    lines = (tmp_path / "W1.csv").read_text().splitlines()
    assert len(lines) == 6 and len(lines[0].split(",")) == 4  # row = input, column = output
    assert len((tmp_path / "B2.csv").read_text().splitlines()) == 3  # one bias per line
    back = load_csv_weights(tmp_path)
    for a, b in zip(m.weights + m.biases, back.weights + back.biases):
        np.testing.assert_array_equal(a, b)
    # a bias file written as one comma-separated line is read the same
    (tmp_path / "B2.csv").write_text(",".join(repr(float(v)) for v in m.biases[1]) + "\n")
    np.testing.assert_array_equal(load_csv_weights(tmp_path).biases[1], m.biases[1])


def test_csv_errors(tmp_path):
    save_csv_weights(_mlp(), tmp_path)
    (tmp_path / "B2.csv").unlink()
    with pytest.raises(ModelFileError, match="B2.csv is missing"):
        load_csv_weights(tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_csv_weights(tmp_path / "nothing")
    save_csv_weights(_mlp(), tmp_path / "x")
    (tmp_path / "x" / "W2.csv").write_text("1,2\nfoo,3\n")
    with pytest.raises(ModelFileError, match="not a CSV of numbers"):
        load_csv_weights(tmp_path / "x")


def test_layer_shape_mismatch():
    with pytest.raises(ModelFileError, match="layer shape mismatch: layer 1 has 4 outputs but layer 2 expects 5"):
        MLP(weights=(np.zeros((3, 4)), np.zeros((5, 2))), biases=(np.zeros(4), np.zeros(2)))
    with pytest.raises(ModelFileError, match="bias has 3 values"):
        MLP(weights=(np.zeros((3, 4)),), biases=(np.zeros(3),))
    with pytest.raises(SpecError, match=r"\(N, 3\)"):
        MLP(weights=(np.zeros((3, 4)),), biases=(np.zeros(4),)).forward(np.zeros((2, 5)))


def test_train_spec_errors():
    with pytest.raises(SpecError, match="train.hidden"):
        TrainSpec(hidden=(0,))
    with pytest.raises(SpecError, match="train.epochs"):
        TrainSpec(epochs=0)
    with pytest.raises(SpecError, match="learning_rate"):
        TrainSpec(learning_rate=-1.0)
