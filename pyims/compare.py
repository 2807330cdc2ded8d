"""Compare stage: digital reference vs mapped-ideal vs analog, as plain numbers.

Argmax ties (two or more classes sharing the top value within ``tie_atol``) are never
counted as right or wrong silently: ``n_ties`` says how many there were, ``accuracy`` counts
them as not correct, ``accuracy_upper`` as correct when the label is among the tied classes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyims.inference.result import NetworkResult
    from pyims.mapping import MappedNetwork
    from pyims.spec import WireParasitics

__all__ = [
    "chance_note",
    "rel_diff",
    "layer_rel_diffs",
    "predictions",
    "AccuracyStats",
    "Agreement",
    "LayerError",
    "SpiceVerification",
    "accuracy_stats",
    "agreement",
    "layer_errors",
    "confusion_matrix",
    "verify_against_ngspice",
    "sample_index",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccuracyStats:
    """Accuracy with ties reported (see the module docstring).

    Attributes:
        n_images: images scored.
        n_correct: unique argmax equal to the label.
        n_ties: images whose top logit is shared (within ``tie_atol``).
        n_ties_with_label: of those, how many have the label among the tied classes.
        accuracy: ``n_correct / n_images`` (ties count as not correct).
        accuracy_upper: ties with the label counted as correct.
    """

    n_images: int
    n_correct: int
    n_ties: int
    n_ties_with_label: int
    accuracy: float
    accuracy_upper: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreement:
    """Top-1 agreement of two sets of logits: both argmaxes unique and equal.

    Attributes:
        n_agree: images where they agree; n_tied_either: images with a tie on either side;
        top1_agreement: ``n_agree / n_images``.
    """

    n_agree: int
    n_tied_either: int
    top1_agreement: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerError:
    """Error of one layer's pre-activations against a reference (dimensionless, as ``pre_norm``).

    Attributes:
        layer: layer number from 1; rmse_norm: RMSE; max_abs_error_norm: max |error|;
        relative_rmse_ratio: RMSE / RMS of the reference (NaN when the reference is all zero).
    """

    layer: int
    rmse_norm: float
    max_abs_error_norm: float
    relative_rmse_ratio: float


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max |b|``: the agreement measure pyims reports (absolute when ``b`` is all zero)."""
    err = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
    scale = float(np.max(np.abs(b)))
    return err / scale if scale > 0 else err


def layer_rel_diffs(pre_a: list[np.ndarray] | tuple[np.ndarray, ...], pre_b: list[np.ndarray] | tuple[np.ndarray, ...]) -> list[float]:
    """``rel_diff`` of every layer's pre-activations, ``a`` against ``b`` (same images in both)."""
    return [rel_diff(a, b) for a, b in zip(pre_a, pre_b)]


