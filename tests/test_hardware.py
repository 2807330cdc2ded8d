"""The hardware object, the topology decision, analyses as data and the one ``simulate`` entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import pyims
from pyims.errors import AdcCalibrationWarning, SpecError
from pyims.hardware import Auto, FullyAnalog, Tiled
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.spec.analysis import DEFAULT_STEPS, MAX_STEPS, Dc, ReadAt, Repeat, Tran

WIRES = pyims.WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=10.0)
PLAN = pyims.PartitionPlan(horizontal=(2, 1), vertical=(2, 1))


def _mlp(seed: int = 12, neuron: str = "sigmoid") -> MLP:
    rng = np.random.default_rng(seed)
    sizes = (12, 6, 3)
    return MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
               biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind=neuron))


def _x(n: int = 5) -> np.ndarray:
    return np.random.default_rng(6).uniform(size=(n, 12))


# ---------------------------------------------------------------- Hardware
def test_hardware_defaults_are_ideal_and_the_circuit_equals_digital():
    mlp, x = _mlp(), _x()
    digital = pyims.infer(mlp, x)
    np.testing.assert_allclose(digital, mlp.logits(x), rtol=1e-12, atol=1e-12 * np.abs(digital).max())
    analog = pyims.infer(mlp, x, hardware=pyims.Hardware())
    np.testing.assert_allclose(analog, digital, rtol=1e-9, atol=1e-9 * np.abs(digital).max())


def test_hardware_is_frozen_hashable_and_replaced_by_part():
    hw = pyims.Hardware(wires=WIRES, topology="tiled")
    assert hw.topology == Tiled() and hw == pyims.Hardware(wires=WIRES, topology=Tiled())
    assert hash(hw) == hash(pyims.Hardware(wires=WIRES, topology=Tiled()))
    assert hw.replaced(adc=pyims.Adc(bits=4)).adc.bits == 4 and hw.adc is None
    with pytest.raises(AttributeError):
        hw.wires = pyims.WireParasitics()  # type: ignore[misc]


@pytest.mark.parametrize("kwargs, match", [
    ({"wires": 2.0}, r"Hardware.wires is a float; pass a pyims.WireParasitics"),
    ({"plan": (2, 1)}, r"Hardware.plan is a tuple; pass a pyims.PartitionPlan"),
    ({"devices": "pcm"}, r"Hardware.devices is a str; pass a pyims.DeviceSpec"),
    ({"adc": 8}, r"Hardware.adc is a int; pass a pyims.Adc"),
    ({"topology": "mixed"}, r"topology='mixed' is unknown; use pyims.FullyAnalog\(\), pyims.Tiled\(\)"),
])
def test_hardware_rejects_bad_parts(kwargs, match):
    with pytest.raises(SpecError, match=match):
        pyims.Hardware(**kwargs)


def test_the_config_describes_its_hardware():
    from pyims.experiment.config import parse_config

    cfg = parse_config({"wires": {"r_row_ohm": 3.0}, "adc": {"bits": 6}, "simulation": {"mode": "tiled"}})
    hw = cfg.hardware
    assert hw.wires.r_row_ohm == 3.0 and hw.adc.bits == 6 and hw.topology == Tiled()


# ---------------------------------------------------------------- the topology, decided once
def test_the_topology_is_resolved_once_when_mapping():
    mlp = _mlp()
    assert map_network(mlp, pyims.Hardware()).topology == FullyAnalog()
    assert map_network(mlp, pyims.Hardware(topology="tiled")).topology == Tiled()
    assert Auto().resolve(map_network(mlp, pyims.Hardware(topology="tiled"))) == FullyAnalog()


def test_a_topology_the_network_cannot_have_fails_before_any_solve():
    diffamp = pyims.PeripherySpec(sense="diffamp", combine="average")
    with pytest.raises(SpecError, match=r'tiled topology \(mode="tiled"\) co-simulates current-mode tiles'):
        map_network(_mlp(), pyims.Hardware(periphery=diffamp, topology=Tiled()))


def test_tiled_and_fully_analog_agree_without_wires_and_differ_with_them():
    mlp, x = _mlp(), _x()
    ideal = [pyims.infer(mlp, x, hardware=pyims.Hardware(plan=PLAN, topology=t)) for t in (FullyAnalog(), Tiled())]
    np.testing.assert_allclose(ideal[0], ideal[1], rtol=1e-9, atol=1e-9 * np.abs(ideal[0]).max())
    opamp = pyims.PeripherySpec(sense="opamp", opamp_gain_ratio=1e2)
    wired = [pyims.infer(mlp, x, hardware=pyims.Hardware(plan=PLAN, wires=WIRES, periphery=opamp, topology=t))
             for t in (FullyAnalog(), Tiled())]
    assert np.max(np.abs(wired[0] - wired[1])) > 1e-4 * np.abs(wired[0]).max()  # the op-amp loads the lines only in one


def test_the_legacy_keywords_give_what_the_hardware_gives():
    mlp, x = _mlp(), _x()
    adc = pyims.Adc(bits=5)
    with pytest.warns(AdcCalibrationWarning):  # both calibrate the ADC on these images (and say so)
        new = pyims.infer(mlp, x, hardware=pyims.Hardware(wires=WIRES, plan=PLAN, adc=adc, topology="tiled"))
        old = pyims.infer(mlp, x, mode="analog", wires=WIRES, plan=PLAN, adc=adc, circuit="tiled")
    np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize("kwargs, match", [
    ({"hardware": pyims.Hardware(), "wires": WIRES}, r"give the hardware once: hardware=\.\.\. or the keywords wires"),
    ({"hardware": "ideal"}, r"hardware is a str; pass a pyims.Hardware"),
    ({"hardware": pyims.Hardware(), "analysis": "dc"}, r"analysis is a str; pass pyims.Dc\(\)"),
    ({"hardware": pyims.Hardware(), "backend": "spectre"}, r"backend='spectre' is unknown"),
    ({"hardware": pyims.Hardware(), "analysis": ReadAt(1e-9), "t_read_s": 1e-9}, r"give the read time once"),
    ({"frobnicate": 1}, r"infer\(\) got unknown keyword\(s\) frobnicate"),
])
def test_infer_rejects_bad_calls(kwargs, match):
    with pytest.raises(SpecError, match=match):
        pyims.infer(_mlp(), _x(), **kwargs)


# ---------------------------------------------------------------- analyses as data
@pytest.mark.parametrize("t_read_s", [1e-12, 1e-9, 1e-8, 1e-6, 3.7e-3])
def test_any_positive_read_time_gets_a_grid(t_read_s):
    a = ReadAt(t_read_s)
    assert a.n_steps == DEFAULT_STEPS and a.rise_s == a.step_s
    assert a.t_grid_s[-1] == pytest.approx(t_read_s, rel=1e-12)


def test_the_grid_hits_the_rise_the_delay_and_every_read_time():
    a = ReadAt(1e-9, t_rise_s=1e-12, t_delay_s=3e-12, read_times_s=(2.5e-10, 7e-10))
    for t in (a.t_delay_s, a.t_delay_s + a.rise_s, a.t_delay_s + 2.5e-10, a.t_delay_s + 7e-10, a.t_delay_s + a.t_read_s):
        k = t / a.step_s
        assert abs(k - round(k)) < 1e-6
    assert a.n_steps >= DEFAULT_STEPS and a.all_read_times_s == (2.5e-10, 7e-10, 1e-9)
    assert a.index_of(7e-10) == round((3e-12 + 7e-10) / a.step_s)


def test_an_explicit_grid_is_kept_and_checked():
    assert ReadAt(3e-11, t_rise_s=5e-12, t_step_s=5e-13).n_steps == 60
    with pytest.raises(SpecError, match=r"simulation.t_rise_s: t = 5e-12 s is not on the grid of step 2e-12 s"):
        ReadAt(3e-11, t_rise_s=5e-12, t_step_s=2e-12)
    with pytest.raises(SpecError, match=rf"steps up to the read time is too many \(at most {MAX_STEPS}\)"):
        ReadAt(1e-6, t_step_s=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"t_read_s": 0.0}, r"simulation.t_read_s=0.0 must be > 0"),
    ({"t_read_s": 1e-9, "read_times_s": (2e-9,)}, r"read_times_s: 2e-09 s is beyond the simulated window"),
    ({"t_read_s": 1e-6, "t_rise_s": 1e-12}, r"no grid of at most 200000 steps .* leave t_rise_s unset"),
])
def test_read_at_rejects_bad_times(kwargs, match):
    with pytest.raises(SpecError, match=match):
        ReadAt(**kwargs)


def test_analyses_are_frozen_values():
    assert ReadAt(1e-9) == ReadAt(1e-9) and hash(ReadAt(1e-9)) == hash(ReadAt(1e-9)) and Dc() == Dc()
    assert Repeat(Dc(), 3, seed=4).seeds == Repeat(Dc(), 3, seed=4).seeds
    assert len(set(Repeat(Dc(), 5, seed=4).seeds)) == 5
    with pytest.raises(SpecError, match=r"Repeat.n=0 must be an integer >= 1"):
        Repeat(Dc(), 0)
    with pytest.raises(SpecError, match=r"Repeat.inner is a Repeat; repeat a Dc\(\), a ReadAt\(\.\.\.\) or a Tran"):
        Repeat(Repeat(Dc(), 2), 2)


def test_a_read_time_the_old_grid_refused_now_runs_and_a_late_read_is_dc():
    """The issue's new user: a read time of 1 ns with the default rise failed ('not on the grid')."""
    mlp, x = _mlp(neuron="relu"), _x(3)
    wires = pyims.WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, c_row_f=5e-15, c_col_f=5e-15)
    hw = pyims.Hardware(wires=wires)
    dc = pyims.infer(mlp, x, hardware=hw)
    late = pyims.infer(mlp, x, hardware=hw, analysis=ReadAt(1e-9))
    np.testing.assert_allclose(late, dc, rtol=1e-6, atol=1e-6 * np.abs(dc).max())
    early = pyims.infer(mlp, x, hardware=hw, analysis=ReadAt(2e-14))
    assert np.max(np.abs(early - dc)) > 1e-2 * np.abs(dc).max()


