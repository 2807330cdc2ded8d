"""Sweep engine at scale: 25 points (5 wire-R values x 5 partition plans), each 10,000 native
inferences of a 400x120x84x10 network, on Dask LocalClusters of 1 and 2 workers side by side.

    python benchmarks/bench_sweep.py            # the issue #5 target
    python benchmarks/bench_sweep.py --quick    # 100x30x21x10, 1,000 images

Random weights and inputs (seeded per point), so the time is the engine plus the native
solver, not training. Prints wall time for each cluster size and the parallel efficiency
T(1 worker) / (2 x T(2 workers)).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SIZES = {"full": ((400, 120, 84, 10), 10_000), "quick": ((100, 30, 21, 10), 1_000)}


def evaluate_random(data, base_dir):
    """A sweep point: a seeded random MLP mapped with the point's wires and partitions; native inference."""
    import numpy as np

    from pyims.experiment.config import parse_config
    from pyims.inference import NativeNetwork
    from pyims.mapping import map_network
    from pyims.model import MLP

    t0 = time.perf_counter()
    cfg = parse_config(data, base_dir=Path(base_dir))
    sizes, n_images = SIZES[os.environ["PYIMS_BENCH_SIZE"]]  # set before the cluster starts; workers inherit it
    rng = np.random.default_rng(0)
    mlp = MLP(weights=tuple(rng.normal(scale=1 / np.sqrt(a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(0.1 * rng.normal(size=b) for b in sizes[1:]), neuron=cfg.neuron)
    net = map_network(mlp, device=cfg.device, encoding=cfg.encoding, periphery=cfg.periphery, plan=cfg.partitions)
    u = rng.uniform(size=(n_images, sizes[0]))
    res = NativeNetwork(net, cfg.wires, energy=False, workers=1).run(u)
    ideal = net.mapped_ideal_forward(u)[-1]
    agree = float(np.mean(res.logits.argmax(1) == ideal.argmax(1)))
    return {"status": "ok", "error": None,
            "metrics": {"top1_agreement_vs_mapped_ideal": agree, "n_images": n_images},
            "provenance": {"wall_time_s": time.perf_counter() - t0, "pid": os.getpid()}}


def spec(size: str):
    from pyims.sweeps import parse_sweep

    return parse_sweep(
        {"name": f"bench-{size}",
         "experiment": {"simulation": {"verify_images": 0}},
         "axes": {
             "wires.r_row_ohm+wires.r_col_ohm": [0.5, 1.0, 2.5, 5.0, 10.0],
             "partitions": [{}, {"horizontal": [16, 8, 8], "vertical": [8, 8, 1]},
                            {"horizontal": [13, 4, 3], "vertical": [4, 3, 1]},
                            {"horizontal": [8, 4, 2], "vertical": [4, 2, 1]}, {"max_rows": 128, "max_cols": 128}],
         }},
        base_dir=Path.cwd(),
    )


def main() -> None:
    from pyims.sweeps import ResultStore
    from pyims.sweeps.run import run_sweep

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    size = "quick" if args.quick else "full"
    s = spec(size)
    os.environ["PYIMS_BENCH_SIZE"] = size
    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            summary = run_sweep(s, ResultStore(d), n_workers=workers, evaluate=evaluate_random)
            times[workers] = time.perf_counter() - t0
            assert summary.n_ran == s.n_points and not summary.n_failed
        print(f"{s.n_points} points of {SIZES[size][1]} images ({'x'.join(map(str, SIZES[size][0]))}), "
              f"{workers} worker(s): {times[workers]:.1f} s", flush=True)
    print(f"parallel efficiency on 2 workers: {times[1] / (2 * times[2]):.2f}")


if __name__ == "__main__":
    main()
