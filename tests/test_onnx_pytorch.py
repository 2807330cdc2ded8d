"""Models as ``torch.onnx.export`` writes them, built with ``onnx.helper`` (no torch in CI).

Two exporters: the TorchScript one (``dynamo=False``, opset 17, weights inside the file, ``nn.Linear`` as
``Gemm(transB=1)``, BatchNorm folded into the conv in eval mode, ``nn.Flatten`` as ``Flatten``, ``x.view(x.size(0), -1)``
as ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``) and the default one (``dynamo=True``, opset 18-20, weights as
external data in ``<model>.onnx.data`` beside the model, ``BatchNormalization`` kept, flattening as ``Reshape`` -- of a
constant shape, or of ``Shape(start=0, end=1)`` concatenated with ``-1``). Each model is held against onnxruntime;
the MLPs must map fully-analog and their analog inference on ideal hardware equal the digital one. Then every way
an external-data reference can point outside the model's folder, each a ``ModelFileError`` naming the rule.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import pyims  # noqa: E402
from pyims.errors import ModelFileError, SpecError  # noqa: E402
from pyims.mapping import map_network  # noqa: E402
from pyims.model import load_model  # noqa: E402

N = 6
IN = (1, 8, 8)  # one image (C, H, W)
STYLES = {  # exporter style -> (opset, weights as external data, batch dimension of the graph's input)
    "torchscript-17": (17, False, "batch_size"),
    "torchscript-17-static": (17, False, 1),  # no dynamic_axes: the example's batch of 1 is written into the graph
    "dynamo-18": (18, True, "s0"),
    "dynamo-20": (20, True, "s0"),
}


def _w(rng, *shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _const(name: str, value) -> object:
    return helper.make_node("Constant", [], [name], name=f"/{name}", value=numpy_helper.from_array(np.asarray(value), name))


def _flatten(style: str, src: str, dst: str, n: int, *, view: bool) -> list:
    """The nodes ``nn.Flatten`` (``view=False``) or ``x.view(x.size(0), -1)`` exports as (``n``: values per image)."""
    i64 = np.int64
    if style.startswith("torchscript"):
        if not view:
            return [helper.make_node("Flatten", [src], [dst], name="/Flatten", axis=1)]
        return [helper.make_node("Shape", [src], ["/Shape_output_0"], name="/Shape"),
                _const("/Constant_output_0", np.array(0, dtype=i64)),
                helper.make_node("Gather", ["/Shape_output_0", "/Constant_output_0"], ["/Gather_output_0"], name="/Gather", axis=0),
                _const("/Constant_1_output_0", np.array([0], dtype=i64)),
                helper.make_node("Unsqueeze", ["/Gather_output_0", "/Constant_1_output_0"], ["/Unsqueeze_output_0"], name="/Unsqueeze"),
                _const("/Constant_2_output_0", np.array([-1], dtype=i64)),
                helper.make_node("Concat", ["/Unsqueeze_output_0", "/Constant_2_output_0"], ["/Concat_output_0"], name="/Concat", axis=0),
                helper.make_node("Reshape", [src, "/Concat_output_0"], [dst], name="/Reshape", allowzero=0)]
    if not view:  # the optimiser folds a static shape
        return [_const("val_shape", np.array([-1, n], dtype=i64)), helper.make_node("Reshape", [src, "val_shape"], [dst], name="node_view")]
    return [helper.make_node("Shape", [src], ["sym_size_int"], name="node_Shape_0", start=0, end=1),
            _const("val_minus_one", np.array([-1], dtype=i64)),
            helper.make_node("Concat", ["sym_size_int", "val_minus_one"], ["val_cat"], name="node_Concat_1", axis=0),
            helper.make_node("Reshape", [src, "val_cat"], [dst], name="node_view")]


def _linear(style: str, src: str, dst: str, w: str, b: str) -> object:
    """``nn.Linear``: both exporters write ``Gemm(transB=1)`` for a 2-D input."""
    return helper.make_node("Gemm", [src, w, b], [dst], name=f"/{dst}/Gemm", alpha=1.0, beta=1.0, transB=1)


def _mlp(style: str, rng, *, view: bool) -> tuple[list, dict]:
    inits = {"fc1.weight": _w(rng, 16, 64), "fc1.bias": _w(rng, 16, scale=0.1),
             "fc2.weight": _w(rng, 10, 16), "fc2.bias": _w(rng, 10, scale=0.1)}
    nodes = _flatten(style, "input", "flat", 64, view=view)
    nodes += [_linear(style, "flat", "h", "fc1.weight", "fc1.bias"), helper.make_node("Relu", ["h"], ["a"], name="/relu/Relu"),
              _linear(style, "a", "output", "fc2.weight", "fc2.bias")]
    return nodes, inits


def _cnn(style: str, rng) -> tuple[list, dict]:
    """Conv(1->4, 3x3, pad 1) -> BatchNorm -> ReLU -> MaxPool 2 -> flatten -> Linear(64 -> 10)."""
    k, kb = _w(rng, 4, 1, 3, 3, scale=0.6), _w(rng, 4, scale=0.1)
    g, beta = (1 + 0.2 * rng.standard_normal(4)).astype(np.float32), _w(rng, 4, scale=0.1)
    mu, var = _w(rng, 4, scale=0.1), (0.5 + rng.uniform(size=4)).astype(np.float32)
    inits = {"fc.weight": _w(rng, 10, 64), "fc.bias": _w(rng, 10, scale=0.1)}
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1], "dilations": [1, 1], "group": 1}
    if style.startswith("torchscript"):  # eval-mode export folds the BatchNorm into the conv
        scale = g / np.sqrt(var + 1e-5)
        inits.update({"conv.weight": (k * scale[:, None, None, None]).astype(np.float32),
                      "conv.bias": ((kb - mu) * scale + beta).astype(np.float32)})
        nodes = [helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], name="/conv/Conv", **conv)]
        pool = {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "ceil_mode": 0}
    else:
        inits.update({"conv.weight": k, "conv.bias": kb, "bn.weight": g, "bn.bias": beta, "bn.running_mean": mu,
                      "bn.running_var": var})
        nodes = [helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv"], name="node_conv2d", **conv),
                 helper.make_node("BatchNormalization", ["conv", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
                                  ["c"], name="node_batch_norm", epsilon=1e-5, momentum=0.9, training_mode=0)]
        pool = {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "dilations": [1, 1], "ceil_mode": 0}
    nodes += [helper.make_node("Relu", ["c"], ["r"], name="/relu/Relu"),
              helper.make_node("MaxPool", ["r"], ["p"], name="/pool/MaxPool", **pool)]
    nodes += _flatten(style, "p", "flat", 64, view=True)
    nodes.append(_linear(style, "flat", "output", "fc.weight", "fc.bias"))
    return nodes, inits


def _save(path: Path, style: str, nodes: list, inits: dict, *, opset: int | None = None) -> Path:
    """Write the graph as ``style``'s exporter does (external data: one file ``<name>.data`` beside the model)."""
    op, external, batch = STYLES[style]
    graph = helper.make_graph(nodes, "main_graph",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, *IN])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 10])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset or op)], producer_name="pytorch")
    if external:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=path.name + ".data", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


