"""#25, property tests of the ONNX loader: valid graphs (``tests/onnx_graphs.py``) mutated and fed to ``load_model``.

Mutations: initializer dims (0, negative, huge), types and values (NaN, inf, float32's largest), a tensor moved to
external data (a location with ``..``, absolute, a symbolic link out of or inside the folder, a missing file, offsets
and lengths out of range) or into a ``Constant`` node, node attributes changed or added, op types swapped, inputs
rewired, the graph input's dims (0, negative, symbolic, huge), a subgraph holding a tensor, the file's bytes cut.

The loader either raises a ``PyimsError`` or returns a model that agrees with onnxruntime on a random input
(``rtol`` 1e-4, ``atol`` 1e-5 of the output's scale: pyims computes in float64, onnxruntime in float32); while it runs,
nothing is opened outside the model's folder (the audit hook of ``test_props_config``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from onnx_graphs import f32, onnxruntime_outputs, save_graph, tiny_cnn  # noqa: E402
from test_props_config import _assert_reads_stay_home, _opened_by  # noqa: E402  (one audit hook per session)

from pyims import load_model  # noqa: E402
from pyims.errors import ModelFileError, PyimsError  # noqa: E402
from pyims.model.onnx_import import MAX_PROBE_VALUES  # noqa: E402

SETTINGS = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                        HealthCheck.function_scoped_fixture])


def _mlp(path: Path, seed: int = 0) -> Path:
    """Flatten -> Gemm 12->6 -> Sigmoid -> MatMul 6->4 -> Add bias -> Softmax, on a (3, 2, 2) input."""
    rng = np.random.default_rng(seed)
    inits = {"w1": f32(rng, 6, 12, scale=0.5), "b1": f32(rng, 6, scale=0.1), "w2": f32(rng, 6, 4, scale=0.5),
             "b2": f32(rng, 4, scale=0.1)}
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w1", "b1"], ["z1"], name="fc1", transB=1, alpha=1.0, beta=1.0),
             helper.make_node("Sigmoid", ["z1"], ["a1"], name="act1"),
             helper.make_node("MatMul", ["a1", "w2"], ["z2"], name="fc2"),
             helper.make_node("Add", ["z2", "b2"], ["z3"], name="bias2"),
             helper.make_node("Softmax", ["z3"], ["y"], name="soft", axis=-1)]
    return save_graph(path, nodes, inits, (3, 2, 2), (4,))


BASES = {
    "cnn": lambda p: tiny_cnn(p, 1),
    "cnn_bn_tanh": lambda p: tiny_cnn(p, 2, activation="Tanh", bn=True),
    "cnn_linear": lambda p: tiny_cnn(p, 3, activation=None),
    "mlp": lambda p: _mlp(p, 4),
}

_DIMS = st.sampled_from([-1, 0, 1, 2, 3, 8, 16, 2**31, 2**62])
_VALUES = st.sampled_from([np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 0.0, 1e-45, 0.5, -2.0, 100.0])
_LOCATIONS = st.sampled_from(["w.bin", "w.bin", "sub/w.bin", "../w.bin", "sub/../w.bin", "{outside}/w.bin", "link_out.bin", "link_in.bin",
                              "missing.bin", "", "sub/w.bin", "..\\w.bin", "C:\\w.bin", "w.bin\x00.txt", "."])
_OPS = st.sampled_from(["Relu", "Conv", "Gemm", "MatMul", "Add", "LSTM", "Loop", "Resize", "Flatten", "MaxPool",
                        "Identity", "Softmax", "Reshape", "Shape", "Cast", "Gather", "Concat", "Mul", "Custom"])
_ATTR_VALUES = st.one_of(st.sampled_from([-(2**62), -1, 0, 1, 2, 3, 2**31]), st.sampled_from([np.nan, -1.0, 0.0, 1e30]),
                         st.lists(st.sampled_from([-1, 0, 1, 2, 5, 10**6]), min_size=0, max_size=5),
                         st.sampled_from(["SAME_UPPER", "VALID", "NOTSET", "BOGUS", ""]))
_ATTR_NAMES = st.sampled_from(["kernel_shape", "pads", "strides", "dilations", "group", "auto_pad", "ceil_mode", "axis",
                               "transA", "transB", "alpha", "beta", "epsilon", "count_include_pad", "allowzero", "new"])


def _bytes_of(tensor) -> bytes:
    """The tensor's data as stored (an earlier mutation may have made it undecodable: then its raw bytes)."""
    try:
        return numpy_helper.to_array(tensor).tobytes()
    except Exception:
        return bytes(tensor.raw_data)


