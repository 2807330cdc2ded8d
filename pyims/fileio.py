"""Writing results so that nothing is ever half-written or mixed, with the user's umask.

* ``atomic_write_bytes``: a file is written to a temporary name beside its target, flushed, given
  the permissions the umask allows (``0644`` under the usual ``022``; ``mkstemp`` alone gives
  ``0600``) and renamed into place.
* ``publish_dir``: a report folder is built whole in a temporary folder beside its target, then
  renamed into place; an existing target is replaced only when it is a previous report of the same
  kind (every entry one that report writes), else the run is refused -- before any work, through
  ``check_replaceable``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pyims.errors import SpecError

__all__ = ["umask_mode", "atomic_write_bytes", "writable_ancestor", "check_writable_file", "check_replaceable", "publish_dir", "OutputDirError",
           "content_digest"]

T = TypeVar("T")


class OutputDirError(SpecError):
    """An output folder cannot be written or would replace something that is not a pyims output."""


def umask_mode(base: int = 0o666) -> int:
    """``base`` with the process umask applied (what ``open`` would give a new file)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | Callable[[str], None]) -> Path:
    """Write ``data`` (bytes, or a function that writes the temporary path) to ``path`` atomically. An OSError
    names ``path`` (never the temporary file beside it)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise type(exc)(exc.errno, f"{exc.strerror or exc} (writing {path})", str(path)) from exc
    try:
        _write_and_replace(fd, tmp, path, data)
    except OSError as exc:
        if exc.filename is not None and str(exc.filename) != str(path):  # the temporary name means nothing to a user
            raise type(exc)(exc.errno, f"{exc.strerror or exc} (writing {path})", str(path)) from exc
        raise
    return path


def _write_and_replace(fd: int, tmp: str, path: Path, data: bytes | Callable[[str], None]) -> None:
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def writable_ancestor(path: str | os.PathLike[str]) -> Path | None:
    """The nearest existing folder at or above ``path`` if this process can create entries in it, else ``None``."""
    probe = Path(path)
    while not probe.exists():
        probe = probe.parent
    return probe if probe.is_dir() and os.access(probe, os.W_OK | os.X_OK) else None


def check_writable_file(path: str | os.PathLike[str], what: str) -> Path:
    """OutputDirError unless a file can be written at ``path`` (``what`` names it in the message): it is not a folder
    and a writable folder lies at or above its parent. Returns ``path`` as a Path; check before long work."""
    target = Path(path)
    if target.is_dir():
        raise OutputDirError(f"{what} {target} is a folder; give a file path, e.g. {target / 'report.md'}")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputDirError(f"{what} {target} exists and cannot be written; choose another path")
    if writable_ancestor(target.parent) is None:
        raise OutputDirError(f"{what} {target} cannot be written: no writable folder above it")
    return target


def check_replaceable(target: str | os.PathLike[str], allowed: Callable[[str], bool], what: str) -> Path:
    """OutputDirError unless ``target`` is absent, or a folder whose every entry is a plain file whose name ``allowed``
    accepts (a previous ``what``), and its parent can be written. Returns ``target`` as a Path."""
    target = Path(target)
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink():
            raise OutputDirError(f"output {target} exists and is not a folder; choose another output folder")
        # a previous report holds plain files only: a folder or a link under a report file's name is the user's
        strangers = sorted(name for name in os.listdir(target)
                           if not allowed(name) or (target / name).is_symlink() or not (target / name).is_file())
        if strangers:
            raise OutputDirError(
                f"output folder {target} holds {strangers[:3]}{' ...' if len(strangers) > 3 else ''}, which no {what} "
                "writes; pyims replaces only a previous report folder whole -- choose an empty or new folder"
            )
    if writable_ancestor(target.parent) is None:
        raise OutputDirError(f"output folder {target} cannot be created: no writable folder above it")
    return target


def publish_dir(target: str | os.PathLike[str], build: Callable[[Path], T], allowed: Callable[[str], bool], what: str) -> T:
    """Build a folder with ``build(tmp_dir)`` beside ``target`` and rename it into place (replacing a previous
    one); returns what ``build`` returned. ``target`` is checked (``check_replaceable``) before ``build`` runs."""
    target = check_replaceable(target, allowed, what)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    old = None
    try:
        os.chmod(tmp, umask_mode(0o777))
        built = build(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)  # put the previous report back whole
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return built


#: Files a folder digest reads at most (a dataset folder of IDX files has four).
_MAX_DIGEST_FILES = 10_000
_DIGESTS: dict[tuple, str] = {}


def content_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of what ``path`` holds: a file's bytes; a folder's regular files (names relative to it, then
    each file's digest, sorted; symbolic links are named with their target, never followed); ``"missing"`` when
    nothing is there. Cached per process by each file's size and modification time, so a key over a large dataset
    costs one read."""
    import hashlib
    import stat as stat_mod

    p = Path(path)
    try:
        st = os.lstat(p)
    except OSError:
        return "missing"
    if stat_mod.S_ISLNK(st.st_mode):
        return "link:" + hashlib.sha256(os.readlink(p).encode()).hexdigest()
    if stat_mod.S_ISREG(st.st_mode):
        key = (str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
        if key not in _DIGESTS:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            _DIGESTS[key] = h.hexdigest()
        return _DIGESTS[key]
    if stat_mod.S_ISDIR(st.st_mode):
        h = hashlib.sha256()
        n = 0
        for root, dirs, files in os.walk(p, followlinks=False):
            dirs.sort()
            for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(root, d))):
                n += 1
                if n > _MAX_DIGEST_FILES:
                    raise SpecError(f"{p} holds more than {_MAX_DIGEST_FILES} files; point the config at the data itself")
                full = os.path.join(root, name)
                h.update(os.path.relpath(full, p).encode() + b"\0" + content_digest(full).encode() + b"\n")
        return "dir:" + h.hexdigest()
    return "special"  # a FIFO, socket or device: never read
