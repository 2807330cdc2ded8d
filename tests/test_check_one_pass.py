"""#25 / #26: every config error in one pass, "did you mean", one validation for check and run (command-line flags
too), and the time / memory estimate ``pyims check`` prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import pyims.experiment.preflight as preflight_module
from pyims.cli import main
from pyims.errors import ConfigError, ModelFileError
from pyims.experiment.config import load_config, parse_config
from pyims.experiment.preflight import RunFlags, estimate_run, preflight
from pyims.sweeps.spec import parse_sweep

SMALL = {"train": {"hidden": [6], "epochs": 1}, "dataset": {"max_train": 60, "max_test": 20},
         "simulation": {"verify_images": 0}}


def _merge(over: dict) -> dict:
    out = {k: dict(v) for k, v in SMALL.items()}
    for section, table in over.items():
        out[section] = {**out.get(section, {}), **table} if isinstance(table, dict) else table
    return out


def _write(tmp_path: Path, data: dict, name: str = "c.toml") -> Path:
    """``data`` (sections of numbers, strings and lists) as a TOML file: JSON's scalars and arrays are TOML's."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if isinstance(table, dict):
            lines += [f"[{section}]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ every config error in one pass
MANY = {
    "trian": {"epochs": 3},
    "train": {"epoch": 3, "learning_rate": -1.0},
    "device": {"kind": "pcmm", "g_max_s": 1e-5},
    "simulation": {"mode": "analogue", "verify_images": -1, "repeats": "two"},
    "adc": {"bits": 0},
}


def test_every_problem_of_every_section_in_one_error():
    with pytest.raises(ConfigError) as info:
        parse_config(MANY, source="my.toml")
    problems = info.value.problems
    assert str(info.value).splitlines() == list(problems)
    wanted = [r"unknown section or field 'trian'", r"unknown field train\.epoch", r"train\.learning_rate=-1\.0 must be > 0",
              r"device\.kind='pcmm' is unknown", r"simulation\.mode='analogue' is unknown",
              r"simulation\.verify_images=-1 must be an integer >= 0", r"simulation\.repeats='two' must be an integer",
              r"adc\.bits=0 must be an integer in 1\.\.24"]
    for pattern in wanted:
        assert sum(bool(re.search(pattern, p)) for p in problems) == 1, (pattern, problems)
    assert len(problems) == len(wanted)  # a dropped field's consequences (pcm's g_max_s on the default kind) not repeated
    assert all(p.startswith("my.toml: ") for p in problems)


def test_the_first_line_is_the_message_of_the_first_problem_alone():
    with pytest.raises(ConfigError) as alone:
        parse_config({"train": {"epoch": 3}}, source="c")
    with pytest.raises(ConfigError) as many:
        parse_config({"train": {"epoch": 3}, "simulation": {"mode": "x"}}, source="c")
    assert many.value.problems[0] == str(alone.value)
    assert len(many.value.problems) == 2


def test_a_problem_that_follows_from_another_is_not_listed():
    # t_rise_s off the grid is a problem of its own; read_times_s without t_read_s follows from the bad t_read_s
    with pytest.raises(ConfigError) as info:
        parse_config({"simulation": {"t_read_s": -1.0, "read_times_s": [1e-12]}})
    assert len(info.value.problems) == 1 and "simulation.t_read_s" in info.value.problems[0]


def test_a_good_config_still_loads():
    cfg = parse_config(_merge({}))
    assert cfg.train.hidden == (6,)


# ------------------------------------------------------------------ did you mean
SUGGESTIONS = {
    "section": ({"trian": {}}, "train", lambda d: {"train": {}}),
    "key": ({"train": {"epoch": 3}}, "epochs", lambda d: {"train": {"epochs": 3}}),
    "device.kind": ({"device": {"kind": "pcmm"}}, "pcm", lambda d: {"device": {"kind": "pcm"}}),
    "simulation.mode": ({"simulation": {"mode": "analogue"}}, "analog", lambda d: {"simulation": {"mode": "analog"}}),
    "simulation.activations": ({"simulation": {"activations": "circut"}}, "circuit",
                               lambda d: {"simulation": {"activations": "circuit"}}),
    "drift_compensation": ({"device": {"kind": "pcm", "drift_compensation": "globl"}, "simulation": {"mode": "tiled"}},
                           "global", lambda d: {**d, "device": {"kind": "pcm", "drift_compensation": "global"}}),
    "neuron.kind": ({"neuron": {"kind": "sigmiod"}}, "sigmoid", lambda d: {"neuron": {"kind": "sigmoid"}}),
    "dataset.name": ({"dataset": {"name": "digit"}}, "digits", lambda d: {"dataset": {"name": "digits"}}),
    "a device kind's own key": ({"device": {"kind": "pcm", "g_max": 1e-5}}, "g_max_s",
                                lambda d: {"device": {"kind": "pcm", "g_max_s": 1e-5}}),
}


@pytest.mark.parametrize("data, word, fixed", SUGGESTIONS.values(), ids=SUGGESTIONS.keys())
def test_did_you_mean_and_the_suggestion_works_as_typed(data, word, fixed):
    with pytest.raises(ConfigError, match=rf"did you mean '{word}'\?"):
        parse_config(data)
    parse_config(fixed(data))  # the suggestion, typed as written, loads


def test_no_suggestion_for_a_word_close_to_nothing():
    with pytest.raises(ConfigError) as info:
        parse_config({"train": {"zzzzqqq": 1}})
    assert "did you mean" not in str(info.value) and "allowed: hidden, epochs" in str(info.value)


# ------------------------------------------------------------------ sweeps: every problem, each once
def test_a_sweep_lists_every_problem_and_a_base_problem_once(tmp_path):
    data = {"name": "s", "colour": "red", "experiment": {"train": {"epoch": 3}},
            "axes": {"wires.r_row_ohm": [1.0, 2.0, 3.0], "neuron.kind": ["sigmoid", "swish"], "bad": 1}}
    with pytest.raises(ConfigError) as info:
        parse_sweep(data, base_dir=tmp_path)
    problems = info.value.problems
    assert any("unknown field 'colour'" in p for p in problems)
    assert any("axis 'bad' needs a non-empty list of values" in p for p in problems)
    data.pop("colour"), data["axes"].pop("bad")
    with pytest.raises(ConfigError) as info:
        parse_sweep(data, base_dir=tmp_path)
    problems = info.value.problems
    assert sum("unknown field train.epoch; did you mean 'epochs'?" in p for p in problems) == 1  # in all 6 points
    assert sum("neuron.kind='swish' is unknown" in p for p in problems) == 1  # in 3 points
    assert len(problems) == 2


# ------------------------------------------------------------------ what check must catch before the run (#25)
def _no_training(monkeypatch):
    """Make any training fail loudly: a problem must be found before it."""
    import pyims.experiment.run as run_module

    def refuse(*a, **k):
        raise AssertionError("training started although the config has a problem check can see")

    monkeypatch.setattr(run_module, "train_mlp", refuse)


def _caught_by_check_and_run(tmp_path, monkeypatch, capsys, data, match, *, error=ConfigError, out=None, flags=()):
    """``pyims check``, ``pyims run --dry-run`` and ``run_experiment`` all refuse ``data`` with ``match``, before
    training."""
    path = _write(tmp_path, data)
    args = [str(path)] + (["--out", out] if out else []) + list(flags)
    for argv in (["check", *args], ["run", "--dry-run", *args]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert re.search(match, err), argv
        if error is ConfigError:  # found after the file parsed, named as its parse errors are
            assert err.startswith(f"pyims: error: {path}: "), err
    _no_training(monkeypatch)
    from pyims.experiment.run import run_experiment

    with pytest.raises(error, match=match):
        run_experiment(load_config(path), out)


def test_a_read_time_without_capacitance(tmp_path, monkeypatch, capsys):
    _caught_by_check_and_run(tmp_path, monkeypatch, capsys, _merge({"simulation": {"t_read_s": 1e-9}}),
                             r"simulation.t_read_s=1e-09: a read time needs wire capacitance")


def test_circuit_activations_on_a_model_without_relu(tmp_path, monkeypatch, capsys):
    _caught_by_check_and_run(tmp_path, monkeypatch, capsys, _merge({"simulation": {"activations": "circuit"}}),
                             r"simulation.activations='circuit' with neuron.kind='sigmoid': .* this model has none")


def test_circuit_activations_on_relu_pass():
    cfg = parse_config(_merge({"simulation": {"activations": "circuit"}, "neuron": {"kind": "relu"}}))
    assert preflight(cfg).layer_sizes == (64, 6, 10)


def test_adc_full_scale_of_the_wrong_length(tmp_path, monkeypatch, capsys):
    _caught_by_check_and_run(tmp_path, monkeypatch, capsys, _merge({"adc": {"bits": 8, "full_scale_norm": [1.0, 2.0, 3.0]}}),
                             r"adc.full_scale_norm=\[1.0, 2.0, 3.0\] has 3 entries but the network has 2 crossbar layers")


def test_a_read_time_grid_needing_gigabytes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(preflight_module, "physical_memory_bytes", lambda: 4 * 10**9)  # a 4 GB machine
    data = _merge({"wires": {"r_row_ohm": 1.0, "r_col_ohm": 1.0, "c_row_f": 1e-15, "c_col_f": 1e-15},
                   "simulation": {"t_read_s": 2e-4, "t_step_s": 1e-9}})
    _caught_by_check_and_run(tmp_path, monkeypatch, capsys, data,
                             r"simulation.t_read_s=0.0002: the read time's grid needs about \d+\.\d GB, more than 80 % "
                             r"of this machine's 4.0 GB; use a longer simulation.t_step_s")


def test_a_model_with_more_outputs_than_classes(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", W1=rng.normal(size=(64, 6)), B1=np.zeros(6), W2=rng.normal(size=(6, 12)), B2=np.zeros(12))
    data = _merge({"model": {"source": "npz", "weights": "w.npz"}})
    _caught_by_check_and_run(tmp_path, monkeypatch, capsys, data,
                             r"the network has 12 outputs but the dataset has 10 classes; give a network with one "
                             r"output per class", error=ModelFileError)


@pytest.mark.parametrize("out", [".", "..", "./"])
def test_out_naming_the_current_folder_or_above(tmp_path, monkeypatch, capsys, out):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    _caught_by_check_and_run(tmp_path, monkeypatch, capsys, _merge({}),
                             r"--out '\.{1,2}/?' names (the current folder|a folder above the current one) .*give a new "
                             r"folder", out=out)


def test_the_suggested_out_works(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, _merge({}))
    assert main(["check", str(path), "--out", "pyims-run"]) == 0  # the folder the message suggests for --out .


def test_batch_store_that_is_a_file(tmp_path, capsys):
    (tmp_path / "store").write_text("x")
    path = _write(tmp_path, _merge({}))
    for argv in (["check", str(path), "--batch-store", str(tmp_path / "store")],
                 ["run", "--dry-run", str(path), "--batch-store", str(tmp_path / "store")]):
        assert main(argv) == 2
        assert "--batch-store" in capsys.readouterr().err


def test_a_run_with_a_bad_batch_store_stops_before_training(tmp_path, monkeypatch, capsys):
    (tmp_path / "store").write_text("x")
    path = _write(tmp_path, _merge({}))
    _no_training(monkeypatch)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--batch-store", str(tmp_path / "store")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"--batch-store .* exists and is not a folder"):
        preflight(load_config(path), None, RunFlags(batch_store=tmp_path / "store"))


def test_several_preflight_problems_come_together(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = parse_config(_merge({"simulation": {"t_read_s": 1e-9, "activations": "circuit"},
                               "adc": {"bits": 8, "full_scale_norm": [1.0, 2.0, 3.0]}}))
    with pytest.raises(ConfigError) as info:
        preflight(cfg, ".")
    problems = info.value.problems
    assert [p.split(":")[0].split("=")[0].split(" ")[0] for p in problems] == [
        "simulation.t_read_s", "simulation.activations", "adc.full_scale_norm", "--out"]


def test_every_line_of_several_preflight_problems_names_the_file(tmp_path, capsys):
    path = _write(tmp_path, _merge({"simulation": {"t_read_s": 1e-9, "activations": "circuit"}}))
    assert main(["check", str(path)]) == 2
    lines = capsys.readouterr().err.removeprefix("pyims: error: ").splitlines()
    assert [line.split(": ")[:2] for line in lines] == [[str(path), "simulation.t_read_s=1e-09"],
                                                      [str(path), "simulation.activations='circuit' with neuron.kind='sigmoid'"]]


# ------------------------------------------------------------------ the estimate
def test_check_prints_the_estimate_for_this_machine(tmp_path, capsys):
    path = _write(tmp_path, _merge({}))
    assert main(["check", str(path)]) == 0
    checked = capsys.readouterr().out
    assert "estimate for this machine: about" in checked and "memory about" in checked
    assert main(["run", "--dry-run", str(path), "--out", str(tmp_path / "o")]) == 0
    dry = capsys.readouterr().out
    assert [line for line in dry.splitlines() if line.startswith("  estimate")] == [
        line for line in checked.splitlines() if line.startswith("  estimate")]


def _estimate(over: dict):
    cfg = parse_config(_merge(over))
    return preflight(cfg).estimate


def test_the_estimate_grows_with_epochs_and_images():
    base = _estimate({})
    epochs = _estimate({"train": {"epochs": 4}})
    np.testing.assert_allclose(epochs.train_s, 4 * base.train_s, rtol=1e-12, atol=0.0)  # linear in epochs
    assert epochs.native_s == base.native_s
    images = _estimate({"dataset": {"max_train": 240, "max_test": 80}})
    np.testing.assert_allclose(images.train_s, 4 * base.train_s, rtol=1e-12, atol=0.0)  # and in training images
    assert images.native_s > base.native_s
    verify = _estimate({"simulation": {"verify_images": 8}})
    assert base.ngspice_s == 0.0 and verify.ngspice_s > 0.0
    more = _estimate({"simulation": {"verify_images": 16}})
    assert more.ngspice_s > verify.ngspice_s
    wider = _estimate({"train": {"hidden": [60]}})
    assert wider.train_s > base.train_s and wider.native_s > base.native_s
    assert base.total_s == pytest.approx(base.train_s + base.native_s + base.read_time_s + base.ngspice_s, rel=1e-12)


READ_WIRES = {"r_row_ohm": 1.0, "r_col_ohm": 1.0, "c_row_f": 1e-15, "c_col_f": 1e-15}


def _read_time_estimate(t_read_s: float, *, cholmod: bool, hidden: int = 6, mode: str = "analog"):
    """The estimate of a 64-h-10 read time on a 8x8 dataset with ``t_step_s`` 1e-13 (``t_read_s / 1e-13 + 1`` steps)."""
    from pyims.experiment.preflight import DatasetFacts

    cfg = parse_config(_merge({"wires": READ_WIRES, "train": {"hidden": [hidden]},
                               "simulation": {"t_read_s": t_read_s, "t_step_s": 1e-13, "mode": mode}}))
    facts = DatasetFacts(image_shape=(8, 8), n_classes=10, n_train=60, n_test=20)
    shapes = ((64, hidden), (hidden, 10))
    return estimate_run(cfg, facts, shapes, cfg.partitions.resolve_shapes(shapes), trains=True, tile_bytes=0,
                        cholmod=cholmod)


@pytest.mark.parametrize("cholmod", [True, False], ids=["cholmod", "superlu"])
def test_the_read_time_estimate_grows_with_steps(cholmod):
    short, mid, long = (_read_time_estimate(t, cholmod=cholmod) for t in (2e-11, 4e-11, 8e-11))  # 201, 401, 801 steps
    assert 0.0 < short.read_time_kernels_s < short.read_time_s
    assert short.read_time_s < mid.read_time_s < long.read_time_s
    # the kernels: a fixed part (factorizations, first steps) plus a cost per step -- affine in the grid's samples
    np.testing.assert_allclose(long.read_time_kernels_s - mid.read_time_kernels_s,
                               2 * (mid.read_time_kernels_s - short.read_time_kernels_s), rtol=1e-9, atol=0.0)
    per_step = (mid.read_time_kernels_s - short.read_time_kernels_s) / 200
    fixed = short.read_time_kernels_s - 201 * per_step
    assert per_step > 0.0 and 0.0 < fixed < 0.1 * short.read_time_kernels_s  # at 201 steps the steps dominate
    assert short.kernel_backend == ("cholmod" if cholmod else "superlu")


def test_the_read_time_estimate_is_larger_without_cholmod_and_says_so():
    # 784 -> 100 -> 10 in one tile per layer: big enough that CHOLMOD factors the first layer (>= SCHUR_MIN_UNKNOWNS)
    fast = _read_time_estimate(4e-11, cholmod=True, hidden=100)
    slow = _read_time_estimate(4e-11, cholmod=False, hidden=100)
    assert slow.read_time_kernels_s > 5 * fast.read_time_kernels_s
    np.testing.assert_allclose(fast.kernel_superlu_ratio, slow.read_time_kernels_s / fast.read_time_kernels_s,
                               rtol=1e-12, atol=0.0)
    np.testing.assert_allclose(slow.read_time_s - slow.read_time_kernels_s, fast.read_time_s - fast.read_time_kernels_s,
                               rtol=1e-12, atol=0.0)  # running the kernels does not factor anything
    ratio = f"~{fast.kernel_superlu_ratio:.0f}x"
    assert re.search(rf"assume CHOLMOD .*without it they would take {re.escape(ratio)} longer", fast.describe())
    assert re.search(rf"assume SuperLU: without CHOLMOD \(pip install \"pyims-spice\[fast\]\"\) they take "
                     rf"{re.escape(ratio)} longer", slow.describe())
    # no read time, no word on the backend
    assert "CHOLMOD" not in _estimate({}).describe()


def test_the_read_time_kernel_estimate_follows_the_measured_constants():
    """One 64x6 + 6x10 network, one tile per layer, adjoint kernels (tiled: no energy): the formula by hand."""
    est = _read_time_estimate(2e-11, cholmod=True, mode="tiled")
    superlu = preflight_module.READ_TIME_KERNEL_S_PER_UNKNOWN_RHS["superlu"], \
        preflight_module.READ_TIME_KERNEL_S_PER_STEP_UNKNOWN_RHS["superlu"]
    # both layers are under SCHUR_MIN_UNKNOWNS (2 x 65 x 12 = 1,560 and 2 x 7 x 20 = 280): SuperLU either way
    want = sum(2 * (n_in + 1) * 2 * n_out * min(n_in + 1, n_out) * (superlu[0] + superlu[1] * 201)
               for n_in, n_out in ((64, 6), (6, 10)))
    np.testing.assert_allclose(est.read_time_kernels_s, want, rtol=1e-12, atol=0.0)


def test_a_model_file_is_not_trained():
    from pyims.experiment.preflight import DatasetFacts

    cfg = parse_config(_merge({}))
    facts = DatasetFacts(image_shape=(8, 8), n_classes=10, n_train=100, n_test=50)
    splits = cfg.partitions.resolve_shapes(((64, 6), (6, 10)))
    trained = estimate_run(cfg, facts, ((64, 6), (6, 10)), splits, trains=True, tile_bytes=0)
    loaded = estimate_run(cfg, facts, ((64, 6), (6, 10)), splits, trains=False, tile_bytes=0)
    assert loaded.train_s == 0.0 and trained.train_s > 0.0 and loaded.native_s == trained.native_s
    np.testing.assert_allclose(trained.train_s, preflight_module.TRAIN_S_PER_IMAGE_WEIGHT_EPOCH * 100 * (64 * 6 + 6 * 10),
                               rtol=1e-12, atol=0.0)


def test_a_tiled_read_time_checked_in_ngspice_is_refused_before_training(tmp_path, monkeypatch, capsys):
    # run.py no longer refuses it after training: preflight, the first step of every run, does
    data = _merge({"wires": {"r_row_ohm": 1.0, "r_col_ohm": 1.0, "c_row_f": 1e-15, "c_col_f": 1e-15},
                   "simulation": {"t_read_s": 2e-11, "t_step_s": 1e-13, "mode": "tiled", "verify_images": 2}})
    _caught_by_check_and_run(tmp_path, monkeypatch, capsys, data,
                             r"simulation.t_read_s=2e-11 with simulation.mode='tiled': ngspice checks a read time on "
                             r"the fully-analog network transient; set simulation.verify_images = 0")


# ------------------------------------------------------------------ one preflight per run
def _count_preflights(monkeypatch) -> list[RunFlags | None]:
    """Wrap ``preflight`` wherever it is called from (the CLI imports it from its module, run.py holds its own name);
    returns the list each call appends its ``flags`` to."""
    import pyims.experiment.run as run_module

    calls: list[RunFlags | None] = []
    real = preflight_module.preflight

    def counted(cfg, out_dir=None, flags=None):
        calls.append(flags)
        return real(cfg, out_dir, flags)

    monkeypatch.setattr(preflight_module, "preflight", counted)
    monkeypatch.setattr(run_module, "preflight", counted)
    return calls


@pytest.mark.parametrize("flags", [(), ("--batch-store", "store")], ids=["no flags", "--batch-store"])
def test_a_run_checks_once_with_its_flags(tmp_path, monkeypatch, flags):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, _merge({}))
    calls = _count_preflights(monkeypatch)
    assert main(["run", str(path), "--out", "out", *flags]) == 0
    assert calls == [RunFlags(batch_store="store" if flags else None)]
    assert (tmp_path / "out" / "summary.json").is_file()


@pytest.mark.parametrize("argv", [["check"], ["run", "--dry-run"]], ids=["check", "dry-run"])
def test_check_and_dry_run_call_the_same_preflight_once(tmp_path, monkeypatch, argv):
    path = _write(tmp_path, _merge({}))
    calls = _count_preflights(monkeypatch)
    assert main([*argv, str(path), "--batch-store", str(tmp_path / "store")]) == 0
    assert calls == [RunFlags(batch_store=str(tmp_path / "store"))]


def test_run_experiment_checks_once_and_its_cluster_stands_for_the_flags(tmp_path, monkeypatch):
    from pyims.experiment.run import run_experiment
    from pyims.inference.spice_batches import SpiceCluster

    cfg = parse_config(_merge({}))
    calls = _count_preflights(monkeypatch)
    run_experiment(cfg, tmp_path / "out", show_progress=False)
    assert calls == [None]
    (tmp_path / "store").write_text("x")
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match=r"--batch-store .*store' exists and is not a folder"):
        run_experiment(cfg, tmp_path / "out2", cluster=SpiceCluster(store_dir=tmp_path / "store"))
    assert calls[1:] == [RunFlags(batch_store=tmp_path / "store")]
    given = RunFlags(batch_store=tmp_path / "elsewhere")  # flags given win over the cluster's
    with pytest.raises(AssertionError, match="training started"):  # the check passed: the run went on to train
        run_experiment(cfg, tmp_path / "out3", cluster=SpiceCluster(store_dir=tmp_path / "store"), flags=given)
    assert calls[2:] == [given]
