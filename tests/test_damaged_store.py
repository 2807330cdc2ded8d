"""#25, damaged or hand-made store files: a damaged manifest is one line naming the file; a damaged record -- deep
JSON, wrong types with a valid checksum -- runs again; errors name the user's file, never a temporary one."""

from __future__ import annotations

import json
import os

import pytest

from pyims.errors import SpecError
from pyims.fileio import atomic_write_bytes
from pyims.sweeps import ResultStore
from pyims.sweeps.store import _checksum


def _put_raw(store: ResultStore, key: str, record: dict) -> None:
    store.records_dir.mkdir(parents=True, exist_ok=True)
    record = dict(record, key=key)
    record["checksum"] = _checksum(record)
    store.path(key).write_text(json.dumps(record))


GOOD = {"status": "ok", "point": {"wires.r_row_ohm": 1.0}, "config": {}, "metrics": {"accuracy": 0.9},
        "provenance": {}, "error": None, "sweep": "s", "point_index": 0, "schema": 1}


@pytest.mark.parametrize("text, match", [
    ("[" * 100_000 + "]" * 100_000, r"manifest.json is damaged"),
    ('{"schema": 1, "specs": 3}', r"manifest.json is damaged \(no list of specs\)"),
    ('{"schema": 1, "specs": [7]}', r"specs\[0\] is not a sweep entry"),
    ('{"schema": 1, "specs": [{"hash": 5, "name": "x"}]}', r"specs\[0\] is not a sweep entry"),
    ("\xff\xfe not text", r"manifest.json is damaged"),
])
def test_a_damaged_manifest_is_one_line_naming_it(tmp_path, text, match):
    store = ResultStore(tmp_path / "s")
    store.root.mkdir()
    store.manifest_path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(SpecError, match=match):
        store.claim("s", ["a"], {"x": [1]})


@pytest.mark.parametrize("damage", [
    lambda r: {**r, "status": 3},
    lambda r: {**r, "point": "not a table"},
    lambda r: {**r, "metrics": ["x"]},
    lambda r: {**r, "metrics": {"accuracy": {"nested": 1}}},
    lambda r: {**r, "status": "maybe"},
    lambda r: {k: v for k, v in r.items() if k != "config"},
    lambda r: {**r, "point_index": True},
])
def test_a_hand_made_record_with_a_valid_checksum_but_wrong_types_runs_again(tmp_path, damage):
    store = ResultStore(tmp_path / "s")
    _put_raw(store, "k1", GOOD)
    assert store.done("k1")  # the well-formed one is a finished point
    _put_raw(store, "k2", damage(GOOD))
    assert store.get("k2") is None and not store.done("k2")
    assert [r["key"] for r in store.records()] == ["k1"]
    store.table()  # the table of what is valid builds


def test_a_record_nested_too_deep_runs_again(tmp_path):
    store = ResultStore(tmp_path / "s")
    store.records_dir.mkdir(parents=True)
    store.path("k").write_text("[" * 100_000 + "]" * 100_000)
    assert store.get("k") is None and store.records() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_write_error_names_the_users_file_not_a_temporary_one(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as err:
            atomic_write_bytes(folder / "manifest.json", b"{}")
        assert err.value.filename == str(folder / "manifest.json") and ".tmp" not in str(err.value)
    finally:
        folder.chmod(0o700)


def test_a_failed_replace_names_the_target(tmp_path):
    target = tmp_path / "a-folder"
    (target / "inside").mkdir(parents=True)  # replacing a non-empty folder by a file fails
    with pytest.raises(OSError) as err:
        atomic_write_bytes(target, b"x")
    assert err.value.filename == str(target) and ".tmp" not in str(err.value)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("kind", ["fifo", "link"])
def test_a_raw_file_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind):
    from pyims.errors import RawFileError
    from pyims.runners.rawfile import read_raw

    raw = tmp_path / "out.raw"
    if kind == "fifo":
        os.mkfifo(raw)  # opening it for reading would wait for a writer for ever
    else:
        (tmp_path / "elsewhere.raw").write_bytes(b"Title: x\n")
        raw.symlink_to(tmp_path / "elsewhere.raw")
    with pytest.raises(RawFileError, match=r"out.raw is not a regular file"):
        read_raw(raw)
