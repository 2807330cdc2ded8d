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


def test_a_latency_some_images_never_reach_is_not_printed_as_inf(tmp_path):
    """#26 bug C: with images that had not settled by the read time, the p99 settling time is "not reached" and the
    unsettled share is said -- no "inf s" on the console."""
    import dataclasses
    import math

    from pyims.experiment import parse_config, run_experiment
    from pyims.experiment.report import format_settling, format_table

    cfg = parse_config({
        "dataset": {"name": "digits", "max_test": 40}, "train": {"hidden": [8], "epochs": 5},
        "wires": {"r_row_ohm": 5.0, "r_col_ohm": 5.0, "r_driver_ohm": 50.0, "c_row_f": 3e-15, "c_col_f": 3e-15},
        "simulation": {"t_read_s": 1.1e-10, "t_rise_s": 5e-12, "t_step_s": 1e-12, "verify_images": 0},
    }, base_dir=tmp_path)
    rt = run_experiment(cfg, None, show_progress=False).summary
    text = format_table(rt)
    rt = rt.read_time
    assert 0.5 < rt.fraction_settled < 0.99 and not math.isfinite(rt.latency_s)  # the case: some never settle
    assert " inf " not in text and "inf s" not in text
    unsettled = f"{100 * (1 - rt.fraction_settled):.1f} %"
    line = next(l for l in text.splitlines() if "settling:" in l)
    assert line.startswith(f"  settling: p50 {rt.settling_s['p50']:.3g} s, p99 (latency) not reached: {unsettled} of "
                           f"images had not settled by the read time 1.1e-10 s ({100 * rt.fraction_settled:.1f} % had)")
    # every image settled: the percentiles are times
    settled = dataclasses.replace(rt, latency_s=rt.settling_s["p50"], fraction_settled=1.0)
    assert format_settling(settled) == (f"settling: p50 {rt.settling_s['p50']:.3g} s, p99 (latency) "
                                        f"{rt.settling_s['p50']:.3g} s; 100.0 % of images settled by the read time")
