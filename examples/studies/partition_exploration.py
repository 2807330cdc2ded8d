"""Study 2 — partition-size exploration, two ways:

* ``--study counts`` (default): accuracy over horizontal x vertical partition counts of the first
  layer of the digits network (64x32x10), at a wire resistance that hurts an unpartitioned array.
* ``--study sizes``: how large can a crossbar be? The digits resized to 31x33 pixels (1,023 inputs
  + the bias row = 1,024 rows) into 512 hidden neurons (1,024 columns: G+ and G-): layer 1 is one
  1024x1024 array, split into square tiles of at most 128 .. 1024 cells a side; accuracy and the
  layer-1 pre-activation error against the tile size, at each wire resistance.

    .venv/bin/python examples/studies/partition_exploration.py                  # counts, 4 x 3 plans
    .venv/bin/python examples/studies/partition_exploration.py --study sizes    # 128 .. 1024, ~4 min
    .venv/bin/python examples/studies/partition_exploration.py --serial --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyims.experiment.ir_drop import store_ir_drop
from pyims.plots import plot_store
from pyims.sweeps import ResultStore, parse_sweep
from pyims.sweeps.run import run_sweep

HERE = Path(__file__).resolve().parent

#: Square tile sides of the array-size study: 1024x1024 is one unpartitioned layer-1 array.
TILE_SIDES = (128, 256, 512, 1024)


def sweep_spec(quick: bool, r_wire_ohm: float):
    """Horizontal x vertical partition counts of layer 1 (digits, 64x32x10)."""
    hs = [1, 4] if quick else [1, 2, 4, 8]
    vs = [1, 2] if quick else [1, 2, 4]
    plans = [{"horizontal": [h, 1], "vertical": [v, 1]} for h in hs for v in vs]
    return parse_sweep(
        {
            "name": "partition-exploration",
            "base": "../digits_basic.toml",
            "experiment": {"train": {"hidden": [32], "epochs": 10 if quick else 30},
                           "wires": {"r_row_ohm": r_wire_ohm, "r_col_ohm": r_wire_ohm},
                           "simulation": {"verify_images": 0}},
            "axes": {"partitions": plans},
        },
        base_dir=HERE,
    )


def size_sweep_spec(quick: bool, r_wires_ohm: list[float], sides: tuple[int, ...] = TILE_SIDES):
    """Layer-1 tile side 128 .. 1024 (one 1024x1024 array, split into square tiles) x wire resistance."""
    return parse_sweep(
        {
            "name": "array-size-exploration",
            "base": "../digits_basic.toml",
            "experiment": {"dataset": {"resize": [31, 33], "max_test": 200 if quick else 450},
                           "train": {"hidden": [512], "epochs": 5 if quick else 20},
                           "simulation": {"verify_images": 0}},
            "axes": {"partitions": [{"max_rows": s, "max_cols": s} for s in sides],
                     "wires.r_row_ohm+wires.r_col_ohm": list(r_wires_ohm)},
        },
        base_dir=HERE,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", choices=("counts", "sizes"), default="counts")
    ap.add_argument("--store", default=None, help="result store (default: pyims-sweeps/<study name>[-quick])")
    ap.add_argument("--r-wire-ohm", type=float, nargs="+", default=None,
                    help="wire resistance per segment (counts: one value, default 50; sizes: default 1 2.5)")
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.study == "counts":
        spec = sweep_spec(args.quick, (args.r_wire_ohm or [50.0])[0])
        columns = ["partition_plan", "layer1_tile_rows", "layer1_tile_cols", "accuracy_analog", "layer1_relative_rmse"]
    else:
        spec = size_sweep_spec(args.quick, args.r_wire_ohm or [1.0, 2.5])
        columns = ["wires.r_row_ohm+wires.r_col_ohm", "layer1_tile_rows", "layer1_tile_cols", "accuracy_digital", "accuracy_analog",
                   "layer1_relative_rmse", "provenance.native_build_s"]
    store = ResultStore(args.store or f"pyims-sweeps/{spec.name}" + ("-quick" if args.quick else ""))
    summary = run_sweep(spec, store, serial=args.serial, n_workers=args.workers)
    table = store.table()
    print(table[[c for c in columns if c in table.columns]].to_string(index=False))
    print(f"{summary.n_ran} ran, {summary.n_skipped} already stored, {summary.wall_time_s:.1f} s")
    for path in plot_store(store, store.root / "plots", ir_drop=store_ir_drop(store)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
