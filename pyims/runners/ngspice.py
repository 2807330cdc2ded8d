"""ngspice as a subprocess in batch mode; results read back from a binary raw file."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

from pyims.errors import RawFileError, SimulationError, SimulationTimeout
from pyims.netlist import build_tile_netlist, format_netlist
from pyims.results import TileResult
from pyims.runners.base import TileJob, make_run_dir
from pyims.runners.ngspice_env import NgspiceInfo, find_ngspice
from pyims.runners.rawfile import RawPlot, read_raw
from pyims.runners.spice_output import check_log, finish_tile_run, tail

__all__ = ["NgspiceRunner", "run_ngspice_netlist", "NETLIST_FILE", "RAW_FILE", "LOG_FILE"]

log = logging.getLogger(__name__)

NETLIST_FILE = "circuit.cir"
RAW_FILE = "output.raw"
LOG_FILE = "ngspice.log"


def run_ngspice_netlist(
    netlist_text: str,
    rundir: Path,
    *,
    info: NgspiceInfo,
    timeout_s: float | None,
) -> list[RawPlot]:
    """Run ngspice in batch mode on ``netlist_text`` inside ``rundir``; return the raw file's plots.

    ``rundir`` receives the netlist, ngspice's combined output (``ngspice.log``) and the raw
    file. On any failure the directory is left in place and named in the raised error.
    """
    netlist_path = rundir / NETLIST_FILE
    netlist_path.write_text(netlist_text)
    cmd = (str(info.executable), "-b", "-r", RAW_FILE, NETLIST_FILE)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    log_path = rundir / LOG_FILE
    with open(log_path, "wb") as log_file:
        try:
            proc = subprocess.run(
                cmd, cwd=rundir, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                timeout=timeout_s, env=env, check=False,
            )
        except subprocess.TimeoutExpired:
            log_file.flush()
            raise SimulationTimeout(
                f"ngspice did not finish within timeout_s={timeout_s}; raise NgspiceRunner(timeout_s=...) "
                "or reduce the tile or batch size",
                rundir=rundir, cmd=cmd, output_tail=tail(log_path.read_text(errors="replace")),
            ) from None
    output = log_path.read_text(errors="replace")
    check_log(output, rundir=rundir, cmd=cmd, returncode=proc.returncode)
    try:
        return read_raw(rundir / RAW_FILE)
    except RawFileError as exc:
        raise SimulationError(
            f"ngspice produced no usable results ({exc})", rundir=rundir, cmd=cmd,
            returncode=proc.returncode, output_tail=tail(output),
        ) from exc


class NgspiceRunner:
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
        timeout_s: float | None = 3600.0,
        run_root: str | os.PathLike[str] | None = None,
        keep_run_dir: bool = False,
        klu: bool | None = None,
    ) -> None:
        self.info = find_ngspice(executable)
        self.timeout_s = timeout_s
        self.run_root = Path(run_root) if run_root is not None else None
        self.keep_run_dir = keep_run_dir
        self.klu = self.info.klu if klu is None else bool(klu)

    def run(self, job: TileJob) -> TileResult:
        t0 = time.perf_counter()
        netlist = build_tile_netlist(job.tile, job.v_in_v, klu=self.klu)
        rundir = make_run_dir(self.run_root, "tile-ngspice-")
        plots = run_ngspice_netlist(format_netlist(netlist), rundir, info=self.info, timeout_s=self.timeout_s)
        return finish_tile_run(
            plots, job, rundir=rundir, keep_run_dir=self.keep_run_dir, backend=self.name,
            ngspice_version=self.info.version, klu=self.klu, t0=t0,
        )
