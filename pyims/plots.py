"""Plots of sweep results and of one tile's IR drop (matplotlib, imported inside the functions).

* ``accuracy_vs_axis``: analog accuracy (with 95 % Wilson intervals over the test images) against
  any swept field, a line per combination of the other swept or differing fields.
* ``accuracy_heatmap``: mean-free heatmap of accuracy over any two swept fields (drawn only when
  nothing else differs, so every cell is one record).
* ``accuracy_vs_time``: analog accuracy against the time since programming (``device.t_since_program_s``) on a
  log axis, a line per combination of the other fields that vary (e.g. per ``device.drift_compensation``).
* ``accuracy_vs_wire_r``: analog accuracy against wire resistance, one line per partition plan.
* ``partition_heatmap``: analog accuracy over layer-1 (horizontal, vertical) partition counts.
* ``error_vs_array_size``: layer-1 pre-activation error against the layer-1 tile size (cells).
* ``ir_drop_heatmap``: row-wire and column-wire voltage deviations of one tile, from an
  ``IrDropMap`` (``pyims.experiment.ir_drop``: a flow computes it, the figure only draws it).

Every figure is written as PNG and PDF in the one style of ``pyims.figures``. ``plot_store``
writes all that apply to a result store (``pyims plot STORE``) and says which it skipped and why.
Figures take data; nothing here runs an experiment or a solver.
Points whose configs differ in a field are never averaged together: lines and cells are split
by every differing config field (``ResultStore.table``'s ``config.*`` columns).

Error bars are 95 % intervals: with Monte Carlo draws (``simulation.repeats`` > 1) the mean accuracy over
the draws and its Student-t interval across draws; with one draw the accuracy and its Wilson interval
over the test images.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pyims.errors import SpecError
from pyims.figures import pyplot, save_figure, wilson_interval
from pyims.sweeps.store import axis_covers

if TYPE_CHECKING:
    from pyims.experiment.ir_drop import IrDropMap

__all__ = ["accuracy_vs_axis", "accuracy_heatmap", "accuracy_vs_time", "accuracy_vs_time_figure", "accuracy_vs_wire_r", "partition_heatmap", "error_vs_array_size",
           "ir_drop_heatmap", "plot_store", "PlotReport", "axis_label"]

_UNITS = (("_ohm", "Ω"), ("_f", "F"), ("_s", "s"), ("_v", "V"), ("_a", "A"), ("_j", "J"), ("_w", "W"),
          ("_ratio", "ratio"), ("_norm", "normalised"))


def axis_label(name: str) -> str:
    """A swept field's axis label with its unit: ``wires.r_row_ohm+wires.r_col_ohm`` ->
    ``wires.r_row_ohm = wires.r_col_ohm (Ω per segment)``."""
    parts = name.removeprefix("config.").split("+")
    text = " = ".join(parts)
    last = parts[-1].rsplit(".", 1)[-1]
    for suffix, unit in _UNITS:
        if last.endswith(suffix):
            return f"{text} ({unit} per segment)" if unit == "Ω" and "wires." in name else f"{text} ({unit})"
    if parts[-1].startswith("partitions"):
        return f"{text} (plan)"
    return f"{text} (value)"


def _plt():
    return pyplot()


def _others(df, used: list[str]) -> list[str]:
    """Columns besides ``used`` that vary in ``df``: the other swept axes (``df.attrs["axes"]``) and the
    differing ``config.*`` fields no axis stands for -- what a plot must split by so it never averages
    different configs."""
    axes = [a for a in df.attrs.get("axes", ()) if a in df.columns]
    cols = [a for a in axes if a not in used and not axis_covers(used, a)]
    cols += [c for c in df.columns if c.startswith("config.") and not axis_covers(list(used) + axes, c)]
    return [c for c in cols if df[c].astype(str).nunique() > 1]


def _natural(value: Any) -> tuple:
    """Sort key reading the numbers inside text as numbers: "max 128" before "max 1024"."""
    parts = re.split(r"(-?\d+(?:\.\d+)?)", str(value))
    return tuple((0, float(p), "") if k % 2 else (1, 0.0, p) for k, p in enumerate(parts) if p)


def _groups(df, split: list[str]) -> list[tuple[tuple, Any]]:
    """``df`` grouped by ``split`` (one group of everything when empty), in natural order of the keys."""
    if not split:
        return [((), df)]
    groups = [((k if isinstance(k, tuple) else (k,)), g) for k, g in df.groupby(split, sort=False)]
    return sorted(groups, key=lambda kg: tuple(_natural(v) for v in kg[0]))


def _label(keys: tuple, cols: list[str]) -> str:
    return ", ".join(f"{c.removeprefix('config.')}={k}" for c, k in zip(cols, keys)) if cols else ""


def _numeric(series) -> bool:
    try:
        series.astype(float)
    except (TypeError, ValueError):
        return False
    return True


def _wire_column(df) -> str | None:
    for col in df.columns:
        if "r_row_ohm" in col or "r_col_ohm" in col:
            return col
    return None


#: The time-since-programming axis ``accuracy_vs_time`` draws (log scale).
TIME_AXIS = "device.t_since_program_s"
#: Named times since programming: ticks of ``accuracy_vs_time`` (seconds, label).
NAMED_TIMES_S = ((1.0, "1 s"), (60.0, "1 min"), (3600.0, "1 h"), (86400.0, "1 d"), (86400.0 * 365.25 / 12, "1 month"),
                 (86400.0 * 365.25, "1 year"), (86400.0 * 365.25 * 10, "10 years"))


def _accuracy_interval(group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record: the analog accuracy and its 95 % interval (fractions). Records with Monte Carlo draws
    (``n_draws`` > 1): the mean over draws and its Student-t interval; others: the accuracy and its Wilson
    interval over the test images."""
    acc = group["accuracy_analog"].to_numpy(dtype=float)
    n = group["n_test"].to_numpy(dtype=float)
    low, high = wilson_interval(np.round(acc * n), n)
    if "accuracy_analog_mean" in group:
        draws = group["n_draws"].to_numpy(dtype=float) > 1  # NaN (no draws recorded) compares False
        acc = np.where(draws, group["accuracy_analog_mean"].to_numpy(dtype=float), acc)
        low = np.where(draws, group["accuracy_analog_mean_low"].to_numpy(dtype=float), low)
        high = np.where(draws, group["accuracy_analog_mean_high"].to_numpy(dtype=float), high)
    return acc, low, high


