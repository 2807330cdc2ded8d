"""The network model: an ordered sequence of layer objects, and the one forward routine.

A network is a sequence of layers. *Crossbar* layers (``Dense`` today; a convolution or any
layer mapped onto arrays tomorrow) are the ones whose evaluation depends on *how* the network
is run -- as floats, on the programmed devices without wires, natively with every wire, or as
read back from SPICE; every other layer (``Activation`` today; pooling, flatten, residual adds,
readout/ADC stages) evaluates itself. ``forward(layers, x, evaluate)`` walks the sequence once
and hands each crossbar layer to ``evaluate(k, layer, a) -> z`` (``k``: its index among the
crossbar layers); the trainer, the digital reference, mapping, native inference, SPICE
co-simulation and result reading, and the IMAC-Sim layer model all call it.

Adding a layer type = a ``Layer`` subclass in this module's family (its own file) with its
shapes and ``__call__`` (or ``crossbar = True`` and what the evaluators need), plus its tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from pyims.model.neurons import NeuronSpec

__all__ = ["Layer", "Dense", "Activation", "Trace", "Evaluate", "forward", "float_evaluate", "crossbar_layers"]


class Layer(ABC):
    """One step of a network."""

    __slots__ = ()

    #: True for layers whose evaluation is the strategy's (arrays); False for layers that evaluate themselves
    crossbar: ClassVar[bool] = False

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """The layer's output for input ``a`` ``(N, ...)`` (layers that evaluate themselves)."""
        raise TypeError(f"{type(self).__name__} is a crossbar layer: its evaluation is the forward routine's strategy")


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


@dataclass(frozen=True, slots=True, eq=False)
class Dense(DenseLike):
    """``z = a @ weight + bias``: ``weight`` float64 ``(n_in, n_out)`` (row = input), ``bias`` ``(n_out,)``."""

    weight: np.ndarray
    bias: np.ndarray

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[1])

    def float_forward(self, a: np.ndarray) -> np.ndarray:
        return a @ self.weight + self.bias


@dataclass(frozen=True, slots=True, eq=False)
class Activation(Layer):
    """The analog neuron applied element-wise: ``a = neuron(z)``."""

    neuron: "NeuronSpec"

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return self.neuron(a)


@dataclass(slots=True)
class Trace:
    """What a forward pass saw.

    Attributes:
        pre: per crossbar layer, its pre-activations ``(N, n_out_k)`` (the last are the logits
            when the network ends in a crossbar layer).
        inputs: per crossbar layer, the input it was evaluated on ``(N, n_in_k)``.
        output: the network's output ``(N, ...)``.
    """

    pre: list[np.ndarray] = field(default_factory=list)
    inputs: list[np.ndarray] = field(default_factory=list)
    output: np.ndarray | None = None


def float_evaluate(k: int, layer: Layer, a: np.ndarray) -> np.ndarray:
    """The digital (float) evaluation of a crossbar layer."""
    return layer.float_forward(a)  # type: ignore[attr-defined]


def forward(layers: Sequence[Layer], x: np.ndarray, evaluate: Evaluate = float_evaluate) -> Trace:
    """Walk ``layers`` on input ``x``; crossbar layers are evaluated by ``evaluate`` (module docstring)."""
    trace = Trace()
    a = x
    k = 0
    for layer in layers:
        if layer.crossbar:
            trace.inputs.append(a)
            a = evaluate(k, layer, a)
            trace.pre.append(a)
            k += 1
        else:
            a = layer(a)
    trace.output = a
    return trace


def crossbar_layers(layers: Sequence[Layer]) -> list[Layer]:
    """The crossbar layers of a sequence, in order."""
    return [layer for layer in layers if layer.crossbar]


def dense_stack(dense: Sequence[Layer], neuron: "NeuronSpec") -> tuple[Layer, ...]:
    """``dense[0], Activation(neuron), dense[1], ..., dense[-1]``: an MLP's sequence (no activation after the last)."""
    out: list[Layer] = []
    act = Activation(neuron)
    for k, layer in enumerate(dense):
        if k:
            out.append(act)
        out.append(layer)
    return tuple(out)
