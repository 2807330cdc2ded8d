"""A read time with an ADC: every sample of the waveform is converted where the topology puts the converter,
the experiment's accuracy at every read time is the converted outputs', a tiled read time converts each
partition's partial sums, and ngspice simulates the converter's SPICE form on the network transient."""

from __future__ import annotations

import numpy as np
import pytest

from pyims.compare import accuracy_stats
from pyims.components.adc import Adc
from pyims.errors import SpecError
from pyims.hardware import Hardware
from pyims.inference import NativeNetwork
from pyims.inference.read_time import READ_TIME_TOLERANCE_REL, NativeReadTime, ngspice_read_time
from pyims.inference.simulate import calibrated
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.spec import PartitionPlan, WireParasitics
from pyims.spec.analysis import ReadAt

WIRES = WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=10.0, c_row_f=5e-15, c_col_f=5e-15)
READ = ReadAt(t_read_s=1.2e-10, t_rise_s=1e-11, t_delay_s=1e-11, t_step_s=2e-13, read_times_s=(3e-11, 6e-11))
PLAN = PartitionPlan(horizontal=(2, 1), vertical=(2, 1))


def _mlp(seed: int = 12) -> MLP:
    rng = np.random.default_rng(seed)
    sizes = (12, 6, 3)
    return MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
               biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind="sigmoid"))


def _net(u: np.ndarray, *, bits: int = 4, topology: str = "analog", plan: PartitionPlan = PLAN):
    """The network with a calibrated ADC (ranges from the settled outputs of ``u``)."""
    net = map_network(_mlp(), Hardware(plan=plan, wires=WIRES, topology=topology, adc=Adc(bits=bits)))
    return calibrated(net, u)


def test_every_sample_of_the_waveform_is_converted():
    """``output_t`` is the ADC's reading of the analog waveform at every grid sample, and so are the outputs at
    every reported read time (today's bug: only the last sample was converted)."""
    u = np.random.default_rng(1).uniform(size=(5, 12))
    net = _net(u)
    res = NativeReadTime(net, READ).run(u)
    raw = NativeReadTime(net.on(adc=None), READ).run(u)  # the same circuit without a converter
    last, n_layers = len(net.layers) - 1, len(net.layers)
    want = net.adc.convert(raw.output_t, layer=last, n_layers=n_layers)
    lsb = net.adc.full_scale(last, n_layers) / 2 ** (net.adc.bits - 1)
    np.testing.assert_allclose(res.output_t, want, rtol=0, atol=1e-9 * lsb)
    np.testing.assert_allclose(res.adc_input_t, raw.output_t, rtol=1e-12, atol=1e-12 * np.max(np.abs(raw.output_t)))
    assert res.read_times_s == (3e-11, 6e-11, 1.2e-10)
    for t in res.read_times_s:
        np.testing.assert_allclose(res.at(t), want[:, READ.index_of(t)], rtol=0, atol=1e-9 * lsb)
    np.testing.assert_allclose(res.logits, want[:, -1], rtol=0, atol=1e-9 * lsb)
    np.testing.assert_allclose(res.pre_norm[-1], res.logits, rtol=0, atol=1e-9 * lsb)
    # the earlier layers are not converted in the fully-analog circuit
    np.testing.assert_allclose(res.pre_norm[0], raw.pre_norm[0], rtol=1e-12, atol=1e-12 * np.max(np.abs(raw.pre_norm[0])))
    # a 4-bit reading is not the analog one: the test sees the difference
    assert np.max(np.abs(res.output_t - raw.output_t)) > 0.1 * lsb


def test_experiment_accuracy_at_every_read_time_is_the_converted_outputs(tmp_path):
    """With [adc] bits = 2, the accuracy reported at an extra read time is that of the converted outputs at that
    sample (it used to be computed from the unconverted waveform)."""
    from pyims.experiment import parse_config, run_experiment

    cfg = parse_config({
        "dataset": {"name": "digits", "max_test": 60}, "train": {"hidden": [8], "epochs": 5},
        "wires": {"r_row_ohm": 5.0, "r_col_ohm": 5.0, "r_driver_ohm": 50.0, "c_row_f": 3e-15, "c_col_f": 3e-15},
        "partitions": {"horizontal": [2, 1], "vertical": [1, 1]},
        "adc": {"bits": 2},
        "simulation": {"mode": "analog", "t_read_s": 3e-11, "t_rise_s": 5e-12, "t_step_s": 5e-13,
                       "read_times_s": [1e-11, 2e-11], "verify_images": 0},
    }, base_dir=tmp_path)
    result = run_experiment(cfg)
    net = result.net
    assert net.adc is not None and net.adc.calibrated
    u = cfg.encoding.quantized(net.check_inputs(result.dataset.test.x_norm))
    y = result.dataset.test.y
    analysis = ReadAt(t_read_s=3e-11, t_rise_s=5e-12, t_step_s=5e-13)
    raw = NativeReadTime(net.on(adc=None), analysis).run(u).output_t  # the analog outputs over the grid
    last, n_layers = len(net.layers) - 1, len(net.layers)
    points = result.summary.read_time.accuracy_at
    assert [p.t_read_s for p in points] == [1e-11, 2e-11, 3e-11]
    for p in points:
        z = raw[:, analysis.index_of(p.t_read_s)]
        want = accuracy_stats(net.adc.convert(z, layer=last, n_layers=n_layers), y, cfg.simulation.tie_atol)
        assert (p.accuracy, p.n_ties) == (want.accuracy, want.n_ties)
    # two bits tie many images: the converted accuracy at 10 ps is not the analog one the old code reported
    early = accuracy_stats(raw[:, analysis.index_of(1e-11)], y, cfg.simulation.tie_atol)
    assert (points[0].accuracy, points[0].n_ties) != (early.accuracy, early.n_ties)


