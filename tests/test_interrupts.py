"""Interrupts and failed verifications (#25): Ctrl-C is quiet and resumable; an ngspice failure, timeout or interrupt
during the verification keeps the training and native results.

The subprocess tests send SIGINT to the whole process group, as a terminal's Ctrl-C does (the Dask worker processes
get it too)."""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyims.cli import EXIT_INTERRUPTED, EXIT_VERIFICATION_FAILED, main
from pyims.errors import SimulationError, SimulationTimeout

PYIMS = [sys.executable, "-m", "pyims.cli"]


def _config(tmp_path: Path, name: str, simulation: str, max_test: int = 20) -> Path:
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(f'name = "{name}"\n[dataset]\nname = "digits"\nmax_test = {max_test}\n[train]\nhidden = [6]\nepochs = 2\n'
                   f"[simulation]\n{simulation}\n")
    return cfg


def _interrupt_when(cmd: list[str], ready, cwd: Path, timeout_s: float = 180.0) -> tuple[int, str, str]:
    """Run ``cmd`` in its own process group, send the group SIGINT once ``ready()`` holds; (exit code, out, err)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    t0 = time.monotonic()
    while not ready() and proc.poll() is None and time.monotonic() - t0 < timeout_s:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted: make its work longer"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, out, err


def _quiet(err: str) -> None:
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert len(lines) < 10, err


def test_ctrl_c_on_a_sweep_with_workers_is_quiet_and_resumes(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('name = "intr"\n[experiment]\ndataset = { name = "digits", max_test = 60 }\n'
                     'train = { hidden = [8], epochs = 800 }\nsimulation = { verify_images = 0 }\n'
                     '[axes]\n"wires.r_row_ohm" = [0.0, 1.0, 2.0, 3.0]\n')
    records = tmp_path / "st" / "records"
    code, out, err = _interrupt_when([*PYIMS, "sweep", str(sweep), "--store", "st", "--workers", "2"],
                                     lambda: any(records.glob("*.json")), tmp_path)
    assert code == EXIT_INTERRUPTED
    _quiet(err)
    stored = len(list(records.glob("*.json")))
    assert 1 <= stored < 4
    assert f"pyims: interrupted; {stored} of 4 points stored in st; run the same command again to resume" in err
    again = subprocess.run([*PYIMS, "sweep", str(sweep), "--store", "st", "--serial"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{4 - stored} ran (0 failed), {stored} already stored" in again.stdout


@pytest.mark.ngspice
def test_ctrl_c_during_verification_batches_keeps_the_results_and_resumes(tmp_path):
    cfg = _config(tmp_path, "v", "verify_images = 0\nbatch_size = 1", max_test=40)
    store = tmp_path / "out.spice-batches"
    cmd = [*PYIMS, "run", str(cfg), "--out", "out", "--workers", "2", "--verify-images", "all"]
    code, out, err = _interrupt_when(cmd, lambda: any(store.glob("*/*.json")), tmp_path)
    assert code == EXIT_VERIFICATION_FAILED  # exit 3: the verification did not pass; the results are kept
    _quiet(err)
    assert "pyims: interrupted during the ngspice verification; training and native results kept in out; finished " \
           "batches in out.spice-batches, run the same command again to resume" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["spice_verification"] is None
    assert summary["spice_verification_incomplete"] == {
        "status": "interrupted", "reason": "interrupted (Ctrl-C / SIGINT)", "n_images": 40, "run_dir": None,
        "batch_store": "out.spice-batches"}
    assert summary["accuracy"]["analog"]["n_images"] == 40
    stored = len(list(store.glob("*/*.json")))
    assert 1 <= stored < 40
    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    v = json.loads((tmp_path / "out" / "summary.json").read_text())["spice_verification"]
    assert v["passed"] and len(v["batches"]) == 40 and sum(b["resumed"] for b in v["batches"]) == stored


@pytest.mark.ngspice
def test_an_ngspice_timeout_keeps_training_and_native_results(tmp_path, capsys):
    reference = _config(tmp_path, "ref", "verify_images = 0")
    assert main(["run", str(reference), "--out", str(tmp_path / "ref")]) == 0
    cfg = _config(tmp_path, "t", "verify_images = 3\ntimeout_s = 0.001")
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["run", str(cfg), "--out", str(out)]) == EXIT_VERIFICATION_FAILED
    captured = capsys.readouterr()
    assert "verification of 3 images: FAILED (SimulationTimeout: ngspice did not finish within timeout_s=0.001" \
        in captured.out
    err = [line for line in captured.err.splitlines() if line.startswith("pyims:")]
    assert len(err) == 1 and err[0].startswith("pyims: verification FAILED: SimulationTimeout: ngspice did not finish "
                                               "within timeout_s=0.001") and f"results kept in {out}" in err[0]
    summary = json.loads((out / "summary.json").read_text())
    stopped = summary["spice_verification_incomplete"]
    assert summary["spice_verification"] is None and stopped["status"] == "failed" and stopped["n_images"] == 3
    assert stopped["reason"].startswith("SimulationTimeout: ngspice did not finish within timeout_s=0.001")
    assert (Path(stopped["run_dir"]) / "circuit.cir").is_file()  # the evidence is kept
    ref = json.loads((tmp_path / "ref" / "summary.json").read_text())
    assert summary["accuracy"] == ref["accuracy"] and summary["layer_errors"] == ref["layer_errors"]
    with open(out / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / "ref" / "per_image.csv") as f:
        ref_rows = list(csv.DictReader(f))
    assert len(rows) == 20 and [r["analog_pred"] for r in rows] == [r["analog_pred"] for r in ref_rows]
    assert all(r["analog_pred"] != "" and r["ngspice_pred"] == "" for r in rows)
    from pyims.experiment.summary import ExperimentSummary, VerificationIncomplete

    back = ExperimentSummary.from_dict(summary).spice_verification_incomplete
    assert isinstance(back, VerificationIncomplete) and back.status == "failed" and back.run_dir == stopped["run_dir"]


@pytest.mark.ngspice
def test_an_ngspice_timeout_in_cluster_batches_keeps_the_results(tmp_path, capsys):
    cfg = _config(tmp_path, "c", "verify_images = 0\nbatch_size = 2\ntimeout_s = 0.001")
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--workers", "2", "--verify-images", "4"]) == EXIT_VERIFICATION_FAILED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "pyims: verification FAILED: SimulationTimeout: ngspice did not finish within timeout_s=0.001" in err
    stopped = json.loads((out / "summary.json").read_text())["spice_verification_incomplete"]
    assert stopped["status"] == "failed" and stopped["batch_store"] == str(tmp_path / "out.spice-batches")
    assert stopped["reason"].startswith("SimulationTimeout: ")  # the worker's typed error reached the client whole


@pytest.mark.ngspice
def test_an_interrupted_verification_in_process_keeps_results_and_a_rerun_resumes(tmp_path, monkeypatch, capsys):
    """KeyboardInterrupt once the first batch is stored: exit 3 with the report written, then a re-run resumes."""
    from pyims.inference.spice_batches import BatchStore

    cfg = _config(tmp_path, "i", "verify_images = 0\nbatch_size = 2")
    out = tmp_path / "out"
    put = BatchStore.put

    def put_then_interrupt(self, *args, **kwargs):
        put(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(BatchStore, "put", put_then_interrupt)
    args = ["run", str(cfg), "--out", str(out), "--workers", "2", "--verify-images", "6"]
    assert main(args) == EXIT_VERIFICATION_FAILED
    assert "pyims: interrupted during the ngspice verification; training and native results kept" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["spice_verification_incomplete"]["status"] == "interrupted"
    assert summary["accuracy"]["analog"]["n_images"] == 20
    stored = len(list((tmp_path / "out.spice-batches").glob("*/*.json")))
    assert stored == 1
    monkeypatch.setattr(BatchStore, "put", put)
    assert main(args) == 0
    v = json.loads((out / "summary.json").read_text())["spice_verification"]
    assert v["passed"] and [b["resumed"] for b in v["batches"]].count(True) == 1 and len(v["batches"]) == 3


def test_a_serial_sweep_stops_at_an_interrupted_verification(tmp_path, monkeypatch):
    """In a serial sweep, Ctrl-C during a point's verification stops the sweep (the point is not recorded)."""
    import pyims.experiment.run as run_mod
    from pyims.sweeps import ResultStore, parse_sweep
    from pyims.sweeps.run import run_sweep

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "verify_against_ngspice", interrupted)
    spec = parse_sweep({"name": "s", "experiment": {"dataset": {"name": "digits", "max_test": 20},
                                                    "train": {"hidden": [6], "epochs": 2},
                                                    "simulation": {"verify_images": 2}},
                        "axes": {"wires.r_row_ohm": [0.0, 1.0]}}, base_dir=tmp_path)
    store = ResultStore(tmp_path / "st")
    summary = run_sweep(spec, store, serial=True)
    assert summary.interrupted and summary.n_ran == 0 and len(store.table()) == 0


