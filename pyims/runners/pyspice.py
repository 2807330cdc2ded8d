"""ngspice in-process through PySpice's ``NgSpiceShared`` (libngspice).

libngspice holds global state: there is one instance per process, and it must never be used
from two threads. This runner enforces that: the first thread that uses it owns it; any
other thread gets a SimulatorUsageError. For parallel runs use processes (each loads its own
library), e.g. Dask workers with ``processes=True``.

The circuit is sent from memory (no netlist parsing from disk); results are written by
ngspice's ``write`` command to a binary raw file in the run directory and read with the
same reader as the subprocess runner, so both backends share one checked output path.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from pyims.errors import SimulationError, SimulatorNotFound, SimulatorUsageError
from pyims.runners.ngspice import TileRunnerMixin
from pyims.runners.ngspice_env import INSTALL_HINT, NgspiceInfo
from pyims.runners.session import LOG_FILE, RAW_FILE, NgspiceSession
from pyims.runners.spice_output import check_log, tail
from pyims.spec.simulator import SimOptions

__all__ = ["PyspiceRunner", "PyspiceSession", "shared_ngspice"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_instance: Any = None
_instance_klu = False  # whether the loaded libngspice has KLU, probed once at load
_owner_thread: int | None = None


class _ToDebug(logging.Filter):
    """Demote PySpice's libngspice logging to pyims debug records.

    PySpice logs every ngspice stderr line, "Note:" lines included, as an ERROR, and warns
    "Unsupported Ngspice version" for anything newer than 34 (the API it uses is unchanged).
    pyims reports ngspice's output itself, in its exceptions, so these would only mislead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        log.debug("libngspice: %s", record.getMessage())
        return False


def shared_ngspice() -> Any:
    """This process's ``NgSpiceShared`` instance, created on first use by the calling thread."""
    global _instance, _instance_klu, _owner_thread
    with _lock:
        me = threading.get_ident()
        if _owner_thread is not None and _owner_thread != me:
            raise SimulatorUsageError(
                "libngspice is already used by another thread of this process; it is one global instance "
                "per process and not thread-safe. Run pyspice simulations from one thread, or use processes "
                "(multiprocessing, or a Dask cluster with processes=True) for parallelism"
            )
        if _instance is None:
            logging.getLogger("PySpice.Spice.NgSpice.Shared.NgSpiceShared").addFilter(_ToDebug())
            try:
                from PySpice.Spice.NgSpice.Shared import NgSpiceShared
            except ImportError as exc:
                raise SimulatorNotFound(f"PySpice is not installed ({exc}); pip install PySpice") from exc
            try:
                _instance = NgSpiceShared.new_instance()
            except OSError as exc:
                raise SimulatorNotFound(
                    f"libngspice.so could not be loaded ({exc}); {INSTALL_HINT}; or set NGSPICE_LIBRARY_PATH"
                ) from exc
            _instance_klu = "KLU" in _instance.exec_command("version -f")
            _owner_thread = me
        return _instance


def _output(ngspice: Any) -> str:
    return "\n".join(filter(None, (ngspice.stdout, ngspice.stderr)))


class PyspiceSession(NgspiceSession):
    """The simulator session on libngspice through PySpice, in this process (a dialect of ``NgspiceSession``).

    The circuit is sent from memory; results are written by ngspice's ``write`` command to a
    binary raw file in the run directory and read and checked exactly as the subprocess's.
    There is no timeout: an in-process simulation cannot be aborted safely.
    """

    simulator = "pyspice"

    def _find(self, executable: str | os.PathLike[str] | None) -> NgspiceInfo:
        ngspice = shared_ngspice()
        return NgspiceInfo(executable=Path("libngspice"), version=int(ngspice.ngspice_version), klu=_instance_klu)

    def _simulate(self, text: str, rundir: Path) -> tuple[tuple[str, ...], int | None, str]:
        ngspice = shared_ngspice()
        raw_path = rundir / RAW_FILE
        transcript: list[str] = []
        steps = (
            ("load circuit", lambda: ngspice.load_circuit(text)),
            ("run", lambda: ngspice.run()),
            ("write results", lambda: ngspice.exec_command(f"write {raw_path}")),
        )
        try:
            for what, step in steps:
                try:
                    step()
                except Exception as exc:  # PySpice raises NameError / its own errors on ngspice failures
                    transcript.append(_output(ngspice))
                    check_log("\n".join(transcript), rundir=rundir, cmd=("libngspice", what), returncode=None)
                    raise SimulationError(
                        f"libngspice failed at '{what}' ({type(exc).__name__}: {exc})",
                        rundir=rundir, cmd=("libngspice", what), output_tail=tail("\n".join(transcript)),
                    ) from exc
                transcript.append(_output(ngspice))
                check_log(transcript[-1], rundir=rundir, cmd=("libngspice", what), returncode=None)
        finally:
            (rundir / LOG_FILE).write_text("\n".join(transcript))
            # Free the circuit and its plots so the next run starts clean.
            for command in ("destroy all", "remcirc"):
                try:
                    ngspice.exec_command(command)
                except Exception:  # noqa: BLE001 - nothing loaded is not an error here
                    log.debug("libngspice: %s failed (nothing to free)", command)
        return ("libngspice",), None, "\n".join(transcript)


class PyspiceRunner(TileRunnerMixin):
    """Runner on libngspice through PySpice, in this process.

    Args:
        run_root: parent of run directories (default ``$PYIMS_RUN_ROOT`` or ``<tmp>/pyims-runs``).
        keep_run_dir: keep the run directory after a successful run too (failures always keep it).
        klu: tell ngspice to use KLU; ``None`` uses it when the loaded libngspice has it.

    There is no timeout: an in-process simulation cannot be aborted safely. Use the
    ``ngspice`` backend for runs that may need one.
    """

    name = "pyspice"

    def __init__(
        self,
        *,
        run_root: str | os.PathLike[str] | None = None,
        keep_run_dir: bool = False,
        klu: bool | None = None,
    ) -> None:
        self.run_root = Path(run_root) if run_root is not None else None
        self.keep_run_dir = keep_run_dir
        self.klu = klu

    @property
    def session(self) -> PyspiceSession:  # a session per run: the first one loads libngspice and binds this thread
        return PyspiceSession(SimOptions(klu=self.klu, timeout_s=None), run_root=self.run_root, keep_run_dir=self.keep_run_dir)
