"""The tile runners by name: ``get_runner(backend, **options)``.

It sits above the runners it names (``base`` knows none of them), and imports each inside
``get_runner`` so that naming one backend never loads another's dependencies (PySpice, scipy).
"""

from __future__ import annotations

from pyims.errors import SpecError
from pyims.runners.base import Runner

__all__ = ["BACKENDS", "get_runner"]

#: The backend names accepted by ``get_runner`` and ``pyims.simulate_tile``.
BACKENDS = ("native", "ngspice", "pyspice")


def get_runner(backend: str, **options: object) -> Runner:
    """The runner for ``backend`` ("native", "ngspice" or "pyspice"), built with ``options``."""
    if backend == "native":
        from pyims.runners.native import NativeRunner

        return NativeRunner(**options)  # type: ignore[arg-type]
    if backend == "ngspice":
        from pyims.runners.ngspice import NgspiceRunner

        return NgspiceRunner(**options)  # type: ignore[arg-type]
    if backend == "pyspice":
        from pyims.runners.pyspice import PyspiceRunner

        return PyspiceRunner(**options)  # type: ignore[arg-type]
    raise SpecError(f"backend={backend!r} is unknown; use one of {', '.join(BACKENDS)}")
