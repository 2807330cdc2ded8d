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

    .venv/bin/python examples/studies/devices_study.py --out docs/devices --jobs 2      # the full study
    .venv/bin/python examples/studies/devices_study.py --out /tmp/q --images 500 --draws 2   # a quick look

Every point is stored as it finishes (``OUT/points/*.json``): an interrupted run resumes, and
``--jobs N`` computes N points at once (spawned processes, single-threaded BLAS each).
``--deadline-s`` stops taking new points after that long; ``--pack FILE`` / ``--unpack FILE`` move
the stored points as one JSON file (to spread the points over machines). The tables are printed
and written to ``OUT/results.md`` with the figures (PNG + PDF).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_context
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
ONE = pyims.NativeOptions(workers=1, energy=False)  # one process per point: --jobs spreads the points


def _hardware(r_ohm: float = 2.0, devices=None, adc: pyims.Adc | None = None) -> pyims.Hardware:
    return pyims.Hardware(devices=devices if devices is not None else pyims.DeviceSpec(),
                          wires=pyims.WireParasitics(r_row_ohm=r_ohm, r_col_ohm=r_ohm),
                          plan=pyims.PartitionPlan(max_rows=128, max_cols=128),
                          adc=adc if adc is not None else pyims.Adc(bits=8), topology="tiled")


def _train_mlp(out: Path, ds) -> pyims.MLP:
    path = out / "mlp_400x120x84x10.npz"
    neuron = NeuronSpec(kind="relu")
    if path.exists():
        return load_npz_weights(path, neuron)
    t0 = time.perf_counter()
    mlp = train_mlp(ds.train.x_norm, ds.train.y, n_classes=10, neuron=neuron,
                    spec=TrainSpec(hidden=(120, 84), epochs=10, batch_size=128, seed=0))
    save_npz_weights(mlp, path)
    print(f"trained 400x120x84x10 on {ds.train.x_norm.shape[0]} images in {time.perf_counter() - t0:.0f} s", flush=True)
    return mlp


class Networks:
    """The two networks and their test images (one per process)."""

    def __init__(self, out: Path, images: int, data_path: str | None = None) -> None:
        kw = {"path": data_path} if data_path else {}
        fashion = load_dataset("fashion-mnist", max_test=images, **kw)
        small = load_dataset("fashion-mnist", resize=(20, 20), max_test=images, **kw)
        self.y = fashion.test.y
        self.models = {"lenet": (pyims.load_model(LENET), fashion.test.x_norm),
                       "mlp": (_train_mlp(out, small), small.test.x_norm)}

    def accuracy(self, net: str, hw: pyims.Hardware, keep: bool = False) -> dict:
        model, x = self.models[net]
        out = pyims.infer(model, x, hardware=hw, options=ONE)
        res = {"accuracy": float(np.mean(out.argmax(1) == self.y))}
        if keep:
            res["logits"] = out.tolist()
        return res

    def calibrated(self, net: str, hw: pyims.Hardware) -> pyims.Hardware:
        """``hw`` with the converters' ranges calibrated right after programming (t = 0), then kept."""
        model, x = self.models[net]
        t0 = replace(hw.device, t_since_program_s=0.0, drift_compensation="none")
        return hw.replaced(adc=pyims.calibrate(model, x[:256], hw.replaced(devices=t0), options=ONE).adc)


_NETWORKS: Networks | None = None


def _init(out: str, images: int, data_path: str | None) -> None:
    global _NETWORKS
    _NETWORKS = Networks(Path(out), images, data_path)


def compute(task: tuple) -> tuple[str, dict]:
    """One point: ``(name, section, net, params)`` -> ``(name, result)``."""
    name, section, net, p = task
    nets = _NETWORKS
    assert nets is not None
    t0 = time.perf_counter()
    if section in ("time", "drift"):  # drift: the same without per-read noise (programming noise and drift only)
        hw = _hardware(devices=PCM(t_since_program_s=p["t"], drift_compensation=p["comp"], seed=p["seed"],
                                   read_noise_scale_ratio=1.0 if section == "time" else 0.0))
        res = nets.accuracy(net, nets.calibrated(net, hw))
    elif section == "stuck":
        res = nets.accuracy(net, _hardware(devices=LinearDevice(**{f"stuck_{p['which']}_ratio": p["f"]}, seed=p["seed"])))
    elif section == "inl":
        res = nets.accuracy(net, _hardware(adc=pyims.Adc(bits=8, inl_sigma_lsb=p["inl"], seed=p["seed"])))
    elif section == "digital":
        model, x = nets.models[net]
        res = {"accuracy": float(np.mean(pyims.infer(model, x).argmax(1) == nets.y))}
    elif section == "wires":  # the wires' effect alone: no per-read noise to blur it, no converter
        dev = PCM(t_since_program_s=p["t"], drift_compensation="per_column", seed=p["seed"], read_noise_scale_ratio=0.0)
        res = nets.accuracy(net, _hardware(p["r"], dev).replaced(adc=None), keep=True)
    else:
        raise ValueError(section)
    res["seconds"] = time.perf_counter() - t0
    return name, res


class Study:
    def __init__(self, out: Path, images: int, draws: int, noisy_draws: int | None = None) -> None:
        self.out, self.draws, self.images = out, draws, images
        #: the LeNet's draws with per-read noise (its cost: docs/read-noise.md); every other point has ``draws``
        self.noisy_draws = draws if noisy_draws is None else min(draws, noisy_draws)
        (out / "points").mkdir(parents=True, exist_ok=True)
        self.seeds = pyims.Repeat(pyims.Dc(), n=draws, seed=0).seeds
        self.few = self.seeds[: max(1, draws // 2)]
        self.nets = ("lenet", "mlp")

    # ------------------------------------------------------------ the points of each section
    def tasks(self, section: str) -> list[tuple]:
        out = []
        for net in self.nets:
            if section == "digital":
                out.append((f"digital-{net}", section, net, {}))
            elif section in ("time", "drift"):
                seeds = self.seeds if section == "drift" or net == "mlp" else self.seeds[: self.noisy_draws]
                for t in TIMES_S.values():
                    for comp in COMPENSATIONS:
                        out += [(f"{section}-{net}-{t:g}-{comp}-{s}", section, net, {"t": t, "comp": comp, "seed": s})
                                for s in seeds]
            elif section == "stuck":
                for which in ("off", "on"):
                    for f in STUCK:
                        out += [(f"stuck-{net}-{which}-{f:g}-{s}", section, net, {"which": which, "f": f, "seed": s})
                                for s in self.few]
            elif section == "inl":
                for inl in INL_LSB:
                    out += [(f"inl-{net}-{inl:g}-{s}", section, net, {"inl": inl, "seed": s}) for s in self.few]
            elif section == "wires":
                for t_name in ("1 s", "1 year"):
                    for r in WIRES_OHM:
                        out += [(f"wires-{net}-{t_name.replace(' ', '')}-{r:g}-{s}", section, net,
                                 {"t": TIMES_S[t_name], "r": r, "seed": s}) for s in self.few]
            else:
                raise SystemExit(f"unknown section {section!r}; use time, stuck, inl, wires")
        return out

    def stored(self, name: str) -> dict | None:
        path = self.out / "points" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def run(self, tasks: list[tuple], jobs: int, deadline_s: float | None, data_path: str | None) -> int:
        """Compute the tasks not stored yet; returns how many are left."""
        todo = [t for t in tasks if self.stored(t[0]) is None]
        print(f"{len(tasks) - len(todo)} of {len(tasks)} points stored; {len(todo)} to compute on {jobs} process(es)",
              flush=True)
        t_end = None if deadline_s is None else time.monotonic() + deadline_s
        todo.sort(key=lambda t: t[2] != "lenet")  # the long ones first
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_init,
                                 initargs=(str(self.out), self.images, data_path)) as pool:
            queue = list(todo)
            running = {pool.submit(compute, queue.pop(0)) for _ in range(min(len(queue), 2 * jobs))}
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    name, res = fut.result()
                    atomic_write_bytes(self.out / "points" / f"{name}.json", json.dumps(res, sort_keys=True).encode())
                if queue and (t_end is None or time.monotonic() < t_end):
                    running |= {pool.submit(compute, queue.pop(0)) for _ in range(min(len(queue), len(done)))}
        left = sum(self.stored(t[0]) is None for t in tasks)
        print(f"{len(tasks) - left} of {len(tasks)} points stored", flush=True)
        return left

    # ------------------------------------------------------------ results
    def values(self, names: list[str], key: str = "accuracy") -> list:
        return [self.stored(n)[key] for n in names]  # type: ignore[index]

    def results(self, section: str) -> dict:
        res: dict = {}
        for name, _, net, p in self.tasks(section):
            point = self.stored(name)
            if point is None:
                continue
            if section in ("time", "drift"):
                key = (net, next(k for k, v in TIMES_S.items() if v == p["t"]), p["comp"])
            elif section == "stuck":
                key = (net, p["which"], p["f"])
            elif section == "inl":
                key = (net, p["inl"])
            else:
                key = (net, next(k for k, v in TIMES_S.items() if v == p["t"]), p["r"])
            res.setdefault(key, []).append(point["accuracy"])
        if section == "wires":  # the rms change of the logits the wires make, per draw (paired: same seeds)
            for net in self.nets:
                for t_name in ("1 s", "1 year"):
                    for s in self.few:
                        tag = f"wires-{net}-{t_name.replace(' ', '')}"
                        ref, *rest = (self.stored(f"{tag}-{r:g}-{s}") for r in WIRES_OHM)
                        if ref is None or any(x is None for x in rest):
                            continue
                        z0 = np.asarray(ref["logits"])
                        scale = float(np.sqrt(np.mean(z0**2)))
                        for r, point in zip(WIRES_OHM[1:], rest):
                            err = float(np.sqrt(np.mean((np.asarray(point["logits"]) - z0) ** 2))) / scale
                            res.setdefault((net, t_name, r, "err"), []).append(err)
        return res


def _fmt(values) -> str:
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
    ap.add_argument("--sections", default="time,drift,stuck,inl,wires")
    ap.add_argument("--noisy-draws", type=int, default=None,
                    help="draws of the LeNet's points with per-read noise (default: --draws)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--deadline-s", type=float, default=None)
    ap.add_argument("--data-path", default=None, help="the Fashion-MNIST IDX folder (default: Debian's)")
    ap.add_argument("--pack", type=Path, default=None, help="write every stored point into this one JSON file and stop")
    ap.add_argument("--unpack", type=Path, default=None, help="store the points of a --pack file first")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    study = Study(args.out, args.images, args.draws, args.noisy_draws)
    if args.unpack:
        for name, res in json.loads(args.unpack.read_text()).items():
            if study.stored(name) is None:
                atomic_write_bytes(args.out / "points" / f"{name}.json", json.dumps(res, sort_keys=True).encode())
    sections = args.sections.split(",")
    if args.pack:
        points = {p.stem: json.loads(p.read_text()) for p in sorted((args.out / "points").glob("*.json"))}
        atomic_write_bytes(args.pack, json.dumps(points).encode())
        print(f"packed {len(points)} points into {args.pack}")
        return
    _init(str(args.out), args.images, args.data_path)  # the MLP is trained (once) before the workers start
    tasks = [t for name in ["digital"] + sections for t in study.tasks(name)]
    t0 = time.perf_counter()
    left = study.run(tasks, args.jobs, args.deadline_s, args.data_path)
    print(f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    if left or args.no_report:
        return
    write_report(study, {name: study.results(name) for name in sections}, args.out)
    for name in sections:
        for key, values in study.results(name).items():
            print(name, *key, _fmt(values))


def write_report(study: Study, results: dict, out: Path) -> None:
    from pyims.figures import pyplot, save_figure

    nets = study.nets
    lines = [f"Fashion-MNIST test set: {study.images if study.images < 10_000 else 10_000} images; {study.draws} draws "
             f"per time point (seeds {', '.join(map(str, study.seeds))}). Mean accuracy with the Student-t 95 % interval "
             "of the mean across draws.", "",
             "Digital (float64) accuracy: " + ", ".join(f"{net} {100 * study.stored(f'digital-{net}')['accuracy']:.2f} %"
                                                        for net in nets) + ".", ""]
    for section, what, fig_name in (("time", "the full PCM model (programming noise, drift, per-read noise)", "accuracy_vs_time"),
                                    ("drift", "programming noise and drift, no per-read noise", "accuracy_vs_time_no_read_noise")):
        if section not in results:
            continue
        res = results[section]
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.9), sharey=False)  # two panels across a page, text >= 7 pt
        for ax, net in zip(axes, nets):
            n = len(res.get((net, "1 s", "none"), []))
            lines += [f"**{net}**: accuracy vs time since programming, {what}; {n} draws a point", "",
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
                ax.errorbar(ts, mean, yerr=[mean - ci[:, 0], ci[:, 1] - mean], marker="o", capsize=2,
                            label=comp.replace("_", " "))
            ax.set_xscale("log")
            ax.set_xlabel("Time since programming (s)")
            ax.set_ylabel("Accuracy (%)")
            ax.set_title(f"{net}: PCM, 2 Ω, 128-cell tiles, 8-bit ADC", fontsize=8)
            ax.legend(title="Drift compensation", fontsize=7, title_fontsize=7)
        save_figure(fig, out / f"{fig_name}.png")
        lines += [f"![accuracy vs time]({out.name}/{fig_name}.png)", ""]
    if "stuck" in results:
        res = results["stuck"]
        lines += ["Stuck cells (linear cells, 2 ohm, 128-cell tiles, 8-bit ADC):", "",
                  "| network | stuck at | " + " | ".join(f"{f:g}" for f in STUCK) + " |", "|---|---|" + "---|" * len(STUCK)]
        for net in nets:
            for which in ("off", "on"):
                lines.append(f"| {net} | {which} | " + " | ".join(f"{100 * np.mean(res[(net, which, f)]):.2f} %" for f in STUCK) + " |")
        lines.append("")
    if "inl" in results:
        res = results["inl"]
        lines += ["ADC integral non-linearity (8 bits, linear cells, 2 ohm):", "",
                  "| network | " + " | ".join(f"{v:g} LSB" for v in INL_LSB) + " |", "|---|" + "---|" * len(INL_LSB)]
        for net in nets:
            lines.append(f"| {net} | " + " | ".join(f"{100 * np.mean(res[(net, v)]):.2f} %" for v in INL_LSB) + " |")
        lines.append("")
    if "wires" in results:
        res = results["wires"]
        lines += ["Wires x drift (PCM, per-column compensation, no read noise, no ADC; the same draws at every "
                  "resistance):", "", "| network | time | " + " | ".join(f"{r:g} ohm" for r in WIRES_OHM)
                  + " | rms logit error from 2 ohm | from 5 ohm |", "|---|---|" + "---|" * (len(WIRES_OHM) + 2)]
        for net in nets:
            for t_name in ("1 s", "1 year"):
                accs = " | ".join(f"{100 * np.mean(res[(net, t_name, r)]):.2f} %" for r in WIRES_OHM)
                errs = " | ".join(f"{100 * np.mean(res[(net, t_name, r, 'err')]):.3f} %" for r in WIRES_OHM[1:])
                lines.append(f"| {net} | {t_name} | {accs} | {errs} |")
        lines.append("")
    atomic_write_bytes(out / "results.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))


if __name__ == "__main__":
    main()
