"""A 2-D convolution on a crossbar: im2col unrolling (``docs/cnn.md``).

Every output position reads one patch of the input -- ``C_in * kh * kw`` values ordered
(channel, ky, kx) -- so the convolution is a dense layer whose rows are the patch entries and
whose columns are the ``C_out`` output channels (G+/G- pairs once mapped); the same tiles are
read once per output position. ``weight`` is stored in that unrolled form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.model.layers import Weighted

__all__ = ["Conv2d", "im2col"]


def im2col(a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pads: tuple[int, int, int, int]) -> np.ndarray:
    """Patches of ``a`` ``(N, C, H, W)``: ``(N * H' * W', C * kh * kw)``, rows ordered (n, y', x'),
    entries (c, ky, kx); zero padding ``pads = (top, left, bottom, right)``."""
    top, left, bottom, right = pads
    if any(pads):
        a = np.pad(a, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = kernel
    win = np.lib.stride_tricks.sliding_window_view(a, (kh, kw), axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    n, c, ho, wo = win.shape[:4]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * ho * wo, c * kh * kw)


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class Conv2d(Weighted):
    """``y[n, o, y', x'] = sum_{c,ky,kx} a[n, c, y' sh + ky - top, x' sw + kx - left] k[o, c, ky, kx] + bias[o]``.

    Attributes:
        weight: float64 ``(C_in * kh * kw, C_out)``, the kernel unrolled (row = patch entry (c, ky, kx)).
        bias: float64 ``(C_out,)``.
        in_channels: ``C_in``.
        kernel: ``(kh, kw)``; stride ``(sh, sw)``; pads ``(top, left, bottom, right)``, zeros.
    """

    weight: np.ndarray
    bias: np.ndarray
    in_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __post_init__(self) -> None:
        kh, kw = self.kernel
        if self.weight.ndim != 2 or self.weight.shape[0] != self.in_channels * kh * kw:
            raise SpecError(f"Conv2d.weight has shape {self.weight.shape}; need ({self.in_channels}*{kh}*{kw}, C_out)")
        if self.bias.shape != (self.weight.shape[1],):
            raise SpecError(f"Conv2d.bias has shape {self.bias.shape}; need ({self.weight.shape[1]},)")
        if min(self.stride) < 1 or min(self.pads) < 0 or min(self.kernel) < 1:
            raise SpecError(f"Conv2d kernel={self.kernel} stride={self.stride} pads={self.pads}: need kernel, stride >= 1 and pads >= 0")

    @classmethod
    def from_kernel(cls, kernel_oihw: np.ndarray, bias: np.ndarray | None = None, *, stride: tuple[int, int] = (1, 1),
                    pads: tuple[int, int, int, int] = (0, 0, 0, 0)) -> "Conv2d":
        """From a kernel ``(C_out, C_in, kh, kw)`` (ONNX / PyTorch layout)."""
        k = np.asarray(kernel_oihw, dtype=np.float64)
        if k.ndim != 4:
            raise SpecError(f"a Conv2d kernel has shape (C_out, C_in, kh, kw); got {k.shape}")
        b = np.zeros(k.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
        return cls(weight=np.ascontiguousarray(k.reshape(k.shape[0], -1).T), bias=b, in_channels=int(k.shape[1]),
                   kernel=(int(k.shape[2]), int(k.shape[3])), stride=tuple(stride), pads=tuple(pads))  # type: ignore[arg-type]

    @property
    def kernel_oihw(self) -> np.ndarray:
        """The kernel in ``(C_out, C_in, kh, kw)`` layout."""
        return self.weight.T.reshape(self.n_out, self.in_channels, *self.kernel)

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        """Output height and width for an ``h`` x ``w`` input."""
        top, left, bottom, right = self.pads
        return ((h + top + bottom - self.kernel[0]) // self.stride[0] + 1,
                (w + left + right - self.kernel[1]) // self.stride[1] + 1)

    def unroll(self, a: np.ndarray) -> np.ndarray:
        if a.ndim != 4 or a.shape[1] != self.in_channels:
            raise SpecError(f"{self.describe()} gets inputs of shape {a.shape}; it needs (N, {self.in_channels}, H, W)")
        ho, wo = self.out_hw(a.shape[2], a.shape[3])
        if ho < 1 or wo < 1:
            raise SpecError(f"{self.describe()}: a {a.shape[2]}x{a.shape[3]} input is smaller than the kernel {self.kernel}")
        return im2col(a, self.kernel, self.stride, self.pads)

    def fold(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        ho, wo = self.out_hw(a.shape[2], a.shape[3])
        return np.ascontiguousarray(z.reshape(a.shape[0], ho, wo, self.n_out).transpose(0, 3, 1, 2))

    def describe(self) -> str:
        return (f"Conv2d {self.in_channels}->{self.n_out} {self.kernel[0]}x{self.kernel[1]} stride {self.stride} "
                f"pads {self.pads} (array {self.n_in}+1 x {self.n_out})")
