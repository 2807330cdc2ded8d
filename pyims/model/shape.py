"""Layers that only rearrange or merge values (digital): flatten, reshape, residual add, softmax."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.model.layers import Layer

__all__ = ["Flatten", "Reshape", "Add", "Softmax"]


@dataclass(frozen=True, slots=True)
class Flatten(Layer):
    """``(N, ...) -> (N, prod(...))`` in C order (PyTorch's ``flatten(x, 1)``, ONNX ``Flatten`` with axis 1)."""

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[0], -1)


@dataclass(frozen=True, slots=True)
class Reshape(Layer):
    """``(N, ...) -> (N, *shape)``: the per-image shape changes, the batch stays (C order)."""

    shape: tuple[int, ...]

    def __call__(self, a: np.ndarray) -> np.ndarray:
        per = int(np.prod(a.shape[1:]))
        if int(np.prod(self.shape)) != per:
            raise SpecError(f"Reshape to {self.shape} needs {int(np.prod(self.shape))} values per image; got {per} ({a.shape[1:]})")
        return a.reshape((a.shape[0],) + self.shape)

    def describe(self) -> str:
        return f"Reshape {self.shape}"


@dataclass(frozen=True, slots=True)
class Add(Layer):
    """The element-wise sum of two steps' outputs (a residual connection), evaluated digitally."""

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.shape != b.shape:
            raise SpecError(f"Add: its inputs have shapes {a.shape} and {b.shape}; a residual add needs equal shapes")
        return a + b


@dataclass(frozen=True, slots=True)
class Softmax(Layer):
    """``exp(a) / sum exp(a)`` over the last axis (a digital readout; it never changes the class)."""

    log: bool = False

    def __call__(self, a: np.ndarray) -> np.ndarray:
        z = a - a.max(axis=-1, keepdims=True)
        if self.log:
            return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def describe(self) -> str:
        return "LogSoftmax" if self.log else "Softmax"
