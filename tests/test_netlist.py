"""Netlist model, emission and the golden reference netlists in netlists/."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pytest

from pyims import NetlistError, TileSpec, WireParasitics, tile_netlist
from pyims.netlist import build_tile_netlist, format_netlist
from pyims.netlist.model import (
    Capacitor,
    DcSweep,
    Netlist,
    OperatingPoint,
    PwlVoltageSource,
    Resistor,
    VoltageSource,
)
from pyims.runners import TileJob
from pyims.runners.native import NativeRunner

NETLISTS = Path(__file__).resolve().parent.parent / "netlists"

# Hand-checkable values: 1/G is exact in decimal.
G_2X3 = np.array([[1e-4, 2e-5, 5e-5], [1e-5, 4e-5, 2.5e-5]])
V_1 = np.array([[0.1, -0.2]])
V_3 = np.array([[0.1, -0.2], [0.3, 0.05], [-0.15, 0.25]])
FULL_WIRES = WireParasitics(r_row_ohm=1.5, r_col_ohm=2.5, r_driver_ohm=10.0, r_sense_ohm=5.0, c_row_f=1e-15, c_col_f=2e-15)

#: golden file name -> (conductances, inputs, wires); names carry the parameters.
GOLDEN_CASES = {
    "tile_2x3_k1_ideal.cir": (G_2X3, V_1, WireParasitics()),
    "tile_2x3_k1_rrow1.5_rcol2.5_rdrv10_rsns5_crow1f_ccol2f.cir": (G_2X3, V_1, FULL_WIRES),
    "tile_2x3_k3_rrow1.5_rcol2.5_rdrv10_rsns5_crow1f_ccol2f.cir": (G_2X3, V_3, FULL_WIRES),
    "tile_2x3_k3_rcol2.5.cir": (G_2X3, V_3, WireParasitics(r_col_ohm=2.5)),
}


def golden_job(name: str) -> TileJob:
    g, v, wires = GOLDEN_CASES[name]
    return TileJob(tile=TileSpec(g_s=g, wires=wires), v_in_v=v)


def golden_text(name: str) -> str:
    job = golden_job(name)
    return format_netlist(build_tile_netlist(job.tile, job.v_in_v, klu=True))


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_netlist_text(name, update_goldens):
    path = NETLISTS / name
    text = golden_text(name)
    if update_goldens:
        path.write_text(text)
        pytest.skip(f"rewrote {path}")
    assert path.exists(), f"{path} is missing; regenerate with: pytest tests/test_netlist.py --update-goldens"
    expected = path.read_text().replace("\r\n", "\n")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "generated"))
        pytest.fail(f"netlist differs from golden {path.name} (rewrite with --update-goldens if intended):\n{diff}")


def test_every_golden_file_has_a_case():
    on_disk = {p.name for p in NETLISTS.glob("*.cir")}
    assert on_disk == set(GOLDEN_CASES), "stale or unknown golden netlists in netlists/"


def test_emission_is_deterministic_and_equal_for_equal_content():
    a = tile_netlist(G_2X3, V_3, r_row_ohm=1.0, r_col_ohm=2.0, r_driver_ohm=3.0, r_sense_ohm=4.0, klu=True)
    b = tile_netlist(G_2X3.copy(), V_3.copy(), r_row_ohm=1.0, r_col_ohm=2.0, r_driver_ohm=3.0, r_sense_ohm=4.0, klu=True)
    assert a == b
    assert ".options klu" in a
    assert ".options klu" not in tile_netlist(G_2X3, V_3, r_row_ohm=1.0, r_col_ohm=2.0, r_driver_ohm=3.0,
                                              r_sense_ohm=4.0, klu=False)


def test_numbers_round_trip_exactly_and_never_as_numpy_repr():
    rng = np.random.default_rng(3)
    g = rng.uniform(1e-6, 1e-4, size=(4, 5))
    v = rng.uniform(-1, 1, size=(1, 4))
    text = tile_netlist(g, v, r_row_ohm=np.float64(1.1), r_col_ohm=0.7, r_driver_ohm=0.0, r_sense_ohm=0.0, klu=False)
    assert "np.float64" not in text and "e+" not in text.lower().replace("e+0", "")  # no numpy repr
    cells = dict(re.findall(r"^(RX\d+_\d+) \S+ \S+ (\S+)$", text, re.MULTILINE))
    for i in range(4):
        for j in range(5):
            assert float(cells[f"RX{i}_{j}"]) == 1.0 / g[i, j]  # exact round trip of the written text
    sources = dict(re.findall(r"^(VIN\d+) \S+ 0 DC (\S+)$", text, re.MULTILINE))
    assert [float(sources[f"VIN{i}"]) for i in range(4)] == v[0].tolist()


def test_names_are_generated_with_type_letters():
    text = golden_text("tile_2x3_k3_rrow1.5_rcol2.5_rdrv10_rsns5_crow1f_ccol2f.cir")
    body = [ln for ln in text.splitlines()[1:] if ln and not ln.startswith(("*", ".", "+"))]
    letters = {ln[0] for ln in body}
    assert letters == {"V", "B", "R", "C"}
    counts = {p: sum(ln.startswith(p) for ln in body) for p in ("RX", "RR", "RC", "RD", "RS", "CR", "CC", "BIN", "VS")}
    assert counts == {"RX": 6, "RR": 4, "RC": 3, "RD": 2, "RS": 3, "CR": 6, "CC": 6, "BIN": 2, "VS": 3}


def test_zero_ohm_wires_merge_nodes_instead_of_emitting_shorts():
    text = golden_text("tile_2x3_k1_ideal.cir")
    assert not re.search(r"^R[RCDS]", text, re.MULTILINE)
    # every cell of row 0 hangs on one node r0_0; every cell of column 2 on c1_2 (= the sense node)
    assert re.search(r"^RX0_2 r0_0 c1_2 ", text, re.MULTILINE)
    assert re.search(r"^VS2 c1_2 0 DC 0.0$", text, re.MULTILINE)


def test_zero_parasitic_golden_currents_are_v_times_g():
    job = golden_job("tile_2x3_k1_ideal.cir")
    res = NativeRunner().run(job)
    ideal = job.v_in_v @ job.tile.g_s  # exact zeros come back as BLAS round-off: atol on the currents' scale
    np.testing.assert_allclose(res.i_col_a, ideal, rtol=1e-12, atol=1e-12 * np.abs(ideal).max())


@pytest.mark.ngspice
@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_netlists_run_in_ngspice_and_match_native(name, tmp_path):
    """The files in netlists/ are runnable by hand; their ngspice currents equal the native solver's."""
    from pyims.runners.ngspice import run_ngspice_netlist
    from pyims.runners.ngspice_env import find_ngspice
    from pyims.runners.spice_output import tile_currents

    job = golden_job(name)
    plots = run_ngspice_netlist((NETLISTS / name).read_text(), tmp_path, info=find_ngspice(), timeout_s=60)
    i_col, i_src = tile_currents(plots[-1], n_rows=2, n_cols=3, n_vectors=job.n_vectors, batched=job.n_vectors > 1)
    ref = NativeRunner().run(job)
    scale = np.max(np.abs(ref.i_col_a))
    np.testing.assert_allclose(i_col, ref.i_col_a, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(i_src, ref.i_src_a, rtol=1e-9, atol=1e-12 * scale)


# ---- model validation: every NetlistError path ---------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Resistor("X1", "a", "b", 1.0), r"element name 'X1' is invalid; it must start with 'R'"),
        (lambda: Resistor("R1", "a b", "c", 1.0), r"node name 'a b' is invalid"),
        (lambda: Resistor("R1", "a", "b", 0.0), r"r_ohm=0.0 must be > 0; merge the nodes"),
        (lambda: Resistor("R1", "a", "b", float("inf")), r"r_ohm=inf is not finite"),
        (lambda: Capacitor("C1", "a", "0", -1e-15), r"c_f=-1e-15 must be >= 0"),
        (lambda: VoltageSource("V1", "a", "0", float("nan")), r"dc_v=nan is not finite"),
        (lambda: VoltageSource("R1", "a", "0", 1.0), r"must start with 'V'"),
        (lambda: PwlVoltageSource("B1", "a", "0", "ctl", (0.0,), (1.0,)), r"pwl needs >= 2 points"),
        (lambda: PwlVoltageSource("B1", "a", "0", "ctl", (1.0, 0.0), (1.0, 2.0)), r"strictly increasing"),
        (lambda: DcSweep("VCTL", 0.0, 1.0, 0.0), r"need step > 0"),
        (lambda: Netlist("t\nx", (), OperatingPoint()), r"title .* must be one line"),
        (lambda: Netlist("t", (Resistor("R1", "a", "0", 1.0), Resistor("r1", "a", "0", 2.0)), OperatingPoint()),
         r"element name 'R1' appears twice"),
        (lambda: Netlist("t", (Resistor("R1", "a", "0", 1.0),), OperatingPoint(), saved_currents=("V9",)),
         r"saved current i\(V9\) names no voltage source"),
        (lambda: Netlist("t", (), DcSweep("VCTL", 0.0, 1.0, 1.0)), r"\.dc sweeps 'VCTL', which is not a source"),
        (lambda: Netlist("t", (), OperatingPoint(), options=("klu; .end",)), r"option 'klu; \.end' is invalid"),
    ],
)
def test_netlist_model_rejects_invalid_parts(make, match):
    with pytest.raises(NetlistError, match=match):
        make()


def test_emitter_rejects_unknown_element_type():
    from pyims.netlist.emit import format_element

    with pytest.raises(NetlistError, match=r"cannot emit element of type str"):
        format_element("R1 a b 1")  # type: ignore[arg-type]


def test_pwl_lines_are_wrapped_with_continuations():
    rng = np.random.default_rng(0)
    text = tile_netlist(np.full((1, 1), 1e-5), rng.uniform(size=(20, 1)), r_row_ohm=0, r_col_ohm=0,
                        r_driver_ohm=0, r_sense_ohm=0, klu=False)
    lines = text.splitlines()
    start = next(k for k, ln in enumerate(lines) if ln.startswith("BIN0"))
    assert lines[start].endswith("V=pwl(v(ctl),")
    assert [ln.startswith("+ ") for ln in lines[start + 1 : start + 4]] == [True, True, True]
    assert lines[start + 3].endswith(")") and max(len(ln) for ln in lines) < 400
    assert ".dc VCTL 0.0 19.0 1.0" in text
