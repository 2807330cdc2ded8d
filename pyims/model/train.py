"""A seeded, deterministic MLP trainer (NumPy, Adam, softmax cross-entropy).

The hidden activation is the analog neuron's transfer function, so the network learns the
curve the hardware will apply. Same data + same ``TrainSpec`` -> the same weights, bit for
bit, on the same machine (one RNG, fixed batch order, no threads in the update).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol
from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.model.layers import Dense, Layer, dense_stack, forward
from pyims.model.mlp import MLP
from pyims.model.neurons import NeuronSpec

__all__ = ["TrainSpec", "train_mlp", "LayerModel"]


class LayerModel(Protocol):
    """A layer's forward map and its gradients, for hardware-aware training.

    ``forward(l, a, w, b)`` -> ``(z, cache)`` for activations ``a`` ``(B, n_in)`` and the
    effective weights ``w`` ``(n_in, n_out)`` / bias ``b`` ``(n_out,)``; ``backward(l, cache, dz)``
    -> ``(da, dw, db)``, the gradients of the loss.
    """

    def forward(self, l: int, a: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, object]: ...

    def backward(self, l: int, cache: object, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

log = logging.getLogger(__name__)


#: Bounds of what a config can ask the trainer for (docs/security.md, "Sizes"): checked before any allocation.
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 1_000_000
MAX_HIDDEN = 65_536
MAX_HIDDEN_LAYERS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainSpec:
    """Training settings.

    Attributes:
        hidden: widths of the hidden layers, e.g. (120, 84).
        epochs: passes over the training set.
        batch_size: images per Adam step.
        learning_rate: Adam step size.
        weight_decay: L2 penalty on weights (keeps them small, which helps the mapping's resolution).
        seed: seeds initialisation and batch order.
        binary_scales: train binary weights (BinaryConnect): layer l's weights and bias are
            ``binary_scales[l] * sign(theta)``, with real shadow weights ``theta`` clipped to
            [-1, 1] and gradients passed straight through where ``|theta| <= 1``. For devices with
            two levels (e.g. IMAC-Sim's 5 / 15 kohm MTJs); the scale is the layer's hardware gain
            (``pyims.presets.imac.hardware_scales``). Unset: real weights.
        surrogate_width_ratio: the backward pass uses the neuron's slope stretched this many
            times wider, ``f'(z / width)``, while the forward pass keeps the exact curve. A steep
            neuron (IMAC-Sim's saturates within +-0.15 V while binary layers swing +-1 V) passes
            no gradient once saturated; a wider surrogate does, as straight-through estimators
            do for binary activations. 1: the exact derivative.
    """

    hidden: tuple[int, ...] = (32,)
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    binary_scales: tuple[float, ...] | None = None
    surrogate_width_ratio: float = 1.0

    def __post_init__(self) -> None:
        if self.binary_scales is not None:
            scales = tuple(float(c) for c in self.binary_scales)
            if not scales or not all(np.isfinite(c) and c > 0.0 for c in scales):
                raise SpecError(f"train.binary_scales={list(scales)} must be positive numbers, one per layer")
            object.__setattr__(self, "binary_scales", scales)
        if not (isinstance(self.surrogate_width_ratio, (int, float)) and self.surrogate_width_ratio >= 1.0):
            raise SpecError(f"train.surrogate_width_ratio={self.surrogate_width_ratio!r} must be a number >= 1 (1: exact slope)")
        hidden = tuple(self.hidden)
        if any(isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= MAX_HIDDEN for h in hidden):
            raise SpecError(f"train.hidden={list(hidden)} must be integers in 1..{MAX_HIDDEN}, e.g. [120, 84]")
        if len(hidden) > MAX_HIDDEN_LAYERS:
            raise SpecError(f"train.hidden has {len(hidden)} layers; at most {MAX_HIDDEN_LAYERS}")
        object.__setattr__(self, "hidden", hidden)
        for name, top in (("epochs", MAX_EPOCHS), ("batch_size", MAX_BATCH_SIZE)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise SpecError(f"train.{name}={value!r} must be an integer in 1..{top}")
        if not self.learning_rate > 0.0:
            raise SpecError(f"train.learning_rate={self.learning_rate!r} must be > 0, e.g. 0.003")
        if not self.weight_decay >= 0.0:
            raise SpecError(f"train.weight_decay={self.weight_decay!r} must be >= 0")


def _softmax_xent_grad(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = y.size
    loss = float(-np.log(p[np.arange(n), y] + 1e-300).mean())
    p[np.arange(n), y] -= 1.0
    return loss, p / n


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_classes: int,
    neuron: NeuronSpec,
    spec: TrainSpec = TrainSpec(),
    progress: Callable[[int, float], None] | None = None,
    layer_model: "LayerModel | None" = None,
) -> MLP:
    """Train an MLP ``x.shape[1] -> spec.hidden... -> n_classes`` on ``x`` ``(N, d)``, labels ``y`` ``(N,)``.

    ``progress(epoch, loss)`` is called after every epoch. ``layer_model`` replaces the dense
    ``z = a @ W + b`` of every layer with a model of the hardware (hardware-aware training;
    e.g. ``pyims.presets.imac.VoltageModeLayers``, IMAC-Sim's voltage-mode crossbars).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise SpecError(f"train_mlp needs x (N, d) and y (N,); got {x.shape} and {y.shape}")
    rng = np.random.default_rng(spec.seed)
    sizes: Sequence[int] = (x.shape[1], *spec.hidden, n_classes)
    scales = spec.binary_scales
    if scales is not None and len(scales) != len(sizes) - 1:
        raise SpecError(f"train.binary_scales has {len(scales)} entries but the network has {len(sizes) - 1} layers")
    ws, bs = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))  # Glorot uniform
        ws.append(rng.uniform(-limit, limit, size=(n_in, n_out)))
        bs.append(np.zeros(n_out) if scales is None else rng.uniform(-limit, limit, size=n_out))

    def effective(l: int) -> tuple[np.ndarray, np.ndarray]:
        if scales is None:
            return ws[l], bs[l]
        return scales[l] * np.where(ws[l] >= 0.0, 1.0, -1.0), scales[l] * np.where(bs[l] >= 0.0, 1.0, -1.0)

    params = [p for pair in zip(ws, bs) for p in pair]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    n = x.shape[0]
    for epoch in range(spec.epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, spec.batch_size):
            idx = order[start : start + spec.batch_size]
            eff = [effective(l) for l in range(len(ws))]
            caches: list[object] = []

            def evaluate(l: int, layer: Layer, a: np.ndarray) -> np.ndarray:
                if layer_model is None:
                    return layer.float_forward(a)  # type: ignore[attr-defined]
                z, cache = layer_model.forward(l, a, layer.weight, layer.bias)  # type: ignore[attr-defined]
                caches.append(cache)
                return z

            trace = forward(dense_stack([Dense(w, b) for w, b in eff], neuron), x[idx], evaluate)
            acts, pres = trace.inputs, trace.pre
            loss, delta = _softmax_xent_grad(pres[-1], y[idx])
            total += loss * idx.size
            grads = [None] * len(params)
            for l in range(len(ws) - 1, -1, -1):
                if layer_model is None:
                    d_act, d_w, d_b = None, acts[l].T @ delta, delta.sum(axis=0)
                else:
                    d_act, d_w, d_b = layer_model.backward(l, caches[l], delta)
                grads[2 * l] = d_w + spec.weight_decay * ws[l]
                grads[2 * l + 1] = d_b
                if scales is not None:  # straight-through estimator of sign()
                    grads[2 * l] = scales[l] * grads[2 * l] * (np.abs(ws[l]) <= 1.0)
                    grads[2 * l + 1] = scales[l] * grads[2 * l + 1] * (np.abs(bs[l]) <= 1.0)
                if l > 0:
                    d_act = delta @ eff[l][0].T if d_act is None else d_act
                    delta = d_act * neuron.derivative(pres[l - 1] / spec.surrogate_width_ratio)
            step += 1
            lr_t = spec.learning_rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            for p, g, a, b2 in zip(params, grads, m1, m2):
                a *= beta1
                a += (1 - beta1) * g
                b2 *= beta2
                b2 += (1 - beta2) * g * g
                p -= lr_t * a / (np.sqrt(b2) + eps)
                if scales is not None:
                    np.clip(p, -1.0, 1.0, out=p)
        if progress is not None:
            progress(epoch, total / n)
        log.debug("epoch %d loss %.4f", epoch, total / n)
    final = [effective(l) for l in range(len(ws))]
    return MLP(weights=tuple(w for w, _ in final), biases=tuple(b for _, b in final), neuron=neuron)
