"""The network model: one forward routine over a sequence of layer objects, for every evaluation strategy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.inference import NativeNetwork
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.model.layers import Activation, Dense, Layer, crossbar_layers, float_evaluate, forward
from pyims.spec import PartitionPlan, WireParasitics


def _mlp(sizes=(6, 5, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    return MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
               biases=tuple(rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind="sigmoid", gain_norm=2.0))


def test_an_mlp_is_dense_activation_dense():
    mlp = _mlp()
    kinds = [type(layer).__name__ for layer in mlp.layers]
    assert kinds == ["Dense", "Activation", "Dense", "Activation", "Dense"]
    assert [layer.n_out for layer in crossbar_layers(mlp.layers)] == [5, 4, 3]


def test_forward_equals_the_formula_and_records_each_crossbar_input():
    mlp = _mlp()
    x = np.random.default_rng(1).uniform(size=(7, 6))
    trace = forward(mlp.layers, x)
    a, expected = x, []
    for l, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        np.testing.assert_array_equal(trace.inputs[l], a)
        z = a @ w + b
        expected.append(z)
        a = mlp.neuron(z) if l < 2 else z
    for got, want in zip(trace.pre, expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(trace.output, expected[-1])


@dataclass(frozen=True, slots=True, eq=False)
class Halve(Layer):
    """A layer that evaluates itself (as pooling or a readout would): a = a / 2."""

    def __call__(self, a):
        return 0.5 * a


def test_a_new_layer_type_needs_no_change_to_forward():
    mlp = _mlp()
    layers = (mlp.layers[0], Activation(mlp.neuron), Halve(), mlp.layers[2])
    x = np.random.default_rng(2).uniform(size=(3, 6))
    out = forward(layers, x).output
    want = 0.5 * mlp.neuron(x @ mlp.weights[0] + mlp.biases[0]) @ mlp.weights[1] + mlp.biases[1]
    np.testing.assert_allclose(out, want, rtol=1e-7, atol=1e-12 * np.abs(want).max())


def test_every_strategy_walks_the_same_sequence():
    """float, mapped-ideal and native (no wires, ideal periphery) agree: one forward pass, three evaluations."""
    mlp = _mlp()
    x = np.random.default_rng(3).uniform(size=(9, 6))
    net = map_network(mlp, plan=PartitionPlan(horizontal=(2, 2, 1), vertical=(2, 1, 1)))
    digital = forward(mlp.layers, x, float_evaluate).pre
    mapped = net.mapped_ideal_forward(x)
    native = NativeNetwork(net, WireParasitics()).run(x).pre_norm
    for d, m, n in zip(digital, mapped, native):
        np.testing.assert_allclose(m, d, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(n, d, rtol=1e-9, atol=1e-12)
    assert [type(layer).__name__ for layer in net.sequence] == ["MappedLayer", "Activation", "MappedLayer", "Activation", "MappedLayer"]


def test_dense_float_forward():
    d = Dense(np.eye(2), np.ones(2))
    np.testing.assert_array_equal(float_evaluate(0, d, np.array([[1.0, 2.0]])), [[2.0, 3.0]])
