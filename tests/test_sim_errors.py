"""Simulator failure paths: missing ngspice, failures, timeouts, non-convergence, bad raw files."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_tile_arrays
from pyims import SimulationError, SimulationTimeout, SimulatorNotFound, TileSpec, WireParasitics, get_runner
from pyims.errors import ConvergenceError, RawFileError
from pyims.runners import TileJob, find_ngspice
from pyims.runners.ngspice import run_ngspice_netlist
from pyims.runners.rawfile import parse_raw, read_raw


def test_missing_ngspice_says_how_to_install(tmp_path):
    with pytest.raises(SimulatorNotFound, match=r"ngspice executable '.*no-such-ngspice' not found; install ngspice >= 42"):
        get_runner("ngspice", executable=tmp_path / "no-such-ngspice")


def test_missing_ngspice_from_environment(monkeypatch):
    monkeypatch.setenv("PYIMS_NGSPICE", "/nonexistent/ngspice")
    with pytest.raises(SimulatorNotFound, match=r"bash \.ci/install-ngspice"):
        find_ngspice()


def test_an_executable_that_is_not_ngspice(tmp_path):
    fake = tmp_path / "fake-ngspice"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    with pytest.raises(SimulatorNotFound, match=r"does not report an ngspice version"):
        find_ngspice(fake)


def test_old_ngspice_warns_loudly(tmp_path):
    from pyims.errors import NgspiceVersionWarning

    fake = tmp_path / "old-ngspice"
    fake.write_text("#!/bin/sh\necho '** ngspice-39 : Circuit level simulation program'\n")
    fake.chmod(0o755)
    with pytest.warns(NgspiceVersionWarning, match=r"ngspice-39 .* has no KLU solver"):
        info = find_ngspice(fake)
    assert (info.version, info.klu) == (39, False)


@pytest.mark.ngspice
def test_syntax_error_keeps_run_dir_and_shows_output(tmp_path):
    rundir = tmp_path / "run"
    rundir.mkdir()
    bad = "bad\nV1 a 0 1\nR1 a 0 1k\nQ1 a b\n.op\n.end\n"
    with pytest.raises(SimulationError, match=r"(?s)ngspice failed.*run directory kept at: .*run.*exit status: 1.*Error") as err:
        run_ngspice_netlist(bad, rundir, info=find_ngspice(), timeout_s=60)
    assert err.value.rundir == rundir and err.value.returncode == 1
    assert (rundir / "circuit.cir").read_text() == bad and (rundir / "ngspice.log").exists()
    assert "circuit not parsed" in err.value.output_tail


@pytest.mark.ngspice
def test_exit_zero_without_results_is_a_failure(tmp_path):
    # ngspice exits 0 here ("no dc analysis found") and writes no raw file.
    with pytest.raises(SimulationError, match=r"ngspice produced no usable results \(raw file .* was not written\)"):
        run_ngspice_netlist("noan\nV1 a 0 1\nR1 a 0 1k\n.print dc v(a)\n.end\n", tmp_path, info=find_ngspice(), timeout_s=60)
    assert (tmp_path / "circuit.cir").exists()


@pytest.mark.ngspice
def test_floating_subcircuit_is_a_convergence_error(tmp_path):
    # R2 floats: ngspice warns "singular matrix", fails gmin and source stepping, exits 0, and
    # still writes a raw file. The log decides.
    text = "float\nV1 a 0 1\nR1 a 0 1k\nR2 b c 1k\n.op\n.end\n"
    with pytest.raises(ConvergenceError, match=r"ngspice did not converge: .*singular matrix") as err:
        run_ngspice_netlist(text, tmp_path, info=find_ngspice(), timeout_s=60)
    assert err.value.rundir == tmp_path and (tmp_path / "output.raw").exists()


@pytest.mark.ngspice
def test_timeout_keeps_run_dir(run_root):
    g, v = random_tile_arrays(128, 128, 8, seed=0)
    job = TileJob(tile=TileSpec(g_s=g, wires=WireParasitics(r_row_ohm=1.0, r_col_ohm=1.0)), v_in_v=v)
    with pytest.raises(SimulationTimeout, match=r"ngspice did not finish within timeout_s=0.05") as err:
        get_runner("ngspice", timeout_s=0.05, run_root=run_root).run(job)
    assert err.value.rundir.parent == run_root and (err.value.rundir / "circuit.cir").exists()


@pytest.mark.pyspice
def test_pyspice_convergence_failure_keeps_run_dir(run_root, monkeypatch):
    """A genuine libngspice failure, reached through the runner with a floating node in the netlist."""
    import pyims.runners.session as ps  # every SPICE run's text is written there

    real = ps.format_netlist

    def with_floating_resistor(netlist, **kwargs):
        return real(netlist, **kwargs).replace(".end\n", "RFLOAT xa xb 1000.0\n.end\n")

    monkeypatch.setattr(ps, "format_netlist", with_floating_resistor)
    g, v = random_tile_arrays(3, 3, 1, seed=0)
    job = TileJob(tile=TileSpec(g_s=g), v_in_v=v)
    with pytest.raises(ConvergenceError, match=r"singular matrix") as err:
        get_runner("pyspice", run_root=run_root).run(job)
    assert err.value.rundir.parent == run_root and (err.value.rundir / "circuit.cir").exists()
    monkeypatch.undo()  # the library is left usable for the next, valid circuit
    assert get_runner("pyspice", run_root=run_root).run(job).i_col_a.shape == (1, 3)


def _raw(n_points: int, n_vars: int = 2, *, flags: str = "real", data: bytes | None = None) -> bytes:
    header = (
        "Title: t\nDate: today\nPlotname: DC transfer characteristic\nFlags: " + flags + "\n"
        f"No. Variables: {n_vars}\nNo. Points: {n_points}\nVariables:\n"
        + "".join(f"\t{k}\tv{k}\tvoltage\n" for k in range(n_vars))
        + "Binary:\n"
    ).encode()
    width = 2 if flags == "complex" else 1
    if data is None:
        data = np.arange(n_points * n_vars * width, dtype="<f8").tobytes()
    return header + data


def test_raw_reader_reads_real_and_complex_plots():
    plots = parse_raw(_raw(3) + _raw(2, flags="complex"))
    assert [p.data.shape for p in plots] == [(3, 2), (2, 2)]
    np.testing.assert_array_equal(plots[0].column("V1"), [1.0, 3.0, 5.0])
    assert plots[1].data[0, 1] == 2.0 + 3.0j


@pytest.mark.parametrize(
    "buf, match",
    [
        (_raw(3, data=b"\0" * 40), r"binary data truncated: need 48 bytes"),
        (b"Title: t\nNo. Variables: 2\n", r"ends inside its header"),
        (_raw(1).replace(b"Binary:", b"Values:"), r"ASCII raw data is not supported"),
        (_raw(1).replace(b"No. Points: 1", b"No. Points: x"), r"lacks a valid 'No. Variables'/'No. Points'"),
        (_raw(1).replace(b"No. Variables: 2", b"No. Variables: 0"), r"'No. Variables' missing or < 1"),
        (b"   \n", r"no plot found"),
    ],
)
def test_raw_reader_rejects_bad_files(buf, match):
    with pytest.raises(RawFileError, match=match):
        parse_raw(buf)


def test_raw_reader_missing_empty_and_unknown_variable(tmp_path):
    with pytest.raises(RawFileError, match=r"was not written"):
        read_raw(tmp_path / "none.raw")
    (tmp_path / "empty.raw").write_bytes(b"")
    with pytest.raises(RawFileError, match=r"is empty"):
        read_raw(tmp_path / "empty.raw")
    with pytest.raises(RawFileError, match=r"has no variable 'i\(vs0\)'"):
        parse_raw(_raw(1))[0].column("i(vs0)")
