"""Study 1 — parasitic sweep: analog accuracy vs wire resistance for several partition plans.

    .venv/bin/python examples/studies/parasitic_sweep.py                 # digits, 4 x 3 points, local Dask cluster
    .venv/bin/python examples/studies/parasitic_sweep.py --serial --quick

Points already in the store are skipped, so an interrupted run resumes where it stopped.
Writes the store, a CSV of the table and the plots (pyims plot) under --store.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyims.experiment.ir_drop import store_ir_drop
from pyims.plots import plot_store
from pyims.sweeps import ResultStore, parse_sweep
from pyims.sweeps.run import run_sweep

HERE = Path(__file__).resolve().parent


def sweep_spec(quick: bool):
    r = [0.0, 20.0] if quick else [0.0, 5.0, 20.0, 50.0]
    return parse_sweep(
        {
            "name": "parasitic-sweep-study",
            "base": "../digits_basic.toml",
            "experiment": {"train": {"hidden": [32], "epochs": 10 if quick else 30},
                           "simulation": {"verify_images": 2}},
            "axes": {
                "wires.r_row_ohm+wires.r_col_ohm": r,
                "partitions": [{}, {"horizontal": [4, 1], "vertical": [2, 1]}, {"max_rows": 16, "max_cols": 16}],
            },
        },
        base_dir=HERE,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # not the example sweep's store (pyims-sweeps/parasitic-sweep): a different network, kept apart
    ap.add_argument("--store", default=None, help="result store (default: pyims-sweeps/parasitic-sweep-study[-quick])")
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    spec = sweep_spec(args.quick)
    store = ResultStore(args.store or f"pyims-sweeps/{spec.name}" + ("-quick" if args.quick else ""))
    summary = run_sweep(spec, store, serial=args.serial, n_workers=args.workers)
    table = store.table()
    print(table[["wires.r_row_ohm+wires.r_col_ohm", "partition_plan", "accuracy_digital", "accuracy_analog",
                 "layer1_relative_rmse", "ngspice_max_rel_diff"]].to_string(index=False))
    print(f"{summary.n_ran} ran, {summary.n_skipped} already stored, {summary.wall_time_s:.1f} s")
    store.export(store.root / "table.csv")
    for path in plot_store(store, store.root / "plots", ir_drop=store_ir_drop(store)):
        print(f"wrote {path}")


if __name__ == "__main__":  # LocalCluster needs the guard
    main()
