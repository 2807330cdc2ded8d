"""Figures fit for a paper: words with units (no config keys or JSON), colour-blind-safe colours, cell numbers in
the colour of higher contrast, text >= 7 pt at a 3.5-inch column, no two figures of a store drawing the same
lines; and plotting never changes matplotlib's global backend or rcParams, every plot function returning its Figure."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from pyims import plots  # noqa: E402
from pyims.errors import SpecError  # noqa: E402
from pyims.experiment import parse_config, run_experiment  # noqa: E402
from pyims.experiment import report_figures  # noqa: E402
from pyims.experiment.ir_drop import IrDropMap  # noqa: E402
from pyims.figures import OKABE_ITO, pyplot, save_figure, si, small_text, text_color_on  # noqa: E402
from pyims.sweeps import ResultStore, parse_sweep  # noqa: E402
from pyims.sweeps.run import run_sweep  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE = {"dataset": {"name": "digits", "max_test": 60}, "train": {"hidden": [8], "epochs": 2},
        "simulation": {"verify_images": 0}}
#: What a raw config key or JSON looks like in a label: ``wires.r_row_ohm``, ``{"rows": 64}``, ``per_column``.
RAW = re.compile(r"[a-z]\w*\.[a-z]\w*|[{}\"_=]")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ResultStore:
    """Wire resistance x partition plan (4 points, ~1 s)."""
    root = tmp_path_factory.mktemp("sweep")
    spec = parse_sweep({"name": "t", "experiment": BASE, "axes": {
        "wires.r_row_ohm+wires.r_col_ohm": [0.0, 30.0],
        "partitions": [{}, {"horizontal": [4, 1], "vertical": [2, 1]}]}}, base_dir=root)
    out = ResultStore(root / "s")
    assert run_sweep(spec, out, serial=True).n_failed == 0
    return out


@pytest.fixture(scope="module")
def read_time_run(tmp_path_factory):
    """``examples/read_time.toml`` on 40 test images, no ngspice: a read-time run and its report folder."""
    out = tmp_path_factory.mktemp("read_time")
    data = tomllib.loads((EXAMPLES / "read_time.toml").read_text())
    data["dataset"] = {**data.get("dataset", {}), "max_test": 40}
    data["simulation"] = {**data["simulation"], "verify_images": 0}
    return run_experiment(parse_config(data, base_dir=EXAMPLES), out), out


def _time_table() -> pd.DataFrame:
    """Records of a drift sweep, as ``ResultStore.table`` gives them: time since programming x compensation."""
    rows = []
    for comp, slope in (("none", 0.03), ("per_column", 0.005)):
        for t in (0.0, 1.0, 3600.0, 86400.0, 3.15e7):
            acc = 0.9 - slope * np.log10(1 + t)
            rows.append({"status": "ok", "device.t_since_program_s": t, "device.drift_compensation": comp,
                         "accuracy_analog": acc, "accuracy_digital": 0.92, "n_test": 200})
    df = pd.DataFrame(rows)
    df.attrs["axes"] = ("device.t_since_program_s", "device.drift_compensation")
    return df


def _ir_map() -> IrDropMap:
    rng = np.random.default_rng(0)
    v_in = rng.uniform(0.0, 0.2, 6)
    return IrDropMap(v_in_v=v_in, v_row_v=v_in[:, None] - rng.uniform(0, 1e-3, (6, 4)),
                     v_col_v=rng.uniform(0, 2e-3, (6, 4)), r_row_ohm=2.0, r_col_ohm=2.0)


def _texts(fig: Figure) -> list[str]:
    fig.draw_without_rendering()
    return [t.get_text() for t in fig.findobj(Text)  # mathtext (log-axis ticks, "$10^{-2}$") is not a label
            if t.get_visible() and t.get_text().strip() and not t.get_text().startswith("$")]


@pytest.fixture
def foreign_state():
    """A user's own backend and style, which plotting must leave as they are."""
    old = matplotlib.get_backend()
    matplotlib.use("pdf")
    try:
        with matplotlib.rc_context({"font.size": 13.0, "axes.grid": False, "image.cmap": "plasma"}):
            yield
    finally:
        matplotlib.use(old)


