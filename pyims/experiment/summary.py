"""The typed summary of an experiment: what ``summary.json`` holds, as dataclasses.

``ExperimentSummary.to_dict()`` is the JSON (``docs/outputs.md``), with ``schema_version``;
``ExperimentSummary.from_dict()`` reads it back. The CLI, the report and the sweeps read
attributes (``summary.accuracy.analog.accuracy``), never string keys.

Layout version 1 grows compatibly: a section added later (``device``, ``monte_carlo``) is optional, so
a reader of version 1 may ignore it and a file written before it reads back with ``None`` there.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pyims.compare import AccuracyStats, Agreement, LayerError, SpiceVerification
from pyims.errors import PyimsError, SimulationError

__all__ = [
    "SCHEMA_VERSION",
    "verification_stops",
    "DatasetInfo",
    "TileInfo",
    "NetworkInfo",
    "Accuracies",
    "Agreements",
    "LayerErrors",
    "ConfusionMatrices",
    "EnergyInfo",
    "InputsInfo",
    "Provenance",
    "DrawSeeds",
    "DeviceInfo",
    "Interval",
    "MonteCarloInfo",
    "VerificationIncomplete",
    "ExperimentSummary",
    "build_typed",
]

log = logging.getLogger(__name__)

#: Version of the ``summary.json`` layout; bumped on any incompatible change (new optional sections are not one).
SCHEMA_VERSION = 1
#: The confidence level of every interval the summary reports.
CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetInfo:
    """name; n_train / n_test images; image_shape ``[h, w]``; n_classes."""

    name: str
    n_train: int
    n_test: int
    image_shape: list[int]
    n_classes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TileInfo:
    """One layer's partitions: row_sizes (inputs + bias row per horizontal partition), out_sizes
    (outputs per vertical partition), w_max (the weight mapped to a full conductance swing)."""

    layer: int
    row_sizes: list[int]
    out_sizes: list[int]
    w_max: float


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkInfo:
    """layer_sizes ``(n_in, ..., n_out)`` (a CNN: the first crossbar layer's rows, then every crossbar
    layer's outputs); partitions (``16/8/8 x 8/8/1``); n_tiles; tiles per layer; mode; arrays: each
    crossbar layer's kind and array (rows with the bias row x outputs), e.g. ``conv 26x6``."""

    layer_sizes: list[int]
    partitions: str
    n_tiles: int
    tiles: list[TileInfo]
    mode: str
    arrays: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Accuracies:
    """Test accuracy of each inference path."""

    digital: AccuracyStats
    mapped_ideal: AccuracyStats
    analog: AccuracyStats


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreements:
    """Top-1 agreement with the digital reference."""

    analog_vs_digital: Agreement
    mapped_ideal_vs_digital: Agreement


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerErrors:
    """Per-layer pre-activation errors between the paths."""

    analog_vs_digital: list[LayerError]
    mapped_ideal_vs_digital: list[LayerError]
    analog_vs_mapped_ideal: list[LayerError]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfusionMatrices:
    """``(n_classes, n_classes + 1)`` counts (rows true class, columns predicted, last column ties)."""

    analog: list[list[int]]
    digital: list[list[int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadTimePoint:
    """Accuracy when the outputs are read at ``t_read_s`` after the inputs start."""

    t_read_s: float
    accuracy: float
    n_ties: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadTimeInfo:
    """Outputs read at a time under wire capacitance (``simulation.t_read_s``; ``docs/capacitance.md``).

    Attributes:
        t_read_s, t_rise_s, t_step_s: the read time, the inputs' rise, the transient's step (s).
        accuracy: at the read time (the summary's analog accuracy is this one); ``accuracy_dc``: settled.
        accuracy_at: accuracy at each of ``simulation.read_times_s`` and at ``t_read_s``.
        settling_s: per-image settling time (every output within 1 % of the image's largest swing of its
            DC value for good), percentiles ``p50``, ``p90``, ``p99``, ``max`` over the test set; ``inf`` if an
            image had not settled by the read time; ``fraction_settled``: the images that had.
        latency_s: the 99th percentile of the settling time (the read time that 99 % of images allow).
        energy_per_inference_j: mean energy the row drivers deliver from t = 0 to the read time (charging
            the wires included), over ``energy_images`` images; ``None`` when not computed.
        build_s, run_s: the native transient's kernels and its per-image work.
    """

    t_read_s: float
    t_rise_s: float
    t_step_s: float
    accuracy: float
    accuracy_dc: float
    accuracy_at: list[ReadTimePoint]
    settling_s: dict[str, float]
    fraction_settled: float
    latency_s: float
    energy_per_inference_j: float | None
    energy_images: int
    build_s: float
    run_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyInfo:
    """Mean read power (W) over the test set, the read time (s), the energy per inference (J) and its scope."""

    mean_read_power_w: float
    t_read_s: float
    mean_energy_per_inference_j: float
    scope: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InputsInfo:
    """The test inputs against the DAC's input range (``InputEncoding``): what was clipped, and what each reference saw.

    Attributes:
        x_min_norm / x_max_norm: the DAC's input range in input units.
        range_from: where the range came from: "given" (``x_min_norm``/``x_max_norm``), "normalisation"
            (``x_mean_norm``/``x_std_norm``) or "default" (a quantising DAC's [0, 1]).
        dac_bits: the DAC's resolution (``None``: ideal levels).
        n_values / n_outside: input values, and those outside the range (clipped to it).
        fraction_outside: ``n_outside / n_values``.
        n_images_outside: test images with at least one value outside.
        digital_sees: what the digital reference was given, beside what the circuit was.
    """

    x_min_norm: float
    x_max_norm: float
    range_from: str
    dac_bits: int | None
    n_values: int
    n_outside: int
    fraction_outside: float
    n_images_outside: int
    digital_sees: str = ("the same inputs as the circuit, clipped to the DAC's range, before the DAC's quantisation")

    @classmethod
    def of(cls, encoding, x_norm) -> "InputsInfo | None":
        """The section for inputs ``x_norm`` ``(N, ...)`` on ``encoding`` (``None``: no range, nothing clipped)."""
        c = encoding.clipping(x_norm)
        if c is None:
            return None
        src = "given" if encoding.x_min_norm is not None else ("normalisation" if encoding.x_mean_norm is not None
                                                              else "default")
        return cls(x_min_norm=c.x_min_norm, x_max_norm=c.x_max_norm, range_from=src, dac_bits=encoding.dac_bits,
                   n_values=c.n_values, n_outside=c.n_outside, fraction_outside=c.fraction,
                   n_images_outside=c.n_images_outside)


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """Where and with what the result was made: versions, machine, ngspice (``None`` when not run), UTC time."""

    pyims_version: str
    python_version: str
    numpy_version: str
    scipy_version: str
    platform: str
    host: str
    ngspice_version: int | None
    created_utc: str

    @classmethod
    def here(cls, ngspice_version: int | None = None) -> "Provenance":
        """This process's provenance, now."""
        import datetime
        import platform

        import numpy
        import scipy

        from pyims import __version__

        return cls(
            pyims_version=__version__, python_version=platform.python_version(), numpy_version=numpy.__version__,
            scipy_version=scipy.__version__, platform=platform.platform(), host=platform.node(),
            ngspice_version=ngspice_version,
            created_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DrawSeeds:
    """The seeds one draw of the hardware ran with.

    Attributes:
        index: the draw (0 is the one the rest of the summary describes).
        seed: the seed ``pyims.Repeat`` gave this draw, which set the three below (``Hardware.redrawn``); ``None``
            with ``simulation.repeats = 1``: the config's own seeds.
        device_seed: ``device.seed``: programming noise, stuck cells, drift exponents, read noise.
        variation_seed: ``device.variation_seed``: the lognormal variation of the ``[device]`` table.
        adc_seed: ``adc.seed``: the converters' offset and gain errors (``None``: no ADC).
    """

    index: int
    seed: int | None
    device_seed: int
    variation_seed: int
    adc_seed: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """The cells the arrays are made of, and the seeds of every draw.

    Attributes:
        kind: ``device.kind`` ("linear", "pcm", ...).
        description: ``Device.describe()`` of the config's device, in words.
        fields: the ``[device]`` table as the hardware maps it (``Hardware.device_spec``): the range
            (``g_off_s`` / ``g_on_s``, siemens), levels, variation, the common fields and the kind's own.
        seed, variation_seed: the config's ``device.seed`` and ``device.variation_seed``.
        draws: the seeds of every draw, ``simulation.repeats`` of them, in order.
        seeds_from: how the draws' seeds were chosen, in words.
    """

    kind: str
    description: str
    fields: dict[str, Any]
    seed: int
    variation_seed: int
    draws: list[DrawSeeds]
    seeds_from: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """A ``CONFIDENCE`` interval ``[low, high]`` of an accuracy (a fraction), and how it was computed."""

    low: float
    high: float
    method: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MonteCarloInfo:
    """Analog accuracy across seeded draws of the hardware (``simulation.repeats`` > 1).

    Two sources of spread, reported apart: the hardware's draws (programming noise, drift exponents, read
    noise, stuck cells, variation, converter errors), and the finite test set (the images).

    Attributes:
        analysis: the ``pyims.Repeat`` that ran, in words.
        n_draws, n_images: draws, and test images per draw.
        confidence: the level of every interval below (0.95).
        accuracy_per_draw / n_correct_per_draw: each draw's analog accuracy (ties count as wrong) and correct
            images, in the order of ``DeviceInfo.draws``.
        mean / std: the mean and the sample standard deviation (ddof = 1) of the draws' accuracies.
        mean_interval: Student-t interval of the mean over draws, ``mean +- t(0.975, n-1) std / sqrt(n)``, cut to
            [0, 1] where it crosses an end (its method then says so: with few draws far apart it would claim
            accuracies above 100 %).
        draw_interval: the 2.5th and 97.5th percentiles of the draws' accuracies (linear interpolation between
            draws): where one draw -- one programmed chip -- lands.
        images_interval_draw0: Wilson score interval of draw 0's accuracy over its ``n_images`` images.
        images_interval_pooled: Wilson score interval of the pooled accuracy, every draw's correct images over
            ``n_draws * n_images`` trials (the same images in every draw: narrower than a new test set would give).
        reported_draw: the draw the rest of the summary describes (analog accuracy, agreement, layer errors,
            confusion matrix, energy, read time, ``per_image.csv``) and ngspice checks: 0.
    """

    analysis: str
    n_draws: int
    n_images: int
    confidence: float
    accuracy_per_draw: list[float]
    n_correct_per_draw: list[int]
    mean: float
    std: float
    mean_interval: Interval
    draw_interval: Interval
    images_interval_draw0: Interval
    images_interval_pooled: Interval
    reported_draw: int = 0

    @classmethod
    def from_draws(cls, stats: list[AccuracyStats], analysis: str, confidence: float = CONFIDENCE) -> "MonteCarloInfo":
        """The spread of the draws' accuracies ``stats`` (one ``AccuracyStats`` per draw, at least two)."""
        import numpy as np
        from scipy import stats as sps

        from pyims.figures import wilson_interval

        n = len(stats)
        if n < 2:
            raise ValueError(f"MonteCarloInfo needs at least two draws, got {n}")
        acc = np.array([s.accuracy for s in stats], dtype=np.float64)
        correct = np.array([s.n_correct for s in stats], dtype=np.float64)
        n_images = stats[0].n_images
        mean, std = float(acc.mean()), float(acc.std(ddof=1))
        half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * std / np.sqrt(n)
        t_low, t_high = max(mean - half, 0.0), min(mean + half, 1.0)  # an accuracy lies in [0, 1]
        cut = ", cut to [0, 100] %" if (t_low, t_high) != (mean - half, mean + half) else ""
        z = float(sps.norm.ppf(0.5 + confidence / 2))
        lo_p, hi_p = (50 * (1 - confidence), 50 * (1 + confidence))
        pct = np.percentile(acc, [lo_p, hi_p])
        w0 = wilson_interval(correct[0], n_images, z)
        wp = wilson_interval(correct.sum(), n * n_images, z)
        level = f"{100 * confidence:g} %"
        return cls(
            analysis=analysis, n_draws=n, n_images=int(n_images), confidence=confidence,
            accuracy_per_draw=[float(a) for a in acc], n_correct_per_draw=[int(c) for c in correct],
            mean=mean, std=std,
            mean_interval=Interval(low=t_low, high=t_high,
                                   method=f"{level} Student-t interval of the mean over {n} draws{cut}"),
            draw_interval=Interval(low=float(pct[0]), high=float(pct[1]),
                                   method=f"{lo_p:g}th-{hi_p:g}th percentiles of the {n} draws' accuracies"),
            images_interval_draw0=Interval(low=float(w0[0]), high=float(w0[1]),
                                           method=f"{level} Wilson score interval of draw 0 over {n_images} images"),
            images_interval_pooled=Interval(low=float(wp[0]), high=float(wp[1]),
                                            method=f"{level} Wilson score interval of the pooled accuracy over "
                                            f"{n} x {n_images} image reads"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """Where the network came from: ``source`` ("file": a model file, "npz" / "csv": weight files, "train":
    trained in this run); ``path`` and ``sha256`` of the file (or folder digest) when there is one; ``steps``:
    every step of the network (``Layer.describe``); ``activations``: the distinct activations between them."""

    source: str
    path: str | None = None
    sha256: str | None = None
    steps: list[str] = field(default_factory=list)
    activations: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, cfg: Any, model: Any) -> "ModelInfo":
        """The provenance of ``model`` (a ``Model`` or ``MLP``) made from config ``cfg``."""
        from pyims.fileio import content_digest
        from pyims.model.graph import as_model
        from pyims.model.layers import Activation, layer_of

        m = as_model(model)
        steps = [layer_of(s).describe() for s in m.steps]
        acts = sorted({layer_of(s).neuron.kind for s in m.steps if isinstance(layer_of(s), Activation)})
        named = cfg.model.file or cfg.model.weights
        source = "file" if cfg.model.file else cfg.model.source
        path = str(cfg.resolve_path(named)) if named else None
        digest = content_digest(path) if path else None
        return cls(source=source, path=path, sha256=digest.removeprefix("dir:") if digest else None, steps=steps,
                   activations=acts)


def recorded_config(cfg: Any) -> dict[str, Any]:
    """``cfg.as_dict()`` without the sections that did not make the network: a model file's run records no
    ``[train]``, no ``[neuron]`` and no ``model.source`` (its activations are the file's: ``ModelInfo``); weights
    loaded from files record no ``[train]``."""
    data = cfg.as_dict()
    if cfg.model.file:
        data.pop("train", None)
        data.pop("neuron", None)
        data["model"].pop("source", None)
    elif cfg.model.source != "train":
        data.pop("train", None)
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationIncomplete:
    """An ngspice verification that did not finish; the training and native results around it are whole.

    Attributes:
        status: ``"failed"`` (an ngspice run failed or ran past ``simulation.timeout_s``, a worker was lost) or
            ``"interrupted"`` (Ctrl-C / SIGINT).
        reason: what happened, one line (the error's type and first line).
        n_images: the images the verification was to run in ngspice.
        run_dir: the failed ngspice run's directory, kept as evidence, or ``None``.
        batch_store: where finished verification batches are kept (``--verify-images``, ``--workers``,
            ``--scheduler``): a re-run resumes from them; ``None`` for a verification in this process.
    """

    status: str
    reason: str
    n_images: int
    run_dir: str | None = None
    batch_store: str | None = None

    @classmethod
    def of(cls, exc: BaseException, n_images: int, *, batch_store: str | None = None) -> "VerificationIncomplete":
        """What a report says of a verification of ``n_images`` that ``exc`` stopped (a ``KeyboardInterrupt``:
        interrupted; anything else: failed; a ``SimulationError`` names its kept run directory); the error's traceback
        goes to the log at INFO (``pyims -v``)."""
        interrupted = isinstance(exc, KeyboardInterrupt)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no message"
        reason = "interrupted (Ctrl-C / SIGINT)" if interrupted else f"{type(exc).__name__}: {first}"
        rundir = exc.rundir if isinstance(exc, SimulationError) else None
        log.info(
            "ngspice verification %s: %s; the training and native results are kept%s",
            "interrupted" if interrupted else "failed", reason,
            f" (finished batches in {batch_store}: a re-run resumes)" if batch_store else "", exc_info=exc)
        return cls(status="interrupted" if interrupted else "failed", reason=reason, n_images=int(n_images),
                   run_dir=str(rundir) if rundir is not None else None, batch_store=batch_store)


def verification_stops() -> tuple[type[BaseException], ...]:
    """What may stop an ngspice verification and be recorded as its failure (``VerificationIncomplete``), the
    training and native results kept: pyims's typed errors (a failed, timed-out or diverging run, a cluster that is
    gone), the operating system's (a lost connection, a full disk), a worker Dask lost, and Ctrl-C. Anything else is a
    fault of pyims itself and propagates (the CLI names it as an internal error)."""
    kinds: list[type[BaseException]] = [PyimsError, OSError, KeyboardInterrupt]
    try:
        from distributed import KilledWorker

        kinds.append(KilledWorker)
    except ImportError:  # no Dask: no worker to lose
        pass
    return tuple(kinds)


@dataclass(slots=True, kw_only=True)
class ExperimentSummary:
    """Everything ``summary.json`` says about one experiment.

    Attributes:
        schema_version: ``SCHEMA_VERSION`` of the layout.
        pyims_version, name: provenance; config: the fully resolved config (plain data).
        dataset, network, accuracy, agreement, layer_errors, confusion_matrix, energy: see the types.
        spice_verification: the ngspice sample, or ``None`` when off (with a read time: the network
            transient at the read time, per image).
        read_time: outputs read at a time under wire capacitance, or ``None`` (DC).
        timing: seconds per stage (``data_s``, ``model_s``, ``native_build_s``, ...).
        files: the report's files, once written.
        provenance: versions, machine and time of the run.
        device: the device kind, its fields and the seeds of every draw (``None`` in files written before it).
        monte_carlo: accuracy across the hardware's draws (``simulation.repeats`` > 1), else ``None``; the
            other sections then describe draw 0.
        model: where the network came from (file and SHA-256, its steps and activations; ``None`` in files
            written before it). ``config`` then leaves out what did not make it (``recorded_config``).
        inputs: the test inputs against the DAC's input range (``None``: no range -- an ideal DAC or binary
            inputs -- or a file written before it).
        spice_verification_incomplete: why the ngspice verification did not finish (``spice_verification`` is then
            ``None``), or ``None``.
    """

    schema_version: int = SCHEMA_VERSION
    pyims_version: str
    name: str
    config: dict[str, Any]
    dataset: DatasetInfo
    network: NetworkInfo
    accuracy: Accuracies
    agreement: Agreements
    layer_errors: LayerErrors
    confusion_matrix: ConfusionMatrices
    energy: EnergyInfo | None
    spice_verification: SpiceVerification | None
    timing: dict[str, float]
    files: list[str] = field(default_factory=list)
    provenance: Provenance | None = None
    read_time: ReadTimeInfo | None = None
    device: DeviceInfo | None = None
    monte_carlo: MonteCarloInfo | None = None
    model: ModelInfo | None = None
    inputs: InputsInfo | None = None
    spice_verification_incomplete: VerificationIncomplete | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (the layout of ``summary.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExperimentSummary":
        """Read ``summary.json`` data back into the types."""
        return build_typed(cls, data)


def build_typed(tp: Any, value: Any) -> Any:
    """``value`` (plain JSON data) as type ``tp``: dataclasses field by field, lists and dicts element by element."""
    _build = build_typed
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(args[0], value) if len(args) == 1 else value
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: _build(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value})
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_build(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _build(item, v) for k, v in value.items()}
    return value
