"""Study 3 -- wire capacitance and read time (docs/capacitance.md).

The reference study's 400x120x84x10 network on IMAC-Sim's hardware (``ImacPreset``: the 9 nm wire
geometry, difference amplifiers, the transistor inverter neuron characterised in ngspice), as
trained on its circuit by ``pyims reproduce`` for each plan (unpartitioned, 16/8/8 x 8/8/1,
13/4/3 x 4/3/1). Every wire segment gets capacitance from the geometry at 0.05 .. 1 fF/um; the
inputs ramp from 0 in 5 ps and the network's outputs are read at every step of a window long
enough to settle; on the test images (mnist5k's 1,000, as in the reproduction):

* accuracy against read time, per capacitance and plan; the settled (DC) accuracy;
* the distribution of settling times over the test set and the latency (its 99th percentile);
* energy per inference from the transient (drivers, charging the wires), at 0.2 fF/um, for the
  partitioned plans (the unpartitioned one needs 401 right-hand sides per step: ``--energy-all``);
* with ``--spice``, one image per plan re-run as an ngspice network transient at 0.2 fF/um
  (minutes per image for this network: ``benchmarks/bench_read_time.py``).

    .venv/bin/python examples/studies/capacitance_study.py --out docs/capacitance

It reuses the trained networks of ``docs/reproduction`` (``--weights``); when they are missing it
runs the reproduction there first (~15 min). Each (plan, capacitance) point is saved in
``OUT/points/`` as it finishes, and a re-run resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
C_FF_PER_UM = (0.05, 0.2, 1.0)
PLANS = (("unpartitioned", {}), ("16/8/8 x 8/8/1", {"horizontal": (16, 8, 8), "vertical": (8, 8, 1)}),
         ("13/4/3 x 4/3/1", {"horizontal": (13, 4, 3), "vertical": (4, 3, 1)}))
T_RISE_S = 5e-12
STEPS = 100
ENERGY_IMAGES = 64


def window_s(c_ff_per_um: float) -> float:
    """How long to watch: time constants grow with the capacitance (20 ps at 0.2 fF/um)."""
    return max(20e-12, 100e-12 * c_ff_per_um)


def _slug(label: str) -> str:
    return label.replace("/", "-").replace(" x ", "_x_").replace(" ", "_")


def load_inputs(weights: Path):
    from pyims.characterize import NeuronCurve, fit_logistic
    from pyims.data import load_dataset
    from pyims.experiment.reproduce import ReproductionSettings, run_reproduction
    from pyims.presets.imac import ImacPreset

    needed = [weights / f"weights_{_slug(label)}.npz" for label, _ in PLANS] + [weights / "neuron_curve.csv"]
    if not all(p.is_file() for p in needed):
        print(f"{weights} lacks the trained networks: running the reproduction there first")
        run_reproduction(ReproductionSettings(verify_images=0), weights, progress=print)
    s = ReproductionSettings()
    preset = s.preset
    data = np.loadtxt(weights / "neuron_curve.csv", delimiter=",", skiprows=1)
    curve = NeuronCurve(subckt="pyims_neuron_inverter", subckt_file=None, v_in_v=data[:, 0], v_out_v=data[:, 1],
                        fit=fit_logistic(data[:, 0], data[:, 1]), ngspice_version=0)
    ds = load_dataset(s.dataset, resize=s.resize, test_fraction=s.test_fraction, seed=s.seed)
    return preset, preset.neuron_spec(curve), ds, isinstance(preset, ImacPreset)


def run_point(net, wires, c_ff: float, u: np.ndarray, y: np.ndarray, *, energy: bool, verify: bool) -> dict:
    from pyims.compare import accuracy_stats
    from pyims.inference import NativeNetwork
    from pyims.inference.read_time import NativeReadTime, ngspice_read_time
    from pyims.spec.analysis import ReadAt
    from pyims.spec.simulator import NativeOptions

    net = net.on(wires=wires)
    spec = ReadAt(t_read_s=window_s(c_ff), t_rise_s=T_RISE_S, t_step_s=window_s(c_ff) / STEPS)
    t0 = time.perf_counter()
    rt = NativeReadTime(net, spec, options=NativeOptions(energy=energy))
    build = time.perf_counter() - t0
    res = rt.run(u, settling=True, energy=False)
    dc = NativeNetwork(net, options=NativeOptions(energy=False)).run(u).logits
    acc_t = [accuracy_stats(res.output_t[:, k], y).accuracy for k in range(spec.n_steps + 1)]
    settle = res.settling_s
    out = {
        "c_fF_per_um": c_ff, "c_row_f": wires.c_row_f, "c_col_f": wires.c_col_f, "t_step_s": spec.step_s,
        "t_s": spec.t_grid_s.tolist(), "accuracy_t": acc_t, "accuracy_dc": accuracy_stats(dc, y).accuracy,
        "settling_p50_s": float(np.percentile(settle, 50, method="higher")),
        "settling_p99_s": float(np.percentile(settle, 99, method="higher")),
        "fraction_settled": float(np.mean(np.isfinite(settle))), "build_s": build, "run_s": res.wall_time_s,
        "settling_s": settle.tolist(),
    }
    if energy:
        out["energy_per_inference_j"] = float(np.mean(rt.run(u[:ENERGY_IMAGES], energy=True).energy_j))
        out["energy_images"] = int(min(ENERGY_IMAGES, u.shape[0]))
    if verify:
        t0 = time.perf_counter()
        ng = ngspice_read_time(net, spec, u[:1])
        out["ngspice_s_per_image"] = time.perf_counter() - t0
        out["ngspice_max_rel_diff_t"] = float(np.max(np.abs(ng.output_t - res.output_t[:1])) / np.max(np.abs(ng.output_t)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="capacitance-study")
    ap.add_argument("--weights", default=str(ROOT / "docs" / "reproduction"))
    ap.add_argument("--images", type=int, default=None, help="test images (default: all)")
    ap.add_argument("--spice", action="store_true", help="re-run one image per plan in ngspice (slow)")
    ap.add_argument("--energy-all", action="store_true", help="transient energy for the unpartitioned plan too")
    args = ap.parse_args()
    from pyims.model import load_npz_weights
    from pyims.spec import PartitionPlan

    out = Path(args.out)
    (out / "points").mkdir(parents=True, exist_ok=True)
    preset, neuron, ds, _ = load_inputs(Path(args.weights))
    u = preset.encoding.quantized(ds.test.x_norm)[: args.images]
    y = ds.test.y[: args.images]
    row, col = preset.geometry()
    results: dict[str, list[dict]] = {}
    for label, fields in PLANS:
        mlp = load_npz_weights(Path(args.weights) / f"weights_{_slug(label)}.npz", neuron)
        net = preset.map(mlp, PartitionPlan(**fields))
        results[label] = []
        for c_ff in C_FF_PER_UM:
            path = out / "points" / f"{_slug(label)}_c{c_ff:g}.json"
            if path.is_file():
                point = json.loads(path.read_text())
            else:
                wires = dataclasses.replace(preset.wires, c_row_f=c_ff * 1e-9 * row.pitch_m, c_col_f=c_ff * 1e-9 * col.pitch_m)
                energy = c_ff == 0.2 and (args.energy_all or label != "unpartitioned")
                point = run_point(net, wires, c_ff, u, y, energy=energy, verify=c_ff == 0.2 and args.spice)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(point))
                tmp.replace(path)  # a point is there whole, or not at all
            results[label].append(point)
            print(f"{label}, {c_ff:g} fF/um: DC {100 * point['accuracy_dc']:.2f} %, settling p50 "
                  f"{1e12 * point['settling_p50_s']:.1f} ps / p99 {1e12 * point['settling_p99_s']:.1f} ps "
                  f"(build {point['build_s']:.0f} s, run {point['run_s']:.0f} s)")
    write_report(results, out, n=int(y.size))


def _acc_at(point: dict, t_s: float) -> float:
    k = int(round(t_s / point["t_step_s"]))
    return point["accuracy_t"][min(k, len(point["accuracy_t"]) - 1)]


def write_report(results: dict, out: Path, n: int) -> None:
    from pyims.figures import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(12, 3.6), sharey=True)
    for ax, (label, points) in zip(axes, results.items()):
        for p in points:
            t = np.array(p["t_s"]) * 1e12
            ax.plot(t, 100 * np.array(p["accuracy_t"]), label=f"{p['c_fF_per_um']:g} fF/um")
        ax.set_xscale("log")
        ax.set_xlim(left=0.5)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("read time after the inputs start (ps)")
        ax.set_ylabel("test accuracy (%)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "accuracy_vs_read_time.png")

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for label, points in results.items():
        c = [p["c_fF_per_um"] for p in points]
        ax.plot(c, [1e12 * p["settling_p99_s"] for p in points], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("wire capacitance (fF/um)")
    ax.set_ylabel("latency: 99th pct. settling time (ps)")
    ax.legend(fontsize=7)
    save_figure(fig, out / "latency_vs_capacitance.png")

    reads = (2e-12, 5e-12, 10e-12, 20e-12, 50e-12, 100e-12, 500e-12)
    lines = [f"Test images: {n} (mnist5k, 20x20). Inputs ramp from 0 in {T_RISE_S * 1e12:g} ps at t = 0; accuracy "
             "when the outputs are read at t (ps); `DC`: settled.", "",
             "| plan | C (fF/um) | C per segment (in / out line, aF) | " + " | ".join(f"{1e12 * t:g} ps" for t in reads)
             + " | DC | settling p50 / p99 (ps) |", "|---|---|---|" + "---|" * len(reads) + "---|---|"]
    for label, points in results.items():
        for p in points:
            cells = " | ".join(f"{100 * _acc_at(p, t):.2f}" if t <= p["t_s"][-1] * (1 + 1e-9) else "" for t in reads)
            lines.append(f"| {label} | {p['c_fF_per_um']:g} | {1e18 * p['c_row_f']:.1f} / {1e18 * p['c_col_f']:.1f} | {cells} | "
                         f"{100 * p['accuracy_dc']:.2f} | {1e12 * p['settling_p50_s']:.1f} / {1e12 * p['settling_p99_s']:.1f} |")
    lines += ["", "At 0.2 fF/um (the typical on-chip value): latency, energy per inference from the transient "
              f"(mean over {ENERGY_IMAGES} images, from t = 0 to the end of the window) and the ngspice check of one image:", "",
              "| plan | latency (ps) | energy per inference (pJ) | window (ps) | native build + run (s) | ngspice s / image | "
              "max rel diff native vs ngspice (whole window) |", "|---|---|---|---|---|---|---|"]
    for label, points in results.items():
        p = next(q for q in points if q["c_fF_per_um"] == 0.2)
        ng = p.get("ngspice_s_per_image")
        ng_s = "" if ng is None else f"{ng:.1f}"
        ng_d = "" if ng is None else f"{p['ngspice_max_rel_diff_t']:.1e}"
        e = p.get("energy_per_inference_j")
        e_s = "not computed" if e is None else f"{1e12 * e:.3f}"
        lines.append(f"| {label} | {1e12 * p['settling_p99_s']:.1f} | {e_s} | "
                     f"{1e12 * p['t_s'][-1]:g} | {p['build_s']:.0f} + {p['run_s']:.0f} | {ng_s} | {ng_d} |")
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
