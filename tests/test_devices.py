"""Devices as components: the base derives programming, reads and linearisation from what a kind says;
the linear cell is today's resistor; the conductance mapping is a converter object, bit-identical to
the function it replaces."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pytest

import pyims.devices
from pyims.devices import DEVICES, Device, LinearDevice, device_for
from pyims.devices.base import cell_arrays
from pyims.errors import SpecError
from pyims.mapping import ConductanceMapping, map_network, weights_to_conductances
from pyims.model import MLP, NeuronSpec
from pyims.netlist.emit import format_element
from pyims.netlist.model import Resistor
from pyims.netlist.tile import TileNodes, array_elements, build_tile_netlist, sense_source_name
from pyims.spec import DeviceSpec, PartitionPlan, TileSpec, WireParasitics


# --------------------------------------------------------------------------- toy kinds (not registered)
@dataclass(frozen=True, slots=True, kw_only=True)
class CubicCell(Device):
    """I = G (1 + sigma n) V + a V^3: a non-linear cell with one read-noise draw n ~ N(0, 1) per cell."""

    kind: ClassVar[str] = "test_cubic"
    linear: ClassVar[bool] = False
    a_a_per_v3: float = 2e-4
    read_sigma_ratio: float = 0.0

    def current(self, g_prog_s, v_v, t_since_program_s=0.0, rng=None):
        g, v = cell_arrays(g_prog_s, v_v)
        if self.read_sigma_ratio > 0.0:
            g = g * (1.0 + self.read_sigma_ratio * rng.standard_normal(g.shape))
        return g * v + self.a_a_per_v3 * v**3

    def element(self, stem, node_a, node_b, g_prog_s):
        raise NotImplementedError("a B element; not needed here")


@dataclass(frozen=True, slots=True, kw_only=True)
class OhmCell(Device):
    """A linear cell that gives its current only: the base derives its conductance exactly."""

    kind: ClassVar[str] = "test_ohm"
    linear: ClassVar[bool] = True

    def current(self, g_prog_s, v_v, t_since_program_s=0.0, rng=None):
        g, v = cell_arrays(g_prog_s, v_v)
        return g * v

    def element(self, stem, node_a, node_b, g_prog_s):
        return Resistor(f"R{stem}", node_a, node_b, 1.0 / float(g_prog_s))


def _g(shape=(5, 4), seed=0):
    return np.random.default_rng(seed).uniform(1e-6, 1e-4, size=shape)


# --------------------------------------------------------------------------- the linear cell
def test_linear_device_conducts_g_times_v_exactly():
    g, v = _g(), np.random.default_rng(1).uniform(-0.3, 0.3, size=(5, 4))
    dev = LinearDevice()
    assert dev.kind == "linear" and dev.linear is True
    np.testing.assert_array_equal(dev.current(g, v), g * v)
    np.testing.assert_array_equal(dev.conductance(g, v), g)
    np.testing.assert_array_equal(dev.conductance(g, 0.0), g)  # no 0/0 at zero volts
    np.testing.assert_array_equal(dev.g_small_signal(g, v), g)
    assert dev.current(g[:, :1], v).shape == (5, 4)  # broadcasting


def test_read_conductance_is_shaped_like_its_input_and_seeded():
    dev = LinearDevice()
    for g in (_g((3,)), _g((4, 6)), _g((2, 3, 5))):
        out = dev.read_conductance(g, 0.0, seed=5)
        assert out.shape == g.shape and out.dtype == np.float64
        np.testing.assert_array_equal(out, g)  # right after programming: the targets, the same floats
        assert out is not g and np.shares_memory(out, g) is False
        np.testing.assert_array_equal(dev.read_conductance(g, 3.6e3, seed=5), g)  # the ideal cell does not drift
    noisy = CubicCell(read_sigma_ratio=0.05)
    g = _g((6, 7))
    a, b = noisy.read_conductance(g, 1.0, seed=11), noisy.read_conductance(g, 1.0, seed=11)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, noisy.read_conductance(g, 1.0, seed=12))


@pytest.mark.parametrize(
    "g, t, match",
    [
        (np.full(3, 1e-5), -1.0, r"LinearDevice.read_conductance: t_since_program_s=-1.0 must be finite and >= 0"),
        (np.full(3, 1e-5), float("nan"), r"t_since_program_s=nan must be finite"),
        (np.array([1e-5, -1e-9]), 0.0, r"g_target_s holds values that are not finite and >= 0"),
        (np.array([1e-5, np.inf]), 0.0, r"g_target_s holds values that are not finite and >= 0"),
    ],
)
def test_read_conductance_refuses_bad_inputs(g, t, match):
    with pytest.raises(SpecError, match=match):
        LinearDevice().read_conductance(g, t, seed=0)


# --------------------------------------------------------------------------- what the base derives
def test_the_base_linearises_a_nonlinear_cell_by_central_differences():
    dev = CubicCell()
    g, v = _g(), np.random.default_rng(2).uniform(-0.5, 0.5, size=(5, 4))
    v[0, 0] = 0.0
    exact = g + 3.0 * dev.a_a_per_v3 * v**2
    np.testing.assert_allclose(dev.g_small_signal(g, v), exact, rtol=1e-8, atol=1e-10 * exact.max())
    chord = dev.conductance(g, v)
    np.testing.assert_allclose(chord, g + dev.a_a_per_v3 * v**2, rtol=1e-12, atol=1e-12 * g.max())
    assert abs(chord[0, 0] - g[0, 0]) <= 1e-8 * g[0, 0]  # I / V at 0 V: its limit dI/dV
    g_ss, i_eq = dev.companion(g, v)
    np.testing.assert_allclose(g_ss * v + i_eq, dev.current(g, v), rtol=1e-12, atol=1e-12 * np.abs(dev.current(g, v)).max())
    np.testing.assert_allclose(i_eq, -2.0 * dev.a_a_per_v3 * v**3, rtol=1e-6, atol=1e-9 * dev.a_a_per_v3)


def test_the_derivative_sees_the_draw_the_next_read_makes():
    dev = CubicCell(read_sigma_ratio=0.1)
    g, v = _g(), np.full((5, 4), 0.2)
    rng = np.random.default_rng(3)
    g_ss = dev.g_small_signal(g, v, 0.0, rng)  # rng is not advanced...
    n = np.random.default_rng(3).standard_normal(g.shape)  # ...so this is the draw it linearised at
    exact = g * (1.0 + 0.1 * n) + 3.0 * dev.a_a_per_v3 * v**2
    np.testing.assert_allclose(g_ss, exact, rtol=1e-8, atol=1e-10 * exact.max())
    np.testing.assert_array_equal(dev.current(g, v, 0.0, rng), g * (1.0 + 0.1 * n) * v + dev.a_a_per_v3 * v**3)


def test_a_linear_kind_that_gives_its_current_gets_its_conductance_exactly():
    g, v = _g(), np.random.default_rng(4).uniform(-0.3, 0.3, size=(5, 4))
    np.testing.assert_array_equal(OhmCell().conductance(g, v), g)
    np.testing.assert_array_equal(OhmCell().g_small_signal(g, v), g)
    np.testing.assert_array_equal(OhmCell().program(g), g)  # programming lands on target by default


@pytest.mark.parametrize(
    "body, match",
    [
        ({"kind": "k1", "element": lambda self, *a: None, "current": lambda self, *a: None},
         r"device kind Bad: declare linear = True or False"),
        ({"kind": "k2", "linear": True, "element": lambda self, *a: None},
         r"device kind Bad: define conductance\(\.\.\.\) or current\(\.\.\.\)"),
        ({"kind": "k3", "linear": False, "current": lambda self, *a: None},
         r"device kind Bad: define element\(stem, node_a, node_b, g_prog_s\)"),
    ],
)
def test_a_kind_must_say_what_the_base_asks_for(body, match):
    with pytest.raises(TypeError, match=match):
        type("Bad", (Device,), body)


# --------------------------------------------------------------------------- the registry
def test_the_registry_maps_kind_names_to_classes():
    assert DEVICES.get("linear") is LinearDevice and "linear" in DEVICES
    assert DEVICES.kinds()[0] == "linear"
    assert isinstance(device_for(DeviceSpec()), LinearDevice)
    assert isinstance(LinearDevice.from_spec(DeviceSpec(levels=4)), LinearDevice)
    dev = LinearDevice()
    assert device_for(dev) is dev
    assert LinearDevice.from_config({}) == LinearDevice()
    assert "test_cubic" not in DEVICES  # toy kinds defined without the decorator stay out


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: DEVICES.get("pcmm"), r"device.kind='pcmm' is unknown; use one of linear"),
        (lambda: device_for("pcm"), r"device is a str; pass a pyims.DeviceSpec or a pyims.devices.Device"),
        (lambda: LinearDevice.from_config({"g_max_s": 1e-5}),
         r"device.g_max_s is unknown for device.kind='linear'; use g_on_s, g_off_s \(and every kind's"),
    ],
)
def test_registry_errors_name_the_field(call, match):
    with pytest.raises(SpecError, match=match):
        call()


def test_every_module_of_the_package_is_imported_so_a_kind_needs_no_second_file():
    for info in pkgutil.iter_modules(pyims.devices.__path__):
        assert f"pyims.devices.{info.name}" in sys.modules, info.name
    importlib.reload(pyims.devices)  # importing again registers nothing twice
    assert DEVICES.get("linear") is LinearDevice


# --------------------------------------------------------------------------- the conductance mapping
def _reference(w, device, rng=None):
    """``weights_to_conductances`` as it was before the converter object (kept verbatim to hold it to)."""
    w = np.asarray(w, dtype=np.float64)
    w_max = float(np.max(np.abs(w))) if w.size else 0.0
    if w_max == 0.0:
        w_max = 1.0
    dg = device.g_on_s - device.g_off_s
    out = []
    for part in (np.clip(w, 0.0, None) / w_max, np.clip(-w, 0.0, None) / w_max):
        if device.levels is not None:
            top = device.levels - 1
            part = np.round(part * top) / top
        out.append(device.g_off_s + dg * part)
    if device.variation_sigma_ratio > 0.0:
        out = [g * np.exp(device.variation_sigma_ratio * rng.standard_normal(g.shape)) for g in out]
    return out[0], out[1], w_max


SPECS = [
    DeviceSpec(),
    DeviceSpec(g_on_s=1.0 / 5e3, g_off_s=1.0 / 15e3, levels=2),
    DeviceSpec(levels=5),
    DeviceSpec(g_on_s=3e-5, g_off_s=2e-7, levels=16),
    DeviceSpec(variation_sigma_ratio=0.05, variation_seed=7),
    DeviceSpec(levels=9, variation_sigma_ratio=0.2, variation_seed=3),
]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("w", [np.random.default_rng(0).normal(size=(13, 6)), np.zeros((3, 2)), np.zeros((0, 4)),
                               np.array([[1.0, -0.5], [0.0, 2.0]])])
def test_the_converter_object_is_bit_identical_to_the_function_it_replaces(spec, w):
    mapping = ConductanceMapping.from_spec(spec)
    want = _reference(w, spec, np.random.default_rng(spec.variation_seed))
    for got in (mapping.program(w, np.random.default_rng(spec.variation_seed)),
                weights_to_conductances(w, spec, np.random.default_rng(spec.variation_seed))):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2] and got[0].dtype == got[1].dtype == np.float64
    targets = mapping.targets(w)
    np.testing.assert_array_equal(targets[0], _reference(w, replace(spec, variation_sigma_ratio=0.0))[0])
    assert mapping.dg_s == spec.g_on_s - spec.g_off_s and isinstance(mapping.device, LinearDevice)


def test_one_generator_feeds_every_layer_in_turn_as_before():
    spec = DeviceSpec(levels=7, variation_sigma_ratio=0.1, variation_seed=42)
    ws = [np.random.default_rng(k).normal(size=(9, 4)) for k in range(3)]
    rng_new, rng_old = np.random.default_rng(42), np.random.default_rng(42)
    mapping = ConductanceMapping.from_spec(spec)
    for w in ws:
        for a, b in zip(mapping.program(w, rng_new)[:2], _reference(w, spec, rng_old)[:2]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ConductanceMapping(variation_sigma_ratio=0.1).program(np.ones((2, 2))),
         r"ConductanceMapping.program: variation_sigma_ratio=0.1 needs a generator; pass rng=numpy.random.default_rng"),
        (lambda: weights_to_conductances(np.ones((2, 2)), DeviceSpec(variation_sigma_ratio=0.1)),
         r"variation_sigma_ratio=0.1 needs a generator"),
        (lambda: ConductanceMapping(g_on_s=1e-6, g_off_s=1e-5), r"ConductanceMapping.g_on_s=1e-06 must exceed g_off_s=1e-05"),
        (lambda: ConductanceMapping(g_off_s=-1.0), r"ConductanceMapping.g_off_s=-1.0 is negative"),
        (lambda: ConductanceMapping(levels=1), r"ConductanceMapping.levels=1 must be an integer >= 2"),
        (lambda: ConductanceMapping(variation_sigma_ratio=-0.1), r"ConductanceMapping.variation_sigma_ratio=-0.1 is negative"),
        (lambda: ConductanceMapping(device="pcm"), r"ConductanceMapping.device is a str; pass a pyims.devices.Device"),
    ],
)
def test_converter_errors_name_the_field(call, match):
    with pytest.raises(SpecError, match=match):
        call()


def test_the_mapped_network_holds_what_the_device_conducts():
    rng = np.random.default_rng(0)
    sizes = (10, 7, 3)
    mlp = MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec())
    spec = DeviceSpec(levels=16, variation_sigma_ratio=0.05, variation_seed=9)
    net = map_network(mlp, plan=PartitionPlan(horizontal=(2, 1), vertical=(2, 1)), device=spec)
    ref_rng = np.random.default_rng(9)
    dev = LinearDevice()
    for layer, w, b in zip(net.layers, mlp.weights, mlp.biases):
        want = _reference(np.vstack([w, (b / net.u_bias)[None, :]]), spec, ref_rng)  # as map_network augments
        np.testing.assert_array_equal(layer.g_pos_s, want[0])
        np.testing.assert_array_equal(layer.g_neg_s, want[1])
        for p in range(layer.n_h):
            for c in range(layer.n_v):
                g = layer.tile_g(p, c)
                np.testing.assert_array_equal(dev.read_conductance(g, 0.0, seed=1), g)  # identical floats
                v = np.full(g.shape, 0.2)
                np.testing.assert_array_equal(dev.current(g, v), g * v)


# --------------------------------------------------------------------------- the SPICE element
@pytest.mark.parametrize("wires", [WireParasitics(), WireParasitics(r_row_ohm=2.0, r_col_ohm=1.5, r_driver_ohm=10.0),
                                   WireParasitics(r_row_ohm=1.0, row_node_per_pair=True)])
def test_the_linear_cell_element_is_todays_cell_resistor(wires):
    tile = TileSpec(g_s=_g((5, 4), seed=7), wires=wires)
    nodes = TileNodes(tile, prefix="t0_")
    cells = {e.name: e for e in array_elements(tile, nodes, tag="L1") if e.name.startswith("RL1X")}
    assert len(cells) == 20
    dev = LinearDevice()
    for i in range(5):
        for j in range(4):
            mine = dev.element(f"L1X{i}_{j}", nodes.row(i, j), nodes.col(i, j), float(tile.g_s[i, j]))
            assert mine == cells[f"RL1X{i}_{j}"]
            assert format_element(mine) == format_element(cells[f"RL1X{i}_{j}"])


@pytest.mark.ngspice
def test_a_tile_of_linear_cells_in_ngspice_conducts_v_times_g(run_root):
    from pyims.runners.session import NgspiceSession
    from pyims.spec.simulator import TIGHT

    g = np.array([[2e-5, 7e-5], [5e-5, 1e-6]])
    v = np.array([[0.2, -0.1], [0.05, 0.3], [-0.25, 0.15]])
    tile = TileSpec(g_s=g)
    nodes = TileNodes(tile)
    dev = LinearDevice()
    cells = {f"RX{i}_{j}": dev.element(f"X{i}_{j}", nodes.row(i, j), nodes.col(i, j), float(g[i, j]))
             for i in range(2) for j in range(2)}
    built = build_tile_netlist(tile, v)
    netlist = replace(built, elements=tuple(cells.get(e.name, e) for e in built.elements))
    assert netlist == built  # the device writes today's cells
    names = [f"i({sense_source_name(j)})" for j in range(2)]
    out = NgspiceSession(TIGHT.with_(klu=False), run_root=run_root).run(netlist, expect=names, n_points=3)
    want = v @ g
    np.testing.assert_allclose(out.columns(names), want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
