"""A network of any layers: the model ``pyims.load_model`` returns (ONNX graphs, weight files).

``Model.steps`` is the layer sequence of ``pyims.model.layers`` (plain layers chain; ``Node``
steps name their inputs, e.g. a residual ``Add``), ``input_shape`` the per-image input shape
(``(features,)`` for a dense network, ``(C, H, W)`` for a CNN). Dense stacks built from the
same neuron between every pair of dense layers (``dense_stack``) can also run as one
fully-analog circuit -- a ``Flatten`` / ``Reshape`` before the first dense layer or after the last
only rearranges values, so the circuit takes the flattened input; every model runs tile by tile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pyims.errors import SpecError
from pyims.model.layers import Activation, Dense, Layer, Node, Trace, crossbar_layers, forward, layer_of
from pyims.model.neurons import NeuronSpec
from pyims.model.shape import Flatten, Reshape
from pyims.spec._checks import real_array

__all__ = ["Model", "as_model"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Model:
    """A network as a sequence of steps.

    Attributes:
        steps: layers and ``Node`` s in evaluation order.
        input_shape: one image's input shape, e.g. ``(1, 28, 28)`` or ``(64,)``.
        name: where it came from (a file name, or "mlp").
    """

    steps: tuple[Layer | Node, ...]
    input_shape: tuple[int, ...]
    name: str = "model"
    _crossbar: tuple[Layer, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if not steps:
            raise SpecError("a Model needs at least one layer")
        for s, step in enumerate(steps):
            if isinstance(step, Node) and any(i >= s or i < -1 for i in step.inputs):
                raise SpecError(f"step {s} ({step.layer.describe()}) reads steps {step.inputs}; a step reads earlier steps or -1 (the input)")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        object.__setattr__(self, "_crossbar", tuple(crossbar_layers(steps)))
        if not self._crossbar:
            raise SpecError(f"model {self.name!r} has no dense or convolution layer to map onto crossbars")

    @classmethod
    def from_mlp(cls, mlp) -> "Model":
        """The layer sequence of a ``pyims.model.MLP``."""
        return cls(steps=mlp.layers, input_shape=(mlp.layer_sizes[0],), name="mlp")

    @property
    def layers(self) -> tuple[Layer, ...]:
        """Every step's layer, in order."""
        return tuple(layer_of(s) for s in self.steps)

    @property
    def crossbar_layers(self) -> tuple[Layer, ...]:
        """The layers mapped onto crossbars (dense and convolution), in order."""
        return self._crossbar

    @property
    def n_features(self) -> int:
        return int(np.prod(self.input_shape))

    def check_input(self, x: object) -> np.ndarray:
        """``x`` as float64 ``(N, *input_shape)``: ``(N, features)`` and ``(N, C, H, W)`` are both accepted."""
        arr = real_array("inputs", "x", x)
        if arr.ndim < 2 or arr.shape[0] < 1 or int(np.prod(arr.shape[1:])) != self.n_features:
            raise SpecError(f"inputs have shape {arr.shape}; model {self.name!r} needs (N, {', '.join(map(str, self.input_shape))}) "
                            f"or (N, {self.n_features})")
        if not np.all(np.isfinite(arr)):
            raise SpecError("inputs hold NaN or inf; pass finite values")
        return arr.reshape((arr.shape[0],) + self.input_shape)

    def trace(self, x: object, evaluate=None, **kwargs) -> Trace:
        a = self.check_input(x)
        return forward(self.steps, a, evaluate, **kwargs) if evaluate is not None else forward(self.steps, a, **kwargs)

    def forward(self, x: object) -> np.ndarray:
        """Digital (float64) outputs ``(N, n_outputs)``."""
        out = self.trace(x, keep_inputs=False, keep_pre=False).output
        return out.reshape(out.shape[0], -1)  # type: ignore[union-attr]

    def dense_stack(self) -> tuple[tuple[Dense, ...], NeuronSpec] | None:
        """``(dense layers, neuron)`` when the model is Dense, Activation(n), Dense, ..., Dense with one
        neuron ``n`` (what the fully-analog circuit builds), optionally after a leading ``Flatten`` /
        ``Reshape`` and before trailing ones (they only rearrange values: the circuit takes the flattened
        input); ``None`` otherwise (``fully_analog_problem`` says why)."""
        if self.fully_analog_problem() is not None:
            return None
        lo, hi = self._stack_bounds()
        core = self.layers[lo:hi]
        acts = core[1::2]
        neuron = acts[0].neuron if acts else NeuronSpec(kind="linear")  # type: ignore[attr-defined]
        return tuple(core[0::2]), neuron  # type: ignore[return-value]

    def _stack_bounds(self) -> tuple[int, int]:
        """``(lo, hi)``: the steps ``lo..hi-1`` between the leading and the trailing shape-only steps."""
        layers = self.layers
        lo, hi = 0, len(layers)
        while lo < hi and isinstance(layers[lo], (Flatten, Reshape)):
            lo += 1
        while hi > lo and isinstance(layers[hi - 1], (Flatten, Reshape)):
            hi -= 1
        return lo, hi

    def fully_analog_problem(self) -> str | None:
        """Why the model is not one dense stack the fully-analog circuit can build (the first cause, naming the
        step), or ``None`` when it is."""
        for i, step in enumerate(self.steps):
            if isinstance(step, Node) and step.inputs != (i - 1,):
                return f"step {i} ({step.layer.describe()}) reads steps {list(step.inputs)} (a branch or a residual connection)"
        layers = self.layers
        for k, layer in enumerate(self._crossbar):
            if not isinstance(layer, Dense):
                return f"crossbar layer {k} is a convolution ({layer.describe()})"
        lo, hi = self._stack_bounds()
        if not isinstance(layers[lo], Dense):
            return f"step {lo} ({layers[lo].describe()}) comes before the first dense layer"
        if not isinstance(layers[hi - 1], Dense):
            return f"step {hi - 1} ({layers[hi - 1].describe()}) follows the last dense layer"
        dense_at = [i for i in range(lo, hi) if isinstance(layers[i], Dense)]
        seen: dict[NeuronSpec, int] = {}
        for k, (a, b) in enumerate(zip(dense_at, dense_at[1:])):
            between = layers[a + 1 : b]
            other = next((layer for layer in between if not isinstance(layer, Activation)), None)
            if other is not None:
                return f"a {other.describe()} between dense layers {k} and {k + 1}"
            if len(between) != 1:
                what = "no activation" if not between else f"{len(between)} activations"
                return f"{what} between dense layers {k} and {k + 1} (steps {a} and {b})"
            seen.setdefault(between[0].neuron, k)  # type: ignore[attr-defined]
        if len(seen) > 1:
            kinds = ", ".join(f"{n.kind}{'' if n.gain_norm == 1.0 else f' gain {n.gain_norm:g}'} after dense layer {k}"
                              for n, k in seen.items())
            return f"different activations between its dense layers ({kinds}); the circuit has one neuron"
        return None

    def replaced(self, swap: Callable[[int, Layer], Layer]) -> tuple[Layer | Node, ...]:
        """The steps with every layer ``L`` replaced by ``swap(k, L)`` (``k``: the step index)."""
        out: list[Layer | Node] = []
        for s, step in enumerate(self.steps):
            layer = swap(s, layer_of(step))
            out.append(Node(layer, step.inputs) if isinstance(step, Node) else layer)
        return tuple(out)

    @property
    def n_parameters(self) -> int:
        """Weights and biases of its crossbar layers."""
        return int(sum(np.size(layer.weight) + np.size(layer.bias) for layer in self._crossbar))  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        """A short description (``summary()`` lists every step); never the weights."""
        return (f"<pyims Model {self.name!r}: input {self.input_shape}, {len(self.steps)} steps, "
                f"{len(self._crossbar)} crossbar layers, {self.n_parameters:,} parameters>")

    __str__ = __repr__

    def summary(self) -> str:
        """One line per step."""
        lines = [f"model {self.name}: input {self.input_shape}"]
        for s, step in enumerate(self.steps):
            src = f" <- {list(step.inputs)}" if isinstance(step, Node) else ""
            lines.append(f"  {s:3d} {layer_of(step).describe()}{src}")
        return "\n".join(lines)


def as_model(model: object) -> Model:
    """A ``Model`` from a ``Model`` or an ``MLP``; SpecError otherwise."""
    from pyims.model.mlp import MLP

    if isinstance(model, Model):
        return model
    if isinstance(model, MLP):
        return Model.from_mlp(model)
    raise SpecError(f"model is a {type(model).__name__}; pass what pyims.load_model returns (a Model or an MLP)")