def test_a_failed_verification_marks_a_sweep_point_failed(tmp_path, monkeypatch):
    import pyims.experiment.run as run_mod
    from pyims.sweeps.run import evaluate_point

    def times_out(*args, **kwargs):
        raise SimulationTimeout("ngspice did not finish within timeout_s=1", rundir=tmp_path)

    monkeypatch.setattr(run_mod, "verify_against_ngspice", times_out)
    body = evaluate_point({"dataset": {"name": "digits", "max_test": 20}, "train": {"hidden": [6], "epochs": 2},
                           "simulation": {"verify_images": 2}}, str(tmp_path))
    assert body["status"] == "failed" and body["metrics"]["ngspice_passed"] is False
    assert body["error"] == "ngspice verification failed: SimulationTimeout: ngspice did not finish within timeout_s=1"
    assert body["metrics"]["accuracy_analog"] >= 0.0


def test_a_config_error_in_the_verification_is_still_raised(tmp_path, monkeypatch):
    """A setting the verification refuses is the config's error (exit 2), not a failed check."""
    import pyims.experiment.run as run_mod
    from pyims.errors import SpecError
    from pyims.experiment import load_config

    def refuses(*args, **kwargs):
        raise SpecError("simulation.x=1 is refused; use 2")

    monkeypatch.setattr(run_mod, "verify_against_ngspice", refuses)
    cfg = _config(tmp_path, "e", "verify_images = 2")
    with pytest.raises(SpecError, match=r"simulation.x=1 is refused; use 2"):
        run_mod.run_experiment(load_config(cfg))


