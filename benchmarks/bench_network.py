"""Network inference speed, native (old and new port path) vs ngspice, side by side in one run.

    python benchmarks/bench_network.py            # 400x120x84x10, 10k images natively, ngspice sample
    python benchmarks/bench_network.py --quick    # smaller, for a smoke run

Random weights and inputs (the targets allow it); wire resistance on every segment. Prints
for each partition plan, for each port method ("solves": SuperLU and one solve per port, the
old path; "schur": one CHOLMOD factorization for every tile; "auto": the default, "schur" for
tiles of 2,500 nodes and more, "solves" below), with and without the energy figure and with 1 or
2 worker processes: native build time (tile factorisation and port matrices), native inference
time for all images, and the total; then, per plan, the old total over the default's for the
same settings and for each method's best. ngspice fully-analog seconds
per image (batched, 2 ngspice processes) with the native-vs-ngspice agreement on those images
is measured once per plan (issue #3 targets).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pyims.inference import NativeNetwork, SpiceNetwork  # noqa: E402
from pyims.runners.factor import cholmod_available  # noqa: E402
from pyims.mapping import map_network  # noqa: E402
from pyims.model import MLP, NeuronSpec  # noqa: E402
from pyims.spec import PartitionPlan, WireParasitics  # noqa: E402


def _mlp(sizes, seed=0):
    rng = np.random.default_rng(seed)
    ws = tuple(rng.normal(scale=1 / np.sqrt(a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:]))
    bs = tuple(0.1 * rng.normal(size=b) for b in sizes[1:])
    return MLP(weights=ws, biases=bs, neuron=NeuronSpec(kind="sigmoid"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--spice-images", type=int, default=None, help="images per plan through ngspice")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    sizes = (100, 30, 21, 10) if args.quick else (400, 120, 84, 10)
    n_images = args.images or (1000 if args.quick else 10_000)
    plans = {
        "1/1/1 x 1/1/1": PartitionPlan(),
        "16/8/8 x 8/8/1": PartitionPlan(horizontal=(16, 8, 8), vertical=(8, 8, 1)),
        "13/4/3 x 4/3/1": PartitionPlan(horizontal=(13, 4, 3), vertical=(4, 3, 1)),
    }
    wires = WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5, r_driver_ohm=10.0, r_sense_ohm=10.0)
    mlp = _mlp(sizes)
    u = np.random.default_rng(1).uniform(size=(n_images, sizes[0]))
    rows = []
    print(f"network {'x'.join(map(str, sizes))}, {n_images} images natively, wire R 2.5 ohm/segment, drivers/sense 10 ohm")
    methods = ("solves", "schur", "auto") if cholmod_available() else ("solves",)
    print(f"{'plan':<16} {'method':>7} {'energy':>6} {'procs':>5} {'build s':>8} {'infer s':>8} {'native total s':>15} "
          f"{'ngspice s/img':>14} {'K':>3} {'max rel diff':>13}")
    for label, plan in plans.items():
        net = map_network(mlp, plan=plan)
        totals: dict = {}
        for method, (energy, workers) in itertools.product(methods, ((False, 1), (False, 2), (True, 1), (True, 2))):
            t0 = time.perf_counter()
            native = NativeNetwork(net, wires, energy=energy, workers=workers, port_method=method)
            build = time.perf_counter() - t0
            res = native.run(u)
            total = time.perf_counter() - t0
            totals[(method, energy, workers)] = total
            row = {"plan": label, "port_method": method, "energy": energy, "native_workers": workers, "build_s": build,
                   "infer_s": res.wall_time_s, "native_total_s": total}
            if energy and workers == 2 and method == methods[-1]:
                k = args.spice_images or (8 if label.startswith("1/1") else 48)
                spice = SpiceNetwork(net, wires, workers=2).run(u[:k])
                diff = max(float(np.max(np.abs(a - b[:k])) / np.max(np.abs(b[:k]))) for a, b in zip(spice.pre_norm, res.pre_norm))
                row.update(ngspice_s_per_image=spice.wall_time_s / k, ngspice_images=k, max_rel_diff=diff,
                           ngspice_version=spice.ngspice_version)
            rows.append(row)
            sp = (f"{row['ngspice_s_per_image']:>14.2f} {row['ngspice_images']:>3} {row['max_rel_diff']:>13.1e}"
                  if "ngspice_images" in row else f"{'':>14} {'':>3} {'':>13}")
            print(f"{label:<16} {method:>7} {'yes' if energy else 'no':>6} {workers:>5} {build:>8.2f} {res.wall_time_s:>8.2f} "
                  f"{total:>15.2f} {sp}", flush=True)
        if len(methods) > 1:
            same = ", ".join(f"{'energy' if e else 'no energy'}/{w} proc: {totals[('solves', e, w)] / totals[('auto', e, w)]:.1f}x"
                             for e in (False, True) for w in (1, 2))
            best = {m: min(v for k, v in totals.items() if k[0] == m) for m in methods}
            print(f"{'':<16} old (solves) ÷ new (auto) total -- {same}; best of each: {best['solves']:.2f} s ÷ "
                  f"{best['auto']:.2f} s = {best['solves'] / best['auto']:.1f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sizes": sizes, "n_images": n_images, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
