"""Image resizing and deterministic stratified splits."""

from __future__ import annotations

import numpy as np

from pyims.errors import SpecError

__all__ = ["resize_images", "stratified_split"]


def resize_images(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize ``images`` ``(N, H, W)`` to ``(N, h, w)`` by area averaging (anti-aliased).

    Each output pixel is the mean of the input area it covers (fractional overlaps weighted),
    e.g. MNIST 28x28 -> 20x20 (400 inputs). Implemented as two small dense matrices, so a
    whole dataset resizes in one batched product. Returns float64.
    """
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim != 3:
        raise SpecError(f"resize_images needs images of shape (N, H, W), got {imgs.shape}")
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise SpecError(f"dataset.resize={shape} must be two positive integers, e.g. [20, 20]")
    a_rows = _area_matrix(imgs.shape[1], h)  # (h, H)
    a_cols = _area_matrix(imgs.shape[2], w)  # (w, W)
    return np.einsum("hH,nHW,wW->nhw", a_rows, imgs, a_cols, optimize=True)


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights: output pixel k averages input interval [k, k+1) * n_in / n_out."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    pix = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, pix + 1) - np.maximum(lo, pix), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with each class split in the same proportion; deterministic in ``seed``.

    Every class with at least two samples gets at least one sample on each side. Indices are
    returned sorted, so the order of the data does not depend on the permutation.
    """
    y = np.asarray(labels)
    if not 0.0 < test_fraction < 1.0:
        raise SpecError(f"dataset.test_fraction={test_fraction!r} must be in (0, 1), e.g. 0.25")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(idx.size)]
        n_test = int(round(test_fraction * idx.size))
        if idx.size >= 2:
            n_test = min(max(n_test, 1), idx.size - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