def _attribute(name: str, value):
    if isinstance(value, list) and not value:  # onnx cannot infer the type of an empty list
        return helper.make_attribute(name, value, attr_type=onnx.AttributeProto.INTS)
    return helper.make_attribute(name, value)


def _externalise(tensor, folder: Path, outside: Path, draw) -> None:
    """Move ``tensor``'s bytes to a file and point it there with a drawn location, offset and length."""
    raw = _bytes_of(tensor)
    loc = draw(_LOCATIONS).replace("{outside}", str(outside))
    for where in (folder / "w.bin", outside / "w.bin", folder / "sub" / "w.bin"):
        where.parent.mkdir(exist_ok=True)
        where.write_bytes(raw)
    for name, target in (("link_out.bin", outside / "w.bin"), ("link_in.bin", folder / "w.bin")):
        if not (folder / name).exists():
            os.symlink(target, folder / name)
    tensor.ClearField("raw_data")
    for field in ("float_data", "int32_data", "int64_data", "double_data"):
        tensor.ClearField(field)
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=loc)
    if draw(st.booleans()):
        tensor.external_data.add(key="offset", value=draw(st.sampled_from(["0", "4", "-4", "99999999", "1e3"])))
    if draw(st.booleans()):
        tensor.external_data.add(key="length", value=draw(st.sampled_from([str(len(raw)), "0", "4", "99999999"])))


