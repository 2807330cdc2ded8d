"""Device draws on the 10k-image LeNet with exact wire resistance (issue #24's first target: <= 2 minutes).

    .venv/bin/python benchmarks/bench_devices.py                 # all 10,000 Fashion-MNIST test images
    .venv/bin/python benchmarks/bench_devices.py --images 2000 --draws 3

The committed LeNet (examples/cnn/lenet_fashion.onnx) on 128-cell tiles, 2 ohm per wire segment,
tiled co-simulation, no ADC. Side by side in one run: the ideal linear cells (one mapping, one
tile build), then ``--draws`` draws of PCM one hour after programming with global drift
compensation and no read noise (programming noise, drift exponents and stuck cells re-drawn: one
network build per draw, ``pyims.Repeat``), each draw timed with its build. Prints times, the ratio
per draw to the linear run, and the accuracies.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import pyims  # noqa: E402
from pyims.data import load_dataset  # noqa: E402
from pyims.devices.pcm import PCM  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "examples" / "cnn" / "lenet_fashion.onnx"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--draws", type=int, default=10)
    args = ap.parse_args()
    ds = load_dataset("fashion-mnist")
    x, y = ds.test.x_norm[: args.images], ds.test.y[: args.images]
    n = x.shape[0]
    model = pyims.load_model(MODEL)
    base = pyims.Hardware(wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0),
                          plan=pyims.PartitionPlan(max_rows=128, max_cols=128), topology="tiled")

    t0 = time.perf_counter()
    linear = pyims.infer(model, x, hardware=base)
    t_linear = time.perf_counter() - t0

    pcm = base.replaced(devices=PCM(t_since_program_s=3600.0, drift_compensation="global", read_noise_scale_ratio=0.0,
                                    stuck_off_ratio=0.001, stuck_on_ratio=0.001))
    times, accs = [], []
    for seed in pyims.Repeat(pyims.Dc(), n=args.draws, seed=0).seeds:
        t0 = time.perf_counter()
        out = pyims.infer(model, x, hardware=pcm.redrawn(seed))
        times.append(time.perf_counter() - t0)
        accs.append(float(np.mean(out.argmax(1) == y)))

    total = sum(times)
    print(f"LeNet, 128-cell tiles, 2 ohm per segment, tiled, {n} Fashion-MNIST test images, {os.cpu_count()} cores")
    print(f"  linear cells (one build)            {t_linear:7.1f} s   accuracy {100 * np.mean(linear.argmax(1) == y):.2f} %")
    print(f"  PCM 1 h, global compensation, {args.draws} draws {total:7.1f} s   "
          f"({total / args.draws:.1f} s a draw, {total / args.draws / t_linear:.2f}x the linear run)")
    print(f"    accuracy per draw: {', '.join(f'{100 * a:.2f}' for a in accs)} %  (mean {100 * np.mean(accs):.2f} %)")
    verdict = "meets" if total <= 120.0 else "misses"
    print(f"target: {args.draws} draws with exact wires <= 120 s: {verdict} it")


if __name__ == "__main__":
    main()
