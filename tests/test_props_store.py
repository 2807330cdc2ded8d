"""#25, property tests of what pyims reads back from disk: sweep store records and manifests, ngspice batch files.

Random damage -- bytes cut or put in, a field of another type (with the checksum made again, as a hand-made record
would have it), JSON nested deep, arrays of other shapes and dtypes, NaN -- ends in one of two ways: the file is
reported damaged (a warning naming it) and its work runs again, or a ``PyimsError`` naming the file; a record or batch
read back is one that passes every check a live one passes. Never another exception.
"""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyims.errors import PyimsError, SpecError
from pyims.inference.spice_batches import BatchStore, SpiceCluster, _batch_key, run_spice_batches
from pyims.sweeps import ResultStore
from pyims.sweeps.store import _checksum, _record_problem

SETTINGS = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                        HealthCheck.function_scoped_fixture])

GOOD = {"key": "k0", "status": "ok", "point": {"wires.r_row_ohm": 1.0, "partitions": {"max_rows": 16}},
        "config": {"wires": {"r_row_ohm": 1.0}, "train": {"hidden": [32]}}, "metrics": {"accuracy": 0.9, "energy_j": 1e-9},
        "provenance": {"pyims": "0", "host": "h"}, "error": None, "sweep": "s", "point_index": 0}

_JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                         st.text(max_size=6))
_JSON = st.recursive(_JSON_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                           st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                     max_leaves=8)


def _deep(depth: int, leaf=1):
    for k in range(depth):
        leaf = [leaf] if k % 2 else {"x": leaf}
    return leaf


def _paths(data, prefix=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))


@st.composite
def damaged_json(draw, good: dict) -> tuple[bytes, bool]:
    """``(file bytes, checksum made again)``: ``good`` with fields replaced, removed or nested deep, or its text cut
    and spliced."""
    data = json.loads(json.dumps(good))
    rehash = draw(st.booleans())
    how = draw(st.sampled_from(["field", "field", "remove", "deep", "whole", "text"]))
    if how in ("field", "remove", "deep"):
        path = draw(st.sampled_from(list(_paths(data))))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if how == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_JSON) if how == "field" else _deep(draw(st.sampled_from([50, 500, 900, 990, 5000])))
    elif how == "whole":
        data = draw(st.one_of(_JSON, st.sampled_from([_deep(100_000), [], "", 0])))
    if rehash and isinstance(data, dict):
        try:
            data["checksum"] = _checksum(data)
        except RecursionError:  # too deep to hash here as well: the file keeps its old checksum
            pass
    try:
        raw = json.dumps(data).encode()
    except RecursionError:
        raw = ("[" * 100_000 + "]" * 100_000).encode()
    if how == "text":
        cut = draw(st.integers(0, len(raw)))
        at = draw(st.integers(0, cut))
        raw = raw[:at] + draw(st.binary(max_size=5)) + raw[at:cut]
    return raw, rehash


# ------------------------------------------------------------------ sweep store records
def _store_with(tmp_path) -> ResultStore:
    store = ResultStore(tmp_path / "store")
    store.put(GOOD)
    return store


def test_a_record_reads_back_as_written(tmp_path):
    store = _store_with(tmp_path)
    got = store.get("k0")
    assert {k: got[k] for k in GOOD} == GOOD and store.done("k0")
    assert _record_problem(got) is None


@settings(max_examples=100, **SETTINGS)
@given(case=damaged_json({**GOOD, "schema": 1}))
def test_a_damaged_record_runs_again_or_reads_as_a_valid_record(tmp_path_factory, case):
    tmp_path = tmp_path_factory.mktemp("rec")
    raw, _ = case
    store = _store_with(tmp_path)
    store.path("k0").write_bytes(raw)
    got = store.get("k0")  # None: damaged, logged, the point runs again
    if got is None:
        assert not store.done("k0") and store.records() == []
        return
    assert _record_problem(got) is None and got["key"] == "k0" and got["checksum"] == _checksum(got)
    assert store.done("k0") == (got["status"] == "ok")
    try:  # what is served reaches every reader of the store: the table and its exports
        store.table()
        store.export(tmp_path / "out.csv")
    except PyimsError:
        pass