def _onnxruntime(path: Path, x: np.ndarray, style: str) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    chunks = [x[i : i + 1] for i in range(x.shape[0])] if STYLES[style][2] == 1 else [x]  # a static batch of 1
    return np.concatenate([sess.run(None, {"input": c.astype(np.float32)})[0] for c in chunks]).astype(np.float64)


def _close(ours: np.ndarray, ref: np.ndarray, rel: float) -> None:
    np.testing.assert_allclose(ours, ref, rtol=rel, atol=rel * np.max(np.abs(ref)))


MODELS = ("mlp-flatten", "mlp-view", "cnn")


def _build(tmp_path: Path, style: str, kind: str) -> Path:
    rng = np.random.default_rng(MODELS.index(kind) * 10 + list(STYLES).index(style))
    nodes, inits = _cnn(style, rng) if kind == "cnn" else _mlp(style, rng, view=kind == "mlp-view")
    folder = tmp_path / "export"
    folder.mkdir()
    return _save(folder / f"{kind}.onnx", style, nodes, inits)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("style", list(STYLES))
def test_pytorch_exports_match_onnxruntime(tmp_path, monkeypatch, style, kind):
    path = _build(tmp_path, style, kind)
    assert (path.parent / (path.name + ".data")).is_file() == STYLES[style][1]
    monkeypatch.chdir(tmp_path)  # never read relative to the working directory
    x = np.random.default_rng(7).uniform(size=(N, *IN)).astype(np.float32).astype(np.float64)
    model = load_model(path)
    ours = model.forward(x)
    assert ours.shape == (N, 10)
    _close(ours, _onnxruntime(path, x, style), 1e-5)  # float64 against onnxruntime's float32


