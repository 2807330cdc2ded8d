"""A resumable result store: one JSON record per sweep point, keyed by a hash of its resolved config.

Layout: ``<root>/records/<key>.json`` and ``<root>/manifest.json``, which names the sweep(s) the
store belongs to by each spec's hash (the set of its points' config keys): a sweep with other
points is refused unless it is added on purpose (``append``), so two studies never mix by accident. A record is written to a temporary file in the same
folder, flushed to disk and renamed into place, so a crash or Ctrl-C never leaves a
half-written record, and two sweeps writing one store at once each leave complete records
(for the same key, the later rename wins; both are results of the same config). Every record
carries a SHA-256 of its own content: a damaged record is reported and its point runs again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pyims.errors import SpecError
from pyims.experiment.config import NEUTRAL_FIELDS, canonical_json, config_key
from pyims.fileio import atomic_write_bytes, umask_mode

__all__ = ["ResultStore", "config_key", "spec_hash", "differing_fields", "axis_covers", "RECORD_SCHEMA", "NEUTRAL_FIELDS", "MANIFEST_SCHEMA"]

log = logging.getLogger(__name__)

RECORD_SCHEMA = 1
MANIFEST_SCHEMA = 1

#: The coordinate of an axis that a record's sweep did not vary (stores with appended sweeps).
NOT_SWEPT = "(not swept)"

def spec_hash(point_keys: list[str]) -> str:
    """SHA-256 (hex, 16 chars) of a sweep's set of point config keys: the same points in any order hash alike."""
    return hashlib.sha256(canonical_json(sorted(set(point_keys))).encode()).hexdigest()[:16]


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"wires": {"r_row_ohm": 1.0}}`` -> ``{"wires.r_row_ohm": 1.0}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differing_fields(configs: list[dict[str, Any]]) -> list[str]:
    """Dotted names of the config fields whose value is not the same in every one of ``configs``
    (run-only fields and the name excluded), sorted."""
    neutral = {f"{section}.{f}" for section, fields in NEUTRAL_FIELDS.items() for f in fields} | {"name"}
    flats = [_flatten(c) for c in configs]
    names = set().union(*flats) if flats else set()
    return sorted(n for n in names - neutral if len({canonical_json(f.get(n)) for f in flats}) > 1)


def axis_covers(axes, column: str) -> bool:
    """True when ``column`` (a config field, ``config.wires.r_row_ohm``, or an axis name) is one of the
    fields the sweep ``axes`` set (an axis ``a+b`` sets both; ``partitions`` sets ``partitions.*``)."""
    path = column.removeprefix("config.")
    parts = {part for a in axes for part in a.removeprefix("config.").split("+")}
    return any(path == p or path.startswith(p + ".") for p in parts)


def _checksum(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


#: A record's fields and their types (what a hand-made record with a valid checksum must still have).
_RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "key": (str,), "status": (str,), "point": (dict,), "config": (dict,), "metrics": (dict, type(None)),
    "provenance": (dict,), "error": (str, type(None)), "sweep": (str, type(None)), "point_index": (int, type(None)),
}


def _record_problem(record: dict[str, Any]) -> str | None:
    """Why ``record`` is not a record this store writes (a field missing or of the wrong type), or ``None``."""
    for name, types in _RECORD_FIELDS.items():
        if name not in record and type(None) in types:
            continue
        if name not in record:
            return f"no {name!r}"
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, types):
            return f"{name!r} is a {type(value).__name__}"
    if record["status"] not in ("ok", "failed", "error"):
        return f"status {record['status']!r}"
    for name, value in (record.get("metrics") or {}).items():
        if not isinstance(name, str) or not (value is None or isinstance(value, (int, float, str, list))):
            return f"metric {name!r} is a {type(value).__name__}"
    return None


