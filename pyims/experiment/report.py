"""The output directory of an experiment: summary.json, per_image.csv, weights.npz, plots.

The folder is built whole beside its target and renamed into place, so an interrupted run never
leaves a half-written or mixed folder behind. Fields are documented in ``docs/outputs.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from pyims.compare import predictions
from pyims.fileio import publish_dir
from pyims.experiment.summary import ExperimentSummary
from pyims.model import MLP, save_npz_weights

__all__ = ["write_report", "format_table", "format_settling", "PER_IMAGE_COLUMNS"]

#: How each simulation mode is named in tables and plots.
MODE_LABELS = {"analog": "analog, fully-analog", "tiled": "analog, tiled co-sim"}

PER_IMAGE_COLUMNS = (
    "index", "label",
    "digital_pred", "digital_tie", "mapped_pred", "mapped_tie", "analog_pred", "analog_tie",
    "analog_margin_norm", "read_power_w", "ngspice_pred", "ngspice_tie",
)


#: What a report folder may hold (the demo adds its wire table): the only folders ``write_report`` replaces.
REPORT_FILES = ("summary.json", "per_image.csv", "weights.npz", "wire_partition_table.json")


def is_report_entry(name: str) -> bool:
    """True for a file a report folder holds (its files and plots)."""
    return name in REPORT_FILES or name.endswith((".png", ".pdf"))


def _per_image_csv(result) -> bytes:
    y = result.dataset.test.y
    tie = result.config.simulation.tie_atol
    dp, dt = predictions(result.digital_out, tie)
    mp, mt = predictions(result.mapped_out, tie)
    ap, at = predictions(result.analog.logits, tie)
    srt = np.sort(result.analog.logits, axis=1)
    margin = srt[:, -1] - srt[:, -2] if srt.shape[1] > 1 else srt[:, -1]
    sp = np.full(y.size, -1)
    st = np.zeros(y.size, dtype=bool)
    if result.spice is not None:
        p, t = predictions(result.spice.logits, tie)
        sp[result.spice_index], st[result.spice_index] = p, t
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PER_IMAGE_COLUMNS)
    power = result.analog.power_w
    for i in range(y.size):
        w.writerow([
            i, int(y[i]), int(dp[i]), int(dt[i]), int(mp[i]), int(mt[i]), int(ap[i]), int(at[i]),
            repr(float(margin[i])), repr(float(power[i])) if power is not None else "",
            int(sp[i]) if sp[i] >= 0 else "", int(st[i]) if sp[i] >= 0 else "",
        ])
    return buf.getvalue().encode()


def _plots(result, out: Path) -> list[str]:
    """The report's figures (``report_figures``: with a read time, accuracy against it too), PNG and PDF."""
    from pyims.figures import save_figure
    from pyims.experiment.report_figures import report_figures

    figs = report_figures(result.summary, analog_label=MODE_LABELS[result.summary.network.mode])
    return [p.name for name, fig in figs.items() for p in save_figure(fig, out / f"{name}.png")]


def write_report(result, out: Path) -> list[Path]:
    """Write the output folder whole: built beside ``out`` and renamed into place, replacing a previous
    report there (never anything else, see ``pyims.fileio.publish_dir``); returns the files written."""

    def build(tmp: Path) -> list[str]:
        buf = io.BytesIO()
        if isinstance(result.mlp, MLP):
            save_npz_weights(result.mlp, buf)
        else:  # every crossbar layer's weights as mapped (a convolution's unrolled: rows = C_in*kh*kw)
            layers = result.mlp.crossbar_layers
            np.savez(buf, **{f"{k}{l}": arr for l, layer in enumerate(layers, start=1)
                             for k, arr in (("W", layer.weight), ("B", layer.bias))})
        (tmp / "weights.npz").write_bytes(buf.getvalue())
        (tmp / "per_image.csv").write_bytes(_per_image_csv(result))
        plots = _plots(result, tmp)
        result.summary.files = ["summary.json", "per_image.csv", "weights.npz", *plots]
        (tmp / "summary.json").write_text(json.dumps(result.summary.to_dict(), indent=2) + "\n")
        return result.summary.files

    return [Path(out) / name for name in publish_dir(out, build, is_report_entry, "pyims report")]


