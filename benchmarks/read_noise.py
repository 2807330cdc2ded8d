"""Read noise per MVM on the LeNet with exact wires (issue #24's target: <= 5x the noiseless run).

    .venv/bin/python benchmarks/read_noise.py                       # all 10,000 Fashion-MNIST test images
    .venv/bin/python benchmarks/read_noise.py --images 1000
    .venv/bin/python benchmarks/read_noise.py --images 1000 --only noisy      # one run (for whole-process timers)
    .venv/bin/python benchmarks/read_noise.py --images 500 --check 2          # + the method's error on 2 images

The committed LeNet (examples/cnn/lenet_fashion.onnx) on 128-cell tiles, 2 ohm per wire segment, tiled
co-simulation, no ADC, PCM one hour after programming (programming noise and drift drawn once): side by side
in one process, the noiseless run (``read_noise_scale_ratio=0``: the same programmed and drifted cells, every
read at their mean) and the run where every input vector -- every output position of a convolution -- reads
its own draw (``pyims.inference.read_noise``, default method). Each is timed whole: mapping, tile build (with
the read-noise sensitivities), all images. Prints times, per-image costs, the ratio, its extrapolation to 10,000
images (build + images x per-image cost) and the accuracies. ``--check N``: the default method against exact
per-vector sparse solves on N images, every crossbar layer (max error / max noise-induced deviation).
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
from pyims.inference import NativeNetwork  # noqa: E402
from pyims.inference.read_noise import ReadNoiseOptions  # noqa: E402
from pyims.mapping import map_network  # noqa: E402
from pyims.spec.simulator import NativeOptions  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "examples" / "cnn" / "lenet_fashion.onnx"
TARGET_RATIO = 5.0
FULL_SET = 10_000


def hardware(read_noise: bool, seed: int) -> pyims.Hardware:
    device = PCM(t_since_program_s=3600.0, seed=seed, read_noise_scale_ratio=1.0 if read_noise else 0.0)
    return pyims.Hardware(devices=device, wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0),
                          plan=pyims.PartitionPlan(max_rows=128, max_cols=128), topology="tiled")


def timed_run(model, x: np.ndarray, read_noise: bool, seed: int, options: ReadNoiseOptions | None):
    """``(seconds in all, seconds to map and build, result, network)``."""
    t0 = time.perf_counter()
    hw = hardware(read_noise, seed)
    net = map_network(model, hw)
    native = NativeNetwork(net, options=NativeOptions(), read_noise=options)
    t_build = time.perf_counter() - t0
    res = native.run(net.check_inputs(hw.encoding.quantized(x)), keep_pre=False)
    return time.perf_counter() - t0, t_build, res, net


def check(model, x: np.ndarray, seed: int) -> list[float]:
    """Per crossbar layer: max |default - exact| / max |exact - noiseless| over the images ``x``."""
    pres = []
    for read_noise, opts in ((True, ReadNoiseOptions()), (True, ReadNoiseOptions(method="exact")), (False, None)):
        hw = hardware(read_noise, seed)
        net = map_network(model, hw)
        pres.append(NativeNetwork(net, options=NativeOptions(), read_noise=opts).run(
            net.check_inputs(hw.encoding.quantized(x))).pre_norm)
    return [float(np.abs(a - e).max() / np.abs(e - q).max()) for a, e, q in zip(*pres)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=FULL_SET)
    ap.add_argument("--only", choices=("noisy", "noiseless"), default=None, help="one run only")
    ap.add_argument("--seed", type=int, default=0, help="the device's seed (programming, drift, read draws)")
    ap.add_argument("--threads", type=int, default=None, help="read-noise threads (default: the machine's cores, <= 4)")
    ap.add_argument("--check", type=int, default=0, help="images to hold against exact per-vector solves")
    args = ap.parse_args()
    ds = load_dataset("fashion-mnist")
    x, y = ds.test.x_norm[: args.images], ds.test.y[: args.images]
    n = x.shape[0]
    model = pyims.load_model(MODEL)
    options = ReadNoiseOptions(threads=args.threads)
    rows = {}
    for label, noisy in (("noiseless", False), ("noisy", True)):
        if args.only not in (None, label):
            continue
        total, build, res, net = timed_run(model, x, noisy, args.seed, options if noisy else None)
        rows[label] = (total, build, float(np.mean(res.logits.argmax(1) == y)))
    print(f"LeNet ({net.describe_plan()}, {net.n_tiles} tiles), 128-cell tiles, 2 ohm per segment, tiled, PCM 1 h after "
          f"programming (seed {args.seed}), {n} Fashion-MNIST test images, {os.cpu_count()} cores, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"  {'run':<34} {'total':>8} {'map+build':>10} {'per image':>10} {'accuracy':>9}")
    for label, (total, build, acc) in rows.items():
        what = "read noise per MVM (2nd order)" if label == "noisy" else "noiseless reads"
        print(f"  {what:<34} {total:>7.1f}s {build:>9.2f}s {1e3 * (total - build) / n:>8.3f}ms {100 * acc:>8.2f}%")
    if len(rows) == 2:
        (tq, bq, _), (tn, bn, _) = rows["noiseless"], rows["noisy"]
        ratio = tn / tq
        full = (bn + FULL_SET * (tn - bn) / n) / (bq + FULL_SET * (tq - bq) / n)
        print(f"  ratio noisy / noiseless: {ratio:.2f}x here; at {FULL_SET} images (build + images x per-image cost): "
              f"{full:.2f}x")
        verdict = "meets" if full <= TARGET_RATIO else "misses"
        print(f"target: read noise per MVM <= {TARGET_RATIO:g}x the noiseless run (LeNet, 10k images, exact wires): "
              f"{verdict} it on this machine")
    if args.check:
        errs = check(model, x[: args.check], args.seed)
        print(f"  default method vs exact per-vector solves ({args.check} images), max error / max noise-induced "
              f"deviation per crossbar layer: {', '.join(f'{e:.1e}' for e in errs)}")


if __name__ == "__main__":
    main()