def _figure_calls(store_df, run_summary) -> dict[str, object]:
    ok = store_df.copy()
    ok.attrs["axes"] = ("partitions", "wires.r_row_ohm+wires.r_col_ohm")
    return {
        "accuracy_vs_axis": lambda: plots.accuracy_vs_axis(ok, "partitions"),
        "accuracy_heatmap": lambda: plots.accuracy_heatmap(ok, "partitions", "wires.r_row_ohm+wires.r_col_ohm"),
        "accuracy_vs_wire_r": lambda: plots.accuracy_vs_wire_r(ok),
        "partition_heatmap": lambda: plots.partition_heatmap(ok),
        "error_vs_array_size": lambda: plots.error_vs_array_size(ok),
        "accuracy_vs_time": lambda: plots.accuracy_vs_time(_time_table()),
        "accuracy_vs_time_figure": lambda: plots.accuracy_vs_time_figure(_time_table()),
        "ir_drop_heatmap": lambda: plots.ir_drop_heatmap(_ir_map()),
        "accuracy_summary": lambda: report_figures.accuracy_summary(run_summary, analog_label="analog, fully-analog"),
        "layer_errors": lambda: report_figures.layer_errors(run_summary),
        "confusion": lambda: report_figures.confusion(run_summary),
        "accuracy_vs_read_time": lambda: report_figures.accuracy_vs_read_time(run_summary.read_time, 40),
    }


def test_every_plot_function_returns_its_figure_and_leaves_global_state(store, read_time_run, foreign_state):
    calls = _figure_calls(store.table(), read_time_run[0].summary)
    assert set(plots.__all__) >= {n for n in calls if hasattr(plots, n)}
    for name, call in calls.items():
        backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
        fig = call()
        assert isinstance(fig, Figure), name
        assert matplotlib.get_backend() == backend == "pdf", name
        assert dict(matplotlib.rcParams) == rc, name
        assert fig.get_figwidth() == pytest.approx(3.5, abs=1e-9), name  # drawn at one column's width
        # drawn in the pyims style although the user's font is 13 pt: labels 8 pt, ticks 7 pt
        ax = fig.axes[0]
        assert ax.xaxis.label.get_fontsize() == 8.0, name
        assert {t.get_fontsize() for t in ax.get_xticklabels()} == {7.0}, name
        assert small_text(fig) == [], name
        raw = [t for t in _texts(fig) if RAW.search(t)]
        assert not raw, f"{name}: labels that read as config keys or JSON: {raw}"
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # no figure left in pyplot's list


def test_a_path_writes_png_and_pdf_and_still_returns_the_figure(store, tmp_path):
    fig = plots.accuracy_vs_wire_r(store.table(), tmp_path / "wire.png")
    assert isinstance(fig, Figure) and (tmp_path / "wire.png").stat().st_size > 0 and (tmp_path / "wire.pdf").exists()
    assert fig.axes[0].get_xlabel() == "Wire resistance per segment (Ω)"


def test_labels_are_words_with_units():
    assert plots.axis_label("wires.r_row_ohm+wires.r_col_ohm") == "Wire resistance per segment (Ω)"
    assert plots.axis_label("config.wires.c_row_f") == "Row-wire capacitance per segment (F)"
    assert plots.axis_label("device.g_max_s") == "Largest conductance (S)"  # _s of a conductance: siemens
    assert plots.axis_label("device.read_noise_scale_ratio") == "Device read noise scale (ratio)"  # not listed
    assert plots.axis_label("partitions") == "Partitions (h × v)"
    assert plots.value_label("partitions", '{"horizontal": [4, 1], "vertical": [2, 1]}') == "4/1 × 2/1"
    assert plots.value_label("partitions", '{"max_rows": 64}') == "tiles ≤ 64 rows"
    assert plots.value_label("partitions", "{}") == "none"
    assert plots.value_label("wires.r_row_ohm+wires.r_col_ohm", 30.0) == "30 Ω"
    assert plots.value_label("wires.c_row_f", 2e-15) == "2 fF"
    assert plots.value_label("config.train.hidden", "[32, 16]") == "32-16 neurons"
    assert plots.value_label("device.drift_compensation", "per_column") == "per column"
    assert plots.value_label("partition_plan", "4/1 x 2/1") == "4/1 × 2/1"
    assert si(4e-11, "s") == "40 ps" and si(3600.0, "s") == "3600 s" and si(0.0, "Ω") == "0 Ω"


