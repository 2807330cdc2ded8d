"""Progress bars (tqdm) that stay quiet when stderr is not a terminal."""

from __future__ import annotations

import sys

__all__ = ["progress_bar"]


def progress_bar(total: int | None, desc: str, enabled: bool | None = None):
    """A tqdm bar on stderr; ``enabled=None`` shows it only on a TTY."""
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, desc=desc, disable=not show, leave=False, unit="", dynamic_ncols=True)
