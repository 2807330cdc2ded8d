"""#26 requirement 7 (part): -v shows pyims's own log, third-party loggers stay at WARNING; a model prints short."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

import pyims
from pyims.model import MLP

LENET = Path(__file__).resolve().parents[1] / "examples" / "cnn" / "lenet_fashion.onnx"


def test_verbose_shows_pyims_and_keeps_third_party_loggers_at_warning(tmp_path):
    code = (
        "import logging, sys\n"
        "from pyims.cli import main\n"
        "main(['-v', 'info'])\n"
        "logging.getLogger('fontTools.subset').info('third-party chatter')\n"
        "logging.getLogger('distributed.scheduler').info('third-party chatter')\n"
        "logging.getLogger('pyims.inference.native').info('pyims says')\n"
        "print(logging.getLogger('fontTools').getEffectiveLevel(), logging.getLogger('pyims.x').getEffectiveLevel(),"
        " file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "INFO pyims.inference.native: pyims says" in out.stderr
    assert "third-party chatter" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == f"{logging.WARNING} {logging.INFO}"


def test_without_verbose_pyims_info_is_hidden(tmp_path):
    code = ("from pyims.cli import main\nimport logging\nmain(['info'])\n"
            "logging.getLogger('pyims.inference.native').info('pyims says')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0 and "pyims says" not in out.stderr


def test_a_model_prints_as_one_short_line():
    m = pyims.load_model(LENET)
    text = repr(m)
    assert text == str(m) and "\n" not in text and len(text) < 200
    assert text == ("<pyims Model 'lenet_fashion.onnx': input (1, 28, 28), 12 steps, 5 crossbar layers, "
                    f"{6 * 26 + 16 * 151 + 120 * 401 + 84 * 121 + 10 * 85:,} parameters>")
    assert len(m.summary().splitlines()) == 13  # the long form: one line per step
    mlp = MLP(weights=(np.ones((400, 120)), np.ones((120, 10))), biases=(np.zeros(120), np.zeros(10)))
    assert repr(mlp) == "<pyims MLP 400x120x10, sigmoid neurons, 49,330 parameters>"


def test_an_onnx_runs_summary_records_the_file_not_training():
    import hashlib

    from pyims.experiment.config import parse_config
    from pyims.experiment.summary import ModelInfo, recorded_config

    cfg = parse_config({"dataset": {"name": "fashion-mnist"}, "model": {"file": LENET.name},
                        "simulation": {"mode": "tiled"}}, base_dir=LENET.parent)
    data = recorded_config(cfg)
    assert "train" not in data and "neuron" not in data and "source" not in data["model"]
    assert data["model"]["file"] == LENET.name
    info = ModelInfo.of(cfg, pyims.load_model(LENET))
    assert info.source == "file" and info.path == str(LENET)
    assert info.sha256 == hashlib.sha256(LENET.read_bytes()).hexdigest()
    assert info.activations == ["relu"] and len(info.steps) == 12 and info.steps[0].startswith("Conv2d 1->6 5x5")
    trained = parse_config({"train": {"hidden": [8]}})
    assert "train" in recorded_config(trained) and "neuron" in recorded_config(trained)  # a trained run keeps them


def test_info_lists_every_optional_backend_and_what_its_absence_costs(capsys, monkeypatch):
    import importlib.util

    from pyims.cli import OPTIONAL_BACKENDS, main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sksparse.cholmod" else real(name, *a))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for module, *_ in OPTIONAL_BACKENDS:
        assert f"  {module}" in out
    cholmod = next(line for line in out.splitlines() if "sksparse.cholmod" in line)
    assert " no " in cholmod and "3.8-9x slower" in cholmod and 'pyims-spice[fast]' in cholmod
    assert {m for m, *_ in OPTIONAL_BACKENDS} >= {"sksparse.cholmod", "PySpice", "dask.distributed", "onnx"}
