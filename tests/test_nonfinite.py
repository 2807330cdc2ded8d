"""#25 failure 3: no forward pass returns NaN or inf, and models that would produce them are refused at load,
naming the model file and the node."""

from __future__ import annotations

import numpy as np
import pytest

import pyims
from pyims.errors import ModelFileError, NonFiniteError, SpecError, UnsupportedOpError
from pyims.model.graph import Model
from pyims.model.layers import Dense
from pyims.model.pooling import AvgPool2d, MaxPool2d

from onnx_graphs import f32, save_graph

pytest.importorskip("onnx")


def _gemm(tmp_path, w: np.ndarray, c: np.ndarray, **attrs):
    from onnx import helper

    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="fc", transB=1, **attrs)
    return save_graph(tmp_path / "m.onnx", [node], {"w": w, "c": c}, [w.shape[1]], [w.shape[0]])


def test_a_nan_weight_is_refused_at_load_naming_the_file_and_the_node(tmp_path):
    rng = np.random.default_rng(0)
    w = f32(rng, 3, 4)
    w[1, 2] = np.nan
    path = _gemm(tmp_path, w, f32(rng, 3))
    with pytest.raises(ModelFileError, match=r"m\.onnx: node 'fc' \(Gemm\): its weight holds 1 NaN or inf value"):
        pyims.load_model(path)


def test_a_float16_overflow_is_refused_at_load(tmp_path):
    from onnx import helper

    rng = np.random.default_rng(1)
    with np.errstate(over="ignore"):
        w = np.full((3, 4), 70000.0).astype(np.float16)  # past float16's 65504: inf
    assert np.isinf(w).all()
    nodes = [helper.make_node("Cast", ["w16"], ["w"], name="cast", to=1),
             helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="fc", transB=1)]
    path = save_graph(tmp_path / "m.onnx", nodes, {"w16": w, "c": f32(rng, 3)}, [4], [3])
    with pytest.raises(ModelFileError, match=r"node 'fc' \(Gemm\): its weight holds 12 NaN or inf"):
        pyims.load_model(path)


def test_a_nan_gemm_alpha_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    path = _gemm(tmp_path, f32(rng, 3, 4), f32(rng, 3), alpha=float("nan"))
    with pytest.raises(ModelFileError, match=r"node 'fc' \(Gemm\): its weight holds 12 NaN or inf"):
        pyims.load_model(path)


def test_a_batchnorm_with_non_positive_variance_is_refused(tmp_path):
    from onnx import helper

    rng = np.random.default_rng(3)
    # a BatchNormalization right after a Conv (its usual place)
    inits = {"k": f32(rng, 3, 1, 3, 3), "kb": f32(rng, 3), "g": np.ones(3, np.float32), "b": np.zeros(3, np.float32),
             "mu": np.zeros(3, np.float32), "var": np.array([1.0, -0.5, 1.0], np.float32)}
    nodes = [helper.make_node("Conv", ["x", "k", "kb"], ["z"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("BatchNormalization", ["z", "g", "b", "mu", "var"], ["n"], name="bn", epsilon=1e-5),
             helper.make_node("Flatten", ["n"], ["y"], name="flat")]
    path = save_graph(tmp_path / "bn.onnx", nodes, inits, [1, 5, 5], [27])
    with pytest.raises(ModelFileError, match=r"node 'bn' \(BatchNormalization\): variance \+ epsilon is <= 0 or NaN for 1"):
        pyims.load_model(path)


def test_a_nan_hard_sigmoid_alpha_is_refused(tmp_path):
    from onnx import helper

    rng = np.random.default_rng(4)
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["z"], name="fc", transB=1),
             helper.make_node("HardSigmoid", ["z"], ["y"], name="hs", alpha=float("nan"), beta=0.5)]
    path = save_graph(tmp_path / "hs.onnx", nodes, {"w": f32(rng, 3, 4), "c": f32(rng, 3)}, [4], [3])
    with pytest.raises(UnsupportedOpError, match=r"node 'hs' \(HardSigmoid\): alpha=nan"):
        pyims.load_model(path)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_a_pooling_window_entirely_in_padding_is_refused_at_load(tmp_path, op):
    from onnx import helper

    nodes = [helper.make_node(op, ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2], pads=[2, 0, 0, 0]),
             helper.make_node("Flatten", ["p"], ["y"], name="flat")]
    path = save_graph(tmp_path / "pool.onnx", nodes, {}, [1, 4, 4], [12])
    with pytest.raises(UnsupportedOpError, match=r"node 'pool' \(" + op + r"\): .*a pad as large as the kernel"):
        pyims.load_model(path)


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_pooling_layers_check_their_pads(cls):
    cls(kernel=(3, 3), stride=(1, 1), pads=(2, 2, 2, 2))  # smaller than the kernel: fine
    with pytest.raises(SpecError, match=r"pads must be smaller than the kernel on each side"):
        cls(kernel=(2, 2), stride=(2, 2), pads=(0, 0, 0, 2))
    with pytest.raises(SpecError, match=r"pads=\(-1, 0, 0, 0\) must be >= 0"):
        cls(kernel=(2, 2), stride=(2, 2), pads=(-1, 0, 0, 0))


def test_an_overflowing_forward_pass_is_a_typed_error_naming_the_step():
    big = 1e200
    model = Model(steps=(Dense(np.full((2, 2), big), np.zeros(2)), Dense(np.full((2, 2), big), np.zeros(2))),
                  input_shape=(2,), name="overflow")
    x = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    with np.errstate(over="ignore"), pytest.raises(NonFiniteError, match=r"step 1 \(Dense 2->2\) produced NaN or inf for 2 of 3 image\(s\) "
                                             r"\(first: 0, 2\); no outputs are reported"):
        pyims.infer(model, x)
    with np.errstate(over="ignore"), pytest.raises(NonFiniteError, match=r"step 1"):
        pyims.infer(model, x, hardware=pyims.Hardware())  # the mapped, native path too
    small = Model(steps=(Dense(np.eye(2), np.zeros(2)),), input_shape=(2,), name="fine")
    np.testing.assert_allclose(pyims.infer(small, x), x, rtol=1e-15, atol=0.0)  # finite passes untouched
