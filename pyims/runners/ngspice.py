"""The ngspice tile runner: a tile netlist through one ``NgspiceSession`` (``pyims.runners.session``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pyims.netlist import build_tile_netlist
from pyims.results import RunInfo, TileResult
from pyims.runners.base import TileJob
from pyims.runners.ngspice_env import NgspiceInfo
from pyims.runners.rawfile import RawPlot
from pyims.runners.session import LOG_FILE, NETLIST_FILE, RAW_FILE, NgspiceSession
from pyims.runners.spice_output import split_tile_currents, tile_vector_names
from pyims.spec.simulator import DEFAULT_TIMEOUT_S, SimOptions

__all__ = ["NgspiceRunner", "run_ngspice_netlist", "NETLIST_FILE", "RAW_FILE", "LOG_FILE"]


def run_ngspice_netlist(netlist_text: str, rundir: Path, *, info: NgspiceInfo, timeout_s: float | None) -> list[RawPlot]:
    """Run ngspice in batch mode on raw ``netlist_text`` inside ``rundir``; every plot of its raw file.

    The low-level step of ``NgspiceSession`` (for hand-written netlists); a failure keeps ``rundir``.
    """
    return NgspiceSession(SimOptions(timeout_s=timeout_s), info=info).execute(netlist_text, Path(rundir))


class TileRunnerMixin:
    """A tile runner on a SPICE session: build the tile's netlist, run it, read the currents."""

    name = "spice"
    session: NgspiceSession

    def run(self, job: TileJob) -> TileResult:
        t0 = time.perf_counter()
        names = tile_vector_names(n_rows=job.tile.n_rows, n_cols=job.tile.n_cols, batched=job.n_vectors > 1)
        out = self.session.run(build_tile_netlist(job.tile, job.v_in_v), expect=names, n_points=job.n_vectors,
                               prefix=f"tile-{self.name}-")
        i_col, i_src = split_tile_currents(out.data, job.tile.n_cols)
        info = RunInfo(backend=self.name, ngspice_version=out.version, klu=out.klu,
                       wall_time_s=time.perf_counter() - t0, run_dir=out.rundir)
        return TileResult(i_col_a=i_col, i_src_a=i_src, info=info)


class NgspiceRunner(TileRunnerMixin):
    """Runner on the ngspice executable.

    Args:
        executable: path or name of ngspice (default: ``$PYIMS_NGSPICE`` or ``ngspice`` on PATH).
        timeout_s: wall-clock limit of one ngspice run, seconds (``None``: no limit).
        run_root: parent of run directories (default ``$PYIMS_RUN_ROOT`` or ``<tmp>/pyims-runs``).
        keep_run_dir: keep the run directory after a successful run too (failures always keep it).
        klu: tell ngspice to use KLU; ``None`` uses it when this ngspice has it.
    """

    name = "ngspice"

    def __init__(
        self,
        *,
        executable: str | os.PathLike[str] | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        run_root: str | os.PathLike[str] | None = None,
        keep_run_dir: bool = False,
        klu: bool | None = None,
    ) -> None:
        self.session = NgspiceSession(
            SimOptions(klu=klu, timeout_s=timeout_s), executable=executable, run_root=run_root, keep_run_dir=keep_run_dir
        )
        self.info = self.session.info
        self.klu = self.session.options.use_klu(self.info.klu)
