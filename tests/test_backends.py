"""All three backends hold against each other on real ngspice (marker: ngspice / pyspice)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import random_tile_arrays, rel_diff
from pyims import TileSpec, WireParasitics, find_ngspice, get_runner, simulate_tile
from pyims.errors import SimulatorUsageError
from pyims.runners import TileJob
from pyims.runners.factor import cholmod_available

AGREEMENT = 1e-9  # max |I_a - I_b| / max |I_b|, the contract of issue #2
#: The native solver both ways: one solve per port (SuperLU) and one CHOLMOD factorization (issue #13).
PORT_METHODS = ("solves", "schur") if cholmod_available() else ("solves",)

WIRES = WireParasitics(r_row_ohm=2.5, r_col_ohm=3.5, r_driver_ohm=10.0, r_sense_ohm=5.0, c_row_f=1e-15, c_col_f=2e-15)
SHAPES = [(1, 1, 1), (1, 7, 3), (9, 1, 2), (5, 3, 1), (16, 16, 4), (40, 12, 3), (64, 64, 1), (64, 64, 5)]
ALL_ZERO_BUT = [
    WireParasitics(r_row_ohm=4.0),
    WireParasitics(r_col_ohm=4.0),
    WireParasitics(r_driver_ohm=40.0),
    WireParasitics(r_sense_ohm=40.0),
]


def _job(m, n, k, seed, wires=WIRES):
    g, v = random_tile_arrays(m, n, k, seed)
    return TileJob(tile=TileSpec(g_s=g, wires=wires), v_in_v=v)


def _assert_agree(res, ref):
    assert res.i_col_a.shape == ref.i_col_a.shape and res.i_src_a.shape == ref.i_src_a.shape
    assert rel_diff(res.i_col_a, ref.i_col_a) <= AGREEMENT
    assert rel_diff(res.i_src_a, ref.i_src_a) <= AGREEMENT


@pytest.mark.ngspice
@pytest.mark.parametrize("m, n, k", SHAPES)
def test_ngspice_agrees_with_native(m, n, k):
    job = _job(m, n, k, seed=m * 100 + n + k)
    spice = get_runner("ngspice").run(job)
    for port_method in PORT_METHODS:
        for method in ("transfer", "solve"):
            _assert_agree(spice, get_runner("native", method=method, port_method=port_method).run(job))


@pytest.mark.pyspice
@pytest.mark.parametrize("m, n, k", SHAPES)
def test_pyspice_agrees_with_native_and_ngspice(m, n, k):
    job = _job(m, n, k, seed=m * 100 + n + k)
    res = get_runner("pyspice").run(job)
    _assert_agree(res, get_runner("native").run(job))
    _assert_agree(res, get_runner("ngspice").run(job))


@pytest.mark.ngspice
@pytest.mark.pyspice
@pytest.mark.parametrize("wires", ALL_ZERO_BUT, ids=["row", "col", "driver", "sense"])
def test_each_parasitic_alone_agrees_on_every_backend(wires):
    job = _job(12, 9, 3, seed=7, wires=wires)
    ref = get_runner("native", method="solve", port_method="solves").run(job)
    for backend in ("native", "ngspice", "pyspice"):
        _assert_agree(get_runner(backend).run(job), ref)
    for port_method in PORT_METHODS:
        _assert_agree(get_runner("native", method="transfer", port_method=port_method).run(job), ref)


@pytest.mark.ngspice
@pytest.mark.pyspice
@pytest.mark.parametrize("backend", ["native", "ngspice", "pyspice"])
def test_zero_parasitics_equals_v_times_g_on_every_backend(backend):
    g, v = random_tile_arrays(24, 10, 3, seed=1)
    i = simulate_tile(g, v, r_row_ohm=0.0, r_col_ohm=0.0, r_driver_ohm=0.0, r_sense_ohm=0.0, backend=backend)
    ideal = v @ g
    np.testing.assert_allclose(i, ideal, rtol=1e-12, atol=1e-12 * np.abs(ideal).max())


@pytest.mark.ngspice
@pytest.mark.pyspice
@pytest.mark.parametrize("backend", ["ngspice", "pyspice"])
def test_kcl_holds_in_spice(backend):
    res = get_runner(backend).run(_job(20, 15, 4, seed=3))
    scale = np.abs(res.i_src_a).sum(axis=1).max()
    assert np.abs(res.kcl_residual_a()).max() <= 1e-10 * scale


@pytest.mark.ngspice
def test_ngspice_metadata_and_kept_run_dir(run_root):
    info = find_ngspice()
    assert info.version >= 42 and info.klu, "CI needs ngspice >= 42 with KLU (bash .ci/install-ngspice)"
    job = _job(4, 3, 2, seed=0)
    res = get_runner("ngspice", run_root=run_root).run(job)
    assert (res.info.backend, res.info.ngspice_version, res.info.klu) == ("ngspice", info.version, True)
    assert res.info.wall_time_s > 0 and res.info.run_dir is None
    assert list(run_root.iterdir()) == []  # successful runs clean up
    kept = get_runner("ngspice", run_root=run_root, keep_run_dir=True).run(job)
    assert kept.info.run_dir is not None
    assert {p.name for p in kept.info.run_dir.iterdir()} == {"circuit.cir", "output.raw", "ngspice.log"}
    assert ".options klu" in (kept.info.run_dir / "circuit.cir").read_text()
    without = get_runner("ngspice", run_root=run_root, klu=False).run(job)
    assert without.info.klu is False and rel_diff(without.i_col_a, res.i_col_a) <= AGREEMENT


@pytest.mark.pyspice
def test_pyspice_metadata(run_root):
    res = get_runner("pyspice", run_root=run_root, keep_run_dir=True).run(_job(3, 3, 1, seed=0))
    assert res.info.backend == "pyspice" and res.info.ngspice_version >= 42 and res.info.klu is True
    assert {p.name for p in res.info.run_dir.iterdir()} == {"circuit.cir", "output.raw", "ngspice.log"}
    assert (res.info.run_dir / "output.raw").stat().st_size > 0


@pytest.mark.pyspice
def test_pyspice_refuses_a_second_thread():
    get_runner("pyspice").run(_job(2, 2, 1, seed=0))  # this thread owns the library now
    errors: list[BaseException] = []

    def other() -> None:
        try:
            get_runner("pyspice").run(_job(2, 2, 1, seed=0))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], SimulatorUsageError)
    assert "use processes" in str(errors[0])
