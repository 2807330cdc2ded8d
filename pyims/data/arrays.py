"""A user's own arrays as a dataset (``[dataset] name = "arrays"``, ``path = "mydata.npz"``).

The format: one ``.npz`` file (``numpy.savez``) holding four arrays, or a folder holding them as four ``.npy`` files
(``x_train.npy`` ...):

* ``x_train``, ``x_test``: images ``(N, H, W)`` or feature vectors ``(N, F)`` (taken as ``(N, 1, F)``), a real
  numeric dtype (float or integer; not bool, complex or object), every value finite. The values are the model's
  inputs as they are (the other datasets give pixels in [0, 1]); the DAC's input range (``[encoding]``) applies.
* ``y_train``, ``y_test``: class labels ``(N,)``, an integer dtype, in ``0 .. n_classes - 1``; ``n_classes`` is
  the largest label + 1.

Nothing is unpickled (``allow_pickle=False``); shapes and dtypes are read from the headers and checked before any
data are loaded. Every problem is a ``DatasetError`` naming the file and the key.
"""

from __future__ import annotations

import os
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyims.errors import DatasetError

__all__ = ["ARRAY_KEYS", "MAX_ARRAY_BYTES", "MAX_CLASSES", "ArraysInfo", "arrays_info", "load_arrays"]

#: The four arrays, in the order ``load_arrays`` returns them.
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

#: The most classes (labels are ``0 .. MAX_CLASSES - 1``): a label of 10**9 would size every confusion matrix.
MAX_CLASSES = 10_000

#: The most bytes the four arrays may hold together (checked from their headers, before loading).
MAX_ARRAY_BYTES = 16 * 2**30


@dataclass(frozen=True, slots=True, kw_only=True)
class ArraysInfo:
    """What the headers of an arrays dataset say: the image shape ``(H, W)``, the images per split, and bytes."""

    path: Path
    image_shape: tuple[int, int]
    n_train: int
    n_test: int
    n_bytes: int


def _where(path: Path, key: str) -> str:
    return f"{path / (key + '.npy')}" if path.is_dir() else f"{path} [{key}]"


