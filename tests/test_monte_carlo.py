"""Monte Carlo over the hardware's draws in experiments (``simulation.repeats``): the same draws as
``pyims.simulate(net, u, pyims.Repeat(...))``, the summary's device, seeds and spread, the printed report,
the ngspice check of draw 0, and an interrupted run keeping its previous report."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from conftest import rel_diff
from pyims.compare import AccuracyStats, accuracy_stats
from pyims.errors import ConfigError
from pyims.experiment import parse_config, run_experiment
from pyims.experiment.config import config_key
from pyims.experiment.report import format_table
from pyims.experiment.summary import ExperimentSummary, MonteCarloInfo
from pyims.inference.simulate import simulate
from pyims.mapping import map_network
from pyims.spec.analysis import Dc, Repeat

#: A tiny PCM experiment: programming noise, drift an hour after programming with global compensation, stuck
#: cells and an ADC with offset and gain errors -- every draw of the hardware; no read noise (built elsewhere).
PCM = {
    "dataset": {"name": "digits", "max_test": 60},
    "train": {"hidden": [8], "epochs": 8},
    "device": {"kind": "pcm", "t_since_program_s": 3600.0, "drift_compensation": "global", "stuck_off_ratio": 0.02,
               "seed": 3, "read_noise_scale_ratio": 0.0},
    "adc": {"bits": 8, "offset_lsb_sigma": 0.5, "gain_error_sigma_ratio": 0.01, "seed": 4},
    "simulation": {"verify_images": 0, "mode": "tiled", "repeats": 3, "repeat_seed": 7},
}


def _cfg(**simulation):
    data = {k: dict(v) for k, v in PCM.items()}
    data["simulation"].update(simulation)
    return parse_config(data, base_dir=Path.cwd())


@pytest.mark.parametrize(
    "simulation, match",
    [
        ({"repeats": 0}, r"simulation.repeats=0 must be an integer >= 1"),
        ({"repeats": 2.5}, r"simulation.repeats=2.5 must be an integer"),
        ({"repeats": True}, r"simulation.repeats=True must be an integer"),
        ({"repeats": 2, "repeat_seed": -1}, r"simulation.repeat_seed=-1 must be an integer >= 0"),
        ({"repeat_seed": 5}, r"simulation.repeat_seed=5 has no effect with simulation.repeats = 1.*set simulation.repeats "
                             r"= 2 or more"),
    ],
)
def test_repeat_fields_are_checked(simulation, match):
    with pytest.raises(ConfigError, match=match):
        parse_config({"simulation": simulation})


def test_the_suggested_fix_works_and_keys_of_earlier_configs_hold():
    fixed = parse_config({"simulation": {"repeats": 2, "repeat_seed": 5}})  # what the error above suggests
    assert fixed.simulation.repeat == Repeat(Dc(), n=2, seed=5)
    assert parse_config({}).simulation.repeat is None
    # at their defaults the new fields leave every earlier key as it was
    default = parse_config({"simulation": {"repeats": 1, "repeat_seed": 0}})
    assert config_key(default) == config_key(parse_config({})) == "083d6865ba5e35eb"
    keys = {config_key(parse_config({"simulation": s})) for s in
            ({}, {"repeats": 2}, {"repeats": 3}, {"repeats": 2, "repeat_seed": 1})}
    assert len(keys) == 4  # every draw plan is its own point


@pytest.fixture(scope="module")
def pcm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mc") / "report"
    return run_experiment(_cfg(), out, show_progress=False), out


def test_the_draws_are_those_of_the_python_api(pcm_run):
    result, _ = pcm_run
    cfg = result.config
    repeat = Repeat(Dc(), n=3, seed=7)
    assert result.draw_seeds == repeat.seeds
    net = map_network(result.mlp, cfg.hardware)
    u = cfg.encoding.quantized(net.check_inputs(result.dataset.test.x_norm))
    api = simulate(net, u, repeat)
    scale = np.abs(api.logits).max()
    np.testing.assert_allclose(result.draw_logits, api.logits, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(result.analog.logits, api.logits[0], rtol=1e-12, atol=1e-12 * scale)
    # the draws are draws: programming noise, stuck cells, drift exponents and converter errors change with the seed
    for k in (1, 2):
        assert rel_diff(result.draw_logits[k], result.draw_logits[0]) > 1e-3


def test_the_summary_names_the_device_its_seeds_and_the_spread(pcm_run):
    result, out = pcm_run
    s, y = result.summary, result.dataset.test.y
    seeds = Repeat(Dc(), n=3, seed=7).seeds
    d = s.device
    assert d.kind == "pcm" and d.seed == 3 and d.variation_seed == 0
    assert d.description == result.config.hardware.device.describe() and "3600 s after programming" in d.description
    assert d.fields["t_since_program_s"] == 3600.0 and d.fields["drift_compensation"] == "global"
    assert d.fields["g_max_s"] == result.config.hardware.device.g_max_s and d.fields["read_noise_scale_ratio"] == 0.0
    assert [(w.index, w.seed, w.device_seed, w.variation_seed, w.adc_seed) for w in d.draws] == \
        [(k, seed, seed, seed, seed) for k, seed in enumerate(seeds)]
    mc = s.monte_carlo
    per_draw = [accuracy_stats(z, y, 0.0) for z in result.draw_logits]
    assert mc.accuracy_per_draw == [a.accuracy for a in per_draw] and mc.n_draws == 3 and mc.n_images == y.size
    assert mc.n_correct_per_draw == [a.n_correct for a in per_draw]
    assert s.accuracy.analog.accuracy == mc.accuracy_per_draw[mc.reported_draw]  # the rest describes draw 0
    acc = np.array(mc.accuracy_per_draw)
    assert mc.mean == pytest.approx(statistics.fmean(acc), rel=1e-12, abs=1e-15)
    assert mc.std == pytest.approx(statistics.stdev(acc), rel=1e-12, abs=1e-15)
    low, high = sps.t.interval(0.95, df=2, loc=acc.mean(), scale=sps.sem(acc))
    assert (mc.mean_interval.low, mc.mean_interval.high) == pytest.approx((low, high), rel=1e-12, abs=1e-15)
    assert "Student-t" in mc.mean_interval.method
    cuts = statistics.quantiles(acc, n=40, method="inclusive")  # the 2.5 % steps: first and last are 2.5 / 97.5
    assert (mc.draw_interval.low, mc.draw_interval.high) == pytest.approx((cuts[0], cuts[-1]), rel=1e-12, abs=1e-15)
    # Wilson bounds are the two roots of |k/n - p| = z sqrt(p (1 - p) / n)
    z = sps.norm.ppf(0.975)
    for interval, k, n in ((mc.images_interval_draw0, per_draw[0].n_correct, y.size),
                           (mc.images_interval_pooled, sum(a.n_correct for a in per_draw), 3 * y.size)):
        for p in (interval.low, interval.high):
            assert abs(k / n - p) == pytest.approx(z * np.sqrt(p * (1 - p) / n), rel=1e-9, abs=1e-12)
        assert interval.low < k / n < interval.high
    # summary.json holds it all and reads back into the same types
    data = json.loads((out / "summary.json").read_text())
    assert data["device"]["draws"][1]["seed"] == seeds[1] and data["monte_carlo"]["accuracy_per_draw"] == mc.accuracy_per_draw
    assert ExperimentSummary.from_dict(data) == s


def test_the_mean_interval_of_few_scattered_draws_stays_within_0_and_100_percent():
    """Two draws at 94 % and 60 %: the t interval (t(0.975, 1) = 12.7) would run from below 0 to above 100 %; it is cut
    to [0, 1] and says so. Draws close together keep the plain interval."""
    def draws(*correct):
        return [AccuracyStats(n_images=100, n_correct=c, n_ties=0, n_ties_with_label=0, accuracy=c / 100,
                              accuracy_upper=c / 100) for c in correct]

    wide = MonteCarloInfo.from_draws(draws(94, 60), "Repeat")
    assert (wide.mean_interval.low, wide.mean_interval.high) == (0.0, 1.0)
    assert wide.mean_interval.method == "95 % Student-t interval of the mean over 2 draws, cut to [0, 100] %"
    close = MonteCarloInfo.from_draws(draws(80, 82, 81), "Repeat")
    low, high = sps.t.interval(0.95, df=2, loc=0.81, scale=sps.sem([0.80, 0.82, 0.81]))
    assert (close.mean_interval.low, close.mean_interval.high) == pytest.approx((low, high), rel=1e-12, abs=1e-15)
    assert close.mean_interval.method == "95 % Student-t interval of the mean over 3 draws"


def test_the_printed_report_says_the_same(pcm_run):
    result, _ = pcm_run
    mc = result.summary.monte_carlo
    text = format_table(result.summary)
    assert "device: pcm device (" in text
    assert "Monte Carlo over 3 draws of the hardware" in text
    assert "analog accuracy per draw (%): " + ", ".join(f"{100 * a:.2f}" for a in mc.accuracy_per_draw) in text
    assert f"mean {100 * mc.mean:.2f} %, standard deviation {100 * mc.std:.2f} % (points)" in text
    assert (f"95 % Student-t interval of the mean over 3 draws [{100 * mc.mean_interval.low:.2f}, "
            f"{100 * mc.mean_interval.high:.2f}] %") in text
    assert "2.5th-97.5th percentiles of the 3 draws' accuracies" in text
    assert "95 % Wilson score interval of draw 0 over 60 images" in text and "pooled accuracy over 3 x 60" in text
    assert f"are draw 0's (seed {result.draw_seeds[0]})" in text


def test_one_repeat_is_todays_run_on_the_configs_own_seeds():
    cfg = _cfg(repeats=1, repeat_seed=0)
    result = run_experiment(cfg, show_progress=False)
    s = result.summary
    assert s.monte_carlo is None and result.draw_seeds == (None,)
    assert [(w.seed, w.device_seed, w.variation_seed, w.adc_seed) for w in s.device.draws] == [(None, 3, 0, 4)]
    net = map_network(result.mlp, cfg.hardware)  # no redraw: device.seed 3, adc.seed 4
    u = cfg.encoding.quantized(net.check_inputs(result.dataset.test.x_norm))
    logits = simulate(net, u).logits
    np.testing.assert_allclose(result.analog.logits, logits, rtol=1e-12, atol=1e-12 * np.abs(logits).max())
    text = format_table(s)
    assert "one draw on the config's own seeds (device.seed 3, variation_seed 0, adc.seed 4)" in text
    assert "Monte Carlo" not in text


@pytest.mark.ngspice
def test_ngspice_checks_the_first_draw(tmp_path):
    data = {k: dict(v) for k, v in PCM.items() if k != "adc"}  # no converter: the pre-activations compare directly
    data["simulation"].update(repeats=2, verify_images=3)
    result = run_experiment(parse_config(data, base_dir=tmp_path), tmp_path / "out", show_progress=False)
    v = result.summary.spice_verification
    assert v.passed and v.n_images == 3
    idx = result.spice_index
    assert rel_diff(result.spice.logits, result.draw_logits[0][idx]) <= v.tolerance_rel
    assert rel_diff(result.spice.logits, result.draw_logits[1][idx]) > 1e3 * v.tolerance_rel  # not draw 1
    assert "ngspice-" in format_table(result.summary) and "images, draw 0," in format_table(result.summary)


def test_an_interrupted_run_keeps_the_previous_report(tmp_path, monkeypatch):
    import pyims.experiment.run as run_module

    out = tmp_path / "report"
    run_experiment(_cfg(repeats=1, repeat_seed=0), out, show_progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real, calls = run_module._native_run, []

    def interrupted(*args, **kwargs):
        calls.append(kwargs["first"])
        if len(calls) == 2:  # during the second draw
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "_native_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(_cfg(), out, show_progress=False)
    assert calls == [True, False]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous report, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # nothing half-written beside it
