"""The device study of docs/devices.md: PCM drift and compensation, stuck cells, ADC INL, wires x drift.

Two networks on the same 10,000 Fashion-MNIST test images, every point natively with exact wire
resistance (2 ohm per segment) on 128-cell tiles, tiled, an 8-bit ADC on every tile output:

* the committed LeNet (examples/cnn/lenet_fashion.onnx);
* the reference study's 400x120x84x10 MLP shape, trained here on Fashion-MNIST at 20x20 (numpy
  trainer, cached in OUT/mlp_400x120x84x10.npz).

Sections (``--sections``):

* ``time``: PCM (``pyims.devices.PCM()``, the published model) read 1 s, 1 h, 1 d, 1 month, 1 year and
  10 years after programming, with no, global and per-column drift compensation, ``--draws`` draws each
  (programming noise, drift exponents and per-read noise re-drawn; the converters' ranges calibrated once
  per draw right after programming, as a chip would, and kept);
* ``stuck``: ideal linear cells with a fraction of cells stuck at g_off or at g_on;
* ``inl``: the ADC's integral non-linearity (a seeded INL per converter), linear cells;
* ``wires``: wire resistance x drift: PCM at 1 s and 1 year with per-column compensation, 0 (no wires),
  2 and 5 ohm per segment, the same draws at every resistance (paired), the output error the wires cause
  and the accuracy.

    .venv/bin/python examples/studies/devices_study.py --out docs/devices       # the full study
    .venv/bin/python examples/studies/devices_study.py --out /tmp/q --images 500 --draws 2   # a quick look

Every point is stored as it finishes (``OUT/points/*.json``): an interrupted run resumes. The tables
are printed and written to ``OUT/results.md`` with the figures (PNG + PDF).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import pyims  # noqa: E402
from pyims.data import load_dataset  # noqa: E402
from pyims.devices import LinearDevice  # noqa: E402
from pyims.devices.pcm import PCM  # noqa: E402
from pyims.fileio import atomic_write_bytes  # noqa: E402
from pyims.model import NeuronSpec, TrainSpec, load_npz_weights, save_npz_weights, train_mlp  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "examples" / "cnn" / "lenet_fashion.onnx"
TIMES_S = {"1 s": 1.0, "1 h": 3600.0, "1 d": 86400.0, "1 month": 2.592e6, "1 year": 3.1536e7, "10 years": 3.1536e8}
COMPENSATIONS = ("none", "global", "per_column")
STUCK = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05)
INL_LSB = (0.0, 0.25, 0.5, 1.0, 2.0)
WIRES_OHM = (0.0, 2.0, 5.0)


def _hardware(r_ohm: float = 2.0, devices=None, adc: pyims.Adc | None = None) -> pyims.Hardware:
    return pyims.Hardware(devices=devices if devices is not None else pyims.DeviceSpec(),
                          wires=pyims.WireParasitics(r_row_ohm=r_ohm, r_col_ohm=r_ohm),
                          plan=pyims.PartitionPlan(max_rows=128, max_cols=128),
                          adc=adc if adc is not None else pyims.Adc(bits=8), topology="tiled")


class Study:
    def __init__(self, out: Path, images: int, draws: int) -> None:
        self.out, self.draws = out, draws
        (out / "points").mkdir(parents=True, exist_ok=True)
        fashion = load_dataset("fashion-mnist", max_test=images)
        small = load_dataset("fashion-mnist", resize=(20, 20), max_test=images)
        self.y = fashion.test.y
        self.models = {"lenet": (pyims.load_model(LENET), fashion.test.x_norm),
                       "mlp": (self._mlp(small), small.test.x_norm)}
        self.seeds = pyims.Repeat(pyims.Dc(), n=draws, seed=0).seeds
        self.n_images = int(self.y.shape[0])

    def _mlp(self, ds) -> pyims.MLP:
        path = self.out / "mlp_400x120x84x10.npz"
        neuron = NeuronSpec(kind="relu")
        if path.exists():
            return load_npz_weights(path, neuron)
        t0 = time.perf_counter()
        mlp = train_mlp(ds.train.x_norm, ds.train.y, n_classes=10, neuron=neuron,
                        spec=TrainSpec(hidden=(120, 84), epochs=10, batch_size=128, seed=0))
        save_npz_weights(mlp, path)
        print(f"trained 400x120x84x10 on {ds.train.x_norm.shape[0]} images in {time.perf_counter() - t0:.0f} s")
        return mlp

    # ------------------------------------------------------------ one stored point
    def point(self, name: str, compute) -> dict:
        path = self.out / "points" / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
        t0 = time.perf_counter()
        result = compute()
        result["seconds"] = time.perf_counter() - t0
        atomic_write_bytes(path, json.dumps(result, sort_keys=True).encode())
        return result

    def accuracy(self, net: str, hw: pyims.Hardware, *, keep: bool = False) -> dict:
        model, x = self.models[net]
        out = pyims.infer(model, x, hardware=hw)
        res = {"accuracy": float(np.mean(out.argmax(1) == self.y))}
        if keep:
            res["logits"] = out.tolist()
        return res

    def calibrated(self, net: str, hw: pyims.Hardware) -> pyims.Hardware:
        """``hw`` with the converters' ranges calibrated right after programming (t = 0), then kept."""
        model, x = self.models[net]
        t0 = replace(hw.device, t_since_program_s=0.0, drift_compensation="none")
        return hw.replaced(adc=pyims.calibrate(model, x[:256], hw.replaced(devices=t0)).adc)

    # ------------------------------------------------------------ sections
    def time_section(self) -> dict:
        out = {}
        for net in self.models:
            for t_name, t in TIMES_S.items():
                for comp in COMPENSATIONS:
                    accs = []
                    for seed in self.seeds:
                        hw = _hardware(devices=PCM(t_since_program_s=t, drift_compensation=comp, seed=seed))
                        accs.append(self.point(f"time-{net}-{t:g}-{comp}-{seed}",
                                               lambda hw=hw: self.accuracy(net, self.calibrated(net, hw)))["accuracy"])
                    out[(net, t_name, comp)] = accs
                    print(f"time {net:5s} {t_name:>8s} {comp:10s} {_fmt(accs)}", flush=True)
        return out

    def stuck_section(self) -> dict:
        out = {}
        for net in self.models:
            for which in ("off", "on"):
                for f in STUCK:
                    accs = []
                    for seed in self.seeds[: max(1, self.draws // 2)]:
                        dev = LinearDevice(**{f"stuck_{which}_ratio": f}, seed=seed)
                        accs.append(self.point(f"stuck-{net}-{which}-{f:g}-{seed}",
                                               lambda dev=dev: self.accuracy(net, _hardware(devices=dev)))["accuracy"])
                    out[(net, which, f)] = accs
                    print(f"stuck {net:5s} {which:3s} {f:6.3f} {_fmt(accs)}", flush=True)
        return out

    def inl_section(self) -> dict:
        out = {}
        for net in self.models:
            for inl in INL_LSB:
                accs = []
                for seed in self.seeds[: max(1, self.draws // 2)]:
                    adc = pyims.Adc(bits=8, inl_sigma_lsb=inl, seed=seed)
                    accs.append(self.point(f"inl-{net}-{inl:g}-{seed}",
                                           lambda adc=adc: self.accuracy(net, _hardware(adc=adc)))["accuracy"])
                out[(net, inl)] = accs
                print(f"inl {net:5s} {inl:4.2f} LSB {_fmt(accs)}", flush=True)
        return out

    def wires_section(self) -> dict:
        out = {}
        for net in self.models:
            for t_name in ("1 s", "1 year"):
                for seed in self.seeds[: max(1, self.draws // 2)]:
                    logits = {}
                    for r in WIRES_OHM:
                        dev = PCM(t_since_program_s=TIMES_S[t_name], drift_compensation="per_column", seed=seed,
                                  read_noise_scale_ratio=0.0)  # the wires' effect alone: no per-read noise to blur it
                        hw = _hardware(r, dev).replaced(adc=None)  # no converter: the wires' error alone
                        res = self.point(f"wires-{net}-{t_name.replace(' ', '')}-{r:g}-{seed}",
                                         lambda hw=hw: self.accuracy(net, hw, keep=True))
                        logits[r] = np.asarray(res["logits"])
                        out.setdefault((net, t_name, r), []).append(res["accuracy"])
                    ref = logits[0.0]
                    scale = float(np.sqrt(np.mean(ref**2)))
                    for r in WIRES_OHM[1:]:
                        out.setdefault((net, t_name, r, "err"), []).append(float(np.sqrt(np.mean((logits[r] - ref) ** 2))) / scale)
                for r in WIRES_OHM:
                    extra = f"   rms logit error from the wires {_fmt(out[(net, t_name, r, 'err')], pct=True)}" if r else ""
                    print(f"wires {net:5s} {t_name:>6s} {r:3.0f} ohm {_fmt(out[(net, t_name, r)])}{extra}", flush=True)
        return out


def _fmt(values, pct: bool = True) -> str:
    v = 100 * np.asarray(values, dtype=float)
    lo, hi = _interval(v)
    return f"{v.mean():6.2f} % (95 % interval of the mean {lo:.2f}-{hi:.2f}; n={v.size})"


def _interval(v: np.ndarray) -> tuple[float, float]:
    """The Student-t 95 % interval of the mean of ``v`` (the value itself for one draw)."""
    if v.size < 2:
        return float(v.mean()), float(v.mean())
    from scipy.stats import t

    half = t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean() - half), float(v.mean() + half)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--sections", default="time,stuck,inl,wires")
    args = ap.parse_args()
    study = Study(args.out, args.images, args.draws)
    results = {}
    for name in args.sections.split(","):
        t0 = time.perf_counter()
        results[name] = getattr(study, f"{name}_section")()
        print(f"[{name}: {time.perf_counter() - t0:.0f} s]", flush=True)
    write_report(study, results, args.out)


def write_report(study: Study, results: dict, out: Path) -> None:
    from pyims.figures import pyplot, save_figure

    lines = [f"Fashion-MNIST test set: {study.n_images} images; {study.draws} draws per time point "
             f"(seeds {', '.join(map(str, study.seeds))}). Mean accuracy with the Student-t 95 % interval of the mean "
             "across draws.", ""]
    if "time" in results:
        res = results["time"]
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
        for ax, net in zip(axes, study.models):
            lines += [f"**{net}**: PCM accuracy vs time since programming", "",
                      "| time | " + " | ".join(COMPENSATIONS) + " |", "|---|" + "---|" * len(COMPENSATIONS)]
            for t_name in TIMES_S:
                cells = []
                for comp in COMPENSATIONS:
                    v = 100 * np.asarray(res[(net, t_name, comp)])
                    lo, hi = _interval(v)
                    cells.append(f"{v.mean():.2f} % ({lo:.2f}-{hi:.2f})")
                lines.append(f"| {t_name} | " + " | ".join(cells) + " |")
            lines.append("")
            ts = np.array(list(TIMES_S.values()))
            for comp in COMPENSATIONS:
                v = [100 * np.asarray(res[(net, t_name, comp)]) for t_name in TIMES_S]
                mean = np.array([a.mean() for a in v])
                ci = np.array([_interval(a) for a in v])
                ax.errorbar(ts, mean, yerr=[mean - ci[:, 0], ci[:, 1] - mean], marker="o", capsize=3, label=comp)
            ax.set_xscale("log")
            ax.set_xlabel("time since programming (s)")
            ax.set_ylabel("accuracy (%)")
            ax.set_title(f"{net}: PCM, 2 ohm, 128-cell tiles, 8-bit ADC")
            ax.legend(title="drift compensation")
        save_figure(fig, out / "accuracy_vs_time.png")
        lines += ["![accuracy vs time](devices/accuracy_vs_time.png)", ""]
    if "stuck" in results:
        res = results["stuck"]
        lines += ["Stuck cells (linear cells, 2 ohm, 128-cell tiles, 8-bit ADC):", "",
                  "| network | stuck at | " + " | ".join(f"{f:g}" for f in STUCK) + " |", "|---|---|" + "---|" * len(STUCK)]
        for net in study.models:
            for which in ("off", "on"):
                lines.append(f"| {net} | {which} | " + " | ".join(f"{100 * np.mean(res[(net, which, f)]):.2f} %" for f in STUCK) + " |")
        lines.append("")
    if "inl" in results:
        res = results["inl"]
        lines += ["ADC integral non-linearity (8 bits, linear cells, 2 ohm):", "",
                  "| network | " + " | ".join(f"{v:g} LSB" for v in INL_LSB) + " |", "|---|" + "---|" * len(INL_LSB)]
        for net in study.models:
            lines.append(f"| {net} | " + " | ".join(f"{100 * np.mean(res[(net, v)]):.2f} %" for v in INL_LSB) + " |")
        lines.append("")
    if "wires" in results:
        res = results["wires"]
        lines += ["Wires x drift (PCM, per-column compensation, no read noise, no ADC; the same draws at every "
                  "resistance):", "", "| network | time | " + " | ".join(f"{r:g} ohm" for r in WIRES_OHM)
                  + " | rms logit error from 2 ohm | from 5 ohm |", "|---|---|" + "---|" * (len(WIRES_OHM) + 2)]
        for net in study.models:
            for t_name in ("1 s", "1 year"):
                accs = " | ".join(f"{100 * np.mean(res[(net, t_name, r)]):.2f} %" for r in WIRES_OHM)
                errs = " | ".join(f"{100 * np.mean(res[(net, t_name, r, 'err')]):.3f} %" for r in WIRES_OHM[1:])
                lines.append(f"| {net} | {t_name} | {accs} | {errs} |")
        lines.append("")
    atomic_write_bytes(out / "results.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))


if __name__ == "__main__":
    main()
