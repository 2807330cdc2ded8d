"""Small ONNX graphs for the tests, built with ``onnx.helper`` from seeded random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def f32(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def save_graph(path: Path, nodes, inits: dict[str, np.ndarray], in_shape, out_shape, *, in_dims=None,
               opset: int = 17) -> Path:
    """Write a one-input, one-output graph (input ``x``, output ``y``); ``in_dims`` overrides the input dims."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_dims if in_dims is not None else ["N", *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", *out_shape])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, str(path))
    return path


def onnxruntime_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})
    return np.asarray(out, dtype=np.float64).reshape(x.shape[0], -1)


def tiny_cnn(path: Path, seed: int = 0, *, activation: str | None = "Relu", bn: bool = False) -> Path:
    """Conv 1->3 3x3 pad 1 on 8x8 -> [BN] -> act -> MaxPool 2 -> Conv 3->4 3x3 -> act -> Flatten -> Gemm 16->10."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    inits = {"k1": f32(rng, 3, 1, 3, 3, scale=0.6), "b1": f32(rng, 3, scale=0.1),
             "k2": f32(rng, 4, 3, 3, 3, scale=0.4), "b2": f32(rng, 4, scale=0.1),
             "w": f32(rng, 10, 16, scale=0.5), "c": f32(rng, 10, scale=0.1)}
    act = (lambda i, o, n: [helper.make_node(activation, [i], [o], name=n)]) if activation else (
        lambda i, o, n: [helper.make_node("Identity", [i], [o], name=n)])
    nodes = [helper.make_node("Conv", ["x", "k1", "b1"], ["z1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    first = "z1"
    if bn:
        inits.update({"g": (1 + 0.2 * rng.standard_normal(3)).astype(np.float32), "be": f32(rng, 3, scale=0.1),
                      "mu": f32(rng, 3, scale=0.1), "var": (0.5 + rng.uniform(size=3)).astype(np.float32)})
        nodes.append(helper.make_node("BatchNormalization", ["z1", "g", "be", "mu", "var"], ["n1"], name="bn1", epsilon=1e-3))
        first = "n1"
    nodes += act(first, "a1", "act1")
    nodes += [helper.make_node("MaxPool", ["a1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
              helper.make_node("Conv", ["p1", "k2", "b2"], ["z2"], name="conv2", kernel_shape=[3, 3])]
    nodes += act("z2", "a2", "act2")
    nodes += [helper.make_node("Flatten", ["a2"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "w", "c"], ["y"], name="fc", transB=1)]
    return save_graph(path, nodes, inits, (1, 8, 8), (10,))
