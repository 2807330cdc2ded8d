"""Tile transients, native vs ngspice side by side: agreement and wall time per step size.

    python benchmarks/bench_transient.py            # 8x8, 16x12 (no driver), 32x32, 64x64
    python benchmarks/bench_transient.py --quick    # 8x8 and 16x12

Every row steps (10 ps delay, 20 ps rise) into a tile with R and C on every wire segment;
400 ps window. Agreement: max |native - ngspice| / max |ngspice| on the grid.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pyims.runners.transient import native_tile_transient, ngspice_tile_transient  # noqa: E402
from pyims.spec import Stimulus, TileSpec, TransientSpec, WireParasitics  # noqa: E402

CASES = {
    "8x8": ((8, 8), WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=50.0, c_row_f=2e-15, c_col_f=3e-15)),
    "16x12 no driver": ((16, 12), WireParasitics(r_row_ohm=20.0, r_col_ohm=10.0, c_row_f=5e-15, c_col_f=5e-15)),
    "32x32": ((32, 32), WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5, r_driver_ohm=1000.0, r_sense_ohm=10.0, c_row_f=1e-14, c_col_f=1e-14)),
    "64x64": ((64, 64), WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5, r_driver_ohm=1000.0, r_sense_ohm=10.0, c_row_f=1e-14, c_col_f=1e-14)),
}


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    names = list(CASES)[:2] if args.quick else list(CASES)
    print(f"{'tile':<16} {'step s':>8} {'native s':>9} {'ngspice s':>10} {'speed-up':>9} {'i_col':>8} {'i_src':>8} {'v node':>8} {'energy':>8}")
    for name in names:
        (m, n), wires = CASES[name]
        rng = np.random.default_rng(0)
        tile = TileSpec(g_s=rng.uniform(1e-6, 1e-4, size=(m, n)), wires=wires)
        stim = Stimulus.step(rng.uniform(0.0, 0.2, size=m), t_rise_s=2e-11, t_delay_s=1e-11)
        probes = (("row", 0, n - 1), ("col", m - 1, 0))
        for h in (1e-12, 5e-13):
            spec = TransientSpec(t_stop_s=4e-10, t_step_s=h)
            t0 = time.perf_counter()
            a = native_tile_transient(tile, stim, spec, probes=probes)
            t1 = time.perf_counter()
            b = ngspice_tile_transient(tile, stim, spec, probes=probes)
            t2 = time.perf_counter()
            e = abs(a.energy_j() - b.energy_j()) / abs(b.energy_j())
            print(f"{name:<16} {h:>8.0e} {t1 - t0:>9.2f} {t2 - t1:>10.2f} {(t2 - t1) / (t1 - t0):>8.1f}x "
                  f"{rel(a.i_col_a, b.i_col_a):>8.1e} {rel(a.i_src_a, b.i_src_a):>8.1e} {rel(a.v_probe_v, b.v_probe_v):>8.1e} {e:>8.1e}",
                  flush=True)


if __name__ == "__main__":
    main()