def test_lines_use_the_okabe_ito_palette_with_a_marker_each():
    fig = plots.accuracy_vs_time(_time_table())
    (ax,) = fig.axes
    data = [c.lines[0] for c in ax.containers]
    assert [line.get_color() for line in data] == list(OKABE_ITO[:2])
    assert len({line.get_marker() for line in data}) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none", "per column"]
    assert ax.get_legend().get_title().get_text() == "Drift compensation"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["1 s", "1 min", "1 h", "1 d", "1 month", "1 year"]


@pytest.mark.parametrize("rgba, colour", [((1.0, 1.0, 1.0), "black"), ((0.0, 0.0, 0.0), "white"),
                                          ((0.5, 0.5, 0.5), "black"),  # L = 0.214: 5.3:1 on black, 4.0:1 on white
                                          ((0.35, 0.35, 0.35), "white")])  # L = 0.101: 3.0:1 on black, 7.0:1 on white
def test_text_colour_by_contrast(rgba, colour):
    assert text_color_on(rgba) == colour


def test_heatmap_numbers_contrast_with_their_cells(store):
    df = store.table()
    fig = plots.accuracy_heatmap(df, "partitions", "wires.r_row_ohm+wires.r_col_ohm")
    ax = fig.axes[0]
    (im,) = ax.images
    grid = np.asarray(im.get_array())
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}
    assert len(cells) == np.isfinite(grid).sum() == 4
    for (i, j), text in cells.items():
        assert float(text.get_text()) == pytest.approx(grid[i, j], abs=0.05)
        assert text.get_color() == text_color_on(im.cmap(im.norm(grid[i, j])))
    hi, lo = np.unravel_index(np.nanargmax(grid), grid.shape), np.unravel_index(np.nanargmin(grid), grid.shape)
    if grid[hi] > grid[lo]:  # viridis: yellow top (dark text), purple bottom (white text)
        assert cells[hi].get_color() == "black" and cells[lo].get_color() == "white"


def test_small_text_is_found():
    from pyims.figures import new_figure, style

    with style():
        fig, ax = new_figure()
        ax.set_title("six point", fontsize=6)
        wide, _ = new_figure(width_in=7.0)  # 8 pt labels shrink to 4 pt at 3.5 in
        wide.axes[0].set_xlabel("x (V)")
    assert small_text(fig) == [("six point", 6.0)]
    assert ("x (V)", pytest.approx(4.0)) in small_text(wide)


def _drawn_data(fig: Figure) -> tuple[frozenset, list[float]]:
    """What a figure shows: its data lines (reference lines have no marker) and its heatmap cells' finite values."""
    lines = frozenset(tuple(np.round(line.get_xydata(), 9).ravel()) for ax in fig.axes for line in ax.lines
                      if line.get_marker() not in (None, "", "None"))
    cells = sorted(np.round(v, 9) for ax in fig.axes for im in ax.images
                   for v in np.asarray(im.get_array(), dtype=float).ravel() if np.isfinite(v))
    return lines, cells


def _within(part: list[float], whole: list[float]) -> bool:
    """Every value of ``part`` (sorted, with repeats) among ``whole``'s."""
    rest = list(whole)
    for v in part:
        if v not in rest:
            return False
        rest.remove(v)
    return True


def test_store_figures_are_not_near_duplicates(store, tmp_path):
    """No figure of ``plot_store`` shows data another one shows already: its lines all among another's, or its
    heatmap cells all among another's (a row of a heatmap drawn again as a heatmap of its own)."""
    report = plots.plot_store(store, tmp_path / "plots")
    assert "accuracy_vs_wire_r" in report.figures
    assert not any(name.startswith("accuracy_vs_wires_") for name in report.figures)  # drawn once, as accuracy_vs_wire_r
    drawn = {name: _drawn_data(fig) for name, fig in report.figures.items()}
    for name, (lines, cells) in drawn.items():
        for other, (o_lines, o_cells) in drawn.items():
            if other == name:
                continue
            assert not (lines and lines <= o_lines), f"{name} draws lines that {other} draws already"
            assert not (cells and _within(cells, o_cells)), f"{name}'s cells are all in {other} already"
    assert sum(1 for lines, _ in drawn.values() if lines) >= 3
    # the partitions x wire R heatmap is drawn; the layer-1 partition heatmap (its 30 ohm row again) is not, and says why
    assert "accuracy_heatmap_partitions_vs_wire_r" in report.figures and "partition_heatmap" not in report.figures
    assert ("partition_heatmap", "its cells are already in accuracy_heatmap_partitions_vs_wire_r (each plan's accuracy "
            "at every swept value)") in report.skipped


