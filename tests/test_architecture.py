"""docs/architecture.md stays true: its recipes' files exist; the package finds its circuits when installed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyims.errors import NetlistError

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _recipes() -> dict[str, list[str]]:
    out = {}
    for title, body in re.findall(r"^### (.+?)\n(.*?)(?=^### |^## |\Z)", DOC, flags=re.S | re.M):
        files = re.search(r"^Files: (.+?)\.\n", body, flags=re.S | re.M)
        assert files, f"recipe {title!r} has no 'Files:' line"
        out[title] = re.findall(r"`([^`]+)`", files.group(1))
    return out


def test_the_four_recipes_are_there():
    assert set(_recipes()) == {"Add a neuron", "Add a sense amplifier", "Add a layer type", "Add a simulator", "Add a device model"}


@pytest.mark.parametrize("title, files", list(_recipes().items()))
def test_every_file_a_recipe_names_exists(title, files):
    assert files
    for name in files:
        assert (ROOT / name).exists(), f"{title}: {name} does not exist"


def test_every_path_the_doc_names_exists():
    for name in set(re.findall(r"`((?:pyims|tests|circuits|docs|\.ci)/[\w./]+)`", DOC)):
        if "<" not in name and name != "pyims/circuits/":  # that one exists in built wheels only
            assert (ROOT / name).exists(), name


def test_an_installed_package_reads_its_own_copy_of_circuits(tmp_path, monkeypatch):
    import pyims.netlist.library as library

    shipped = tmp_path / "pyims" / "circuits"
    shipped.mkdir(parents=True)
    (shipped / "diff_stage.sub").write_text((ROOT / "circuits" / "diff_stage.sub").read_text())
    monkeypatch.delenv("PYIMS_CIRCUITS_DIR", raising=False)
    monkeypatch.setattr(library, "PACKAGED_CIRCUITS", shipped)
    assert library.circuits_dir() == shipped
    assert "pyims_diff" in library.load_library("pyims_diff").defines
    monkeypatch.setattr(library, "PACKAGED_CIRCUITS", tmp_path / "absent")
    assert library.circuits_dir() == library.CHECKOUT_CIRCUITS  # an editable install reads the checkout
    monkeypatch.setattr(library, "CHECKOUT_CIRCUITS", tmp_path / "absent")
    with pytest.raises(NetlistError, match=r"subcircuit library .* not found; reinstall pyims"):
        library.circuits_dir()