@pytest.mark.parametrize("kind", ["mlp-flatten", "mlp-view"])
@pytest.mark.parametrize("style", list(STYLES))
def test_pytorch_mlps_are_fully_analog(tmp_path, style, kind):
    """A leading Flatten / view never makes an MLP "not fully-analog"; the circuit takes the flattened input."""
    model = load_model(_build(tmp_path, style, kind))
    assert model.fully_analog_problem() is None and model.dense_stack() is not None
    net = map_network(model, pyims.Hardware())
    assert net.topology == pyims.FullyAnalog()
    assert net.input_shape == (64,)
    x = np.random.default_rng(8).uniform(size=(N, *IN))
    digital = model.forward(x)
    for hw in (pyims.Hardware(), pyims.Hardware(topology=pyims.FullyAnalog())):
        _close(pyims.infer(model, x, hardware=hw), digital, 1e-9)  # ideal devices, no wires: the same numbers
    _close(pyims.infer(model, x.reshape(N, -1), hardware=pyims.Hardware()), digital, 1e-9)  # flat inputs too
    _close(pyims.infer(model, x, mode="mapped"), digital, 1e-9)


@pytest.mark.parametrize("style", ["torchscript-17", "dynamo-20"])
def test_pytorch_cnn_runs_tiled_and_says_why_not_fully_analog(tmp_path, style):
    model = load_model(_build(tmp_path, style, "cnn"))
    assert model.dense_stack() is None
    assert model.fully_analog_problem() == f"crossbar layer 0 is a convolution ({model.crossbar_layers[0].describe()})"
    x = np.random.default_rng(9).uniform(size=(N, *IN))
    assert map_network(model, pyims.Hardware()).topology == pyims.Tiled()
    _close(pyims.infer(model, x, hardware=pyims.Hardware()), model.forward(x), 1e-9)
    with pytest.raises(SpecError, match=r'fully-analog topology .* runs tile by tile: use pyims.Hardware\(topology="tiled"\)'):
        map_network(model, pyims.Hardware(topology="analog"))
    _close(pyims.infer(model, x, hardware=pyims.Hardware(topology="tiled")), model.forward(x), 1e-9)  # the fix, as typed


def test_trailing_reshape_keeps_the_mlp_fully_analog(tmp_path):
    rng = np.random.default_rng(3)
    nodes, inits = _mlp("dynamo-18", rng, view=False)
    nodes[-1].output[0] = "logits"
    nodes += [_const("val_out", np.array([-1, 2, 5], dtype=np.int64)), helper.make_node("Reshape", ["logits", "val_out"], ["r"]),
              helper.make_node("Flatten", ["r"], ["output"], axis=1)]
    (tmp_path / "m").mkdir()
    path = _save(tmp_path / "m" / "m.onnx", "dynamo-18", nodes, inits)
    model = load_model(path)
    x = np.random.default_rng(4).uniform(size=(N, *IN))
    _close(model.forward(x), _onnxruntime(path, x, "dynamo-18"), 1e-5)
    assert map_network(model, pyims.Hardware()).topology == pyims.FullyAnalog()
    _close(pyims.infer(model, x, hardware=pyims.Hardware()), model.forward(x), 1e-9)