def _has_draws(df) -> bool:
    """Whether any record of ``df`` ran Monte Carlo draws (``simulation.repeats`` > 1)."""
    return "n_draws" in df and bool((df["n_draws"].to_numpy(dtype=float) > 1).any())


def _interval_note(df) -> str:
    """What the error bars of ``df``'s records are, in words."""
    draws = df["n_draws"].dropna().astype(int) if "n_draws" in df else None
    if draws is None or not len(draws):
        return "error bars: 95 % Wilson interval over the test images"
    counts = sorted(set(draws))
    text = ("mean over " + "/".join(map(str, counts)) + " hardware draws; error bars: 95 % Student-t interval of the mean")
    return text + ("" if len(draws) == len(df) else " (one-draw points: Wilson interval over images)")


def _with_interval(ax, x, group, label, **kw) -> None:
    """Accuracy in % at ``x`` with its 95 % interval as error bars (``_accuracy_interval``)."""
    acc, low, high = _accuracy_interval(group)
    ax.errorbar(x, 100 * acc, yerr=[100 * (acc - low), 100 * (high - acc)], marker="o", capsize=2, label=label, **kw)


def accuracy_vs_axis(df, axis: str, path: Path) -> Path:
    """Analog accuracy (%) against swept field ``axis``, with 95 % Wilson intervals; a line per combination
    of every other field that varies (never averaged); digital accuracy dotted per line."""
    ok = df[df["status"] == "ok"]
    split = _others(ok, [axis])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    numeric = _numeric(ok[axis])
    categories = sorted(ok[axis].astype(str).unique())
    groups = _groups(ok, split)
    for keys, group in groups:
        keys = keys if isinstance(keys, tuple) else (keys,)
        if group[axis].astype(str).duplicated().any():  # the same axis value twice: these differ elsewhere
            raise SpecError(f"accuracy_vs_axis({axis!r}): records repeat an axis value within one line; "
                            "they differ in a field the store does not tell apart")
        group = group.assign(_x=group[axis].astype(float) if numeric else group[axis].astype(str).map(categories.index))
        group = group.sort_values("_x")
        _with_interval(ax, group["_x"].to_numpy(), group, _label(keys, split) or None)
        ax.plot(group["_x"], 100 * group["accuracy_digital"], ls=":", lw=1, color=ax.lines[-1].get_color())
    if not numeric:
        ax.set_xticks(range(len(categories)), categories, rotation=20, ha="right")
    ax.set_xlabel(axis_label(axis))
    ax.set_ylabel("analog accuracy (%), 95 % CI")
    ax.set_title(f"{_interval_note(ok)}\ndotted: digital accuracy", fontsize=6)
    if split:
        ax.legend(fontsize=6)
    save_figure(fig, path)
    return path


