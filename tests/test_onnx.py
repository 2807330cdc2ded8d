"""ONNX import: every supported op against onnxruntime on random inputs, folding, and every error path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import helper  # noqa: E402
from onnx_graphs import f32, onnxruntime_outputs, save_graph, tiny_cnn  # noqa: E402

import pyims  # noqa: E402
from pyims.errors import ModelFileError, UnsupportedOpError  # noqa: E402
from pyims.model import load_model  # noqa: E402
from pyims.model.conv import Conv2d  # noqa: E402
from pyims.model.layers import Dense  # noqa: E402
from pyims.model.onnx_import import SUPPORTED_OPS  # noqa: E402

REL = 1e-5  # digital (float64) vs onnxruntime (float32), relative to the largest output


def _close(path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ours = load_model(path).forward(x)
    ref = onnxruntime_outputs(path, x)
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) <= REL * np.max(np.abs(ref))
    return ours, ref


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32).astype(np.float64)


N = 7


def _conv_graph(tmp_path, **attrs):
    rng = np.random.default_rng(1)
    inits = {"k": f32(rng, 4, 2, 3, 2), "b": f32(rng, 4)}
    node = helper.make_node("Conv", ["x", "k", "b"], ["y"], kernel_shape=[3, 2], **attrs)
    return save_graph(tmp_path / "conv.onnx", [node], inits, (2, 9, 8), ("?", "?", "?"))


@pytest.mark.parametrize("attrs", [{}, {"strides": [2, 1]}, {"pads": [1, 0, 2, 1]}, {"strides": [2, 3], "pads": [1, 1, 1, 1]},
                                   {"auto_pad": "SAME_UPPER"}, {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
                                   {"auto_pad": "VALID"}], ids=str)
def test_conv_matches_onnxruntime(tmp_path, attrs):
    path = _conv_graph(tmp_path, **attrs)
    _close(path, _x(np.random.default_rng(2), N, 2, 9, 8))
    (layer,) = load_model(path).crossbar_layers
    assert isinstance(layer, Conv2d) and layer.n_in == 2 * 3 * 2 and layer.n_out == 4


def test_conv_is_a_dense_product_of_patches():
    """im2col by hand: y[n, o, i, j] from a loop over the kernel equals the layer's unrolled product."""
    rng = np.random.default_rng(3)
    k, b = rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    conv = Conv2d.from_kernel(k, b, stride=(2, 1), pads=(1, 0, 0, 2))
    x = rng.standard_normal((2, 2, 5, 6))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 2)))
    ho, wo = conv.out_hw(5, 6)
    want = np.empty((2, 3, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, 2 * i : 2 * i + 2, j : j + 3]
            want[:, :, i, j] = np.einsum("ncyx,ocyx->no", patch, k) + b
    got = conv.fold(conv.float_forward(conv.unroll(x)), x)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(conv.kernel_oihw, k)


@pytest.mark.parametrize("op, attrs", [("Relu", {}), ("Sigmoid", {}), ("Tanh", {}), ("HardSigmoid", {}),
                                       ("HardSigmoid", {"alpha": 1 / 6}), ("Softmax", {}), ("LogSoftmax", {"axis": 1}),
                                       ("Identity", {}), ("Dropout", {})], ids=lambda v: str(v))
def test_elementwise_ops_match_onnxruntime(tmp_path, op, attrs):
    rng = np.random.default_rng(4)
    inits = {"w": f32(rng, 6, 5), "b": f32(rng, 5)}
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node(op, ["h"], ["y"], **attrs)]
    path = save_graph(tmp_path / "e.onnx", nodes, inits, (6,), (5,))
    _close(path, 3 * _x(rng, N, 6))


