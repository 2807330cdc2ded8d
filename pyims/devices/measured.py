"""Measured levels: cells whose programmed conductances are drawn from a chip's measurements.

Chip data arrive as many cells programmed to each of a few target levels and read back. This kind
takes them as they are, without fitting a model: a CSV with the header ``target_s,measured_s`` and
one row per measured cell (its target level and the conductance read from it, both in siemens):

    target_s,measured_s
    1e-06,1.08e-06
    1e-06,0.93e-06
    2.5e-05,2.61e-05
    ...

Programming a cell to ``g_T`` picks the target level in the file nearest ``g_T`` (the lower one on a
tie) and draws the cell's conductance uniformly from that level's measured values (one
``Generator.integers`` draw per cell from the generator passed: seeded, so the native solver and the
netlist see the same cells). A zero weight maps to the lowest level and the largest weight to the
highest (``g_range_s``); ``[device] levels`` can quantise the targets onto the file's levels when
they are evenly spaced. The cells do not drift and see no read noise (the measurements already hold
what one read after programming sees); stuck cells (``stuck_off_ratio`` / ``stuck_on_ratio``) sit at
the lowest / highest level.

To use a chip's data: write one row per cell read back (``target_s`` the level it was written to,
``measured_s`` what was read, siemens; convert resistances to 1 / R first), and set
``[device] kind = "measured"`` and ``levels_file = "my_chip.csv"`` (a path relative to the config's
folder) or ``pyims.devices.measured.MeasuredDevice(levels_file="my_chip.csv")``.

The file is untrusted input: at most ``MAX_LEVELS_FILE_BYTES`` (50 MB), UTF-8 text, every value a
finite float >= 0, at least 2 target levels, each with at least 1 measurement; a ``SpecError``
names the file and the line otherwise. It is read once per path (and modification time and size):
devices built from the same file share one read.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from pyims.devices.base import Device, ResistiveCell
from pyims.devices.registry import DEVICES
from pyims.errors import SpecError


__all__ = ["MeasuredDevice", "MeasuredLevels", "read_levels_file", "MAX_LEVELS_FILE_BYTES", "LEVELS_HEADER"]

#: The largest levels file read (bytes): 50 MB, about two million rows.
MAX_LEVELS_FILE_BYTES = 50_000_000
#: The CSV's header line.
LEVELS_HEADER = ("target_s", "measured_s")


@dataclass(frozen=True, slots=True, eq=False)
class MeasuredLevels:
    """A levels file, read (read-only float64 arrays, siemens).

    Attributes:
        levels_s: ``(n_levels,)`` the distinct target levels, ascending.
        values_s: ``(n_rows,)`` every measured conductance, grouped by level (level 0's first).
        offsets: ``(n_levels,)`` int64, where each level's values start in ``values_s``.
        counts: ``(n_levels,)`` int64, how many values each level has (>= 1).
        sha256: the file's SHA-256 (hex): what was read.
    """

    levels_s: np.ndarray
    values_s: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    sha256: str

    def level_values(self, k: int) -> np.ndarray:
        """The measured conductances of level ``k`` (S)."""
        return self.values_s[self.offsets[k] : self.offsets[k] + self.counts[k]]

    def nearest(self, g_s: np.ndarray) -> np.ndarray:
        """The index of the level nearest each of ``g_s`` (int64, its shape; the lower level on a tie)."""
        g = np.asarray(g_s, dtype=np.float64)
        lv = self.levels_s
        i = np.clip(np.searchsorted(lv, g), 1, lv.size - 1)
        lo, hi = lv[i - 1], lv[i]
        return np.where(g - lo <= hi - g, i - 1, i).astype(np.int64)


def _bad(path: str, line: int | None, what: str) -> SpecError:
    where = f"{path}, line {line}" if line is not None else path
    return SpecError(f"device.levels_file {where}: {what}")


def _number(path: str, line: int, name: str, text: str) -> float:
    text = text.strip()
    if not text:
        raise _bad(path, line, f"{name} is empty; every row is one measured cell: target_s,measured_s (siemens)")
    try:
        value = float(text)
    except ValueError:
        raise _bad(path, line, f"{name}={text[:40]!r} is not a number; write conductances in siemens, e.g. 2.5e-05") from None
    if not math.isfinite(value) or value < 0.0:
        raise _bad(path, line, f"{name}={value!r} must be finite and >= 0 (a conductance in siemens)")
    return value


@functools.lru_cache(maxsize=16)
def _read_cached(path: str, mtime_ns: int, size: int) -> MeasuredLevels:
    del mtime_ns, size  # the cache key: a changed file is read again
    return _parse(path)


def _parse(path: str) -> MeasuredLevels:
    with open(path, "rb") as fh:
        raw = fh.read(MAX_LEVELS_FILE_BYTES + 1)
    if len(raw) > MAX_LEVELS_FILE_BYTES:
        raise _bad(path, None, f"is larger than {MAX_LEVELS_FILE_BYTES} bytes ({MAX_LEVELS_FILE_BYTES / 1e6:g} MB); "
                               "keep a sample of the cells of each level")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad(path, None, f"is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as a plain CSV")
    lines = text.splitlines()
    if not lines:
        raise _bad(path, None, f"is empty; the first line must be {','.join(LEVELS_HEADER)}")
    if tuple(h.strip() for h in lines[0].split(",")) != LEVELS_HEADER:
        raise _bad(path, 1, f"the header is {lines[0][:60]!r}; the first line must be {','.join(LEVELS_HEADER)}")
    targets, values = [], []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue  # blank lines (a trailing newline) carry nothing
        parts = line.split(",")
        if len(parts) != 2:
            raise _bad(path, n, f"has {len(parts)} fields; every row is target_s,measured_s (two numbers)")
        targets.append(_number(path, n, "target_s", parts[0]))
        values.append(_number(path, n, "measured_s", parts[1]))
    t = np.asarray(targets, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    levels, inverse, counts = np.unique(t, return_inverse=True, return_counts=True)
    if levels.size < 2:
        raise _bad(path, None, f"has {levels.size} target level{'s' if levels.size != 1 else ''}; at least 2 are "
                               "needed (a zero weight maps to the lowest, the largest weight to the highest)")
    order = np.argsort(inverse, kind="stable")  # grouped by level, each level's rows in file order
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    out = MeasuredLevels(levels_s=levels, values_s=v[order], offsets=offsets, counts=counts.astype(np.int64),
                         sha256=hashlib.sha256(raw).hexdigest())
    for arr in (out.levels_s, out.values_s, out.offsets, out.counts):
        arr.flags.writeable = False
    return out


def read_levels_file(path: str | os.PathLike[str]) -> MeasuredLevels:
    """The levels file at ``path``, read once per path, modification time and size; SpecError naming the file
    (and the line) when it is missing or malformed."""
    p = str(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise _bad(p, None, f"cannot be read ({exc.strerror}); give the path of a CSV with the header "
                            f"{','.join(LEVELS_HEADER)}")
    if not os.path.isfile(p):
        raise _bad(p, None, "is not a file; give the path of a CSV")
    if st.st_size > MAX_LEVELS_FILE_BYTES:
        raise _bad(p, None, f"is {st.st_size} bytes, larger than {MAX_LEVELS_FILE_BYTES} ({MAX_LEVELS_FILE_BYTES / 1e6:g} "
                            "MB); keep a sample of the cells of each level")
    return _read_cached(p, st.st_mtime_ns, st.st_size)


@DEVICES.register
@dataclass(frozen=True, slots=True, kw_only=True)
class MeasuredDevice(ResistiveCell):
    """Cells programmed to conductances measured on a chip (see the module docstring).

    Attributes:
        levels_file: the CSV of measured conductances per target level (``target_s,measured_s``); made absolute
            against the working directory (the config reader already resolves it against the config's folder).
    """

    levels_file: str = ""

    kind: ClassVar[str] = "measured"

    def __post_init__(self) -> None:
        Device.__post_init__(self)
        if not isinstance(self.levels_file, (str, os.PathLike)) or not str(self.levels_file):
            raise SpecError(f"device.levels_file={self.levels_file!r}: device.kind='measured' needs the path of a CSV "
                            f"of measured conductances ({','.join(LEVELS_HEADER)}, one row per cell)")
        object.__setattr__(self, "levels_file", str(Path(os.path.expanduser(str(self.levels_file))).absolute()))
        self.levels  # read (and check) it now, not at the first mapping

    @property
    def levels(self) -> MeasuredLevels:
        """The file's levels and measurements (read once per path)."""
        return read_levels_file(self.levels_file)

    @property
    def g_range_s(self) -> tuple[float, float]:
        lv = self.levels.levels_s
        return (float(lv[0]), float(lv[-1]))

    def program(self, g_target_s: object, rng: np.random.Generator | None = None) -> np.ndarray:
        g = np.asarray(g_target_s, dtype=np.float64)
        if rng is None:
            raise SpecError("MeasuredDevice.program: drawing measured conductances needs a generator; pass "
                            "rng=numpy.random.default_rng(seed)")
        lv = self.levels
        k = lv.nearest(g)
        pick = rng.integers(0, lv.counts[k]) if g.size else np.zeros(g.shape, dtype=np.int64)
        return lv.values_s[lv.offsets[k] + pick].reshape(g.shape)

