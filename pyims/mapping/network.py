"""A whole MLP mapped onto partitioned differential crossbars.

Layer ``l`` has ``rows = n_in + 1`` rows (its inputs, then the bias row driven at
``v_bias_v``) and ``n_out`` outputs, each a pair of physical columns (G+, G-). Tiles are cut
by the layer's ``LayerSplit``; inside a tile, output ``j`` occupies columns ``2j`` (G+) and
``2j + 1`` (G-). Currents convert back to the pre-activation as

    z = (I+ - I-) * w_max / (dg * v_read_v)

which holds exactly for the ideal mapped network (no wires, ideal periphery).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyims.components import Combiner, Sense
from pyims.errors import SpecError
from pyims.spec._checks import real_array
from pyims.mapping.conductance import weights_to_conductances
from pyims.model import MLP, NeuronSpec
from pyims.model.layers import DenseLike, Layer, dense_stack, forward
from pyims.spec import DeviceSpec, InputEncoding, LayerSplit, PartitionPlan, PeripherySpec, TileSpec, WireParasitics

__all__ = ["MappedLayer", "MappedNetwork", "map_network"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MappedLayer(DenseLike):
    """One dense layer's conductances and partitions (a crossbar layer of the network model).

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
    def n_in(self) -> int:
        return self.n_rows - 1

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
    _sequence: tuple[Layer, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sequence", dense_stack(self.layers, self.neuron))

    @property
    def sequence(self) -> tuple[Layer, ...]:
        """The network model: ``layers[0], Activation(neuron), layers[1], ...`` (``pyims.model.layers``)."""
        return self._sequence

    @property
    def sense(self) -> Sense:
        """The sense periphery every layer ends in."""
        return self.periphery.sense_component

    @property
    def combiner(self) -> Combiner:
        """How horizontal partitions' partial sums meet."""
        return self.periphery.combiner

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
        """Volts at layer ``l``'s neuron inputs per unit pre-activation (the sense periphery's ``v_z``)."""
        layer = self.layers[l]
        return self.sense.v_z(gain=self.layer_gain(l), v_read_v=self.v_read_v, w_max=layer.w_max, dg_s=layer.dg_s,
                              n_rows=layer.n_rows, device=self.device)

    def check_inputs(self, u: object) -> np.ndarray:
        """Hardware inputs as float64 ``(N >= 1, n_in)``, finite; SpecError naming the expected shape otherwise."""
        arr = real_array("inputs", "u", u)
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
        return forward(self.sequence, np.asarray(u, dtype=np.float64),
                       lambda k, layer, a: self.augment(a) @ layer.effective_weights()).pre


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
