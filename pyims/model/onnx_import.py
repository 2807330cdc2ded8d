"""ONNX graphs -> pyims models (``pyims.load_model("net.onnx")``).

The graph is read with the ``onnx`` package (checked by ``onnx.checker``), its initializers and
``Constant`` nodes become float64 arrays, and its nodes -- in the graph's topological order --
become layer steps (``pyims.model.layers``):

* ``Conv`` (2-D, groups 1, dilation 1) -> ``Conv2d``; ``Gemm`` and ``MatMul`` with a constant
  right operand -> ``Dense`` (``Gemm``'s alpha, beta and transB folded in);
* a ``BatchNormalization`` or an ``Add`` of a constant right after a conv / dense layer (and
  read by nothing else) is folded into that layer's weights and bias;
* ``Relu``, ``Sigmoid``, ``Tanh``, ``HardSigmoid`` (beta = 0.5) -> ``Activation`` with the neuron
  kind of the same function (``relu``; ``sigmoid``; ``sigmoid`` with gain 2 on [-1, 1];
  ``hardsigmoid`` with gain 4 alpha);
* ``MaxPool``, ``AveragePool``, ``GlobalAveragePool``, ``Flatten`` (axis 1), ``Reshape`` (constant
  shape, batch kept), ``Add`` of two computed tensors (residual), ``Softmax`` / ``LogSoftmax``
  (last axis), ``Identity`` and ``Dropout`` (inference: identity);
* shape arithmetic on constants is folded at import (``FOLDED_OPS``, evaluated by onnx's reference
  evaluator): ``Shape`` of a computed tensor is known (every dimension but the batch is static), so
  the ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape`` chain PyTorch exports for
  ``x.view(x.size(0), -1)`` becomes a constant ``Reshape``; the batch size stays a placeholder that
  may only end up as a target shape's first entry.

Both of PyTorch's exporters are read: the TorchScript one (``dynamo=False``, weights inside) and
the default one (``dynamo=True``, weights as external data in a ``.onnx.data`` file beside the
model). External data is read from the model's own folder only: every tensor anywhere in the model
(initializers, ``Constant`` values and other attributes, subgraphs, functions) that keeps its data
outside must name a relative file that resolves inside that folder (no absolute path, no ``..``, no
symbolic link out), with its offset and length inside the file and as many bytes as its shape and
type need; otherwise a ``ModelFileError`` names the tensor, the location and the rule. Nothing is
read before every reference has passed, and nothing relative to the working directory.

Anything else is an ``UnsupportedOpError`` naming the op, the node and this list. The input
must have a static shape except its first (batch) dimension; one image's input, and what finding each layer's
output shape allocates, hold at most ``MAX_PROBE_VALUES`` values (else a ``ModelFileError`` before allocating).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from pyims.errors import ModelFileError, PyimsError, SpecError, UnsupportedOpError
from pyims.model.conv import Conv2d
from pyims.model.graph import Model
from pyims.model.layers import Activation, Dense, Layer, Node, forward
from pyims.model.neurons import NeuronSpec
from pyims.model.pooling import AvgPool2d, GlobalAvgPool, MaxPool2d
from pyims.model.shape import Add, Flatten, Reshape, Softmax

__all__ = ["SUPPORTED_OPS", "FOLDED_OPS", "MAX_PROBE_VALUES", "load_onnx"]

SUPPORTED_OPS = ("Conv", "Gemm", "MatMul", "Add", "BatchNormalization", "Relu", "Sigmoid", "Tanh", "HardSigmoid",
                 "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Softmax", "LogSoftmax",
                 "Identity", "Dropout", "Constant", "Shape")

#: Ops evaluated at import when every input is a constant (shape arithmetic, weight rearrangement). None of them
#: makes a tensor larger than its inputs together.
FOLDED_OPS = ("Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Mul", "Div", "Sub", "Add", "Identity",
              "Reshape", "Transpose", "Flatten")

#: The batch size in folded shape arithmetic: a power of two, so it survives a cast to float and back; anything
#: computed from it (a product, a quotient) is refused where a shape is read.
_BATCH = -(2**40)

#: Bytes per element of the tensor types whose external data size is checked against the tensor's shape.
_ITEM_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}

#: The most values one image's tensor -- or what probing a layer's output shape allocates (a convolution's unrolled
#: windows, a padded copy) -- may hold at import: 2**26 (512 MiB as float64). A graph whose input shape, pads or
#: strides ask for more is refused before anything that size is allocated.
MAX_PROBE_VALUES = 2**26


def _probe_values(layer: Layer, shape: tuple[int, ...]) -> int:
    """An upper bound on the values that probing ``layer`` on one image of per-image ``shape`` allocates."""
    size = int(np.prod(shape, dtype=object))
    kernel, stride, pads = (getattr(layer, n, None) for n in ("kernel", "stride", "pads"))
    if kernel is None or stride is None or pads is None or len(shape) != 3:
        return size + int(getattr(layer, "n_out", 0) or 0)
    c, h, w = shape
    hp, wp = h + max(pads[0], 0) + max(pads[2], 0), w + max(pads[1], 0) + max(pads[3], 0)
    ho, wo = (max((full - k) // max(int(st), 1) + 1, 0) for full, k, st in zip((hp, wp), kernel, stride))
    return c * hp * wp + ho * wo * (c * int(kernel[0]) * int(kernel[1]) + int(getattr(layer, "n_out", c) or c))


_EXTERNAL_RULE = ("pyims reads external data only from a relative path to a regular file inside the model's own "
                  "folder")


class _Importer:
    def __init__(self, graph, path: Path, opset: int) -> None:
        self.path = path
        self.opset = opset
        self.consts: dict[str, np.ndarray] = {}  # float64, as weights are used
        self.exact: dict[str, np.ndarray] = {}  # integer and boolean constants in their own type (shape arithmetic)
        for init in graph.initializer:
            self.set_const(init.name, self.array(init, "initializer"))
        self.steps: list[Layer | Node] = []
        self.where: dict[str, int] = {}  # tensor name -> step index (-1: the graph input)
        self.shapes: dict[int, tuple[int, ...]] = {}  # step -> per-image output shape
        self.consumers: dict[str, int] = {}
        for node in graph.node:
            if node.op_type == "Shape":  # reads only the (static) shape: never stops a layer being folded
                continue
            for name in node.input:
                if name:
                    self.consumers[name] = self.consumers.get(name, 0) + 1
        for out in graph.output:
            self.consumers[out.name] = self.consumers.get(out.name, 0) + 1

    # ------------------------------------------------------------ helpers
    def array(self, tensor, where: str) -> np.ndarray:
        """``tensor`` as a numpy array; ModelFileError naming it when its type, dims and data do not agree."""
        from onnx import numpy_helper

        try:
            return numpy_helper.to_array(tensor)
        except (ValueError, TypeError, KeyError) as exc:  # what onnx raises for a tensor it cannot decode
            raise ModelFileError(f"{self.path}: tensor {tensor.name!r} ({where}) of type {tensor.data_type} and dims "
                                 f"{list(tensor.dims)} cannot be read: {type(exc).__name__}: {exc}") from exc

    def set_const(self, name: str, value: np.ndarray) -> None:
        value = np.asarray(value)
        if value.dtype.kind in "iub":
            self.exact[name] = value
        if value.dtype.kind in "iubf":
            self.consts[name] = value.astype(np.float64)
        else:
            self.exact[name] = value

    def is_const(self, name: str) -> bool:
        return name in self.consts or name in self.exact

    def exact_value(self, name: str) -> np.ndarray:
        return self.exact[name] if name in self.exact else self.consts[name]

    def fail(self, node, why: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"{self.path}: node {node.name or '(unnamed)'!r} ({node.op_type}): {why}; pyims maps "
                                  f"{', '.join(SUPPORTED_OPS)} (and evaluates {', '.join(FOLDED_OPS)} on constants at "
                                  "import)", op=node.op_type, node=node.name)

    @staticmethod
    def attrs(node) -> dict:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def const(self, node, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise self.fail(node, f"its {what} ({name!r}) is computed at run time; pyims needs it constant (an initializer)")
        if name in self.exact:  # ONNX binds a weight to the input's (floating-point) type
            raise ModelFileError(f"{self.path}: node {node.name or '(unnamed)'!r} ({node.op_type}): its {what} ({name!r}) "
                                 f"is a {self.exact[name].dtype} tensor; the operator needs floating-point weights like "
                                 "its input")
        return self.consts[name]

    def src(self, node, name: str) -> int:
        if name not in self.where:
            if name in self.consts:
                raise self.fail(node, f"input {name!r} is a constant where pyims expects a computed tensor")
            raise ModelFileError(f"{self.path}: node {node.name!r} reads {name!r}, which no earlier node produces")
        return self.where[name]

    def check_weights(self, node, layer: Layer) -> None:
        """ModelFileError naming the node when a crossbar layer's weights or bias hold NaN or inf (a float16
        overflow, a NaN in the file, a BatchNormalization whose variance + epsilon is <= 0)."""
        for what in ("weight", "bias"):
            value = getattr(layer, what, None)
            if value is not None and not np.all(np.isfinite(value)):
                n = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
                raise ModelFileError(f"{self.path}: node {node.name or '(unnamed)'!r} ({node.op_type}): its {what} holds "
                                     f"{n} NaN or inf value(s) (after folding its scales and biases); the model cannot "
                                     "be mapped to conductances: export it again from a model with finite weights")

    def add_step(self, node, layer: Layer, inputs: tuple[int, ...]) -> None:
        if layer.crossbar:
            self.check_weights(node, layer)
        chain = len(inputs) == 1 and inputs[0] == len(self.steps) - 1
        need = max(_probe_values(layer, self.shapes[i]) for i in inputs)
        if need > MAX_PROBE_VALUES:
            raise ModelFileError(f"{self.path}: node {node.name or '(unnamed)'!r} ({node.op_type}) on input shape "
                                 f"{[self.shapes[i] for i in inputs]} needs {need:,} values per image; pyims imports "
                                 f"models of up to {MAX_PROBE_VALUES:,} (check the graph's input shape, pads and strides)")
        probe = [np.zeros((1,) + self.shapes[i]) for i in inputs]
        try:
            out = forward([layer], probe[0]).output if layer.crossbar else layer(*probe)
        except (PyimsError, ValueError) as exc:
            raise ModelFileError(f"{self.path}: node {node.name!r} ({node.op_type}) does not fit its input shape "
                                 f"{[self.shapes[i] for i in inputs]}: {exc}") from exc
        self.steps.append(layer if chain else Node(layer, inputs))
        s = len(self.steps) - 1
        self.shapes[s] = tuple(int(d) for d in out.shape[1:])  # type: ignore[union-attr]
        self.where[node.output[0]] = s

    def alias(self, node) -> None:
        self.where[node.output[0]] = self.src(node, node.input[0])

    def foldable(self, node, name: str) -> int | None:
        """The step producing ``name`` when it is a conv / dense layer read only by ``node``."""
        s = self.where.get(name)
        if s is None or s < 0 or self.consumers.get(name, 0) != 1:
            return None
        step = self.steps[s]
        layer = step.layer if isinstance(step, Node) else step
        return s if isinstance(layer, (Dense, Conv2d)) else None

    def refold(self, s: int, scale: np.ndarray, shift: np.ndarray, node=None) -> None:
        """Step ``s``'s layer with outputs ``y * scale + shift`` (per output channel); ``node`` (the folded one) is
        named when the result is not finite."""
        step = self.steps[s]
        layer = step.layer if isinstance(step, Node) else step
        w = layer.weight * scale[None, :]
        b = layer.bias * scale + shift
        new = Dense(w, b) if isinstance(layer, Dense) else Conv2d(weight=w, bias=b, in_channels=layer.in_channels,
                                                                   kernel=layer.kernel, stride=layer.stride, pads=layer.pads)
        self.steps[s] = Node(new, step.inputs) if isinstance(step, Node) else new
        if node is not None:
            self.check_weights(node, new)

    def channel_vector(self, node, value: np.ndarray, s: int) -> np.ndarray | None:
        """``value`` as one number per output channel of step ``s`` (broadcast like ONNX), or None."""
        shape = self.shapes[s]
        n = shape[0]
        v = np.asarray(value, dtype=np.float64)
        try:
            full = np.broadcast_to(v, (1,) + shape)
        except ValueError:
            return None
        per = full.reshape(n, -1)
        if not np.all(per == per[:, :1]):
            return None  # varies within a channel: not a per-channel affine map
        return per[:, 0].copy()

    # ------------------------------------------------------------ ops
    def node(self, node) -> None:
        op = node.op_type
        at = self.attrs(node)
        if node.domain not in ("", "ai.onnx"):
            raise self.fail(node, f"domain {node.domain!r} is not the standard ONNX domain")
        if op == "Constant":
            self.constant(node, at)
        elif op == "Shape" and not (node.input and self.is_const(node.input[0])):
            self.shape(node, at)
        elif op == "Shape":  # of a constant
            self.fold(node)
        elif op in FOLDED_OPS and all(not n or self.is_const(n) for n in node.input):
            self.fold(node)
        elif op in ("Identity", "Dropout"):
            if op == "Dropout" and len(node.input) > 2 and node.input[2] and self.consts.get(node.input[2], 0):
                raise self.fail(node, "training_mode = true; export the model in eval mode")
            self.alias(node)
        elif op == "Conv":
            self.conv(node, at)
        elif op == "Gemm":
            self.gemm(node, at)
        elif op == "MatMul":
            a = self.src(node, node.input[0])
            w = self.const(node, node.input[1], "right operand")
            if w.ndim != 2:
                raise self.fail(node, f"right operand has shape {w.shape}; pyims maps 2-D weight matrices")
            self.add_step(node, Dense(w, np.zeros(w.shape[1])), (a,))
        elif op == "Add":
            self.add(node)
        elif op == "BatchNormalization":
            self.batchnorm(node, at)
        elif op in ("Relu", "Sigmoid", "Tanh", "HardSigmoid"):
            self.add_step(node, Activation(self.neuron(node, at)), (self.src(node, node.input[0]),))
        elif op in ("MaxPool", "AveragePool"):
            self.pool(node, at)
        elif op == "GlobalAveragePool":
            self.add_step(node, GlobalAvgPool(), (self.src(node, node.input[0]),))
        elif op == "Flatten":
            if at.get("axis", 1) != 1:
                raise self.fail(node, f"axis={at['axis']}; pyims flattens from axis 1 (the batch stays)")
            self.add_step(node, Flatten(), (self.src(node, node.input[0]),))
        elif op == "Reshape":
            self.reshape(node, at)
        elif op in ("Softmax", "LogSoftmax"):
            s = self.src(node, node.input[0])
            axis = at.get("axis", -1)
            if axis not in (-1, len(self.shapes[s])):
                raise self.fail(node, f"axis={axis}; pyims applies softmax over the last axis")
            self.add_step(node, Softmax(log=op == "LogSoftmax"), (s,))
        else:
            raise self.fail(node, "this operator is not supported")
        if op not in ("Constant",) and len([o for o in node.output if o]) > 1 and op != "Dropout":
            raise self.fail(node, "a second output (e.g. MaxPool indices) is not supported")

    def constant(self, node, at: dict) -> None:
        if "value" in at:
            value = self.array(at["value"], f"node {node.name or '(unnamed)'!r} (Constant) attribute 'value'")
        elif "value_int" in at or "value_ints" in at:
            value = np.asarray(at.get("value_int", at.get("value_ints")), dtype=np.int64)
        elif "value_float" in at or "value_floats" in at:
            value = np.asarray(at.get("value_float", at.get("value_floats")), dtype=np.float32)
        else:
            raise self.fail(node, "only Constant with a tensor 'value' or value_int(s) / value_float(s) is supported")
        self.set_const(node.output[0], value)

    def shape(self, node, at: dict) -> None:
        """``Shape`` of a computed tensor: its static per-image shape after the batch placeholder (start / end as ONNX)."""
        s = self.src(node, node.input[0])
        dims = [_BATCH, *self.shapes[s]]
        rank = len(dims)
        start, end = int(at.get("start", 0)), int(at.get("end", rank))
        start, end = (min(max(v + rank if v < 0 else v, 0), rank) for v in (start, end))
        self.set_const(node.output[0], np.asarray(dims[start:end], dtype=np.int64))

    def fold(self, node) -> None:
        """A node whose inputs are all constants, evaluated once with onnx's reference evaluator."""
        import onnx
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        names = [n for n in node.input if n]
        values = [self.exact_value(n) for n in names]
        try:
            graph = helper.make_graph(
                [node], "fold",
                [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), None) for n, v in zip(names, values)],
                [helper.make_value_info(o, onnx.TypeProto()) for o in node.output if o])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
            outs = ReferenceEvaluator(model).run(None, dict(zip(names, values)))
        except Exception as exc:  # the reference evaluator raises many kinds for a node it cannot evaluate
            raise ModelFileError(f"{self.path}: node {node.name!r} ({node.op_type}) on its constant inputs cannot be "
                                 f"evaluated: {type(exc).__name__}: {exc}") from exc
        for name, value in zip([o for o in node.output if o], outs):
            self.set_const(name, np.asarray(value))

    def conv(self, node, at: dict) -> None:
        s = self.src(node, node.input[0])
        k = self.const(node, node.input[1], "kernel")
        if k.ndim != 4:
            raise self.fail(node, f"kernel has shape {k.shape}; pyims maps 2-D convolutions (C_out, C_in, kh, kw)")
        if at.get("group", 1) != 1:
            raise self.fail(node, f"group={at['group']}; pyims maps groups = 1 (no depthwise convolution)")
        if any(d != 1 for d in at.get("dilations", [1, 1])):
            raise self.fail(node, f"dilations={list(at['dilations'])}; pyims maps dilation 1")
        bias = self.const(node, node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
        stride = tuple(at.get("strides", [1, 1]))
        pads = self.pads(node, at, k.shape[2:], stride, s)
        self.add_step(node, Conv2d.from_kernel(k, bias, stride=stride, pads=pads), (s,))  # type: ignore[arg-type]

    def pads(self, node, at: dict, kernel, stride, s: int) -> tuple[int, int, int, int]:
        auto = at.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("NOTSET", "VALID"):
            p = list(at.get("pads", [0, 0, 0, 0])) if auto == "NOTSET" else [0, 0, 0, 0]
            if len(p) != 4:
                raise self.fail(node, f"pads={p}; pyims handles 2-D pads [top, left, bottom, right]")
            return (int(p[0]), int(p[1]), int(p[2]), int(p[3]))
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            begin, end = [], []
            for d, (size, kk, st) in enumerate(zip(self.shapes[s][-2:], kernel, stride)):
                total = max((-(-size // st) - 1) * st + kk - size, 0)
                lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
                begin.append(lo)
                end.append(total - lo)
            return (begin[0], begin[1], end[0], end[1])
        raise self.fail(node, f"auto_pad={auto!r} is unknown")

    def gemm(self, node, at: dict) -> None:
        if at.get("transA", 0):
            raise self.fail(node, "transA = 1; pyims maps Gemm with the activations as the left operand")
        a = self.src(node, node.input[0])
        w = self.const(node, node.input[1], "weight (B)")
        if w.ndim != 2:
            raise self.fail(node, f"B has shape {w.shape}; need a 2-D matrix")
        if at.get("transB", 0):
            w = w.T
        w = w * float(at.get("alpha", 1.0))
        b = np.zeros(w.shape[1])
        if len(node.input) > 2 and node.input[2]:
            c = self.const(node, node.input[2], "bias (C)") * float(at.get("beta", 1.0))
            try:
                b = np.broadcast_to(c, (1, w.shape[1])).reshape(-1).copy()
            except ValueError:
                raise self.fail(node, f"bias C has shape {c.shape}; pyims needs one value per output ({w.shape[1]})") from None
        self.add_step(node, Dense(np.ascontiguousarray(w), b), (a,))

    def add(self, node) -> None:
        x, y = node.input[0], node.input[1]
        if x in self.consts and y in self.consts:
            self.consts[node.output[0]] = self.consts[x] + self.consts[y]
            return
        if x in self.consts or y in self.consts:
            tensor, const = (y, self.consts[x]) if x in self.consts else (x, self.consts[y])
            s = self.foldable(node, tensor)
            vec = None if s is None else self.channel_vector(node, const, s)
            if vec is None:
                raise self.fail(node, "adding a constant is supported only as the bias of the conv / dense layer right "
                                      "before it (one value per output channel)")
            self.refold(s, np.ones_like(vec), vec, node)  # type: ignore[arg-type]
            self.where[node.output[0]] = s  # type: ignore[assignment]
            return
        self.add_step(node, Add(), (self.src(node, x), self.src(node, y)))

    def batchnorm(self, node, at: dict) -> None:
        if at.get("training_mode", 0):
            raise self.fail(node, "training_mode = 1; export the model in eval mode")
        s = self.foldable(node, node.input[0])
        if s is None:
            raise self.fail(node, "BatchNormalization is folded into the conv or dense layer right before it, and "
                                  "this one follows something else (or its input is read twice)")
        scale, shift, mean, var = (self.const(node, n, w) for n, w in zip(node.input[1:5], ("scale", "B", "mean", "var")))
        eps = float(at.get("epsilon", 1e-5))
        if not np.all(var + eps > 0.0):
            raise ModelFileError(f"{self.path}: node {node.name or '(unnamed)'!r} (BatchNormalization): variance + epsilon "
                                 f"is <= 0 or NaN for {int(np.count_nonzero(~(var + eps > 0.0)))} channel(s); a "
                                 "normalisation by the square root of a non-positive number is undefined")
        g = scale / np.sqrt(var + eps)
        self.refold(s, g, shift - mean * g, node)
        self.where[node.output[0]] = s

    def neuron(self, node, at: dict) -> NeuronSpec:
        op = node.op_type
        if op == "Relu":
            return NeuronSpec(kind="relu")
        if op == "Sigmoid":
            return NeuronSpec(kind="sigmoid")
        if op == "Tanh":  # -1 + 2 * logistic(2 z) = tanh(z)
            return NeuronSpec(kind="sigmoid", gain_norm=2.0, out_lo_norm=-1.0, out_hi_norm=1.0)
        alpha, beta = float(at.get("alpha", 0.2)), float(at.get("beta", 0.5))
        if beta != 0.5 or not alpha > 0.0 or not np.isfinite(alpha):
            raise self.fail(node, f"alpha={alpha!r}, beta={beta!r}; pyims' hard sigmoid is centred (beta = 0.5) with alpha > 0")
        return NeuronSpec(kind="hardsigmoid", gain_norm=4.0 * alpha)

    def pool(self, node, at: dict) -> None:
        s = self.src(node, node.input[0])
        if at.get("ceil_mode", 0):
            raise self.fail(node, "ceil_mode = 1; pyims pools with floor (the default)")
        if any(d != 1 for d in at.get("dilations", [1, 1])):
            raise self.fail(node, f"dilations={list(at['dilations'])}; pyims pools with dilation 1")
        kernel = tuple(int(k) for k in at["kernel_shape"])
        if len(kernel) != 2:
            raise self.fail(node, f"kernel_shape={list(kernel)}; pyims pools 2-D")
        stride = tuple(int(v) for v in at.get("strides", [1, 1]))
        pads = self.pads(node, at, kernel, stride, s)
        try:
            if node.op_type == "MaxPool":
                layer: Layer = MaxPool2d(kernel=kernel, stride=stride, pads=pads)  # type: ignore[arg-type]
            else:
                layer = AvgPool2d(kernel=kernel, stride=stride, pads=pads,  # type: ignore[arg-type]
                                  count_include_pad=bool(at.get("count_include_pad", 0)))
        except SpecError as exc:
            raise self.fail(node, str(exc)) from exc
        self.add_step(node, layer, (s,))

    def reshape(self, node, at: dict) -> None:
        s = self.src(node, node.input[0])
        if not self.is_const(node.input[1]):
            self.const(node, node.input[1], "target shape")  # raises: computed at run time
        value = self.exact_value(node.input[1])
        if value.dtype.kind not in "iu":
            raise self.fail(node, f"its target shape is a {value.dtype} tensor; ONNX shapes are int64")
        target = [int(v) for v in value.reshape(-1)]
        if not target:
            raise self.fail(node, "an empty target shape")
        if any(d < -1 for d in target[1:]) or target[0] < -1 and target[0] != _BATCH:
            raise self.fail(node, "its target shape is computed from the batch size beyond copying it into the first "
                                  "dimension; export with a fixed shape per image (e.g. x.flatten(1) or x.view(-1, n))")
        if target[0] == _BATCH:
            target[0] = 0  # copies the batch
        per_in = self.shapes[s]
        rest = []
        for k, d in enumerate(target[1:], start=1):
            if d == 0 and not at.get("allowzero", 0):
                if k >= len(per_in) + 1:
                    raise self.fail(node, f"shape {target}: 0 at position {k} copies a dimension the input lacks")
                d = per_in[k - 1]
            rest.append(d)
        if rest.count(-1) > 1:
            raise self.fail(node, f"shape {target} has more than one -1 after the batch dimension")
        size = int(np.prod(per_in))
        if -1 in rest:
            known = int(np.prod([d for d in rest if d != -1]))
            if known == 0 or size % known:
                raise ModelFileError(f"{self.path}: node {node.name!r} (Reshape): {per_in} cannot become {target}")
            rest[rest.index(-1)] = size // known
        elif target[0] == -1 and int(np.prod(rest)) != size:
            raise self.fail(node, f"shape {target} moves values across images; pyims keeps the batch dimension")
        self.add_step(node, Reshape(tuple(rest)), (s,))


def _graph_tensors(graph, where: str) -> Iterator[tuple[str, object]]:
    for init in graph.initializer:
        yield f"{where}initializer", init
    for sparse in graph.sparse_initializer:
        yield f"{where}sparse initializer", sparse.values
        yield f"{where}sparse initializer (indices)", sparse.indices
    yield from _node_tensors(graph.node, where)


def _node_tensors(nodes, where: str) -> Iterator[tuple[str, object]]:
    for node in nodes:
        for attr in node.attribute:
            here = f"{where}node {node.name or '(unnamed)'!r} ({node.op_type}) attribute {attr.name!r}"
            if attr.HasField("t"):
                yield here, attr.t
            for t in attr.tensors:
                yield here, t
            sparse = ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors)
            for sp in sparse:
                yield here, sp.values
                yield f"{here} (indices)", sp.indices
            graphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for g in graphs:
                yield from _graph_tensors(g, f"{here} > ")


def _all_tensors(proto) -> Iterator[tuple[str, object]]:
    """``(where, TensorProto)`` for every tensor a model holds: initializers (sparse too), node attributes
    (``Constant`` values among them), subgraphs, local functions and training graphs."""
    yield from _graph_tensors(proto.graph, "")
    for f in proto.functions:
        yield from _node_tensors(f.node, f"function {f.name!r} > ")
    for k, info in enumerate(proto.training_info):
        yield from _graph_tensors(info.initialization, f"training_info[{k}].initialization > ")
        yield from _graph_tensors(info.algorithm, f"training_info[{k}].algorithm > ")


def _is_external(tensor) -> bool:
    from onnx import TensorProto

    return tensor.HasField("data_location") and tensor.data_location == TensorProto.EXTERNAL


def _check_external(path: Path, base: Path, where: str, tensor) -> None:
    """ModelFileError unless ``tensor``'s external data is a byte range of a regular file inside ``base``
    (the model's folder, resolved), of the size its shape and type need."""
    entries: dict[str, str] = {}
    for entry in tensor.external_data:
        if entry.key in entries:
            raise ModelFileError(f"{path}: tensor {tensor.name!r} ({where}) declares its external data key {entry.key!r} "
                                 "twice; save the model again")
        entries[entry.key] = entry.value
    loc = entries.get("location", "")

    def refuse(problem: str) -> ModelFileError:
        return ModelFileError(f"{path}: tensor {tensor.name!r} ({where}) keeps its data in external file {loc!r}, "
                              f"{problem}; {_EXTERNAL_RULE} ({base})")

    if not loc:
        raise refuse("which names no file")
    if "\x00" in loc:
        raise refuse("which holds a NUL character")
    if PurePosixPath(loc).is_absolute() or PureWindowsPath(loc).is_absolute() or PureWindowsPath(loc).drive or loc[0] in "/\\":
        raise refuse("an absolute path")
    if ".." in re.split(r"[\\/]", loc):
        raise refuse("which climbs out of the folder with '..'")
    try:
        target = (base / loc).resolve()  # follows symbolic links: where the bytes really are
        if not target.is_relative_to(base):
            raise refuse(f"which resolves to {target}, outside the model's folder (a symbolic link)")
        if not target.exists():
            raise refuse(f"which does not exist (looked for {target})")
        if not target.is_file():
            raise refuse("which is not a regular file")
        size = target.stat().st_size
    except (OSError, RuntimeError) as exc:  # a name too long, a symbolic link loop
        raise refuse(f"which cannot be resolved ({type(exc).__name__}: {exc})") from exc
    fields = {}
    for key in ("offset", "length"):
        if key in entries:
            if not re.fullmatch(r"[0-9]{1,20}", entries[key]):
                raise refuse(f"at {key} {entries[key]!r}, which is not a non-negative whole number")
            fields[key] = int(entries[key])
    offset = fields.get("offset", 0)
    length = fields.get("length", size - offset)
    if offset > size or offset + length > size:
        raise refuse(f"at bytes {offset}..{offset + length}, beyond the file's {size} bytes")
    item = _ITEM_BYTES.get(tensor.data_type)
    if item is not None:
        need = int(np.prod([int(d) for d in tensor.dims], dtype=object)) * item
        if length != need:
            raise refuse(f"with {length} bytes at offset {offset}, but its shape {list(tensor.dims)} needs {need}")


def _read_external_data(proto, path: Path) -> None:
    """Check every external reference of ``proto`` (``_check_external``), then read them with onnx's loader from the
    model's folder; a tensor held externally where onnx's model loader does not look is read the same way."""
    from onnx import external_data_helper

    base = path.parent.resolve()
    external = [(where, t) for where, t in _all_tensors(proto) if _is_external(t)]
    for where, tensor in external:
        _check_external(path, base, where, tensor)
    if not external:
        return
    try:
        external_data_helper.load_external_data_for_model(proto, str(base))
    except Exception as exc:  # onnx's own checks (e.g. a symbolic link inside the folder) and OSError
        raise ModelFileError(f"{path}: its external data cannot be read: {type(exc).__name__}: {exc}; "
                             f"{_EXTERNAL_RULE} ({base})") from exc
    for where, tensor in external:  # sparse tensors, training graphs: not in onnx's model walk
        if _is_external(tensor):
            loc = next((e.value for e in tensor.external_data if e.key == "location"), "")
            try:
                external_data_helper.load_external_data_for_tensor(tensor, str(base))
            except Exception as exc:
                raise ModelFileError(f"{path}: tensor {tensor.name!r} ({where}) in external file {loc!r} cannot be "
                                     f"read: {type(exc).__name__}: {exc}") from exc


def load_onnx(path: str | os.PathLike[str]) -> Model:
    """The ``Model`` of the ONNX file ``path`` (see the module docstring); ModelFileError when it cannot be."""
    try:
        import onnx
    except ImportError:
        raise ModelFileError("reading .onnx files needs the onnx package: pip install onnx") from None
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # the protobuf decoder raises several kinds
        raise ModelFileError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc})") from exc
    _read_external_data(proto, path)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise ModelFileError(f"{path} is not a valid ONNX model: {str(exc).splitlines()[0]}") from exc
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise ModelFileError(f"{path} imports no version of the standard ONNX operator set")
    graph = proto.graph
    inits = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ModelFileError(f"{path}: the graph has {len(inputs)} inputs and {len(graph.output)} outputs; pyims maps one of each")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = []
    for k, d in enumerate(dims[1:], start=1):
        if not d.HasField("dim_value") or d.dim_value < 1:
            raise ModelFileError(
                f"{path}: input {inputs[0].name!r} has a dynamic dimension {k} ({d.dim_param or '?'}); pyims needs every "
                "dimension but the batch fixed (export with a fixed image size, e.g. torch.onnx.export with dynamic_axes "
                "only on the batch)")
        shape.append(int(d.dim_value))
    if not shape:
        raise ModelFileError(f"{path}: input {inputs[0].name!r} has no shape; export it with one")
    if int(np.prod(shape, dtype=object)) > MAX_PROBE_VALUES:
        raise ModelFileError(f"{path}: input {inputs[0].name!r} has shape {shape}, {int(np.prod(shape, dtype=object)):,} "
                             f"values per image; pyims imports models of up to {MAX_PROBE_VALUES:,}")
    imp = _Importer(graph, path, int(opset))
    imp.where[inputs[0].name] = -1
    imp.shapes[-1] = tuple(shape)
    for node in graph.node:
        imp.node(node)
    out = graph.output[0].name
    last = len(imp.steps) - 1
    if imp.where.get(out) != last:
        raise ModelFileError(f"{path}: the graph output {out!r} is not the last computed tensor; pyims reads the last step")
    try:
        return Model(steps=tuple(imp.steps), input_shape=tuple(shape), name=path.name)
    except SpecError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
