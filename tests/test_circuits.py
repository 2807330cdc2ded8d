"""Every subcircuit in circuits/ runs in stock ngspice and computes what its header says."""

from __future__ import annotations

import numpy as np
import pytest

from pyims.model import NeuronSpec
from pyims.netlist.library import LIBRARY_FILES, circuits_dir, load_library
from pyims.netlist.model import GROUND, DcSweep, Netlist, OperatingPoint, Resistor, SubcktInstance, VoltageSource
from pyims.netlist.network import neuron_instance
from pyims.runners.session import NgspiceSession
from pyims.spec.simulator import TIGHT
from pyims.errors import NetlistError


def test_library_files_exist_and_define_their_subcircuit():
    for subckt, name in LIBRARY_FILES.items():
        assert (circuits_dir() / name).is_file()
        assert subckt in load_library(subckt).defines
    with pytest.raises(NetlistError, match="not in the library"):
        load_library("pyims_nothing")


def test_missing_library_dir_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("PYIMS_CIRCUITS_DIR", str(tmp_path / "none"))
    with pytest.raises(NetlistError, match="PYIMS_CIRCUITS_DIR"):
        load_library("pyims_diff")


def _run(elements, saved_v, run_root, subckts, sweep=None):
    netlist = Netlist(
        title="* circuit test", elements=tuple(elements),
        analysis=sweep or OperatingPoint(), saved_voltages=tuple(saved_v),
        libraries=tuple(load_library(s) for s in subckts),
    )
    session = NgspiceSession(TIGHT.with_(timeout_s=60.0), run_root=run_root)
    return session.run(netlist, expect=[f"v({n})" for n in saved_v]).data


@pytest.mark.ngspice
def test_sense_amplifiers_and_diff_stage(run_root):
    # A 1 V source through 10 kohm into each amplifier's input: i = (1 - v_in) / 1e4.
    els = [
        VoltageSource("V1", "x", GROUND, 1.0),
        Resistor("R1", "x", "si", 1e4),
        SubcktInstance("XI", ("si", "oi"), "pyims_sense_ideal", (("rf", 2e4),)),
        Resistor("R2", "x", "so", 1e4),
        SubcktInstance("XO", ("so", "oo"), "pyims_sense_opamp", (("rf", 2e4), ("a", 50.0))),
        SubcktInstance("XD", ("oo", "oi", "d"), "pyims_diff", (("gain", 3.0),)),
    ]
    v = _run(els, ["si", "oi", "so", "oo", "d"], run_root, ["pyims_sense_ideal", "pyims_sense_opamp", "pyims_diff"])[0]
    assert abs(v[0]) < 1e-15 and v[1] == pytest.approx(-2.0, rel=1e-12)
    # op-amp: v_in = -v_out / a; KCL at the input: (1 - v_in)/1e4 = (v_in - v_out)/2e4
    a = 50.0
    v_in = 2.0 / (3.0 + a)  # 2 (1 - v_in) = v_in + a v_in
    assert v[2] == pytest.approx(v_in, rel=1e-9) and v[3] == pytest.approx(-a * v_in, rel=1e-9)
    assert v[4] == pytest.approx(3.0 * (v[3] - v[1]), rel=1e-9)


@pytest.mark.ngspice
@pytest.mark.parametrize(
    "neuron",
    [
        NeuronSpec(kind="sigmoid", gain_norm=2.0, out_lo_norm=0.1, out_hi_norm=0.9),
        NeuronSpec(kind="sigmoid", gain_norm=1.0, inverting=True),
        NeuronSpec(kind="hardsigmoid", gain_norm=1.5, out_lo_norm=0.0, out_hi_norm=1.0, inverting=True),
        NeuronSpec(kind="linear", gain_norm=0.7),
        NeuronSpec(kind="relu", gain_norm=1.3),
        NeuronSpec(kind="relu", gain_norm=0.8, inverting=True),
    ],
    ids=lambda n: f"{n.kind}{'-inv' if n.inverting else ''}",
)
def test_neuron_subcircuits_follow_the_transfer_function(neuron, run_root):
    """DC-sweep the neuron's input; v(out) / v_read must be neuron(v(in) / v_z) to 1e-9."""
    v_z, v_read = 0.05, 0.2
    els = [
        VoltageSource("VIN", "in", GROUND, 0.0),
        neuron_instance("XN", "in", "out", neuron, v_z, v_read),
    ]
    vals = _run(els, ["in", "out"], run_root, [f"pyims_neuron_{neuron.kind}"], DcSweep("VIN", -0.5, 0.5, 0.01))
    z = vals[:, 0] / v_z
    np.testing.assert_allclose(vals[:, 1] / v_read, neuron(z), rtol=1e-9, atol=1e-12)


@pytest.mark.ngspice
def test_adc_subcircuit_matches_the_native_converter(run_root):
    """Sweep the ADC's input through every code (and past both ends): ngspice's output equals
    ``Adc.quantize`` exactly, with a gain error and an offset; a hand-worked code table too."""
    from pyims.components.adc import Adc

    adc = Adc(bits=3)
    fs_v = 0.4  # lsb = 0.1 V; codes -4..3
    # by hand: 0.04 -> 0, 0.05 -> round half up -> 1, 0.26 -> 3, 0.36 -> clipped at 3, -0.44 -> -4
    np.testing.assert_allclose(adc.quantize(np.array([0.04, 0.05, 0.26, 0.36, -0.44, -0.15]), fs_v),
                               [0.0, 0.1, 0.3, 0.3, -0.4, -0.1], rtol=0, atol=1e-15)
    for gain_error, offset in ((0.0, 0.0), (0.03, 0.4)):
        els = [VoltageSource("VIN", "in", GROUND, 0.0),
               adc.instance("XQ", "in", "out", full_scale_v=fs_v, gain_error=gain_error, offset_lsb=offset)]
        vals = _run(els, ["in", "out"], run_root, ["pyims_adc"], DcSweep("VIN", -0.6131, 0.6, 0.0173))
        expect = adc.quantize(vals[:, 0], fs_v, gain_error, offset)
        np.testing.assert_allclose(vals[:, 1], expect, rtol=0, atol=1e-12)
        assert len(np.unique(np.round(vals[:, 1], 9))) == 8  # every code was reached
