"""The one figure style of pyims: figures for a paper's column, drawn without touching matplotlib's global state.

* Every pyims figure is a ``matplotlib.figure.Figure`` built inside ``style()`` (a ``matplotlib.rc_context``; the
  ``@styled`` decorator wraps a whole plot function in it). Nothing here calls ``matplotlib.use`` or changes the
  global ``rcParams``: a notebook's backend and style stay the user's, and a plot function returns its ``Figure``.
* Sized for one column of a paper: ``COLUMN_WIDTH_IN`` (3.5 in) wide, text of at least ``MIN_TEXT_PT`` (7 pt) at
  that width (``small_text`` lists what is smaller, scaled as the figure would be to fit the column).
* Colour-blind safe: lines cycle through the Okabe-Ito colours (``OKABE_ITO``), heatmaps use viridis or cividis,
  and a number written on a heatmap cell is dark or white, whichever contrasts more with the cell (``text_color_on``).
* ``save_figure(fig, path)`` writes ``path`` (PNG, 150 dpi) and the same name with ``.pdf``, and refuses a figure
  with an unlabelled axis: every data axis needs an x and a y label naming its unit in parentheses (``(V)``,
  ``(%)``, ``(count)``), except an axis of named categories (its ticks carry the words).
* ``wilson_interval`` gives binomial confidence intervals for accuracies measured on a finite test set.

matplotlib is imported inside the functions (``import pyims`` stays light).
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

__all__ = ["STYLE", "OKABE_ITO", "COLUMN_WIDTH_IN", "MIN_TEXT_PT", "PNG_DPI", "style", "styled", "new_figure",
           "colorbar", "text_color_on", "small_text", "si", "si_scale", "MARKERS", "pyplot", "save_figure", "wilson_interval"]

PNG_DPI = 150
#: The width of one column of a two-column paper (in): pyims figures are drawn at it.
COLUMN_WIDTH_IN = 3.5
#: The smallest text (pt) a figure may carry once scaled to ``COLUMN_WIDTH_IN``.
MIN_TEXT_PT = 7.0

#: Okabe & Ito's colour-blind-safe qualitative palette (black last: it is the reference lines' colour).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

#: rcParams of every pyims figure, applied only inside ``style()``: readable at a column's width in a paper.
STYLE: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "figure.titlesize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "pdf.fonttype": 42,  # TrueType in the PDF: editable text
    "ps.fonttype": 42,
}

#: One marker per line, beside its colour: lines stay apart in greyscale and for every colour vision.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"),
             (1e-15, "f"), (1e-18, "a"))

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def style() -> Iterator[None]:
    """``STYLE`` and the Okabe-Ito colour cycle for what is drawn inside the block (``matplotlib.rc_context``);
    the global ``rcParams`` are as they were afterwards."""
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({**STYLE, "axes.prop_cycle": cycler(color=list(OKABE_ITO))}):
        yield


def styled(func: F) -> F:
    """Run a plot function inside ``style()``: every artist it makes takes the pyims style."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with style():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _tick_sizes(ax) -> None:
    # ticks are made lazily (at the first draw, perhaps outside the style): fix their size on the axes itself;
    # axis labels keep their font when set later (set_xlabel updates the text only), so a caller outside
    # the style still gets the pyims size
    ax.tick_params(axis="both", labelsize=STYLE["xtick.labelsize"])
    for label in (ax.xaxis.label, ax.yaxis.label):
        label.set_fontsize(STYLE["axes.labelsize"])


@functools.cache
def _figure_class() -> type:
    """``matplotlib.figure.Figure`` that also shows itself in Jupyter with no backend set up (``_repr_png_``)."""
    from matplotlib.figure import Figure

    class PyimsFigure(Figure):
        """A ``Figure`` that a notebook shows as a PNG when it is a cell's value, whatever the backend."""

        def _repr_png_(self) -> bytes:
            import io

            buf = io.BytesIO()
            with style():
                self.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches="tight")
            return buf.getvalue()

    return PyimsFigure


def new_figure(nrows: int = 1, ncols: int = 1, *, width_in: float = COLUMN_WIDTH_IN, height_in: float = 2.6,
               **subplots_kw):
    """A ``Figure`` and its axes, ``fig.subplots(nrows, ncols, **subplots_kw)``, in constrained layout: no pyplot,
    so no backend and no figure manager; a notebook shows it as a PNG when it is a cell's value. Call it inside
    ``style()`` (or a ``@styled`` function)."""
    fig = _figure_class()(figsize=(width_in, height_in), layout="constrained")
    axes = fig.subplots(nrows, ncols, **subplots_kw)
    for ax in np.atleast_1d(axes).ravel():
        _tick_sizes(ax)
    return fig, axes


def colorbar(fig, mappable, ax, label: str):
    """A colour bar beside ``ax`` labelled ``label``, its ticks in the pyims size."""
    bar = fig.colorbar(mappable, ax=ax, label=label)
    _tick_sizes(bar.ax)
    return bar


