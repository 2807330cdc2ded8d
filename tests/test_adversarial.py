"""Hostile and careless input, end to end: every case asserts its exact outcome (docs/security.md).

Families: every config field given a wrong type or value; names that would become paths; sweep
specs; data, weight and subcircuit files; the Python API; simulator faults from fake ``ngspice``
programs (garbage, NaN, scaled values, errors, hangs); interruption of report writing; the CLI.
A hypothesis test mutates a valid config and requires that only pyims errors escape.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyims
from pyims.cli import EXIT_USER_ERROR, EXIT_VERIFICATION_FAILED, main
from pyims.errors import (
    ConfigError,
    DatasetError,
    ModelFileError,
    PyimsError,
    SimulationError,
    SimulatorNotFound,
    SpecError,
)
from pyims.experiment.config import _SECTIONS, parse_config
from pyims.experiment.preflight import preflight

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
REAL_NGSPICE = shutil.which("ngspice")

SMALL = {
    "name": "adversarial",
    "dataset": {"name": "digits", "max_train": 200, "max_test": 30},
    "train": {"hidden": [8], "epochs": 2},
    "simulation": {"verify_images": 0, "native_workers": 1},
}


# ---------------------------------------------------------------- every config field, wrong

def _bad_values(tp) -> list[object]:
    """Values of the wrong type (or out of the finite range) for a field of type ``tp``."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin is not None and len(args) == 1 and origin is not tuple:  # X | None
        tp, origin = args[0], typing.get_origin(args[0])
    if tp is bool:
        return ["no", 1]
    if tp is int:
        return [True, 2.5, "3"]
    if tp is float:
        return [math.nan, math.inf, "0.1", False]
    if tp is str:
        return [3, ["x"]]
    if origin is tuple:
        return ["not-a-list", [True]]
    return []


FIELD_CASES = []
for _section, _cls in _SECTIONS.items():
    for _name, _tp in typing.get_type_hints(_cls).items():
        if _name.startswith("_") or _name == "base_dir":
            continue
        for _value in _bad_values(_tp):
            FIELD_CASES.append(pytest.param(_section, _name, _value, id=f"{_section}.{_name}={_value!r}"))


@pytest.mark.parametrize("section, field, value", FIELD_CASES)
def test_every_config_field_refuses_a_wrong_type(section, field, value):
    """A bool is no integer, an integer no bool, a float finite, a list a list: ConfigError names the field."""
    with pytest.raises(ConfigError, match=rf"{section}\.{field}"):
        parse_config({section: {field: value}})