def accuracy_vs_time_figure(df, axis: str = TIME_AXIS):
    """The figure of ``accuracy_vs_time`` (returned, not saved): analog accuracy (%) against the time since
    programming ``axis`` (s) on a log x axis with 95 % error bars (``_accuracy_interval``), a line per combination of
    the other fields that vary; records read right after programming (t = 0, not on a log axis) as a dashed
    horizontal line of their line's colour; digital accuracy dotted."""
    ok = df[df["status"] == "ok"]
    if axis not in ok:
        raise SpecError(f"accuracy_vs_time: the records have no column {axis!r}; sweep device.t_since_program_s")
    t = ok[axis].astype(float)
    if not (t > 0).any():
        raise SpecError(f"accuracy_vs_time: no record has {axis} > 0 (a log axis); sweep times after programming, "
                        "e.g. [1.0, 3600.0, 86400.0]")
    split = _others(ok, [axis])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for keys, group in _groups(ok.assign(_t=t), split):
        if group["_t"].duplicated().any():
            raise SpecError(f"accuracy_vs_time: records repeat a time within one line; they differ in a field the store "
                            "does not tell apart")
        group = group.sort_values("_t")
        later = group[group["_t"] > 0]
        _with_interval(ax, later["_t"].to_numpy(), later, _label(keys, split) or None)
        color = ax.lines[-1].get_color()
        at_zero = group[group["_t"] == 0]
        if len(at_zero):
            acc0, _, _ = _accuracy_interval(at_zero)
            ax.axhline(100 * acc0[0], color=color, ls="--", lw=1)
        ax.plot(later["_t"], 100 * later["accuracy_digital"], ls=":", lw=1, color=color)
    ax.set_xscale("log")
    lo, hi = t[t > 0].min(), t.max()
    named = [(v, name) for v, name in NAMED_TIMES_S if lo / 1.5 <= v <= hi * 1.5]
    if len(named) >= 2:
        ax.set_xticks([v for v, _ in named], [name for _, name in named], rotation=20, ha="right")
        ax.minorticks_off()
    ax.set_xlabel("time since programming (s, log scale)")
    ax.set_ylabel("analog accuracy (%), 95 % CI")
    note = _interval_note(ok)
    ax.set_title(f"{note}\ndotted: digital; dashed: read right after programming (t = 0)"
                 if (t == 0).any() else f"{note}\ndotted: digital accuracy", fontsize=6)
    if split:
        ax.legend(fontsize=6)
    return fig


def accuracy_vs_time(df, path: Path, axis: str = TIME_AXIS) -> Path:
    """``accuracy_vs_time_figure`` written to ``path`` (PNG and PDF)."""
    save_figure(accuracy_vs_time_figure(df, axis), path)
    return path


def accuracy_heatmap(df, x_axis: str, y_axis: str, path: Path) -> Path:
    """Analog accuracy (%) over two swept fields, one record per cell (refused when others vary)."""
    ok = df[df["status"] == "ok"]
    rest = _others(ok, [x_axis, y_axis])
    if rest:
        raise SpecError(f"accuracy_heatmap({x_axis!r}, {y_axis!r}): {', '.join(rest)} also vary; a cell would mix them")
    xs, ys = sorted(ok[x_axis].astype(str).unique()), sorted(ok[y_axis].astype(str).unique())
    if _numeric(ok[x_axis]):
        xs = sorted(xs, key=float)
    if _numeric(ok[y_axis]):
        ys = sorted(ys, key=float)
    grid = np.full((len(ys), len(xs)), np.nan)
    acc, _, _ = _accuracy_interval(ok)  # the mean over draws where there are draws
    for a, (_, row) in zip(acc, ok.iterrows()):
        grid[ys.index(str(row[y_axis])), xs.index(str(row[x_axis]))] = 100 * a
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.8))
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), xs, rotation=20, ha="right")
    ax.set_yticks(range(len(ys)), ys)
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax, label="analog accuracy (%)" + (", mean over draws" if _has_draws(ok) else ""))
    ax.set_xlabel(axis_label(x_axis))
    ax.set_ylabel(axis_label(y_axis))
    save_figure(fig, path)
    return path


