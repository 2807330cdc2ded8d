"""The one simulator session: options apart from the circuit, checked output, kept evidence, process-group timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from pyims.errors import SimulationError, SimulationTimeout, SpecError
from pyims.netlist.model import GROUND, DcSweep, Netlist, OperatingPoint, Resistor, VoltageSource
from pyims.runners.ngspice_env import NgspiceInfo
from pyims.runners.session import NgspiceSession
from pyims.spec.simulator import DEVICE, NETWORK_TRANSIENT, TIGHT, TILE_TRANSIENT, SimOptions


def _divider(n_points: int = 1) -> Netlist:
    """V1 -> 1 kohm -> b -> 3 kohm -> ground: v(b) = 0.75 V1; swept 0..n-1 V when n > 1."""
    return Netlist(
        title="* divider",
        elements=(VoltageSource("V1", "a", GROUND, 1.0), Resistor("R1", "a", "b", 1e3), Resistor("R2", "b", GROUND, 3e3)),
        analysis=DcSweep("V1", 0.0, float(n_points - 1), 1.0) if n_points > 1 else OperatingPoint(),
    )


def test_options_are_written_in_a_fixed_order_and_keep_the_presets_text():
    assert TIGHT.lines(klu_available=True) == ("klu", "reltol=1e-10", "abstol=1e-18", "vntol=1e-13")
    assert DEVICE.lines(klu_available=False) == ("reltol=1e-8", "abstol=1e-14", "vntol=1e-10")
    assert TILE_TRANSIENT.with_(klu=False).lines(klu_available=True)[-1] == "method=trap"
    assert NETWORK_TRANSIENT.lines(klu_available=False)[-1] == "method=gear"
    assert SimOptions(extra=("gmin=1e-15",)).lines(klu_available=False) == ("gmin=1e-15",)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reltol": -1.0}, r"SimOptions.reltol=-1.0 must be > 0"),
        ({"method": "euler"}, r"SimOptions.method='euler' is unknown; use one of trap, gear"),
        ({"klu": "yes"}, r"SimOptions.klu='yes' must be true, false or None"),
        ({"extra": ("reltol=1; .end",)}, r"SimOptions.extra option 'reltol=1; \.end' is invalid"),
        ({"timeout_s": float("nan")}, r"SimOptions.timeout_s=nan is not finite"),
    ],
)
def test_bad_options_are_refused_before_any_run(kwargs, match):
    with pytest.raises(SpecError, match=match):
        SimOptions(**kwargs)


def test_a_session_takes_typed_options_only():
    with pytest.raises(SpecError, match=r"options is a tuple; pass a pyims.SimOptions"):
        NgspiceSession(("reltol=1e-3",), info=NgspiceInfo(executable=Path("/bin/true"), version=46, klu=False))


@pytest.mark.ngspice
def test_session_applies_its_options_not_the_netlists(run_root):
    session = NgspiceSession(TIGHT.with_(klu=False), run_root=run_root)
    text = session.format(_divider())
    assert ".options reltol=1e-10\n.options abstol=1e-18\n.options vntol=1e-13\n" in text and "klu" not in text
    out = session.run(_divider(3), expect=["v(b)", "i(V1)"], n_points=3)
    np.testing.assert_allclose(out.columns(["v(b)"])[:, 0], [0.0, 0.75, 1.5], rtol=1e-12, atol=1e-12 * 1.5)
    np.testing.assert_allclose(out.columns(["i(v1)"])[:, 0], -np.arange(3) / 4e3, rtol=1e-12, atol=1e-12 * 2 / 4e3)
    assert out.rundir is None and not any(run_root.iterdir())  # success cleans up
    kept = NgspiceSession(TIGHT, run_root=run_root, keep_run_dir=True).run(_divider(), expect=["v(b)"])
    assert kept.rundir is not None and (kept.rundir / "circuit.cir").read_text().startswith("* divider")


@pytest.mark.ngspice
@pytest.mark.parametrize(
    "expect, n_points, match",
    [
        (["v(b)", "v(nowhere)"], None, r"ngspice output is incomplete .*v\(nowhere\)"),
        (["v(b)"], 5, r"ngspice returned 3 points in plot .*, expected 5"),
    ],
)
def test_missing_vectors_and_wrong_point_counts_keep_the_run(run_root, expect, n_points, match):
    with pytest.raises(SimulationError, match=match) as err:
        NgspiceSession(TIGHT, run_root=run_root).run(_divider(3), expect=expect, n_points=n_points)
    assert err.value.rundir.parent == run_root and (err.value.rundir / "output.raw").exists()
    assert str(err.value.rundir) in str(err.value)


class _NanDialect(NgspiceSession):
    """A simulator dialect (the subclass recipe of docs/architecture.md) whose solver writes NaN."""

    simulator = "nan-spice"

    def _find(self, executable):
        return NgspiceInfo(executable=Path("/bin/true"), version=46, klu=False)

    def _simulate(self, text, rundir):
        names = ["v(v-sweep)", "v(b)"]
        data = np.array([[0.0, 0.0], [1.0, np.nan], [2.0, 1.5]])
        header = (
            "Title: nan\nPlotname: DC transfer characteristic\nFlags: real\n"
            f"No. Variables: {len(names)}\nNo. Points: {data.shape[0]}\nVariables:\n"
            + "".join(f"\t{k}\t{n}\tvoltage\n" for k, n in enumerate(names)) + "Binary:\n"
        )
        (rundir / "output.raw").write_bytes(header.encode() + data.astype("<f8").tobytes())
        return ("nan-spice",), 0, ""


def test_a_non_finite_value_is_a_failure_that_names_the_vector_and_point(run_root):
    with pytest.raises(SimulationError, match=r"nan-spice wrote a non-finite value nan for v\(b\) at point 1") as err:
        _NanDialect(TIGHT, run_root=run_root).run(_divider(3), expect=["v(b)"], n_points=3)
    assert (err.value.rundir / "circuit.cir").exists()


def test_timeout_kills_the_whole_process_group(tmp_path, run_root):
    """A simulator that starts a child of its own: on timeout both are gone, and the run directory stays."""
    fake = tmp_path / "slow-ngspice"
    fake.write_text("#!/bin/sh\nsleep 60 &\necho $! > child.pid\nsleep 60\n")
    fake.chmod(0o755)
    session = NgspiceSession(SimOptions(timeout_s=0.5), run_root=run_root,
                             info=NgspiceInfo(executable=fake, version=46, klu=False))
    t0 = time.perf_counter()
    with pytest.raises(SimulationTimeout, match=r"did not finish within timeout_s=0.5") as err:
        session.run(_divider(), expect=["v(b)"])
    assert time.perf_counter() - t0 < 10
    child = int((err.value.rundir / "child.pid").read_text())
    for _ in range(50):  # the kill is immediate; a killed orphan may linger as a zombie until reaped
        status = Path(f"/proc/{child}/status")
        if not status.exists() or "\nState:\tZ" in status.read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the simulator's child process {child} survived the timeout")
