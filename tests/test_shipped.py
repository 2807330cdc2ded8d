"""#26 requirement 5 (part): the examples and goldens ship with the package; `pyims examples DIR` copies the
examples and every copied config passes `pyims check` there; `pyims golden update` never writes the installed
copy. (.ci/wheel-check runs the same from a wheel in a fresh virtualenv.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import pyims.shipped as shipped
from pyims.cli import main
from pyims.errors import SpecError
from pyims.experiment import load_config
from pyims.experiment.preflight import preflight
from pyims.golden import GoldenError, update_golden

ROOT = Path(__file__).resolve().parents[1]


def test_the_examples_copy_out_and_every_config_passes_check(tmp_path, capsys):
    assert main(["examples", str(tmp_path / "ex")]) == 0
    assert "copied" in capsys.readouterr().out
    copied = {p.relative_to(tmp_path / "ex") for p in (tmp_path / "ex").rglob("*") if p.is_file()}
    source = {p.relative_to(ROOT / "examples") for p in (ROOT / "examples").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert copied == source
    configs = [p for p in (tmp_path / "ex").rglob("*.toml") if "sweeps" not in p.parts]
    assert len(configs) >= 15
    for cfg in configs:
        if cfg.name in ("mnist_idx_dir.toml", "mnist5k_subset.toml"):
            continue  # the user's own MNIST folder; the optional mnist5k extra
        preflight(load_config(cfg), tmp_path / "out" / cfg.stem)  # the folder it was copied to resolves its paths


def test_examples_never_replace_a_users_file_unless_forced(tmp_path):
    (tmp_path / "digits_basic.toml").write_text("mine")
    with pytest.raises(SpecError, match=r"digits_basic.toml exists \(1 example file\(s\) would be replaced\); .* --force"):
        shipped.copy_examples(tmp_path)
    assert (tmp_path / "digits_basic.toml").read_text() == "mine"
    assert main(["examples", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "digits_basic.toml").read_text() == (ROOT / "examples" / "digits_basic.toml").read_text()


def test_an_installed_copy_of_the_goldens_is_never_written(tmp_path, monkeypatch):
    fake_pkg = tmp_path / "site" / "pyims"
    (fake_pkg / "_golden").mkdir(parents=True)
    monkeypatch.setattr(shipped, "_PACKAGE", fake_pkg)
    monkeypatch.setattr(shipped, "_CHECKOUT", tmp_path / "site")  # no pyproject.toml there: an installed package
    assert shipped.golden_dir() == fake_pkg / "_golden" and shipped.examples_dir() == fake_pkg / "_examples"
    with pytest.raises(GoldenError, match=r"installed package's copy of the goldens, which pyims never writes"):
        update_golden("neuron_sigmoid_transfer", fake_pkg / "_golden")
    assert not any((fake_pkg / "_golden").iterdir())


def test_in_a_checkout_the_goldens_and_examples_are_the_checkouts():
    assert shipped.in_checkout()
    assert shipped.golden_dir() == ROOT / "tests" / "golden" and shipped.examples_dir() == ROOT / "examples"