def test_a_damaged_record_is_named_in_the_warning(tmp_path, caplog):
    store = _store_with(tmp_path)
    store.path("k0").write_bytes(b'{"key": "k0", "status": ')
    with caplog.at_level(logging.WARNING, logger="pyims.sweeps.store"):
        assert store.get("k0") is None
    assert f"record {store.path('k0')} is damaged (JSONDecodeError); its point will run again" in caplog.text


# ------------------------------------------------------------------ manifests
MANIFEST = {"schema": 1, "specs": [{"hash": "a" * 16, "name": "s", "n_points": 2, "axes": {"wires.r_row_ohm": [1.0, 2.0]}}]}


@settings(max_examples=80, **SETTINGS)
@given(case=damaged_json(MANIFEST), append=st.booleans())
def test_a_damaged_manifest_is_a_spec_error_naming_it_or_reads_as_one(tmp_path_factory, case, append):
    tmp_path = tmp_path_factory.mktemp("man")
    raw, _ = case
    store = ResultStore(tmp_path / "store")
    store.root.mkdir()
    store.manifest_path.write_bytes(raw)
    try:
        manifest = store.manifest()
    except SpecError as exc:
        assert f"result store {store.root}: manifest.json is damaged" in str(exc)
        manifest = None
    if manifest is not None:
        assert all(isinstance(e, dict) and isinstance(e["hash"], str) and isinstance(e["name"], str)
                   for e in manifest["specs"])
    try:
        h = store.claim("t", ["k1", "k2"], {"wires.r_row_ohm": [1.0, 2.0]}, append=append)
    except SpecError as exc:
        assert str(store.root) in str(exc)
    else:
        assert h in {e["hash"] for e in store.manifest()["specs"]}


# ------------------------------------------------------------------ ngspice batch files
def _batch(n: int = 3, widths=(4, 2)):
    rng = np.random.default_rng(n)
    pre = [rng.normal(size=(n, w)) for w in widths]
    return pre, rng.uniform(size=n), pre[-1].copy()


def _npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


_DTYPES = st.sampled_from(["float64", "float32", "float16", "int64", "uint8", "bool", "complex128", "<U3", "datetime64[s]"])


@st.composite
def damaged_arrays(draw) -> dict:
    """The arrays of a three-image, two-layer batch with one array of another shape, dtype or value, or missing."""
    pre, power, out = _batch()
    arrays = {"pre0": pre[0], "pre1": pre[1], "power": power, "output": out}
    name = draw(st.sampled_from(sorted(arrays)))
    how = draw(st.sampled_from(["shape", "dtype", "value", "missing", "extra"]))
    if how == "shape":
        shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=3))
        arrays[name] = np.ones(shape)
    elif how == "dtype":
        arrays[name] = np.zeros(arrays[name].shape, dtype=draw(_DTYPES))
    elif how == "value":
        a = arrays[name].copy()
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e308]))
        arrays[name] = a
    elif how == "missing":
        del arrays[name]
    else:
        arrays["pre2"] = np.ones((3, 1))
    return arrays


def _check_batch(got, n_images: int = 3) -> None:
    if got is None:
        return
    pre, power, out, info = got
    assert isinstance(info, dict)
    for a in (*pre, power, out):
        assert a.dtype.kind == "f" and np.all(np.isfinite(a)) and a.shape[0] == n_images
    assert power.ndim == 1 and out.ndim == 2 and all(p.ndim == 2 for p in pre)


