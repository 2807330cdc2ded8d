"""Find the ngspice executable and what it can do (version, KLU)."""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from pyims.errors import NgspiceVersionWarning, SimulatorNotFound

__all__ = ["NgspiceInfo", "find_ngspice", "MIN_FAST_VERSION", "INSTALL_HINT"]

log = logging.getLogger(__name__)

#: ngspice releases before 42 have no KLU in Debian/Ubuntu builds: crossbars are ~10-100x slower.
MIN_FAST_VERSION = 42

INSTALL_HINT = (
    "install ngspice >= 42 built with KLU: run `bash .ci/install-ngspice` from the pyims checkout "
    "(Debian bookworm: apt-get install -t bookworm-backports ngspice libngspice0 libngspice0-dev), "
    "or point PYIMS_NGSPICE at the executable"
)


@dataclass(frozen=True, slots=True)
class NgspiceInfo:
    """An ngspice executable and its capabilities."""

    executable: Path
    version: int
    klu: bool


def _resolve(executable: str | os.PathLike[str] | None) -> Path:
    name = os.fspath(executable) if executable is not None else os.environ.get("PYIMS_NGSPICE", "ngspice")
    found = shutil.which(name)
    if found is None:
        raise SimulatorNotFound(f"ngspice executable {name!r} not found; {INSTALL_HINT}")
    return Path(found).resolve()


#: How long ``ngspice --version`` may take before the executable counts as broken.
PROBE_TIMEOUT_S = 60.0


@functools.lru_cache(maxsize=8)
def _probe(path: Path) -> NgspiceInfo:
    try:
        proc = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              check=False, stdin=subprocess.DEVNULL, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise SimulatorNotFound(
            f"ngspice at {path} did not answer `--version` within {PROBE_TIMEOUT_S:g} s; {INSTALL_HINT}"
        ) from None
    except OSError as exc:
        raise SimulatorNotFound(f"ngspice at {path} cannot be run ({exc}); {INSTALL_HINT}") from exc
    text = proc.stdout + proc.stderr
    match = re.search(r"ngspice-(\d+)", text)
    if match is None:
        raise SimulatorNotFound(f"{path} does not report an ngspice version (`--version` said {text[:200]!r}); {INSTALL_HINT}")
    info = NgspiceInfo(executable=path, version=int(match.group(1)), klu="KLU" in text)
    if info.version < MIN_FAST_VERSION or not info.klu:
        message = (
            f"ngspice-{info.version} at {path} {'has no KLU solver' if not info.klu else 'is older than 42'}: "
            f"a 128x128 crossbar takes ~100x longer than with ngspice 46 + KLU; {INSTALL_HINT}"
        )
        log.warning(message)
        warnings.warn(message, NgspiceVersionWarning, stacklevel=3)
    return info


def find_ngspice(executable: str | os.PathLike[str] | None = None) -> NgspiceInfo:
    """Locate ngspice (argument, else ``$PYIMS_NGSPICE``, else ``ngspice`` on PATH) and probe it.

    Raises SimulatorNotFound with install instructions when it is missing.
    Warns (NgspiceVersionWarning and a log record) when it is older than 42 or lacks KLU.
    """
    return _probe(_resolve(executable))
