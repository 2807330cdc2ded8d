"""Test options: how simulator tests run, and golden regeneration.

--ngspice=required      simulator tests must run; a missing ngspice/libngspice fails them (CI)
--ngspice=if_available  run them when ngspice is installed, skip otherwise (default)
--ngspice=disabled      skip them
--update-goldens        rewrite golden files instead of comparing
"""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from pathlib import Path

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


STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_fake_mnist(directory: Path, n_train: int = 30, n_test: int = 20, compress: bool = True, seed: int = 0) -> dict[str, str]:
    """Small fake MNIST IDX files; returns {file name: md5}."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        STEMS[0]: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        STEMS[1]: (np.arange(n_train) % 10).astype(np.uint8),
        STEMS[2]: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        STEMS[3]: (np.arange(n_test) % 10).astype(np.uint8),
    }
    md5 = {}
    for stem, arr in arrays.items():
        name = stem + (".gz" if compress else "")
        from pyims.data import write_idx

        write_idx(directory / name, arr, compress=compress)
        md5[name] = hashlib.md5((directory / name).read_bytes()).hexdigest()
    return md5


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server serving tmp_path/served; yields (base URL, served dir, request log)."""
    served = tmp_path / "served"
    served.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, fmt, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", served, requests
    server.shutdown()
    server.server_close()


@pytest.fixture
def waveform_check(tmp_path):
    """``waveform_check(actual, expected, rtol=, atol=, x=None, label=)``: the golden comparison,
    writing a diff plot into the test's tmp dir on failure (its path is in the message)."""
    from pyims.golden import assert_waveforms_close

    def check(actual, expected, *, rtol, atol, x=None, label="waveform"):
        assert_waveforms_close(actual, expected, rtol=rtol, atol=atol, x=x, label=label,
                               plot_path=tmp_path / f"{label.replace(' ', '_')}.png")

    return check


@pytest.fixture(scope="session")
def measured_neuron():
    """The inverter neuron's measured curve (one ngspice DC sweep per test session)."""
    from pyims.characterize import characterize_neuron

    return characterize_neuron("pyims_neuron_inverter")
