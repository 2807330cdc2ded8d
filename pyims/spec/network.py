"""How a trained network becomes circuits: devices, input encoding, periphery, partitions.

All frozen and validated; messages name the config field (``device.g_on_s``, ...) and the
allowed values, since these specs are what an experiment TOML file fills in. They are plain
data: the components a ``PeripherySpec`` names are built by ``pyims.components.sense_for`` /
``combiner_for``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import InitVar, dataclass, replace
import numpy as np

from pyims.errors import InputRangeWarning, SpecError
from pyims.spec._checks import nonnegative, positive, real_scalar

__all__ = [
    "DeviceSpec",
    "InputEncoding",
    "InputClipping",
    "PeripherySpec",
    "PartitionPlan",
    "LayerSplit",
    "ENCODINGS",
    "split_sizes",
]

ENCODINGS = ("dac", "binary")
_ENERGY_WINDOW_S = 1e-8  # PeripherySpec.t_energy_window_s by default


def _int_field(owner: str, name: str, value: object, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise SpecError(f"{owner}.{name}={value!r} must be an integer >= {lo}")
    return int(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    """The resistive devices of the crossbars: the ``[device]`` table.

    Attributes:
        kind: the cell model (``pyims.devices``: "linear", today's ideal resistor, is the default;
            "pcm", "rram", "measured").
        g_on_s / g_off_s: highest / lowest programmable conductance of the linear kind, siemens
            (g_on > g_off >= 0); other kinds have their own range (``Device.g_range_s``).
        levels: number of programmable conductance levels, evenly spaced in [g_off, g_on]
            (``None``: continuous, i.e. analog programming without quantisation).
        variation_sigma_ratio: device-to-device variation, the standard deviation of ln(G):
            every programmed G becomes ``G * exp(sigma * N(0, 1))`` (0: none). Lognormal keeps G > 0.
        variation_seed: seeds the variation draw, so a mapping is reproducible.
        t_since_program_s: when the arrays are read, seconds after programming (0: right after:
            no drift, no read noise).
        drift_compensation: "none", "global" (one scale per crossbar layer) or "per_column"
            (``pyims.mapping.compensation``).
        stuck_off_ratio / stuck_on_ratio: fractions of cells stuck at g_off / g_on (seeded, per cell).
        seed: seeds the device's draws: programming noise, stuck cells, drift exponents, read noise.
        params: the kind's own fields, ``((name, value), ...)`` sorted by name (a mapping is accepted);
            the kind checks them (``Device.from_config``).
    """

    kind: str = "linear"
    g_on_s: float = 1e-4
    g_off_s: float = 1e-6
    levels: int | None = None
    variation_sigma_ratio: float = 0.0
    variation_seed: int = 0
    t_since_program_s: float = 0.0
    drift_compensation: str = "none"
    stuck_off_ratio: float = 0.0
    stuck_on_ratio: float = 0.0
    seed: int = 0
    params: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind.isidentifier():
            raise SpecError(f"device.kind={self.kind!r} must be a device kind name, e.g. \"linear\"")
        object.__setattr__(self, "g_on_s", positive("device", "g_on_s", self.g_on_s))
        object.__setattr__(self, "g_off_s", nonnegative("device", "g_off_s", self.g_off_s))
        if self.g_on_s <= self.g_off_s:
            raise SpecError(f"device.g_on_s={self.g_on_s!r} must exceed device.g_off_s={self.g_off_s!r}")
        if self.levels is not None:
            object.__setattr__(self, "levels", _int_field("device", "levels", self.levels, 2))
        object.__setattr__(
            self, "variation_sigma_ratio", nonnegative("device", "variation_sigma_ratio", self.variation_sigma_ratio)
        )
        object.__setattr__(self, "variation_seed", _int_field("device", "variation_seed", self.variation_seed, 0))
        params = self.params
        if isinstance(params, dict):
            params = tuple(params.items())
        try:
            params = tuple(sorted((str(k), v) for k, v in params))
        except (TypeError, ValueError) as exc:
            raise SpecError(f"device.params={self.params!r} must be (name, value) pairs or a mapping") from exc
        for k, v in params:
            if isinstance(v, list):
                raise SpecError(f"device.{k}={v!r}: a kind's field is a number or a string")
        object.__setattr__(self, "params", params)

    @property
    def common(self) -> dict[str, object]:
        """The fields every kind has (``pyims.devices.base.COMMON_FIELDS``)."""
        return {"t_since_program_s": self.t_since_program_s, "drift_compensation": self.drift_compensation,
                "stuck_off_ratio": self.stuck_off_ratio, "stuck_on_ratio": self.stuck_on_ratio, "seed": self.seed}


@dataclass(frozen=True, slots=True, kw_only=True)
class InputClipping:
    """How many inputs lay outside the DAC's input range (and were clipped to it).

    Attributes:
        x_min_norm / x_max_norm: the range, in input units (``None``: unbounded, nothing clipped).
        n_values: input values seen (images times features).
        n_outside: of them, outside the range.
        n_images / n_images_outside: images seen, and those with at least one value outside.
    """

    x_min_norm: float | None
    x_max_norm: float | None
    n_values: int
    n_outside: int
    n_images: int
    n_images_outside: int

    @property
    def fraction(self) -> float:
        """``n_outside / n_values`` (0 for no values)."""
        return self.n_outside / self.n_values if self.n_values else 0.0

    def __add__(self, other: "InputClipping") -> "InputClipping":
        """The counts of two batches on the same range together."""
        if (self.x_min_norm, self.x_max_norm) != (other.x_min_norm, other.x_max_norm):
            raise SpecError(f"InputClipping: ranges [{self.x_min_norm}, {self.x_max_norm}] and "
                            f"[{other.x_min_norm}, {other.x_max_norm}] differ; add counts of one DAC range only")
        return InputClipping(x_min_norm=self.x_min_norm, x_max_norm=self.x_max_norm,
                             n_values=self.n_values + other.n_values, n_outside=self.n_outside + other.n_outside,
                             n_images=self.n_images + other.n_images,
                             n_images_outside=self.n_images_outside + other.n_images_outside)

    def describe(self) -> str:
        """One line: the share clipped, the counts and the range."""
        return (f"{100.0 * self.fraction:.3g} % of the input values ({self.n_outside} of {self.n_values}, in "
                f"{self.n_images_outside} of {self.n_images} images) lie outside the DAC's input range "
                f"[{self.x_min_norm:g}, {self.x_max_norm:g}]")


def _float_tuple(owner: str, name: str, value: object) -> tuple[float, ...]:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) == 0:
        raise SpecError(f"{owner}.{name}={value!r} must be one number or one per channel, e.g. [0.5]")
    return tuple(real_scalar(owner, f"{name}[{k}]", v) for k, v in enumerate(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class InputEncoding:
    """How the model's inputs ``x`` become row voltages (the ``[encoding]`` table: the input DAC).

    * ``dac``: row voltage ``u * v_read_v`` with ``u = x`` clipped to the DAC's input range
      ``[x_min_norm, x_max_norm]`` (input units) and, with ``dac_bits``, rounded to the nearest of
      ``2**dac_bits`` levels evenly spread over it. The inputs drive the rows as they are -- a range
      below 0 drives negative voltages, one above 1 more than ``v_read_v`` -- so the weights need no
      change and the circuit computes the model's own layer exactly (an offset folded into the first
      layer's bias instead would be wrong at a convolution's zero padding).
    * ``binary``: ``u = +1`` if ``x > threshold_norm`` else ``-1``, driven at ``+-v_read_v``.

    The range: given (``x_min_norm`` and ``x_max_norm``), fixed from data by ``pyims.calibrate`` (the
    calibration inputs' minimum and maximum), or derived from a declared normalisation: inputs
    ``x = (p - x_mean_norm) / x_std_norm`` of pixels ``p`` in [0, 1] (one value, or one per channel:
    the range then covers every channel's ``[-mean/std, (1 - mean)/std]``). Unset, a DAC with
    ``dac_bits`` spans [0, 1] and an ideal one (``dac_bits=None``) is unbounded (nothing clipped).
    Values outside are counted and warned about (``InputRangeWarning``, with the fraction).

    The digital reference sees the inputs the circuit sees, before quantisation: ``x`` clipped to
    the range for ``dac`` (the DAC is part of the hardware, its levels too), ``+-1`` for ``binary``
    (binarisation is part of the model: it is trained that way).
    """

    kind: str = "dac"
    v_read_v: float = 0.2
    dac_bits: int | None = None
    threshold_norm: float = 0.5
    x_min_norm: float | None = None
    x_max_norm: float | None = None
    x_mean_norm: tuple[float, ...] | None = None
    x_std_norm: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ENCODINGS:
            raise SpecError(f"encoding.kind={self.kind!r} is unknown; use one of {', '.join(ENCODINGS)}")
        object.__setattr__(self, "v_read_v", positive("encoding", "v_read_v", self.v_read_v))
        object.__setattr__(self, "threshold_norm", real_scalar("encoding", "threshold_norm", self.threshold_norm))
        if self.dac_bits is not None:
            object.__setattr__(self, "dac_bits", _int_field("encoding", "dac_bits", self.dac_bits, 1))
        given = [name for name in ("x_min_norm", "x_max_norm", "x_mean_norm", "x_std_norm") if getattr(self, name) is not None]
        if given and self.kind != "dac":
            raise SpecError(f"encoding.{given[0]} sets a DAC's input range, but encoding.kind={self.kind!r} binarises "
                            "at threshold_norm; remove it, or use kind=\"dac\"")
        for lo, hi in (("x_min_norm", "x_max_norm"), ("x_mean_norm", "x_std_norm")):
            if (getattr(self, lo) is None) != (getattr(self, hi) is None):
                have, missing = (lo, hi) if getattr(self, lo) is not None else (hi, lo)
                raise SpecError(f"encoding.{have} is set but encoding.{missing} is not; give both")
        if self.x_min_norm is not None and self.x_mean_norm is not None:
            raise SpecError("encoding: give the DAC's input range (x_min_norm, x_max_norm) or the inputs' normalisation "
                            "(x_mean_norm, x_std_norm), not both")
        if self.x_min_norm is not None:
            lo = real_scalar("encoding", "x_min_norm", self.x_min_norm)
            hi = real_scalar("encoding", "x_max_norm", self.x_max_norm)
            if not hi > lo:
                raise SpecError(f"encoding.x_max_norm={hi!r} must exceed encoding.x_min_norm={lo!r}")
            object.__setattr__(self, "x_min_norm", lo)
            object.__setattr__(self, "x_max_norm", hi)
        if self.x_mean_norm is not None:
            mean = _float_tuple("encoding", "x_mean_norm", self.x_mean_norm)
            std = _float_tuple("encoding", "x_std_norm", self.x_std_norm)
            if len(mean) != len(std):
                raise SpecError(f"encoding.x_mean_norm has {len(mean)} value(s) and encoding.x_std_norm {len(std)}; "
                                "give one per channel in both (or one in both)")
            for k, s in enumerate(std):
                if s <= 0.0:
                    raise SpecError(f"encoding.x_std_norm[{k}]={s!r} must be > 0")
            object.__setattr__(self, "x_mean_norm", mean)
            object.__setattr__(self, "x_std_norm", std)

    @property
    def range_fixed(self) -> bool:
        """Whether the input range is given (``x_min_norm`` / ``x_max_norm``) or declared (a normalisation)."""
        return self.x_min_norm is not None or self.x_mean_norm is not None

    @property
    def input_range(self) -> tuple[float, float] | None:
        """The DAC's input range ``(low, high)`` in input units, or ``None`` (an ideal DAC, unbounded; binary)."""
        if self.kind != "dac":
            return None
        if self.x_min_norm is not None:
            return self.x_min_norm, self.x_max_norm  # type: ignore[return-value]
        if self.x_mean_norm is not None:
            mean, std = np.asarray(self.x_mean_norm), np.asarray(self.x_std_norm)
            return float(np.min(-mean / std)), float(np.max((1.0 - mean) / std))
        return (0.0, 1.0) if self.dac_bits is not None else None

    def fitted(self, x: np.ndarray) -> "InputEncoding":
        """This DAC with its input range set to the minimum and maximum of inputs ``x`` (``pyims.calibrate``)."""
        x = np.asarray(x, dtype=np.float64)
        if x.size == 0 or not np.all(np.isfinite(x)):
            raise SpecError("the calibration inputs are empty or hold NaN or inf; pass finite inputs to set the DAC's range")
        lo, hi = float(x.min()), float(x.max())
        if not hi > lo:
            raise SpecError(f"the calibration inputs are all {lo!r}, so they give the DAC no range; pass varied inputs, or "
                            "give the range: InputEncoding(x_min_norm=..., x_max_norm=...) ([encoding] x_min_norm, x_max_norm)")
        return replace(self, x_min_norm=lo, x_max_norm=hi)

    def normalized(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels ``(N, ...)`` in [0, 1] through the declared normalisation ``(p - mean) / std`` (channel-major: a
        flattened image's features split evenly into the channels); the pixels themselves when none is declared."""
        p = np.asarray(pixels, dtype=np.float64)
        if self.x_mean_norm is None:
            return p
        c = len(self.x_mean_norm)
        per_image = int(np.prod(p.shape[1:]))
        if per_image % c:
            raise SpecError(f"encoding.x_mean_norm has {c} channels, but an image has {per_image} values (not a multiple "
                            f"of {c}); give one mean and std per channel of the model's input")
        mean = np.asarray(self.x_mean_norm)[None, :, None]
        std = np.asarray(self.x_std_norm)[None, :, None]
        return ((p.reshape(p.shape[0], c, -1) - mean) / std).reshape(p.shape)

    def clipping(self, x_norm: np.ndarray) -> InputClipping | None:
        """How many of inputs ``x_norm`` ``(N, ...)`` lie outside the input range (``None``: no range)."""
        rng = self.input_range
        if rng is None:
            return None
        x = np.asarray(x_norm, dtype=np.float64)
        outside = (x < rng[0]) | (x > rng[1])
        n = x.shape[0] if x.ndim else 1
        per_image = outside.reshape(n, -1).any(axis=1)
        return InputClipping(x_min_norm=rng[0], x_max_norm=rng[1], n_values=int(x.size), n_outside=int(outside.sum()),
                             n_images=int(n), n_images_outside=int(per_image.sum()))

    def warn_clipped(self, x_norm: np.ndarray, *, stacklevel: int = 3) -> InputClipping | None:
        """``clipping(x_norm)``, with an ``InputRangeWarning`` when any value lies outside."""
        c = self.clipping(x_norm)
        if c is not None and c.n_outside:
            fix = ("set the range from data with pyims.calibrate(model, x_cal, hardware), or give it: "
                   "InputEncoding(x_min_norm=..., x_max_norm=...) ([encoding] x_min_norm, x_max_norm) or the inputs' "
                   "normalisation (x_mean_norm, x_std_norm)") if not self.range_fixed else "widen the range if they matter"
            warnings.warn(InputRangeWarning(f"{c.describe()}; they are clipped to it, and the digital reference sees the "
                                            f"same clipped inputs; {fix}", clipping=c), stacklevel=stacklevel)
        return c

    def digital(self, x_norm: np.ndarray) -> np.ndarray:
        """What the digital reference (and the trainer) sees for inputs ``x_norm`` ``(N, d)``: clipped to the DAC's
        range (``dac``), or ``+-1`` (``binary``)."""
        x = np.asarray(x_norm, dtype=np.float64)
        if self.kind == "binary":
            return np.where(x > self.threshold_norm, 1.0, -1.0)
        rng = self.input_range
        return x if rng is None else np.clip(x, rng[0], rng[1])

    def quantized(self, x_norm: np.ndarray, *, warn: bool = True) -> np.ndarray:
        """What the hardware applies, in units of ``v_read_v``: ``(N, d)``. ``warn``: an ``InputRangeWarning`` when
        values lie outside the DAC's range (``warn_clipped``)."""
        if warn and self.kind == "dac":
            self.warn_clipped(x_norm)
        u = self.digital(x_norm)
        if self.kind == "dac" and self.dac_bits is not None:
            lo, hi = self.input_range  # type: ignore[misc]
            top = 2**self.dac_bits - 1
            span = hi - lo
            u = lo + np.round((u - lo) / span * top) / top * span
        return u


@dataclass(frozen=True, slots=True, kw_only=True)
class PeripherySpec:
    """The circuits around the arrays (subcircuits in ``circuits/``; see ``docs/network.md``).

    Attributes:
        sense: "ideal" (a 0 V virtual ground and an ideal transimpedance ``v = -rf_ohm * i``),
            "opamp" (an inverting op-amp of finite gain ``opamp_gain_ratio`` with feedback ``rf_ohm``;
            its input is not exactly at 0 V, so the array sees it), or "diffamp" (voltage mode,
            IMAC-Sim's: no virtual ground; each output's I+ and I- lines end in the inputs of a
            four-resistor difference amplifier, ``r_in_ohm`` in series and ``gain * r_in_ohm`` to
            ground / in feedback, op-amp gain ``opamp_gain_ratio``; ``v_d = gain * (v(I+) - v(I-))``
            for an ideal op-amp; needs ``combine = "average"``).
        rf_ohm: transimpedance (feedback) resistance of the sense amplifier.
        opamp_gain_ratio: open-loop gain of the "opamp" sense amplifier.
        diff_gain_ratio: gain of the differential stage ``v_d = gain * (v(I-) - v(I+))``
            (current mode), or of the "diffamp" difference amplifier.
        layer_gains_ratio: per-layer gains that replace ``diff_gain_ratio``, one per layer
            (IMAC-Sim's 400x120x84x10 network: 30, 30, 10); unset: ``diff_gain_ratio`` everywhere.
        r_in_ohm: input resistance of the "diffamp" amplifier (IMAC-Sim: 1 kohm).
        combine: how horizontal partitions' partial sums meet: "sum" (all partitions' column
            wires end at one shared sense amplifier, whose virtual ground sums their currents)
            or "average" (each partition has its own sense + differential stage, with gain times
            the number of partitions -- for "diffamp", the plain gain, since each partition's
            line voltages are already averages; equal resistors ``r_avg_ohm`` average their outputs).
        r_avg_ohm: resistance of each averaging resistor.
        v_bias_v: voltage of the bias row (the bias is an extra input row driven at this voltage).
        t_energy_window_s: how long the array is read per inference, for the energy figure
            (``P * t_energy_window_s``); not the read time of ``pyims.ReadAt``. It was ``t_read_s``: that
            keyword still works, with a DeprecationWarning.

    ``sense`` and ``combine`` name components (``pyims.components.SENSES`` / ``COMBINERS``); they are
    checked against the registry when the spec is made.
    """

    sense: str = "ideal"
    rf_ohm: float = 1e4
    opamp_gain_ratio: float = 1e4
    diff_gain_ratio: float = 1.0
    layer_gains_ratio: tuple[float, ...] | None = None
    r_in_ohm: float = 1e3
    combine: str = "sum"
    r_avg_ohm: float = 1e4
    v_bias_v: float = 0.2
    t_energy_window_s: float = _ENERGY_WINDOW_S
    t_read_s: InitVar[float | None] = None  # the old name of t_energy_window_s

    def __post_init__(self, t_read_s: float | None) -> None:
        # the one lazy spec -> components import docs/architecture.md allows: the registered kinds check their names
        from pyims.components.registry import check_periphery

        if t_read_s is not None:
            warnings.warn("PeripherySpec(t_read_s=...) is deprecated: the energy window is t_energy_window_s "
                          "(t_read_s is the read time of pyims.ReadAt)", DeprecationWarning, stacklevel=3)
            if self.t_energy_window_s != _ENERGY_WINDOW_S:
                raise SpecError("periphery: give t_energy_window_s or its old name t_read_s, not both")
            object.__setattr__(self, "t_energy_window_s", t_read_s)
        for name in ("rf_ohm", "opamp_gain_ratio", "diff_gain_ratio", "r_in_ohm", "r_avg_ohm", "v_bias_v", "t_energy_window_s"):
            object.__setattr__(self, name, positive("periphery", name, getattr(self, name)))
        if self.layer_gains_ratio is not None:
            gains = tuple(self.layer_gains_ratio)
            if not gains:
                raise SpecError("periphery.layer_gains_ratio is empty; give one gain per layer, e.g. [30, 30, 10]")
            gains = tuple(positive("periphery", f"layer_gains_ratio[{k}]", g) for k, g in enumerate(gains))
            object.__setattr__(self, "layer_gains_ratio", gains)
        check_periphery(self)

    def gain(self, layer_index: int, n_layers: int) -> float:
        """The differential gain of layer ``layer_index`` (from 0) of an ``n_layers`` network."""
        if self.layer_gains_ratio is None:
            return self.diff_gain_ratio
        if len(self.layer_gains_ratio) != n_layers:
            raise SpecError(
                f"periphery.layer_gains_ratio={list(self.layer_gains_ratio)} has {len(self.layer_gains_ratio)} "
                f"entries but the network has {n_layers} layers; give one per layer"
            )
        return self.layer_gains_ratio[layer_index]


def split_sizes(n: int, parts: int) -> tuple[int, ...]:
    """Sizes of ``parts`` contiguous pieces of ``n`` items; the first ``n % parts`` get one more.

    E.g. 401 rows in 16 partitions -> one of 26 then fifteen of 25.
    """
    base, extra = divmod(n, parts)
    return tuple(base + 1 if k < extra else base for k in range(parts))


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSplit:
    """One layer's partitions: row counts (inputs + the bias row) and output counts per tile."""

    row_sizes: tuple[int, ...]
    out_sizes: tuple[int, ...]

    @property
    def row_starts(self) -> tuple[int, ...]:
        return tuple(int(s) for s in np.concatenate([[0], np.cumsum(self.row_sizes)[:-1]]))

    @property
    def out_starts(self) -> tuple[int, ...]:
        return tuple(int(s) for s in np.concatenate([[0], np.cumsum(self.out_sizes)[:-1]]))


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionPlan:
    """How each layer's array is split into tiles.

    Either counts per layer — ``horizontal`` splits the rows (the layer's inputs plus its bias
    row) into that many partitions whose partial sums are combined; ``vertical`` splits the
    outputs (each output is a G+/G- column pair, never split) into tiles that each get the full
    inputs re-driven — or a maximum physical tile shape ``max_rows`` x ``max_cols`` (cells;
    an output takes two columns), from which the fewest partitions that fit are chosen.
    Uneven splits are allowed: see ``split_sizes``. Unset means one tile per layer.
    """

    horizontal: tuple[int, ...] | None = None
    vertical: tuple[int, ...] | None = None
    max_rows: int | None = None
    max_cols: int | None = None

    def __post_init__(self) -> None:
        for name in ("horizontal", "vertical"):
            value = getattr(self, name)
            if value is not None:
                value = tuple(value)
                for k, count in enumerate(value):
                    _int_field("partitions", f"{name}[{k}]", count, 1)
                object.__setattr__(self, name, tuple(int(c) for c in value))
        if self.max_rows is not None:
            object.__setattr__(self, "max_rows", _int_field("partitions", "max_rows", self.max_rows, 1))
        if self.max_cols is not None:
            object.__setattr__(self, "max_cols", _int_field("partitions", "max_cols", self.max_cols, 2))
        if self.horizontal is not None and self.max_rows is not None:
            raise SpecError("partitions: give horizontal counts or max_rows, not both")
        if self.vertical is not None and self.max_cols is not None:
            raise SpecError("partitions: give vertical counts or max_cols, not both")

    def resolve(self, layer_sizes: tuple[int, ...]) -> tuple[LayerSplit, ...]:
        """The split of every layer of a network with ``layer_sizes`` (n_in, ..., n_out)."""
        return self.resolve_shapes(tuple(zip(layer_sizes[:-1], layer_sizes[1:])))

    def resolve_shapes(self, shapes: tuple[tuple[int, int], ...]) -> tuple[LayerSplit, ...]:
        """The split of every crossbar layer ``(n_in, n_out)`` (a convolution: ``(C_in*kh*kw, C_out)``)."""
        n_layers = len(shapes)
        for name in ("horizontal", "vertical"):
            value = getattr(self, name)
            if value is not None and len(value) != n_layers:
                raise SpecError(
                    f"partitions.{name}={list(value)} has {len(value)} entries but the network has "
                    f"{n_layers} layers; give one count per dense or convolution layer"
                )
        splits = []
        for l in range(n_layers):
            rows, outs = shapes[l][0] + 1, shapes[l][1]
            if self.horizontal is not None:
                h = self.horizontal[l]
            elif self.max_rows is not None:
                h = math.ceil(rows / self.max_rows)
            else:
                h = 1
            if self.vertical is not None:
                v = self.vertical[l]
            elif self.max_cols is not None:
                v = math.ceil(outs / (self.max_cols // 2))
            else:
                v = 1
            if h > rows:
                raise SpecError(
                    f"partitions.horizontal[{l}]={h} exceeds layer {l + 1}'s rows={rows} "
                    f"({rows - 1} inputs + bias); use 1..{rows}"
                )
            if v > outs:
                raise SpecError(f"partitions.vertical[{l}]={v} exceeds layer {l + 1}'s outputs={outs}; use 1..{outs}")
            splits.append(LayerSplit(row_sizes=split_sizes(rows, h), out_sizes=split_sizes(outs, v)))
        return tuple(splits)

    def describe(self, layer_sizes: tuple[int, ...] | tuple[tuple[int, int], ...]) -> str:
        """E.g. ``16/8/8 x 8/8/1``: horizontal then vertical counts per layer (of ``layer_sizes``, or of
        crossbar layer shapes ``((n_in, n_out), ...)``)."""
        splits = (self.resolve_shapes(layer_sizes) if layer_sizes and isinstance(layer_sizes[0], tuple)  # type: ignore[arg-type]
                  else self.resolve(layer_sizes))  # type: ignore[arg-type]
        return "/".join(str(len(s.row_sizes)) for s in splits) + " x " + "/".join(str(len(s.out_sizes)) for s in splits)
