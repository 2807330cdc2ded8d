"""The CNN study of docs/cnn.md: the LeNet-5-class Fashion-MNIST network on crossbars.

All 10,000 test images, every point natively with exact wire resistance on every tile:

* sizes: the largest tile allowed (32, 64, 128, 256 cells a side, or one array per layer) x
  the wire resistance per segment (1, 2, 5 ohm), no ADC;
* adc: ADC bits (3 .. 8, and none) on every tile output, ranges calibrated per layer, at
  128-cell tiles and 2 ohm, with converters' offsets (0.25 LSB rms) and gain errors (0.5 % rms);
* spice: one point (128-cell tiles, 2 ohm, 6-bit ADC) with images also run through ngspice,
  converters included.

    .venv/bin/python examples/cnn/lenet_study.py --out docs/cnn     # ~6 min on 2 cores

Points are stored (resumable, ``pyims-sweeps/lenet-*``); the table is printed and written to
``OUT/results.md`` with the figures (PNG + PDF).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


import numpy as np

from pyims.figures import pyplot, save_figure, wilson_interval
from pyims.sweeps import ResultStore, parse_sweep
from pyims.sweeps.run import run_sweep

HERE = Path(__file__).resolve().parent
SIDES = (32, 64, 128, 256, None)  # None: one array per layer (the largest is fc1, 401 x 240 cells)
R_WIRES_OHM = (1.0, 2.0, 5.0)
ADC_BITS = (3, 4, 5, 6, 8)


def _plan(side):
    return {} if side is None else {"max_rows": side, "max_cols": side}


def spec(name: str, axes: dict, extra: dict, quick: bool):
    """A sweep over ``axes`` of the LeNet experiment (no ADC unless ``extra`` or an axis gives one)."""
    experiment = {
        "name": name,
        "dataset": {"name": "fashion-mnist", **({"max_test": 500} if quick else {})},
        "model": {"file": "lenet_fashion.onnx"},
        "wires": {"r_row_ohm": 2.0, "r_col_ohm": 2.0},
        "partitions": {"max_rows": 128, "max_cols": 128},
        "simulation": {"mode": "tiled", "verify_images": 0},
        **extra,
    }
    return parse_sweep({"name": name, "experiment": experiment, "axes": axes}, base_dir=HERE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="lenet-study", help="folder for results.md and the figures")
    ap.add_argument("--store", default="pyims-sweeps", help="parent folder of the result stores")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--quick", action="store_true", help="500 test images (a smoke run)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "-quick" if args.quick else ""

    sizes = spec("lenet-sizes", {"partitions": [_plan(s) for s in SIDES],
                                 "wires.r_row_ohm+wires.r_col_ohm": list(R_WIRES_OHM)}, {}, args.quick)
    converter = {"offset_lsb_sigma": 0.25, "gain_error_sigma_ratio": 0.005}
    adc = spec("lenet-adc", {"adc.bits": list(ADC_BITS)}, {"adc": converter}, args.quick)
    spice = spec("lenet-spice", {"adc.bits": [6]}, {"adc": converter, "simulation": {"mode": "tiled", "verify_images": 2}},
                 args.quick)
    tables = {}
    for s in (sizes, adc, spice):
        store = ResultStore(Path(args.store) / (s.name + tag))
        summary = run_sweep(s, store, serial=args.serial, n_workers=args.workers)
        print(f"{s.name}: {summary.n_ran} ran, {summary.n_skipped} already stored, {summary.wall_time_s:.1f} s")
        tables[s.name] = store.table()
    write_results(tables, out)
    mapping_figure(out)


def _side(plan) -> str:
    """A table cell of the partitions axis (JSON text in the store) -> its tile side."""
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return "one array per layer" if not plan else f"{plan['max_rows']}"


def write_results(tables: dict, out: Path) -> None:
    t = tables["lenet-sizes"]
    n = int(t["n_test"].iloc[0])
    digital = float(t["accuracy_digital"].iloc[0])
    mapped = float(t["accuracy_mapped_ideal"].iloc[0])
    lines = [f"Fashion-MNIST test set: {n} images. Digital (float64): **{100 * digital:.2f} %**; mapped-ideal "
             f"(continuous conductances, no wires): **{100 * mapped:.2f} %**.", "",
             "| largest tile (cells a side) | partitions (h x v per layer) | tiles | 1 ohm | 2 ohm | 5 ohm |",
             "|---|---|---|---|---|---|"]
    t = t.assign(side=[_side(p) for p in t["partitions"]], r=t["wires.r_row_ohm+wires.r_col_ohm"])
    fig, ax = pyplot().subplots(figsize=(5.2, 3.4))
    order = [_side(_plan(s)) for s in SIDES]
    for side in order:
        rows = t[t.side == side].sort_values("r")
        accs = " | ".join(f"{100 * a:.2f} %" for a in rows["accuracy_analog"])
        lines.append(f"| {side} | {rows['partition_plan'].iloc[0]} | {int(rows['n_tiles'].iloc[0])} | {accs} |")
    for r in R_WIRES_OHM:
        rows = t[t.r == r].set_index("side").loc[order]
        k = rows["accuracy_analog"].to_numpy() * n
        lo, hi = wilson_interval(k, n)
        acc = rows["accuracy_analog"].to_numpy()
        ax.errorbar(range(len(order)), 100 * acc, yerr=[100 * (acc - lo), 100 * (hi - acc)], marker="o", capsize=3,
                    label=f"{r:g} ohm per segment")
    ax.axhline(100 * digital, color="k", lw=0.8, ls="--", label="digital")
    ax.set_xticks(range(len(order)), [s.replace("one array per layer", "none") for s in order])
    ax.set_xlabel("largest tile side (cells; none: one array per layer)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"LeNet on crossbars, Fashion-MNIST ({n} images)", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, out / "accuracy_vs_tile.png")

    a = tables["lenet-adc"].assign(bits=lambda d: d["adc.bits"].astype(int)).sort_values("bits")
    none = t[(t.side == "128") & (t.r == 2.0)].iloc[0]
    lines += ["", "ADC on every tile output (128-cell tiles, 2 ohm; ranges calibrated per layer on 256 images; "
              "offset 0.25 LSB rms, gain error 0.5 % rms):", "", "| ADC bits | accuracy | ties | agree w/ digital |",
              "|---|---|---|---|"]
    for label, row in [(str(b), r) for b, (_, r) in zip(a["bits"], a.iterrows())] + [("none (analog partial sums)", none)]:
        lines.append(f"| {label} | {100 * row['accuracy_analog']:.2f} % | {int(row['ties_analog'])} | "
                     f"{100 * row['top1_agreement_analog_vs_digital']:.2f} % |")
    fig, ax = pyplot().subplots(figsize=(5.2, 3.2))
    k = a["accuracy_analog"].to_numpy() * n
    lo, hi = wilson_interval(k, n)
    acc = a["accuracy_analog"].to_numpy()
    ax.errorbar(a["bits"], 100 * acc, yerr=[100 * (acc - lo), 100 * (hi - acc)], marker="o", capsize=3, label="with ADC")
    ax.axhline(100 * float(none["accuracy_analog"]), color="C1", lw=0.8, label="no ADC (analog partial sums)")
    ax.axhline(100 * digital, color="k", lw=0.8, ls="--", label="digital")
    ax.set_xlabel("ADC resolution (bits)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
    save_figure(fig, out / "accuracy_vs_adc_bits.png")

    sp = tables["lenet-spice"].iloc[0]
    lines += ["", f"ngspice check (128-cell tiles, 2 ohm, 6-bit ADC with its behavioural converters in the netlists): "
              f"{int(sp['ngspice_images'])} images, max relative difference native vs ngspice "
              f"{float(sp['ngspice_max_rel_diff']):.1e} -> {'PASS' if sp['ngspice_passed'] else 'FAIL'}; "
              f"accuracy {100 * sp['accuracy_analog']:.2f} %."]
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    print(text)
    print(f"wrote {out}/results.md, accuracy_vs_tile.png/.pdf, accuracy_vs_adc_bits.png/.pdf")


def mapping_figure(out: Path) -> None:
    """docs/cnn.md's figure: one output position's patch (im2col), conv1's array, conv2's array and its tiles."""
    import pyims
    from pyims.data import load_dataset
    from pyims.inference.infer import map_model

    model = pyims.load_model(HERE / "lenet_fashion.onnx")
    net = map_model(model, plan=pyims.PartitionPlan(max_rows=128, max_cols=128))
    img = load_dataset("fashion-mnist", max_test=10).test.x_norm[0].reshape(28, 28)
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.1, 0.8, 1.2]})
    ax = axes[0]
    ax.imshow(np.pad(img, 2), cmap="gray_r", extent=(-2.5, 29.5, 29.5, -2.5))
    y0, x0 = 9, 14  # output position (9, 14) reads input rows 7..11, columns 12..16 (pad 2)
    ax.add_patch(plt.Rectangle((x0 - 2.5, y0 - 2.5), 5, 5, fill=False, ec="C3", lw=2))
    ax.set_title("conv1: one output position reads a 5x5 patch\n(zero padding 2): one row vector of 25", fontsize=8)
    ax.grid(False)
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    for ax, l, title in ((axes[1], 0, "conv1 array: 25 patch entries + bias\nx 6 channels (G+ / G- pairs)"),
                         (axes[2], 1, "conv2 array: 6x5x5 entries + bias x 16 channels;\ntiles of <= 128 rows: 2 partial sums")):
        layer = net.layers[l]
        g = np.empty((layer.n_rows, 2 * layer.n_out))
        g[:, 0::2], g[:, 1::2] = layer.g_pos_s, layer.g_neg_s
        im = ax.imshow(1e6 * g, aspect="auto", cmap="viridis", interpolation="nearest")
        for start in layer.split.row_starts[1:]:
            ax.axhline(start - 0.5, color="w", lw=2)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("column: G+, G- of each channel (index)")
        ax.set_ylabel("row: patch entry, then bias (index)")
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.05, label="conductance (uS)")
    fig.tight_layout()
    save_figure(fig, out / "mapping.png")


if __name__ == "__main__":
    main()
