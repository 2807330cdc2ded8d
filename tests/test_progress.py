"""Progress reports: lines in a log (percent, rate, time left), quiet with -q."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from pyims.cli import main
from pyims import progress as progress_module
from pyims.progress import LineProgress, progress_bar, set_quiet


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_lines_give_percent_rate_and_time_left_at_the_interval():
    clock, out = Clock(), io.StringIO()
    bar = LineProgress(20, "native solves", stream=out, interval_s=10.0, clock=clock)
    clock.t = 4.0
    bar.update(4)  # 4 s: before the interval, no line yet
    assert out.getvalue() == ""
    clock.t = 10.0
    bar.update(6)  # 10 items in 10 s: 1/s, 10 left -> 0:10
    assert out.getvalue() == "native solves: 50% (10/20), 1/s, 0:10 left\n"
    bar.set_postfix_str("layer 1 tile (0, 0) 1024x1024: one factorization")
    clock.t = 25.0
    bar.update(10)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[1] == "native solves: 100% (20/20), 0.8/s, 0:25 elapsed [layer 1 tile (0, 0) 1024x1024: one factorization]"
    assert len(lines) == 2  # the final state was written by the last update: closing does not repeat it
    bar.close()  # a second close (a ``with`` block around an explicit close) adds nothing either
    assert out.getvalue().splitlines() == lines


def test_the_final_line_is_written_once():
    clock, out = Clock(), io.StringIO()
    with LineProgress(2, "ngspice (tiled)", stream=out, interval_s=10.0, clock=clock) as bar:
        clock.t = 6.0
        bar.update()  # before the interval: no line
        clock.t = 13.0
        bar.update()  # past it: the 100% line
    assert out.getvalue().splitlines() == ["ngspice (tiled): 100% (2/2), 0.154/s, 0:13 elapsed"]
    out2 = io.StringIO()
    with LineProgress(3, "native", stream=out2, interval_s=10.0, clock=clock) as bar:
        clock.t = 25.0
        bar.update(2)  # a line at 2/3
        clock.t = 27.0
        bar.update()  # 3/3, before the next interval: the closing line says it, once
    lines = out2.getvalue().splitlines()
    assert [line.split(":")[1].split(",")[0].strip() for line in lines] == ["67% (2/3)", "100% (3/3)"]


def test_unknown_total_counts_and_short_work_stays_silent():
    clock, out = Clock(), io.StringIO()
    with LineProgress(None, "ngspice", stream=out, interval_s=5.0, clock=clock) as bar:
        clock.t = 6.0
        bar.update(3)
        bar.set_postfix(loss="0.125")
    assert out.getvalue().splitlines()[0] == "ngspice: 3 done, 0.5/s, 0:06 elapsed"
    assert out.getvalue().splitlines()[1] == "ngspice: 3 done, 0.5/s, 0:06 elapsed [loss=0.125]"
    out2 = io.StringIO()
    with LineProgress(10, "quick", stream=out2, interval_s=5.0, clock=Clock()) as bar:
        bar.update(10)
    assert out2.getvalue() == ""  # done before the first interval: nothing to say


def test_not_a_terminal_gives_lines_and_quiet_gives_nothing(monkeypatch):
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(progress_bar(3, "x"), LineProgress)
    set_quiet(True)
    try:
        assert not isinstance(progress_bar(3, "x"), LineProgress)
        assert progress_bar(3, "x").disable
    finally:
        set_quiet(False)
    assert progress_bar(3, "x", enabled=False).disable


def test_cli_quiet_flag_is_applied_per_call(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(progress_module, "set_quiet", lambda q: seen.append(q))
    with pytest.raises(SystemExit):
        main(["-q", "--version"])
    main(["-q", "netlist", str(tmp_path / "a.cir")])
    main(["netlist", str(tmp_path / "b.cir")])
    assert seen == [True, False]


def _recorded_bars(monkeypatch, module) -> dict:
    """``module.progress_bar`` replaced by log-line bars on a fake clock (one second per update, a line each time):
    ``{desc: (total, enabled, delay_s, unit, stream)}``."""
    bars: dict = {}
    clock = Clock()

    def bar(total, desc, enabled=None, *, delay_s=0.0, unit=""):
        out = io.StringIO()
        line = LineProgress(total, desc, stream=out, interval_s=1.0, clock=clock)
        update = line.update

        def tick(n=1):
            clock.t += 1.0
            update(n)

        line.update = tick
        bars[desc] = (total, enabled, delay_s, unit, out)
        return line

    monkeypatch.setattr(module, "progress_bar", bar)
    return bars


def test_native_inference_reports_its_image_blocks_with_the_time_left(monkeypatch, tmp_path, capsys):
    pytest.importorskip("onnx")
    from onnx_graphs import tiny_cnn

    import pyims
    import pyims.inference.native as native
    from pyims.data import load_dataset
    from pyims.progress import BAR_DELAY_S

    model = pyims.load_model(tiny_cnn(tmp_path / "cnn.onnx", seed=1))
    x = load_dataset("digits").test.x_norm[:10].reshape(10, 1, 8, 8)
    hw = pyims.Hardware(wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0), topology="tiled")
    whole = pyims.infer(model, x, hardware=hw)  # one block: the real bars, quiet (not a terminal, and quick)
    assert capsys.readouterr().err == ""
    bars = _recorded_bars(monkeypatch, native)
    monkeypatch.setattr(native.NativeNetwork, "CHUNK_ROWS", 1)  # one image per block
    blocks = pyims.infer(model, x, hardware=hw)
    np.testing.assert_allclose(blocks, whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())  # blocks change nothing
    total, enabled, delay, unit, out = bars["native: images"]
    assert (total, enabled, delay, unit) == (10, None, BAR_DELAY_S, "image")
    lines = out.getvalue().splitlines()
    assert lines[0] == "native: images: 10% (1/10), 1/s, 0:09 left"  # one image a (fake) second: 9 s left
    assert lines[8] == "native: images: 90% (9/10), 1/s, 0:01 left" and lines[-1].startswith("native: images: 100% (10/10)")
    tiles_total, _, _, tile_unit, tiles_out = bars["native: tiles' port matrices"]
    assert tile_unit == "task" and tiles_total >= 1 and f"({tiles_total}/{tiles_total})" in tiles_out.getvalue()


def test_read_time_reports_its_kernels_and_image_blocks(monkeypatch):
    import pyims
    import pyims.inference.read_time as read_time
    from pyims.model import MLP, NeuronSpec

    rng = np.random.default_rng(0)
    mlp = MLP(weights=(rng.normal(size=(6, 5)), rng.normal(size=(5, 3))), biases=(np.zeros(5), np.zeros(3)),
              neuron=NeuronSpec(kind="relu"))
    x = rng.uniform(size=(7, 6))
    hw = pyims.Hardware(wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0, c_row_f=1e-15, c_col_f=1e-15))
    whole = pyims.infer(mlp, x, hardware=hw, analysis=pyims.ReadAt(1e-11))
    bars = _recorded_bars(monkeypatch, read_time)
    monkeypatch.setattr(read_time.NativeReadTime, "CHUNK", 3)  # blocks of 3, 3 and 1 images
    blocks = pyims.infer(mlp, x, hardware=hw, analysis=pyims.ReadAt(1e-11))
    np.testing.assert_allclose(blocks, whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())
    (name,) = [k for k in bars if k.startswith("read time: step kernels")]
    assert re.fullmatch(r"read time: step kernels \(\d+ steps, 2 layers\)", name)
    total, enabled, delay, _, out = bars[name]  # weighted by each step's size: many updates, not one per layer
    lines = out.getvalue().splitlines()
    assert (enabled, delay) == (None, pytest.approx(2.0)) and total > 2 and len(lines) > 2
    assert lines[-1].startswith(f"{name}: 100% ({total}/{total})")
    total, enabled, _, unit, out = bars["read time: images"]
    assert (total, enabled, unit) == (7, None, "image")
    assert out.getvalue().splitlines()[:2] == ["read time: images: 43% (3/7), 3/s, 0:01 left",
                                               "read time: images: 86% (6/7), 3/s, 0:00 left"]


def test_a_solver_bar_waits_before_it_shows(monkeypatch):
    from pyims.progress import BAR_DELAY_S, progress_bar

    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: True, raising=False)
    bar = progress_bar(5, "native: images", delay_s=BAR_DELAY_S, unit="image")
    try:
        assert bar.delay == BAR_DELAY_S == 2.0 and bar.unit == "image" and not bar.disable
    finally:
        bar.close()
    assert progress_bar(5, "native: images", enabled=False, delay_s=BAR_DELAY_S).disable  # one block: no bar


@pytest.mark.ngspice
def test_a_run_writes_each_bars_final_line_once(monkeypatch, tmp_path):
    """``pyims run``'s bars (training, native, ngspice) on a log: every bar ends with one 100% line."""
    import pyims.experiment.run as run_module
    from pyims.experiment import parse_config, run_experiment

    bars = _recorded_bars(monkeypatch, run_module)
    cfg = parse_config({"name": "progress", "dataset": {"name": "digits", "max_test": 20},
                        "train": {"hidden": [8], "epochs": 2},
                        "simulation": {"verify_images": 2}}, base_dir=tmp_path)
    run_experiment(cfg, None, show_progress=None)
    spice = [d for d in bars if d.startswith("ngspice")]
    assert spice, sorted(bars)
    for desc, (total, *_, out) in bars.items():
        lines = out.getvalue().splitlines()
        if total:
            assert sum("100%" in line for line in lines) == 1, (desc, lines)
    assert bars[spice[0]][4].getvalue().splitlines()[-1].startswith(f"{spice[0]}: 100% (2/2)")
