"""Pooling layers (digital, between crossbar layers): max, average, global average."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.model.layers import Layer

__all__ = ["MaxPool2d", "AvgPool2d", "GlobalAvgPool"]


def _windows(a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pads: tuple[int, int, int, int],
             fill: float) -> np.ndarray:
    """``(N, C, H', W', kh, kw)`` windows of ``a`` ``(N, C, H, W)`` padded with ``fill``."""
    if a.ndim != 4:
        raise SpecError(f"pooling gets inputs of shape {a.shape}; it needs (N, C, H, W)")
    top, left, bottom, right = pads
    if any(pads):
        a = np.pad(a, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    if a.shape[2] < kernel[0] or a.shape[3] < kernel[1]:
        raise SpecError(f"pooling window {kernel} is larger than its (padded) input {a.shape[2:]}")
    return np.lib.stride_tricks.sliding_window_view(a, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]


def _check_pads(name: str, kernel: tuple[int, int], pads: tuple[int, int, int, int]) -> None:
    """SpecError when a side's padding reaches the kernel: some window would lie entirely in padding."""
    top, left, bottom, right = pads
    if min(pads) < 0:
        raise SpecError(f"{name} pads={pads} must be >= 0")
    if max(top, bottom) >= kernel[0] or max(left, right) >= kernel[1]:
        raise SpecError(f"{name} kernel {kernel} with pads {pads} (top, left, bottom, right): a pad as large as the "
                        "kernel puts whole windows in the padding, whose outputs are undefined (-inf for a max, 0/0 "
                        "for an average); pads must be smaller than the kernel on each side")


def _tiled_blocks(a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pads: tuple[int, int, int, int]):
    """Non-overlapping windows (kernel == stride, no padding) as ``(N, C, H', kh, W', kw)`` -- a view, and
    ~5x faster to reduce than sliding windows; ``None`` for any other pooling."""
    if kernel != stride or any(pads) or a.ndim != 4 or a.shape[2] < kernel[0] or a.shape[3] < kernel[1]:
        return None
    ho, wo = a.shape[2] // kernel[0], a.shape[3] // kernel[1]
    return a[:, :, : ho * kernel[0], : wo * kernel[1]].reshape(a.shape[0], a.shape[1], ho, kernel[0], wo, kernel[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxPool2d(Layer):
    """The maximum of every ``kernel`` window, moved by ``stride``; padding never wins (``-inf``)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __post_init__(self) -> None:
        _check_pads("MaxPool2d", self.kernel, self.pads)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        blocks = _tiled_blocks(a, self.kernel, self.stride, self.pads)
        if blocks is not None:
            return blocks.max(axis=(3, 5))
        return _windows(a, self.kernel, self.stride, self.pads, -np.inf).max(axis=(4, 5))

    def describe(self) -> str:
        return f"MaxPool2d {self.kernel} stride {self.stride}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AvgPool2d(Layer):
    """The mean of every window; ``count_include_pad=False`` divides by the window's cells inside the input."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    count_include_pad: bool = False

    def __post_init__(self) -> None:
        _check_pads("AvgPool2d", self.kernel, self.pads)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        blocks = _tiled_blocks(a, self.kernel, self.stride, self.pads)
        if blocks is not None:
            return blocks.mean(axis=(3, 5))
        total = _windows(a, self.kernel, self.stride, self.pads, 0.0).sum(axis=(4, 5))
        if self.count_include_pad or not any(self.pads):
            return total / (self.kernel[0] * self.kernel[1])
        ones = np.ones((1, 1) + a.shape[2:])
        count = _windows(ones, self.kernel, self.stride, self.pads, 0.0).sum(axis=(4, 5))
        return total / count

    def describe(self) -> str:
        return f"AvgPool2d {self.kernel} stride {self.stride}"


@dataclass(frozen=True, slots=True)
class GlobalAvgPool(Layer):
    """``(N, C, H, W) -> (N, C, 1, 1)``: the mean of each channel."""

    def __call__(self, a: np.ndarray) -> np.ndarray:
        if a.ndim != 4:
            raise SpecError(f"GlobalAvgPool gets inputs of shape {a.shape}; it needs (N, C, H, W)")
        return a.mean(axis=(2, 3), keepdims=True)