def format_table(summary: ExperimentSummary) -> str:
    """The console table: accuracy of each path, agreement, per-layer errors, SPICE check."""
    acc, agree = summary.accuracy, summary.agreement
    lines = [
        f"  {'inference':<22} {'accuracy':>9} {'ties':>5} {'top-1 agree w/ digital':>23}",
    ]
    rows = [
        ("digital (float)", acc.digital, None),
        ("mapped-ideal", acc.mapped_ideal, agree.mapped_ideal_vs_digital),
        (MODE_LABELS[summary.network.mode], acc.analog, agree.analog_vs_digital),
    ]
    for name, a, g in rows:
        ag = f"{100 * g.top1_agreement:.2f} %" if g else "-"
        lines.append(f"  {name:<22} {100 * a.accuracy:>8.2f}% {a.n_ties:>5} {ag:>23}")
    lines.append("")
    lines.append(f"  {'layer':<6} {'RMSE':>10} {'max |err|':>10} {'rel RMSE':>10}   (analog vs digital pre-activations)")
    for e in summary.layer_errors.analog_vs_digital:
        lines.append(f"  {e.layer:<6} {e.rmse_norm:>10.4f} {e.max_abs_error_norm:>10.4f} {e.relative_rmse_ratio:>10.4f}")
    v = summary.spice_verification
    mc = summary.monte_carlo
    lines.append("")
    stopped = summary.spice_verification_incomplete
    if stopped is not None:
        lines.append(f"  ngspice verification of {stopped.n_images} images: {stopped.status.upper()} ({stopped.reason}); "
                     "the results above are native only")
    elif v is None:
        lines.append("  ngspice verification: off (simulation.verify_images = 0)")
    else:
        lines.append(
            f"  ngspice-{v.ngspice_version} verification ({v.mode}, {v.n_images} images"
            + (f", draw {mc.reported_draw}" if mc is not None else "") + ", "
            f"{v.seconds_per_image:.2f} s/image): max rel diff {v.max_rel_diff:.1e} vs tolerance {v.tolerance_rel:.0e} "
            + (f"(against the exact per-vector solves), read-noise method ({v.read_noise.method}) "
               f"{v.read_noise.max_error:.1e} of the deviation vs bound {v.read_noise.bound:.0e} "
               if v.read_noise is not None else "")
            + f"-> {'PASS' if v.passed else 'FAIL'}"
        )
    if summary.energy:
        e = summary.energy
        lines.append(f"  read energy per inference: {e.mean_energy_per_inference_j:.3e} J "
                     f"({e.mean_read_power_w * 1e3:.3f} mW over t_read = {e.t_read_s:.1e} s)")
    rt = summary.read_time
    if rt is not None:
        at = ", ".join(f"{p.t_read_s:.3g} s: {100 * p.accuracy:.2f} %" for p in rt.accuracy_at)
        lines.append(f"  read time {rt.t_read_s:.3g} s (inputs rise in {rt.t_rise_s:.3g} s, step {rt.t_step_s:.3g} s): "
                     f"analog accuracy {100 * rt.accuracy:.2f} % (settled: {100 * rt.accuracy_dc:.2f} %); at {at}")
        if rt.settling_s:
            lines.append("  " + format_settling(rt)
                         + (f"; transient energy {rt.energy_per_inference_j:.3e} J per inference"
                            if rt.energy_per_inference_j is not None else ""))
    lines += _device_lines(summary)
    return "\n".join(lines)


def format_settling(rt) -> str:
    """The settling times of a read-time run (a ``ReadTimeInfo``) in words. A percentile that some images never
    reach within the read time is not a time: it is said to be not reached, with the share that had not settled
    (never ``inf s``)."""

    def pct(name: str, value: float) -> str:
        return f"{name} {value:.3g} s" if math.isfinite(value) else f"{name} not reached"

    text = f"settling: {pct('p50', rt.settling_s['p50'])}, {pct('p99 (latency)', rt.latency_s)}"
    if math.isfinite(rt.latency_s):
        return text + f"; {100 * rt.fraction_settled:.1f} % of images settled by the read time"
    return text + (f": {100 * (1 - rt.fraction_settled):.1f} % of images had not settled by the read time "
                   f"{rt.t_read_s:.3g} s ({100 * rt.fraction_settled:.1f} % had)")


def _pct(interval) -> str:
    return f"[{100 * interval.low:.2f}, {100 * interval.high:.2f}] %"


def _device_lines(summary: ExperimentSummary) -> list[str]:
    """The device, its draws' seeds and, with repeats, the accuracy across draws, in words."""
    d, mc = summary.device, summary.monte_carlo
    if d is None:
        return []
    lines = [f"  device: {d.description}; device.variation_seed {d.variation_seed}"]
    if mc is None:
        seeds = d.draws[0]
        lines.append(f"  one draw on the config's own seeds (device.seed {seeds.device_seed}, variation_seed "
                     f"{seeds.variation_seed}" + (f", adc.seed {seeds.adc_seed}" if seeds.adc_seed is not None else "")
                     + "); simulation.repeats > 1 gives the spread across draws")
        return lines
    per_draw = ", ".join(f"{100 * a:.2f}" for a in mc.accuracy_per_draw)
    lines += [
        f"  Monte Carlo over {mc.n_draws} draws of the hardware ({mc.analysis}; seeds from {d.seeds_from}):",
        f"    analog accuracy per draw (%): {per_draw}",
        f"    mean {100 * mc.mean:.2f} %, standard deviation {100 * mc.std:.2f} % (points) across draws",
        f"    across draws: {mc.mean_interval.method} {_pct(mc.mean_interval)}; {mc.draw_interval.method} "
        f"{_pct(mc.draw_interval)}",
        f"    over images: {mc.images_interval_draw0.method} {_pct(mc.images_interval_draw0)}; "
        f"{mc.images_interval_pooled.method} {_pct(mc.images_interval_pooled)}",
        f"    the accuracy table, layer errors, energy, per_image.csv and the ngspice check above are draw "
        f"{mc.reported_draw}'s (seed {d.draws[mc.reported_draw].seed})",
    ]
    return lines
