"""Figures of sweep results and of one tile's IR drop (matplotlib inside the functions).

Sweeps (a ``ResultStore``'s table):

* ``accuracy_vs_axis``: analog accuracy (with 95 % intervals) against any swept field, a line per combination of
  the other swept or differing fields.
* ``accuracy_heatmap``: accuracy over any two swept fields (drawn only when nothing else differs, so every cell is
  one record).
* ``accuracy_vs_time``: accuracy against the time since programming (``device.t_since_program_s``) on a log axis,
  a line per combination of the other fields that vary (e.g. per drift compensation).
* ``accuracy_vs_wire_r``: accuracy against wire resistance, one line per partition plan. It stands for
  ``accuracy_vs_axis`` of the swept wire resistance, which ``plot_store`` therefore does not draw (the two were
  the same lines with worse labels).
* ``partition_heatmap``: accuracy over layer-1 (horizontal, vertical) partition counts. ``plot_store`` skips it
  (saying why) when an ``accuracy_heatmap`` over the partition plans is drawn: its cells would be a row of that one.
* ``error_vs_array_size``: layer-1 pre-activation error against the layer-1 tile size (cells).

One tile: ``ir_drop_heatmap`` draws an ``IrDropMap`` (``pyims.experiment.ir_drop`` computes it). One experiment's
report figures (accuracy, layer errors, confusion, accuracy against read time) are in
``pyims.experiment.report_figures``, below this module in the stages.

Every function takes data and returns its ``matplotlib.figure.Figure``, drawn in the one style of
``pyims.figures`` (a column wide, text >= 7 pt, Okabe-Ito lines, viridis / cividis maps, cell numbers in the
colour of higher contrast) inside ``matplotlib.rc_context``: the global backend and ``rcParams`` are never
touched. Given ``path``, a function also writes the figure there as PNG and PDF. Axis, legend and tick labels
are words with units (``axis_label``, ``value_label``), never config keys or JSON; so are file names
(``figure_slug``: ``accuracy_heatmap_partitions_vs_wire_r``, ``accuracy_vs_adc_resolution``). ``plot_store`` writes all
that apply to a result store (``pyims plot STORE``) and says which it skipped and why.
Points whose configs differ in a field are never averaged together: lines and cells are split by every
differing config field (``ResultStore.table``'s ``config.*`` columns).

Error bars are 95 % intervals: with Monte Carlo draws (``simulation.repeats`` > 1) the mean accuracy over the
draws and its Student-t interval across draws; with one draw the accuracy and its Wilson interval over the
test images.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pyims.errors import SpecError
from pyims.figures import MARKERS, colorbar, new_figure, save_figure, si, styled, text_color_on, wilson_interval
from pyims.sweeps.store import axis_covers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pyims.experiment.ir_drop import IrDropMap

__all__ = ["accuracy_vs_axis", "accuracy_heatmap", "accuracy_vs_time", "accuracy_vs_time_figure", "accuracy_vs_wire_r",
           "partition_heatmap", "error_vs_array_size", "ir_drop_heatmap", "plot_store", "PlotReport", "axis_label", "value_label", "FIELDS",
           "SLUGS", "figure_slug"]

#: Human names of config fields and result columns: ``name -> (words, unit)``; unit "" for a category.
#: Fields not listed are named from their key (``_field``): section and words, the unit from the suffix.
FIELDS: dict[str, tuple[str, str]] = {
    "wires.r_row_ohm+wires.r_col_ohm": ("Wire resistance per segment", "Ω"),
    "wires.r_row_ohm": ("Row-wire resistance per segment", "Ω"),
    "wires.r_col_ohm": ("Column-wire resistance per segment", "Ω"),
    "wires.r_driver_ohm": ("Driver resistance", "Ω"),
    "wires.r_sense_ohm": ("Sense resistance", "Ω"),
    "wires.c_row_f+wires.c_col_f": ("Wire capacitance per segment", "F"),
    "wires.c_row_f": ("Row-wire capacitance per segment", "F"),
    "wires.c_col_f": ("Column-wire capacitance per segment", "F"),
    "partitions": ("Partitions (h × v)", ""),
    "partition_plan": ("Partitions (h × v)", ""),
    "partitions.horizontal": ("Horizontal partitions per layer", ""),
    "partitions.vertical": ("Vertical partitions per layer", ""),
    "partitions.max_rows": ("Partition rows, at most", "cells"),
    "partitions.max_cols": ("Partition columns, at most", "cells"),
    "device.kind": ("Device", ""),
    "device.g_on_s": ("On conductance", "S"),
    "device.g_off_s": ("Off conductance", "S"),
    "device.g_max_s": ("Largest conductance", "S"),
    "device.levels": ("Conductance levels", "count"),
    "device.variation_sigma_ratio": ("Programming variation σ", "ratio"),
    "device.t_since_program_s": ("Time since programming", "s"),
    "device.drift_compensation": ("Drift compensation", ""),
    "device.stuck_off_ratio": ("Stuck-off cells", "fraction"),
    "device.stuck_on_ratio": ("Stuck-on cells", "fraction"),
    "device.seed": ("Device seed", ""),
    "encoding.kind": ("Input encoding", ""),
    "encoding.v_read_v": ("Read voltage", "V"),
    "encoding.dac_bits": ("DAC resolution", "bits"),
    "adc.bits": ("ADC resolution", "bits"),
    "neuron.kind": ("Neuron", ""),
    "periphery.sense": ("Sense circuit", ""),
    "periphery.combine": ("Partition combiner", ""),
    "periphery.rf_ohm": ("Feedback resistance", "Ω"),
    "train.hidden": ("Hidden layers", "neurons"),
    "train.epochs": ("Training epochs", "count"),
    "dataset.name": ("Dataset", ""),
    "dataset.max_test": ("Test images", "count"),
    "simulation.mode": ("Simulation mode", ""),
    "simulation.repeat_seed": ("Draw seed", ""),
    "simulation.t_read_s": ("Read time", "s"),
}
_SI = ("Ω", "F", "s", "S", "V", "A", "J", "W")
_COUNTED = ("neurons", "bits", "cells")  # units a value is written with ("8 bits"); "count" is not
_SUFFIXES = (("_ohm", "Ω"), ("_f", "F"), ("_v", "V"), ("_a", "A"), ("_j", "J"), ("_w", "W"), ("_bits", "bits"),
             ("_ratio", "ratio"), ("_norm", "normalised"))


def _field(name: str) -> tuple[str, str]:
    """``(words, unit)`` of a config field or result column (``FIELDS``, else from its key)."""
    name = name.removeprefix("config.")
    if name in FIELDS:
        return FIELDS[name]
    if "+" in name:  # fields swept together: "A and b (unit)"
        parts = [_field(p) for p in name.split("+")]
        words = " and ".join([parts[0][0]] + [w[:1].lower() + w[1:] for w, _ in parts[1:]])
        return words, parts[-1][1]
    section, _, leaf = name.rpartition(".")
    unit = ""
    if leaf.endswith("_s"):
        unit, leaf = ("S" if leaf.startswith("g_") else "s"), leaf[:-2]
    for suffix, u in _SUFFIXES:
        if leaf.endswith(suffix):
            unit, leaf = u, leaf[: -len(suffix)]
            break
    words = " ".join(w for w in (section.replace(".", " "), leaf.replace("_", " ")) if w)
    return words[:1].upper() + words[1:], unit


#: Short file-name words of fields whose words are long: ``accuracy_vs_wire_r``, not ``..._wire_resistance_per_segment``.
SLUGS: dict[str, str] = {
    "wires.r_row_ohm+wires.r_col_ohm": "wire_r",
    "wires.r_row_ohm": "row_wire_r",
    "wires.r_col_ohm": "column_wire_r",
    "wires.c_row_f+wires.c_col_f": "wire_c",
    "wires.c_row_f": "row_wire_c",
    "wires.c_col_f": "column_wire_c",
    "device.t_since_program_s": "time_since_programming",
}


def figure_slug(name: str) -> str:
    """A field in a figure's file name: its words (``SLUGS``, else ``axis_label``'s words without their bracketed
    part), lower case joined by ``_`` -- ``partitions`` -> ``partitions``, ``adc.bits`` -> ``adc_resolution``, the
    swept wire resistance -> ``wire_r``; never the config key."""
    name = name.removeprefix("config.")
    if name in SLUGS:
        return SLUGS[name]
    words = re.sub(r"\(.*?\)", " ", _field(name)[0]).lower()
    return re.sub(r"[^a-z0-9]+", "_", words).strip("_") or "field"


def axis_label(name: str) -> str:
    """A field's axis label, words and unit: ``wires.r_row_ohm+wires.r_col_ohm`` -> ``Wire resistance per segment
    (Ω)``; a category (no unit) is its words: ``partitions`` -> ``Partitions (h × v)``."""
    words, unit = _field(name)
    return f"{words} ({unit})" if unit else words


def _plan(plan: dict) -> str:
    """A partition plan (the ``partitions`` table) in words: ``{"horizontal": [4, 1], "vertical": [2, 1]}`` ->
    ``4/1 × 2/1``; ``{"max_rows": 16, "max_cols": 16}`` -> ``tiles ≤ 16 × 16``; ``{}`` -> ``none``."""
    parts = []
    if "horizontal" in plan or "vertical" in plan:
        parts.append(" × ".join("/".join(map(str, plan.get(k) or [1])) for k in ("horizontal", "vertical")))
    rows, cols = plan.get("max_rows"), plan.get("max_cols")
    if rows and cols:
        parts.append(f"tiles ≤ {rows} × {cols}")
    elif rows or cols:
        parts.append(f"tiles ≤ {rows} rows" if rows else f"tiles ≤ {cols} columns")
    parts += [f"{k.replace('_', ' ')} {v}" for k, v in plan.items() if k not in ("horizontal", "vertical", "max_rows", "max_cols")]
    return ", ".join(parts) or "none"


def value_label(name: str, value: Any) -> str:
    """One value of field ``name`` in words with its unit: ``30.0`` of a wire resistance -> ``30 Ω``; a partition
    plan's JSON -> ``4/1 × 2/1``; ``[32, 16]`` hidden layers -> ``32-16``; ``per_column`` -> ``per column``; a
    missing value -> ``default``."""
    name = name.removeprefix("config.")
    unit = _field(name)[1]
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "{[":
            try:
                value = json.loads(text)
            except ValueError:
                return text
        elif name == "partition_plan":
            return text.replace(" x ", " × ")
        else:
            try:
                value = float(text)
            except ValueError:
                return text.replace("_", " ")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "default"
    if isinstance(value, dict):
        return _plan(value) if name.startswith("partitions") else ", ".join(
            f"{k.replace('_', ' ')} {value_label(k, v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if name.startswith("partitions") or not all(isinstance(v, (int, float)) for v in value):
            return ("/" if name.startswith("partitions") else ", ").join(value_label(name, v) for v in value)
        return "-".join(f"{float(v):g}" for v in value) + (f" {unit}" if unit in _COUNTED else "")
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return si(value, unit) if unit in _SI else f"{float(value):g}" + (f" {unit}" if unit in _COUNTED else "")
    return str(value).replace("_", " ")


def _line_label(keys: tuple, cols: list[str]) -> str | None:
    """A line's legend entry: the first split field's value, the others' words and values after it."""
    if not cols:
        return None
    rest = ", ".join(f"{_field(c)[0].lower()} {value_label(c, k)}" for c, k in zip(cols[1:], keys[1:]))
    return value_label(cols[0], keys[0]) + (f" ({rest})" if rest else "")


