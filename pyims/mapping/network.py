"""A whole MLP mapped onto partitioned differential crossbars.

Layer ``l`` has ``rows = n_in + 1`` rows (its inputs, then the bias row driven at
``v_bias_v``) and ``n_out`` outputs, each a pair of physical columns (G+, G-). Tiles are cut
by the layer's ``LayerSplit``; inside a tile, output ``j`` occupies columns ``2j`` (G+) and
``2j + 1`` (G-). Currents convert back to the pre-activation as

    z = (I+ - I-) * w_max / (dg * v_read_v)

which holds exactly for the ideal mapped network (no wires, ideal periphery).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.mapping.conductance import weights_to_conductances
from pyims.model import MLP, NeuronSpec
from pyims.spec import DeviceSpec, InputEncoding, LayerSplit, PartitionPlan, PeripherySpec, TileSpec, WireParasitics

__all__ = ["MappedLayer", "MappedNetwork", "map_network"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MappedLayer:
    """One layer's conductances and partitions.

    Attributes:
        g_pos_s / g_neg_s: float64 ``(n_in + 1, n_out)``, siemens; the last row is the bias row.
        w_max: the weight that maps to a full ``g_on - g_off`` swing.
        dg_s: ``g_on_s - g_off_s``.
        split: the layer's tiles (row sizes include the bias row).
    """

    g_pos_s: np.ndarray
    g_neg_s: np.ndarray
    w_max: float
    dg_s: float
    split: LayerSplit

    @property
    def n_rows(self) -> int:
        return int(self.g_pos_s.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.g_pos_s.shape[1])

    @property
    def n_h(self) -> int:
        """Number of horizontal partitions (row groups)."""
        return len(self.split.row_sizes)

    @property
    def n_v(self) -> int:
        """Number of vertical partitions (output groups)."""
        return len(self.split.out_sizes)

    def rows_of(self, p: int) -> slice:
        start = self.split.row_starts[p]
        return slice(start, start + self.split.row_sizes[p])

    def outs_of(self, c: int) -> slice:
        start = self.split.out_starts[c]
        return slice(start, start + self.split.out_sizes[c])

    def tile_g(self, p: int, c: int) -> np.ndarray:
        """Conductances of tile (p, c): ``(rows_p, 2 * outs_c)`` with G+ / G- interleaved."""
        rows, outs = self.rows_of(p), self.outs_of(c)
        gp, gn = self.g_pos_s[rows, outs], self.g_neg_s[rows, outs]
        g = np.empty((gp.shape[0], 2 * gp.shape[1]))
        g[:, 0::2] = gp
        g[:, 1::2] = gn
        return g

    def tile(self, p: int, c: int, wires: WireParasitics) -> TileSpec:
        return TileSpec(g_s=self.tile_g(p, c), wires=wires)

    def effective_weights(self) -> np.ndarray:
        """The weights the programmed devices realise, ``(n_in + 1, n_out)`` (mapped-ideal)."""
        return (self.g_pos_s - self.g_neg_s) * (self.w_max / self.dg_s)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MappedNetwork:
    """The mapped layers with everything needed to drive and read them."""

    layers: tuple[MappedLayer, ...]
    neuron: NeuronSpec
    encoding: InputEncoding
    periphery: PeripherySpec
    device: DeviceSpec
    plan: PartitionPlan

    @property
    def u_bias(self) -> float:
        """The bias row's input in units of ``v_read_v``."""
        return self.periphery.v_bias_v / self.encoding.v_read_v

    @property
    def v_read_v(self) -> float:
        return self.encoding.v_read_v

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.layers[0].n_rows - 1,) + tuple(layer.n_out for layer in self.layers)

    def layer_gain(self, l: int) -> float:
        """The differential gain of layer ``l`` (from 0)."""
        return self.periphery.gain(l, len(self.layers))

    def layer_v_z(self, l: int) -> float:
        """Volts at layer ``l``'s neuron inputs per unit pre-activation.

        Current mode: ``gain * rf * v_read * dg / w_max`` (exact for ideal wires and sensing).
        Voltage mode ("diffamp"): each line is a conductance-weighted average of its inputs, so to
        first order (unloaded lines, ideal op-amp) ``v_d = gain * v_read * sum_i (G+_i - G-_i) u_i /
        sum_i (G+_i + G-_i) / 2``; with every cell pair's mean conductance at its nominal
        ``g_mid = (g_on + g_off) / 2`` that is ``gain * v_read * dg / (w_max * rows * g_mid)``.
        It is exact for the pre-activation's *definition* only; the circuit's line loading and
        common-mode terms are what the analog result measures against it.
        """
        layer, per = self.layers[l], self.periphery
        gain = self.layer_gain(l)
        if per.sense == "diffamp":
            g_mid = 0.5 * (self.device.g_on_s + self.device.g_off_s)
            return gain * self.v_read_v * layer.dg_s / (layer.w_max * layer.n_rows * g_mid)
        return gain * per.rf_ohm * self.v_read_v * layer.dg_s / layer.w_max

    def check_inputs(self, u: object) -> np.ndarray:
        """Hardware inputs as float64 ``(N >= 1, n_in)``, finite; SpecError naming the expected shape otherwise."""
        arr = np.asarray(u, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.layer_sizes[0] or arr.shape[0] < 1:
            raise SpecError(f"inputs have shape {arr.shape}; the network needs (n_images >= 1, {self.layer_sizes[0]})")
        if not np.all(np.isfinite(arr)):
            raise SpecError("inputs hold NaN or inf; pass finite values")
        return arr

    def augment(self, u: np.ndarray) -> np.ndarray:
        """Inputs ``(N, n_in)`` -> ``(N, n_in + 1)`` with the bias row's input appended."""
        return np.concatenate([u, np.full((u.shape[0], 1), self.u_bias)], axis=1)

    def mapped_ideal_forward(self, u: np.ndarray) -> list[np.ndarray]:
        """Pre-activations of every layer on the programmed devices, without wires: list of ``(N, n_out)``."""
        pre, a = [], np.asarray(u, dtype=np.float64)
        for l, layer in enumerate(self.layers):
            z = self.augment(a) @ layer.effective_weights()
            pre.append(z)
            if l < len(self.layers) - 1:
                a = self.neuron(z)
        return pre


def map_network(
    mlp: MLP,
    *,
    device: DeviceSpec = DeviceSpec(),
    encoding: InputEncoding = InputEncoding(),
    periphery: PeripherySpec = PeripherySpec(),
    plan: PartitionPlan = PartitionPlan(),
) -> MappedNetwork:
    """Map ``mlp`` onto crossbars; deterministic in ``device.variation_seed``."""
    splits = plan.resolve(mlp.layer_sizes)
    u_bias = periphery.v_bias_v / encoding.v_read_v
    rng = np.random.default_rng(device.variation_seed)
    layers = []
    for w, b, split in zip(mlp.weights, mlp.biases, splits):
        w_aug = np.vstack([w, (b / u_bias)[None, :]])
        g_pos, g_neg, w_max = weights_to_conductances(w_aug, device, rng)
        for arr in (g_pos, g_neg):
            arr.flags.writeable = False
        layers.append(
            MappedLayer(g_pos_s=g_pos, g_neg_s=g_neg, w_max=w_max, dg_s=device.g_on_s - device.g_off_s, split=split)
        )
    return MappedNetwork(
        layers=tuple(layers), neuron=mlp.neuron, encoding=encoding, periphery=periphery, device=device, plan=plan
    )