def test_a_read_time_without_capacitance_fails_before_any_solve():
    with pytest.raises(SpecError, match=r"a read time needs wire capacitance"):
        pyims.infer(_mlp(), _x(), hardware=pyims.Hardware(wires=WIRES), analysis=ReadAt(1e-9))


# ---------------------------------------------------------------- simulate and Repeat
def test_simulate_returns_typed_results_and_calibrates_the_adc_once():
    net = map_network(_mlp(), pyims.Hardware(wires=WIRES, plan=PLAN, adc=pyims.Adc(bits=6)))
    res = pyims.simulate(net, _x())
    assert res.adc is not None and res.adc.calibrated and not net.adc.calibrated
    again = pyims.simulate(net.on(adc=res.adc), _x()[:1])  # the same converter on one image alone
    # a batch of 1 takes other BLAS kernels than a batch of 5: equal to round-off, not bit for bit
    np.testing.assert_allclose(again.logits, res.logits[:1], rtol=1e-12, atol=1e-12 * np.abs(res.logits).max())


def test_repeat_draws_are_seeded_and_differ_with_variation():
    hw = pyims.Hardware(devices=pyims.DeviceSpec(variation_sigma_ratio=0.1), wires=WIRES,
                        adc=pyims.Adc(bits=8, full_scale_norm=8.0, offset_lsb_sigma=0.5))
    net = map_network(_mlp(), hw)
    a = pyims.simulate(net, _x(), Repeat(Dc(), 3, seed=7))
    b = pyims.simulate(net, _x(), Repeat(Dc(), 3, seed=7))
    np.testing.assert_array_equal(a.logits, b.logits)
    assert a.logits.shape == (3, 5, 3) and a.seeds == Repeat(Dc(), 3, seed=7).seeds
    assert np.min(a.std_logits.max(axis=1)) > 0.0  # every image moves between draws
    one = pyims.simulate(net.redrawn(a.seeds[1]), _x())
    np.testing.assert_array_equal(one.logits, a.logits[1])


