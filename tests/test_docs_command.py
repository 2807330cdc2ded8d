"""``pyims docs``: the Markdown pages ship with the package (a wheel has no repository beside it; `.ci/wheel-check`
runs ``pyims docs`` from one), and every
"see docs/NAME.md" a message gives names a page that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyims.cli import main
from pyims.errors import SpecError
from pyims.shipped import doc_names, doc_path, docs_dir

ROOT = Path(__file__).resolve().parents[1]


def test_every_markdown_page_is_listed_and_printed(capsys):
    assert doc_names() == sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert main(["docs"]) == 0
    listing = capsys.readouterr().out
    assert "cluster" in listing and "SPICE verification on a cluster" in listing
    assert main(["docs", "cluster"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    for spelling in ("cluster.md", "docs/cluster.md"):
        assert doc_path(spelling) == docs_dir() / "cluster.md"
    assert main(["docs", "security", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(docs_dir() / "security.md")


def test_an_unknown_page_is_one_line_with_the_closest_names(capsys):
    with pytest.raises(SpecError, match=r"no doc page 'clustr' -- did you mean 'cluster'\?; the pages: adc, "):
        doc_path("clustr")
    assert main(["docs", "clustr"]) == 2
    assert "did you mean 'cluster'" in capsys.readouterr().err


def test_every_page_a_message_names_exists():
    """Hints in the code name pages as ``pyims docs NAME`` or ``docs/NAME.md``: each must be a page that ships."""
    names = set(doc_names())
    named = set()
    for path in (ROOT / "pyims").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"pyims docs ([a-z][a-z0-9_-]*)", text))
        named |= set(re.findall(r"docs/([a-z][a-z0-9_-]*)\.md", text))
    named.discard("name")  # the usage line's placeholder
    assert named and named <= names, sorted(named - names)