@pytest.mark.parametrize("op, attrs", [
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 1], "pads": [1, 1, 1, 1]}),
    ("AveragePool", {"kernel_shape": [2, 3], "strides": [1, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    ("GlobalAveragePool", {}),
], ids=lambda v: str(v))
def test_pooling_matches_onnxruntime(tmp_path, op, attrs):
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Conv", ["x", "k"], ["z"], kernel_shape=[1, 1]), helper.make_node(op, ["z"], ["y"], **attrs)]
    path = save_graph(tmp_path / "p.onnx", nodes, {"k": f32(rng, 3, 3, 1, 1)}, (3, 7, 8), ("?", "?", "?"))
    _close(path, _x(rng, N, 3, 7, 8))


def test_flatten_reshape_matmul_add_match_onnxruntime(tmp_path):
    rng = np.random.default_rng(6)
    inits = {"shape": np.array([0, -1], dtype=np.int64), "w": f32(rng, 24, 5), "b": f32(rng, 5),
             "shape2": np.array([-1, 5, 1], dtype=np.int64)}
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("MatMul", ["r", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["a"]), helper.make_node("Reshape", ["a", "shape2"], ["r2"]),
             helper.make_node("Flatten", ["r2"], ["y"])]
    path = save_graph(tmp_path / "r.onnx", nodes, inits, (2, 3, 4), (5,))
    _close(path, _x(rng, N, 2, 3, 4))
    layers = load_model(path).crossbar_layers
    assert len(layers) == 1 and isinstance(layers[0], Dense)  # the Add became the bias


@pytest.mark.parametrize("trans_b, alpha, beta", [(0, 1.0, 1.0), (1, 0.5, 2.0)])
def test_gemm_attributes_match_onnxruntime(tmp_path, trans_b, alpha, beta):
    rng = np.random.default_rng(7)
    w = f32(rng, 4, 6) if trans_b else f32(rng, 6, 4)
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=trans_b, alpha=alpha, beta=beta)
    path = save_graph(tmp_path / "g.onnx", [node], {"w": w, "c": f32(rng, 1, 4)}, (6,), (4,))
    _close(path, _x(rng, N, 6))


