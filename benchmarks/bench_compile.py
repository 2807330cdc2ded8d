"""Compile once, infer many (issue #26): the LeNet on 128-cell tiles with 2 ohm wires and an 8-bit ADC,
10 and 1,000 images a call: ``pyims.infer`` (maps and factors on every call) against one
``pyims.compile`` and calls of the compiled model, side by side in one run.

    .venv/bin/python benchmarks/bench_compile.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import pyims  # noqa: E402
from pyims.data import load_dataset  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "examples" / "cnn" / "lenet_fashion.onnx"


def main() -> None:
    ds = load_dataset("fashion-mnist", max_test=1000)
    x = ds.test.x_norm
    model = pyims.load_model(MODEL)
    hw = pyims.calibrate(model, x[:256], pyims.Hardware(
        wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0), plan=pyims.PartitionPlan(max_rows=128, max_cols=128),
        adc=pyims.Adc(bits=8), topology="tiled"))
    t0 = time.perf_counter()
    analog = pyims.compile(model, hw)
    t_build = time.perf_counter() - t0
    print(f"LeNet, 14 tiles, 2 ohm, 8-bit ADC; pyims.compile: {t_build:.2f} s once")
    print(f"  {'images a call':>13} {'pyims.infer':>12} {'compiled call':>14} {'ratio':>6}")
    for n in (10, 1000):
        t0 = time.perf_counter()
        a = pyims.infer(model, x[:n], hardware=hw)
        t_infer = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = analog(x[:n], image_offset=0)
        t_call = time.perf_counter() - t0
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(a).max())
        print(f"  {n:>13} {t_infer:>11.2f}s {t_call:>13.3f}s {t_infer / t_call:>5.0f}x")


if __name__ == "__main__":
    main()