def test_unoptimised_dynamo_linear_folds_the_weight_transpose(tmp_path):
    """``Transpose(weight) -> MatMul -> Add(bias)``: the transpose of an initializer is folded at import."""
    rng = np.random.default_rng(5)
    inits = {"w": _w(rng, 10, 64), "b": _w(rng, 10, scale=0.1)}
    nodes = _flatten("dynamo-18", "input", "flat", 64, view=True)
    nodes += [helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]), helper.make_node("MatMul", ["flat", "wt"], ["mm"]),
              helper.make_node("Add", ["mm", "b"], ["output"])]
    (tmp_path / "m").mkdir()
    path = _save(tmp_path / "m" / "lin.onnx", "dynamo-18", nodes, inits)
    model = load_model(path)
    assert len(model.crossbar_layers) == 1 and model.dense_stack() is not None
    x = np.random.default_rng(6).uniform(size=(N, *IN))
    _close(model.forward(x), _onnxruntime(path, x, "dynamo-18"), 1e-5)


def test_view_computed_from_the_batch_size_is_refused(tmp_path):
    """``x.view(x.size(0) * 2, -1)``: a target shape computed from the batch size moves values across images."""
    nodes, inits = _mlp("torchscript-17", np.random.default_rng(0), view=True)
    k = next(i for i, n in enumerate(nodes) if n.op_type == "Unsqueeze")
    nodes[k].input[0] = "twice"
    nodes.insert(k, helper.make_node("Mul", ["/Gather_output_0", "two"], ["twice"]))
    nodes.insert(k, _const("two", np.array(2, dtype=np.int64)))
    (tmp_path / "m").mkdir()
    path = _save(tmp_path / "m" / "m.onnx", "torchscript-17", nodes, inits)
    with pytest.raises(ModelFileError, match=r"'/Reshape' \(Reshape\): its target shape is computed from the batch size"):
        load_model(path)


# ------------------------------------------------------------------ why a model is not fully-analog
def _dense_model(layers):
    from pyims.model.graph import Model

    return Model(steps=tuple(layers), input_shape=(4,))


def test_fully_analog_problem_names_the_cause():
    from pyims.model.layers import Activation, Dense
    from pyims.model.neurons import NeuronSpec
    from pyims.model.shape import Softmax

    rng = np.random.default_rng(0)
    d1, d2, d3 = (Dense(rng.standard_normal((4, 4)), np.zeros(4)) for _ in range(3))
    relu, sig = Activation(NeuronSpec(kind="relu")), Activation(NeuronSpec(kind="sigmoid"))
    assert _dense_model([d1, relu, d2]).fully_analog_problem() is None
    assert _dense_model([d1, relu, d2, relu, d3]).dense_stack() == ((d1, d2, d3), NeuronSpec(kind="relu"))
    cases = {
        (d1, relu, d2, sig, d3): "different activations between its dense layers (relu after dense layer 0, sigmoid after "
                                 "dense layer 1)",
        (d1, d2): "no activation between dense layers 0 and 1 (steps 0 and 1)",
        (d1, relu, relu, d2): "2 activations between dense layers 0 and 1",
        (d1, Softmax(), d2): "a Softmax between dense layers 0 and 1",
        (relu, d1): "step 0 (Activation relu) comes before the first dense layer",
        (d1, relu, d2, Softmax()): "step 3 (Softmax) follows the last dense layer",
    }
    for layers, why in cases.items():
        model = _dense_model(layers)
        assert model.fully_analog_problem().startswith(why), (layers, model.fully_analog_problem())
        assert model.dense_stack() is None


# ------------------------------------------------------------------ external data stays in the model's folder
def _external_model(tmp_path: Path) -> Path:
    """A dynamo-style MLP in ``tmp_path/model/`` with its weights in ``mlp.onnx.data``."""
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    nodes, inits = _mlp("dynamo-20", np.random.default_rng(1), view=False)
    return _save(folder / "mlp.onnx", "dynamo-20", nodes, inits)


def _rewrite(path: Path, change) -> None:
    """Apply ``change(tensor)`` to every external initializer of the model file ``path``, in place."""
    proto = onnx.load(str(path), load_external_data=False)
    for t in proto.graph.initializer:
        change(t)
    path.write_bytes(proto.SerializeToString())


def _set(tensor, key: str, value: str) -> None:
    for e in tensor.external_data:
        if e.key == key:
            e.value = value
            return
    tensor.external_data.add(key=key, value=value)