class ResultStore:
    """The records of one or more sweeps under ``root`` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise SpecError(f"result store {self.root} exists and is not a folder; choose another --store")
        self.records_dir = self.root / "records"

    def path(self, key: str) -> Path:
        return self.records_dir / f"{key}.json"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        """``{"schema": 1, "specs": [{"hash", "name", "n_points", "axes"}, ...]}``; empty specs when none yet."""
        if not self.manifest_path.is_file():
            return {"schema": MANIFEST_SCHEMA, "specs": []}
        try:
            data = json.loads(self.manifest_path.read_text())
            if not isinstance(data, dict) or not isinstance(data.get("specs"), list):
                raise ValueError("no list of specs")
            for k, entry in enumerate(data["specs"]):
                if not (isinstance(entry, dict) and isinstance(entry.get("hash"), str) and isinstance(entry.get("name"), str)):
                    raise ValueError(f"specs[{k}] is not a sweep entry with a hash and a name")
        except (ValueError, OSError, RecursionError) as exc:  # RecursionError: JSON nested too deep to read
            raise SpecError(f"result store {self.root}: manifest.json is damaged ({exc}); move it aside to re-create it "
                            "from the next sweep run") from exc
        return data

    @contextmanager
    def locked(self, timeout_s: float = 30.0) -> Iterator[None]:
        """An exclusive OS lock (``fcntl.flock``) on ``<root>/.lock`` for the block (released when it ends or the
        process dies): the manifest is read, checked and rewritten under it, so two sweeps started together never
        both claim one store. Waits up to ``timeout_s`` for another claim to finish, then SpecError."""
        import fcntl
        import time

        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, umask_mode(0o666))
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                        raise SpecError(f"result store {self.root} is held by another process ({holder}) for more than "
                                        f"{timeout_s:g} s; is a sweep stuck claiming it? try again, or use another "
                                        "--store") from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def claim(self, name: str, point_keys: list[str], axes: dict[str, Any], *, append: bool = False) -> str:
        """Record that sweep ``name`` (with these point config keys) writes here; returns its spec hash.

        Raises SpecError when the store belongs to a sweep with other points and ``append`` is False
        (a store made before manifests existed is adopted when its records are all points of this sweep).
        """
        with self.locked():  # read, check and rewrite the manifest as one step
            return self._claim(name, point_keys, axes, append=append)

    def _claim(self, name: str, point_keys: list[str], axes: dict[str, Any], *, append: bool) -> str:
        h = spec_hash(point_keys)
        manifest = self.manifest()
        known = {entry.get("hash") for entry in manifest["specs"]}
        if h in known:
            return h
        if not append:
            if manifest["specs"]:
                names = ", ".join(f"{e.get('name')!r} ({e.get('hash')})" for e in manifest["specs"])
                same = any(e.get("name") == name for e in manifest["specs"])
                why = (f"sweep {name!r} now has other points ({h}): its axes changed, or a file its configs name (model, "
                       "weights, dataset, device or converter file) changed content since those were stored"
                       if same else f"sweep {name!r} ({h}) has other points")
                raise SpecError(
                    f"result store {self.root} belongs to sweep {names}; {why}. "
                    "Use another --store, or --append to add its points to this store (plots and exports then "
                    "keep the two apart by every config field that differs)")
            stray = [r["key"] for r in self.records() if r["key"] not in set(point_keys)]
            if stray:
                raise SpecError(
                    f"result store {self.root} holds {len(stray)} record(s) that are not points of sweep {name!r}; "
                    "use another --store, or --append to add this sweep to it")
        manifest["specs"].append({"hash": h, "name": name, "n_points": len(set(point_keys)), "axes": axes})
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True).encode())
        return h

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of ``key``, or None when it is missing or damaged (damage is logged)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
        except (ValueError, OSError, RecursionError) as exc:  # not JSON, not text, nested too deep
            log.warning("record %s is damaged (%s); its point will run again", path, type(exc).__name__)
            return None
        if not isinstance(record, dict) or record.get("checksum") != _checksum(record) or record.get("key") != key:
            log.warning("record %s fails its checksum; its point will run again", path)
            return None
        problem = _record_problem(record)
        if problem is not None:
            log.warning("record %s is damaged (%s); its point will run again", path, problem)
            return None
        return record

    def done(self, key: str) -> bool:
        """True when ``key`` has a valid record of a successful run (failed points run again)."""
        record = self.get(key)
        return record is not None and record.get("status") == "ok"

    def put(self, record: dict[str, Any]) -> Path:
        """Write ``record`` (needs ``key``) atomically; returns its path."""
        self.records_dir.mkdir(parents=True, exist_ok=True)
        record = dict(record, schema=RECORD_SCHEMA)
        record["checksum"] = _checksum(record)
        path = self.path(record["key"])
        return atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())

    def records(self) -> list[dict[str, Any]]:
        """Every valid record, sorted by key."""
        if not self.records_dir.is_dir():
            return []
        out = []
        for path in sorted(self.records_dir.glob("*.json")):
            record = self.get(path.stem)
            if record is not None:
                out.append(record)
        return out

    def table(self):
        """A tidy pandas DataFrame: one row per record; axis values, metrics and provenance as columns,
        and ``config.<section>.<field>`` for every config field whose value differs between records
        (so points of different configs are never taken for repeats of one)."""
        import pandas as pd

        rows = []
        records = self.records()
        differing = differing_fields([r.get("config", {}) for r in records])
        for r in records:
            row: dict[str, Any] = {
                "key": r["key"], "sweep": r.get("sweep"), "point_index": r.get("point_index"),
                "status": r["status"], "error": r.get("error"),
            }
            for axis, value in r.get("point", {}).items():
                row[axis] = json.dumps(value) if isinstance(value, (list, dict)) else value
            for name, value in (r.get("metrics") or {}).items():
                row[name] = value
            for name, value in r.get("provenance", {}).items():
                row[f"provenance.{name}"] = value
            flat = _flatten(r.get("config", {}))
            for name in differing:
                value = flat.get(name)
                row[f"config.{name}"] = json.dumps(value) if isinstance(value, (list, dict)) else value
            rows.append(row)
        df = pd.DataFrame(rows)
        df = df.sort_values(["sweep", "point_index"], kind="stable").reset_index(drop=True) if len(df) else df
        df.attrs["swept"] = sorted({a for r in records for a in r.get("point", {})})  # the axis columns
        return df

    def to_xarray(self):
        """The successful records as an ``xarray.Dataset``: one dimension per swept field (the sweep's
        axes, plus any other config field that differs between records, so no two records share a
        cell), the numeric metrics as data variables. Axis values that are lists or tables (partition
        plans) are coordinates of JSON text."""
        df = self.table()
        if not len(df) or not (df["status"] == "ok").any():
            raise SpecError(f"store {self.root} has no successful records to export")
        ok = df[df["status"] == "ok"].copy()
        axes = [a for a in df.attrs["swept"] if ok[a].notna().any()]
        for a in axes:  # a store with appended sweeps: an axis one of them did not sweep
            if ok[a].isna().any():
                ok[a] = ok[a].map(lambda v: NOT_SWEPT if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))

        dims = axes + [c for c in ok.columns if c.startswith("config.") and not axis_covers(axes, c)]
        if ok.duplicated(subset=dims).any():
            raise SpecError(f"store {self.root}: records are not told apart by their swept fields {dims}; "
                            "export to .csv or .parquet instead")
        numeric = [c for c in ok.columns if c not in dims and c != "point_index"
                   and ok[c].dtype.kind in "fiub" and not c.startswith("config.")]
        return ok.set_index(dims)[numeric].to_xarray()

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as ``.csv`` or ``.parquet``, or the labelled array (``to_xarray``) as netCDF
        ``.nc`` (by suffix), atomically."""
        path = Path(path)
        if path.suffix not in (".csv", ".parquet", ".nc"):
            raise SpecError(f"export path {path} must end in .csv, .parquet or .nc (netCDF, for xarray)")
        if path.suffix == ".nc":
            ds = self.to_xarray()
            return atomic_write_bytes(path, lambda tmp: ds.to_netcdf(tmp, engine="scipy"))
        df = self.table()
        if path.suffix == ".csv":
            return atomic_write_bytes(path, lambda tmp: df.to_csv(tmp, index=False))
        return atomic_write_bytes(path, lambda tmp: df.to_parquet(tmp, index=False))