def _legend(ax, cols: list[str], **kw) -> None:
    """The legend of a plot split by ``cols``, titled with the first field's words."""
    if cols and ax.get_legend_handles_labels()[0]:
        ax.legend(title=_field(cols[0])[0], **kw)


def _save(fig: "Figure", path: str | os.PathLike[str] | None) -> "Figure":
    if path is not None:
        save_figure(fig, path)
    return fig


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


#: The time-since-programming axis ``accuracy_vs_time`` draws (log scale).
TIME_AXIS = "device.t_since_program_s"
#: Named times since programming: ticks of ``accuracy_vs_time`` (seconds, label).
NAMED_TIMES_S = ((1.0, "1 s"), (60.0, "1 min"), (3600.0, "1 h"), (86400.0, "1 d"), (86400.0 * 365.25 / 12, "1 month"),
                 (86400.0 * 365.25, "1 year"), (86400.0 * 365.25 * 10, "10 years"))
ACCURACY_LABEL = "Analog accuracy (%)"


def _interval_note(df) -> str:
    """What the error bars of ``df``'s records are, in words."""
    draws = df["n_draws"].dropna().astype(int) if "n_draws" in df else None
    if draws is None or not len(draws):
        return "Error bars: 95 % Wilson interval over test images"
    counts = sorted(set(draws))
    text = "Mean of " + "/".join(map(str, counts)) + " hardware draws, 95 % Student-t interval"
    return text + ("" if len(draws) == len(df) else " (one draw: Wilson)")