RANGE_CASES = {
    "negative g_on": ({"device": {"g_on_s": -1e-4}}, r"device.g_on_s=-0.0001 must be > 0"),
    "g_off above g_on": ({"device": {"g_on_s": 1e-6, "g_off_s": 1e-4}}, r"must exceed device.g_off_s"),
    "one level": ({"device": {"levels": 1}}, r"device.levels=1 must be an integer >= 2"),
    "negative variation": ({"device": {"variation_sigma_ratio": -0.1}}, r"variation_sigma_ratio=-0.1 is negative"),
    "negative wire": ({"wires": {"r_row_ohm": -1.0}}, r"r_row_ohm=-1.0 is negative"),
    "zero v_read": ({"encoding": {"v_read_v": 0.0}}, r"encoding.v_read_v=0.0 must be > 0"),
    "unknown encoding": ({"encoding": {"kind": "pwm"}}, r"encoding.kind='pwm' is unknown"),
    "unknown sense": ({"periphery": {"sense": "adc"}}, r"periphery.sense='adc' is unknown; use one of ideal, opamp, diffamp"),
    "unknown combine": ({"periphery": {"combine": "max"}}, r"periphery.combine='max' is unknown; use one of sum, average"),
    "diffamp summed": ({"periphery": {"sense": "diffamp"}}, r'set periphery.combine = "average"'),
    "unknown neuron": ({"neuron": {"kind": "relu6"}}, r"neuron.kind='relu6' is unknown"),
    "zero gain": ({"neuron": {"gain_norm": 0.0}}, r"neuron.gain_norm=0.0 must be > 0"),
    "rails swapped": ({"neuron": {"out_lo_norm": 1.0, "out_hi_norm": 0.0}}, r"must exceed out_lo_norm"),
    "measured without curve": ({"neuron": {"kind": "measured"}}, r'kind = "measured" needs curve_in_v'),
    "curve on sigmoid": ({"neuron": {"curve_in_v": [0.0, 1.0]}}, r"belong to kind = \"measured\""),
    "unknown mode": ({"simulation": {"mode": "hybrid"}}, r"simulation.mode='hybrid' is unknown"),
    "negative verify": ({"simulation": {"verify_images": -1}}, r"verify_images=-1 must be an integer >= 0"),
    "zero timeout": ({"simulation": {"timeout_s": 0.0}}, r"simulation.timeout_s=0.0 must be > 0"),
    "negative tie": ({"simulation": {"tie_atol": -1e-3}}, r"simulation.tie_atol=-0.001 must be >= 0"),
    "zero workers": ({"simulation": {"ngspice_workers": 0}}, r"ngspice_workers=0 must be an integer >= 1"),
    "zero native workers": ({"simulation": {"native_workers": 0}}, r"native_workers=0 must be an integer >= 1"),
    "zero batch": ({"simulation": {"batch_size": 0}}, r"batch_size=0 must be a positive integer"),
    "unknown port method": ({"simulation": {"port_method": "lu"}},
                            r"simulation.port_method='lu' is unknown; use one of auto, solves, schur"),
    "zero epochs": ({"train": {"epochs": 0}}, r"train.epochs=0 must be an integer in 1..100000"),
    "zero hidden": ({"train": {"hidden": [0]}}, r"train.hidden=\[0\] must be integers in 1\.\.65536"),
    "negative lr": ({"train": {"learning_rate": -1.0}}, r"train.learning_rate=-1.0 must be > 0"),
    "surrogate below 1": ({"train": {"surrogate_width_ratio": 0.5}}, r"surrogate_width_ratio=0.5 must be a number >= 1"),
    "zero partitions": ({"partitions": {"horizontal": [0, 1]}}, r"partitions.horizontal\[0\]=0 must be an integer >= 1"),
    "counts and max": ({"partitions": {"horizontal": [1, 1], "max_rows": 4}}, r"give horizontal counts or max_rows, not both"),
    "one max col": ({"partitions": {"max_cols": 1}}, r"partitions.max_cols=1 must be an integer >= 2"),
    "unknown dataset": ({"dataset": {"name": "cifar"}}, r"dataset.name='cifar' is unknown"),
    "bad resize": ({"dataset": {"resize": [0, 20]}}, r"dataset.resize=\[0, 20\] must be two positive integers"),
    "zero max_test": ({"dataset": {"max_test": 0}}, r"dataset.max_test=0 must be a positive integer"),
    "npz without path": ({"model": {"source": "npz"}}, r"model.source='npz' needs model.weights"),
    "unknown model source": ({"model": {"source": "onnx"}}, r"model.source='onnx' is unknown"),
    "unknown section": ({"optimizer": {}}, r"unknown section or field 'optimizer'"),
    "unknown field": ({"wires": {"r_wire": 1.0}}, r"unknown field wires.r_wire"),
    "section not a table": ({"wires": 5}, r"wires must be a table"),
    "half a geometry": ({"wires": {"row_geometry": {"width_m": 1e-8, "thickness_m": 1e-8, "pitch_m": 1e-8}}},
                        r"give both wires.row_geometry and wires.col_geometry"),
    "geometry field": ({"wires": {"row_geometry": {"width_m": "x"}, "col_geometry": {}}}, r"wires.row_geometry.width_m"),
    "layer gains empty": ({"periphery": {"layer_gains_ratio": []}}, r"layer_gains_ratio is empty"),
    "layer gain negative": ({"periphery": {"layer_gains_ratio": [1.0, -2.0]}}, r"layer_gains_ratio\[1\]=-2.0 must be > 0"),
}


