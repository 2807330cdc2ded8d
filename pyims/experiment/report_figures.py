"""The figures of one experiment's report (``pyims run``'s output folder), from its ``ExperimentSummary``.

``accuracy_summary`` (digital, mapped-ideal and analog accuracy; with draws the mean and its interval),
``layer_errors`` (per-layer pre-activation error), ``confusion`` (the analog confusion matrix) and, for a
read-time run (``simulation.t_read_s`` / ``read_times_s``, ``docs/capacitance.md``), ``accuracy_vs_read_time``;
``report_figures`` gives those that apply, by file stem. Each returns its ``matplotlib.figure.Figure`` in the
style of ``pyims.figures`` (drawn inside ``matplotlib.rc_context``; nothing global changes) and, given ``path``,
writes it there as PNG and PDF.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np

from pyims.errors import SpecError
from pyims.figures import OKABE_ITO, colorbar, new_figure, save_figure, si, si_scale, styled, text_color_on, wilson_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pyims.experiment.summary import ExperimentSummary, ReadTimeInfo

__all__ = ["accuracy_summary", "layer_errors", "confusion", "accuracy_vs_read_time", "report_figures"]


def _save(fig: "Figure", path: str | os.PathLike[str] | None) -> "Figure":
    if path is not None:
        save_figure(fig, path)
    return fig


@styled
def accuracy_summary(summary: "ExperimentSummary", *, analog_label: str = "analog",
                     path: str | os.PathLike[str] | None = None) -> "Figure":
    """Test accuracy of the digital, mapped-ideal and analog paths as bars (with Monte Carlo draws: the mean over
    draws and its 95 % interval beside the reported draw)."""
    s = summary
    accs = [100 * a.accuracy for a in (s.accuracy.digital, s.accuracy.mapped_ideal, s.accuracy.analog)]
    names = ["digital", "mapped\nideal", analog_label.replace(", ", "\n")]
    colors = [OKABE_ITO[7], OKABE_ITO[2], OKABE_ITO[0]]
    mc = s.monte_carlo
    if mc is not None:  # draw 0 is the analog bar; the mean over draws beside it, with its interval
        names[2] += f"\n(draw {mc.reported_draw})"
        names.append(f"mean of\n{mc.n_draws} draws")
        accs.append(100 * mc.mean)
        colors.append(OKABE_ITO[1])
    fig, ax = new_figure(height_in=2.8)
    bars = ax.bar(names, accs, color=colors)
    if mc is not None:
        ax.errorbar([len(names) - 1], [100 * mc.mean], yerr=[[100 * (mc.mean - mc.mean_interval.low)],
                                                            [100 * (mc.mean_interval.high - mc.mean)]],
                    color="k", capsize=3, lw=1)
    tops = accs[:3] + ([100 * mc.mean_interval.high] if mc is not None else [])
    for b, a, top in zip(bars, accs, tops):
        ax.text(b.get_x() + b.get_width() / 2, top, f"{a:.2f} %", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("Test accuracy (%)")
    ax.set_ylim(0, 110)
    ax.grid(False, axis="x")
    plan = s.network.partitions.replace(" x ", " × ")
    ax.set_title(f"{s.dataset.name}, {'×'.join(map(str, s.network.layer_sizes))}; partitions {plan}")
    ax.set_xlabel("Inference path")
    return _save(fig, path)


@styled
def layer_errors(summary: "ExperimentSummary", path: str | os.PathLike[str] | None = None) -> "Figure":
    """Per-layer relative RMSE of the pre-activations against the digital ones: mapped-ideal and analog."""
    errs = summary.layer_errors
    layers = np.array([e.layer for e in errs.analog_vs_digital])
    width = 0.38
    fig, ax = new_figure()
    ax.bar(layers - width / 2, [e.relative_rmse_ratio for e in errs.mapped_ideal_vs_digital], width,
           label="mapped-ideal", color=OKABE_ITO[2])
    ax.bar(layers + width / 2, [e.relative_rmse_ratio for e in errs.analog_vs_digital], width, label="analog",
           color=OKABE_ITO[0])
    ax.set_xlabel("Layer (index)")
    ax.set_ylabel("Pre-activation error vs digital\n(relative RMSE)")
    ax.set_xticks(layers)
    ax.grid(False, axis="x")
    ax.legend()
    return _save(fig, path)


@styled
def confusion(summary: "ExperimentSummary", path: str | os.PathLike[str] | None = None) -> "Figure":
    """The analog path's confusion matrix (rows: true class; columns: predicted, last column ties), counts in
    each cell in the colour of higher contrast."""
    cm = np.array(summary.confusion_matrix.analog)
    n = cm.shape[0]
    fig, ax = new_figure(height_in=3.2)
    im = ax.imshow(cm, cmap="cividis")
    ax.grid(False)
    ax.set_xticks(range(n + 1), [str(k) for k in range(n)] + ["tie"])
    ax.set_yticks(range(n), [str(k) for k in range(n)])
    ax.set_xlabel("Predicted class (analog)")
    ax.set_ylabel("True class (label)")
    for (i, j), v in np.ndenumerate(cm):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color=text_color_on(im.cmap(im.norm(v))))
    colorbar(fig, im, ax, "Images (count)")
    return _save(fig, path)


@styled
def accuracy_vs_read_time(read_time: "ReadTimeInfo", n_test: int, *, digital: float | None = None,
                          path: str | os.PathLike[str] | None = None) -> "Figure":
    """Analog accuracy (%) at each read time of a read-time run (``simulation.read_times_s`` and ``t_read_s``),
    with the 95 % Wilson interval over the ``n_test`` test images; the settled (DC) accuracy dashed, the digital
    one (``digital``, a fraction) dotted, the p99 settling time (latency) as a vertical line when finite."""
    points = sorted(read_time.accuracy_at, key=lambda p: p.t_read_s)
    if not points:
        raise SpecError("accuracy_vs_read_time: the run reported no read times; set simulation.t_read_s "
                        "(and simulation.read_times_s for more)")
    t = np.array([p.t_read_s for p in points])
    acc = np.array([p.accuracy for p in points])
    scale, unit = si_scale(float(t.max()), "s")
    low, high = wilson_interval(np.round(acc * n_test), n_test)
    fig, ax = new_figure()
    ax.errorbar(t / scale, 100 * acc, yerr=[100 * (acc - low), 100 * (high - acc)], marker="o", capsize=2,
                color=OKABE_ITO[0], label="at the read time")
    ax.axhline(100 * read_time.accuracy_dc, color=OKABE_ITO[1], ls="--", lw=1, label="settled (DC)")
    if digital is not None:
        ax.axhline(100 * digital, color="k", ls=":", lw=1, label="digital")
    if math.isfinite(read_time.latency_s) and read_time.latency_s <= t.max() * 1.5:
        ax.axvline(read_time.latency_s / scale, color=OKABE_ITO[3], ls="-.", lw=1, label="p99 settling time")
    ax.set_xlim(0, None)
    ax.set_xlabel(f"Read time after the inputs start ({unit})")
    ax.set_ylabel("Analog accuracy (%)")
    ax.set_title(f"Inputs rise in {si(read_time.t_rise_s, 's')}; error bars: 95 % Wilson, {n_test} images")
    ax.legend()
    return _save(fig, path)


def report_figures(summary: "ExperimentSummary", *, analog_label: str = "analog") -> dict[str, "Figure"]:
    """The figures of an experiment's report, by file stem: ``accuracy``, ``layer_errors``, ``confusion_analog``
    and, for a read-time run, ``accuracy_vs_read_time``."""
    figs = {"accuracy": accuracy_summary(summary, analog_label=analog_label), "layer_errors": layer_errors(summary),
            "confusion_analog": confusion(summary)}
    if summary.read_time is not None and summary.read_time.accuracy_at:
        figs["accuracy_vs_read_time"] = accuracy_vs_read_time(summary.read_time, summary.dataset.n_test,
                                                              digital=summary.accuracy.digital.accuracy)
    return figs