def _with_interval(ax, x, group, label, k: int, **kw) -> None:
    """Accuracy in % at ``x`` with its 95 % interval as error bars (``_accuracy_interval``); line ``k``'s marker."""
    acc, low, high = _accuracy_interval(group)
    ax.errorbar(x, 100 * acc, yerr=[100 * (acc - low), 100 * (high - acc)], marker=MARKERS[k % len(MARKERS)], capsize=2,
                label=label, **kw)


def _finish(fig: "Figure", ax, ok, split: list[str], xlabel: str, note_tail: str, path) -> "Figure":
    """An accuracy plot's labels, its error bars' meaning (``_interval_note`` + ``note_tail``) as the title, the
    legend of ``split``; written to ``path`` if given."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ACCURACY_LABEL)
    ax.set_title(_interval_note(ok) + note_tail)
    _legend(ax, split)
    return _save(fig, path)


@styled
def accuracy_vs_axis(df, axis: str, path: str | os.PathLike[str] | None = None) -> "Figure":
    """Analog accuracy (%) against swept field ``axis``, with 95 % intervals; a line per combination of every other
    field that varies (never averaged); digital accuracy dotted per line."""
    ok = df[df["status"] == "ok"]
    split = _others(ok, [axis])
    fig, ax = new_figure()
    numeric = _numeric(ok[axis])
    categories = sorted(ok[axis].astype(str).unique(), key=_natural)
    for k, (keys, group) in enumerate(_groups(ok, split)):
        if group[axis].astype(str).duplicated().any():  # the same axis value twice: these differ elsewhere
            raise SpecError(f"accuracy_vs_axis({axis!r}): records repeat an axis value within one line; "
                            "they differ in a field the store does not tell apart")
        group = group.assign(_x=group[axis].astype(float) if numeric else group[axis].astype(str).map(categories.index))
        group = group.sort_values("_x")
        _with_interval(ax, group["_x"].to_numpy(), group, _line_label(keys, split), k)
        ax.plot(group["_x"], 100 * group["accuracy_digital"], ls=":", lw=1, color=ax.lines[-1].get_color())
    if not numeric:
        ax.set_xticks(range(len(categories)), [value_label(axis, c) for c in categories], rotation=20, ha="right")
    return _finish(fig, ax, ok, split, axis_label(axis), "; dotted: digital", path)


@styled
def accuracy_vs_time(df, path: str | os.PathLike[str] | None = None, axis: str = TIME_AXIS) -> "Figure":
    """Analog accuracy (%) against the time since programming ``axis`` (s) on a log x axis with 95 % error bars
    (``_accuracy_interval``), a line per combination of the other fields that vary; records read right after
    programming (t = 0, not on a log axis) as a dashed horizontal line of their line's colour; digital dotted."""
    ok = df[df["status"] == "ok"]
    if axis not in ok:
        raise SpecError(f"accuracy_vs_time: the records have no column {axis!r}; sweep device.t_since_program_s")
    t = ok[axis].astype(float)
    if not (t > 0).any():
        raise SpecError(f"accuracy_vs_time: no record has {axis} > 0 (a log axis); sweep times after programming, "
                        "e.g. [1.0, 3600.0, 86400.0]")
    split = _others(ok, [axis])
    fig, ax = new_figure()
    for k, (keys, group) in enumerate(_groups(ok.assign(_t=t), split)):
        if group["_t"].duplicated().any():
            raise SpecError("accuracy_vs_time: records repeat a time within one line; they differ in a field the store "
                            "does not tell apart")
        group = group.sort_values("_t")
        later = group[group["_t"] > 0]
        _with_interval(ax, later["_t"].to_numpy(), later, _line_label(keys, split), k)
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
    tail = "\ndotted: digital; dashed: read at programming" if (t == 0).any() else "; dotted: digital"
    return _finish(fig, ax, ok, split, f"{_field(axis)[0]} (s, log scale)", tail, path)


