"""Read ngspice binary raw files (real or complex; one or more plots)."""

from __future__ import annotations

import os

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyims.errors import RawFileError

__all__ = ["RawPlot", "read_raw", "parse_raw"]


@dataclass(frozen=True, slots=True)
class RawPlot:
    """One plot of a raw file.

    Attributes:
        plotname: e.g. "Operating Point", "DC transfer characteristic".
        names: lower-cased variable names, e.g. ``("v(v-sweep)", "i(vs0)")``.
        units: the variable types ngspice wrote ("voltage", "current", ...).
        data: array ``(n_points, n_variables)``, float64 (complex128 for complex plots).
    """

    plotname: str
    names: tuple[str, ...]
    units: tuple[str, ...]
    data: np.ndarray

    def columns(self, names: "list[str] | tuple[str, ...]") -> np.ndarray:
        """Real values of several variables, shape ``(n_points, len(names))`` (one name lookup table)."""
        index = {n: k for k, n in enumerate(self.names)}
        missing = [n for n in names if n.lower() not in index]
        if missing:
            raise RawFileError(f"plot {self.plotname!r} lacks variables {missing[:5]} ({len(missing)} missing)")
        return np.ascontiguousarray(self.data[:, [index[n.lower()] for n in names]].real)

    def column(self, name: str) -> np.ndarray:
        """Values of variable ``name`` (case-insensitive), shape ``(n_points,)``."""
        try:
            k = self.names.index(name.lower())
        except ValueError:
            raise RawFileError(f"plot {self.plotname!r} has no variable {name!r}; it has {list(self.names)[:10]}...") from None
        return self.data[:, k]


def _read_line(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.find(b"\n", pos)
    if end < 0:
        raise RawFileError("raw file ends inside its header")
    return buf[pos:end].decode("latin-1").rstrip("\r"), end + 1


def parse_raw(buf: bytes, source: str = "<bytes>") -> list[RawPlot]:
    """Parse the bytes of a raw file into its plots; RawFileError on anything unexpected."""
    plots: list[RawPlot] = []
    pos = 0
    while pos < len(buf):
        rest = buf[pos:].lstrip()
        if not rest:
            break
        if plots and not rest.startswith(b"Title:"):
            # ngspice appends a text note after the data of an interpolated plot
            # ("Warning: Interpolated raw file data!"); it is not another plot.
            break
        header: dict[str, str] = {}
        names: list[str] = []
        units: list[str] = []
        while True:
            line, pos = _read_line(buf, pos)
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "variables":
                n_vars = int(header.get("no. variables", "-1"))
                if n_vars < 1:
                    raise RawFileError(f"{source}: 'No. Variables' missing or < 1 before the variable list")
                for _ in range(n_vars):
                    line, pos = _read_line(buf, pos)
                    fields = line.split()
                    if len(fields) < 3:
                        raise RawFileError(f"{source}: malformed variable line {line!r}")
                    names.append(fields[1].lower())
                    units.append(fields[2])
                continue
            if key in ("binary", "values"):
                break
            header[key] = value.strip()
        try:
            n_vars = int(header["no. variables"])
            n_points = int(header["no. points"])
        except (KeyError, ValueError) as exc:
            raise RawFileError(f"{source}: header lacks a valid 'No. Variables'/'No. Points' ({exc})") from exc
        is_complex = "complex" in header.get("flags", "real").lower()
        width = 2 if is_complex else 1
        if key != "binary":
            raise RawFileError(f"{source}: ASCII raw data is not supported; run ngspice with `set filetype=binary`")
        count = n_points * n_vars * width
        nbytes = 8 * count
        if pos + nbytes > len(buf):
            raise RawFileError(
                f"{source}: binary data truncated: need {nbytes} bytes for {n_points} points x {n_vars} "
                f"variables, have {len(buf) - pos}"
            )
        flat = np.frombuffer(buf, dtype="<f8", count=count, offset=pos).copy()
        pos += nbytes
        if is_complex:
            flat = flat[0::2] + 1j * flat[1::2]
        data = flat.reshape(n_points, n_vars)
        plots.append(RawPlot(header.get("plotname", ""), tuple(names), tuple(units), data))
    if not plots:
        raise RawFileError(f"{source}: no plot found (empty raw file)")
    return plots


def read_raw(path: Path) -> list[RawPlot]:
    """Read and parse the raw file at ``path``: a regular file (a FIFO, socket or device there -- never written by
    ngspice -- is refused without opening it, so a read can never block)."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise RawFileError(f"raw file {path} was not written") from None
    if not stat.S_ISREG(mode):
        raise RawFileError(f"raw file {path} is not a regular file (a link, FIFO, socket or device); ngspice writes a "
                           "file there: something else put this in the run directory")
    try:
        buf = Path(path).read_bytes()
    except FileNotFoundError:
        raise RawFileError(f"raw file {path} was not written") from None
    if not buf:
        raise RawFileError(f"raw file {path} is empty")
    return parse_raw(buf, str(path))
