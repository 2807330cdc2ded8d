"""Progress of long work: a tqdm bar on a terminal, progress lines in a log, nothing when quiet.

``progress_bar(total, desc)`` gives an object with tqdm's ``update(n)``, ``set_postfix(**values)``,
``set_postfix_str(text)`` and context-manager protocol. On a terminal it is a tqdm bar. When stderr is not a terminal
(``pyims run ... > log 2>&1``, a batch job) it writes a line -- percent, rate, time left -- at most
every ``LINE_INTERVAL_S`` seconds and one when the work ends, so a log shows the run is alive.
``set_quiet(True)`` (the CLI's ``-q``) silences both. ``delay_s``: a bar shows only once the work has
run that long, so quick calls (and tests) stay silent; a log line comes only after ``LINE_INTERVAL_S``
anyway. A base module: the solvers of ``pyims.inference`` report through it as ``pyims run`` does
(it lives in the base layer: every stage may report progress).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["progress_bar", "LineProgress", "set_quiet", "LINE_INTERVAL_S", "BAR_DELAY_S"]

#: Seconds between two progress lines in a log.
LINE_INTERVAL_S = 10.0
#: Seconds a solver's own bar waits before it shows (work that ends sooner stays silent).
BAR_DELAY_S = 2.0

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence every progress report of this process (``True``) or restore them."""
    global _quiet
    _quiet = bool(quiet)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class LineProgress:
    """Progress as lines of text on ``stream``: ``desc: 40% (8/20), 2.3/s, 0:05 left [postfix]``.

    ``total`` may be ``None`` (then counts and rate only). A line is written when ``interval_s``
    has passed since the last one, and once at the end (``close``, however often it is called -- a ``with``
    block and an explicit ``close()``) when the work ran past ``interval_s`` and the final count or postfix is
    not already the last line written: a log never shows the same final state twice. ``clock`` is injectable for
    tests.
    """

    def __init__(self, total: int | None, desc: str, *, stream: TextIO | None = None, interval_s: float = LINE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.desc, self.n = total, desc, 0
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s, self._clock = interval_s, clock
        self._start = self._last = clock()
        self._postfix = ""
        self._lines = 0
        self._written: tuple[int, str] | None = None  # (count, postfix) of the last line written
        self._closed = False

    def line(self) -> str:
        elapsed = self._clock() - self._start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.desc}:"]
        if self.total:
            parts.append(f"{100 * self.n / self.total:.0f}% ({self.n}/{self.total}),")
        else:
            parts.append(f"{self.n} done,")
        parts.append(f"{rate:.3g}/s,")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"{_duration((self.total - self.n) / rate)} left")
        else:
            parts.append(f"{_duration(elapsed)} elapsed")
        if self._postfix:
            parts.append(f"[{self._postfix}]")
        return " ".join(parts)

    def _write(self) -> None:
        self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._last = self._clock()
        self._lines += 1
        self._written = (self.n, self._postfix)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._clock() - self._last >= self.interval_s:
            self._write()

    def set_postfix(self, **values: object) -> None:
        """tqdm's form: ``set_postfix(loss="0.123")`` shows ``[loss=0.123]``."""
        self.set_postfix_str(", ".join(f"{k}={v}" for k, v in values.items()))

    def set_postfix_str(self, text: str) -> None:
        self._postfix = str(text)
        if self._clock() - self._last >= self.interval_s:
            self._write()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._written == (self.n, self._postfix):
            return  # the last line already shows the final state
        if self._lines or self._clock() - self._start >= self.interval_s:
            self._write()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(total: int | None, desc: str, enabled: bool | None = None, *, delay_s: float = 0.0, unit: str = ""):
    """Progress of ``total`` steps (``None``: unknown). ``enabled=None``: a tqdm bar on a terminal,
    lines in a log otherwise; ``False`` or ``set_quiet(True)``: nothing. ``delay_s``: the bar appears only
    after that many seconds (work that ends sooner shows nothing); ``unit``: what a step is ("image")."""
    from tqdm import tqdm

    if _quiet or enabled is False:
        return tqdm(total=total, desc=desc, disable=True)
    if enabled or sys.stderr.isatty():
        return tqdm(total=total, desc=desc, leave=False, unit=unit, dynamic_ncols=True, delay=delay_s)
    return LineProgress(total, desc)