def test_simulate_rejects_bad_calls():
    net = map_network(_mlp(), pyims.Hardware())
    with pytest.raises(SpecError, match=r"net is a MLP; pass a MappedNetwork"):
        pyims.simulate(_mlp(), _x())
    with pytest.raises(SpecError, match=r'options is a SimOptions; backend="native" takes a pyims.NativeOptions'):
        pyims.simulate(net, _x(), options=pyims.SimOptions())
    with pytest.raises(SpecError, match=r"inputs have shape \(5, 11\)"):
        pyims.simulate(net, _x()[:, :11])


@pytest.mark.ngspice
def test_a_seeded_draw_reaches_ngspice_as_it_reaches_the_native_solver(run_root):
    """The same Repeat draw (device variation and converter offsets) natively and in ngspice."""
    hw = pyims.Hardware(devices=pyims.DeviceSpec(variation_sigma_ratio=0.2), wires=WIRES, plan=PLAN, topology="tiled")
    net = map_network(_mlp(neuron="relu"), hw)
    x = _x(3)
    rep = Repeat(Dc(), 2, seed=3)
    native = pyims.simulate(net, x, rep)
    spice = pyims.simulate(net, x, rep, backend="ngspice", options=pyims.SimOptions(reltol=1e-10, abstol_a=1e-18,
                                                                                      vntol_v=1e-13))
    scale = np.abs(native.logits).max()
    np.testing.assert_allclose(spice.logits, native.logits, rtol=1e-6, atol=1e-6 * scale)
    assert np.max(np.abs(native.logits[0] - native.logits[1])) > 1e-3 * scale