def test_the_duplicate_check_catches_a_row_of_a_heatmap_drawn_again(store):
    """What plot_store drew before: the partition heatmap at the largest wire R, beside the partitions x wire R one."""
    df = store.table()
    full = _drawn_data(plots.accuracy_heatmap(df, "partitions", "wires.r_row_ohm+wires.r_col_ohm"))[1]
    row = _drawn_data(plots.partition_heatmap(df))[1]
    assert len(row) == 2 and len(full) == 4 and _within(row, full) and not _within(full, row)


def test_figure_file_names_are_words_not_config_keys(store, tmp_path):
    report = plots.plot_store(store, tmp_path / "plots")
    keys = [part.removeprefix("config.") for axis in store.table().attrs["swept"] for part in axis.split("+")]
    raw = [form for key in keys for form in (key, key.replace(".", "_"), key.rpartition(".")[2]) if "_" in form or "." in form]
    assert raw  # the store's sweep keys: wires.r_row_ohm, wires_r_row_ohm, r_row_ohm, ...
    for path in report.written:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*\.(png|pdf)", path.name), path.name
        assert not [form for form in raw if form in path.stem], path.name
    assert {p.stem for p in report} == {"accuracy_vs_partitions", "accuracy_heatmap_partitions_vs_wire_r",
                                        "accuracy_vs_wire_r", "error_vs_array_size"}
    assert plots.figure_slug("adc.bits") == "adc_resolution" and plots.figure_slug("config.train.hidden") == "hidden_layers"
    assert plots.figure_slug("device.t_since_program_s") == "time_since_programming"


def test_read_time_run_draws_accuracy_against_read_time(read_time_run):
    result, out = read_time_run
    rt = result.summary.read_time
    assert (out / "accuracy_vs_read_time.png").stat().st_size > 0 and (out / "accuracy_vs_read_time.pdf").exists()
    assert "accuracy_vs_read_time.png" in result.summary.files
    fig = report_figures.accuracy_vs_read_time(rt, result.summary.dataset.n_test)
    ax = fig.axes[0]
    x, y = ax.containers[0].lines[0].get_data()
    points = sorted(rt.accuracy_at, key=lambda p: p.t_read_s)
    np.testing.assert_allclose(x, [p.t_read_s / 1e-12 for p in points], rtol=1e-12, atol=0.0)  # in ps
    np.testing.assert_allclose(y, [100 * p.accuracy for p in points], rtol=1e-12, atol=1e-12)
    assert ax.get_xlabel() == "Read time after the inputs start (ps)"
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in dashed] == pytest.approx([100 * rt.accuracy_dc], rel=1e-12)
    assert "accuracy_vs_read_time" in report_figures.report_figures(result.summary)


def test_read_time_figure_needs_read_times(read_time_run):
    import dataclasses

    rt = dataclasses.replace(read_time_run[0].summary.read_time, accuracy_at=[])
    with pytest.raises(SpecError, match=r"reported no read times; set simulation.t_read_s"):
        report_figures.accuracy_vs_read_time(rt, 40)


def test_pyplot_of_earlier_scripts_changes_nothing_global(foreign_state):
    import matplotlib.pyplot as plt

    rc, figs = dict(matplotlib.rcParams), plt.get_fignums()
    fig, (top, bottom) = pyplot().subplots(2, 1, figsize=(6, 5), sharex=True)
    assert isinstance(fig, Figure) and plt.get_fignums() == figs
    assert dict(matplotlib.rcParams) == rc and matplotlib.get_backend() == "pdf"
    assert pyplot().Rectangle is plt.Rectangle  # the rest is pyplot's own


def test_unit_rule_spares_named_categories(tmp_path):
    from pyims.figures import new_figure, style

    with style():
        fig, ax = new_figure()
        ax.plot([0, 1], [0.5, 0.7])
        ax.set_xticks([0, 1], ["global", "per column"])
        ax.set_xlabel("Drift compensation")
        ax.set_ylabel("Accuracy (%)")
    save_figure(fig, tmp_path / "ok.png")  # an axis of named categories needs no unit
    ax.set_xticks([0, 1], ["0", "1"])  # numbers again: the unit is missing
    with pytest.raises(ValueError, match=r"the x label 'Drift compensation' names no unit"):
        save_figure(fig, tmp_path / "no.png")
