"""Components own their physics: the registry, a neuron added from outside, the sense peripheries."""

from __future__ import annotations

import numpy as np
import pytest

from pyims.components import COMBINERS, NEURONS, SENSES, Registry, combiner_for, neuron_for, sense_for
from pyims.components.neuron import ParametricNeuron
from pyims.errors import SpecError
from pyims.inference import NativeNetwork, SpiceNetwork
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.model.curves import CURVES
from pyims.netlist.model import SubcktInstance, SubcktLibrary
from pyims.spec import PartitionPlan, PeripherySpec, WireParasitics

WIRES = WireParasitics(r_row_ohm=3.0, r_col_ohm=4.0, r_driver_ohm=6.0, r_sense_ohm=5.0)


def _mlp(sizes, neuron, seed=0):
    rng = np.random.default_rng(seed)
    return MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
               biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=neuron)


def test_every_built_in_kind_is_registered_once():
    assert NEURONS.kinds() == ("sigmoid", "hardsigmoid", "linear", "relu", "measured")
    assert SENSES.kinds() == ("ideal", "opamp", "diffamp")
    assert COMBINERS.kinds() == ("sum", "average")
    for registry in (NEURONS, SENSES, COMBINERS):
        for kind in registry:
            assert registry.get(kind).kind == kind


def test_registry_errors_name_the_field_and_the_kinds():
    with pytest.raises(SpecError, match=r"neuron.kind='relu6' is unknown; use one of sigmoid, hardsigmoid, linear, relu, measured"):
        NeuronSpec(kind="relu6")
    with pytest.raises(SpecError, match=r"periphery.sense='adc' is unknown; use one of ideal, opamp, diffamp"):
        PeripherySpec(sense="adc")
    reg = Registry("x.kind")
    with pytest.raises(TypeError, match="needs a class attribute kind"):
        reg.register(type("NoKind", (), {}))
    reg.register(type("A", (), {"kind": "a"}))
    with pytest.raises(TypeError, match=r"x.kind='a' is registered twice"):
        reg.register(type("B", (), {"kind": "a"}))


class SoftsignNeuron(ParametricNeuron):
    """A neuron defined outside pyims, as the recipe in docs/architecture.md does: a = s g z / (1 + |g z|)."""

    kind = "test_softsign"
    subckt = "test_softsign"

    def __call__(self, z):
        x = self.gain_norm * np.asarray(z, dtype=np.float64)
        return np.sign(self.k) * x / (1.0 + np.abs(x))

    def derivative(self, z):
        x = self.gain_norm * np.asarray(z, dtype=np.float64)
        return self.k / (1.0 + np.abs(x)) ** 2

    def library(self):
        text = ".subckt test_softsign in out params: g=1 s=1 vr=1\nB0 out 0 V = vr * s * g * v(in) / (1 + abs(g * v(in)))\n.ends test_softsign\n"
        return SubcktLibrary(name="test_softsign", text=text, defines=("test_softsign",))

    def instance(self, name, node_in, node_out, *, v_z, v_read_v):
        s = -1.0 if self.inverting else 1.0
        return SubcktInstance(name, (node_in, node_out), self.subckt, (("g", self.gain_norm / v_z), ("s", s), ("vr", v_read_v)))


@pytest.fixture
def softsign(monkeypatch):
    # what @NEURONS.register does (a kind with no curve in pyims.model brings its own), undone after the test
    monkeypatch.setitem(NEURONS._classes, SoftsignNeuron.kind, SoftsignNeuron)
    monkeypatch.setitem(CURVES._classes, SoftsignNeuron.kind, SoftsignNeuron)
    return NeuronSpec(kind="test_softsign", gain_norm=1.5)


def test_registering_a_neuron_makes_its_curve_known(monkeypatch):
    monkeypatch.setattr(NEURONS, "_classes", dict(NEURONS._classes))
    monkeypatch.setattr(CURVES, "_classes", dict(CURVES._classes))
    NEURONS.register(SoftsignNeuron)
    spec = NeuronSpec(kind="test_softsign", gain_norm=1.5)
    assert neuron_for(spec) is spec.curve and isinstance(spec.curve, SoftsignNeuron)
    # a built-in kind: the spec calls its curve (math, pyims.model), neuron_for builds its circuit once
    relu = NeuronSpec(kind="relu")
    assert type(relu.curve).__module__ == "pyims.model.curves"
    assert neuron_for(relu) is neuron_for(relu) and neuron_for(relu).kind == "relu"
    np.testing.assert_array_equal(neuron_for(relu)(np.array([-1.0, 2.0])), relu(np.array([-1.0, 2.0])))


def test_a_curve_without_a_circuit_says_so(monkeypatch):
    from pyims.model.curves import LinearCurve

    monkeypatch.setattr(CURVES, "_classes", dict(CURVES._classes))
    CURVES.register(type("TestCurveOnly", (LinearCurve,), {"kind": "test_curve_only"}))
    spec = NeuronSpec(kind="test_curve_only")
    np.testing.assert_array_equal(spec(np.array([2.0])), [2.0])  # trains and infers digitally
    with pytest.raises(SpecError, match=r"neuron.kind='test_curve_only' has a curve but no circuit"):
        neuron_for(spec)