# ---------------------------------------------------------------- devices in the hardware
def test_the_device_kind_is_config_and_a_device_object_is_hardware():
    from pyims.devices import LinearDevice

    hw = pyims.Hardware(devices=LinearDevice())
    assert hw.device == LinearDevice() and hw.device_spec == pyims.DeviceSpec()
    mlp, x = _mlp(), _x()
    np.testing.assert_array_equal(pyims.infer(mlp, x, hardware=hw), pyims.infer(mlp, x, hardware=pyims.Hardware()))
    with pytest.raises(SpecError, match=r"device.kind='pcmm' is unknown; use one of linear, measured, pcm, rram"):
        pyims.Hardware(devices=pyims.DeviceSpec(kind="pcmm"))
    with pytest.raises(SpecError, match=r'device.kind=3 must be a device kind name, e.g. "linear"'):
        pyims.DeviceSpec(kind=3)  # type: ignore[arg-type]


def test_the_device_kind_leaves_earlier_config_keys_as_they_were():
    from pyims.experiment.config import config_key, parse_config

    assert config_key(parse_config({})) == config_key(parse_config({"device": {"kind": "linear"}})) == "083d6865ba5e35eb"


def test_a_non_linear_cell_is_refused_by_the_solvers_before_any_solve():
    from pyims.devices import Device
    from pyims.inference import NativeNetwork
    from pyims.netlist.model import Resistor

    @dataclass(frozen=True, slots=True, kw_only=True)
    class Cubic(Device):
        """A toy non-linear cell (not registered): I = G V + a V^3."""

        kind: ClassVar[str] = "cubic"
        linear: ClassVar[bool] = False
        a_a_per_v3: float = 1e-5

        def current(self, g_prog_s, v_v, t_since_program_s=0.0, rng=None):
            return np.asarray(g_prog_s) * np.asarray(v_v) + self.a_a_per_v3 * np.asarray(v_v) ** 3

        def element(self, stem, node_a, node_b, g_prog_s):
            return Resistor(f"R{stem}", node_a, node_b, 1.0 / float(g_prog_s))

    net = map_network(_mlp(), pyims.Hardware(devices=Cubic()))
    for run in (lambda: pyims.simulate(net, _x()), lambda: NativeNetwork(net)):
        with pytest.raises(SpecError, match=r'device kind "cubic" is not linear .* solve linear cells only'):
            run()