def test_tiled_read_time_converts_each_partitions_partial_sums():
    """Tiled: every layer's partition partial sums are converted, then combined. A late read equals the tiled
    DC result with the same converters; an early one differs."""
    u = np.random.default_rng(2).uniform(size=(6, 12))
    net = _net(u, bits=6, topology="tiled")
    dc = NativeNetwork(net).run(u)
    late = NativeReadTime(net, ReadAt(t_read_s=2e-8, t_rise_s=1e-11, t_step_s=1e-11)).run(u)
    scale = np.max(np.abs(dc.logits))
    np.testing.assert_allclose(late.logits, dc.logits, rtol=0, atol=1e-9 * scale)
    for got, want in zip(late.pre_norm, dc.pre_norm):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.max(np.abs(want)))
    assert late.output_t is None and late.adc_input_t is None
    early = NativeReadTime(net, ReadAt(t_read_s=2e-11, t_rise_s=1e-11, t_step_s=1e-13, read_times_s=(1e-11,))).run(u)
    assert np.max(np.abs(early.logits - dc.logits)) > 1e-2 * scale
    # every read time is reported in tiled mode too: the layers read at 10 ps
    alone = NativeReadTime(net, ReadAt(t_read_s=1e-11, t_rise_s=1e-11, t_step_s=1e-13)).run(u)
    np.testing.assert_allclose(early.at(1e-11), alone.logits, rtol=0, atol=1e-12 * scale)


def test_read_time_errors_with_an_adc():
    u = np.random.default_rng(3).uniform(size=(2, 12))
    raw = map_network(_mlp(), Hardware(plan=PLAN, wires=WIRES, topology="analog", adc=Adc(bits=4)))
    with pytest.raises(SpecError, match=r"needs a calibrated ADC .*simulate.calibrated\(net, u\)"):
        NativeReadTime(raw, READ)
    res = NativeReadTime(_net(u), READ).run(u)
    with pytest.raises(SpecError, match=r"read time 5e-11 s was not reported; this result has \[3e-11, 6e-11, 1.2e-10\]"):
        res.at(5e-11)
    tiled = NativeReadTime(_net(u, topology="tiled"), READ)
    with pytest.raises(SpecError, match=r"settling times follow the outputs' waveforms .* run\(u, settling=False\)"):
        tiled.run(u, settling=True)
    with pytest.raises(SpecError, match=r"the tiled topology is read natively only"):
        ngspice_read_time(_net(u, topology="tiled"), READ, u)


def _whole_codes(q: np.ndarray, lsb: float) -> np.ndarray:
    """Samples that are a code (ngspice's points interpolated onto the grid across a code step are not)."""
    return np.abs(q / lsb - np.round(q / lsb)) <= 1e-6


@pytest.mark.ngspice
def test_ngspice_read_time_simulates_the_converter(run_root):
    """The network transient instantiates the ADC subcircuit on the last layer's outputs: its converted waveform
    agrees with the native one code for code, except at samples whose analog value sits within the read-time
    tolerance of a code boundary (either side may honestly land there) or where ngspice's points are
    interpolated across a code step; most samples are compared. The verification entry passes on it."""
    from pyims.inference.verify import verify_against_ngspice

    u = np.random.default_rng(4).uniform(size=(2, 12))
    net = _net(u, bits=4)
    native = NativeReadTime(net, READ).run(u)
    spice = ngspice_read_time(net, READ, u, run_root=run_root)
    last, n_layers = len(net.layers) - 1, len(net.layers)
    lsb = net.adc.full_scale(last, n_layers) / 2 ** (net.adc.bits - 1)
    # the analog outputs the converters read agree to the read-time tolerance
    scale = np.max(np.abs(spice.adc_input_t))
    assert np.max(np.abs(native.adc_input_t - spice.adc_input_t)) <= READ_TIME_TOLERANCE_REL * scale
    margin = READ_TIME_TOLERANCE_REL * scale
    clear = ((net.adc.code_margin(native.adc_input_t, layer=last, n_layers=n_layers) > margin)
             & (net.adc.code_margin(spice.adc_input_t, layer=last, n_layers=n_layers) > margin)
             & _whole_codes(spice.output_t, lsb))
    assert clear.mean() >= 0.8
    np.testing.assert_allclose(spice.output_t[clear], native.output_t[clear], rtol=0, atol=1e-6 * lsb)
    assert len(np.unique(np.round(native.output_t[clear] / lsb))) >= 4  # it compares many codes, not one
    verification, result = verify_against_ngspice(net, u, native, np.arange(2), analysis=READ)
    assert verification.passed and "read at 1.2e-10" in verification.mode
    assert result.adc == net.adc
