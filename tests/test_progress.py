"""Progress reports: lines in a log (percent, rate, time left), quiet with -q."""

from __future__ import annotations

import io

import pytest

from pyims.cli import main
from pyims.experiment import progress as progress_module
from pyims.experiment.progress import LineProgress, progress_bar, set_quiet


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
    assert len(lines) == 3  # the closing line repeats the final state


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