@settings(max_examples=120, **SETTINGS)
@given(arrays=damaged_arrays(), cut=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_a_damaged_batch_archive_runs_again_or_reads_as_a_valid_batch(tmp_path_factory, arrays, cut):
    tmp_path = tmp_path_factory.mktemp("npz")
    store = BatchStore(tmp_path, "run")
    store.put("b", *_batch(), {"host": "h", "images": [0, 1, 2]})
    npz, _ = store._paths("b")
    raw = _npz(arrays)
    npz.write_bytes(raw if cut is None else raw[: int(len(raw) * cut)])
    _check_batch(store.get("b", 2, n_images=3))


@settings(max_examples=80, **SETTINGS)
@given(case=damaged_json({"host": "h", "pid": 1, "images": [0, 1, 2], "ngspice_version": 44, "wall_time_s": 0.5}))
def test_a_damaged_batch_record_runs_again_or_reads_as_a_valid_batch(tmp_path_factory, case):
    tmp_path = tmp_path_factory.mktemp("meta")
    store = BatchStore(tmp_path, "run")
    store.put("b", *_batch(), {"host": "h", "images": [0, 1, 2]})
    _, meta = store._paths("b")
    meta.write_bytes(case[0])
    _check_batch(store.get("b", 2, n_images=3))


# ------------------------------------------------------------------ regressions the properties found
@pytest.mark.parametrize("raw, why", [
    (b'{"host": ' + b"[" * 5000 + b"]" * 5000 + b"}", "RecursionError"),
    (b"[1, 2, 3]", "its record is a list"),
    (b'"text"', "its record is a str"),
])
def test_a_batch_record_nested_deep_or_not_a_table_runs_again(tmp_path, caplog, raw, why):
    """Found by the properties: JSON nested deeper than Python's recursion limit escaped as RecursionError, and a
    record that is not a table was passed on (a TypeError when the run adds ``resumed`` to it)."""
    store = BatchStore(tmp_path, "run")
    store.put("b", *_batch(), {"host": "h"})
    npz, meta = store._paths("b")
    meta.write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="pyims.inference.spice_batches"):
        assert store.get("b", 2, n_images=3) is None
    assert f"verification batch {npz} is damaged ({why}" in caplog.text


@pytest.mark.parametrize("change, why", [
    ({"pre0": np.ones((2, 4))}, r"pre0 has shape \(2, 4\), not 3 rows"),
    ({"power": np.ones((3, 2))}, r"power has shape \(3, 2\); need \(3,\)"),
    ({"output": np.array(["a", "b", "c"])}, r"output is a <U1 array, not floating-point numbers"),
    ({"pre1": np.zeros((3, 2), dtype=complex)}, r"pre1 is a complex128 array, not floating-point numbers"),
])
def test_a_batch_of_wrong_shapes_or_types_runs_again(tmp_path, caplog, change, why):
    """Found by the properties: a batch of other shapes was passed on to fail in ``np.concatenate`` (an internal error
    after the native work), one of strings raised TypeError in the finiteness check."""
    store = BatchStore(tmp_path, "run")
    store.put("b", *_batch(), {"host": "h"})
    npz, _ = store._paths("b")
    pre, power, out = _batch()
    npz.write_bytes(_npz({"pre0": pre[0], "pre1": pre[1], "power": power, "output": out, **change}))
    with caplog.at_level(logging.WARNING, logger="pyims.inference.spice_batches"):
        assert store.get("b", 2, n_images=3) is None
    assert caplog.records and str(npz) in caplog.text
    assert any(__import__("re").search(why, r.getMessage()) for r in caplog.records), caplog.text


def test_stored_batches_that_disagree_in_width_are_a_spec_error_naming_the_store(tmp_path):
    """Two hand-made batches, each well formed, of different widths: one error naming the batch folder, not
    ``np.concatenate``'s ValueError."""
    from pyims.mapping import map_network
    from pyims.model import MLP, NeuronSpec

    rng = np.random.default_rng(0)
    mlp = MLP(weights=(rng.normal(size=(5, 4)), rng.normal(size=(4, 2))), biases=(np.zeros(4), np.zeros(2)),
              neuron=NeuronSpec(kind="sigmoid"))
    net = map_network(mlp)
    u = rng.uniform(size=(6, 5))
    index = np.arange(6)
    cluster = SpiceCluster(store_dir=tmp_path, batch_size=3)
    store = BatchStore(tmp_path, "run")
    for b, widths in ((index[:3], (4, 2)), (index[3:], (4, 3))):
        pre, power, out = _batch(3, widths)
        store.put(_batch_key("run", net.topology.name, b, u[b]), pre, power, out, {"host": "h", "images": b.tolist()})
    with pytest.raises(SpecError, match=rf"verification batches in {store.dir} disagree in layer 2's width \(2 and 3 "
                                        r"values per image\); move the folder aside to run them again"):
        run_spice_batches(net, u, index, cluster=cluster, run_key="run")