def _headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{key: (shape, dtype)}`` of the four arrays, read from the ``.npy`` headers."""
    out = {}
    with ExitStack() as stack:
        if path.is_dir():
            opened = {}
            for key in ARRAY_KEYS:
                member = path / f"{key}.npy"
                if not member.is_file():
                    raise DatasetError(f"dataset.path={str(path)!r}: {member.name} is missing; an arrays folder holds "
                                       f"{', '.join(k + '.npy' for k in ARRAY_KEYS)} (numpy.save)")
                opened[key] = stack.enter_context(open(member, "rb"))
        elif path.is_file():
            try:
                archive = stack.enter_context(zipfile.ZipFile(path))
            except (zipfile.BadZipFile, OSError) as exc:
                raise DatasetError(f"dataset.path={str(path)!r} is not an .npz file ({exc}); save the arrays with "
                                   f"numpy.savez(path, {'=..., '.join(ARRAY_KEYS)}=...)") from None
            names = set(archive.namelist())
            missing = [k for k in ARRAY_KEYS if f"{k}.npy" not in names]
            if missing:
                have = sorted(n.removesuffix(".npy") for n in names)
                raise DatasetError(f"{path}: key {missing[0]!r} is missing (the file holds {have}); an arrays dataset "
                                   f"holds {', '.join(ARRAY_KEYS)}")
            opened = {k: stack.enter_context(archive.open(f"{k}.npy")) for k in ARRAY_KEYS}
        else:
            raise DatasetError(f"dataset.path={str(path)!r} does not exist; give an .npz file with "
                               f"{', '.join(ARRAY_KEYS)}, or a folder of those four .npy files")
        for key, f in opened.items():
            try:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
            except (ValueError, OSError, EOFError) as exc:
                raise DatasetError(f"{_where(path, key)} is not a plain .npy array ({exc}); save it with numpy.save / "
                                   "numpy.savez") from None
            out[key] = (tuple(int(s) for s in shape), np.dtype(dtype))
    return out


def arrays_info(path: str | os.PathLike[str]) -> ArraysInfo:
    """Check the arrays' shapes and dtypes from their headers (no data loaded); DatasetError naming file and key."""
    path = Path(path)
    heads = _headers(path)
    for key, (shape, dtype) in heads.items():
        where = _where(path, key)
        if key.startswith("x"):
            if dtype.kind not in "fiu":
                raise DatasetError(f"{where} holds {dtype} values; images are real numbers (a float or integer dtype), "
                                   "e.g. x.astype(numpy.float32)")
            if len(shape) not in (2, 3) or shape[0] < 1 or any(s < 1 for s in shape[1:]):
                raise DatasetError(f"{where} has shape {shape}; give images (N, H, W) or feature vectors (N, F) with N >= 1")
        else:
            if dtype.kind not in "iu":
                raise DatasetError(f"{where} holds {dtype} values; labels are integers 0 .. n_classes - 1, e.g. "
                                   "y.astype(numpy.int64)")
            if len(shape) != 1:
                raise DatasetError(f"{where} has shape {shape}; labels are one integer per image, shape (N,) "
                                   "(one-hot rows: y.argmax(axis=1))")
    for split in ("train", "test"):
        (xs, _), (ys, _) = heads[f"x_{split}"], heads[f"y_{split}"]
        if xs[0] != ys[0]:
            raise DatasetError(f"{_where(path, 'y_' + split)} holds {ys[0]} labels but x_{split} holds {xs[0]} images; "
                               "give one label per image")
    tr, te = heads["x_train"][0], heads["x_test"][0]
    if tr[1:] != te[1:]:
        raise DatasetError(f"{_where(path, 'x_test')} has images of shape {te[1:]} but x_train {tr[1:]}; both splits "
                           "hold images of one shape")
    n_bytes = sum(int(np.prod(s, dtype=np.int64)) * d.itemsize for s, d in heads.values())
    if n_bytes > MAX_ARRAY_BYTES:
        raise DatasetError(f"dataset.path={str(path)!r}: the arrays hold {n_bytes / 2**30:.1f} GiB, more than "
                           f"{MAX_ARRAY_BYTES / 2**30:.0f} GiB; keep fewer images (dataset.max_train / max_test act "
                           "after loading)")
    image = (1, tr[1]) if len(tr) == 2 else (tr[1], tr[2])
    return ArraysInfo(path=path, image_shape=image, n_train=tr[0], n_test=te[0], n_bytes=n_bytes)


def load_arrays(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: images float64 ``(N, H, W)``, labels int64 ``(N,)``, checked (module
    docstring)."""
    path = Path(path)
    info = arrays_info(path)
    try:
        if path.is_dir():
            arrays = [np.load(path / f"{k}.npy", allow_pickle=False) for k in ARRAY_KEYS]
        else:
            with np.load(path, allow_pickle=False) as npz:
                arrays = [npz[k] for k in ARRAY_KEYS]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"dataset.path={str(path)!r} cannot be read as arrays ({exc}); save them with numpy.savez") from None
    out = []
    for key, arr in zip(ARRAY_KEYS, arrays):
        where = _where(path, key)
        if key.startswith("x"):
            arr = arr.astype(np.float64).reshape((arr.shape[0], *info.image_shape))
            bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
            if bad.size:
                k = int(bad[0])
                at = tuple(int(i) for i in np.unravel_index(k, arr.shape))
                raise DatasetError(f"{where}: value {float(arr.reshape(-1)[k])!r} at {at} is not finite; every input "
                                   "must be a finite number")
        else:
            bad = np.flatnonzero((arr < 0) | (arr >= MAX_CLASSES))
            if bad.size:
                raise DatasetError(f"{where}: label {int(arr[bad[0]])} at position {int(bad[0])} is outside "
                                   f"0..{MAX_CLASSES - 1}; labels are class numbers 0 .. n_classes - 1")
            arr = arr.astype(np.int64)
        out.append(arr)
    return out[0], out[1], out[2], out[3]