def test_periphery_components_are_built_by_the_components():
    periphery = PeripherySpec(sense="opamp", combine="average", r_avg_ohm=5e3)
    assert sense_for(periphery).kind == "opamp" and sense_for(periphery).spec is periphery
    assert combiner_for(periphery).kind == "average" and combiner_for(periphery).r_avg_ohm == 5e3
    with pytest.raises(SpecError, match=r"periphery.combine='mean' is unknown; use one of sum, average"):
        PeripherySpec(combine="mean")


def test_a_registered_neuron_trains_and_infers_without_other_changes(softsign):
    from pyims.model import TrainSpec, train_mlp

    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(softsign(z), 1.5 * z / (1 + 1.5 * np.abs(z)), rtol=1e-7, atol=1e-12)  # z = 0 is in z
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(64, 6))
    y = (x[:, 0] > x[:, 1]).astype(int)
    mlp = train_mlp(x, y, n_classes=2, neuron=softsign, spec=TrainSpec(hidden=(5,), epochs=3))
    net = map_network(mlp)
    np.testing.assert_allclose(NativeNetwork(net, WireParasitics()).run(x).logits, net.mapped_ideal_forward(x)[-1],
                               rtol=1e-9, atol=1e-12)


@pytest.mark.ngspice
def test_a_registered_neuron_runs_in_ngspice_as_its_own_circuit(softsign, run_root):
    net = map_network(_mlp((8, 5, 3), softsign), plan=PartitionPlan(horizontal=(2, 1), vertical=(1, 1)))
    u = np.random.default_rng(1).uniform(size=(3, 8))
    native = NativeNetwork(net, WIRES).run(u)
    spice = SpiceNetwork(net, WIRES, run_root=run_root).run(u)
    for a, b in zip(spice.pre_norm, native.pre_norm):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9 * np.abs(b).max())


def _imac_like(sizes=(6, 5, 3), plan=PartitionPlan(horizontal=(2, 1), vertical=(1, 1))):
    """A small voltage-mode network (difference amplifiers, averaged partitions) with a linear neuron."""
    periphery = PeripherySpec(sense="diffamp", combine="average", layer_gains_ratio=(4.0, 2.0), opamp_gain_ratio=1e5,
                              r_avg_ohm=1e-3)
    return map_network(_mlp(sizes, NeuronSpec(kind="linear", gain_norm=0.5)), periphery=periphery, plan=plan)


def test_voltage_mode_cannot_be_tiled_or_summed():
    with pytest.raises(SpecError, match=r'set periphery.combine = "average"'):
        PeripherySpec(sense="diffamp")
    with pytest.raises(SpecError, match=r'periphery.sense="diffamp" is voltage mode'):
        NativeNetwork(_imac_like(), WIRES, mode="tiled")


@pytest.mark.ngspice
def test_diffamp_network_transient_settles_to_native_dc_and_reports_line_currents(run_root):
    """The transient reads each sense kind's own currents: into a difference amplifier's input resistors."""
    from pyims.inference.transient import network_transient
    from pyims.spec import Stimulus, TransientSpec

    net = _imac_like()
    wires = WireParasitics(r_row_ohm=3.0, r_col_ohm=4.0, r_driver_ohm=3.0, r_sense_ohm=4.0, c_row_f=1e-15, c_col_f=1e-15)
    u = np.random.default_rng(2).uniform(-1, 1, size=6)
    probes = ("s0_0_0", "s0_0_1", "xd0_0_0.np", "xd0_0_0.nn")  # partition 0, output 0: its I+ / I- line ends, amp inputs
    res = network_transient(net.on(wires=wires), Stimulus.step(u * net.v_read_v, t_rise_s=1e-11), TransientSpec(t_stop_s=2e-9, t_step_s=1e-12),
                            run_root=run_root, probe_nodes=probes)
    dc = NativeNetwork(net, wires).run(u[None, :])
    for wave, pre in zip(res.pre_norm, dc.pre_norm):
        np.testing.assert_allclose(wave[-1], pre[0], rtol=1e-6, atol=1e-9 * np.abs(pre).max())
    assert res.i_sense_a[0].shape == (res.t_s.size, 2, 10) and res.i_sense_a[1].shape == (res.t_s.size, 1, 6)
    # the model's line currents (v_s @ load) against the currents through the amplifier's own input
    # resistors, from its internal nodes: (v(s) - v(np)) / r_in and (v(s) - v(nn)) / r_in, at every time
    r_in = net.periphery.r_in_ohm
    v = res.v_probe_v
    through = np.stack([(v[:, 0] - v[:, 2]) / r_in, (v[:, 1] - v[:, 3]) / r_in], axis=1)
    np.testing.assert_allclose(res.i_sense_a[0][:, 0, :2], through, rtol=1e-6, atol=1e-6 * np.abs(through).max())
