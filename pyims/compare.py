"""Compare stage: digital reference vs mapped-ideal vs analog, as plain numbers (metrics on arrays; the
ngspice verification that produces a ``SpiceVerification`` lives in ``pyims.inference.verify``).

Argmax ties (two or more classes sharing the top value within ``tie_atol``) are never
counted as right or wrong silently: ``n_ties`` says how many there were, ``accuracy`` counts
them as not correct, ``accuracy_upper`` as correct when the label is among the tied classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "chance_note",
    "rel_diff",
    "layer_rel_diffs",
    "predictions",
    "AccuracyStats",
    "Agreement",
    "LayerError",
    "ReadNoiseCheck",
    "SpiceVerification",
    "accuracy_stats",
    "agreement",
    "layer_errors",
    "confusion_matrix",
    "sample_index",
]


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
class ReadNoiseCheck:
    """The native read-noise method held against exact per-vector solves on a verification's sample (the same
    draws): what the method leaves, relative to the noise-induced deviation it computes.

    Attributes:
        method: the native method checked (``ReadNoiseOptions.method``).
        error_per_layer: per crossbar layer, ``max |method - exact| / max |exact - noiseless|`` over the sample's
            pre-activations (the analog outputs: a converter would turn a rounding-size difference at a code boundary
            into a whole code); the absolute difference where the deviation is zero.
        bound: the most the method may leave (``pyims.inference.verify.READ_NOISE_METHOD_BOUND``).
        passed: every layer within the bound (False when any error is NaN).
    """

    method: str
    error_per_layer: list[float]
    bound: float
    passed: bool

    @property
    def max_error(self) -> float:
        """The worst layer's error (NaN if any is NaN)."""
        return float(np.max(self.error_per_layer))


@dataclass(frozen=True, slots=True, kw_only=True)
class SpiceVerification:
    """A sample of images run in ngspice and held against the native result.

    Attributes:
        n_images: images run; image_index: their indices in the test set.
        mode: "analog" or "tiled"; ngspice_version: the simulator's major version.
        max_rel_diff_per_layer: per layer, ``rel_diff(ngspice, native)`` of the pre-activations; with read noise,
            native is the exact per-vector solves of the sample's draws (the circuits ngspice solves).
        max_rel_diff_power: the same for the read power (``None`` when native skipped energy).
        tolerance_rel: the agreement pyims promises for this network (its neuron's).
        passed: every layer within the tolerance (False when any difference is NaN), and with read noise the
            native method within its bound (``read_noise``).
        top1_agreement_native_vs_ngspice: fraction of images whose predictions agree.
        wall_time_s / seconds_per_image: ngspice's time.
        run_dirs: run directories kept (``keep_run_dirs``).
        batches: per ngspice batch run as a Dask task (``pyims.inference.spice_batches``): its images,
            host, process, ngspice version, wall time, and whether it was read back from the batch
            store (``resumed``); empty for an in-process verification.
        read_noise: with read noise, the native method held against the exact solves (``ReadNoiseCheck``).
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
    read_noise: ReadNoiseCheck | None = None

    @property
    def max_rel_diff(self) -> float:
        """The worst layer's difference (NaN if any is NaN)."""
        return float(np.max(self.max_rel_diff_per_layer))

    @property
    def failure(self) -> str | None:
        """Why the check failed, one line (``None`` when it passed)."""
        if self.passed:
            return None
        why = []
        if not np.all(np.asarray(self.max_rel_diff_per_layer) <= self.tolerance_rel):
            why.append(f"native and ngspice differ by {self.max_rel_diff:.3g} > {self.tolerance_rel:g}")
        if self.read_noise is not None and not self.read_noise.passed:
            why.append(f"the native read-noise method ({self.read_noise.method}) leaves {self.read_noise.max_error:.3g} "
                       f"of the noise-induced deviation > {self.read_noise.bound:g}")
        return "; ".join(why) or "the check did not pass"

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


def sample_index(n_total: int, n_sample: int) -> np.ndarray:
    """``n_sample`` image indices spread evenly over ``0 .. n_total - 1`` (int64, sorted, unique)."""
    k = min(n_sample, n_total)
    return np.unique(np.linspace(0, n_total - 1, k).round().astype(np.int64))