def test_simulation_errors_cross_processes_whole(tmp_path):
    err = SimulationTimeout("ngspice did not finish within timeout_s=1", rundir=tmp_path, cmd=("ngspice", "-b"),
                            returncode=-9, output_tail="last line")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is SimulationTimeout and isinstance(back, SimulationError)
    assert (back.rundir, back.cmd, back.returncode, back.output_tail, str(back)) == \
        (tmp_path, ("ngspice", "-b"), -9, "last line", str(err))


def test_dask_shutdown_loggers_are_held_quiet_unless_verbose():
    from pyims.dask_client import SHUTDOWN_LOGGERS, quiet_loggers

    dist, ours = logging.getLogger("distributed"), logging.getLogger("pyims")
    saved = {n: logging.getLogger(n).level for n in (*SHUTDOWN_LOGGERS, "pyims")}
    try:
        dist.setLevel(logging.WARNING)
        ours.setLevel(logging.NOTSET)
        with quiet_loggers():
            assert all(logging.getLogger(n).level == logging.CRITICAL for n in SHUTDOWN_LOGGERS)
        assert dist.level == logging.WARNING  # restored
        ours.setLevel(logging.INFO)  # pyims -v
        with quiet_loggers():
            assert dist.level == logging.WARNING
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_a_bug_in_the_verification_is_not_recorded_as_its_failure(tmp_path, monkeypatch):
    """Only what can stop a verification (pyims's typed errors, OS errors, a lost worker, Ctrl-C) is recorded as
    "failed" with exit 3; a fault of pyims itself propagates (the CLI names it as an internal error)."""
    import pyims.experiment.run as run_module
    from pyims.experiment import load_config, run_experiment
    from pyims.experiment.summary import verification_stops

    def buggy(*args, **kwargs):
        raise AttributeError("a bug")

    monkeypatch.setattr(run_module, "verify_against_ngspice", buggy)
    cfg = load_config(_config(tmp_path, "b", "verify_images = 2"))
    with pytest.raises(AttributeError, match="a bug"):
        run_experiment(cfg, tmp_path / "out", show_progress=False)
    stops = verification_stops()
    assert KeyboardInterrupt in stops and OSError in stops and not issubclass(AttributeError, stops)
