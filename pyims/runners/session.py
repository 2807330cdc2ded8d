"""One simulator session: the only place pyims runs a SPICE simulator.

``NgspiceSession.run(netlist, expect=...)`` does the whole sequence, for tiles, networks,
transients, characterisation and goldens alike:

1. a fresh run directory under the run root (``$PYIMS_RUN_ROOT``, else ``<tmp>/pyims-runs``);
2. the netlist with the session's ``SimOptions`` applied, written there as ``circuit.cir``;
3. the simulator (``_simulate``: ngspice in batch mode as a subprocess in its own process
   group, killed whole when ``timeout_s`` passes; ``PyspiceSession`` overrides it with
   libngspice in this process);
4. its output judged by exit status, explicit ``Error:`` lines and non-convergence messages;
5. the raw file read, every expected vector present, the point count as expected, every value
   finite (ngspice exits 0 after many failures and can write NaN);
6. on success the run directory is removed (unless kept); on any failure a typed error
   (``SimulationError`` and its subclasses) names it, and it stays.

A second simulator dialect is a subclass that overrides ``_simulate`` (and, if its output
differs, ``_read``).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyims.errors import RawFileError, SimulationError, SimulationTimeout, SpecError
from pyims.netlist.emit import format_netlist
from pyims.netlist.model import Netlist
from pyims.runners.base import make_run_dir
from pyims.runners.ngspice_env import NgspiceInfo, find_ngspice
from pyims.runners.rawfile import RawPlot, read_raw
from pyims.runners.spice_output import check_log, tail
from pyims.spec.simulator import SimOptions

__all__ = ["NgspiceSession", "SimOutput", "NETLIST_FILE", "RAW_FILE", "LOG_FILE"]

log = logging.getLogger(__name__)

NETLIST_FILE = "circuit.cir"
RAW_FILE = "output.raw"
LOG_FILE = "ngspice.log"


@dataclass(frozen=True, slots=True, eq=False)
class SimOutput:
    """The checked vectors of one run.

    Attributes:
        names: the expected vector names, lower-cased (``"v(z0_1)"``, ``"i(vs0)"``, ``"time"``).
        data: float64 ``(n_points, len(names))``, every value finite, in SI units.
        rundir: the run directory (``None`` once removed after success).
        simulator: e.g. ``"ngspice"``; ``version``: its major version; ``klu``: whether KLU was used.
        wall_time_s: the whole run, netlist writing and raw-file reading included.
    """

    names: tuple[str, ...]
    data: np.ndarray
    rundir: Path | None
    simulator: str
    version: int
    klu: bool
    wall_time_s: float

    @property
    def n_points(self) -> int:
        return int(self.data.shape[0])

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """``(n_points, len(names))`` for names among the expected ones."""
        index = {n: k for k, n in enumerate(self.names)}
        try:
            return np.ascontiguousarray(self.data[:, [index[n.lower()] for n in names]])
        except KeyError as exc:
            raise SimulationError(f"vector {exc.args[0]!r} was not among the expected ones", rundir=self.rundir) from None


class NgspiceSession:
    """ngspice in batch mode, as a subprocess (see the module docstring).

    Args:
        options: tolerances, integration method, KLU, time limit.
        executable: path or name of ngspice (default ``$PYIMS_NGSPICE`` or ``ngspice`` on PATH).
        run_root: parent of run directories (default ``$PYIMS_RUN_ROOT`` or ``<tmp>/pyims-runs``).
        keep_run_dir: keep run directories after success too (failures always keep theirs).
    """

    simulator = "ngspice"

    def __init__(
        self,
        options: SimOptions = SimOptions(),
        *,
        executable: str | os.PathLike[str] | None = None,
        run_root: str | os.PathLike[str] | None = None,
        keep_run_dir: bool = False,
        info: NgspiceInfo | None = None,
    ) -> None:
        if not isinstance(options, SimOptions):
            raise SpecError(f"options is a {type(options).__name__}; pass a pyims.SimOptions(...)")
        self.options = options
        self.info = info if info is not None else self._find(executable)
        self.run_root = Path(run_root) if run_root is not None else None
        self.keep_run_dir = bool(keep_run_dir)

    # -------------------------------------------------------------- what a dialect provides
    def _find(self, executable: str | os.PathLike[str] | None) -> NgspiceInfo:
        return find_ngspice(executable)

    @property
    def klu_available(self) -> bool:
        return self.info.klu

    @property
    def version(self) -> int:
        return self.info.version

    def _simulate(self, text: str, rundir: Path) -> tuple[tuple[str, ...], int | None, str]:
        """Run ngspice on ``rundir/circuit.cir``; raise on failure; leave the raw file in ``rundir``.

        Returns ``(cmd, returncode, output)`` for the messages of later failures.
        """
        # -n: no .spiceinit (neither the run directory's nor the user's home's): runs do not depend on it
        cmd = (str(self.info.executable), "-n", "-b", "-r", RAW_FILE, NETLIST_FILE)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        log_path = rundir / LOG_FILE
        timeout_s = self.options.timeout_s
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                cmd, cwd=rundir, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # its own process group: a timeout kills everything it started
            )
            try:
                returncode = proc.wait(timeout=timeout_s)
            except BaseException as exc:
                _kill_group(proc)
                if isinstance(exc, subprocess.TimeoutExpired):
                    log_file.flush()
                    raise SimulationTimeout(
                        f"ngspice did not finish within timeout_s={timeout_s}; raise the timeout "
                        "(SimOptions.timeout_s, simulation.timeout_s) or reduce the tile or batch size",
                        rundir=rundir, cmd=cmd, output_tail=tail(log_path.read_text(errors="replace")),
                    ) from None
                raise
        output = log_path.read_text(errors="replace")
        check_log(output, rundir=rundir, cmd=cmd, returncode=returncode)
        return cmd, returncode, output

    def _read(self, rundir: Path, cmd: tuple[str, ...], returncode: int | None, output: str) -> list[RawPlot]:
        try:
            return read_raw(rundir / RAW_FILE)
        except RawFileError as exc:
            raise SimulationError(
                f"{self.simulator} produced no usable results ({exc})", rundir=rundir, cmd=cmd,
                returncode=returncode, output_tail=tail(output),
            ) from exc

    # -------------------------------------------------------------- the sequence
    def execute(self, text: str, rundir: Path) -> list[RawPlot]:
        """Steps 3-4 on netlist ``text`` in an existing ``rundir``: every plot of the raw file, unchecked."""
        rundir = Path(rundir)
        (rundir / NETLIST_FILE).write_text(text)
        return self._read(rundir, *self._simulate(text, rundir))

    def format(self, netlist: Netlist) -> str:
        """The netlist text this session would run (its options applied)."""
        return format_netlist(netlist, options=self.options.lines(klu_available=self.klu_available))

    def run(
        self,
        netlist: Netlist,
        *,
        expect: Sequence[str],
        n_points: int | None = None,
        prefix: str = "run-",
    ) -> SimOutput:
        """Run ``netlist``; return the vectors ``expect`` (names as in the raw file), checked (module docstring)."""
        t0 = time.perf_counter()
        rundir = make_run_dir(self.run_root, prefix)
        plot = self.execute(self.format(netlist), rundir)[-1]
        names = tuple(n.lower() for n in expect)
        try:
            data = plot.columns(names) if names else np.zeros((plot.data.shape[0], 0))
        except RawFileError as exc:
            raise SimulationError(f"{self.simulator} output is incomplete ({exc})", rundir=rundir) from exc
        if n_points is not None and data.shape[0] != n_points:
            raise SimulationError(
                f"{self.simulator} returned {data.shape[0]} points in plot {plot.plotname!r}, expected {n_points}",
                rundir=rundir,
            )
        bad = ~np.isfinite(data)
        if bad.any():
            k, j = np.argwhere(bad)[0]
            raise SimulationError(
                f"{self.simulator} wrote a non-finite value {float(data[k, j])!r} for {names[j]} at point {int(k)} "
                f"({int(bad.sum())} non-finite values in all); the circuit has no valid solution there",
                rundir=rundir,
            )
        if not self.keep_run_dir:
            shutil.rmtree(rundir, ignore_errors=True)
        return SimOutput(
            names=names, data=data, rundir=rundir if self.keep_run_dir else None, simulator=self.simulator,
            version=self.version, klu=self.options.use_klu(self.klu_available), wall_time_s=time.perf_counter() - t0,
        )


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and everything in its process group; reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()