def accuracy_vs_time_figure(df, axis: str = TIME_AXIS) -> "Figure":
    """``accuracy_vs_time(df, axis=axis)``: the earlier name of the unsaved figure."""
    return accuracy_vs_time(df, None, axis)


def _annotate(ax, im, grid: np.ndarray) -> None:
    """Each cell's value (%, one decimal) in black or white, whichever contrasts more with the cell's colour."""
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color=text_color_on(im.cmap(im.norm(value))))


@styled
def accuracy_heatmap(df, x_axis: str, y_axis: str, path: str | os.PathLike[str] | None = None) -> "Figure":
    """Analog accuracy (%) over two swept fields, one record per cell (refused when others vary)."""
    ok = df[df["status"] == "ok"]
    rest = _others(ok, [x_axis, y_axis])
    if rest:
        raise SpecError(f"accuracy_heatmap({x_axis!r}, {y_axis!r}): {', '.join(rest)} also vary; a cell would mix them")
    xs, ys = sorted(ok[x_axis].astype(str).unique(), key=_natural), sorted(ok[y_axis].astype(str).unique(), key=_natural)
    if _numeric(ok[x_axis]):
        xs = sorted(xs, key=float)
    if _numeric(ok[y_axis]):
        ys = sorted(ys, key=float)
    grid = np.full((len(ys), len(xs)), np.nan)
    acc, _, _ = _accuracy_interval(ok)  # the mean over draws where there are draws
    for a, (_, row) in zip(acc, ok.iterrows()):
        grid[ys.index(str(row[y_axis])), xs.index(str(row[x_axis]))] = 100 * a
    fig, ax = new_figure(height_in=3.0)
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(len(xs)), [value_label(x_axis, x) for x in xs], rotation=20, ha="right")
    ax.set_yticks(range(len(ys)), [value_label(y_axis, y) for y in ys])
    _annotate(ax, im, grid)
    colorbar(fig, im, ax, ACCURACY_LABEL.replace("(%)", "(%, mean of draws)") if _has_draws(ok) else ACCURACY_LABEL)
    ax.set_xlabel(axis_label(x_axis))
    ax.set_ylabel(axis_label(y_axis))
    return _save(fig, path)


