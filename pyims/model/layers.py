"""The network model: an ordered sequence of layer objects, and the one forward routine.

A network is a sequence of layers. *Crossbar* layers (``Dense``, ``Conv2d``: anything mapped
onto arrays) are the ones whose evaluation depends on *how* the network is run -- as floats, on
the programmed devices without wires, natively with every wire, or as read back from SPICE;
every other layer (``Activation``, pooling, flatten, residual adds, softmax) evaluates itself.
``forward(steps, x, evaluate)`` walks the sequence once. A crossbar layer first *unrolls* its
input into row vectors ``(M, n_in)`` (a dense layer: one per image; a convolution: one per
output position, im2col), hands them to ``evaluate(k, layer, rows) -> z`` ``(M, n_out)`` (``k``:
its index among the crossbar layers) and *folds* ``z`` back into its output shape. The trainer,
the digital reference, mapping, native inference, SPICE co-simulation and result reading, and
the IMAC-Sim layer model all call it.

A step is a layer (its input is the previous step's output) or a ``Node`` naming the steps it
reads (a residual ``Add`` reads two); imported ONNX graphs are sequences of nodes in
topological order.

Adding a layer type = a ``Layer`` subclass in its own file of this package with its shapes and
``__call__`` (or ``crossbar = True``, ``unroll``/``fold`` and ``float_forward``), plus its tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from pyims.model.neurons import NeuronSpec

__all__ = ["Layer", "Dense", "DenseLike", "Weighted", "Activation", "Node", "Trace", "Evaluate", "forward", "float_evaluate",
           "crossbar_layers", "layer_of"]


class Layer(ABC):
    """One step of a network."""

    __slots__ = ()

    #: True for layers whose evaluation is the strategy's (arrays); False for layers that evaluate themselves
    crossbar: ClassVar[bool] = False

    def __call__(self, *a: np.ndarray) -> np.ndarray:
        """The layer's output for input(s) ``a`` ``(N, ...)`` (layers that evaluate themselves)."""
        raise TypeError(f"{type(self).__name__} is a crossbar layer: its evaluation is the forward routine's strategy")

    def describe(self) -> str:
        """One line for listings (``pyims.model.Model.summary``)."""
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class Node:
    """A step reading other steps' outputs: ``inputs`` are step indices, -1 the network input."""

    layer: Layer
    inputs: tuple[int, ...]


def layer_of(step: "Layer | Node") -> Layer:
    """The layer of a step."""
    return step.layer if isinstance(step, Node) else step


#: ``evaluate(k, layer, a) -> z``: crossbar layer number ``k``'s pre-activations ``(N, n_out)`` for input ``a``
Evaluate = Callable[[int, Layer, np.ndarray], np.ndarray]


class DenseLike(Layer):
    """A fully connected crossbar layer: ``n_in`` inputs (rows) -> ``n_out`` outputs (columns)."""

    __slots__ = ()
    crossbar = True

    @property
    @abstractmethod
    def n_in(self) -> int: ...

    @property
    @abstractmethod
    def n_out(self) -> int: ...

    def unroll(self, a: np.ndarray) -> np.ndarray:
        """The row vectors the array is read with, ``(M, n_in)``: a dense layer reads one per image."""
        if a.ndim != 2 or a.shape[1] != self.n_in:
            from pyims.errors import SpecError

            raise SpecError(f"{self.describe()} gets inputs of shape {a.shape}; it needs (N, {self.n_in}) "
                            "(add a Flatten before a dense layer that follows a convolution)")
        return a

    def fold(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """The layer's output from the array outputs ``z`` ``(M, n_out)`` for input ``a``: ``z`` itself here."""
        return z

    def describe(self) -> str:
        return f"{type(self).__name__} {self.n_in}->{self.n_out}"


class Weighted(DenseLike):
    """A crossbar layer given by its weights: rows ``@ weight + bias`` (``weight`` ``(n_in, n_out)``, row = input,
    ``bias`` ``(n_out,)``); subclasses hold ``weight`` and ``bias`` and say how their input becomes rows."""

    __slots__ = ()
    weight: np.ndarray
    bias: np.ndarray

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[1])

    def float_forward(self, rows: np.ndarray) -> np.ndarray:
        return rows @ self.weight + self.bias