def test_external_data_is_read_from_the_models_folder(tmp_path, monkeypatch):
    path = _external_model(tmp_path)
    monkeypatch.chdir(tmp_path)
    rel = load_model(Path("model") / "mlp.onnx")  # a relative model path: its folder, not the working directory
    monkeypatch.chdir(path.parent)
    _close(load_model("mlp.onnx").forward(np.ones((1, 64))), rel.forward(np.ones((1, 64))), 1e-15)


def test_external_data_absolute_location_is_refused(tmp_path):
    path = _external_model(tmp_path)
    data = path.parent / "mlp.onnx.data"
    _rewrite(path, lambda t: _set(t, "location", str(data)))  # even one that points at the right file
    with pytest.raises(ModelFileError, match=r"tensor 'fc1.weight' \(initializer\) keeps its data in external file '/.*mlp.onnx.data', "
                                             r"an absolute path; pyims reads external data only from a relative path"):
        load_model(path)


def test_external_data_dotdot_is_refused(tmp_path):
    path = _external_model(tmp_path)
    (tmp_path / "secret.bin").write_bytes(b"\0" * 4096)
    _rewrite(path, lambda t: _set(t, "location", "../secret.bin"))
    with pytest.raises(ModelFileError, match=r"external file '../secret.bin', which climbs out of the folder with '..'; "
                                             r"pyims reads external data only from a relative path to a regular file inside "
                                             r"the model's own folder"):
        load_model(path)


def test_external_data_symlink_out_of_the_folder_is_refused(tmp_path):
    path = _external_model(tmp_path)
    outside = tmp_path / "elsewhere.data"
    outside.write_bytes((path.parent / "mlp.onnx.data").read_bytes())
    link = path.parent / "link.data"
    try:
        os.symlink(outside, link)
    except OSError:
        pytest.skip("no symbolic links on this file system")
    _rewrite(path, lambda t: _set(t, "location", "link.data"))
    with pytest.raises(ModelFileError, match=r"external file 'link.data', which resolves to .*elsewhere.data, outside the "
                                             r"model's folder \(a symbolic link\)"):
        load_model(path)


def test_external_data_symlink_inside_the_folder_is_refused_by_onnx(tmp_path):
    path = _external_model(tmp_path)
    os.symlink(path.parent / "mlp.onnx.data", path.parent / "link.data")
    _rewrite(path, lambda t: _set(t, "location", "link.data"))
    with pytest.raises(ModelFileError, match=r"its external data cannot be read: .*symbolic link"):
        load_model(path)


def test_external_data_missing_file_is_refused(tmp_path):
    path = _external_model(tmp_path)
    (path.parent / "mlp.onnx.data").unlink()
    with pytest.raises(ModelFileError, match=r"tensor 'fc1.weight' \(initializer\) keeps its data in external file "
                                             r"'mlp.onnx.data', which does not exist \(looked for .*mlp.onnx.data\)"):
        load_model(path)


@pytest.mark.parametrize("key, value, why", [
    ("offset", "1000000", r"at bytes 1000000\.\.1004096, beyond the file's \d+ bytes"),
    ("length", "99999999", r"at bytes 0\.\.99999999, beyond the file's \d+ bytes"),
    ("offset", "-4", r"at offset '-4', which is not a non-negative whole number"),
    ("length", "8", r"with 8 bytes at offset 0, but its shape \[16, 64\] needs 4096"),
])
def test_external_data_out_of_range_is_refused(tmp_path, key, value, why):
    path = _external_model(tmp_path)
    proto = onnx.load(str(path), load_external_data=False)
    _set(proto.graph.initializer[0], key, value)
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFileError, match=r"tensor 'fc1.weight' \(initializer\) keeps its data in external file "
                                             r"'mlp.onnx.data', " + why):
        load_model(path)


def _constant_external(tmp_path: Path, location: str) -> Path:
    """An MLP whose second bias comes from a ``Constant`` node holding external data at ``location`` (issue #25)."""
    folder = tmp_path / "model"
    folder.mkdir()
    nodes, inits = _mlp("torchscript-17", np.random.default_rng(2), view=False)
    bias = inits.pop("fc2.bias")
    value = numpy_helper.from_array(bias, "fc2.bias")
    value.ClearField("raw_data")
    value.data_location = TensorProto.EXTERNAL
    value.external_data.add(key="location", value=location)
    value.external_data.add(key="length", value=str(bias.nbytes))
    nodes.insert(0, helper.make_node("Constant", [], ["fc2.bias"], name="/Constant_bias", value=value))
    return _save(folder / "m.onnx", "torchscript-17", nodes, inits)