def accuracy_vs_wire_r(df, path: Path) -> Path:
    """Analog accuracy vs wire resistance (Ω per segment), a line per partition plan (and per any other
    differing field), with 95 % Wilson intervals; digital dashed."""
    col = _wire_column(df)
    if col is None:
        raise SpecError("accuracy_vs_wire_r needs a sweep over wires.r_row_ohm or wires.r_col_ohm")
    ok = df[df["status"] == "ok"]
    split = ["partition_plan"] + _others(ok, [col, "partitions", "partition_plan"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for keys, group in _groups(ok, split):
        keys = keys if isinstance(keys, tuple) else (keys,)
        group = group.assign(_r=group[col].astype(float)).sort_values("_r")
        label = keys[0] + (f" ({_label(keys[1:], split[1:])})" if len(split) > 1 else "")
        _with_interval(ax, group["_r"].to_numpy(), group, label)
    for digital in sorted(ok["accuracy_digital"].unique()):
        ax.axhline(100 * digital, color="k", ls="--", lw=1)
    ax.set_xlabel("wire resistance (Ω per segment)")
    ax.set_ylabel("analog accuracy (%), 95 % CI")
    ax.set_title("dashed: digital accuracy", fontsize=7)
    ax.legend(fontsize=6, title="partitions (h x v)")
    save_figure(fig, path)
    return path


def partition_heatmap(df, path: Path) -> Path:
    """Analog accuracy over layer-1 horizontal x vertical partition counts (at the largest wire R swept)."""
    ok = df[df["status"] == "ok"]
    col = _wire_column(ok)
    title = ""
    if col is not None:
        r_max = ok[col].astype(float).max()
        ok = ok[ok[col].astype(float) == r_max]
        title = f" at {r_max:g} Ω per segment"
    rest = _others(ok, ["partitions", "partition_plan", "layer1_h", "layer1_v"] + ([col] if col else []))
    if rest:
        raise SpecError(f"partition_heatmap: {', '.join(rest)} also vary; a cell would mix them")
    hs, vs = sorted(ok["layer1_h"].unique()), sorted(ok["layer1_v"].unique())
    grid = np.full((len(hs), len(vs)), np.nan)
    for (h, v), group in ok.groupby(["layer1_h", "layer1_v"]):
        if len(group) > 1:
            raise SpecError(f"partition_heatmap: {len(group)} records at {h} x {v} partitions (plans that differ "
                            "beyond layer 1); a cell would mix them")
        grid[hs.index(h), vs.index(v)] = 100 * _accuracy_interval(group)[0][0]  # the mean over draws, if any
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(vs)), [str(v) for v in vs])
    ax.set_yticks(range(len(hs)), [str(h) for h in hs])
    ax.set_xlabel("vertical partitions of layer 1 (count)")
    ax.set_ylabel("horizontal partitions of layer 1 (count)")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(im, ax=ax, label="analog accuracy (%)" + (", mean over draws" if _has_draws(ok) else ""))
    ax.set_title("accuracy by partition plan" + title)
    save_figure(fig, path)
    return path


