"""Weights -> conductances, encodings, partition plans."""

from __future__ import annotations

import numpy as np
import pytest

from pyims.errors import SpecError
from pyims.mapping import map_network, weights_to_conductances
from pyims.model import MLP, NeuronSpec
from pyims.spec import DeviceSpec, InputEncoding, PartitionPlan, PeripherySpec, split_sizes


def _mlp(sizes=(12, 7, 3), seed=0, neuron=NeuronSpec()):
    rng = np.random.default_rng(seed)
    ws = tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:]))
    bs = tuple(rng.normal(size=b) for b in sizes[1:])
    return MLP(weights=ws, biases=bs, neuron=neuron)


def test_linear_scaling_into_range():
    w = np.array([[1.0, -0.5], [0.0, 2.0]])
    dev = DeviceSpec(g_on_s=1e-4, g_off_s=1e-6)
    gp, gn, w_max = weights_to_conductances(w, dev)
    assert w_max == 2.0
    assert gp.min() >= 1e-6 and gp.max() <= 1e-4 and gn.min() >= 1e-6 and gn.max() <= 1e-4
    np.testing.assert_allclose((gp - gn) * w_max / (1e-4 - 1e-6), w, rtol=1e-12, atol=1e-12 * np.abs(w).max())
    assert gp[1, 1] == 1e-4 and gn[1, 1] == 1e-6  # the largest weight maps to g_on / g_off


def test_levels_quantise_to_n_values():
    w = np.random.default_rng(0).normal(size=(40, 30))
    gp, gn, _ = weights_to_conductances(w, DeviceSpec(levels=5))
    for g in (gp, gn):
        assert len(np.unique(np.round(g, 15))) <= 5
    both = np.unique(np.round(np.concatenate([gp.ravel(), gn.ravel()]), 15))
    np.testing.assert_allclose(both, 1e-6 + (1e-4 - 1e-6) * np.arange(5) / 4, rtol=1e-9)


def test_variation_is_seeded_and_lognormal():
    w = np.random.default_rng(0).normal(size=(50, 40))
    dev = DeviceSpec(variation_sigma_ratio=0.1, variation_seed=7)
    a = weights_to_conductances(w, dev, np.random.default_rng(7))
    b = weights_to_conductances(w, dev, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    base = weights_to_conductances(w, DeviceSpec())
    ratio = np.log(a[0] / base[0])
    assert abs(ratio.std() - 0.1) < 0.01 and (a[0] > 0).all()


def test_mapped_ideal_equals_digital_without_levels_or_variation():
    mlp = _mlp()
    net = map_network(mlp, periphery=PeripherySpec(v_bias_v=0.3), encoding=InputEncoding(v_read_v=0.2))
    x = np.random.default_rng(1).uniform(size=(9, 12))
    for a, b in zip(net.mapped_ideal_forward(x), mlp.forward(x)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_tiles_interleave_g_plus_and_minus():
    net = map_network(_mlp(), plan=PartitionPlan(horizontal=(3, 1), vertical=(2, 1)))
    layer = net.layers[0]
    g = layer.tile_g(1, 1)
    rows, outs = layer.rows_of(1), layer.outs_of(1)
    np.testing.assert_array_equal(g[:, 0::2], layer.g_pos_s[rows, outs])
    np.testing.assert_array_equal(g[:, 1::2], layer.g_neg_s[rows, outs])
    assert layer.split.row_sizes == (5, 4, 4)  # 12 inputs + bias = 13 rows, uneven: first gets the extra
    assert layer.split.out_sizes == (4, 3)


def test_encodings():
    x = np.array([[0.0, 0.3, 0.5, 0.51, 1.0]])
    np.testing.assert_allclose(InputEncoding(dac_bits=2).quantized(x), [[0, 1 / 3, 2 / 3, 2 / 3, 1]], rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(InputEncoding(kind="binary").quantized(x), [[-1, -1, -1, 1, 1]])
    np.testing.assert_array_equal(InputEncoding().quantized(x), x)
    with pytest.raises(SpecError, match="encoding.kind='pwm' is unknown; use one of dac, binary"):
        InputEncoding(kind="pwm")


def test_split_sizes_and_plans():
    assert split_sizes(401, 16) == (26,) + (25,) * 15
    assert sum(split_sizes(121, 8)) == 121
    splits = PartitionPlan(horizontal=(16, 8, 8), vertical=(8, 8, 1)).resolve((400, 120, 84, 10))
    assert [len(s.row_sizes) for s in splits] == [16, 8, 8]
    assert [s.out_sizes for s in splits][2] == (10,)
    assert PartitionPlan(horizontal=(16, 8, 8), vertical=(8, 8, 1)).describe((400, 120, 84, 10)) == "16/8/8 x 8/8/1"
    # maximum tile shape in cells: 128 rows, 64 columns = 32 outputs
    mx = PartitionPlan(max_rows=128, max_cols=64).resolve((400, 120, 84, 10))
    assert [len(s.row_sizes) for s in mx] == [4, 1, 1] and [len(s.out_sizes) for s in mx] == [4, 3, 1]
    assert all(max(s.row_sizes) <= 128 and 2 * max(s.out_sizes) <= 64 for s in mx)


@pytest.mark.parametrize(
    "plan, match",
    [
        (PartitionPlan(horizontal=(14, 1)), r"partitions.horizontal\[0\]=14 exceeds layer 1's rows=13 \(12 inputs \+ bias\); use 1..13"),
        (PartitionPlan(vertical=(1, 4)), r"partitions.vertical\[1\]=4 exceeds layer 2's outputs=3; use 1..3"),
        (PartitionPlan(horizontal=(1, 1, 1)), "has 3 entries but the network has 2 layers"),
    ],
)
def test_partition_errors(plan, match):
    with pytest.raises(SpecError, match=match):
        map_network(_mlp(), plan=plan)


def test_plan_field_errors():
    with pytest.raises(SpecError, match=r"partitions.horizontal\[1\]=0 must be an integer >= 1"):
        PartitionPlan(horizontal=(2, 0))
    with pytest.raises(SpecError, match="not both"):
        PartitionPlan(horizontal=(2,), max_rows=3)
    with pytest.raises(SpecError, match="device.g_on_s"):
        DeviceSpec(g_on_s=1e-7, g_off_s=1e-6)
    with pytest.raises(SpecError, match="periphery.sense='real'"):
        PeripherySpec(sense="real")
