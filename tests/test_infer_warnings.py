"""#26 requirement 3 (bug G): an ADC whose ranges are not fixed, in ``pyims.infer``, says how it calibrated -- an
``AdcCalibrationWarning`` a Python user sees by default -- and hardware already calibrated says nothing."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import pyims
from pyims.errors import AdcCalibrationWarning
from pyims.model import MLP, NeuronSpec


def _mlp() -> MLP:
    rng = np.random.default_rng(5)
    return MLP(weights=(rng.normal(size=(12, 6)), rng.normal(size=(6, 3))),
               biases=(0.3 * rng.normal(size=6), 0.3 * rng.normal(size=3)), neuron=NeuronSpec(kind="relu"))


HW = pyims.Hardware(wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0), adc=pyims.Adc(bits=6))


def test_an_unfixed_adc_warns_how_it_calibrated():
    x = np.random.default_rng(1).uniform(size=(5, 12))
    with pytest.warns(AdcCalibrationWarning, match=r"the ADC's ranges were not fixed, so this call calibrated them on its 5 "
                                                   r"image\(s\) \(full scale [0-9.e+-]+/[0-9.e+-]+\): the outputs depend "
                                                   r"on the batch .* hardware = pyims.calibrate\(model, x_cal, hardware\)"
                      ) as record:
        y = pyims.infer(_mlp(), x, hardware=HW)
    (w,) = [r for r in record if r.category is AdcCalibrationWarning]
    assert w.filename == __file__  # points at the caller's line, not into pyims
    # the ranges it names are those pyims.calibrate fixes from the same images, and with them the outputs are the same
    fixed = pyims.calibrate(_mlp(), x, HW)
    assert w.message.n_images == 5 and w.message.adc.full_scale_norm == fixed.adc.full_scale_norm
    fs = fixed.adc.full_scale_norm
    assert f"(full scale {fs[0]:.3g}/{fs[1]:.3g})" in str(w.message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y_fixed = pyims.infer(_mlp(), x, hardware=fixed)
        pyims.infer(_mlp(), x[:1], hardware=fixed)
        pyims.infer(_mlp(), x, hardware=pyims.Hardware(wires=HW.wires))  # no ADC at all
    assert [c for c in caught if issubclass(c.category, AdcCalibrationWarning)] == []
    np.testing.assert_allclose(y_fixed, y, rtol=1e-12, atol=1e-12 * np.abs(y).max())


def test_a_correction_not_fixed_is_named_too():
    x = np.random.default_rng(2).uniform(size=(4, 12))
    hw = pyims.Hardware(wires=HW.wires, adc=pyims.Adc(bits=6, full_scale_norm=3.0, correction="float"))
    with pytest.warns(AdcCalibrationWarning, match=r"the ADC's correction was not fixed, so this call calibrated it on "
                                                   r"its 4 image\(s\) \(full scale 3\)"):
        pyims.infer(_mlp(), x, hardware=hw)


def test_a_python_user_sees_it_by_default(tmp_path):
    code = ("import numpy as np, pyims\n"
            "from pyims.model import MLP, NeuronSpec\n"
            "m = MLP(weights=(np.ones((4, 3)),), biases=(np.zeros(3),), neuron=NeuronSpec(kind='relu'))\n"
            "pyims.infer(m, np.random.default_rng(0).uniform(size=(3, 4)), hardware=pyims.Hardware(adc=pyims.Adc(bits=4)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "AdcCalibrationWarning: the ADC's ranges were not fixed, so this call calibrated them on its 3 image(s)" in out.stderr