@pytest.mark.parametrize("after", ["conv", "gemm"])
def test_batchnorm_is_folded_into_the_layer_before(tmp_path, after):
    rng = np.random.default_rng(8)
    c = 4
    inits = {"g": (1 + 0.3 * rng.standard_normal(c)).astype(np.float32), "be": f32(rng, c), "mu": f32(rng, c),
             "var": (0.2 + rng.uniform(size=c)).astype(np.float32)}
    if after == "conv":
        inits.update(k=f32(rng, c, 2, 3, 3), b=f32(rng, c))
        first = helper.make_node("Conv", ["x", "k", "b"], ["z"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        shape, out = (2, 5, 5), (c, 5, 5)
    else:
        inits.update(w=f32(rng, 6, c), b=f32(rng, c))
        first = helper.make_node("Gemm", ["x", "w", "b"], ["z"])
        shape, out = (6,), (c,)
    nodes = [first, helper.make_node("BatchNormalization", ["z", "g", "be", "mu", "var"], ["y"], epsilon=1e-3)]
    path = save_graph(tmp_path / "bn.onnx", nodes, inits, shape, out)
    _close(path, _x(rng, N, *shape))
    model = load_model(path)
    assert len(model.steps) == 1  # folded: one crossbar layer, no BatchNorm step


def test_residual_add_between_layers_matches_onnxruntime(tmp_path):
    """x -> conv1 -> relu -> conv2 (+ x) -> relu -> flatten -> gemm: the Add reads two computed tensors."""
    rng = np.random.default_rng(9)
    inits = {"k1": f32(rng, 2, 2, 3, 3, scale=0.5), "b1": f32(rng, 2), "k2": f32(rng, 2, 2, 3, 3, scale=0.5),
             "b2": f32(rng, 2), "w": f32(rng, 2 * 6 * 6, 3), "c": f32(rng, 3)}
    nodes = [helper.make_node("Conv", ["x", "k1", "b1"], ["z1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["z1"], ["a1"]),
             helper.make_node("Conv", ["a1", "k2", "b2"], ["z2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["z2", "x"], ["s"]), helper.make_node("Relu", ["s"], ["a2"]),
             helper.make_node("Flatten", ["a2"], ["f"]), helper.make_node("Gemm", ["f", "w", "c"], ["y"])]
    path = save_graph(tmp_path / "res.onnx", nodes, inits, (2, 6, 6), (3,))
    _close(path, _x(rng, N, 2, 6, 6))


def test_the_committed_lenet_matches_onnxruntime():
    """The example LeNet (examples/cnn) on Fashion-MNIST test images: pyims' digital pass equals onnxruntime."""
    from pyims.data import load_dataset

    path = Path(__file__).resolve().parents[1] / "examples" / "cnn" / "lenet_fashion.onnx"
    ds = load_dataset("fashion-mnist", max_test=300)
    ours, ref = _close(path, ds.test.x_norm.reshape(-1, 1, 28, 28))
    assert np.mean(ours.argmax(1) == ds.test.y) > 0.8  # a trained network, not chance


def test_supported_list_is_what_the_importer_handles(tmp_path):
    """Every op named in SUPPORTED_OPS is exercised by a test of this module (and Constant below)."""
    text = Path(__file__).read_text()
    for op in SUPPORTED_OPS:
        assert f'"{op}"' in text, op


def test_constant_nodes_feed_weights(tmp_path):
    from onnx import numpy_helper

    rng = np.random.default_rng(10)
    w = f32(rng, 3, 2)
    nodes = [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w)),
             helper.make_node("MatMul", ["x", "w"], ["y"])]
    path = save_graph(tmp_path / "c.onnx", nodes, {}, (3,), (2,))
    _close(path, _x(rng, N, 3))


# ------------------------------------------------------------------ errors

def _one(tmp_path, node, inits=None, shape=(4,), out=(4,), **kw):
    return save_graph(tmp_path / "bad.onnx", [node], inits or {}, shape, out, **kw)


def test_unsupported_op_names_the_op_the_node_and_the_list(tmp_path):
    path = _one(tmp_path, helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky0"))
    with pytest.raises(UnsupportedOpError, match=r"node 'leaky0' \(LeakyRelu\): this operator is not supported; pyims maps Conv, Gemm") as e:
        load_model(path)
    assert e.value.op == "LeakyRelu" and e.value.node == "leaky0"


@pytest.mark.parametrize("case, match", [
    ("group", r"group=2; pyims maps groups = 1"),
    ("dilation", r"dilations=\[2, 2\]"),
    ("hardsigmoid_beta", r"beta=0.3"),
    ("ceil", r"ceil_mode = 1"),
    ("flatten_axis", r"axis=2"),
    ("bn_alone", r"BatchNormalization is folded into the conv or dense layer right before it"),
    ("add_const", r"adding a constant is supported only as the bias"),
    ("runtime_weight", r"kernel \('k'\) is computed at run time"),
    ("shape_op", r"\(Expand\): this operator is not supported"),  # Shape itself is folded at import
])
def test_unmappable_graphs_are_refused_with_the_reason(tmp_path, case, match):
    rng = np.random.default_rng(11)
    if case in ("group", "dilation"):
        attrs = {"group": 2} if case == "group" else {"dilations": [2, 2]}
        k = f32(rng, 4, 1 if case == "group" else 2, 3, 3)
        path = _one(tmp_path, helper.make_node("Conv", ["x", "k"], ["y"], kernel_shape=[3, 3], **attrs), {"k": k},
                    (2, 8, 8), (4, "?", "?"))
    elif case == "hardsigmoid_beta":
        path = _one(tmp_path, helper.make_node("HardSigmoid", ["x"], ["y"], beta=0.3))
    elif case == "ceil":
        path = _one(tmp_path, helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], ceil_mode=1), None,
                    (1, 5, 5), (1, 3, 3))
    elif case == "flatten_axis":
        path = _one(tmp_path, helper.make_node("Flatten", ["x"], ["y"], axis=2), None, (2, 3, 4), (12,))
    elif case == "bn_alone":
        inits = {n: np.ones(2, np.float32) for n in ("g", "be", "mu", "var")}
        path = _one(tmp_path, helper.make_node("BatchNormalization", ["x", "g", "be", "mu", "var"], ["y"]), inits,
                    (2, 3, 3), (2, 3, 3))
    elif case == "add_const":
        path = _one(tmp_path, helper.make_node("Add", ["x", "b"], ["y"]), {"b": f32(rng, 4)})
    elif case == "runtime_weight":
        nodes = [helper.make_node("Relu", ["x"], ["k"]), helper.make_node("Conv", ["x", "k"], ["y"], kernel_shape=[1, 1])]
        path = save_graph(tmp_path / "bad.onnx", nodes, {}, (1, 1, 1), (1, 1, 1), in_dims=[1, 1, 1, 1])
    else:
        nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Expand", ["x", "s"], ["y"])]
        path = save_graph(tmp_path / "bad.onnx", nodes, {}, (4,), (4,))
    with pytest.raises(UnsupportedOpError, match=match):
        load_model(path)


def test_a_graph_without_a_crossbar_layer_is_refused(tmp_path):
    path = _one(tmp_path, helper.make_node("Relu", ["x"], ["y"]))
    with pytest.raises(ModelFileError, match="has no dense or convolution layer"):
        load_model(path)


def test_dynamic_input_shapes_are_refused(tmp_path):
    path = _one(tmp_path, helper.make_node("Relu", ["x"], ["y"]), None, in_dims=["N", 1, "H", 28])
    with pytest.raises(ModelFileError, match=r"dynamic dimension 2 \(H\).*fixed"):
        load_model(path)


def test_shape_mismatch_names_the_node(tmp_path):
    rng = np.random.default_rng(12)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], name="fc")]
    path = save_graph(tmp_path / "m.onnx", nodes, {"w": f32(rng, 10, 3)}, (2, 3, 3), (3,))
    with pytest.raises(ModelFileError, match=r"node 'fc' \(Gemm\) does not fit its input shape \[\(18,\)\]"):
        load_model(path)


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\xffthis is not protobuf" * 10)
    with pytest.raises(ModelFileError, match="not a readable ONNX model|not a valid ONNX model"):
        load_model(garbage)
    other = tmp_path / "weights.h5"
    other.write_bytes(b"x")
    with pytest.raises(ModelFileError, match=r"pyims reads \.onnx, \.npz"):
        load_model(other)


