"""Read noise per MVM on the LeNet with exact wires (issue #24's target: <= 5x the noiseless run).

    .venv/bin/python benchmarks/read_noise.py                       # all 10,000 Fashion-MNIST test images
    .venv/bin/python benchmarks/read_noise.py --images 1000
    .venv/bin/python benchmarks/read_noise.py --images 1000 --only noisy      # one run (for whole-process timers)
    .venv/bin/python benchmarks/read_noise.py --images 500 --check 2          # + the method's error on 2 images
    .venv/bin/python benchmarks/read_noise.py --floor 2000                    # + what two parts alone cost

The committed LeNet (examples/cnn/lenet_fashion.onnx) on 128-cell tiles, 2 ohm per wire segment, tiled
co-simulation, no ADC, PCM one hour after programming (programming noise and drift drawn once): side by side
in one process, the noiseless run (``read_noise_scale_ratio=0``: the same programmed and drifted cells, every
read at their mean) and the run where every input vector -- every output position of a convolution -- reads
its own draw (``pyims.inference.read_noise``, default method). Each is timed whole: mapping, tile build (with
the read-noise sensitivities), all images. Prints times, per-image costs, the ratio, its extrapolation to 10,000
images (build + images x per-image cost) and the accuracies. ``--check N``: the default method against exact
per-vector sparse solves on N images, every crossbar layer (max error / max noise-induced deviation).
``--floor N``: on N images, what two unavoidable parts of the noisy run cost alone, in the same image blocks and
threads as the run: the draws (one normal per cell per vector, ``pyims.inference.read_noise.layer_draws``) and the
noiseless cell voltages ``v @ D`` (one product per tile and block); their sum, extrapolated to 10,000 images and
added to the noisy run's map+build, divided by the noiseless run, is a lower bound on the ratio this machine can give.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import pyims  # noqa: E402
from pyims.data import load_dataset  # noqa: E402
from pyims.devices.pcm import PCM  # noqa: E402
from pyims.inference import NativeNetwork  # noqa: E402
from pyims.inference.native import vectors_per_image  # noqa: E402
from pyims.inference.read_noise import ReadNoise, ReadNoiseOptions  # noqa: E402
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


def floor(net, x: np.ndarray, options: ReadNoiseOptions) -> tuple[float, float]:
    """``(draws, products)``: wall seconds per image of the draws alone and of the cell voltages ``v @ D`` alone, on
    the images ``x``, in the image blocks and threads of ``LayerReadNoise.deltas``."""
    noise = ReadNoise(net, options)
    per_image = vectors_per_image(net, x[:1])
    n = x.shape[0]
    jobs = []  # (layer, first image, images): every block of every layer
    for k, layer in noise.layers.items():
        block = layer.block_images(per_image[k])
        jobs += [(layer, a0, min(block, n - a0)) for a0 in range(0, n, block)]
    rng = np.random.default_rng(0)
    inputs = {id(t): rng.random((max(layer.block_images(per_image[k]) * per_image[k], 1), t.drop.shape[0]),
                                dtype=np.float32) for k, layer in noise.layers.items() for t in layer.tiles}

    def draws(job) -> None:
        layer, a0, count = job
        layer.draws(np.arange(a0, a0 + count), per_image[layer.k])

    def products(job) -> None:
        layer, a0, count = job
        for t in layer.tiles:
            np.matmul(inputs[id(t)][: count * per_image[layer.k]], t.drop)

    out = []
    for part in (draws, products):
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=options.n_threads) as pool:
            list(pool.map(part, jobs))
        out.append((time.perf_counter() - t0) / n)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=FULL_SET)
    ap.add_argument("--only", choices=("noisy", "noiseless"), default=None, help="one run only")
    ap.add_argument("--seed", type=int, default=0, help="the device's seed (programming, drift, read draws)")
    ap.add_argument("--threads", type=int, default=None, help="read-noise threads (default: the machine's cores, <= 4)")
    ap.add_argument("--check", type=int, default=0, help="images to hold against exact per-vector solves")
    ap.add_argument("--floor", type=int, default=0, help="images on which to time the draws and v @ D alone")
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
    if args.floor:
        net = map_network(model, hardware(True, args.seed))
        t_draw, t_prod = floor(net, x[: args.floor], options)
        print(f"  alone, on {min(args.floor, n)} images, {options.n_threads} thread(s): the draws {1e3 * t_draw:.3f} ms/image, "
              f"v @ D {1e3 * t_prod:.3f} ms/image")
        if len(rows) == 2:
            bound = (rows["noisy"][1] + FULL_SET * (t_draw + t_prod)) / (rows["noiseless"][1] + FULL_SET * (
                rows["noiseless"][0] - rows["noiseless"][1]) / n)
            print(f"  lower bound on the ratio at {FULL_SET} images (noisy map+build + those two alone, over the "
                  f"noiseless run): {bound:.2f}x")
    if args.check:
        errs = check(model, x[: args.check], args.seed)
        print(f"  default method vs exact per-vector solves ({args.check} images), max error / max noise-induced "
              f"deviation per crossbar layer: {', '.join(f'{e:.1e}' for e in errs)}")


if __name__ == "__main__":
    main()
