"""The IDX file format of MNIST (big-endian magic, dims, then raw data), optionally gzipped.

Layout: two zero bytes, a type byte (0x08 = uint8, ...), a byte with the number of
dimensions, one big-endian uint32 per dimension, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from pyims.errors import DatasetError

__all__ = ["read_idx", "write_idx"]

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _TYPES.items()}


def _open(path: Path):
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in the IDX file ``path`` (plain or gzipped), in native byte order."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"IDX file {path} does not exist; pass the directory holding the MNIST files or set download=true")
    try:
        with _open(path) as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"IDX file {path} cannot be read ({exc}); delete it and download again") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DatasetError(f"{path} is not an IDX file (bad magic {data[:4]!r}); expected MNIST's idx1/idx3 format")
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"IDX file {path} is truncated in its header; download it again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != count * dtype.itemsize:
        raise DatasetError(
            f"IDX file {path} holds {len(data) - header} data bytes but its header {dims} needs "
            f"{count * dtype.itemsize}; the file is truncated or corrupt, download it again"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool = False) -> None:
    """Write ``array`` as an IDX file (gzipped when ``compress``); the inverse of ``read_idx``."""
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=").str
    if key not in _CODES:
        raise DatasetError(f"dtype {arr.dtype} has no IDX type code; use uint8, int8, int16, int32, float32 or float64")
    code = _CODES[key]
    payload = struct.pack(f">BBBB{arr.ndim}I", 0, 0, code, arr.ndim, *arr.shape)
    payload += np.ascontiguousarray(arr, dtype=_TYPES[code]).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(payload)
