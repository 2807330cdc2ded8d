"""IMAC-Sim compatibility: its circuit conventions as pyims specs, and its weight files.

IMAC-Sim (Amin et al., the HSPICE-only simulator behind the reference study) builds each layer
as MTJ crossbars read in voltage mode. ``ImacPreset`` reproduces it (``docs/imac.md``):

* devices: two levels, 5 kohm and 15 kohm; weight +1 -> 5 kohm on the output's I+ line and
  15 kohm on its I- line, -1 the reverse (``DeviceSpec(g_on=1/5k, g_off=1/15k, levels=2)``);
* inputs binarised to +-0.8 V, the bias row driven at 0.8 V;
* one wire resistor per cell: 9.24 ohm on input lines (the G+/G- pair shares one input-line
  node: ``row_node_per_pair``), 11.55 ohm on each output line, including the segment from the
  driver to the first cell and from the last cell to the amplifier -- both from the 9 nm
  geometry and size-effect resistivity (``geometry``);
* a difference amplifier per output and horizontal partition (1 kohm inputs, gain 30/30/10 for
  400x120x84x10), the partitions' outputs averaged (``combine = "average"``);
* its inverting neuron, ``out ~ clip(0.4 - 3 v_in, 0, 0.8)`` V: the transistor-level
  ``pyims_neuron_inverter``, characterised in ngspice.

pyims's pre-activation for this preset is the amplifier's output in volts: weights are held
as ``c_l * (+-1)`` with ``c_l = hardware_scales(...)[l]`` (volts per unit weight to first
order), so the neuron sees exactly the curve it was characterised with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pyims.errors import ModelFileError, SpecError
from pyims.hardware import Hardware
from pyims.mapping import MappedNetwork, map_network
from pyims.model import MLP, NeuronSpec, load_csv_weights
from pyims.model.layers import forward
from pyims.spec import DeviceSpec, InputEncoding, PartitionPlan, PeripherySpec, WireGeometry, WireParasitics
from pyims.spec.wires import scaled_resistivity_ohm_m

if TYPE_CHECKING:
    from pyims.characterize import NeuronCurve

__all__ = ["ImacPreset", "VoltageModeLayers", "TECH_NODE_M"]

#: IMAC-Sim's default technology node and its bit-cell geometry (multiples of the node F).
TECH_NODE_M = 9e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class ImacPreset:
    """IMAC-Sim's hardware. Every field is one of its published defaults (``docs/imac.md``).

    Attributes:
        r_low_ohm / r_high_ohm: the MTJ's parallel / antiparallel resistance.
        v_read_v: input and bias-row voltage (inputs are +-v_read_v).
        gains_ratio: difference-amplifier gain of each layer.
        r_in_ohm: the amplifiers' input resistors.
        opamp_gain_ratio: open-loop gain of their op-amps (IMAC-Sim's HSPICE ``OPAMP`` is ideal).
        r_avg_ohm: the resistors that tie partitions' amplifier outputs together (IMAC-Sim: 1 mohm).
        tech_node_m, bulk_resistivity_ohm_m: the wire geometry: metal width 3F, thickness 22 nm,
            cell width (input-line pitch) 12F, cell length (output-line pitch) 15F, copper 1.9e-8.
        wire_scale_ratio: multiplies every wire resistance (1 = the geometry's; for sweeps).
    """

    r_low_ohm: float = 5e3
    r_high_ohm: float = 15e3
    v_read_v: float = 0.8
    gains_ratio: tuple[float, ...] = (30.0, 30.0, 10.0)
    r_in_ohm: float = 1e3
    opamp_gain_ratio: float = 1e6
    r_avg_ohm: float = 1e-3
    tech_node_m: float = TECH_NODE_M
    bulk_resistivity_ohm_m: float = 1.9e-8
    metal_thickness_m: float = 22e-9
    wire_scale_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.r_low_ohm < self.r_high_ohm:
            raise SpecError(f"ImacPreset: need 0 < r_low_ohm < r_high_ohm, got {self.r_low_ohm!r}, {self.r_high_ohm!r}")
        if self.wire_scale_ratio < 0.0:
            raise SpecError(f"ImacPreset.wire_scale_ratio={self.wire_scale_ratio!r} must be >= 0")
        object.__setattr__(self, "gains_ratio", tuple(float(g) for g in self.gains_ratio))

    # ------------------------------------------------------------------ hardware specs
    @property
    def device(self) -> DeviceSpec:
        return DeviceSpec(g_on_s=1.0 / self.r_low_ohm, g_off_s=1.0 / self.r_high_ohm, levels=2)

    @property
    def encoding(self) -> InputEncoding:
        return InputEncoding(kind="binary", v_read_v=self.v_read_v)

    def periphery(self, n_layers: int) -> PeripherySpec:
        if len(self.gains_ratio) != n_layers:
            raise SpecError(
                f"ImacPreset.gains_ratio={list(self.gains_ratio)} has {len(self.gains_ratio)} entries for a "
                f"{n_layers}-layer network; give one gain per layer"
            )
        return PeripherySpec(
            sense="diffamp", combine="average", layer_gains_ratio=self.gains_ratio, r_in_ohm=self.r_in_ohm,
            opamp_gain_ratio=self.opamp_gain_ratio, r_avg_ohm=self.r_avg_ohm, v_bias_v=self.v_read_v,
        )

    def geometry(self) -> tuple[WireGeometry, WireGeometry]:
        """(input line, output line): width 3F, the size-effect resistivity, pitch 12F / 15F."""
        width = 3.0 * self.tech_node_m
        rho = scaled_resistivity_ohm_m(self.bulk_resistivity_ohm_m, width)
        common = dict(width_m=width, thickness_m=self.metal_thickness_m, resistivity_ohm_m=rho)
        return (WireGeometry(pitch_m=12.0 * self.tech_node_m, **common), WireGeometry(pitch_m=15.0 * self.tech_node_m, **common))

    @property
    def wires(self) -> WireParasitics:
        """One resistor per cell on every line, the first / last segment included (x ``wire_scale_ratio``)."""
        row, col = self.geometry()
        r_in, r_out = row.r_segment_ohm * self.wire_scale_ratio, col.r_segment_ohm * self.wire_scale_ratio
        return WireParasitics(r_row_ohm=r_in, r_driver_ohm=r_in, r_col_ohm=r_out, r_sense_ohm=r_out, row_node_per_pair=True)

    def hardware_scales(self, layer_sizes: tuple[int, ...]) -> tuple[float, ...]:
        """Volts at each layer's amplifier output per unit of ``sum_i w_i u_i`` (``w``, ``u`` = +-1), to first order:
        ``c_l = gain_l * v_read * (g_on - g_off) / (rows_l * (g_on + g_off) / 2)`` with ``rows_l = n_in + 1``."""
        d = self.device
        g_mid = 0.5 * (d.g_on_s + d.g_off_s)
        n_layers = len(layer_sizes) - 1
        self.periphery(n_layers)  # checks the gains
        return tuple(
            self.gains_ratio[l] * self.v_read_v * (d.g_on_s - d.g_off_s) / ((layer_sizes[l] + 1) * g_mid)
            for l in range(n_layers)
        )

    def neuron_spec(self, curve: NeuronCurve) -> NeuronSpec:
        """The measured neuron for this preset: input in volts (``v_z = 1``), output per ``v_read_v``."""
        return curve.neuron_spec(in_scale_v=1.0, out_scale_v=self.v_read_v)

    # ------------------------------------------------------------------ networks
    def scale_binary(self, mlp: MLP) -> MLP:
        """``mlp`` with +-1 weights and biases -> pyims units (``c_l * (+-1)``), keeping its neuron."""
        scales = self.hardware_scales(mlp.layer_sizes)
        for l, (w, b) in enumerate(zip(mlp.weights, mlp.biases), start=1):
            for name, arr in (("W", w), ("B", b)):
                bad = np.flatnonzero(np.abs(arr.ravel()) != 1.0)
                if bad.size:
                    raise ModelFileError(
                        f"{name}{l}: value {float(arr.ravel()[bad[0]])!r} at position {int(bad[0])} is not +1 or -1; "
                        "IMAC-Sim networks are binary (one MTJ state per sign)"
                    )
        return MLP(
            weights=tuple(c * w for c, w in zip(scales, mlp.weights)),
            biases=tuple(c * b for c, b in zip(scales, mlp.biases)),
            neuron=mlp.neuron,
        )

    def load_network(self, directory: str | os.PathLike[str], neuron: NeuronSpec) -> MLP:
        """An IMAC-Sim network folder (``W1.csv``: one row per input, one column per output; ``B1.csv``:
        one value per line; all +-1) as a pyims MLP.

        IMAC-Sim reads the class as the *largest output-neuron voltage*; its neuron inverts, so
        that is the *smallest* amplifier output. pyims reads the largest pre-activation, so the
        output layer is negated (its G+ and G- swap places) -- the same decision, without the
        ties that saturated output neurons give.
        """
        raw = load_csv_weights(Path(directory), neuron)
        scaled = self.scale_binary(raw)
        ws, bs = list(scaled.weights), list(scaled.biases)
        ws[-1], bs[-1] = -ws[-1], -bs[-1]
        return MLP(weights=tuple(ws), biases=tuple(bs), neuron=neuron)

    def map(self, mlp: MLP, plan: PartitionPlan = PartitionPlan()) -> MappedNetwork:
        """``mlp`` (in pyims units, see ``scale_binary``) on IMAC-Sim's hardware with ``plan``."""
        net = map_network(mlp, Hardware(devices=self.device, encoding=self.encoding, periphery=self.periphery(mlp.n_layers),
                                        plan=plan, wires=self.wires))
        for l in range(len(net.layers)):
            v_z = net.layer_v_z(l)
            if abs(v_z - 1.0) > 1e-9:
                raise SpecError(
                    f"layer {l + 1}: the weights give {v_z!r} V per unit pre-activation, not 1; build the MLP with "
                    "ImacPreset.scale_binary or train it with TrainSpec(binary_scales=preset.hardware_scales(...))"
                )
        return net


class VoltageModeLayers:
    """IMAC-Sim's layers without wire resistance, exactly, as a ``LayerModel`` for training.

    For horizontal partition p of layer l and output j (``u`` in units of ``v_read``, the bias
    row appended at 1, cells ``G+- = g_mid +- g_half * s`` for signs ``s``):

        v+ = v_read sum_i G+_i u_i / (sum_i G+_i + 1 / ((1 + g) r_in))
        v- = (v_read sum_i G-_i u_i + k v+ / r_in) / (sum_i G-_i + 1 / r_in),   k = g / (1 + g)
        z  = mean_p g (v+ - v-)                                         (volts at the neuron)

    -- the difference amplifiers' loading and the partition average included, the op-amp
    ideal (IMAC-Sim's gain 1e6 differs by ~3e-5). Training through it makes the network fit
    the circuit's common-mode term and loading instead of meeting them at test time.
    ``forward`` / ``backward`` follow ``pyims.model.train.LayerModel``.
    """

    def __init__(self, preset: ImacPreset, layer_sizes: tuple[int, ...], plan: PartitionPlan = PartitionPlan()) -> None:
        self.preset = preset
        self.scales = preset.hardware_scales(layer_sizes)
        self.splits = plan.resolve(layer_sizes)
        d = preset.device
        self.g_mid, self.g_half = 0.5 * (d.g_on_s + d.g_off_s), 0.5 * (d.g_on_s - d.g_off_s)

    def forward(self, l: int, a: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, object]:
        pre, c = self.preset, self.scales[l]
        gain, v = pre.gains_ratio[l], pre.v_read_v
        g_load, g_in, k = 1.0 / ((1.0 + gain) * pre.r_in_ohm), 1.0 / pre.r_in_ohm, gain / (1.0 + gain)
        x = np.concatenate([a, np.ones((a.shape[0], 1))], axis=1)
        s = np.vstack([w, b[None, :]]) / c
        split = self.splits[l]
        z = np.zeros((a.shape[0], w.shape[1]))
        parts = []
        for start, size in zip(split.row_starts, split.row_sizes):
            xp, sp = x[:, start : start + size], s[start : start + size]
            gp, gn = self.g_mid + self.g_half * sp, self.g_mid - self.g_half * sp
            s_pos, s_neg = gp.sum(axis=0) + g_load, gn.sum(axis=0) + g_in
            v_pos = v * (xp @ gp) / s_pos
            v_neg = (v * (xp @ gn) + g_in * k * v_pos) / s_neg
            z += gain * (v_pos - v_neg)
            parts.append((start, size, xp, gp, gn, s_pos, s_neg, v_pos, v_neg))
        h = len(split.row_sizes)
        return z / h, (parts, h, gain, g_in, k, c, x.shape)

    def backward(self, l: int, cache: object, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts, h, gain, g_in, k, c, shape = cache
        v = self.preset.v_read_v
        dvd = dz / h
        dx = np.zeros(shape)
        ds = np.zeros((shape[1], dz.shape[1]))
        for start, size, xp, gp, gn, s_pos, s_neg, v_pos, v_neg in parts:
            alpha = gain * (1.0 - g_in * k / s_neg)  # d z / d v+ (through v- too)
            d_p = dvd * alpha * v / s_pos  # d / d (x @ G+)
            d_spos = -np.sum(dvd * alpha * v_pos, axis=0) / s_pos
            d_n = -dvd * gain * v / s_neg  # d / d (x @ G-)
            d_sneg = np.sum(dvd * gain * v_neg, axis=0) / s_neg
            dx[:, start : start + size] = d_p @ gp.T + d_n @ gn.T
            d_gp = xp.T @ d_p + d_spos[None, :]
            d_gn = xp.T @ d_n + d_sneg[None, :]
            ds[start : start + size] = self.g_half * (d_gp - d_gn)
        dw = ds / c  # s = w / c
        return dx[:, :-1], dw[:-1], dw[-1]

    def forward_all(self, mlp: MLP, u: np.ndarray) -> list[np.ndarray]:
        """Pre-activations of every layer of ``mlp`` (weights ``c_l * (+-1)``) on inputs ``u`` ``(N, n_in)``."""
        return forward(mlp.layers, np.asarray(u, dtype=np.float64),
                       lambda k, layer, a: self.forward(k, a, layer.weight, layer.bias)[0]).pre
