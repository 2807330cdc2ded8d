"""The ``pyims netlist`` flow: a tile (given, or random and reproducible) -> its ngspice netlist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

import numpy as np

from pyims.experiment.tile_demo import random_tile_job
from pyims.netlist import build_tile_netlist, emit
from pyims.netlist.model import Netlist
from pyims.runners import TileJob
from pyims.spec import TileSpec, WireParasitics

__all__ = ["TileNetlist", "tile_netlist"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TileNetlist:
    """A tile's netlist model and its size; ``write`` emits the ngspice text."""

    netlist: Netlist
    n_rows: int
    n_cols: int
    n_vectors: int

    def write(self, dest: TextIO) -> None:
        """Write the ngspice text to the stream ``dest``."""
        emit(self.netlist, dest)


def tile_netlist(wires: WireParasitics, *, g_s: np.ndarray | None = None, v_in_v: np.ndarray | None = None,
                 size: tuple[int, int] = (4, 4), seed: int = 0, n_vectors: int = 1, klu: bool = True) -> TileNetlist:
    """The netlist of the tile with conductances ``g_s`` ``(m, n)`` S driven at ``v_in_v`` ``(n_vectors, m)`` V
    (default 0.1 V), or without ``g_s`` of a random ``size`` tile (``random_tile_job(m, n, seed, ...)``)."""
    if g_s is not None:
        g = np.asarray(g_s)
        v = v_in_v if v_in_v is not None else np.full((1, g.shape[0] if g.ndim else 1), 0.1)
        job = TileJob(tile=TileSpec(g_s=g, wires=wires), v_in_v=v)
    else:
        job = random_tile_job(size[0], size[1], seed, wires, n_vectors)
    return TileNetlist(netlist=build_tile_netlist(job.tile, job.v_in_v, klu=klu), n_rows=job.tile.n_rows,
                       n_cols=job.tile.n_cols, n_vectors=job.n_vectors)