@styled
def accuracy_vs_wire_r(df, path: str | os.PathLike[str] | None = None) -> "Figure":
    """Analog accuracy vs wire resistance (Ω per segment), a line per partition plan (and per any other
    differing field), with 95 % intervals; digital dashed."""
    col = _wire_column(df)
    if col is None:
        raise SpecError("accuracy_vs_wire_r needs a sweep over wires.r_row_ohm or wires.r_col_ohm")
    ok = df[df["status"] == "ok"]
    split = ["partition_plan"] + _others(ok, [col, "partitions", "partition_plan"])
    fig, ax = new_figure()
    for k, (keys, group) in enumerate(_groups(ok, split)):
        group = group.assign(_r=group[col].astype(float)).sort_values("_r")
        _with_interval(ax, group["_r"].to_numpy(), group, _line_label(keys, split), k)
    for digital in sorted(ok["accuracy_digital"].unique()):
        ax.axhline(100 * digital, color="k", ls="--", lw=1)
    return _finish(fig, ax, ok, split, axis_label(col), "; dashed: digital", path)


@styled
def partition_heatmap(df, path: str | os.PathLike[str] | None = None) -> "Figure":
    """Analog accuracy over layer-1 horizontal x vertical partition counts (at the largest wire R swept)."""
    ok = df[df["status"] == "ok"]
    col = _wire_column(ok)
    title = "Accuracy by partition plan"
    if col is not None:
        r_max = ok[col].astype(float).max()
        ok = ok[ok[col].astype(float) == r_max]
        title += f" at {si(r_max, 'Ω')} per segment"
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
    fig, ax = new_figure(height_in=3.0)
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(len(vs)), [str(v) for v in vs])
    ax.set_yticks(range(len(hs)), [str(h) for h in hs])
    ax.set_xlabel("Vertical partitions of layer 1 (count)")
    ax.set_ylabel("Horizontal partitions of layer 1 (count)")
    _annotate(ax, im, grid)
    colorbar(fig, im, ax, ACCURACY_LABEL.replace("(%)", "(%, mean of draws)") if _has_draws(ok) else ACCURACY_LABEL)
    ax.set_title(title)
    return _save(fig, path)