def test_npz_and_csv_weights_load_as_models(tmp_path):
    from pyims.model import MLP, save_csv_weights, save_npz_weights

    rng = np.random.default_rng(13)
    mlp = MLP(weights=(rng.standard_normal((5, 4)), rng.standard_normal((4, 3))), biases=(np.zeros(4), np.ones(3)))
    save_npz_weights(mlp, tmp_path / "w.npz")
    save_csv_weights(mlp, tmp_path / "csv")
    x = rng.standard_normal((6, 5))
    for path in (tmp_path / "w.npz", tmp_path / "csv"):
        model = load_model(path)
        want = mlp.logits(x)
        np.testing.assert_allclose(model.forward(x), want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
        assert model.dense_stack() is not None


def test_tiny_cnn_fixture_matches_onnxruntime(tmp_path):
    for bn in (False, True):
        path = tiny_cnn(tmp_path / f"cnn{bn}.onnx", bn=bn)
        _close(path, _x(np.random.default_rng(14), N, 1, 8, 8))
    assert isinstance(pyims.load_model(path), pyims.Model)


@pytest.mark.parametrize("cls", ["max", "avg"])
def test_pooling_fast_path_equals_sliding_windows(cls):
    """kernel == stride without padding takes a reshape; it equals the general sliding-window pooling (odd sizes too)."""
    from pyims.model.pooling import AvgPool2d, MaxPool2d, _windows

    a = np.random.default_rng(15).standard_normal((3, 2, 9, 7))
    layer = (MaxPool2d if cls == "max" else AvgPool2d)(kernel=(2, 3), stride=(2, 3))
    ref = _windows(a, (2, 3), (2, 3), (0, 0, 0, 0), 0.0)
    want = ref.max(axis=(4, 5)) if cls == "max" else ref.mean(axis=(4, 5))
    np.testing.assert_allclose(layer(a), want, rtol=1e-14, atol=1e-14)
