"""A multilayer perceptron in the form the crossbars compute it.

Layer l computes ``z_l = a_{l-1} @ W_l + b_l`` (``W_l`` of shape ``(n_in, n_out)``: row = input,
column = output, as a crossbar has rows for inputs); hidden layers apply the neuron,
``a_l = neuron(z_l)``; the last layer's ``z`` are the logits, and the class is their argmax.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyims.errors import ModelFileError, SpecError
from pyims.spec._checks import real_array
from pyims.model.layers import Dense, Layer, dense_stack, forward
from pyims.model.neurons import NeuronSpec

__all__ = ["MLP"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MLP:
    """Weights and biases of every layer and the hidden neuron.

    Attributes:
        weights: one float64 array ``(n_in, n_out)`` per layer (read-only copies).
        biases: one float64 array ``(n_out,)`` per layer.
        neuron: the hidden layers' activation (the analog neuron's transfer function).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    neuron: NeuronSpec = NeuronSpec()
    _layers: tuple[Layer, ...] = field(default=(), init=False, repr=False)

    def __repr__(self) -> str:
        """A short description; never the weights."""
        sizes = "x".join(str(n) for n in (self.weights[0].shape[0], *(w.shape[1] for w in self.weights)))
        n = sum(w.size + b.size for w, b in zip(self.weights, self.biases))
        return f"<pyims MLP {sizes}, {self.neuron.kind} neurons, {n:,} parameters>"

    __str__ = __repr__

    def __post_init__(self) -> None:
        if len(self.weights) == 0 or len(self.weights) != len(self.biases):
            raise ModelFileError(
                f"an MLP needs one bias vector per weight matrix and at least one layer; got "
                f"{len(self.weights)} weight matrices and {len(self.biases)} bias vectors"
            )
        ws, bs = [], []
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            try:
                w = real_array(f"layer {l + 1}", "weights", w, ModelFileError)
                b = real_array(f"layer {l + 1}", "bias", b, ModelFileError).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise ModelFileError(f"layer {l + 1}: weights or bias cannot be read as numbers ({exc})") from exc
            if w.ndim != 2:
                raise ModelFileError(f"layer {l + 1}: weights have shape {w.shape}; need (n_in, n_out)")
            if b.shape != (w.shape[1],):
                raise ModelFileError(f"layer {l + 1}: bias has {b.size} values but the weights have {w.shape[1]} outputs")
            if l > 0 and w.shape[0] != ws[-1].shape[1]:
                raise ModelFileError(
                    f"layer shape mismatch: layer {l} has {ws[-1].shape[1]} outputs but layer {l + 1} "
                    f"expects {w.shape[0]} inputs; check the order and orientation (row = input) of the weight files"
                )
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ModelFileError(f"layer {l + 1}: weights or biases hold NaN or inf")
            w.flags.writeable = False
            b.flags.writeable = False
            ws.append(w)
            bs.append(b)
        if not isinstance(self.neuron, NeuronSpec):
            raise SpecError(f"MLP.neuron is a {type(self.neuron).__name__}; pass a NeuronSpec")
        object.__setattr__(self, "weights", tuple(ws))
        object.__setattr__(self, "biases", tuple(bs))
        object.__setattr__(self, "_layers", dense_stack([Dense(w, b) for w, b in zip(ws, bs)], self.neuron))

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The network as a layer sequence: ``Dense, Activation(neuron), Dense, ..., Dense``."""
        return self._layers

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_in, n_hidden..., n_out)``, e.g. (400, 120, 84, 10)."""
        return (self.weights[0].shape[0],) + tuple(w.shape[1] for w in self.weights)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Pre-activations of every layer for inputs ``x`` ``(N, n_in)``: a list of ``(N, n_out_l)``."""
        a = real_array("inputs", "x", x)
        if not np.all(np.isfinite(a)):
            raise SpecError("inputs hold NaN or inf; pass finite values")
        if a.ndim != 2 or a.shape[1] != self.layer_sizes[0]:
            raise SpecError(f"inputs have shape {a.shape}; the network needs (N, {self.layer_sizes[0]})")
        return forward(self.layers, a).pre

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The last layer's pre-activations ``(N, n_classes)``."""
        return self.forward(x)[-1]
