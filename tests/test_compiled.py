"""#26 requirement 4 (part): compile once, infer many -- an AnalogModel maps and factors once, then reads any batch
as pyims.infer would, with the converters fixed (batch-independent) and read-noise draws keyed by image index."""

from __future__ import annotations

import numpy as np
import pytest

import pyims
from pyims.devices import PCM
from pyims.errors import SpecError
from pyims.model import MLP, NeuronSpec

WIRES = pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0)


def _mlp(seed: int = 3) -> MLP:
    rng = np.random.default_rng(seed)
    sizes = (20, 12, 5)
    return MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
               biases=tuple(0.2 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind="relu"))


def _x(n: int, seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 20))


def test_a_compiled_model_reads_as_infer_does_and_builds_once(monkeypatch):
    from pyims.inference import native

    hw = pyims.Hardware(wires=WIRES, plan=pyims.PartitionPlan(max_rows=8, max_cols=8), topology="tiled",
                        adc=pyims.Adc(bits=8))
    model, x = _mlp(), _x(12)
    fixed = pyims.calibrate(model, x, hw)
    builds = []
    real = native.NativeNetwork.__init__
    monkeypatch.setattr(native.NativeNetwork, "__init__", lambda self, *a, **k: (builds.append(1), real(self, *a, **k))[1])
    analog = pyims.compile(model, hw, x_cal=x)
    assert len(builds) == 2  # one for the calibration, one kept
    assert analog.hardware.adc.calibrated and analog.hardware.adc.full_scale_norm == fixed.adc.full_scale_norm
    whole = analog(x)
    parts = np.concatenate([analog(x[:1]), analog(x[1:7]), analog(x[7:])])
    assert len(builds) == 2  # no call factored anything again
    np.testing.assert_allclose(parts, whole, rtol=0.0, atol=1e-12 * np.abs(whole).max())  # batch-independent
    np.testing.assert_allclose(whole, pyims.infer(model, x, hardware=fixed), rtol=1e-12,
                               atol=1e-12 * np.abs(whole).max())
    assert "AnalogModel" in repr(analog) and "tiles" in repr(analog)


def test_read_noise_draws_follow_the_image_index():
    hw = pyims.Hardware(devices=PCM(t_since_program_s=3600.0, seed=2), wires=WIRES, topology="tiled")
    model, x = _mlp(), _x(6)
    analog = pyims.compile(model, hw)
    whole = analog(x)
    assert analog.n_images == 6
    again = pyims.compile(model, hw)
    pieces = np.concatenate([again(x[:2]), again(x[2:])])  # numbered on: image 2 is image 2
    np.testing.assert_allclose(pieces, whole, rtol=1e-6, atol=1e-6 * np.abs(whole).max())
    same_image_elsewhere = again(x[:2], image_offset=10)  # another index: another draw
    assert not np.allclose(same_image_elsewhere, whole[:2], rtol=1e-9, atol=0.0)
    np.testing.assert_allclose(again(x[2:4], image_offset=2), whole[2:4], rtol=1e-6, atol=1e-6 * np.abs(whole).max())


@pytest.mark.parametrize("call, match", [
    (lambda: pyims.compile(_mlp(), "tiled"), r"hardware is a str; pass a pyims.Hardware"),
    (lambda: pyims.compile(_mlp(), pyims.Hardware(adc=pyims.Adc(bits=6))),
     r"the hardware's ADC ranges are not fixed: pass x_cal="),
    (lambda: pyims.compile(_mlp(), pyims.Hardware())(_x(2), image_offset=-1), r"image_offset=-1 must be an integer >= 0"),
    (lambda: pyims.compile(_mlp(), pyims.Hardware())(np.ones((2, 7))), r"the network needs|shape"),
])
def test_compile_errors(call, match):
    with pytest.raises(SpecError, match=match):
        call()
