"""MNIST: IDX files from a directory, or downloaded once into a cache with checksum checks.

The files are fetched from the first mirror that answers, streamed to a temporary file
beside the target, verified against their published MD5 and only then renamed into place,
so an interrupted or corrupted download never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from pyims.fileio import umask_mode
from pyims.errors import ChecksumError, DatasetError

__all__ = ["MNIST_FILES", "MNIST_MIRRORS", "download_mnist", "default_cache_dir", "file_md5"]

log = logging.getLogger(__name__)

#: The four MNIST files and their MD5 checksums (as published with torchvision's mirror).
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: Mirrors tried in order (the original yann.lecun.com site no longer serves the files).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_CHUNK = 1 << 16


def default_cache_dir() -> Path:
    """``$PYIMS_DATA_DIR``, else ``$XDG_CACHE_HOME/pyims`` (``~/.cache/pyims``)."""
    if os.environ.get("PYIMS_DATA_DIR"):
        return Path(os.environ["PYIMS_DATA_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pyims"


def file_md5(path: Path) -> str:
    """Hex MD5 of the file at ``path``."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url: str, dest: Path, md5: str, timeout_s: float) -> None:
    """Stream ``url`` to ``dest`` via a temporary file; verify ``md5`` before the rename."""
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != md5:
            raise ChecksumError(
                f"{url}: MD5 {h.hexdigest()} does not match the expected {md5}; the mirror serves a "
                "different or damaged file. Try another mirror (dataset.mirrors) or fetch the files by hand "
                "and point dataset.path at them"
            )
        os.chmod(tmp, umask_mode())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_mnist(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    files: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> Path:
    """Make sure the MNIST files are in ``cache_dir/mnist`` with the right checksums; return that directory.

    Files already present are verified, not downloaded again; a cached file whose checksum is
    wrong raises ChecksumError naming it (delete it to fetch it again). ``files`` maps file
    names to MD5s (default: ``MNIST_FILES``); tests use it to serve small files of their own.
    """
    files = dict(MNIST_FILES if files is None else files)
    target = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "mnist"
    target.mkdir(parents=True, exist_ok=True)
    for name, md5 in files.items():
        dest = target / name
        if dest.exists():
            got = file_md5(dest)
            if got != md5:
                raise ChecksumError(
                    f"cached file {dest} has MD5 {got}, expected {md5}; delete it and run again to re-download"
                )
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            log.info("downloading %s", url)
            try:
                _fetch(url, dest, md5, timeout_s)
                break
            except ChecksumError:
                raise
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {exc}")
        else:
            raise DatasetError(
                f"could not download {name} from any mirror ({'; '.join(errors)}); check the network, "
                "or download the MNIST IDX files by hand and set dataset.path to their directory"
            )
    return target