@pytest.mark.parametrize("data, match", RANGE_CASES.values(), ids=RANGE_CASES.keys())
def test_config_values_out_of_range(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


# ---------------------------------------------------------------- names that would become paths

BAD_NAMES = ["../../x", "/etc/evil", "a/b", "..", ".hidden", "new\nline", "", "x" * 101, "sp ace", "a\\b", "tab\t", "é"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_config_names_are_safe_slugs(name):
    with pytest.raises(ConfigError, match=r"config.name=.* is not a safe name"):
        parse_config({"name": name})


@pytest.mark.parametrize("name", BAD_NAMES[:6])
def test_sweep_names_are_safe_slugs(name):
    from pyims.sweeps import parse_sweep

    with pytest.raises(ConfigError, match=r"sweep.name=.* is not a safe name"):
        parse_sweep({"name": name, "axes": {"wires.r_row_ohm": [0.0]}}, base_dir=EXAMPLES)


def test_the_python_api_checks_names_too():
    from pyims.experiment import ExperimentConfig

    with pytest.raises(SpecError, match=r"config.name='../up' is not a safe name"):
        ExperimentConfig(name="../up")


SWEEP_CASES = {
    "no axes": ({"name": "s"}, r"axes"),
    "empty axis": ({"name": "s", "axes": {"wires.r_row_ohm": []}}, r"wires.r_row_ohm"),
    "unknown field": ({"name": "s", "axes": {"wires.nope": [1.0]}}, r"wires.nope"),
    "bad value": ({"name": "s", "axes": {"wires.r_row_ohm": [-1.0]}}, r"r_row_ohm=-1.0 is negative"),
    "bool value": ({"name": "s", "axes": {"train.epochs": [True]}}, r"train.epochs=True must be an integer"),
    "unknown key": ({"name": "s", "axes": {"wires.r_row_ohm": [1.0]}, "extra": 1}, r"extra"),
}


@pytest.mark.parametrize("data, match", SWEEP_CASES.values(), ids=SWEEP_CASES.keys())
def test_sweep_specs_are_validated_before_running(data, match):
    from pyims.sweeps import parse_sweep

    with pytest.raises(ConfigError, match=match):
        parse_sweep(data, base_dir=EXAMPLES)


# ---------------------------------------------------------------- the Python API

API_CASES = {
    "complex g": (lambda: pyims.TileSpec(g_s=np.full((2, 2), 1e-5 + 1e-6j)), SpecError, r"g_s holds complex numbers"),
    "bool g": (lambda: pyims.TileSpec(g_s=np.ones((2, 2), dtype=bool)), SpecError, r"g_s holds booleans"),
    "string g": (lambda: pyims.TileSpec(g_s=[["a"]]), SpecError, r"cannot be read as a float array"),
    "complex v": (lambda: pyims.simulate_tile(np.full((2, 2), 1e-5), [[1j, 0.0]], r_row_ohm=0, r_col_ohm=0,
                                              r_driver_ohm=0, r_sense_ohm=0), SpecError, r"v_in_v holds complex"),
    "nan v": (lambda: pyims.simulate_tile(np.full((2, 2), 1e-5), [[np.nan, 0.0]], r_row_ohm=0, r_col_ohm=0,
                                          r_driver_ohm=0, r_sense_ohm=0), SpecError, r"v_in_v\[0,0\]=nan is not finite"),
    "wrong v shape": (lambda: pyims.simulate_tile(np.full((2, 2), 1e-5), [[0.1, 0.2, 0.3]], r_row_ohm=0, r_col_ohm=0,
                                                  r_driver_ohm=0, r_sense_ohm=0), SpecError, r"has shape \(1, 3\)"),
    "unknown backend": (lambda: pyims.get_runner("hspice"), SpecError, r"backend='hspice' is unknown"),
    "complex weights": (lambda: pyims.MLP(weights=(np.ones((2, 2)) * 1j,), biases=(np.zeros(2),)), ModelFileError,
                        r"layer 1.weights holds complex"),
    "nan weights": (lambda: pyims.MLP(weights=(np.full((2, 2), np.nan),), biases=(np.zeros(2),)), ModelFileError,
                    r"hold NaN or inf"),
    "chain mismatch": (lambda: pyims.MLP(weights=(np.ones((2, 3)), np.ones((4, 1))), biases=(np.zeros(3), np.zeros(1))),
                       ModelFileError, r"layer 1 has 3 outputs but layer 2 expects 4 inputs"),
    "complex mlp input": (lambda: pyims.MLP(weights=(np.ones((2, 2)),), biases=(np.zeros(2),)).logits([[1j, 0]]),
                          SpecError, r"inputs.x holds complex"),
    "nan mlp input": (lambda: pyims.MLP(weights=(np.ones((2, 2)),), biases=(np.zeros(2),)).logits([[np.nan, 0]]),
                      SpecError, r"inputs hold NaN or inf"),
    "threshold nan": (lambda: pyims.InputEncoding(kind="binary", threshold_norm=float("nan")), SpecError,
                      r"encoding.threshold_norm=nan is not finite"),
    "sim options": (lambda: pyims.SimOptions(reltol=0.0), SpecError, r"SimOptions.reltol=0.0 must be > 0"),
    "sweep workers": (lambda: __import__("pyims.sweeps.run", fromlist=["run_sweep"]).run_sweep(None, None, n_workers=-1),
                      SpecError, r"n_workers=-1 must be an integer >= 1"),
}


@pytest.mark.parametrize("call, error, match", API_CASES.values(), ids=API_CASES.keys())
def test_python_api_refuses_bad_values(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_mapped_network_refuses_complex_and_nan_inputs():
    from pyims.inference import NativeNetwork
    from pyims.mapping import map_network

    net = map_network(pyims.MLP(weights=(np.ones((3, 2)),), biases=(np.zeros(2),)))
    native = NativeNetwork(net, pyims.WireParasitics())
    with pytest.raises(SpecError, match=r"inputs.u holds complex"):
        native.run(np.ones((1, 3)) * 1j)
    with pytest.raises(SpecError, match=r"inputs hold NaN or inf"):
        native.run(np.array([[np.inf, 0.0, 0.0]]))


# ---------------------------------------------------------------- files

def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


NPZ_CASES = {
    "complex": ({"W1": np.ones((64, 10)) * 1j, "B1": np.zeros(10)}, r"layer 1.weights holds complex"),
    "nan": ({"W1": np.full((64, 10), np.nan), "B1": np.zeros(10)}, r"hold NaN or inf"),
    "no W": ({"X": np.ones(3)}, r"holds no weights named W1"),
    "gap": ({"W1": np.ones((64, 5)), "B1": np.zeros(5), "W3": np.ones((5, 10)), "B3": np.zeros(10)}, r"not numbered 1..2"),
    "no bias": ({"W1": np.ones((64, 10))}, r"lacks bias arrays \['B1'\]"),
    "1-D weights": ({"W1": np.ones(64), "B1": np.zeros(1)}, r"weights have shape \(64,\)"),
    "strings": ({"W1": np.array([["a"]]), "B1": np.zeros(1)}, r"cannot be read as a float array"),
}


@pytest.mark.parametrize("arrays, match", NPZ_CASES.values(), ids=NPZ_CASES.keys())
def test_weight_files_are_validated(tmp_path, arrays, match):
    from pyims.model import load_npz_weights

    with pytest.raises(ModelFileError, match=match):
        load_npz_weights(_npz(tmp_path / "w.npz", **arrays))


def test_weight_files_that_are_not_npz_or_pickled(tmp_path):
    from pyims.model import load_npz_weights

    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ModelFileError, match=r"not a readable .npz file"):
        load_npz_weights(tmp_path / "text.npz")
    np.savez(tmp_path / "obj.npz", W1=np.array([object()], dtype=object), B1=np.zeros(1))
    with pytest.raises(ModelFileError, match=r"pickled objects"):
        load_npz_weights(tmp_path / "obj.npz")
    with pytest.raises(ModelFileError, match=r"does not exist"):
        load_npz_weights(tmp_path / "none.npz")


@pytest.mark.parametrize("text, match", [
    ("1,2\n3,x\n", r"W1"),
    ("1+2j,0\n", r"W1"),
    ("", r"W1"),
])
def test_csv_weight_files_are_validated(tmp_path, text, match):
    from pyims.model import load_csv_weights

    (tmp_path / "W1.csv").write_text(text)
    (tmp_path / "B1.csv").write_text("0\n0\n")
    with pytest.raises(ModelFileError, match=match):
        load_csv_weights(tmp_path)


def _idx_dir(tmp_path: Path, train_labels=None, test_images=None) -> Path:
    from conftest import write_fake_mnist
    from pyims.data.idx import write_idx

    d = tmp_path / "mnist"
    write_fake_mnist(d, n_train=20, n_test=10, compress=False)
    if train_labels is not None:
        write_idx(d / "train-labels-idx1-ubyte", train_labels)
    if test_images is not None:
        write_idx(d / "t10k-images-idx3-ubyte", test_images)
    return d


@pytest.mark.parametrize("labels, images, match", [
    (np.full(20, 255, dtype=np.uint8), None, r"train-labels-idx1-ubyte: label 255 at position 0 is outside 0..9"),
    (np.array([3] * 19 + [10], dtype=np.uint8), None, r"label 10 at position 19 is outside 0..9"),
    (np.full(20, -3, dtype=np.int8), None, r"label -3 at position 0"),
    (np.full(20, 0.5, dtype=np.float32), None, r"labels are stored as float32"),
    (None, np.full((10, 28, 28), np.nan), r"t10k-images-idx3-ubyte: pixel nan at position \(0, 0, 0\)"),
    (None, np.full((10, 28, 28), 300.0), r"pixel 300.0 at position"),
    (None, np.full((10, 28, 28), -1.0), r"pixel -1.0 at position"),
])
def test_mnist_files_with_impossible_labels_or_pixels(tmp_path, labels, images, match):
    from pyims.data import load_dataset

    d = _idx_dir(tmp_path, labels, images)
    with pytest.raises(DatasetError, match=match):
        load_dataset("mnist", path=d)


@pytest.mark.parametrize("data, labels, match", [
    ("0.5,1\n1,0\n", "0.5\n1\n", r"label 0.5 at line 1 is not a class number"),
    ("0.5,1\n1,0\n", "-3\n1\n", r"label -3.0 at line 1 is not a class number"),
    ("0.5,1\n1,0\n", "255\n1\n", r"label 255 at line 1 is outside the network's 3 classes"),
    ("nan,1\n1,0\n", "0\n1\n", r"value nan at row 1, column 1 is not finite"),
    ("1+2j,1\n1,0\n", "0\n1\n", r"cannot be read as a CSV file of real numbers"),
    ("0.5,1\n1,0\n", "1,1,0\n0,1,0\n", r"row 1 is not one-hot"),
    ("0.5,1\n1,0\n", "1\n", r"has 2 images but .* has 1 labels"),
])
def test_imac_test_data_is_validated(tmp_path, data, labels, match):
    from pyims.experiment.imac_run import load_imac_test_data

    (tmp_path / "d.csv").write_text(data)
    (tmp_path / "l.csv").write_text(labels)
    with pytest.raises(DatasetError, match=match):
        load_imac_test_data(tmp_path / "d.csv", tmp_path / "l.csv", n_classes=3)


# ---------------------------------------------------------------- preflight: before any work

def test_preflight_refuses_before_training(tmp_path, monkeypatch):
    import pyims.model.train as train

    def no_training(*args, **kwargs):  # pragma: no cover - reaching it is the failure
        raise AssertionError("training started before the bad setting was found")

    monkeypatch.setattr(train, "train_mlp", no_training)
    from pyims.experiment import run_experiment

    (tmp_path / "mine.txt").write_text("a file the user cares about")
    cfg = parse_config(dict(SMALL, simulation={"verify_images": 0}))
    with pytest.raises(SpecError, match=r"holds \['mine.txt'\], which no pyims report writes"):
        run_experiment(cfg, tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "a file the user cares about"
    monkeypatch.setenv("PYIMS_NGSPICE", str(tmp_path / "no-ngspice"))
    with pytest.raises(SimulatorNotFound):
        run_experiment(parse_config(dict(SMALL, simulation={"verify_images": 2})), tmp_path / "new")
    with pytest.raises(SpecError, match=r"partitions.horizontal\[0\]=100 exceeds layer 1's rows=65"):
        preflight(parse_config(dict(SMALL, partitions={"horizontal": [100, 1]})))


def test_preflight_estimates_memory_of_huge_tiles(monkeypatch):
    import pyims.experiment.preflight as pf

    monkeypatch.setattr(pf, "physical_memory_bytes", lambda: 1e9)
    cfg = parse_config(dict(SMALL, dataset={"name": "mnist5k"}, train={"hidden": [2000]}))
    with pytest.raises(SpecError, match=r"largest tile, 785x4000 cells, needs about .* GB .* split it"):
        preflight(cfg)


# ---------------------------------------------------------------- atomic outputs

def test_an_interrupted_report_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    from pyims.experiment import run_experiment
    import pyims.experiment.report as report

    cfg = parse_config(SMALL)
    out = tmp_path / "out"
    run_experiment(cfg, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert oct(os.stat(out / "summary.json").st_mode & 0o777) == oct(0o666 & ~_umask())

    def interrupted(result, tmp):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "_plots", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(parse_config(dict(SMALL, train={"hidden": [9], "epochs": 2})), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched, nothing mixed in
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left behind


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_rerun_replaces_the_report_whole(tmp_path):
    from pyims.experiment import run_experiment

    out = tmp_path / "out"
    run_experiment(parse_config(SMALL), out)
    (out / "stale.png").write_bytes(b"from an older run")
    run_experiment(parse_config(SMALL), out)
    assert not (out / "stale.png").exists()  # replaced whole, not merged


@pytest.mark.parametrize("kind", ["folder", "link"])
def test_a_folder_or_link_under_a_report_files_name_is_never_replaced(tmp_path, kind):
    """#25 probe: ``out/summary.json/precious.txt`` was deleted with the old report -- only the names were checked."""
    from pyims.errors import SpecError
    from pyims.experiment import run_experiment

    out = tmp_path / "out"
    out.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    if kind == "folder":
        (out / "summary.json").mkdir()
        (out / "summary.json" / "precious.txt").write_text("mine")
    else:
        (out / "summary.json").symlink_to(precious)
    with pytest.raises(SpecError, match=r"output folder .*out holds \['summary.json'\], which no pyims report writes"):
        run_experiment(parse_config(SMALL), out)
    assert precious.read_text() == "mine"
    if kind == "folder":
        assert (out / "summary.json" / "precious.txt").read_text() == "mine"


# ---------------------------------------------------------------- simulator faults

FAKE = """#!{python}
import os, subprocess, sys
if "--version" in sys.argv:
    print("******\\n** ngspice-46 : Circuit level simulation program\\n** Compiled with KLU Direct Linear Solver")
    sys.exit(0)
mode = {mode!r}
if mode == "garbage":
    open("output.raw", "wb").write(b"Title: x\\nNo. Variables: 2\\nBinary:\\n\\x00\\x01")
    sys.exit(0)
if mode == "silent":
    sys.exit(0)
if mode == "error":
    print("Error: unknown subckt: xq1")
    sys.exit(1)
if mode == "singular":
    print("Warning: singular matrix:  check node a")
    sys.exit(0)
rc = subprocess.call([{real!r}] + sys.argv[1:])
buf = bytearray(open("output.raw", "rb").read())
start = buf.index(b"Binary:\\n") + len(b"Binary:\\n")
import numpy as np
data = np.frombuffer(bytes(buf[start:]), dtype="<f8").copy()
if mode == "nan":
    data[-1] = np.nan
elif mode == "scaled":
    n_vars = int(buf.split(b"No. Variables:")[1].split(b"\\n")[0])
    data = data.reshape(-1, n_vars)
    data[:, 1:] *= 1.01  # every vector but the sweep variable, one per cent off
    data = data.ravel()
open("output.raw", "wb").write(bytes(buf[:start]) + data.astype("<f8").tobytes())
sys.exit(rc)
"""


def _fake_ngspice(tmp_path: Path, mode: str) -> Path:
    path = tmp_path / f"ngspice-{mode}"
    path.write_text(FAKE.format(python=sys.executable, mode=mode, real=REAL_NGSPICE))
    path.chmod(0o755)
    return path


@pytest.mark.ngspice
@pytest.mark.parametrize("mode, error, match", [
    ("garbage", SimulationError, r"ngspice produced no usable results"),
    ("silent", SimulationError, r"raw file .* was not written"),
    ("error", SimulationError, r"ngspice failed"),
    ("singular", SimulationError, r"did not converge: .*singular matrix"),
    ("nan", SimulationError, r"wrote a non-finite value nan for .* at point"),
])
def test_a_misbehaving_simulator_is_an_error_that_keeps_its_run(tmp_path, run_root, mode, error, match):
    from pyims.runners import TileJob

    g = np.random.default_rng(0).uniform(1e-6, 1e-4, size=(3, 2))
    job = TileJob(tile=pyims.TileSpec(g_s=g, wires=pyims.WireParasitics(r_row_ohm=1.0)), v_in_v=np.full((2, 3), 0.1))
    with pytest.raises(error, match=match) as err:
        pyims.get_runner("ngspice", executable=_fake_ngspice(tmp_path, mode), run_root=run_root).run(job)
    assert err.value.rundir is not None and (err.value.rundir / "circuit.cir").exists()


@pytest.mark.ngspice
def test_a_simulator_that_is_one_per_cent_off_fails_verification_and_exits_3(tmp_path, monkeypatch, capsys):
    """Finite but wrong numbers pass every format check; the native comparison catches them."""
    monkeypatch.setenv("PYIMS_NGSPICE", str(_fake_ngspice(tmp_path, "scaled")))
    config = tmp_path / "c.toml"
    config.write_text('name = "scaled"\n[dataset]\nmax_train = 200\nmax_test = 20\n[train]\nhidden = [8]\nepochs = 2\n'
                      "[simulation]\nverify_images = 2\nnative_workers = 1\n")
    code = main(["run", str(config), "--out", str(tmp_path / "out")])
    assert code == EXIT_VERIFICATION_FAILED
    out, err = capsys.readouterr()
    assert "-> FAIL" in out and "PASS" not in out and "verification FAILED" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["spice_verification"]["passed"] is False


def test_a_version_probe_that_hangs_is_cut_off(tmp_path, monkeypatch):
    import pyims.runners.ngspice_env as env

    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(env, "PROBE_TIMEOUT_S", 0.5)
    with pytest.raises(SimulatorNotFound, match=r"did not answer `--version` within 0.5 s"):
        env.find_ngspice(slow)


# ---------------------------------------------------------------- the command line

CLI_CASES = {
    "missing config": (["run", "/nonexistent/c.toml"], r"config file /nonexistent/c.toml does not exist"),
    "missing sweep": (["sweep", "/nonexistent/s.toml"], r"does not exist"),
    "bad toml": (["run", "{bad}"], r"is not valid TOML"),
    "check missing": (["check", "/nonexistent/c.toml"], r"does not exist"),
    "netlist bad npy": (["netlist", "-", "--g-npy", "/nonexistent.npy"], r"No such file or directory: /nonexistent.npy"),
    "golden unknown": (["golden", "check", "nope"], r"golden case 'nope' is unknown"),
    "characterize file": (["characterize", "x", "--file", "/nonexistent.sub"], r"does not exist"),
}


@pytest.mark.parametrize("argv, match", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_user_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, match):
    argv = [str(tmp_path / "bad.toml") if a == "{bad}" else a for a in argv]
    (tmp_path / "bad.toml").write_text("name = \n")
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("pyims: error: ") and "Traceback" not in err
    assert __import__("re").search(match, err), err


@pytest.mark.parametrize("argv", [["sweep", "x.toml", "--workers", "-1"], ["run", "x.toml", "--verify-images", "-2"],
                                  ["tile-demo", "--vectors", "0"], ["imac", "d", "--data", "a", "--labels", "b", "--max-images", "0"],
                                  ["frobnicate"]])
def test_cli_bad_arguments_exit_2_before_work(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_cli_debug_shows_the_traceback(capsys):
    with pytest.raises(ConfigError):
        main(["--debug", "run", "/nonexistent/c.toml"])


def test_cli_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    import pyims.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_info", interrupted)
    assert main(["info"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("pyims: interrupted;") and err.count("\n") == 1


def test_cli_an_unexpected_bug_is_one_line_without_debug(monkeypatch, capsys):
    import pyims.cli as cli

    monkeypatch.setattr(cli, "_cmd_info", lambda args: {}["missing"])
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pyims: internal error: KeyError") and "--debug" in err and "Traceback" not in err


def test_cli_dry_run_checks_without_running(tmp_path, capsys):
    assert main(["run", str(EXAMPLES / "digits_basic.toml"), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "check 'digits-basic': ok" in out and "largest tile 65x64 cells" in out
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- mutated configs: only pyims errors escape

def _leaves(data, path=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, path + (k,))
    else:
        yield path


_BASE = json.loads(json.dumps(dict(SMALL, wires={"r_row_ohm": 1.0, "r_col_ohm": 1.0},
                                   partitions={"horizontal": [2, 1], "vertical": [1, 1]},
                                   periphery={"sense": "opamp"}, encoding={"kind": "dac", "dac_bits": 4})))
_PATHS = list(_leaves(_BASE))
_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                  st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_PATHS), junk=_JUNK)
def test_mutated_configs_raise_only_pyims_errors(path, junk):
    data = json.loads(json.dumps(_BASE))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    try:
        cfg = parse_config(data)
        preflight(cfg)
    except PyimsError:
        pass


def test_a_measured_neurons_file_is_checked_before_training(tmp_path, monkeypatch):
    import pyims.model.train as train
    from pyims.netlist.untrusted import UntrustedSpiceError

    monkeypatch.setattr(train, "train_mlp", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained first")))
    evil = tmp_path / "n.sub"
    evil.write_text(".subckt n in out\nR1 in out 1k\n.ends\n.control\nshell touch x\n.endc\n")
    neuron = {"kind": "measured", "curve_in_v": [0.0, 1.0, 2.0, 3.0], "curve_out_v": [1.0, 0.5, 0.0, 0.0],
              "subckt": "n", "subckt_file": str(evil)}
    cfg = parse_config(dict(SMALL, neuron=neuron, simulation={"verify_images": 1}))
    with pytest.raises(UntrustedSpiceError, match=r"n.sub:4: \.control is refused"):
        preflight(cfg)


def test_a_store_that_is_a_file_is_refused(tmp_path):
    from pyims.sweeps import ResultStore

    (tmp_path / "f").write_text("x")
    with pytest.raises(SpecError, match=r"result store .* exists and is not a folder"):
        ResultStore(tmp_path / "f")


def test_a_pickled_npy_for_the_netlist_command_is_refused(tmp_path, capsys):
    np.save(tmp_path / "g.npy", np.array([object()], dtype=object), allow_pickle=True)
    assert main(["netlist", "-", "--g-npy", str(tmp_path / "g.npy")]) == EXIT_USER_ERROR
    assert "is not a plain .npy array" in capsys.readouterr().err


def test_output_and_run_root_below_a_file_are_refused_before_work(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("x")
    cfg = parse_config(SMALL)
    with pytest.raises(SpecError, match=r"output folder .*afile/out cannot be created: no writable folder above it"):
        preflight(cfg, tmp_path / "afile" / "out")
    monkeypatch.setenv("PYIMS_RUN_ROOT", str(tmp_path / "afile" / "runs"))
    with pytest.raises(SpecError, match=r"run root .*afile/runs cannot be written \(PYIMS_RUN_ROOT\)"):
        preflight(cfg)