@dataclass(frozen=True, slots=True, eq=False)
class Dense(Weighted):
    """``z = a @ weight + bias``: ``weight`` float64 ``(n_in, n_out)`` (row = input), ``bias`` ``(n_out,)``."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class Activation(Layer):
    """The analog neuron applied element-wise: ``a = neuron(z)``."""

    neuron: "NeuronSpec"

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return self.neuron(a)

    def describe(self) -> str:
        return f"Activation {self.neuron.kind}"


@dataclass(slots=True)
class Trace:
    """What a forward pass saw.

    Attributes:
        pre: per crossbar layer, its folded outputs per image ``(N, n_features_k)`` (a dense layer:
            its pre-activations ``(N, n_out_k)``; a convolution: ``C_out*H'*W'`` values in C order;
            the last are the logits when the network ends in a crossbar layer).
        inputs: per crossbar layer, the row vectors it was evaluated on ``(M_k, n_in_k)``
            (kept only with ``forward(..., keep_inputs=True)``).
        output: the network's output ``(N, ...)``.
    """

    pre: list[np.ndarray] = field(default_factory=list)
    inputs: list[np.ndarray] = field(default_factory=list)
    output: np.ndarray | None = None


def float_evaluate(k: int, layer: Layer, a: np.ndarray) -> np.ndarray:
    """The digital (float) evaluation of a crossbar layer."""
    return layer.float_forward(a)  # type: ignore[attr-defined]


def forward(steps: Sequence["Layer | Node"], x: np.ndarray, evaluate: Evaluate = float_evaluate, *,
            keep_inputs: bool = True, keep_pre: bool = True) -> Trace:
    """Walk ``steps`` on input ``x``; crossbar layers are evaluated by ``evaluate`` (module docstring).

    Outputs of earlier steps are kept only as long as a later ``Node`` reads them.
    """
    trace = Trace()
    last_use: dict[int, int] = {}
    for s, step in enumerate(steps):
        if isinstance(step, Node):
            for i in step.inputs:
                last_use[i] = s
    kept: dict[int, np.ndarray] = {-1: x}
    a = x
    k = 0
    for s, step in enumerate(steps):
        if isinstance(step, Node):
            args = [kept[i] for i in step.inputs]
            for i in step.inputs:
                if last_use.get(i) == s and i != -1:
                    kept.pop(i, None)
        else:
            args = [a]
        layer = layer_of(step)
        if layer.crossbar:
            (arg,) = args
            rows = layer.unroll(arg)  # type: ignore[attr-defined]
            if keep_inputs:
                trace.inputs.append(rows)
            a = layer.fold(evaluate(k, layer, rows), arg)  # type: ignore[attr-defined]
            if keep_pre:
                trace.pre.append(a.reshape(a.shape[0], -1))
            k += 1
        else:
            a = layer(*args)
        _check_finite(a, s, layer)
        if s in last_use:
            kept[s] = a
    trace.output = a
    return trace


def _check_finite(a: np.ndarray, s: int, layer: Layer) -> None:
    """NonFiniteError naming step ``s`` and the first images whose outputs hold NaN or inf."""
    if np.isfinite(a).all():
        return
    from pyims.errors import NonFiniteError

    bad = np.flatnonzero(~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1))
    raise NonFiniteError(f"step {s} ({layer.describe()}) produced NaN or inf for {bad.size} of {a.shape[0]} image(s) "
                         f"(first: {', '.join(map(str, bad[:5]))}); no outputs are reported. The model's weights or "
                         "its inputs overflow: check the model file, or the inputs' range")


def crossbar_layers(steps: Sequence["Layer | Node"]) -> list[Layer]:
    """The crossbar layers of a sequence, in order."""
    return [layer_of(step) for step in steps if layer_of(step).crossbar]


def dense_stack(dense: Sequence[Layer], neuron: "NeuronSpec") -> tuple[Layer, ...]:
    """``dense[0], Activation(neuron), dense[1], ..., dense[-1]``: an MLP's sequence (no activation after the last)."""
    out: list[Layer] = []
    act = Activation(neuron)
    for k, layer in enumerate(dense):
        if k:
            out.append(act)
        out.append(layer)
    return tuple(out)