@styled
def error_vs_array_size(df, path: str | os.PathLike[str] | None = None) -> "Figure":
    """Layer-1 relative RMSE of pre-activations vs the layer-1 tile size, a line per wire R (and per any
    other differing field); ticks name each tile shape."""
    ok = df[df["status"] == "ok"].copy()
    ok["cells"] = ok["layer1_tile_rows"] * ok["layer1_tile_cols"]
    col = _wire_column(ok)
    split = ([col] if col else []) + _others(ok, [c for c in (col, "partitions", "partition_plan") if c])
    fig, ax = new_figure()
    for k, (keys, group) in enumerate(_groups(ok, split)):
        g = group.sort_values("cells")
        if g["cells"].duplicated().any():
            raise SpecError("error_vs_array_size: two records of one line have the same tile size")
        ax.plot(g["cells"], g["layer1_relative_rmse"], marker=MARKERS[k % len(MARKERS)], label=_line_label(keys, split))
    ax.set_xscale("log")
    ax.set_yscale("log")
    shapes = ok.drop_duplicates("cells").sort_values("cells")
    ax.set_xticks(shapes["cells"], [f"{r}×{c}" for r, c in zip(shapes["layer1_tile_rows"], shapes["layer1_tile_cols"])],
                  rotation=30, ha="right")
    ax.minorticks_off()
    ax.set_xlabel("Layer-1 tile, rows × columns (cells)")
    ax.set_ylabel("Layer-1 pre-activation error (rel. RMSE)")
    _legend(ax, split)
    return _save(fig, path)


@styled
def ir_drop_heatmap(ir: "IrDropMap", path: str | os.PathLike[str] | None = None, title: str = "") -> "Figure":
    """Row-wire drop ``v_i - v_row`` (top) and column-wire rise ``v_col`` (bottom) of an IR-drop map, in mV."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = new_figure(2, 1, height_in=4.4)
    for ax, data, label in ((axes[0], 1e3 * ir.row_drop_v, "Row wires: drop below the driven input"),
                            (axes[1], 1e3 * ir.v_col_v, "Column wires: voltage")):
        im = ax.imshow(data, cmap="cividis", aspect="auto")
        ax.grid(False)
        ax.set_title(label)
        ax.set_xlabel("Column (cell index)")
        ax.set_ylabel("Row (cell index)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        colorbar(fig, im, ax, "Voltage (mV)")
    m, n = ir.shape
    fig.suptitle(textwrap.fill(title or ir.label or f"IR drop, {m}×{n} tile", 60))
    return _save(fig, path)


# ---------------------------------------------------------------- a result store


@dataclass(slots=True)
class PlotReport:
    """What ``plot_store`` did: ``written`` (PNG and PDF paths), ``skipped`` ``(plot, reason)`` pairs and
    ``figures`` (file stem -> the ``Figure`` written). Iterating gives the PNG paths."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):
        return iter([p for p in self.written if p.suffix == ".png"])

    def __len__(self) -> int:
        return len([p for p in self.written if p.suffix == ".png"])


