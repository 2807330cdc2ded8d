"""Sweeps: specs, the resumable store, serial vs Dask, interruption, corruption, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing

import pandas as pd
import pytest

from pyims.cli import main
from pyims.errors import ConfigError, SpecError
from pyims.sweeps import ResultStore, config_key, parse_sweep
from pyims.sweeps.run import evaluate_point, run_sweep

BASE = {
    "dataset": {"name": "digits", "max_test": 60},
    "train": {"hidden": [8], "epochs": 2},
    "simulation": {"verify_images": 0},
}


def _spec(tmp_path, axes=None, experiment=None, name="t"):
    return parse_sweep(
        {"name": name, "experiment": experiment or BASE,
         "axes": axes or {"wires.r_row_ohm+wires.r_col_ohm": [0.0, 30.0], "partitions": [{}, {"horizontal": [4, 1]}]}},
        base_dir=tmp_path,
    )


def _metrics(store):
    df = store.table()
    return df.drop(columns=[c for c in df.columns if c.startswith("provenance.")])


CALLS: list[dict] = []


def counting_evaluate(data, base_dir):
    CALLS.append(data)
    return evaluate_point(data, base_dir)


def interrupting_evaluate(data, base_dir):
    if len(CALLS) == 2:
        raise KeyboardInterrupt
    return counting_evaluate(data, base_dir)


def test_spec_points_and_keys(tmp_path):
    spec = _spec(tmp_path)
    assert spec.n_points == 4 and len(spec.points()) == 4
    keys = {config_key(spec.config(p)) for p in spec.points()}
    assert len(keys) == 4
    cfg = spec.config(spec.points()[3])
    assert cfg.wires.r_row_ohm == cfg.wires.r_col_ohm == 30.0 and cfg.partitions.horizontal == (4, 1)
    # run-only fields do not change the key
    import dataclasses

    faster = dataclasses.replace(cfg, simulation=dataclasses.replace(cfg.simulation, native_workers=2, timeout_s=5.0,
                                                                     port_method="solves"))
    assert config_key(faster) == config_key(cfg)


@pytest.mark.parametrize(
    "data, match",
    [
        ({"axes": {}}, r"\[axes\] is missing or empty"),
        ({"axes": {"wires.r_row_ohm": []}}, "needs a non-empty list"),
        ({"axes": {"wires.": [1.0]}}, "must name 'section.field'"),
        ({"axes": {"partitions": [[4, 1]]}}, "each value must be a table"),
        ({"axes": {"device.g_onn": [1e-4]}}, "unknown field device.g_onn"),
        ({"axes": {"partitions.horizontal": [[1, 1], [500, 1]]}}, None),  # valid config, fails at run time
        ({"axes": {"neuron.kind": ["sigmoid", "relu"]}}, r"point \{'neuron.kind': 'relu'\} is invalid.*neuron.kind='relu' is unknown"),
        ({"axes": {"wires.r_row_ohm": [1.0]}, "colour": "red"}, "unknown field 'colour'"),
        ({"axes": {"wires.r_row_ohm": [1.0]}, "base": "nowhere.toml"}, "does not exist"),
    ],
)
def test_bad_sweep_specs_are_rejected(tmp_path, data, match):
    if match is None:
        parse_sweep({"experiment": BASE, **data}, base_dir=tmp_path)
        return
    with pytest.raises(ConfigError, match=match):
        parse_sweep({"experiment": BASE, **data}, base_dir=tmp_path)


def test_serial_equals_two_worker_cluster(tmp_path):
    spec = _spec(tmp_path)
    serial, dask = ResultStore(tmp_path / "serial"), ResultStore(tmp_path / "dask")
    a = run_sweep(spec, serial, serial=True)
    b = run_sweep(spec, dask, n_workers=2)
    assert a.n_ran == b.n_ran == 4 and not a.n_failed and not b.n_failed
    pd.testing.assert_frame_equal(_metrics(serial), _metrics(dask))
    hosts = {r["provenance"]["pid"] for r in dask.records()}
    assert len(hosts) >= 1 and all(r["provenance"]["pyims_version"] for r in dask.records())


def test_interrupted_sweep_resumes(tmp_path):
    spec = _spec(tmp_path)
    store = ResultStore(tmp_path / "s")
    CALLS.clear()
    first = run_sweep(spec, store, serial=True, evaluate=interrupting_evaluate)
    assert first.interrupted and first.n_ran == 2 and len(store.records()) == 2
    assert not list((tmp_path / "s" / "records").glob("*.tmp"))  # nothing half-written
    CALLS.clear()
    second = run_sweep(spec, store, serial=True, evaluate=counting_evaluate)
    assert second.n_skipped == 2 and second.n_ran == 2 and len(CALLS) == 2 and not second.interrupted
    assert len(store.records()) == 4


def test_corrupted_record_is_detected_and_rerun(tmp_path, caplog):
    spec = _spec(tmp_path)
    store = ResultStore(tmp_path / "s")
    run_sweep(spec, store, serial=True)
    victim = sorted((tmp_path / "s" / "records").glob("*.json"))[1]
    record = json.loads(victim.read_text())
    record["metrics"]["accuracy_analog"] = 1.0  # tampered: checksum no longer matches
    victim.write_text(json.dumps(record))
    other = sorted((tmp_path / "s" / "records").glob("*.json"))[2]
    other.write_text(other.read_text()[:50])  # truncated
    assert store.get(victim.stem) is None and store.get(other.stem) is None
    CALLS.clear()
    again = run_sweep(spec, store, serial=True, evaluate=counting_evaluate)
    assert again.n_ran == 2 and again.n_skipped == 2
    assert "fails its checksum" in caplog.text and "is damaged" in caplog.text
    assert store.get(victim.stem)["metrics"]["accuracy_analog"] < 1.0


def _writer(root, base_dir, order):
    spec = parse_sweep({"name": "c", "experiment": BASE, "axes": {"wires.r_row_ohm": [0.0, 10.0, 20.0, 40.0][::order]}},
                       base_dir=base_dir)
    run_sweep(spec, ResultStore(root), serial=True)


def test_two_sweeps_writing_one_store(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(tmp_path / "s", tmp_path, order)) for order in (1, -1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ResultStore(tmp_path / "s")
    assert len(store.records()) == 4 and all(r["status"] == "ok" for r in store.records())
    assert not list((tmp_path / "s" / "records").glob("*.tmp"))


def test_failing_point_is_recorded_and_does_not_stop(tmp_path):
    spec = _spec(tmp_path, axes={"partitions.horizontal": [[1, 1], [500, 1]]})
    store = ResultStore(tmp_path / "s")
    summary = run_sweep(spec, store, serial=True)
    assert summary.n_ran == 2 and summary.n_failed == 1
    failed = [r for r in store.records() if r["status"] == "error"]
    assert "exceeds layer 1's rows=65" in failed[0]["error"]
    with pytest.raises(SpecError, match="fail_fast"):
        run_sweep(spec, ResultStore(tmp_path / "s2"), serial=True, fail_fast=True)


def test_export_loads_with_pandas(tmp_path):
    spec = _spec(tmp_path, axes={"wires.r_row_ohm": [0.0, 10.0]}, experiment={**BASE, "simulation": {"verify_images": 1}})
    store = ResultStore(tmp_path / "s")
    run_sweep(spec, store, serial=True)
    csv = pd.read_csv(store.export(tmp_path / "t.csv"))
    parquet = pd.read_parquet(store.export(tmp_path / "t.parquet"))
    assert len(csv) == len(parquet) == 2
    for col in ("wires.r_row_ohm", "accuracy_analog", "provenance.pyims_version", "provenance.ngspice_version",
                "provenance.backend", "provenance.wall_time_s", "provenance.host"):
        assert col in parquet.columns
    with pytest.raises(SpecError, match=".csv or .parquet"):
        store.export(tmp_path / "t.xlsx")


def test_cli_sweep(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text(
        'name = "cli"\n[experiment]\ndataset = { name = "digits", max_test = 60 }\ntrain = { hidden = [8], epochs = 2 }\n'
        'simulation = { verify_images = 0 }\n[axes]\n"wires.r_row_ohm" = [0.0, 10.0]\n'
    )
    assert main(["sweep", str(sweep), "--store", str(tmp_path / "st"), "--serial", "--export", str(tmp_path / "o.csv")]) == 0
    out = capsys.readouterr().out
    assert "2 ran (0 failed), 0 already stored" in out and (tmp_path / "o.csv").exists()
    assert main(["sweep", str(sweep), "--store", str(tmp_path / "st"), "--serial"]) == 0
    assert "0 ran (0 failed), 2 already stored" in capsys.readouterr().out


def test_plots_of_a_store(tmp_path, capsys):
    spec = _spec(tmp_path, axes={"wires.r_row_ohm+wires.r_col_ohm": [0.0, 30.0],
                                 "partitions": [{}, {"horizontal": [4, 1], "vertical": [2, 1]}]})
    store = ResultStore(tmp_path / "s")
    run_sweep(spec, store, serial=True)
    assert main(["plot", str(tmp_path / "s")]) == 0
    names = {p.name for p in (tmp_path / "s" / "plots").glob("*.png")}
    assert names == {"accuracy_vs_wire_r.png", "partition_heatmap.png", "error_vs_array_size.png", "ir_drop_heatmap.png"}
    assert "wrote" in capsys.readouterr().out
    assert main(["plot", str(tmp_path / "empty")]) == 2
    assert "no successful records" in capsys.readouterr().err


def test_ir_drop_map_matches_the_column_currents():
    import numpy as np

    from pyims.runners.native import NativeTileSolver
    from pyims.spec import TileSpec, WireParasitics

    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-4, size=(7, 5))
    v = rng.uniform(0.0, 0.2, size=7)
    solver = NativeTileSolver(TileSpec(g_s=g, wires=WireParasitics(r_row_ohm=8.0, r_col_ohm=6.0, r_driver_ohm=3.0)))
    v_row, v_col = solver.node_voltages(v)
    np.testing.assert_allclose(((v_row - v_col) * g).sum(axis=0), solver.solve(v[None, :])[0][0], rtol=1e-12)
    assert np.all(v_row <= v[:, None] + 1e-15) and np.all(v_col >= -1e-15)  # drops along rows, rises along columns
