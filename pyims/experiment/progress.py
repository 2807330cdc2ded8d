"""Progress of long work (the earlier home of ``pyims.progress``, which every stage may use): the same objects."""

from __future__ import annotations

import sys  # noqa: F401  (tests patch ``sys.stderr.isatty`` through this module)

from pyims.progress import LINE_INTERVAL_S, LineProgress, progress_bar, set_quiet

__all__ = ["progress_bar", "LineProgress", "set_quiet", "LINE_INTERVAL_S"]