def _linear(c: np.ndarray) -> np.ndarray:
    """sRGB components (0..1) -> linear light (IEC 61966-2-1)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def text_color_on(rgba) -> str:
    """``"black"`` or ``"white"``: the text colour of higher WCAG contrast ratio on a cell of colour ``rgba``
    (its relative luminance ``L``: black gives ``(L + 0.05) / 0.05``, white ``1.05 / (L + 0.05)``)."""
    r, g, b = _linear(np.asarray(rgba, dtype=float)[:3])
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "white"


def small_text(fig, *, column_width_in: float = COLUMN_WIDTH_IN, min_pt: float = MIN_TEXT_PT) -> list[tuple[str, float]]:
    """Every visible, non-empty text of ``fig`` smaller than ``min_pt`` once the figure is scaled to
    ``column_width_in`` (a wider figure shrinks, a narrower one grows): ``(text, size in pt at that width)``.
    Draws the figure first, so tick labels exist."""
    from matplotlib.text import Text

    fig.draw_without_rendering()
    scale = column_width_in / fig.get_figwidth()
    found = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip() and text.get_figure() is not None:
            size = text.get_fontsize() * scale
            if size < min_pt - 1e-9:
                found.append((text.get_text(), size))
    return found


def si(value: float, unit: str) -> str:
    """``value`` in ``unit`` with an SI prefix: ``2e-15, "F"`` -> ``2 fF``; seconds from 1 s up stay in s."""
    v = float(value)
    if v == 0 or not math.isfinite(v) or (unit == "s" and abs(v) >= 1) or abs(v) < _PREFIXES[-1][0] * (1 - 1e-9):
        return f"{v:g} {unit}"
    scale, prefixed = si_scale(v, unit)
    return f"{v / scale:.4g} {prefixed}"


def si_scale(value: float, unit: str) -> tuple[float, str]:
    """The SI prefix an axis of values up to ``value`` reads best in: ``(scale, prefixed unit)``, e.g.
    ``si_scale(4e-11, "s")`` -> ``(1e-12, "ps")``."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale * (1 - 1e-9):
            return scale, f"{prefix}{unit}"
    return 1.0, unit


class _Figures:
    """What ``pyplot()`` returns: ``subplots`` as pyplot's, but a styled ``Figure`` outside pyplot's state."""

    def subplots(self, nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kw):
        width, height = figsize if figsize is not None else (COLUMN_WIDTH_IN, 2.6)
        with style():
            return new_figure(nrows, ncols, width_in=width, height_in=height, **kw)

    def close(self, fig) -> None:
        """Close ``fig`` if pyplot manages it (a ``Figure`` from ``subplots`` needs no closing)."""
        _close(fig)

    def __getattr__(self, name: str):  # anything else (e.g. ``Rectangle``): pyplot's own
        import matplotlib.pyplot as plt

        return getattr(plt, name)


def pyplot() -> _Figures:
    """For scripts written against the earlier ``pyplot()``: ``pyplot().subplots(...)`` makes a ``Figure`` in the
    pyims style without ``matplotlib.use`` or a change of global ``rcParams``. New code: ``@styled`` and
    ``new_figure``."""
    return _Figures()


def _close(fig) -> None:
    if getattr(fig.canvas, "manager", None) is not None:  # made by pyplot: leave it not in pyplot's list
        import matplotlib.pyplot as plt

        plt.close(fig)


def _categorical(axis) -> bool:
    """Whether ``axis`` shows named categories: ticks placed by hand (or by string categories) whose labels are
    not all numbers."""
    from matplotlib.category import StrCategoryLocator
    from matplotlib.ticker import FixedLocator

    if not isinstance(axis.get_major_locator(), (FixedLocator, StrCategoryLocator)):
        return False
    texts = [t.strip() for t in axis.get_major_formatter().format_ticks(list(axis.get_majorticklocs())) if t.strip()]
    return bool(texts) and not all(re.fullmatch(r"[-+−]?[\d.,eE+−-]+", t) for t in texts)


def _check_labels(fig, path: Path) -> None:
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>" or not (ax.lines or ax.images or ax.collections or ax.patches):
            continue
        for which, label, axis in (("x", ax.get_xlabel(), ax.xaxis), ("y", ax.get_ylabel(), ax.yaxis)):
            if not label.strip():
                raise ValueError(f"figure {path.name}: an axis has no {which} label (every pyims figure labels both, with units)")
            if not re.search(r"\([^)]+\)", label) and not _categorical(axis):
                raise ValueError(f"figure {path.name}: the {which} label {label!r} names no unit; add one in "
                                 "parentheses, e.g. '(V)', '(%)', '(count)'")


def save_figure(fig, path: str | Path) -> tuple[Path, Path]:
    """Write ``fig`` as ``path`` (PNG) and ``path.with_suffix(".pdf")``; return both paths. The figure stays
    usable (a pyplot-managed one is closed)."""
    png = Path(path).with_suffix(".png")
    pdf = png.with_suffix(".pdf")
    _check_labels(fig, png)
    with style():
        fig.savefig(png, dpi=PNG_DPI, bbox_inches="tight")
        fig.savefig(pdf, bbox_inches="tight")
    _close(fig)
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
