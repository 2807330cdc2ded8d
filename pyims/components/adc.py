"""The ADC that digitises a crossbar's outputs: bits, full-scale range, offset and gain error.

Where it sits (``docs/cnn.md``): in tiled co-simulation every tile's differential output --
the partial sum ``z_p`` of each output over one horizontal partition, at the sense
amplifier's output -- is converted by one ADC per output and tile, and the partial sums are
then added digitally. In the fully-analog circuit only the last layer's outputs are converted.

The converter (``quantize``), in units of the pre-activation (the sense output divided by
its ``v_z`` volts per unit):

    lsb  = full_scale / 2**(bits - 1)
    code = clip(floor(x * (1 + gain_error) / lsb + offset_lsb + 1/2), -2**(bits-1), 2**(bits-1) - 1)
    out  = code * lsb

a bipolar, mid-tread converter covering ``[-full_scale, full_scale - lsb]``. ``full_scale_norm``
is fixed, or calibrated per layer from data (``None``): the ``calibration_percentile`` of
``|z_p|`` over the first ``calibration_images`` images a network run sees (100: the maximum),
layer by layer, each layer calibrated on the previous layers' quantised outputs. Gain and offset
errors are drawn per converter (layer, partition, output) from ``N(0, sigma)``, seeded.

SPICE: ``circuits/adc.sub`` (``pyims_adc``) is the same converter as a behavioural source on the
sense output's voltage; ``instance`` writes it scaled to volts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from pyims.errors import SpecError
from pyims.spec._checks import nonnegative, positive

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance, SubcktLibrary

__all__ = ["Adc"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Adc:
    """An ADC per crossbar output (config ``[adc]``; see the module docstring).

    Attributes:
        bits: resolution, 1..24.
        full_scale_norm: ``+-`` range in pre-activation units: one number for every layer, one per
            crossbar layer, or ``None`` to calibrate each layer from data.
        calibration_images: images the calibration looks at (the first ones of a run).
        calibration_percentile: percentile of ``|z_p|`` that sets the range (100: the maximum).
        offset_lsb_sigma: standard deviation of each converter's offset, in LSB.
        gain_error_sigma_ratio: standard deviation of each converter's relative gain error.
        seed: seeds the offset and gain-error draws.
    """

    bits: int
    full_scale_norm: float | tuple[float, ...] | None = None
    calibration_images: int = 256
    calibration_percentile: float = 100.0
    offset_lsb_sigma: float = 0.0
    gain_error_sigma_ratio: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)) or not 1 <= self.bits <= 24:
            raise SpecError(f"adc.bits={self.bits!r} must be an integer in 1..24")
        object.__setattr__(self, "bits", int(self.bits))
        fs = self.full_scale_norm
        if fs is not None:
            if isinstance(fs, (list, tuple)):
                if not fs:
                    raise SpecError("adc.full_scale_norm is empty; give one range, one per layer, or omit it to calibrate")
                fs = tuple(positive("adc", f"full_scale_norm[{k}]", v) for k, v in enumerate(fs))
            else:
                fs = positive("adc", "full_scale_norm", fs)
            object.__setattr__(self, "full_scale_norm", fs)
        if isinstance(self.calibration_images, bool) or not isinstance(self.calibration_images, int) or self.calibration_images < 1:
            raise SpecError(f"adc.calibration_images={self.calibration_images!r} must be an integer >= 1")
        pct = positive("adc", "calibration_percentile", self.calibration_percentile)
        if pct > 100.0:
            raise SpecError(f"adc.calibration_percentile={pct!r} must be in (0, 100]")
        object.__setattr__(self, "calibration_percentile", pct)
        object.__setattr__(self, "offset_lsb_sigma", nonnegative("adc", "offset_lsb_sigma", self.offset_lsb_sigma))
        object.__setattr__(self, "gain_error_sigma_ratio",
                           nonnegative("adc", "gain_error_sigma_ratio", self.gain_error_sigma_ratio))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise SpecError(f"adc.seed={self.seed!r} must be an integer >= 0")

    # ------------------------------------------------------------ ranges
    @property
    def calibrated(self) -> bool:
        """True when every layer's range is known (fixed or already calibrated)."""
        return self.full_scale_norm is not None

    def full_scale(self, layer: int, n_layers: int) -> float:
        """Crossbar layer ``layer``'s range (pre-activation units)."""
        fs = self.full_scale_norm
        if fs is None:
            raise SpecError("adc.full_scale_norm is not calibrated yet; run the network once, or give it")
        if isinstance(fs, tuple):
            if len(fs) != n_layers:
                raise SpecError(f"adc.full_scale_norm={list(fs)} has {len(fs)} entries but the network has {n_layers} "
                                "crossbar layers; give one per layer")
            return fs[layer]
        return fs

    def with_full_scale(self, full_scale_norm: tuple[float, ...]) -> "Adc":
        """This ADC with the ranges fixed (what calibration returns)."""
        return replace(self, full_scale_norm=tuple(float(v) for v in full_scale_norm))

    def calibrate(self, z_parts: np.ndarray) -> float:
        """The range that covers the ``calibration_percentile`` of ``|z_parts|`` (any shape)."""
        mag = np.abs(np.asarray(z_parts, dtype=np.float64)).reshape(-1)
        fs = float(np.percentile(mag, self.calibration_percentile)) if mag.size else 0.0
        return fs if fs > 0.0 else 1.0

    # ------------------------------------------------------------ native model
    @property
    def n_codes(self) -> int:
        return 2**self.bits

    def errors(self, layer: int, n_parts: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """Per converter of crossbar layer ``layer``: gain errors and offsets (LSB), each ``(n_parts, n_out)``."""
        rng = np.random.default_rng([self.seed, layer])
        gain = rng.standard_normal((n_parts, n_out)) * self.gain_error_sigma_ratio
        offset = rng.standard_normal((n_parts, n_out)) * self.offset_lsb_sigma
        return gain, offset

    def quantize(self, z: np.ndarray, full_scale: float, gain_error: np.ndarray | float = 0.0,
                 offset_lsb: np.ndarray | float = 0.0) -> np.ndarray:
        """Converted values of ``z`` ``(M, n)`` (errors broadcast over the last axis)."""
        lsb = full_scale / 2 ** (self.bits - 1)
        half = 2 ** (self.bits - 1)
        code = np.floor(np.asarray(z) * (1.0 + gain_error) / lsb + offset_lsb + 0.5)
        return np.clip(code, -half, half - 1) * lsb

    def convert(self, z: np.ndarray, *, layer: int, n_layers: int, part: int = 0, n_parts: int = 1) -> np.ndarray:
        """What converter ``part`` (of ``n_parts`` per output) of crossbar layer ``layer`` reads from ``z`` ``(..., n_out)``:
        every sample of any leading shape (images, time samples) with that converter's range, gain and offset."""
        z = np.asarray(z, dtype=np.float64)
        gain, off = self.errors(layer, n_parts, z.shape[-1])
        return self.quantize(z, self.full_scale(layer, n_layers), gain[part], off[part])

    def code_margin(self, z: np.ndarray, *, layer: int, n_layers: int, part: int = 0, n_parts: int = 1) -> np.ndarray:
        """How far each sample of ``z`` ``(..., n_out)`` is from the nearest input where converter ``part`` of
        crossbar layer ``layer`` changes code (pre-activation units): two simulations that agree to better
        than this convert it to the same code."""
        z = np.asarray(z, dtype=np.float64)
        gain, off = self.errors(layer, n_parts, z.shape[-1])
        lsb = self.full_scale(layer, n_layers) / 2 ** (self.bits - 1)
        half = 2 ** (self.bits - 1)
        slope = (1.0 + gain[part]) / lsb  # code units per pre-activation unit
        t = z * slope + off[part] + 0.5  # the code changes where t crosses an integer in -half + 1 .. half - 1
        edge = np.clip(np.round(t), -half + 1, half - 1)
        return np.abs(t - edge) / np.abs(slope)

    # ------------------------------------------------------------ SPICE
    @staticmethod
    def library() -> "SubcktLibrary":
        from pyims.netlist.library import load_library

        return load_library("pyims_adc")

    def instance(self, name: str, node_in: str, node_out: str, *, full_scale_v: float, gain_error: float = 0.0,
                 offset_lsb: float = 0.0) -> "SubcktInstance":
        """The behavioural converter on ``node_in`` (volts), output at ``node_out`` (volts, the same scale)."""
        from pyims.netlist.model import SubcktInstance

        half = 2 ** (self.bits - 1)
        return SubcktInstance(name, (node_in, node_out), "pyims_adc", (
            ("lsb", full_scale_v / half), ("cmin", float(-half)), ("cmax", float(half - 1)),
            ("gain", 1.0 + float(gain_error)), ("offset", float(offset_lsb)),
        ))

    def describe(self) -> str:
        fs = self.full_scale_norm
        rng = ("calibrated" if fs is None else
               "fs " + ("/".join(f"{v:.3g}" for v in fs) if isinstance(fs, tuple) else f"{fs:.3g}"))
        extra = ""
        if self.offset_lsb_sigma or self.gain_error_sigma_ratio:
            extra = f", offset sigma {self.offset_lsb_sigma:g} LSB, gain sigma {self.gain_error_sigma_ratio:g}"
        return f"{self.bits}-bit ADC ({rng}{extra})"

