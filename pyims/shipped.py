"""What the package ships besides code: the example configs and models, the golden waveforms and the docs.

In a checkout they are ``examples/`` and ``tests/golden/`` at the top of the repository; a wheel
carries copies as package data (``pyims/_examples``, ``pyims/_golden``, made by ``setup.py``), so
``pyims examples DIR`` and ``pyims golden check`` work from a wheel in an empty folder. The Markdown
pages of ``docs/`` ship as ``pyims/_docs`` (their figures stay in the repository): ``pyims docs NAME``
prints one, so every "see docs/NAME.md" a message gives can be read from a wheel. The
installed copies are read, never written (``pyims golden update`` needs a folder of the user's).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pyims.errors import SpecError

__all__ = ["examples_dir", "golden_dir", "docs_dir", "doc_names", "doc_path", "in_checkout", "copy_examples"]

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
#: Names never copied out of the examples (caches, editor and notebook droppings).
_SKIP = ("__pycache__", ".ipynb_checkpoints", ".DS_Store")


def in_checkout() -> bool:
    """Whether pyims runs from a source checkout (``pyproject.toml`` and ``examples/`` beside the package)."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "examples").is_dir()


def examples_dir() -> Path:
    """The example configs and models: the checkout's ``examples/``, else the package's copy."""
    return _CHECKOUT / "examples" if in_checkout() else _PACKAGE / "_examples"


def golden_dir() -> Path:
    """The golden waveforms: the checkout's ``tests/golden``, else the package's copy (read only)."""
    checkout = _CHECKOUT / "tests" / "golden"
    return checkout if in_checkout() and checkout.is_dir() else _PACKAGE / "_golden"


def docs_dir() -> Path:
    """The Markdown docs: the checkout's ``docs/``, else the package's copy."""
    checkout = _CHECKOUT / "docs"
    return checkout if in_checkout() and checkout.is_dir() else _PACKAGE / "_docs"


def doc_names() -> list[str]:
    """The pages ``pyims docs`` knows, e.g. ``["adc", "architecture", ...]`` (file names without ``.md``)."""
    folder = docs_dir()
    return sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []


def doc_path(name: str) -> Path:
    """The page ``name`` (``"cluster"``, ``"cluster.md"`` or ``"docs/cluster.md"``); SpecError listing the pages
    (with the closest names) otherwise."""
    import difflib

    stem = Path(str(name)).name.removesuffix(".md")
    names = doc_names()
    if stem not in names:
        close = difflib.get_close_matches(stem, names, n=3)
        hint = f" -- did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise SpecError(f"no doc page {name!r}{hint}; the pages: {', '.join(names) or '(none found: reinstall pyims)'}")
    return docs_dir() / f"{stem}.md"


def is_installed_copy(path: Path) -> bool:
    """Whether ``path`` lies inside the installed package's data (which pyims never writes)."""
    try:
        Path(path).resolve().relative_to(_PACKAGE)
    except ValueError:
        return False
    return not in_checkout() or Path(path).resolve().is_relative_to(_PACKAGE / "_golden")


def copy_examples(dest: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
    """Copy the shipped examples into ``dest`` (created); returns the files written, relative to ``dest``.
    An existing file is never replaced unless ``force`` (SpecError naming the first one)."""
    src = examples_dir()
    if not src.is_dir():
        raise SpecError(f"the examples are not where this installation keeps them ({src}); reinstall pyims")
    dest = Path(dest)
    files = sorted(p for p in src.rglob("*") if p.is_file() and not any(part in _SKIP for part in p.relative_to(src).parts))
    if not force:
        clash = [f for f in files if (dest / f.relative_to(src)).exists()]
        if clash:
            raise SpecError(f"{dest / clash[0].relative_to(src)} exists ({len(clash)} example file(s) would be replaced); "
                            "choose an empty folder, or pass --force to overwrite them")
    out = []
    for f in files:
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
        out.append(f.relative_to(src))
    return out
