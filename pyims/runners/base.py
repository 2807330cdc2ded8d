"""One interface for every runner: a ``TileJob`` in, a ``TileResult`` out.

A runner is set up with its options (executable, timeouts, where run directories go),
then ``run(job)`` does setup -> simulate -> cleanup. Failed runs keep their directory.
The backends are chosen by name in ``pyims.runners.registry`` (``get_runner``); this base knows none
of them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from pyims.errors import SpecError
from pyims.results import TileResult
from pyims.spec import TileSpec, as_input_voltages

__all__ = ["TileJob", "Runner", "make_run_dir", "default_run_root"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TileJob:
    """A tile and the input vectors to apply to it.

    Attributes:
        tile: the crossbar tile.
        v_in_v: read-only float64 array ``(n_vectors, m)``, volts; one row per input vector.
    """

    tile: TileSpec
    v_in_v: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.tile, TileSpec):
            raise SpecError(f"TileJob.tile is a {type(self.tile).__name__}, not a TileSpec; build one with TileSpec(g_s=..., wires=...)")
        object.__setattr__(self, "v_in_v", as_input_voltages(self.tile, self.v_in_v))

    @property
    def n_vectors(self) -> int:
        return int(self.v_in_v.shape[0])


@runtime_checkable
class Runner(Protocol):
    """What every backend provides."""

    name: str

    def run(self, job: TileJob) -> TileResult:
        """Simulate ``job`` and return its currents."""
        ...


def default_run_root() -> Path:
    """Where run directories go: ``$PYIMS_RUN_ROOT``, else ``<tmp>/pyims-runs``."""
    return Path(os.environ.get("PYIMS_RUN_ROOT") or Path(tempfile.gettempdir()) / "pyims-runs")


def make_run_dir(run_root: Path | None, prefix: str) -> Path:
    """A fresh, uniquely named run directory under ``run_root`` (created)."""
    root = Path(run_root) if run_root is not None else default_run_root()
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))
