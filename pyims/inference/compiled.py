"""Compile once, infer many: a model on its hardware, mapped and factored once.

    analog = pyims.compile(model, hardware, x_cal=x_train[:256])   # maps, factors every tile, fixes the ADC
    for x, y in batches:
        logits = analog(x)                                         # each call: time proportional to the batch

``pyims.infer(model, x, hardware=hw)`` maps the model and factors every tile on each call; an
``AnalogModel`` does both once (``build_time_s``) and keeps the port matrices, so a DataLoader loop
or an interactive session pays them once. Its converters' ranges are fixed when it is built (from
``x_cal``, or given by the hardware): every image reads the same outputs whatever batch it is in.
A device with per-read noise draws each image's noise from its global index: ``analog(x,
image_offset=k)`` names the first image's index (default: images numbered on from the last call,
so a loop over a test set draws as one call over all of it would).
"""

from __future__ import annotations

import time

import numpy as np

from pyims.errors import SpecError
from pyims.hardware import Hardware
from pyims.spec.network import InputClipping
from pyims.spec.simulator import NativeOptions

__all__ = ["AnalogModel", "compile_model"]


class AnalogModel:
    """A model mapped onto ``hardware`` with every tile factored once (see the module docstring).

    Attributes:
        net: the mapped network (``pyims.mapping.MappedNetwork``).
        hardware: the hardware, converters' ranges fixed.
        build_time_s: seconds spent mapping, factoring and calibrating.
        n_images: images inferred so far (the next call's default ``image_offset``).
        clipping: the inputs outside the DAC's input range over every call so far (``InputClipping``; each call
            with any warns, ``InputRangeWarning``), or ``None`` (no range: an ideal DAC, or binary inputs).
    """

    def __init__(self, model, hardware: Hardware, *, x_cal=None, options: NativeOptions | None = None) -> None:
        from pyims.inference.native import NativeNetwork
        from pyims.inference.simulate import _native_options, calibrate
        from pyims.mapping import map_network
        from pyims.model.graph import as_model

        if not isinstance(hardware, Hardware):
            raise SpecError(f"hardware is a {type(hardware).__name__}; pass a pyims.Hardware")
        t0 = time.perf_counter()
        self._model = as_model(model)
        if hardware.adc is not None and not hardware.adc.calibrated and x_cal is None:
            raise SpecError("the hardware's ADC ranges are not fixed: pass x_cal= (calibration inputs, as for "
                            "pyims.calibrate), or hardware=pyims.calibrate(model, x_cal, hardware)")
        if x_cal is not None:  # the DAC's input range and the ADC's, where not fixed already
            hardware = calibrate(self._model, x_cal, hardware, options=options)
        self.hardware = hardware
        self.net = map_network(self._model, hardware)
        self._native = NativeNetwork(self.net, options=_native_options(options))
        self.n_images = 0
        self.clipping: InputClipping | None = None
        self.build_time_s = time.perf_counter() - t0

    def __call__(self, x, *, image_offset: int | None = None) -> np.ndarray:
        """Outputs ``(N, n_outputs)`` for inputs ``x`` (as ``pyims.infer`` takes them)."""
        offset = self.n_images if image_offset is None else image_offset
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
            raise SpecError(f"image_offset={image_offset!r} must be an integer >= 0 (the first image's global index)")
        xs = self._model.check_input(x)
        enc = self.hardware.encoding
        clipped = enc.warn_clipped(xs)
        if clipped is not None:
            self.clipping = clipped if self.clipping is None else self.clipping + clipped
        u = self.net.check_inputs(enc.quantized(xs, warn=False))
        logits = self._native.run(u, keep_pre=False, image_offset=int(offset)).logits
        self.n_images = int(offset) + u.shape[0]
        return logits

    def __repr__(self) -> str:
        return (f"<pyims AnalogModel {self._model.name!r}: {self.net.n_tiles} tiles ({self.net.describe_plan()}), "
                f"{self.net.topology.name}, {self.hardware.describe()}; built in {self.build_time_s:.2f} s>")


def compile_model(model, hardware: Hardware, *, x_cal=None, options: NativeOptions | None = None) -> AnalogModel:
    """``AnalogModel(model, hardware, x_cal=x_cal, options=options)``: exported as ``pyims.compile``."""
    return AnalogModel(model, hardware, x_cal=x_cal, options=options)