def _mutate(proto, folder: Path, outside: Path, draw) -> None:
    graph = proto.graph
    op = draw(st.sampled_from(["values", "dims", "dtype", "external", "constant", "attr", "add_attr", "op_type",
                               "rewire", "input_dims", "subgraph"]))
    inits = list(graph.initializer)
    init = draw(st.sampled_from(inits))
    node = draw(st.sampled_from(list(graph.node)))
    if op == "values":
        a = np.frombuffer(_bytes_of(init)[: len(_bytes_of(init)) // 4 * 4], dtype=np.float32).copy()
        if a.size:
            a[draw(st.integers(0, a.size - 1))] = draw(_VALUES)
            init.CopyFrom(numpy_helper.from_array(a.reshape(init.dims) if a.size == np.prod(init.dims) else a, init.name))
    elif op == "dims":
        del init.dims[:]
        init.dims.extend(draw(st.lists(_DIMS, max_size=4)))
    elif op == "dtype":
        init.data_type = draw(st.integers(0, 25))
    elif op == "external":
        _externalise(init, folder, outside, draw)
    elif op == "constant":  # the initializer becomes a Constant node's value (possibly held externally)
        graph.initializer.remove(init)
        value = TensorProto()
        value.CopyFrom(init)
        if draw(st.booleans()):
            _externalise(value, folder, outside, draw)
        graph.node.insert(0, helper.make_node("Constant", [], [init.name], name="const_" + init.name, value=value))
    elif op == "attr" and len(node.attribute):
        k = draw(st.integers(0, len(node.attribute) - 1))
        name = node.attribute[k].name
        del node.attribute[k]
        node.attribute.append(_attribute(name, draw(_ATTR_VALUES)))
    elif op == "add_attr":
        name = draw(_ATTR_NAMES)
        for k in range(len(node.attribute) - 1, -1, -1):
            if node.attribute[k].name == name:
                del node.attribute[k]
        node.attribute.append(_attribute(name, draw(_ATTR_VALUES)))
    elif op == "op_type":
        node.op_type = draw(_OPS)
    elif op == "rewire" and len(node.input):
        names = ["x"] + [o for n in graph.node for o in n.output] + [i.name for i in inits] + ["nowhere", ""]
        node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
    elif op == "input_dims":
        dims = graph.input[0].type.tensor_type.shape.dim
        k = draw(st.integers(0, len(dims) - 1))
        if draw(st.booleans()):
            dims[k].dim_param = "H"
        else:
            dims[k].dim_value = draw(_DIMS)
    elif op == "subgraph":
        t = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "hidden")
        if draw(st.booleans()):
            _externalise(t, folder, outside, draw)
        branch = helper.make_graph([helper.make_node("Constant", [], ["v"], value=t)], "then", [],
                                   [helper.make_tensor_value_info("v", TensorProto.FLOAT, [4])])
        graph.initializer.append(numpy_helper.from_array(np.array(True), "cond"))
        graph.node.insert(0, helper.make_node("If", ["cond"], ["unused"], name="branchy", then_branch=branch,
                                              else_branch=branch))


@st.composite
def cases(draw):
    cut = draw(st.floats(0, 1)) if draw(st.integers(0, 4)) == 0 else None  # one file in five cut short
    return draw(st.sampled_from(sorted(BASES))), draw(st.integers(1, 2)), cut


def _agree_with_onnxruntime(model, path: Path, seed: int) -> str:
    """How the model compared with onnxruntime: "agrees", or why there was nothing to compare (AssertionError when
    they differ)."""
    batch = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim[0]
    if batch.HasField("dim_value") and batch.dim_value < 1:
        return "no batch onnxruntime runs"  # pyims reads the first dimension as the batch whatever it says; onnxruntime runs no batch of 0 or -1
    n = batch.dim_value if batch.HasField("dim_value") else 3  # a fixed batch (an export with batch 1): that many
    if n > 16:
        n = 0  # a fixed batch of 2**31 images: pyims needs none of them to load; onnxruntime would need them all
    if n == 0:
        return "no batch onnxruntime runs"
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, *model.input_shape)).astype(np.float32)
    try:
        ref = onnxruntime_outputs(path, x)
    except Exception as exc:  # onnxruntime refuses a graph pyims loaded: pyims must not have accepted nonsense
        raise AssertionError(f"pyims loaded {path} but onnxruntime cannot run it: {exc}") from exc
    if not np.all(np.isfinite(ref)):  # float32 overflowed where pyims' float64 did not: no reference to compare with
        return "onnxruntime overflows"
    try:
        out = model.forward(x.astype(np.float64))
    except PyimsError as exc:
        return f"forward refused: {type(exc).__name__}"  # a typed refusal (a non-finite forward pass) is allowed
    scale = float(np.max(np.abs(ref))) or 1.0
    np.testing.assert_allclose(out.reshape(ref.shape), ref, rtol=1e-4, atol=1e-5 * scale)
    return "agrees"


@settings(max_examples=400, **SETTINGS)
@given(case=cases(), data=st.data())
def test_mutated_onnx_graphs_load_as_onnxruntime_runs_them_or_raise_a_pyims_error(tmp_path_factory, case, data):
    base, n_mutations, cut = case
    root = tmp_path_factory.mktemp("onnx")
    folder, outside = root / "model", root / "outside"
    folder.mkdir()
    outside.mkdir()
    path = BASES[base](folder / "m.onnx")
    proto = onnx.load(str(path))
    for _ in range(n_mutations):
        _mutate(proto, folder, outside, data.draw)
    raw = proto.SerializeToString()
    path.write_bytes(raw if cut is None else raw[: int(len(raw) * cut)])
    out, opened = _opened_by(lambda: load_model(path))
    _assert_reads_stay_home(opened, folder, set())
    if isinstance(out, Exception):
        if not isinstance(out, PyimsError):
            raise AssertionError(f"{type(out).__name__} escaped from load_model: {out}") from out
        event(f"refused: {type(out).__name__}")
        return
    event("loaded, " + _agree_with_onnxruntime(out, path, 0))