def test_external_constant_outside_the_folder_is_refused(tmp_path):
    (tmp_path / "user_file.txt").write_bytes(b"private data" + b"\0" * 28)
    path = _constant_external(tmp_path, "../user_file.txt")
    with pytest.raises(ModelFileError, match=r"tensor 'fc2.bias' \(node '/Constant_bias' \(Constant\) attribute 'value'\) keeps "
                                             r"its data in external file '../user_file.txt', which climbs out"):
        load_model(path)


def test_external_constant_is_never_read_from_the_working_directory(tmp_path, monkeypatch):
    """Issue #25, failure 1: a relative location was read relative to the process's working directory."""
    path = _constant_external(tmp_path, "user_file.txt")
    (tmp_path / "user_file.txt").write_bytes(b"private data" + b"\0" * 28)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError, match=r"'user_file.txt', which does not exist \(looked for .*model.user_file.txt\)"):
        load_model(path)
    (path.parent / "user_file.txt").write_bytes(np.arange(10, dtype=np.float32).tobytes())  # beside the model: read
    model = load_model(path)
    np.testing.assert_array_equal(model.crossbar_layers[1].bias, np.arange(10.0))


def test_external_data_in_a_subgraph_is_checked(tmp_path):
    """A tensor inside a subgraph attribute (an ``If`` branch) is checked like any other, before anything is read."""
    folder = tmp_path / "model"
    folder.mkdir()
    t = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "hidden")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="/etc/hostname")
    branch = helper.make_graph([helper.make_node("Constant", [], ["v"], value=t)], "then", [],
                               [helper.make_tensor_value_info("v", TensorProto.FLOAT, [4])])
    nodes = [_const("cond", np.array(True)), helper.make_node("If", ["cond"], ["o"], name="branchy", then_branch=branch,
                                                              else_branch=branch)]
    nodes += _mlp("torchscript-17", np.random.default_rng(0), view=False)[0]
    inits = _mlp("torchscript-17", np.random.default_rng(0), view=False)[1]
    path = _save(folder / "m.onnx", "torchscript-17", nodes, inits)
    with pytest.raises(ModelFileError, match=r"tensor 'hidden' \(node 'branchy' \(If\) attribute 'else_branch' > node '\(unnamed\)' "
                                             r"\(Constant\) attribute 'value'\) keeps its data in external file '/etc/hostname', "
                                             r"an absolute path"):
        load_model(path)


def test_data_file_given_as_the_model_says_which_file_to_pass(tmp_path):
    path = _external_model(tmp_path)
    with pytest.raises(ModelFileError, match=r"mlp.onnx.data is the external data of an ONNX model; pass the model "
                                             r"file beside it \(mlp.onnx\)"):
        load_model(path.parent / "mlp.onnx.data")


@pytest.mark.ngspice
def test_flatten_mlp_runs_as_one_circuit_in_ngspice(tmp_path):
    """The fully-analog netlist of a dynamo-exported MLP with a leading view: ngspice equals digital (ideal hardware)."""
    model = load_model(_build(tmp_path, "dynamo-18", "mlp-view"))
    x = np.random.default_rng(10).uniform(size=(2, *IN))
    out = pyims.infer(model, x, hardware=pyims.Hardware(topology="analog"), backend="ngspice")
    _close(out, model.forward(x), 1e-9)  # measured 3e-15


def test_external_data_symlink_loop_is_refused(tmp_path):
    path = _external_model(tmp_path)
    os.symlink("loop_b", path.parent / "loop_a")
    os.symlink("loop_a", path.parent / "loop_b")
    _rewrite(path, lambda t: _set(t, "location", "loop_a"))
    with pytest.raises(ModelFileError, match=r"external file 'loop_a', which (cannot be resolved|does not exist)"):
        load_model(path)
