"""The pyims command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pyims.cli import main


@pytest.mark.ngspice
@pytest.mark.pyspice
def test_demo_runs_every_backend_and_writes_its_outputs(tmp_path, capsys):
    assert main(["tile-demo", "--size", "12x10", "--vectors", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ngspice" in out and "pyspice" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["backends"]) == {"native", "ngspice", "pyspice"}
    for backend in ("ngspice", "pyspice"):
        assert summary["backends"][backend]["max_rel_diff_vs_native"] <= 1e-9
    sweep = summary["wire_sweep"]
    assert sweep[0]["r_wire_ohm"] == 0.0 and sweep[0]["max_rel_error_vs_ideal"] <= 1e-12
    errors = [p["max_rel_error_vs_ideal"] for p in sweep]
    assert errors == sorted(errors)  # more wire resistance, more error
    assert (tmp_path / "tile_12x10.cir").read_text().startswith("* pyims crossbar tile 12x10")


def test_demo_native_only(tmp_path, capsys):
    assert main(["tile-demo", "--size", "6x4", "--vectors", "2", "--backends", "native", "--out", str(tmp_path)]) == 0
    assert set(json.loads((tmp_path / "summary.json").read_text())["backends"]) == {"native"}


def test_netlist_command_from_npy(tmp_path, capsys):
    np.save(tmp_path / "g.npy", np.array([[1e-4, 2e-5]]))
    np.save(tmp_path / "v.npy", np.array([[0.25]]))
    out = tmp_path / "t.cir"
    assert main(["netlist", str(out), "--g-npy", str(tmp_path / "g.npy"), "--v-npy", str(tmp_path / "v.npy"),
                 "--r-col-ohm", "2.0", "--no-klu"]) == 0
    text = out.read_text()
    assert "VIN0 r0_0 0 DC 0.25" in text and "RX0_1 r0_0 c0_1 49999.99999999999" in text and ".options" not in text


def test_netlist_command_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    np.save(tmp_path / "g.npy", np.array([[1e-4, -2e-5]]))
    assert main(["netlist", "-", "--g-npy", str(tmp_path / "g.npy")]) == 2
    assert "TileSpec.g_s[0,1]=-2e-05 S is not positive" in capsys.readouterr().err


def test_bad_size_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["tile-demo", "--size", "64by64"])
    assert "is not ROWSxCOLS" in capsys.readouterr().err


def test_info(capsys):
    assert main(["info"]) == 0
    assert "pyims" in capsys.readouterr().out


def test_output_piped_into_a_closed_reader_exits_quietly():
    import subprocess
    import sys

    proc = subprocess.run(
        f"'{sys.executable}' -m pyims.cli netlist - --size 40x40 | head -n 1",
        shell=True, capture_output=True, text=True, check=True,
    )
    assert proc.stdout.startswith("* pyims crossbar tile 40x40")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_tile_demo_is_a_library_flow(tmp_path):
    """``pyims tile-demo`` is ``run_tile_demo``: typed per-backend agreement and the wire sweep, no stdout needed."""
    from pyims.experiment.tile_demo import DEMO_WIRE_R_OHM, run_tile_demo

    res = run_tile_demo(tmp_path, size=(9, 7), n_vectors=2, backends=("native",))
    assert [b.backend for b in res.backends] == ["native"] and res.backends[0].max_rel_diff_vs_native == 0.0
    assert res.backends[0].kcl_residual_ratio < 1e-12
    assert [p.r_wire_ohm for p in res.wire_sweep] == list(DEMO_WIRE_R_OHM)
    assert res.wire_sweep[0].max_rel_error_vs_ideal < 1e-12 and res.wire_sweep[-1].mean_current_ratio < 1.0
    assert json.loads(res.summary_path.read_text())["wire_sweep"][1]["r_wire_ohm"] == 0.5


def test_zero_workers_is_refused(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text('name = "w"\n[experiment]\ndataset = { name = "digits" }\n[axes]\n"wires.r_row_ohm" = [0.0]\n')
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(sweep), "--workers", "0"])
    assert exc.value.code == 2 and "0 must be >= 1" in capsys.readouterr().err


def test_accuracy_at_or_below_chance_is_named():
    from pyims.compare import chance_note

    assert chance_note(0.93, 10) is None
    assert chance_note(0.12, 10) == "accuracy 12.0 % is near chance (10 % for 10 classes)"
    assert "far below chance (10 %)" in chance_note(0.0, 10) and "opposite sign" in chance_note(0.0, 10)
