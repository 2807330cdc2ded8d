"""Test options: how simulator tests run, and golden regeneration.

--ngspice=required      simulator tests must run; a missing ngspice/libngspice fails them (CI)
--ngspice=if_available  run them when ngspice is installed, skip otherwise (default)
--ngspice=disabled      skip them
--update-goldens        rewrite golden files instead of comparing
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--ngspice", choices=("required", "if_available", "disabled"), default="if_available")
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files from the current code")


def _pyspice_loadable() -> bool:
    try:
        from pyims.runners.pyspice import shared_ngspice

        shared_ngspice()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mode = config.getoption("--ngspice")
    have = {"ngspice": shutil.which("ngspice") is not None}
    for item in items:
        for marker in ("ngspice", "pyspice"):
            if marker not in item.keywords:
                continue
            if mode == "disabled":
                item.add_marker(pytest.mark.skip(reason="--ngspice=disabled"))
            elif mode == "if_available":
                if marker not in have:
                    have[marker] = _pyspice_loadable()
                if not have[marker]:
                    item.add_marker(pytest.mark.skip(reason=f"{marker} not available (--ngspice=if_available)"))
            # required: run, and let a missing simulator fail the test


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def run_root(tmp_path):
    """Run directories of this test go under its tmp dir."""
    root = tmp_path / "runs"
    root.mkdir()
    return root


def random_tile_arrays(m: int, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells uniform in [1 uS, 100 uS]; inputs uniform in [-0.5, 0.5] V."""
    rng = np.random.default_rng(seed)
    return rng.uniform(1e-6, 1e-4, size=(m, n)), rng.uniform(-0.5, 0.5, size=(k, m))


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (the agreement measure used throughout the tests)."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