def predictions(logits: np.ndarray, tie_atol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, tied)``: argmax per row ``(N,)`` int, and ``(N,)`` bool where the top is shared."""
    z = np.asarray(logits, dtype=np.float64)
    pred = np.argmax(z, axis=1)
    top = z[np.arange(z.shape[0]), pred]
    tied = np.sum(z >= top[:, None] - tie_atol, axis=1) > 1
    return pred, tied


def accuracy_stats(logits: np.ndarray, y: np.ndarray, tie_atol: float = 0.0) -> AccuracyStats:
    """Accuracy with ties reported (see the module docstring)."""
    z = np.asarray(logits, dtype=np.float64)
    pred, tied = predictions(z, tie_atol)
    top = z.max(axis=1)
    label_in_top = z[np.arange(z.shape[0]), y] >= top - tie_atol
    n = int(y.size)
    n_correct = int(np.sum((pred == y) & ~tied))
    n_tie_with_label = int(np.sum(tied & label_in_top))
    return AccuracyStats(
        n_images=n,
        n_correct=n_correct,
        n_ties=int(tied.sum()),
        n_ties_with_label=n_tie_with_label,
        accuracy=n_correct / n if n else float("nan"),
        accuracy_upper=(n_correct + n_tie_with_label) / n if n else float("nan"),
    )


def agreement(logits_a: np.ndarray, logits_b: np.ndarray, tie_atol: float = 0.0) -> Agreement:
    """Top-1 agreement: both argmaxes unique and equal; images with a tie on either side are counted apart."""
    pa, ta = predictions(logits_a, tie_atol)
    pb, tb = predictions(logits_b, tie_atol)
    either = ta | tb
    n = int(pa.size)
    return Agreement(
        n_agree=int(np.sum((pa == pb) & ~either)),
        n_tied_either=int(either.sum()),
        top1_agreement=float(np.sum((pa == pb) & ~either) / n) if n else float("nan"),
    )


def layer_errors(pre_test: list[np.ndarray], pre_ref: list[np.ndarray]) -> list[LayerError]:
    """Per layer: RMSE, max |error| and relative RMSE (RMSE / RMS of the reference) of pre-activations."""
    out = []
    for l, (a, b) in enumerate(zip(pre_test, pre_ref)):
        err = np.asarray(a) - np.asarray(b)
        rmse = float(np.sqrt(np.mean(err**2)))
        rms_ref = float(np.sqrt(np.mean(np.asarray(b) ** 2)))
        out.append(
            LayerError(
                layer=l + 1,
                rmse_norm=rmse,
                max_abs_error_norm=float(np.max(np.abs(err))),
                relative_rmse_ratio=rmse / rms_ref if rms_ref > 0 else float("nan"),
            )
        )
    return out


def confusion_matrix(logits: np.ndarray, y: np.ndarray, n_classes: int, tie_atol: float = 0.0) -> np.ndarray:
    """``(n_classes, n_classes + 1)`` int: rows true class, columns predicted class; the last column counts ties."""
    pred, tied = predictions(logits, tie_atol)
    cm = np.zeros((n_classes, n_classes + 1), dtype=np.int64)
    np.add.at(cm, (y, np.where(tied, n_classes, pred)), 1)
    return cm


@dataclass(frozen=True, slots=True, kw_only=True)
class SpiceVerification:
    """A sample of images run in ngspice and held against the native result.

    Attributes:
        n_images: images run; image_index: their indices in the test set.
        mode: "analog" or "tiled"; ngspice_version: the simulator's major version.
        max_rel_diff_per_layer: per layer, ``rel_diff(ngspice, native)`` of the pre-activations.
        max_rel_diff_power: the same for the read power (``None`` when native skipped energy).
        tolerance_rel: the agreement pyims promises for this network (its neuron's).
        passed: every layer within the tolerance (False when any difference is NaN).
        top1_agreement_native_vs_ngspice: fraction of images whose predictions agree.
        wall_time_s / seconds_per_image: ngspice's time.
        run_dirs: run directories kept (``keep_run_dirs``).
        batches: per ngspice batch run as a Dask task (``pyims.inference.spice_batches``): its images,
            host, process, ngspice version, wall time, and whether it was read back from the batch
            store (``resumed``); empty for an in-process verification.
    """

    n_images: int
    image_index: list[int]
    mode: str
    ngspice_version: int | None
    max_rel_diff_per_layer: list[float]
    max_rel_diff_power: float | None
    tolerance_rel: float
    passed: bool
    top1_agreement_native_vs_ngspice: float
    wall_time_s: float
    seconds_per_image: float
    run_dirs: list[str] = field(default_factory=list)
    batches: list[dict] = field(default_factory=list)

    @property
    def max_rel_diff(self) -> float:
        """The worst layer's difference (NaN if any is NaN)."""
        return float(np.max(self.max_rel_diff_per_layer))

    @property
    def n_same_prediction(self) -> int:
        """Images whose unique top-1 prediction is the same in ngspice and natively."""
        return round(self.top1_agreement_native_vs_ngspice * self.n_images)


def chance_note(accuracy: float, n_classes: int) -> str | None:
    """A sentence when ``accuracy`` is no better than guessing among ``n_classes`` (None otherwise):
    at or below 1.5 x chance, or far below chance (a sign the classes are read inverted)."""
    chance = 1.0 / n_classes
    if accuracy < 0.5 * chance:
        return (f"accuracy {100 * accuracy:.1f} % is far below chance ({100 * chance:.0f} %): the predicted class is "
                "systematically wrong, as when the outputs are read with the opposite sign (largest vs smallest output)")
    if accuracy <= 1.5 * chance:
        return f"accuracy {100 * accuracy:.1f} % is near chance ({100 * chance:.0f} % for {n_classes} classes)"
    return None


#: Native vs ngspice for linear circuits (tiles, sense amplifiers, no neurons): both solve the same
#: linear equations in float64, measured ~1e-12.
LINEAR_TOLERANCE_REL = 1e-9


def network_tolerance(net: "MappedNetwork") -> float:
    """The native-vs-ngspice agreement promised for ``net``: the loosest of its neurons' promises, or
    ``LINEAR_TOLERANCE_REL`` when it has none."""
    from pyims.model.layers import Activation, layer_of

    tols = [layer_of(s).neuron.component.ngspice_tolerance_rel for s in net.sequence if isinstance(layer_of(s), Activation)]
    return max(tols) if tols else LINEAR_TOLERANCE_REL


def sample_index(n_total: int, n_sample: int) -> np.ndarray:
    """``n_sample`` image indices spread evenly over ``0 .. n_total - 1`` (int64, sorted, unique)."""
    k = min(n_sample, n_total)
    return np.unique(np.linspace(0, n_total - 1, k).round().astype(np.int64))


def verify_against_ngspice(
    net: "MappedNetwork",
    wires: "WireParasitics",
    u: np.ndarray,
    native: "NetworkResult",
    index: np.ndarray,
    *,
    mode: str = "analog",
    tie_atol: float = 0.0,
    timeout_s: float | None = 3600.0,
    keep_run_dir: bool = False,
    batch_size: int | None = None,
    workers: int = 1,
    progress=None,
    cluster=None,
    run_key: str = "",
    adc=None,
) -> tuple[SpiceVerification, "NetworkResult"]:
    """Run images ``u[index]`` through ngspice and hold them against ``native`` (computed on all of ``u``).

    The one verification routine of ``pyims run``, ``pyims reproduce`` and ``pyims imac``. The
    tolerance is the loosest promise of the network's neurons (``Neuron.ngspice_tolerance_rel``; 1e-9 for
    a network of tiles alone, ``LINEAR_TOLERANCE_REL``). ``adc``: the calibrated converter the native run
    used, simulated in ngspice too. With ``cluster``
    (``pyims.inference.spice_batches.SpiceCluster``) the images run as resumable Dask batches,
    keyed by ``run_key``; otherwise in this process (``workers`` ngspice processes side by side).
    """
    batches: list[dict] = []
    if cluster is not None:
        from pyims.inference.spice_batches import run_spice_batches

        spice, batches = run_spice_batches(net, wires, u, index, mode=mode, cluster=cluster, run_key=run_key,
                                           timeout_s=timeout_s, progress=progress, adc=adc)
    else:
        from pyims.inference.spice import SpiceNetwork

        runner = SpiceNetwork(net, wires, mode=mode, timeout_s=timeout_s, keep_run_dir=keep_run_dir,
                              batch_size=batch_size, workers=workers, adc=adc)
        spice = runner.run(u[index], progress=progress)
    per_layer = layer_rel_diffs(spice.pre_norm, [p[index] for p in native.pre_norm])
    tol = network_tolerance(net)
    passed = bool(np.all(np.asarray(per_layer) <= tol))  # NaN compares False: a NaN never passes
    if not passed:
        log.warning("native and ngspice differ by %.2e (tolerance %.0e)", float(np.max(per_layer)), tol)
    verification = SpiceVerification(
        n_images=int(index.size),
        image_index=[int(i) for i in index],
        mode=mode,
        ngspice_version=spice.ngspice_version,
        max_rel_diff_per_layer=per_layer,
        max_rel_diff_power=rel_diff(spice.power_w, native.power_w[index]) if native.power_w is not None else None,
        tolerance_rel=tol,
        passed=passed,
        top1_agreement_native_vs_ngspice=agreement(spice.logits, native.logits[index], tie_atol).top1_agreement,
        wall_time_s=spice.wall_time_s,
        seconds_per_image=spice.wall_time_s / max(int(index.size), 1),
        run_dirs=list(spice.run_dirs),
        batches=batches,
    )
    return verification, spice