def error_vs_array_size(df, path: Path) -> Path:
    """Layer-1 relative RMSE of pre-activations vs the layer-1 tile size, a line per wire R (and per any
    other differing field); ticks name each tile shape."""
    ok = df[df["status"] == "ok"].copy()
    ok["cells"] = ok["layer1_tile_rows"] * ok["layer1_tile_cols"]
    col = _wire_column(ok)
    split = ([col] if col else []) + _others(ok, [c for c in (col, "partitions", "partition_plan") if c])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for keys, group in _groups(ok, split):
        keys = keys if isinstance(keys, tuple) else (keys,)
        g = group.sort_values("cells")
        if g["cells"].duplicated().any():
            raise SpecError("error_vs_array_size: two records of one line have the same tile size")
        label = (f"{float(keys[0]):g} Ω" if col else "") + (f" ({_label(keys[1:], split[1:])})" if len(split) > 1 else "")
        ax.plot(g["cells"], g["layer1_relative_rmse"], marker="o", label=label or None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    shapes = ok.drop_duplicates("cells").sort_values("cells")
    ax.set_xticks(shapes["cells"], [f"{r}x{c}" for r, c in zip(shapes["layer1_tile_rows"], shapes["layer1_tile_cols"])],
                  rotation=30, ha="right")
    ax.minorticks_off()
    ax.set_xlabel("layer-1 tile (rows x columns, cells)")
    ax.set_ylabel("layer-1 pre-activation rel. RMSE (ratio)")
    if split:
        ax.legend(fontsize=6, title="wire R per segment")
    save_figure(fig, path)
    return path


def ir_drop_heatmap(ir: "IrDropMap", path: Path, title: str = "") -> Path:
    """Row-wire drop ``v_i - v_row`` and column-wire rise ``v_col`` of an IR-drop map, in mV."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6))
    for ax, data, label in ((axes[0], 1e3 * ir.row_drop_v, "row wires: v_in - v (mV)"),
                            (axes[1], 1e3 * ir.v_col_v, "column wires: v (mV)")):
        im = ax.imshow(data, cmap="magma", aspect="auto")
        ax.set_title(label)
        ax.set_xlabel("column (cell index)")
        ax.set_ylabel("row (cell index)")
        fig.colorbar(im, ax=ax, label="mV")
    m, n = ir.shape
    fig.suptitle(title or ir.label or f"IR drop, {m}x{n} tile", fontsize=8)
    save_figure(fig, path)
    return path


@dataclass(slots=True)
class PlotReport:
    """What ``plot_store`` did: ``written`` (PNG and PDF paths) and ``skipped`` ``(plot, reason)`` pairs.
    Iterating gives the PNG paths."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self):
        return iter([p for p in self.written if p.suffix == ".png"])

    def __len__(self) -> int:
        return len([p for p in self.written if p.suffix == ".png"])


def plot_store(store, out_dir: str | os.PathLike[str], *, ir_drop: "IrDropMap | None" = None) -> PlotReport:
    """Every plot that applies to ``store``'s records, into ``out_dir`` (PNG and PDF each); the report
    names the plots it skipped and why. ``ir_drop``: the map ``ir_drop_heatmap`` draws (e.g.
    ``pyims.experiment.ir_drop.store_ir_drop(store)``, as ``pyims plot`` does); without it that plot is skipped."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = store.table()
    if not len(df) or not (df["status"] == "ok").any():
        raise SpecError(f"store {store.root} has no successful records to plot")
    report = PlotReport()
    ok = df[df["status"] == "ok"].copy()
    axes = [a for a in df.attrs["swept"] if a in ok and ok[a].astype(str).nunique() > 1]
    ok.attrs["axes"] = tuple(axes)

    def attempt(name: str, make) -> None:
        try:
            path = make(out / f"{name}.png")
        except SpecError as exc:
            report.skipped.append((name, str(exc)))
            return
        report.written += [path, path.with_suffix(".pdf")]

    for axis in axes:
        slug = axis.replace("+", "_and_").replace(".", "_")
        if axis == TIME_AXIS:  # time since programming: on a log axis
            attempt("accuracy_vs_time_since_programming", lambda p: accuracy_vs_time(ok, p))
            continue
        attempt(f"accuracy_vs_{slug}", lambda p, a=axis: accuracy_vs_axis(ok, a, p))
    for x_axis, y_axis in itertools.combinations(axes, 2):
        slug = f"{x_axis}__{y_axis}".replace("+", "_and_").replace(".", "_")
        attempt(f"heatmap_{slug}", lambda p, a=x_axis, b=y_axis: accuracy_heatmap(ok, a, b, p))
    if len(axes) < 2:
        report.skipped.append(("heatmap", f"needs two swept fields; this store sweeps {len(axes)}"))
    if _wire_column(ok) is not None:
        attempt("accuracy_vs_wire_r", lambda p: accuracy_vs_wire_r(ok, p))
    else:
        report.skipped.append(("accuracy_vs_wire_r", "no wire resistance was swept"))
    if ok["layer1_h"].nunique() > 1 or ok["layer1_v"].nunique() > 1:
        attempt("partition_heatmap", lambda p: partition_heatmap(ok, p))
    else:
        report.skipped.append(("partition_heatmap", "layer 1 has one partition plan in every record"))
    if ok["layer1_tile_rows"].nunique() > 1 or ok["layer1_tile_cols"].nunique() > 1:
        attempt("error_vs_array_size", lambda p: error_vs_array_size(ok, p))
    else:
        report.skipped.append(("error_vs_array_size", "every record has the same layer-1 tile size"))
    if ir_drop is not None:
        attempt("ir_drop_heatmap", lambda p: ir_drop_heatmap(ir_drop, p))
    else:
        report.skipped.append(("ir_drop_heatmap", "no IR-drop map given; pass ir_drop=pyims.experiment.ir_drop."
                               "store_ir_drop(store) (it re-creates the most resistive point's network)"))
    return report
