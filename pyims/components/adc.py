"""The ADC that digitises a crossbar's outputs, and the near-memory digital unit after it.

Where it sits (``docs/cnn.md``): in tiled co-simulation every tile's differential output --
the partial sum ``z_p`` of each output over one horizontal partition, at the sense
amplifier's output -- is converted by one ADC per output and tile, and the partial sums are
then added digitally. In the fully-analog circuit only the last layer's outputs are converted.
``docs/adc.md`` is the full description.

The converter, in units of the pre-activation (the sense output divided by its ``v_z`` volts
per unit); ``lsb = full_scale / 2**(bits - 1)``, codes ``cmin = -2**(bits-1) .. cmax = 2**(bits-1) - 1``:

    u    = x * (1 + gain_error) / lsb + offset_lsb                 (the ideal code axis)
    code = clip(floor(u + 1/2), cmin, cmax)                         (ideal staircase: ``quantize``)
    code = cmin + #{ i : t_i <= u }                                 (with a threshold table)
    out  = code * lsb

a bipolar, mid-tread converter covering ``[-full_scale, full_scale - lsb]``. ``full_scale_norm``
is fixed, or calibrated per layer from data (``None``): the ``calibration_percentile`` of
``|z_p|`` over the first ``calibration_images`` images a network run sees (100: the maximum),
layer by layer, each layer calibrated on the previous layers' quantised outputs. Gain and offset
errors are drawn per converter (layer, partition, output) from ``N(0, sigma)``, seeded.

INL/DNL (off by default): each converter's transfer curve is a table of ``2**bits - 1``
thresholds ``t_i`` (the ``u`` at which code ``cmin + 1 + i`` starts; ideally ``cmin + 1/2 + i``),
on top of the offset and gain errors. ``inl_sigma_lsb`` draws one per converter: independent DNL
steps (a Brownian bridge pinned at both ends, so the INL is relative to the endpoint line and
offset and gain stay the errors above), widths clipped at 0 (missing codes) and rescaled so the
ends stay put; the expected mean square INL over the codes is ``inl_sigma_lsb**2``. ``inl_file``
reads one measured table for every converter (a CSV ``code,threshold_lsb``).

Near-memory digital correction (``correction``, off by default): per output of each converted
layer a scale and an offset, after the partial sums' combination and the drift compensation,
with the next ReLU fused (``max(0, .)``) where one follows; in float, or in fixed point
(``correct``): the accumulated count ``x = z / lsb``,

    S = sat(round(alpha * 2**fs)),  O = sat(round(beta / lsb * 2**fo))      (signed formats)
    Y = sat_or_wrap(rnd((S 2**-fs x + O 2**-fo) * 2**fy)),  out = Y 2**-fy lsb

``alpha`` / ``beta`` are least-squares fits per output of the converted outputs against the
float model's pre-activations over the calibration images (``pyims.calibrate``).

SPICE: ``circuits/adc.sub`` (``pyims_adc``) is the ideal converter as a behavioural source on the
sense output's voltage; with INL the converter is ``circuits/adc_table.sub``'s chain (the ideal
code axis, sums of exact comparisons ``v(u) >= t_i`` in blocks of ``INL_BLOCK``, the code's
voltage); ``instances`` writes either, scaled to volts. The fully-analog netlist also writes the
correction there (``correction_instance``); the tiled co-simulation applies it in Python.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from pyims.errors import SpecError
from pyims.spec._checks import nonnegative, positive, real_scalar

if TYPE_CHECKING:
    from pyims.model.layers import Layer, Node
    from pyims.netlist.model import SubcktInstance, SubcktLibrary

__all__ = ["Adc", "CORRECTIONS", "ROUNDINGS", "INL_MAX_BITS", "INL_FILE_MAX_BYTES", "INL_BLOCK", "read_inl_file"]

log = logging.getLogger(__name__)

#: ``adc.correction``: no digital unit, a float one, or a fixed-point one.
CORRECTIONS = ("none", "float", "fixed")
#: ``adc.correction_rounding``: to the nearest output step (halves up), or down (a plain right shift).
ROUNDINGS = ("nearest", "floor")
#: Largest resolution with a threshold table (2**16 - 1 thresholds per converter).
INL_MAX_BITS = 16
#: Largest ``inl_file`` read (a 16-bit table is ~1.5 MB).
INL_FILE_MAX_BYTES = 8 * 2**20
#: Thresholds per step block of the SPICE converter (``pyims_adc_steps`` in ``circuits/adc_table.sub``).
INL_BLOCK = 64
#: The header line an ``inl_file`` starts with.
INL_HEADER = "code,threshold_lsb"
#: Seed-sequence tags (a third word, never 0: numpy reads ``[s, 0]`` as ``s``, so two-word keys would meet the
#: device variation's ``default_rng(variation_seed)`` and each other when the seeds are equal, as every
#: ``Repeat`` draw makes them): the INL draws ``[seed, layer, _INL_STREAM]``, the offset and gain draws
#: ``[seed, layer, _ERROR_STREAM]``.
_INL_STREAM = 1
_ERROR_STREAM = 0x41444345  # "ADCE"
#: float64 holds integers exactly up to 2**53: the fixed-point unit's arithmetic stays below.
_EXACT = 2.0**53


@dataclass(frozen=True, slots=True, kw_only=True)
class Adc:
    """An ADC per crossbar output (config ``[adc]``; see the module docstring and ``docs/adc.md``).

    Attributes:
        bits: resolution, 1..24.
        full_scale_norm: ``+-`` range in pre-activation units: one number for every layer, one per
            crossbar layer, or ``None`` to calibrate each layer from data.
        calibration_images: images the calibration looks at (the first ones of a run).
        calibration_percentile: percentile of ``|z_p|`` that sets the range (100: the maximum).
        offset_lsb_sigma: standard deviation of each converter's offset, in LSB.
        gain_error_sigma_ratio: standard deviation of each converter's relative gain error.
        seed: seeds the offset, gain-error and INL draws.
        inl_sigma_lsb: root-mean-square INL (over the codes, expected) of each converter's drawn
            threshold table, LSB; 0: no INL.
        inl_file: a CSV of one measured threshold table for every converter (header
            ``code,threshold_lsb``, one line per code ``cmin + 1 .. cmax``: the input, in LSB on the
            ideal code axis, at which that code starts); ``None``: none.
        correction: the near-memory digital unit after the read-out: "none", "float" or "fixed".
        correction_scale_bits / correction_scale_frac_bits: the fixed-point scale's signed format.
        correction_offset_bits / correction_offset_frac_bits: the offset's (in LSB of the converter).
        correction_out_bits / correction_out_frac_bits: the unit's output (in LSB; unsigned with a fused
            ReLU, signed otherwise).
        correction_rounding: "nearest" (halves up) or "floor", of the output.
        correction_saturate: clip the output to its format (else it wraps, two's complement).
        correction_scale_ratio / correction_offset_norm: per crossbar layer, per output: the fitted
            ``alpha`` (dimensionless) and ``beta`` (pre-activation units), or ``None`` to calibrate them from
            data (``pyims.calibrate``); layers the topology does not convert hold ``1`` and ``0``.
    """

    bits: int
    full_scale_norm: float | tuple[float, ...] | None = None
    calibration_images: int = 256
    calibration_percentile: float = 100.0
    offset_lsb_sigma: float = 0.0
    gain_error_sigma_ratio: float = 0.0
    seed: int = 0
    inl_sigma_lsb: float = 0.0
    inl_file: str | None = None
    correction: str = "none"
    correction_scale_bits: int = 16
    correction_scale_frac_bits: int = 12
    correction_offset_bits: int = 16
    correction_offset_frac_bits: int = 4
    correction_out_bits: int = 16
    correction_out_frac_bits: int = 4
    correction_rounding: str = "nearest"
    correction_saturate: bool = True
    correction_scale_ratio: tuple[tuple[float, ...], ...] | None = None
    correction_offset_norm: tuple[tuple[float, ...], ...] | None = None
    _inl_table: np.ndarray | None = field(default=None, init=False, repr=False, compare=False, hash=False)
    _inl_sha256: str | None = field(default=None, init=False, repr=False, compare=False, hash=False)

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
        self._check_inl()
        self._check_correction()

    def _check_inl(self) -> None:
        object.__setattr__(self, "inl_sigma_lsb", nonnegative("adc", "inl_sigma_lsb", self.inl_sigma_lsb))
        path = self.inl_file
        if path is not None:
            if isinstance(path, os.PathLike):
                path = os.fspath(path)
            if not isinstance(path, str) or not path:
                raise SpecError(f"adc.inl_file={self.inl_file!r} must be the path of a CSV file (a string), or omitted")
            object.__setattr__(self, "inl_file", path)
            if self.inl_sigma_lsb > 0.0:
                raise SpecError(f"adc.inl_file and adc.inl_sigma_lsb={self.inl_sigma_lsb!r} are both given; a converter's "
                                "thresholds are either measured (inl_file) or drawn (inl_sigma_lsb): remove one")
        if not self.inl:
            return
        if not 2 <= self.bits <= INL_MAX_BITS:
            which = "inl_file" if path is not None else f"inl_sigma_lsb={self.inl_sigma_lsb!r}"
            raise SpecError(f"adc.{which} needs adc.bits in 2..{INL_MAX_BITS} (a threshold table of 2**bits - 1 codes); "
                            f"adc.bits={self.bits}: use bits in 2..{INL_MAX_BITS}, or no INL")
        if path is not None:
            table, digest = read_inl_file(path, self.bits)
            object.__setattr__(self, "_inl_table", table)
            object.__setattr__(self, "_inl_sha256", digest)

    def _check_correction(self) -> None:
        if self.correction not in CORRECTIONS:
            raise SpecError(f"adc.correction={self.correction!r} is unknown; use one of "
                            f"{', '.join(repr(c) for c in CORRECTIONS)}")
        for name in ("correction_scale_bits", "correction_offset_bits", "correction_out_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 2 <= value <= 32:
                raise SpecError(f"adc.{name}={value!r} must be an integer in 2..32 (bits of a signed fixed-point word)")
            object.__setattr__(self, name, int(value))
        for name in ("correction_scale_frac_bits", "correction_offset_frac_bits", "correction_out_frac_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 48:
                raise SpecError(f"adc.{name}={value!r} must be an integer in 0..48 (fractional bits of the word)")
            object.__setattr__(self, name, int(value))
        if self.correction_rounding not in ROUNDINGS:
            raise SpecError(f"adc.correction_rounding={self.correction_rounding!r} is unknown; use one of "
                            f"{', '.join(repr(r) for r in ROUNDINGS)}")
        if not isinstance(self.correction_saturate, bool):
            raise SpecError(f"adc.correction_saturate={self.correction_saturate!r} must be true (clip) or false (wrap)")
        given = {name: getattr(self, name) for name in ("correction_scale_ratio", "correction_offset_norm")}
        if all(v is None for v in given.values()):
            return
        if any(v is None for v in given.values()):
            missing = next(name for name, v in given.items() if v is None)
            raise SpecError(f"adc.{missing} is missing; the correction's scale and offset come together: give both "
                            "(one list per crossbar layer), or neither to calibrate them")
        if self.correction == "none":
            raise SpecError("adc.correction_scale_ratio / correction_offset_norm are given but adc.correction='none'; "
                            'set correction = "float" or "fixed", or remove them')
        shapes = []
        for name, value in given.items():
            if (not isinstance(value, (list, tuple)) or not value
                    or not all(isinstance(row, (list, tuple)) and row for row in value)):
                raise SpecError(f"adc.{name}={value!r} must be one non-empty list of numbers per crossbar layer")
            rows = tuple(tuple(real_scalar("adc", f"{name}[{k}][{j}]", v) for j, v in enumerate(row))
                         for k, row in enumerate(value))
            object.__setattr__(self, name, rows)
            shapes.append(tuple(len(row) for row in rows))
        if shapes[0] != shapes[1]:
            raise SpecError(f"adc.correction_scale_ratio has {list(shapes[0])} outputs per layer but "
                            f"adc.correction_offset_norm has {list(shapes[1])}; give one scale and one offset per output")

    @property
    def inl(self) -> bool:
        """Whether the converters have a threshold table (drawn or measured)."""
        return self.inl_sigma_lsb > 0.0 or self.inl_file is not None

    # ------------------------------------------------------------ ranges
    @property
    def calibrated(self) -> bool:
        """True when every layer's range is known (fixed or already calibrated), and the digital correction's
        scales and offsets when there is one."""
        return self.full_scale_norm is not None and self.correction_calibrated

    @property
    def correction_calibrated(self) -> bool:
        """True without a correction, or when its scales and offsets are known."""
        return self.correction == "none" or self.correction_scale_ratio is not None

    def full_scale(self, layer: int, n_layers: int) -> float:
        """Crossbar layer ``layer``'s range (pre-activation units)."""
        fs = self.full_scale_norm
        if fs is None:
            raise SpecError("adc.full_scale_norm is not calibrated yet; run the network once, or give it")
        self.check_layers(n_layers)
        return fs[layer] if isinstance(fs, tuple) else fs

    def check_layers(self, n_layers: int) -> None:
        """SpecError unless the given ranges fit a network of ``n_layers`` crossbar layers (one per layer, one for all,
        or none: calibrated)."""
        fs = self.full_scale_norm
        if isinstance(fs, tuple) and len(fs) != n_layers:
            raise SpecError(f"adc.full_scale_norm={list(fs)} has {len(fs)} entries but the network has {n_layers} "
                            "crossbar layers; give one per layer, one number for all, or omit it to calibrate")

    def with_full_scale(self, full_scale_norm: tuple[float, ...]) -> "Adc":
        """This ADC with the ranges fixed (what calibration returns)."""
        return replace(self, full_scale_norm=tuple(float(v) for v in full_scale_norm))

    def with_correction(self, scale_ratio: Sequence[Sequence[float]], offset_norm: Sequence[Sequence[float]]) -> "Adc":
        """This ADC with the digital correction's scales and offsets fixed, one sequence per crossbar layer (what
        calibration returns)."""
        return replace(self, correction_scale_ratio=tuple(tuple(float(v) for v in row) for row in scale_ratio),
                       correction_offset_norm=tuple(tuple(float(v) for v in row) for row in offset_norm))

    def calibrate(self, z_parts: np.ndarray) -> float:
        """The range that covers the ``calibration_percentile`` of ``|z_parts|`` (any shape)."""
        mag = np.abs(np.asarray(z_parts, dtype=np.float64)).reshape(-1)
        fs = float(np.percentile(mag, self.calibration_percentile)) if mag.size else 0.0
        return fs if fs > 0.0 else 1.0

    @staticmethod
    def fit_correction(z_conv: np.ndarray, z_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least squares per output: ``alpha``, ``beta`` ``(n_out,)`` minimising ``sum (alpha z_conv + beta - z_ref)**2``
        over the samples (rows) of ``z_conv`` / ``z_ref`` ``(M, n_out)``. An output whose converted values never change
        (a dead or saturated column) keeps ``alpha = 1`` and gets the mean difference as offset."""
        x = np.asarray(z_conv, dtype=np.float64).reshape(-1, np.shape(z_conv)[-1])
        y = np.asarray(z_ref, dtype=np.float64).reshape(-1, np.shape(z_ref)[-1])
        if x.shape != y.shape or x.shape[0] < 1:
            raise SpecError(f"fit_correction: converted outputs {x.shape} and reference {y.shape} must be the same "
                            "(M >= 1, n_out)")
        mx, my = x.mean(axis=0), y.mean(axis=0)
        dx = x - mx
        var = np.einsum("ij,ij->j", dx, dx)
        cov = np.einsum("ij,ij->j", dx, y - my)
        flat = var <= 1e-24 * np.maximum(np.einsum("ij,ij->j", x, x), 1e-300)
        alpha = np.where(flat, 1.0, cov / np.where(flat, 1.0, var))
        return alpha, my - alpha * mx

    # ------------------------------------------------------------ native model
    @property
    def n_codes(self) -> int:
        return 2**self.bits

    def errors(self, layer: int, n_parts: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """Per converter of crossbar layer ``layer``: gain errors and offsets (LSB), each ``(n_parts, n_out)``."""
        rng = np.random.default_rng([self.seed, layer, _ERROR_STREAM])
        gain = rng.standard_normal((n_parts, n_out)) * self.gain_error_sigma_ratio
        offset = rng.standard_normal((n_parts, n_out)) * self.offset_lsb_sigma
        return gain, offset

    def thresholds(self, layer: int, n_parts: int, n_out: int) -> np.ndarray | None:
        """Per converter of crossbar layer ``layer``: its threshold table ``(n_parts, n_out, 2**bits - 1)`` (LSB on the
        ideal code axis ``u``; entry ``i`` is where code ``cmin + 1 + i`` starts; read-only), or ``None`` without INL.
        Drawn from ``default_rng([seed, layer, 1])`` (module docstring), or the measured table for every converter."""
        if not self.inl:
            return None
        if self._inl_table is not None:
            return np.broadcast_to(self._inl_table, (n_parts, n_out, self._inl_table.size))
        return _drawn_thresholds(self.seed, layer, n_parts, n_out, self.bits, self.inl_sigma_lsb)

    def quantize(self, z: np.ndarray, full_scale: float, gain_error: np.ndarray | float = 0.0,
                 offset_lsb: np.ndarray | float = 0.0, thresholds: np.ndarray | None = None) -> np.ndarray:
        """Converted values of ``z`` ``(M, n)`` (errors broadcast over the last axis); ``thresholds`` ``(n, 2**bits - 1)``:
        each column's threshold table (``None``: the ideal staircase)."""
        lsb = full_scale / 2 ** (self.bits - 1)
        half = 2 ** (self.bits - 1)
        if thresholds is None:
            code = np.floor(np.asarray(z) * (1.0 + gain_error) / lsb + offset_lsb + 0.5)
            return np.clip(code, -half, half - 1) * lsb
        u = np.asarray(z, dtype=np.float64) * (1.0 + gain_error) / lsb + offset_lsb
        table = np.asarray(thresholds, dtype=np.float64)
        if table.ndim != 2 or table.shape[0] != u.shape[-1]:
            raise SpecError(f"thresholds have shape {table.shape}; need one table per column: ({u.shape[-1]}, {2 * half - 1})")
        code = np.empty(u.shape)
        for j in range(u.shape[-1]):  # code = cmin + how many thresholds u has reached (exact comparisons)
            code[..., j] = np.searchsorted(table[j], u[..., j], side="right")
        return (code - half) * lsb

    def convert(self, z: np.ndarray, *, layer: int, n_layers: int, part: int = 0, n_parts: int = 1) -> np.ndarray:
        """What converter ``part`` (of ``n_parts`` per output) of crossbar layer ``layer`` reads from ``z`` ``(..., n_out)``:
        every sample of any leading shape (images, time samples) with that converter's range, gain, offset and INL."""
        z = np.asarray(z, dtype=np.float64)
        gain, off = self.errors(layer, n_parts, z.shape[-1])
        table = self.thresholds(layer, n_parts, z.shape[-1])
        return self.quantize(z, self.full_scale(layer, n_layers), gain[part], off[part],
                             None if table is None else table[part])

    def code_margin(self, z: np.ndarray, *, layer: int, n_layers: int, part: int = 0, n_parts: int = 1) -> np.ndarray:
        """How far each sample of ``z`` ``(..., n_out)`` is from the nearest input where converter ``part`` of
        crossbar layer ``layer`` changes code (pre-activation units): two simulations that agree to better
        than this convert it to the same code."""
        z = np.asarray(z, dtype=np.float64)
        gain, off = self.errors(layer, n_parts, z.shape[-1])
        lsb = self.full_scale(layer, n_layers) / 2 ** (self.bits - 1)
        half = 2 ** (self.bits - 1)
        slope = (1.0 + gain[part]) / lsb  # code units per pre-activation unit
        table = self.thresholds(layer, n_parts, z.shape[-1])
        if table is not None:
            u = z * slope + off[part]
            dist = np.empty(u.shape)
            for j in range(u.shape[-1]):
                t = table[part, j]
                i = np.searchsorted(t, u[..., j], side="right")
                below = np.abs(u[..., j] - t[np.maximum(i - 1, 0)])
                above = np.abs(t[np.minimum(i, t.size - 1)] - u[..., j])
                dist[..., j] = np.minimum(below, above)
            return dist / np.abs(slope)
        t = z * slope + off[part] + 0.5  # the code changes where t crosses an integer in -half + 1 .. half - 1
        edge = np.clip(np.round(t), -half + 1, half - 1)
        return np.abs(t - edge) / np.abs(slope)

    # ------------------------------------------------------------ near-memory digital correction
    def correction_coefficients(self, layer: int, n_layers: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """Crossbar layer ``layer``'s fitted ``alpha`` (dimensionless) and ``beta`` (pre-activation units), each ``(n_out,)``."""
        scale, offset = self.correction_scale_ratio, self.correction_offset_norm
        if scale is None or offset is None:
            raise SpecError(f"adc.correction={self.correction!r} is not calibrated yet; calibrate it: "
                            "hardware = pyims.calibrate(model, x_cal, hardware), or run the network once")
        if len(scale) != n_layers:
            raise SpecError(f"adc.correction_scale_ratio has {len(scale)} layers but the network has {n_layers} crossbar "
                            "layers; give one list per layer, or calibrate: pyims.calibrate(model, x_cal, hardware)")
        if len(scale[layer]) != n_out:
            raise SpecError(f"adc.correction_scale_ratio[{layer}] has {len(scale[layer])} outputs but crossbar layer {layer} "
                            f"has {n_out}; give one per output, or calibrate: pyims.calibrate(model, x_cal, hardware)")
        return np.asarray(scale[layer], dtype=np.float64), np.asarray(offset[layer], dtype=np.float64)

    def fixed_coefficients(self, layer: int, n_layers: int, n_out: int) -> tuple[np.ndarray, np.ndarray, int]:
        """The fixed-point unit's integer scale ``S`` and offset ``O`` of layer ``layer``, each ``(n_out,)`` (float64 holding
        integers): ``alpha`` and ``beta / lsb`` rounded to the nearest step of their formats and clipped to them; and how
        many of them the clipping changed."""
        alpha, beta = self.correction_coefficients(layer, n_layers, n_out)
        lsb = self.full_scale(layer, n_layers) / 2 ** (self.bits - 1)
        s_lim = 2.0 ** (self.correction_scale_bits - 1)
        o_lim = 2.0 ** (self.correction_offset_bits - 1)
        s_raw = np.floor(alpha * 2.0**self.correction_scale_frac_bits + 0.5)
        o_raw = np.floor(beta / lsb * 2.0**self.correction_offset_frac_bits + 0.5)
        s_int = np.clip(s_raw, -s_lim, s_lim - 1)
        o_int = np.clip(o_raw, -o_lim, o_lim - 1)
        return s_int, o_int, int(np.sum(s_int != s_raw) + np.sum(o_int != o_raw))

    def output_range(self, relu: bool) -> tuple[float, float]:
        """The fixed-point output's integer range ``(Y_min, Y_max)``: unsigned with a fused ReLU, else signed."""
        n = self.correction_out_bits
        return (0.0, 2.0**n - 1.0) if relu else (-(2.0 ** (n - 1)), 2.0 ** (n - 1) - 1.0)

    def correct(self, z: np.ndarray, *, layer: int, n_layers: int, relu: bool = False, on_grid: bool = True) -> np.ndarray:
        """The digital unit's output for crossbar layer ``layer``'s read-out ``z`` ``(..., n_out)`` (pre-activation units,
        after the combination and the drift compensation), in pre-activation units. ``relu``: the next step is a ReLU,
        fused here (``max(0, .)``; the fixed-point output is then unsigned). ``on_grid``: ``z`` is a whole number of
        LSB (no drift compensation scaled it), snapped to it against round-off; else it is taken as it is."""
        z = np.asarray(z, dtype=np.float64)
        alpha, beta = self.correction_coefficients(layer, n_layers, z.shape[-1])
        if self.correction == "float":
            y = z * alpha + beta
            return np.maximum(y, 0.0) if relu else y
        if self.correction != "fixed":
            raise SpecError(f"adc.correction={self.correction!r}: there is no correction to apply")
        lsb = self.full_scale(layer, n_layers) / 2 ** (self.bits - 1)
        x = z / lsb
        if on_grid:
            x = np.rint(x)
        s_int, o_int, _ = self.fixed_coefficients(layer, n_layers, z.shape[-1])
        fs, fo, fy = self.correction_scale_frac_bits, self.correction_offset_frac_bits, self.correction_out_frac_bits
        g = max(fs, fo, fy + 1)  # every term is a whole number of 2**-g LSB: exact in float64 below 2**53 of them
        top = (float(np.max(np.abs(x), initial=0.0)) * float(np.max(np.abs(s_int), initial=0.0)) * 2.0 ** (g - fs)
               + float(np.max(np.abs(o_int), initial=0.0)) * 2.0 ** (g - fo) + 2.0 ** (g - fy - 1))
        if on_grid and top >= _EXACT:
            raise SpecError(f"adc correction of layer {layer}: the fixed-point products reach {top:.3g} steps of 2**-{g} LSB, "
                            "beyond the 2**53 float64 holds exactly; use fewer adc.correction_scale_frac_bits / "
                            "correction_offset_frac_bits / correction_out_frac_bits")
        acc = (s_int * x) * 2.0 ** (fy - fs) + o_int * 2.0 ** (fy - fo)  # in output steps
        y = np.floor(acc + 0.5) if self.correction_rounding == "nearest" else np.floor(acc)
        if relu:
            y = np.maximum(y, 0.0)
        lo, hi = self.output_range(relu)
        if self.correction_saturate:
            y = np.clip(y, lo, hi)
        else:  # two's complement (or unsigned) wrap-around
            span = 2.0**self.correction_out_bits
            y = y - span * np.floor((y - lo) / span)
        return y * 2.0**-fy * lsb

    @staticmethod
    def fuses_relu(steps: "Sequence[Layer | Node]", k: int) -> bool:
        """Whether crossbar layer ``k`` of the network ``steps`` is followed directly by a ReLU that nothing else bypasses
        (a non-inverting ``relu`` neuron of positive gain, the only reader of the layer's output): the digital unit then
        outputs ``max(0, .)``, which the ReLU passes unchanged."""
        from pyims.model.layers import Activation, Node, layer_of

        idx = [s for s, step in enumerate(steps) if layer_of(step).crossbar]
        if not 0 <= k < len(idx):
            raise SpecError(f"crossbar layer {k} does not exist; the network has {len(idx)}")
        s = idx[k]
        if s + 1 >= len(steps):
            return False
        nxt = steps[s + 1]
        if isinstance(nxt, Node) and nxt.inputs != (s,):
            return False
        if any(isinstance(step, Node) and s in step.inputs for j, step in enumerate(steps) if j != s + 1):
            return False
        act = layer_of(nxt)
        if not isinstance(act, Activation):
            return False
        neuron = act.neuron
        return neuron.kind == "relu" and not neuron.inverting and neuron.gain_norm > 0.0

    # ------------------------------------------------------------ SPICE
    @staticmethod
    def library() -> "SubcktLibrary":
        """The ideal converter's subcircuit (``circuits/adc.sub``)."""
        from pyims.netlist.library import load_library

        return load_library("pyims_adc")

    def libraries(self, *, correction: bool = False) -> "tuple[SubcktLibrary, ...]":
        """The subcircuit files this converter's SPICE form uses (``instances``; with ``correction`` the correction's too,
        ``correction_instance``): ``circuits/adc.sub`` and / or ``circuits/adc_table.sub``, each once."""
        from pyims.netlist.library import load_library

        libs = [] if self.inl else [load_library("pyims_adc")]
        if self.inl or (correction and self.correction != "none"):
            libs.append(load_library("pyims_adc_steps"))
        return tuple(libs)

    def instance(self, name: str, node_in: str, node_out: str, *, full_scale_v: float, gain_error: float = 0.0,
                 offset_lsb: float = 0.0) -> "SubcktInstance":
        """The ideal behavioural converter on ``node_in`` (volts), output at ``node_out`` (volts, the same scale)."""
        from pyims.netlist.model import SubcktInstance

        half = 2 ** (self.bits - 1)
        return SubcktInstance(name, (node_in, node_out), "pyims_adc", (
            ("lsb", full_scale_v / half), ("cmin", float(-half)), ("cmax", float(half - 1)),
            ("gain", 1.0 + float(gain_error)), ("offset", float(offset_lsb)),
        ))

    def instances(self, name: str, node_in: str, node_out: str, *, full_scale_v: float, gain_error: float = 0.0,
                  offset_lsb: float = 0.0, thresholds: np.ndarray | None = None) -> "tuple[SubcktInstance, ...]":
        """One converter's SPICE form on ``node_in`` (volts), output at ``node_out``: the ideal ``instance``, or with
        ``thresholds`` (its table, ``(2**bits - 1,)``, from ``thresholds(...)[part, j]``) the table chain of
        ``circuits/adc_table.sub`` -- the ideal code axis at ``<node_out>_u``, the count of thresholds reached summed
        block by block (``<node_out>_c<b>``, exact comparisons), and the code's voltage. Element names extend ``name``."""
        if thresholds is None:
            return (self.instance(name, node_in, node_out, full_scale_v=full_scale_v, gain_error=gain_error,
                                  offset_lsb=offset_lsb),)
        from pyims.netlist.model import GROUND, SubcktInstance

        half = 2 ** (self.bits - 1)
        table = np.asarray(thresholds, dtype=np.float64).reshape(-1)
        if table.size != 2 * half - 1:
            raise SpecError(f"{name}: a {self.bits}-bit threshold table has {2 * half - 1} entries, not {table.size}")
        lsb_v = full_scale_v / half
        u = f"{node_out}_u"
        out = [SubcktInstance(f"{name}U", (node_in, u), "pyims_adc_front", (
            ("lsb", lsb_v), ("gain", 1.0 + float(gain_error)), ("offset", float(offset_lsb))))]
        # padding repeats the last threshold: past it the count overshoots, and the code's clip at cmax takes it back
        n_blocks = -(-table.size // INL_BLOCK)
        padded = np.concatenate([table, np.full(n_blocks * INL_BLOCK - table.size, table[-1])])
        count = GROUND
        for b in range(n_blocks):
            nxt = f"{node_out}_c{b}"
            block = padded[b * INL_BLOCK : (b + 1) * INL_BLOCK]
            out.append(SubcktInstance(f"{name}S{b}", (u, count, nxt), "pyims_adc_steps",
                                      tuple((f"t{i}", float(t)) for i, t in enumerate(block))))
            count = nxt
        out.append(SubcktInstance(f"{name}C", (count, node_out), "pyims_adc_code", (
            ("lsb", lsb_v), ("cmin", float(-half)), ("cmax", float(half - 1)))))
        return tuple(out)

    def correction_instance(self, name: str, node_in: str, node_out: str, *, full_scale_v: float, layer: int,
                            n_layers: int, out: int, n_out: int, relu: bool = False) -> "SubcktInstance":
        """The digital correction of output ``out`` of crossbar layer ``layer`` as a behavioural subcircuit on the
        converter's output ``node_in`` (volts, ``full_scale_v`` at full scale), output at ``node_out`` (the same scale):
        ``pyims_adc_fixed`` (the fixed-point unit, exact) or ``pyims_adc_affine`` (float). The fully-analog netlist's;
        the tiled co-simulation corrects in Python."""
        from pyims.netlist.model import SubcktInstance

        half = 2 ** (self.bits - 1)
        if self.correction == "float":
            alpha, beta = self.correction_coefficients(layer, n_layers, n_out)
            v_z = full_scale_v / self.full_scale(layer, n_layers)
            return SubcktInstance(name, (node_in, node_out), "pyims_adc_affine", (
                ("a", float(alpha[out])), ("b", float(beta[out]) * v_z), ("relu", float(relu))))
        if self.correction != "fixed":
            raise SpecError(f"adc.correction={self.correction!r}: there is no correction to write")
        s_int, o_int, _ = self.fixed_coefficients(layer, n_layers, n_out)
        fs, fo, fy = self.correction_scale_frac_bits, self.correction_offset_frac_bits, self.correction_out_frac_bits
        lo, hi = self.output_range(relu)
        return SubcktInstance(name, (node_in, node_out), "pyims_adc_fixed", (
            ("lsb", full_scale_v / half), ("s", float(s_int[out])), ("o", float(o_int[out])),
            ("ks", 2.0 ** (fy - fs)), ("ko", 2.0 ** (fy - fo)), ("ky", 2.0**-fy),
            ("half", 0.5 if self.correction_rounding == "nearest" else 0.0), ("relu", float(relu)),
            ("sat", float(self.correction_saturate)), ("ymin", lo), ("ymax", hi), ("span", 2.0**self.correction_out_bits)))

    def describe(self) -> str:
        fs = self.full_scale_norm
        # the state, not the intent: ranges not yet fixed are calibrated anew on the images of each run (each infer
        # call), so a result depends on its batch; fixed ones (given, or set by pyims.calibrate) do not
        rng = ("ranges calibrated on each run's images" if fs is None else
               "fixed ranges, fs " + ("/".join(f"{v:.3g}" for v in fs) if isinstance(fs, tuple) else f"{fs:.3g}"))
        extra = ""
        if self.offset_lsb_sigma or self.gain_error_sigma_ratio:
            extra = f", offset sigma {self.offset_lsb_sigma:g} LSB, gain sigma {self.gain_error_sigma_ratio:g}"
        if self.inl_sigma_lsb > 0.0:
            extra += f", INL sigma {self.inl_sigma_lsb:g} LSB"
        elif self.inl_file is not None:
            extra += f", INL from {Path(self.inl_file).name} (sha256 {(self._inl_sha256 or '')[:12]})"
        per_run = "" if self.correction_calibrated else " calibrated on each run's images"
        if self.correction == "float":
            extra += f", float correction{per_run}"
        elif self.correction == "fixed":
            extra += (f", fixed correction{per_run} (scale {self.correction_scale_bits}.{self.correction_scale_frac_bits}, "
                      f"offset {self.correction_offset_bits}.{self.correction_offset_frac_bits}, out "
                      f"{self.correction_out_bits}.{self.correction_out_frac_bits}, {self.correction_rounding}, "
                      f"{'saturating' if self.correction_saturate else 'wrapping'})")
        return f"{self.bits}-bit ADC ({rng}{extra})"


# ---------------------------------------------------------------- threshold tables
@lru_cache(maxsize=64)
def _drawn_thresholds(seed: int, layer: int, n_parts: int, n_out: int, bits: int, sigma_lsb: float) -> np.ndarray:
    """The drawn tables ``(n_parts, n_out, 2**bits - 1)`` (read-only): a Brownian bridge of DNL steps (module docstring).

    ``N = 2**bits - 2`` widths ``w_i = 1 + d_i`` between the first threshold (at ``cmin + 1/2``) and the last (at
    ``cmax - 1/2``), ``d = sigma_d (e - mean(e))`` with ``e ~ N(0, 1)`` per converter: the INL ``t_i - (cmin + 1/2 + i)``
    is the running sum, 0 at both ends, of variance ``sigma_d**2 i (N - i) / N``; its mean over the ``N + 1`` thresholds
    is ``sigma_d**2 (N - 1) / 6``, so ``sigma_d = sigma_lsb sqrt(6 / (N - 1))``. Widths below 0 (missing codes past
    -1 LSB of DNL) are clipped to 0 and all widths rescaled to sum to ``N`` again: thresholds never decrease and the
    ends stay put (the last to round-off)."""
    half = 2 ** (bits - 1)
    n_w = 2 * half - 2
    rng = np.random.default_rng([seed, layer, _INL_STREAM])
    e = rng.standard_normal((n_parts, n_out, n_w))
    sigma_d = sigma_lsb * math.sqrt(6.0 / (n_w - 1)) if n_w > 1 else 0.0
    widths = np.maximum(1.0 + sigma_d * (e - e.mean(axis=-1, keepdims=True)), 0.0)
    widths *= n_w / widths.sum(axis=-1, keepdims=True)
    table = np.empty((n_parts, n_out, n_w + 1))
    table[..., 0] = -half + 0.5
    table[..., 1:] = -half + 0.5 + np.cumsum(widths, axis=-1)
    table.flags.writeable = False
    return table


_INL_FILES: dict[tuple[str, int, int, int], tuple[np.ndarray, str]] = {}


def read_inl_file(path: str | os.PathLike[str], bits: int) -> tuple[np.ndarray, str]:
    """A measured threshold table from CSV ``path`` for a ``bits``-bit converter: ``(2**bits - 1,)`` float64, read-only,
    and the file's SHA-256. Untrusted input: at most ``INL_FILE_MAX_BYTES``; a header line ``code,threshold_lsb``, then
    one line ``code,threshold`` per code ``cmin + 1 .. cmax`` in order, thresholds finite and never decreasing (blank
    lines and ``#`` comments are skipped). SpecError naming the file and line otherwise."""
    p = Path(os.fspath(path)).expanduser()
    where = f"adc.inl_file={str(p)!r}"
    try:
        st = p.stat()
    except OSError:
        raise SpecError(f"{where} does not exist; give the path of a CSV with a header line {INL_HEADER!r} and one line "
                        "per code") from None
    if not p.is_file():
        raise SpecError(f"{where} is not a file; give the path of a CSV threshold table")
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size, bits)
    if key in _INL_FILES:
        return _INL_FILES[key]
    if st.st_size > INL_FILE_MAX_BYTES:
        raise SpecError(f"{where} is {st.st_size} bytes; a threshold table is at most {INL_FILE_MAX_BYTES} bytes "
                        f"(one line per code of a {bits}-bit converter is far less): check the file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError(f"{where} cannot be read ({exc})") from exc
    if len(raw) > INL_FILE_MAX_BYTES:
        raise SpecError(f"{where} is over {INL_FILE_MAX_BYTES} bytes; a threshold table is smaller: check the file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as a plain CSV") from exc
    half = 2 ** (bits - 1)
    n_t = 2 * half - 1
    values: list[float] = []
    header_seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        at = f"{p}:{number}"
        if not header_seen:
            if body.replace(" ", "").lower() != INL_HEADER:
                raise SpecError(f"{at}: the first line must be the header {INL_HEADER!r}, not {body[:60]!r}")
            header_seen = True
            continue
        fields = [f.strip() for f in body.split(",")]
        if len(fields) != 2:
            raise SpecError(f"{at}: {body[:60]!r} has {len(fields)} fields; each line is 'code,threshold_lsb'")
        want = -half + 1 + len(values)
        if len(values) >= n_t:
            raise SpecError(f"{at}: more than {n_t} codes; a {bits}-bit converter's thresholds are codes {-half + 1}..{half - 1}")
        try:
            code = int(fields[0])
        except ValueError:
            raise SpecError(f"{at}: code {fields[0][:30]!r} is not an integer") from None
        if code != want:
            raise SpecError(f"{at}: code {code} where code {want} comes; list codes {-half + 1}..{half - 1} in order, "
                            "one line each")
        try:
            t = float(fields[1])
        except ValueError:
            raise SpecError(f"{at}: threshold {fields[1][:30]!r} is not a number") from None
        if not math.isfinite(t):
            raise SpecError(f"{at}: threshold {fields[1]!r} is not finite; every code starts at a finite input")
        if values and t < values[-1]:
            raise SpecError(f"{at}: code {code} starts at {t!r} LSB, below code {code - 1} ({values[-1]!r}); a transfer "
                            "curve's thresholds never decrease (equal ones: a missing code)")
        values.append(t)
    if not header_seen:
        raise SpecError(f"{where} is empty; it needs the header {INL_HEADER!r} and {n_t} lines")
    if len(values) != n_t:
        raise SpecError(f"{where} has {len(values)} codes; a {bits}-bit converter has {n_t} thresholds (codes "
                        f"{-half + 1}..{half - 1}): measure every code, or set adc.bits to the converter's resolution")
    table = np.array(values, dtype=np.float64)
    table.flags.writeable = False
    out = (table, hashlib.sha256(raw).hexdigest())
    _INL_FILES[key] = out
    return out
