"""ngspice verification as Dask batches: 1 local worker vs 2, side by side in one run (issue #16).

    .venv/bin/python benchmarks/bench_verify.py              # 400x120x84x10, 16/8/8 x 8/8/1, 32 images
    .venv/bin/python benchmarks/bench_verify.py --quick      # 100x30x21x10, 16 images

Random weights and inputs, 2.5 ohm per wire segment, sigmoid neurons, fully-analog mode. The
same images, in batches of ``--batch`` images, run on a fresh LocalCluster of 1 and then of 2
worker processes, each into an empty batch store (so nothing is resumed). Prints the wall times,
the speed-up and the parallel efficiency ``t1 / (2 t2)``, and checks both runs agree.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pyims.inference.spice_batches import SpiceCluster, run_spice_batches  # noqa: E402
from pyims.mapping import map_network  # noqa: E402
from pyims.model import MLP, NeuronSpec  # noqa: E402
from pyims.spec import PartitionPlan, WireParasitics  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    args = ap.parse_args()
    sizes = (100, 30, 21, 10) if args.quick else (400, 120, 84, 10)
    n = args.images or (16 if args.quick else 32)
    batch = args.batch or (4 if args.quick else 8)
    rng = np.random.default_rng(0)
    mlp = MLP(weights=tuple(rng.normal(scale=1 / np.sqrt(a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(0.1 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind="sigmoid"))
    net = map_network(mlp, plan=PartitionPlan(horizontal=(16, 8, 8), vertical=(8, 8, 1)))
    wires = WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5)
    u = np.random.default_rng(1).uniform(size=(n, sizes[0]))
    index = np.arange(n)
    print(f"network {'x'.join(map(str, sizes))}, 16/8/8 x 8/8/1, {n} images in batches of {batch}, "
          f"{os.cpu_count()} cores")
    times, results = {}, {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            cluster = SpiceCluster(store_dir=Path(tmp), n_workers=workers, batch_size=batch)
            t0 = time.perf_counter()
            results[workers], _ = run_spice_batches(net, wires, u, index, mode="analog", cluster=cluster, run_key="bench")
            times[workers] = time.perf_counter() - t0
        print(f"  {workers} worker(s): {times[workers]:.1f} s ({times[workers] / n:.2f} s per image, cluster start included)",
              flush=True)
    diff = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(results[1].pre_norm, results[2].pre_norm))
    print(f"speed-up {times[1] / times[2]:.2f}x; parallel efficiency t1 / (2 t2) = {times[1] / (2 * times[2]):.2f}; "
          f"1 vs 2 workers max rel diff {diff:.1e}")


if __name__ == "__main__":
    main()
