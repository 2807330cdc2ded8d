"""Study 2 — partition-size exploration: accuracy over horizontal x vertical partition counts
of the first layer, at a wire resistance that hurts an unpartitioned array.

    .venv/bin/python examples/studies/partition_exploration.py           # digits, 4 x 3 plans
    .venv/bin/python examples/studies/partition_exploration.py --serial --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyims.plots import plot_store
from pyims.sweeps import ResultStore, parse_sweep
from pyims.sweeps.run import run_sweep

HERE = Path(__file__).resolve().parent


def sweep_spec(quick: bool, r_wire_ohm: float):
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default="pyims-sweeps/partition-exploration")
    ap.add_argument("--r-wire-ohm", type=float, default=50.0)
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    store = ResultStore(args.store)
    summary = run_sweep(sweep_spec(args.quick, args.r_wire_ohm), store, serial=args.serial, n_workers=args.workers)
    table = store.table()
    print(table[["partition_plan", "layer1_tile_rows", "layer1_tile_cols", "accuracy_analog", "layer1_relative_rmse"]].to_string(index=False))
    print(f"{summary.n_ran} ran, {summary.n_skipped} already stored, {summary.wall_time_s:.1f} s")
    for path in plot_store(store, Path(args.store) / "plots"):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
