"""Compare stage: digital reference vs mapped-ideal vs analog, as plain numbers.

Argmax ties (two or more classes sharing the top value within ``tie_atol``) are never
counted as right or wrong silently: ``n_ties`` says how many there were, ``accuracy`` counts
them as not correct, ``accuracy_upper`` as correct when the label is among the tied classes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rel_diff", "layer_rel_diffs", "predictions", "accuracy_stats", "agreement", "layer_errors", "confusion_matrix"]


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


def accuracy_stats(logits: np.ndarray, y: np.ndarray, tie_atol: float = 0.0) -> dict[str, float | int]:
    """Accuracy with ties reported (see the module docstring)."""
    z = np.asarray(logits, dtype=np.float64)
    pred, tied = predictions(z, tie_atol)
    top = z.max(axis=1)
    label_in_top = z[np.arange(z.shape[0]), y] >= top - tie_atol
    n = int(y.size)
    n_correct = int(np.sum((pred == y) & ~tied))
    n_tie_with_label = int(np.sum(tied & label_in_top))
    return {
        "n_images": n,
        "n_correct": n_correct,
        "n_ties": int(tied.sum()),
        "n_ties_with_label": n_tie_with_label,
        "accuracy": n_correct / n if n else float("nan"),
        "accuracy_upper": (n_correct + n_tie_with_label) / n if n else float("nan"),
    }


def agreement(logits_a: np.ndarray, logits_b: np.ndarray, tie_atol: float = 0.0) -> dict[str, float | int]:
    """Top-1 agreement: both argmaxes unique and equal; images with a tie on either side are counted apart."""
    pa, ta = predictions(logits_a, tie_atol)
    pb, tb = predictions(logits_b, tie_atol)
    either = ta | tb
    n = int(pa.size)
    return {
        "n_agree": int(np.sum((pa == pb) & ~either)),
        "n_tied_either": int(either.sum()),
        "top1_agreement": float(np.sum((pa == pb) & ~either) / n) if n else float("nan"),
    }


def layer_errors(pre_test: list[np.ndarray], pre_ref: list[np.ndarray]) -> list[dict[str, float]]:
    """Per layer: RMSE, max |error| and relative RMSE (RMSE / RMS of the reference) of pre-activations."""
    out = []
    for l, (a, b) in enumerate(zip(pre_test, pre_ref)):
        err = np.asarray(a) - np.asarray(b)
        rmse = float(np.sqrt(np.mean(err**2)))
        rms_ref = float(np.sqrt(np.mean(np.asarray(b) ** 2)))
        out.append(
            {
                "layer": l + 1,
                "rmse_norm": rmse,
                "max_abs_error_norm": float(np.max(np.abs(err))),
                "relative_rmse_ratio": rmse / rms_ref if rms_ref > 0 else float("nan"),
            }
        )
    return out


def confusion_matrix(logits: np.ndarray, y: np.ndarray, n_classes: int, tie_atol: float = 0.0) -> np.ndarray:
    """``(n_classes, n_classes + 1)`` int: rows true class, columns predicted class; the last column counts ties."""
    pred, tied = predictions(logits, tie_atol)
    cm = np.zeros((n_classes, n_classes + 1), dtype=np.int64)
    np.add.at(cm, (y, np.where(tied, n_classes, pred)), 1)
    return cm