@pytest.mark.parametrize("base", sorted(BASES))
def test_every_base_graph_loads_and_agrees_with_onnxruntime(tmp_path, base):
    """The graphs the properties mutate are valid to start with: the 'correct result' branch is reachable."""
    path = BASES[base](tmp_path / "m.onnx")
    assert _agree_with_onnxruntime(load_model(path), path, 1) == "agrees"


@pytest.mark.parametrize("base", sorted(BASES))
def test_an_initializer_moved_into_a_constant_node_or_external_file_loads_alike(tmp_path, base):
    """Where a tensor lives (an initializer, a ``Constant`` node, a file beside the model) changes nothing."""
    path = BASES[base](tmp_path / "m.onnx")
    want = load_model(path).forward(np.ones((2, *load_model(path).input_shape)))
    proto = onnx.load(str(path))
    init = proto.graph.initializer[0]
    proto.graph.initializer.remove(init)
    proto.graph.node.insert(0, helper.make_node("Constant", [], [init.name], name="c", value=init))
    onnx.save(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="m.data",
              size_threshold=0)
    got = load_model(path)
    np.testing.assert_allclose(got.forward(np.ones((2, *got.input_shape))), want, rtol=1e-12, atol=1e-12)
    assert _agree_with_onnxruntime(got, path, 2) == "agrees"


# ------------------------------------------------------------------ regressions the properties found
def test_an_initializer_whose_dims_disagree_with_its_data_is_a_model_file_error(tmp_path):
    """Found by the properties: dims [] on a 27-value kernel escaped as numpy's ValueError (cannot reshape)."""
    path = tiny_cnn(tmp_path / "m.onnx", 0)
    proto = onnx.load(str(path))
    del proto.graph.initializer[0].dims[:]
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFileError, match=r"m.onnx: tensor 'k1' \(initializer\) of type 1 and dims \[\] cannot be "
                                             r"read: ValueError: cannot reshape array of size 27 into shape \(\)"):
        load_model(path)


def test_a_weight_of_integer_type_is_refused(tmp_path):
    """Found by the properties: a kernel whose type was int32 loaded (its bytes read as integers, then as weights);
    onnxruntime refuses the graph ("Type parameter (T) of Optype (Conv) bound to different types")."""
    path = tiny_cnn(tmp_path / "m.onnx", 0)
    proto = onnx.load(str(path))
    proto.graph.initializer[0].data_type = TensorProto.INT32
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFileError, match=r"node 'conv1' \(Conv\): its kernel \('k1'\) is a int32 tensor; the operator "
                                             r"needs floating-point weights like its input"):
        load_model(path)


def test_a_huge_input_shape_is_refused_before_allocating(tmp_path):
    """Found by the properties: an input of 10^5 x 10^5 values per image ended in a raw MemoryError (74.5 GiB) from the
    shape probe."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w", "c"], ["y"], name="fc", transB=1)]
    path = save_graph(tmp_path / "big.onnx", nodes, {"w": f32(rng, 10, 4), "c": f32(rng, 10)}, (100_000, 100_000), (10,))
    with pytest.raises(ModelFileError, match=rf"big.onnx: input 'x' has shape \[100000, 100000\], 10,000,000,000 values "
                                             rf"per image; pyims imports models of up to {MAX_PROBE_VALUES:,}"):
        load_model(path)


def test_huge_pads_are_refused_before_the_probe_allocates(tmp_path):
    """Found by the properties: pads of 10^6 on an 8x8 input asked the shape probe for ~10^13 values."""
    proto = onnx.load(str(tiny_cnn(tmp_path / "m.onnx", 0)))
    conv = proto.graph.node[0]
    for k in range(len(conv.attribute) - 1, -1, -1):
        if conv.attribute[k].name == "pads":
            del conv.attribute[k]
    conv.attribute.append(helper.make_attribute("pads", [10**6, 10**6, 10**6, 10**6]))
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFileError, match=r"node 'conv1' \(Conv\) on input shape \[\(1, 8, 8\)\] needs [0-9,]+ values "
                                             rf"per image; pyims imports models of up to {MAX_PROBE_VALUES:,} \(check the "
                                             r"graph's input shape, pads and strides\)"):
        load_model(path)
