"""#25, sizes: every count a config can type has a documented bound, checked before any work or allocation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyims.errors import ConfigError, SpecError
from pyims.experiment.config import parse_config
from pyims.model.train import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_HIDDEN
from pyims.sweeps.spec import MAX_SWEEP_POINTS, parse_sweep


@pytest.mark.parametrize("train, match", [
    ({"epochs": 2**63}, rf"train.epochs=9223372036854775808 must be an integer in 1..{MAX_EPOCHS}"),
    ({"epochs": 0}, r"train.epochs=0 must be an integer in 1\.\."),
    ({"batch_size": MAX_BATCH_SIZE + 1}, rf"train.batch_size={MAX_BATCH_SIZE + 1} must be an integer in 1\.\."),
    ({"hidden": [10, 10**9]}, rf"train.hidden=\[10, 1000000000\] must be integers in 1..{MAX_HIDDEN}"),
    ({"hidden": [4] * 65}, r"train.hidden has 65 layers; at most 64"),
])
def test_training_sizes_are_bounded(train, match):
    with pytest.raises(ConfigError, match=match):
        parse_config({"train": train})
    parse_config({"train": {"epochs": MAX_EPOCHS, "hidden": [MAX_HIDDEN]}})  # the bounds themselves are fine


def test_a_huge_sweep_is_refused_at_once():
    axes = {f"wires.r_{k}_ohm": [float(v) for v in range(50)] for k in ("row", "col")}
    axes["wires.r_driver_ohm"] = [float(v) for v in range(50)]  # 125,000 points
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=rf"the axes make 125,000 points \(50 x 50 x 50\); a sweep holds at most "
                                          rf"{MAX_SWEEP_POINTS:,}"):
        parse_sweep({"name": "big", "experiment": {}, "axes": axes}, base_dir=Path("."))
    assert time.monotonic() - t0 < 5.0  # not one point was built


# ------------------------------------------------------------------ bounds added with the sizes table (docs/security.md)
def test_monte_carlo_draws_are_bounded():
    from pyims.spec.analysis import MAX_DRAWS, Dc, Repeat

    with pytest.raises(ConfigError, match=rf"simulation.repeats=1099511627776 must be at most {MAX_DRAWS:,}"):
        parse_config({"simulation": {"repeats": 2**40}})  # its seeds alone would take 8 TB
    with pytest.raises(SpecError, match=rf"Repeat.n=10001 draws is too many \(at most {MAX_DRAWS:,}\)"):
        Repeat(Dc(), n=MAX_DRAWS + 1)
    assert len(parse_config({"simulation": {"repeats": MAX_DRAWS}}).simulation.repeat.seeds) == MAX_DRAWS


@pytest.mark.parametrize("kwargs, match", [
    ({"v_step_v": 2.5e-6}, r"sweep -25.0 .. 25.0 V in 2.5e-06 V steps \(v_step_v\) is 20,000,001 points; at most "),
    ({"v_fine_step_v": 1e-9}, r"sweep -1.0 .. 1.0 V in 1e-09 V steps \(v_fine_step_v\) is 2,000,000,001 points"),
])
def test_characterization_points_are_bounded_before_ngspice(kwargs, match, monkeypatch):
    import pyims.characterize as characterize
    from pyims.characterize import MAX_SWEEP_POINTS

    monkeypatch.setattr(characterize, "NgspiceSession", lambda *a, **k: pytest.fail("ngspice started"))
    with pytest.raises(SpecError, match=match + (rf"{MAX_SWEEP_POINTS:,}: use a larger step" if "v_step_v" in kwargs
                                                 else "")):
        characterize.characterize_neuron(**kwargs)


def test_the_characterize_command_refuses_twenty_million_points(capsys):
    from pyims.cli import main

    assert main(["characterize", "--step", "2.5e-6"]) == 2
    assert "is 20,000,001 points; at most 1,000,000" in capsys.readouterr().err


def test_a_resize_whose_images_would_not_fit_is_refused_before_loading(tmp_path, monkeypatch):
    import pyims.experiment.preflight as preflight_module
    import pyims.experiment.run as run_module
    from pyims.data.arrays import MAX_ARRAY_BYTES
    from pyims.experiment.preflight import preflight

    monkeypatch.setattr(run_module, "load_dataset", lambda *a, **k: pytest.fail("the dataset was loaded"))
    monkeypatch.setattr(preflight_module, "physical_memory_bytes", lambda: 2**50)  # only the size bound speaks
    cfg = parse_config({"dataset": {"name": "digits", "resize": [1200, 1200], "max_train": 10, "max_test": 10},
                        "partitions": {"max_rows": 1000}, "train": {"hidden": [4]}, "simulation": {"verify_images": 0}})
    with pytest.raises(ConfigError, match=rf"dataset.resize=\[1200, 1200\]: 1,797 images of 1200x1200 pixels hold 19.3 "
                                          rf"GiB as pyims loads them, more than {MAX_ARRAY_BYTES / 2**30:.0f} GiB"):
        run_module.run_experiment(cfg, tmp_path / "out")
    ok = parse_config({"dataset": {"name": "digits", "resize": [20, 20]}, "simulation": {"verify_images": 0}})
    assert preflight(ok).layer_sizes[0] == 400


def test_adc_resolution_is_bounded():
    with pytest.raises(ConfigError, match=r"adc.bits=25 must be an integer in 1..24"):
        parse_config({"adc": {"bits": 25}})


def test_read_time_steps_are_bounded_in_the_config():
    from pyims.spec.analysis import MAX_STEPS

    with pytest.raises(ConfigError, match=rf"simulation.*too many \(at most {MAX_STEPS}\)"):
        parse_config({"wires": {"c_row_f": 1e-15}, "simulation": {"t_read_s": 1e-6, "t_step_s": 1e-12}})


def test_reproduce_training_sizes_are_bounded_before_the_study(tmp_path, monkeypatch, capsys):
    from pyims.cli import main
    from pyims.model.train import MAX_EPOCHS

    monkeypatch.chdir(tmp_path)

    assert main(["reproduce", "--epochs", str(2**63), "--out", "never-made"]) == 2
    assert f"reproduce: train.epochs=9223372036854775808 must be an integer in 1..{MAX_EPOCHS}" in capsys.readouterr().err
    assert not Path("never-made").exists()


def test_a_folder_digest_is_bounded_in_files(tmp_path, monkeypatch):
    import pyims.fileio as fileio

    for k in range(4):
        (tmp_path / f"f{k}.bin").write_bytes(b"x")
    monkeypatch.setattr(fileio, "_MAX_DIGEST_FILES", 3)
    with pytest.raises(SpecError, match=r"holds more than 3 files; point the config at the data itself"):
        fileio.content_digest(tmp_path)


@pytest.mark.parametrize("command", ["run", "check", "sweep"])
def test_local_workers_are_bounded(command, tmp_path, capsys):
    from pyims.cli import main
    from pyims.experiment.preflight import MAX_LOCAL_WORKERS, RunFlags

    with pytest.raises(SystemExit) as exit_info:
        main([command, str(tmp_path / "c.toml"), "--workers", str(MAX_LOCAL_WORKERS + 1)])
    assert exit_info.value.code == 2
    assert f"{MAX_LOCAL_WORKERS + 1} local worker processes is too many (at most {MAX_LOCAL_WORKERS})" \
        in capsys.readouterr().err
    with pytest.raises(ConfigError, match=rf"--workers 100000 must be an integer in 1..{MAX_LOCAL_WORKERS}"):
        RunFlags(workers=100_000)  # the library's flags too
    assert RunFlags(workers=MAX_LOCAL_WORKERS).workers == MAX_LOCAL_WORKERS


def test_image_counts_are_capped_at_the_images_there():
    """``verify_images`` / ``max_test`` / ``max_train`` pick a subset: a huge one takes every image, allocates nothing
    more."""
    from pyims.experiment.preflight import preflight

    cfg = parse_config({"dataset": {"name": "digits", "max_train": 2**62, "max_test": 2**62},
                        "train": {"hidden": [4], "epochs": 1}, "simulation": {"verify_images": 2**62}})
    assert cfg.simulation.n_verify(450) == 450
    small = parse_config({"dataset": {"name": "digits"}, "train": {"hidden": [4], "epochs": 1},
                          "simulation": {"verify_images": "all"}})
    assert preflight(cfg).estimate == preflight(small).estimate  # the same images as the whole dataset
