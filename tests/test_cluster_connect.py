"""#25 failure 5: an address that is not a Dask scheduler fails in seconds, before any long work -- never hangs."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pyims.cli import main
from pyims.dask_client import check_scheduler
from pyims.errors import ClusterError

pytest.importorskip("distributed")


@pytest.fixture
def silent_port():
    """A socket that accepts connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


@pytest.fixture
def http_port():
    class Quiet(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_port
    srv.shutdown()
    srv.server_close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_silent_socket_fails_within_the_limit(silent_port):
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match=rf"scheduler tcp://127.0.0.1:{silent_port} did not answer as a Dask scheduler "
                                           r"within 1 s"):
        check_scheduler(f"tcp://127.0.0.1:{silent_port}", timeout_s=1.0)
    assert time.monotonic() - t0 < 10.0


def test_an_http_server_is_not_a_scheduler(http_port):
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match=rf"127.0.0.1:{http_port}"):
        check_scheduler(f"tcp://127.0.0.1:{http_port}", timeout_s=1.0)
    assert time.monotonic() - t0 < 10.0


@pytest.mark.parametrize("address, match", [
    (lambda: f"tcp://127.0.0.1:{_closed_port()}", r"cannot be reached as a Dask scheduler|did not answer"),
    (lambda: "", r"scheduler address '' is not an address"),
    (lambda: 8786, r"scheduler address 8786 is not an address"),
    (lambda: "nosuchscheme://127.0.0.1:1", r"cannot be reached as a Dask scheduler"),
])
def test_bad_addresses_are_typed_errors(address, match):
    with pytest.raises(ClusterError, match=match):
        check_scheduler(address(), timeout_s=1.0)


def test_a_real_scheduler_passes():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc:
        check_scheduler(lc.scheduler_address, timeout_s=5.0)


def test_the_command_line_checks_the_scheduler_before_any_work(tmp_path, silent_port, capsys, monkeypatch):
    import pyims.dask_client as dc

    monkeypatch.setattr(dc, "SCHEDULER_TIMEOUT_S", 1.0)
    monkeypatch.setattr(dc.check_scheduler, "__defaults__", (1.0,))
    cfg = tmp_path / "exp.toml"
    cfg.write_text('name = "x"\n[train]\nhidden = [8]\nepochs = 1\n[simulation]\nverify_images = 2\n')
    out = tmp_path / "out"
    t0 = time.monotonic()
    code = main(["run", str(cfg), "--out", str(out), "--scheduler", f"tcp://127.0.0.1:{silent_port}"])
    assert code != 0 and time.monotonic() - t0 < 15.0
    assert "did not answer as a Dask scheduler" in capsys.readouterr().err
    assert not out.exists()  # nothing trained, nothing written
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'name = "s"\nbase = "{cfg}"\n[axes]\n"wires.r_row_ohm" = [1.0, 2.0]\n')
    code = main(["sweep", str(sweep), "--store", str(tmp_path / "store"), "--scheduler",
                 f"tcp://127.0.0.1:{silent_port}"])
    assert code != 0
    assert "did not answer as a Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()
