"""The one figure style of pyims: every figure is written as PDF (vector) and PNG, with labelled axes.

``save_figure(fig, path)`` writes ``path`` (PNG, 150 dpi) and the same name with ``.pdf``, and
refuses a figure with an unlabelled axis: every data axis needs an x and a y label, each naming
its unit in parentheses (``(V)``, ``(%)``, ``(count)``). ``wilson_interval``
gives binomial confidence intervals for accuracies measured on a finite test set.
matplotlib is imported inside the functions (``import pyims`` stays light).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["STYLE", "pyplot", "save_figure", "wilson_interval", "PNG_DPI"]

PNG_DPI = 150

#: rcParams of every pyims figure: readable at a column's width in a paper.
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.markersize": 4,
    "pdf.fonttype": 42,  # TrueType in the PDF: editable text
    "savefig.bbox": "tight",
}


def pyplot():
    """matplotlib.pyplot on the non-interactive backend, with ``STYLE`` applied."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def _check_labels(fig, path: Path) -> None:
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>" or not (ax.lines or ax.images or ax.collections or ax.patches):
            continue
        for which, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if not label.strip():
                raise ValueError(f"figure {path.name}: an axis has no {which} label (every pyims figure labels both, with units)")
            if not re.search(r"\([^)]+\)", label):
                raise ValueError(f"figure {path.name}: the {which} label {label!r} names no unit; add one in "
                                 "parentheses, e.g. '(V)', '(%)', '(count)'")


def save_figure(fig, path: str | Path) -> tuple[Path, Path]:
    """Write ``fig`` as ``path`` (PNG) and ``path.with_suffix(".pdf")``; close it; return both paths."""
    png = Path(path).with_suffix(".png")
    pdf = png.with_suffix(".pdf")
    _check_labels(fig, png)
    import matplotlib.pyplot as plt

    fig.savefig(png, dpi=PNG_DPI)
    fig.savefig(pdf)
    plt.close(fig)
    return png, pdf


def wilson_interval(k: np.ndarray | float, n: np.ndarray | float, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` of a proportion ``k / n`` (95 % for ``z = 1.96``).

    Unlike ``p ± z sqrt(p (1 - p) / n)`` it stays inside [0, 1] and is honest near 0 and 1.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half
