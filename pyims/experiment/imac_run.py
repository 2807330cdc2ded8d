"""Run a published IMAC-Sim network on its hardware (``pyims imac``): natively on every test image,
and a sample in ngspice with the transistor-level neurons. A library flow; the CLI only prints it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pyims.compare import AccuracyStats, SpiceVerification, accuracy_stats
from pyims.errors import DatasetError, SpecError
from pyims.experiment.summary import VerificationIncomplete, verification_stops
from pyims.spec import PartitionPlan

__all__ = ["ImacRunResult", "run_imac_network", "load_imac_test_data"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImacRunResult:
    """What ``run_imac_network`` measured.

    Attributes:
        layer_sizes, partitions: the network and its plan (``16/8/8 x 8/8/1``).
        n_images: test images run natively.
        wire_scale_ratio: the wires, as multiples of the 9 nm geometry's.
        digital / analog: accuracy of the ideal +-1 network and of the circuit (native, exact).
        verification: the ngspice sample against native, or ``None`` when none was asked for or it did not finish.
        verification_incomplete: why the ngspice sample did not finish (an ngspice error, a run past
            ``spice_timeout_s``, Ctrl-C), or ``None``; ``digital`` and ``analog`` are whole either way.
    """

    layer_sizes: tuple[int, ...]
    partitions: str
    n_images: int
    wire_scale_ratio: float
    digital: AccuracyStats
    analog: AccuracyStats
    verification: SpiceVerification | None
    verification_incomplete: VerificationIncomplete | None = None


def load_imac_test_data(
    data_csv: str | os.PathLike[str], labels_csv: str | os.PathLike[str], n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """IMAC-Sim's ``test_data.csv`` (one image per row) and ``test_labels.csv`` (one-hot rows or one label per
    line): finite pixels; labels whole numbers in ``0 .. n_classes - 1``; errors name the file and position."""
    arrays = []
    for path in (data_csv, labels_csv):
        try:
            arrays.append(np.loadtxt(path, delimiter=",", ndmin=2))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path} cannot be read as a CSV file of real numbers ({exc})") from exc
    data, labels = arrays
    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        raise DatasetError(f"{data_csv}: value {float(data[tuple(bad[0])])!r} at row {bad[0][0] + 1}, column {bad[0][1] + 1} is not finite")
    if labels.shape[1] > 1:  # one-hot rows
        onehot = np.all(np.isin(labels, (0.0, 1.0)), axis=1) & (labels.sum(axis=1) == 1.0)
        if not onehot.all():
            row = int(np.flatnonzero(~onehot)[0])
            raise DatasetError(f"{labels_csv}: row {row + 1} is not one-hot (a single 1 among 0s)")
        y = np.argmax(labels, axis=1)
    else:
        col = labels[:, 0]
        whole = np.isfinite(col) & (col == np.round(col)) & (col >= 0)
        if not whole.all():
            row = int(np.flatnonzero(~whole)[0])
            raise DatasetError(f"{labels_csv}: label {float(col[row])!r} at line {row + 1} is not a class number (0, 1, 2, ...)")
        y = col.astype(np.int64)
    if n_classes is not None and y.size and int(y.max()) >= n_classes:
        row = int(np.argmax(y >= n_classes))
        raise DatasetError(f"{labels_csv}: label {int(y[row])} at line {row + 1} is outside the network's {n_classes} classes")
    if y.shape[0] != data.shape[0]:
        raise DatasetError(f"{data_csv} has {data.shape[0]} images but {labels_csv} has {y.shape[0]} labels")
    return data, y


def run_imac_network(
    weights_dir: str | os.PathLike[str],
    data_csv: str | os.PathLike[str],
    labels_csv: str | os.PathLike[str],
    *,
    plan: PartitionPlan = PartitionPlan(),
    max_images: int | None = None,
    wire_scale_ratio: float = 1.0,
    verify_images: int = 2,
    spice_timeout_s: float | None = 3600.0,
) -> ImacRunResult:
    """Characterise the neuron, load the network (``W1.csv``.., ``B1.csv``..), run it natively, verify
    the first ``verify_images`` images in ngspice (each ngspice run within ``spice_timeout_s``). A verification that
    fails, times out or is interrupted keeps the native results: ``verification_incomplete`` says why."""
    from pyims.characterize import characterize_neuron
    from pyims.inference.simulate import simulate
    from pyims.inference.verify import verify_against_ngspice
    from pyims.spec.simulator import NativeOptions
    from pyims.presets.imac import ImacPreset

    preset = ImacPreset(wire_scale_ratio=wire_scale_ratio)
    neuron = preset.neuron_spec(characterize_neuron())
    mlp = preset.load_network(weights_dir, neuron)
    net = preset.map(mlp, plan)
    data, y = load_imac_test_data(data_csv, labels_csv, n_classes=mlp.layer_sizes[-1])
    if data.shape[1] != mlp.layer_sizes[0]:
        raise DatasetError(f"{data_csv} has {data.shape[1]} values per image but the network takes {mlp.layer_sizes[0]} inputs")
    if max_images:
        data, y = data[:max_images], y[:max_images]
    u = np.sign(data)  # as IMAC-Sim binarises: +-0.8 V, and a pixel of exactly 0 stays at 0 V
    native = simulate(net, u, options=NativeOptions(workers=None))
    k = min(verify_images, u.shape[0])
    verification, stopped = None, None
    if k > 0:
        try:
            verification, _ = verify_against_ngspice(net, u, native, np.arange(k), timeout_s=spice_timeout_s)
        except SpecError:  # a setting the verification cannot take: the caller's error, not the check's
            raise
        except verification_stops() as exc:  # recorded in the result, named on the console; a bug propagates
            stopped = VerificationIncomplete.of(exc, k)
    return ImacRunResult(
        layer_sizes=mlp.layer_sizes, partitions=plan.describe(mlp.layer_sizes), n_images=int(u.shape[0]),
        wire_scale_ratio=wire_scale_ratio, digital=accuracy_stats(mlp.logits(u), y),
        analog=accuracy_stats(native.logits, y), verification=verification, verification_incomplete=stopped,
    )
