"""Accuracy at one read time under wire R and C for 10k images through 400x120x84x10 (issue #15: <= 5 min).

    .venv/bin/python benchmarks/bench_read_time.py                   # 16/8/8 x 8/8/1 and unpartitioned
    .venv/bin/python benchmarks/bench_read_time.py --plans 16/8/8 --images 2000

IMAC-Sim's hardware (``ImacPreset``: 5/15 kohm MTJs, +-0.8 V binary inputs, difference amplifiers of
gain 30/30/10, averaged partitions, its 9 nm wire geometry) with 0.2 fF/um of wire capacitance on
every segment, a hard-sigmoid stand-in for the inverter neuron, +-1 random weights and inputs (the
time does not depend on them). Read 20 ps after a 1 ps input ramp, 0.2 ps steps (100 steps).
Side by side in one run: the native build (every layer's BDF2 kernels) and the per-image work,
and ngspice's network transient of the same circuit for ``--spice-images`` image(s).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pyims.errors import SimulationTimeout  # noqa: E402
from pyims.inference.read_time import NativeReadTime, ngspice_read_time  # noqa: E402
from pyims.model import MLP, NeuronSpec  # noqa: E402
from pyims.presets.imac import ImacPreset  # noqa: E402
from pyims.spec import PartitionPlan  # noqa: E402
from pyims.spec.analysis import ReadAt  # noqa: E402

PLANS = {"16/8/8": PartitionPlan(horizontal=(16, 8, 8), vertical=(8, 8, 1)), "unpartitioned": PartitionPlan()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--plans", nargs="+", default=list(PLANS), choices=list(PLANS))
    ap.add_argument("--spice-images", type=int, default=1)
    ap.add_argument("--c-fF-per-um", type=float, default=0.2)
    ap.add_argument("--spice-timeout-s", type=float, default=150.0)
    args = ap.parse_args()
    preset = ImacPreset()
    rng = np.random.default_rng(0)
    sizes = (400, 120, 84, 10)
    raw = MLP(weights=tuple(rng.choice([-1.0, 1.0], size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(rng.choice([-1.0, 1.0], size=b) for b in sizes[1:]),
              neuron=NeuronSpec(kind="hardsigmoid", gain_norm=12.0, inverting=True))
    mlp = preset.scale_binary(raw)
    row, col = preset.geometry()
    c_f_per_m = args.c_fF_per_um * 1e-9
    wires = dataclasses.replace(preset.wires, c_row_f=c_f_per_m * row.pitch_m, c_col_f=c_f_per_m * col.pitch_m)
    spec = ReadAt(t_read_s=2e-11, t_rise_s=1e-12, t_step_s=2e-13)
    u = rng.choice([-1.0, 1.0], size=(args.images, 400))
    print(f"400x120x84x10 on IMAC-Sim's hardware, {args.c_fF_per_um:g} fF/um ({wires.c_row_f:.3g} / {wires.c_col_f:.3g} F per "
          f"segment), read at {spec.t_read_s:g} s, {spec.n_steps} steps; {args.images} images; {os.cpu_count()} cores")
    for name in args.plans:
        net = preset.map(mlp, PLANS[name]).on(wires=wires)
        t0 = time.perf_counter()
        rt = NativeReadTime(net, spec)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = rt.run(u)
        run = time.perf_counter() - t0
        total = build + run
        t0 = time.perf_counter()
        try:
            ng = ngspice_read_time(net, spec, u[: args.spice_images], timeout_s=args.spice_timeout_s)
            per_ng = (time.perf_counter() - t0) / args.spice_images
            agree = float(np.max(np.abs(ng.logits - res.logits[: args.spice_images])) / np.max(np.abs(ng.logits)))
            spice = (f"ngspice {per_ng:6.1f} s/image ({per_ng * args.images / total:.0f}x the native total for the "
                     f"test set); max rel diff {agree:.1e}")
        except SimulationTimeout:
            spice = f"ngspice: one image did not finish in {args.spice_timeout_s:g} s (> {args.spice_timeout_s:g} s/image)"
        print(f"  {name:<14} native: build {build:6.1f} s + {args.images} images {run:6.1f} s = {total:6.1f} s "
              f"({1e3 * run / args.images:.2f} ms/image); {spice}; "
              f"{'meets' if total <= 300 else 'misses'} the 5-minute target", flush=True)


if __name__ == "__main__":
    main()
