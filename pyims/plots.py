"""Plots of sweep results and of one tile's IR drop (matplotlib, imported inside the functions).

* ``accuracy_vs_wire_r``: analog accuracy against wire resistance, one line per partition plan.
* ``partition_heatmap``: analog accuracy over layer-1 (horizontal, vertical) partition counts.
* ``error_vs_array_size``: layer-1 pre-activation error against the layer-1 tile size (cells).
* ``ir_drop_heatmap``: row-wire and column-wire voltage deviations of one tile from the native
  solver's node voltages.

``plot_store`` writes all that apply to a result store (``pyims plot STORE``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from pyims.errors import SpecError

__all__ = ["accuracy_vs_wire_r", "partition_heatmap", "error_vs_array_size", "ir_drop_heatmap", "plot_store"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _wire_column(df) -> str | None:
    for col in df.columns:
        if "r_row_ohm" in col or "r_col_ohm" in col:
            return col
    return None


def accuracy_vs_wire_r(df, path: Path) -> Path:
    """Analog accuracy vs wire resistance (ohm per segment), a line per partition plan; digital dashed."""
    col = _wire_column(df)
    if col is None:
        raise SpecError("accuracy_vs_wire_r needs a sweep over wires.r_row_ohm or wires.r_col_ohm")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ok = df[df["status"] == "ok"]
    for plan, group in ok.groupby("partition_plan", sort=True):
        g = group.groupby(col)["accuracy_analog"].mean().sort_index()
        ax.plot(g.index.astype(float), 100 * g.values, marker="o", label=plan)
    ax.axhline(100 * ok["accuracy_digital"].mean(), color="k", ls="--", lw=1, label="digital")
    ax.set_xlabel("wire resistance per segment (ohm)")
    ax.set_ylabel("analog accuracy (%)")
    ax.legend(fontsize=7, title="partitions (h x v)", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def partition_heatmap(df, path: Path) -> Path:
    """Analog accuracy over layer-1 horizontal x vertical partition counts (at the largest wire R swept)."""
    ok = df[df["status"] == "ok"]
    col = _wire_column(ok)
    title = ""
    if col is not None:
        r_max = ok[col].astype(float).max()
        ok = ok[ok[col].astype(float) == r_max]
        title = f" at {r_max:g} ohm/segment"
    hs, vs = sorted(ok["layer1_h"].unique()), sorted(ok["layer1_v"].unique())
    grid = np.full((len(hs), len(vs)), np.nan)
    for (h, v), group in ok.groupby(["layer1_h", "layer1_v"]):
        grid[hs.index(h), vs.index(v)] = 100 * group["accuracy_analog"].mean()
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(vs)), [str(v) for v in vs])
    ax.set_yticks(range(len(hs)), [str(h) for h in hs])
    ax.set_xlabel("vertical partitions (layer 1)")
    ax.set_ylabel("horizontal partitions (layer 1)")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(im, ax=ax, label="analog accuracy (%)")
    ax.set_title("accuracy by partition plan" + title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def error_vs_array_size(df, path: Path) -> Path:
    """Layer-1 relative RMSE of pre-activations vs the layer-1 tile size, a line per wire R."""
    ok = df[df["status"] == "ok"].copy()
    ok["cells"] = ok["layer1_tile_rows"] * ok["layer1_tile_cols"]
    col = _wire_column(ok)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    groups = ok.groupby(col) if col is not None else [("", ok)]
    for r, group in groups:
        g = group.groupby("cells")["layer1_relative_rmse"].mean().sort_index()
        ax.plot(g.index, g.values, marker="o", label=f"{float(r):g} ohm" if col is not None else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("layer-1 tile size (cells, rows x columns)")
    ax.set_ylabel("layer-1 pre-activation rel. RMSE")
    if col is not None:
        ax.legend(fontsize=7, title="wire R / segment", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def ir_drop_heatmap(tile, v_in_v: np.ndarray, path: Path, title: str = "") -> Path:
    """Row-wire drop ``v_i - v_row`` and column-wire rise ``v_col`` of ``tile`` for one input ``(m,)``, in mV."""
    from pyims.runners.native import NativeTileSolver

    v = np.asarray(v_in_v, dtype=np.float64)
    v_row, v_col = NativeTileSolver(tile).node_voltages(v)
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6))
    for ax, data, label in ((axes[0], 1e3 * (v[:, None] - v_row), "row wires: v_in - v (mV)"),
                            (axes[1], 1e3 * v_col, "column wires: v (mV)")):
        im = ax.imshow(data, cmap="magma", aspect="auto")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("column (cell)")
        ax.set_ylabel("row (cell)")
        fig.colorbar(im, ax=ax)
    fig.suptitle(title or f"IR drop, {tile.n_rows}x{tile.n_cols} tile", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _ir_drop_of_point(record: dict[str, Any], path: Path) -> Path:
    """Re-create the point's mapped network (training included) and plot layer 1's first tile."""
    from pyims.experiment.config import parse_config
    from pyims.experiment.run import run_experiment

    data = record["config"]
    cfg = parse_config({**{k: v for k, v in data.items() if k != "name"},
                        "simulation": {**data["simulation"], "verify_images": 0, "energy": False}},
                       base_dir=Path(record.get("base_dir", ".")))
    result = run_experiment(cfg, show_progress=False)
    net = result.net
    u = cfg.encoding.quantized(result.dataset.test.x_norm).mean(axis=0)
    layer = net.layers[0]
    v = net.augment(u[None, :])[0, layer.rows_of(0)] * net.v_read_v
    return ir_drop_heatmap(layer.tile(0, 0, cfg.wires), v, path,
                           title=f"IR drop, layer-1 tile (0, 0) {layer.split.row_sizes[0]}x{2 * layer.split.out_sizes[0]}, "
                                 f"{cfg.wires.r_row_ohm:g}/{cfg.wires.r_col_ohm:g} ohm per segment, mean test input")


def plot_store(store, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Every plot that applies to ``store``'s records, into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = store.table()
    if not len(df) or not (df["status"] == "ok").any():
        raise SpecError(f"store {store.root} has no successful records to plot")
    written = []
    ok = df[df["status"] == "ok"]
    if _wire_column(ok) is not None:
        written.append(accuracy_vs_wire_r(ok, out / "accuracy_vs_wire_r.png"))
    if ok["layer1_h"].nunique() > 1 or ok["layer1_v"].nunique() > 1:
        written.append(partition_heatmap(ok, out / "partition_heatmap.png"))
    if ok["layer1_tile_rows"].nunique() > 1 or ok["layer1_tile_cols"].nunique() > 1:
        written.append(error_vs_array_size(ok, out / "error_vs_array_size.png"))
    records = [r for r in store.records() if r["status"] == "ok" and "config" in r]
    if records:
        worst = max(records, key=lambda r: (r["config"]["wires"]["r_row_ohm"] + r["config"]["wires"]["r_col_ohm"],
                                            json.dumps(r["point"], sort_keys=True)))
        written.append(_ir_drop_of_point(worst, out / "ir_drop_heatmap.png"))
    return written