def plot_store(store, out_dir: str | os.PathLike[str], *, ir_drop: "IrDropMap | None" = None) -> PlotReport:
    """Every plot that applies to ``store``'s records, into ``out_dir`` (PNG and PDF each); the report
    names the plots it skipped and why. ``ir_drop``: the map ``ir_drop_heatmap`` draws (e.g.
    ``pyims.experiment.ir_drop.store_ir_drop(store)``, as ``pyims plot`` does); without it that plot is skipped.
    A swept wire resistance is drawn once, by ``accuracy_vs_wire_r`` (not again by ``accuracy_vs_axis``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = store.table()
    if not len(df) or not (df["status"] == "ok").any():
        raise SpecError(f"store {store.root} has no successful records to plot")
    report = PlotReport()
    ok = df[df["status"] == "ok"].copy()
    axes = [a for a in df.attrs["swept"] if a in ok and ok[a].astype(str).nunique() > 1]
    ok.attrs["axes"] = tuple(axes)
    wire = _wire_column(ok)

    def attempt(name: str, make) -> None:
        try:
            fig = make()
        except SpecError as exc:
            report.skipped.append((name, str(exc)))
            return
        report.written += list(save_figure(fig, out / f"{name}.png"))
        report.figures[name] = fig

    for axis in axes:
        if axis == TIME_AXIS:  # time since programming: on a log axis
            attempt(f"accuracy_vs_{figure_slug(axis)}", lambda: accuracy_vs_time(ok))
        elif axis != wire:  # the wire resistance: accuracy_vs_wire_r below
            attempt(f"accuracy_vs_{figure_slug(axis)}", lambda a=axis: accuracy_vs_axis(ok, a))
    partition_maps = []  # accuracy heatmaps with a partition axis: every record's cell, at every wire R
    for x_axis, y_axis in itertools.combinations(axes, 2):
        name = f"accuracy_heatmap_{figure_slug(x_axis)}_vs_{figure_slug(y_axis)}"
        attempt(name, lambda a=x_axis, b=y_axis: accuracy_heatmap(ok, a, b))
        if name in report.figures and any(a.startswith("partition") for a in (x_axis, y_axis)):
            partition_maps.append(name)
    if len(axes) < 2:
        report.skipped.append(("heatmap", f"needs two swept fields; this store sweeps {len(axes)}"))
    if wire is not None:
        attempt("accuracy_vs_wire_r", lambda: accuracy_vs_wire_r(ok))
    else:
        report.skipped.append(("accuracy_vs_wire_r", "no wire resistance was swept"))
    if not (ok["layer1_h"].nunique() > 1 or ok["layer1_v"].nunique() > 1):
        report.skipped.append(("partition_heatmap", "layer 1 has one partition plan in every record"))
    elif partition_maps:  # its cells would be one row of that heatmap again (the largest wire R's)
        report.skipped.append(("partition_heatmap", f"its cells are already in {partition_maps[0]} (each plan's "
                               "accuracy at every swept value)"))
    else:
        attempt("partition_heatmap", lambda: partition_heatmap(ok))
    if ok["layer1_tile_rows"].nunique() > 1 or ok["layer1_tile_cols"].nunique() > 1:
        attempt("error_vs_array_size", lambda: error_vs_array_size(ok))
    else:
        report.skipped.append(("error_vs_array_size", "every record has the same layer-1 tile size"))
    if ir_drop is not None:
        attempt("ir_drop_heatmap", lambda: ir_drop_heatmap(ir_drop))
    else:
        report.skipped.append(("ir_drop_heatmap", "no IR-drop map given; pass ir_drop=pyims.experiment.ir_drop."
                               "store_ir_drop(store) (it re-creates the most resistive point's network)"))
    return report
