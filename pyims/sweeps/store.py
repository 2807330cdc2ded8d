"""A resumable result store: one JSON record per sweep point, keyed by a hash of its resolved config.

Layout: ``<root>/records/<key>.json``. A record is written to a temporary file in the same
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
from pathlib import Path
from typing import Any

from pyims.errors import SpecError
from pyims.experiment.config import ExperimentConfig
from pyims.fileio import atomic_write_bytes

__all__ = ["ResultStore", "config_key", "RECORD_SCHEMA", "NEUTRAL_FIELDS"]

log = logging.getLogger(__name__)

RECORD_SCHEMA = 1

#: Fields that change how a point runs, not its results; left out of the key.
NEUTRAL_FIELDS = {"simulation": ("native_workers", "port_method", "ngspice_workers", "keep_run_dirs", "timeout_s", "batch_size")}


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def config_key(cfg: ExperimentConfig) -> str:
    """SHA-256 (hex, 16 chars) of the fully resolved config, without run-only fields."""
    data = cfg.as_dict()
    for section, fields in NEUTRAL_FIELDS.items():
        for f in fields:
            data[section].pop(f, None)
    data.pop("name", None)
    return hashlib.sha256(_canonical(data).encode()).hexdigest()[:16]


def _checksum(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


class ResultStore:
    """The records of one or more sweeps under ``root`` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise SpecError(f"result store {self.root} exists and is not a folder; choose another --store")
        self.records_dir = self.root / "records"

    def path(self, key: str) -> Path:
        return self.records_dir / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of ``key``, or None when it is missing or damaged (damage is logged)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            log.warning("record %s is damaged (%s); its point will run again", path, exc)
            return None
        if not isinstance(record, dict) or record.get("checksum") != _checksum(record) or record.get("key") != key:
            log.warning("record %s fails its checksum; its point will run again", path)
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
        """A tidy pandas DataFrame: one row per record; axis values, metrics and provenance as columns."""
        import pandas as pd

        rows = []
        for r in self.records():
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
            rows.append(row)
        df = pd.DataFrame(rows)
        return df.sort_values(["sweep", "point_index"], kind="stable").reset_index(drop=True) if len(df) else df

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as ``.csv`` or ``.parquet`` (by suffix), atomically."""
        path = Path(path)
        df = self.table()
        if path.suffix not in (".csv", ".parquet"):
            raise SpecError(f"export path {path} must end in .csv or .parquet")
        if path.suffix == ".csv":
            return atomic_write_bytes(path, lambda tmp: df.to_csv(tmp, index=False))
        return atomic_write_bytes(path, lambda tmp: df.to_parquet(tmp, index=False))