# ---------------------------------------------------------------- transients
C_WIRES = pyims.WireParasitics(r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=100.0, r_sense_ohm=10.0, c_row_f=5e-15, c_col_f=5e-15)


def test_a_transient_is_the_read_at_its_end_with_every_sample():
    tran = Tran(1.2e-10, t_rise_s=1e-11, t_delay_s=1e-11)
    assert tran.as_read == ReadAt(1.1e-10, t_rise_s=1e-11, t_delay_s=1e-11)
    assert tran.t_grid_s[-1] == pytest.approx(1.2e-10, rel=1e-12)
    net = map_network(_mlp(), pyims.Hardware(wires=C_WIRES, plan=PLAN))
    x = _x(2)
    wave = pyims.simulate(net, x, tran)
    read = pyims.simulate(net, x, tran.as_read)
    np.testing.assert_array_equal(wave.output_t, read.output_t)
    assert wave.output_t.shape == (2, tran.as_read.n_steps + 1, 3)
    with pytest.raises(SpecError, match=r"transient.t_stop_s=1e-11 must exceed t_delay_s=2e-11"):
        Tran(1e-11, t_delay_s=2e-11)
    with pytest.raises(SpecError, match=r"a transient follows one circuit in time: the fully-analog topology"):
        pyims.simulate(map_network(_mlp(), pyims.Hardware(wires=C_WIRES, topology="tiled")), x, tran)


@pytest.mark.ngspice
def test_a_transient_natively_and_in_ngspice(run_root):
    from pyims.inference.read_time import READ_TIME_TOLERANCE_REL

    net = map_network(_mlp(), pyims.Hardware(wires=C_WIRES, plan=PLAN))
    x = _x(1)
    tran = Tran(1.2e-10, t_rise_s=1e-11, t_delay_s=1e-11, t_step_s=2e-13)
    native = pyims.simulate(net, x, tran)
    spice = pyims.simulate(net, x, tran, backend="ngspice")
    scale = np.abs(spice.output_t).max()
    np.testing.assert_allclose(native.output_t, spice.output_t, rtol=0, atol=READ_TIME_TOLERANCE_REL * scale)
    assert np.abs(native.output_t[:, 60] - native.output_t[:, -1]).max() > 0.05 * scale  # it moves: a transient


# ---------------------------------------------------------------- calibrate once
def test_calibrated_hardware_gives_an_image_the_same_outputs_alone_and_in_any_batch():
    mlp, x = _mlp(neuron="relu"), _x(8)
    hw = pyims.Hardware(wires=WIRES, plan=PLAN, topology="tiled", adc=pyims.Adc(bits=4))
    fixed = pyims.calibrate(mlp, x[:4], hw)
    assert fixed.adc.calibrated and not hw.adc.calibrated and fixed.replaced(adc=hw.adc) == hw
    assert pyims.calibrate(mlp, x, fixed) is fixed  # fixed ranges stay as they are
    batch = pyims.infer(mlp, x, hardware=fixed)
    for k in range(x.shape[0]):
        alone = pyims.infer(mlp, x[k : k + 1], hardware=fixed)
        np.testing.assert_allclose(alone, batch[k : k + 1], rtol=1e-12, atol=1e-12 * np.abs(batch).max())
    # without calibrating once, each call calibrates on its own images: one image alone reads otherwise
    with pytest.warns(AdcCalibrationWarning, match=r"calibrated them on its 1 image\(s\)"):
        drift = [np.abs(pyims.infer(mlp, x[k : k + 1], hardware=hw) - batch[k : k + 1]).max() for k in range(x.shape[0])]
    assert max(drift) > 1e-3 * np.abs(batch).max()
    with pytest.raises(SpecError, match=r"hardware is a dict; pass a pyims.Hardware"):
        pyims.calibrate(mlp, x, {})


def test_a_config_naming_an_unknown_device_kind_is_refused_when_read():
    from pyims.errors import ConfigError
    from pyims.experiment.config import parse_config

    with pytest.raises(ConfigError, match=r"config: device.kind='pcmm' is unknown; use one of linear, measured, pcm, rram"):
        parse_config({"device": {"kind": "pcmm"}})
