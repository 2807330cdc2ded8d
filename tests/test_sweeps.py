"""Sweeps: specs, the resumable store, serial vs Dask, interruption, corruption, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing

import pandas as pd
import pytest
from pathlib import Path

from pyims.cli import main
from pyims.errors import ConfigError, SpecError
from pyims.sweeps import ResultStore, config_key, parse_sweep
from pyims.spec.analysis import Dc, Repeat
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
        ({"axes": {"device.g_onn": [1e-4]}}, "device.g_onn is unknown for device.kind"),
        ({"axes": {"partitions.horizontal": [[1, 1], [500, 1]]}}, None),  # valid config, fails at run time
        ({"axes": {"neuron.kind": ["sigmoid", "swish"]}}, r"point \{'neuron.kind': 'swish'\} is invalid.*neuron.kind='swish' is unknown"),
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
    with pytest.raises(SpecError, match=r"must end in .csv, .parquet or .nc"):
        store.export(tmp_path / "t.xlsx")


def test_export_to_xarray_labels_every_swept_field(tmp_path):
    xr = pytest.importorskip("xarray")
    spec = _spec(tmp_path, axes={"wires.r_row_ohm+wires.r_col_ohm": [0.0, 30.0], "partitions": [{}, {"horizontal": [4, 1]}]})
    store = ResultStore(tmp_path / "s")
    run_sweep(spec, store, evaluate=counting_evaluate, serial=True)
    ds = xr.load_dataset(store.export(tmp_path / "t.nc"))
    assert dict(ds.sizes) == {"wires.r_row_ohm+wires.r_col_ohm": 2, "partitions": 2}
    table = store.table()
    for _, row in table.iterrows():  # every cell is its record's value
        cell = ds["accuracy_analog"].sel({"wires.r_row_ohm+wires.r_col_ohm": row["wires.r_row_ohm+wires.r_col_ohm"],
                                          "partitions": row["partitions"]})
        assert float(cell) == row["accuracy_analog"]
    # a second network appended to the store: its other field becomes a dimension, never averaged in
    other = _spec(tmp_path, name="wide", axes={"wires.r_row_ohm+wires.r_col_ohm": [0.0, 30.0]},
                  experiment={**BASE, "train": {"hidden": [12], "epochs": 2}})
    run_sweep(other, store, evaluate=counting_evaluate, serial=True, append=True)
    table = store.table()
    assert "config.train.hidden" in table.columns and table["config.train.hidden"].nunique() == 2
    assert "config.wires.r_row_ohm" in table.columns and "config.dataset.name" not in table.columns
    ds = store.to_xarray()
    assert "config.train.hidden" in ds.sizes
    assert int(ds["accuracy_analog"].notnull().sum()) == 6


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
    plots = tmp_path / "s" / "plots"
    names = {p.name for p in plots.glob("*.png")}
    assert names == {"accuracy_vs_wire_r.png", "error_vs_array_size.png", "ir_drop_heatmap.png",
                     "accuracy_vs_partitions.png",  # the wire axis is drawn once, by accuracy_vs_wire_r
                     "accuracy_heatmap_partitions_vs_wire_r.png"}  # partition_heatmap would be its 30 ohm row again
    assert {p.stem for p in plots.glob("*.pdf")} == {p.stem for p in plots.glob("*.png")}  # vector file beside each
    out = capsys.readouterr().out
    assert "wrote" in out
    assert [line for line in out.splitlines() if "skipped" in line] == [
        "skipped partition_heatmap: its cells are already in accuracy_heatmap_partitions_vs_wire_r (each plan's "
        "accuracy at every swept value)"]
    # one wire R only: the plots that need a second value say why they are missing
    single = _spec(tmp_path, name="one", axes={"partitions": [{}, {"horizontal": [4, 1]}]})
    run_sweep(single, ResultStore(tmp_path / "one"), serial=True)
    assert main(["plot", str(tmp_path / "one")]) == 0
    out = capsys.readouterr().out
    assert "skipped accuracy_vs_wire_r: no wire resistance was swept" in out
    assert "skipped heatmap: needs two swept fields; this store sweeps 1" in out
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


def test_a_store_belongs_to_its_sweep_unless_appended(tmp_path):
    store = ResultStore(tmp_path / "s")
    first = _spec(tmp_path, axes={"wires.r_row_ohm": [0.0, 10.0]})
    run_sweep(first, store, evaluate=counting_evaluate, serial=True)
    manifest = store.manifest()
    assert [e["name"] for e in manifest["specs"]] == ["t"] and manifest["specs"][0]["n_points"] == 2
    # the same points in another order are the same sweep
    again = _spec(tmp_path, axes={"wires.r_row_ohm": [10.0, 0.0]})
    assert run_sweep(again, store, evaluate=counting_evaluate, serial=True).n_skipped == 2
    other = _spec(tmp_path, name="u", axes={"wires.r_row_ohm": [0.0, 20.0]})
    with pytest.raises(SpecError, match=r"belongs to sweep 't' \([0-9a-f]{16}\); sweep 'u' \([0-9a-f]{16}\) has other points"):
        run_sweep(other, store, evaluate=counting_evaluate, serial=True)
    assert len(store.records()) == 2  # refused before any work
    summary = run_sweep(other, store, evaluate=counting_evaluate, serial=True, append=True)
    assert summary.n_skipped == 1 and summary.n_ran == 1  # 0 ohm was already there
    assert {e["name"] for e in store.manifest()["specs"]} == {"t", "u"}
    assert {r["spec"] for r in store.records()} == {e["hash"] for e in store.manifest()["specs"]}


def test_a_store_from_before_manifests_is_adopted_or_refused(tmp_path):
    spec = _spec(tmp_path, axes={"wires.r_row_ohm": [0.0, 10.0]})
    store = ResultStore(tmp_path / "s")
    run_sweep(spec, store, evaluate=counting_evaluate, serial=True)
    store.manifest_path.unlink()  # as a store written by an older pyims
    assert run_sweep(spec, store, evaluate=counting_evaluate, serial=True).n_skipped == 2
    assert store.manifest()["specs"][0]["name"] == "t"
    store.manifest_path.unlink()
    smaller = _spec(tmp_path, name="v", axes={"wires.r_row_ohm": [0.0]})
    with pytest.raises(SpecError, match="holds 1 record\\(s\\) that are not points of sweep 'v'"):
        run_sweep(smaller, store, evaluate=counting_evaluate, serial=True)
    store.manifest_path.write_text("{not json")
    with pytest.raises(SpecError, match="manifest.json is damaged"):
        run_sweep(spec, store, evaluate=counting_evaluate, serial=True)


def test_plots_never_average_different_configs(tmp_path, monkeypatch):
    import pyims.plots as plots_module

    store = ResultStore(tmp_path / "s")
    run_sweep(_spec(tmp_path, axes={"wires.r_row_ohm+wires.r_col_ohm": [0.0, 30.0]}), store, serial=True)
    wide = _spec(tmp_path, name="wide", axes={"wires.r_row_ohm+wires.r_col_ohm": [0.0, 30.0]},
                 experiment={**BASE, "train": {"hidden": [12], "epochs": 2}})
    run_sweep(wide, store, serial=True, append=True)
    legends = {}
    real = plots_module.save_figure

    def keep(fig, path):
        legends[Path(path).stem] = sorted(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        return real(fig, path)

    monkeypatch.setattr(plots_module, "save_figure", keep)
    report = plots_module.plot_store(store, tmp_path / "plots")
    # the two networks are two lines in every plot, never one averaged line
    assert legends["accuracy_vs_wire_r"] == ["1/1 × 1/1 (hidden layers 12 neurons)", "1/1 × 1/1 (hidden layers 8 neurons)"]
    assert all(p.exists() for p in report.written)


def test_wilson_interval_and_unlabelled_axes():
    import numpy as np

    from pyims.figures import pyplot, save_figure, wilson_interval

    low, high = wilson_interval(180, 200)  # 90 % of 200 images
    assert low == pytest.approx(0.8506, abs=1e-4) and high == pytest.approx(0.9343, abs=1e-4)
    low, high = wilson_interval(0, 50)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.0 < high < 0.08  # stays inside [0, 1]
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot(np.arange(3), np.arange(3))
    ax.set_xlabel("x (V)")
    with pytest.raises(ValueError, match="an axis has no y label"):
        save_figure(fig, "/tmp/never.png")
    ax.set_ylabel("current")
    with pytest.raises(ValueError, match=r"the y label 'current' names no unit; add one in parentheses"):
        save_figure(fig, "/tmp/never.png")
    plt.close(fig)


def test_plot_groups_come_in_natural_order():
    import pandas as pd

    from pyims.plots import _groups

    df = pd.DataFrame({"p": ['{"max_rows": 1024}', '{"max_rows": 128}', '{"max_rows": 512}'], "v": [1, 2, 3]})
    assert [k[0] for k, _ in _groups(df, ["p"])] == ['{"max_rows": 128}', '{"max_rows": 512}', '{"max_rows": 1024}']
    plans = pd.DataFrame({"plan": ["16/8 x 8/1", "1/1 x 1/1", "4/1 x 2/1"]})
    assert [k[0] for k, _ in _groups(plans, ["plan"])] == ["1/1 x 1/1", "4/1 x 2/1", "16/8 x 8/1"]


#: A PCM device read at a time since programming (no read noise: built elsewhere), three draws per point.
PCM_BASE = {
    "dataset": {"name": "digits", "max_test": 60},
    "train": {"hidden": [8], "epochs": 8},
    "device": {"kind": "pcm", "seed": 2, "read_noise_scale_ratio": 0.0},
    "simulation": {"verify_images": 0, "mode": "tiled", "repeats": 3},
}


def test_device_fields_and_seeds_are_sweep_axes(tmp_path):
    spec = _spec(tmp_path, experiment={**PCM_BASE, "simulation": {"verify_images": 0, "mode": "tiled"}}, axes={
        "device.g_max_s": [20e-6, 25e-6], "device.t_since_program_s": [0.0, 3600.0],
        "device.drift_compensation": ["none", "per_column"], "device.stuck_off_ratio": [0.0, 0.05], "device.seed": [0, 1]})
    assert spec.n_points == 32 and len({config_key(spec.config(p)) for p in spec.points()}) == 32
    point = spec.points()[-1]
    device = spec.config(point).hardware.device  # the kind's own field and the common ones reach the PCM object
    assert (device.g_max_s, device.t_since_program_s, device.drift_compensation, device.stuck_off_ratio, device.seed) == \
        (25e-6, 3600.0, "per_column", 0.05, 1)
    with pytest.raises(ConfigError, match=r"device.g_maxx_s is unknown for device.kind"):
        _spec(tmp_path, experiment=PCM_BASE, axes={"device.g_maxx_s": [1e-5]})
    # with draws, the draws' seeds replace device.seed: sweeping it would change nothing
    with pytest.raises(ConfigError, match=r"axis 'device.seed' sweeps device.seed, but point .* runs simulation.repeats = 3 "
                                          r"draws.*sweep \"simulation.repeat_seed\" instead"):
        _spec(tmp_path, experiment=PCM_BASE, axes={"device.seed": [0, 1]})
    # the suggested axis works, and each value is its own draw plan
    seeds = _spec(tmp_path, experiment=PCM_BASE, axes={"simulation.repeat_seed": [0, 1]})
    assert [spec_cfg.simulation.repeat.seeds for spec_cfg in map(seeds.config, seeds.points())] == \
        [Repeat(Dc(), n=3, seed=0).seeds, Repeat(Dc(), n=3, seed=1).seeds]


def test_accuracy_against_time_since_programming(tmp_path, monkeypatch):
    import numpy as np

    import pyims.plots as plots_module

    times = [0.0, 1.0, 3600.0, 3.15e7]
    spec = _spec(tmp_path, experiment=PCM_BASE, name="drift",
                 axes={"device.t_since_program_s": times, "device.drift_compensation": ["none", "global"]})
    store = ResultStore(tmp_path / "s")
    assert run_sweep(spec, store, serial=True).n_failed == 0
    df = store.table()
    assert (df["n_draws"] == 3).all()
    from scipy import stats as sps

    half = sps.t.ppf(0.975, 2) * df["accuracy_analog_std"] / np.sqrt(3)  # the records' interval: Student-t, 3 draws
    np.testing.assert_allclose(df["accuracy_analog_mean_high"] - df["accuracy_analog_mean"], half, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(df["accuracy_analog_mean"] - df["accuracy_analog_mean_low"], half, rtol=1e-9, atol=1e-12)
    assert (df["accuracy_analog_draws_low"] <= df["accuracy_analog_draws_high"]).all() and (df["accuracy_analog_std"] > 0).any()
    ok = df.assign(status="ok")
    ok.attrs["axes"] = ("device.t_since_program_s", "device.drift_compensation")
    fig = plots_module.accuracy_vs_time_figure(ok)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Time since programming (s, log scale)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["global", "none"]
    assert ax.get_legend().get_title().get_text() == "Drift compensation"
    for container, comp in zip(ax.containers, ["global", "none"]):  # one error-bar line per compensation
        rows = df[df["device.drift_compensation"] == comp].sort_values("device.t_since_program_s")
        later = rows[rows["device.t_since_program_s"] > 0]
        x, y = container.lines[0].get_data()
        np.testing.assert_allclose(x, times[1:], rtol=1e-12, atol=0.0)
        np.testing.assert_allclose(y, 100 * later["accuracy_analog_mean"], rtol=1e-12, atol=1e-12)
        (bars,) = container.lines[2]  # vertical error bars: the 95 % Student-t interval across draws
        segments = np.array(bars.get_segments())
        np.testing.assert_allclose(segments[:, 0, 1], 100 * later["accuracy_analog_mean_low"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(segments[:, 1, 1], 100 * later["accuracy_analog_mean_high"], rtol=1e-12, atol=1e-12)
        at_zero = rows[rows["device.t_since_program_s"] == 0]["accuracy_analog_mean"].iloc[0]
        dashed = [line for line in ax.lines if line.get_linestyle() == "--" and line.get_color() == container.lines[0].get_color()]
        assert [line.get_ydata()[0] for line in dashed] == pytest.approx([100 * at_zero], rel=1e-12, abs=1e-12)
    # right after programming there is no drift: compensation changes nothing there
    zero = df[df["device.t_since_program_s"] == 0].sort_values("device.drift_compensation")
    assert zero["accuracy_analog_mean"].nunique() == 1
    import matplotlib.pyplot as plt

    plt.close(fig)
    # pyims plot draws it in place of the linear-axis plot of that axis; the heatmap shows the mean over draws
    heat = {}
    real = plots_module.save_figure

    def keep(fig, path):
        if fig.axes[0].images:
            heat[Path(path).stem] = np.asarray(fig.axes[0].images[0].get_array())
        return real(fig, path)

    monkeypatch.setattr(plots_module, "save_figure", keep)
    assert main(["plot", str(tmp_path / "s")]) == 0
    names = {p.name for p in (tmp_path / "s" / "plots").glob("*.png")}
    assert "accuracy_vs_time_since_programming.png" in names and "accuracy_vs_device_t_since_program_s.png" not in names
    grid = heat["accuracy_heatmap_drift_compensation_vs_time_since_programming"]  # rows: t ascending; columns: global, none
    means = df.pivot(index="device.t_since_program_s", columns="device.drift_compensation", values="accuracy_analog_mean")
    np.testing.assert_allclose(grid, 100 * means.sort_index()[["global", "none"]].to_numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(SpecError, match=r"no record has device.t_since_program_s > 0 \(a log axis\)"):
        plots_module.accuracy_vs_time_figure(ok[ok["device.t_since_program_s"] == 0])
