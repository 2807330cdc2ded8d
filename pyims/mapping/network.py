"""A whole network mapped onto partitioned differential crossbars.

Every crossbar layer (dense, or a convolution unrolled by im2col: rows = C_in*kh*kw patch
entries) becomes one ``MappedLayer``; the other layers (activations, pooling, flatten, adds)
stay as they are in the mapped network's sequence. Layer ``l`` has ``rows = n_in + 1`` rows (its inputs, then the bias row driven at
``v_bias_v``) and ``n_out`` outputs, each a pair of physical columns (G+, G-). Tiles are cut
by the layer's ``LayerSplit``; inside a tile, output ``j`` occupies columns ``2j`` (G+) and
``2j + 1`` (G-). Currents convert back to the pre-activation as

    z = (I+ - I-) * w_max / (dg * v_read_v)

which holds exactly for the ideal mapped network (no wires, ideal periphery).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from pyims.components import Combiner, Sense
from pyims.components.registry import combiner_for, sense_for
from pyims.errors import SpecError
from pyims.hardware import Hardware, Topology
from pyims.spec._checks import real_array
from pyims.mapping.compensation import drift_scale, tile_reads
from pyims.mapping.conductance import ConductanceMapping
from pyims.model import MLP, NeuronSpec
from pyims.model.graph import Model, as_model
from pyims.model.layers import Dense, DenseLike, Layer, Node, dense_stack, forward, layer_of
from pyims.spec import DeviceSpec, InputEncoding, LayerSplit, PartitionPlan, PeripherySpec, TileSpec, WireParasitics

__all__ = ["MappedLayer", "MappedNetwork", "map_network", "DEVICE_STREAM"]

#: The device draws' seed-sequence tag: crossbar layer k draws from ``default_rng([device.seed, k, DEVICE_STREAM])``.
DEVICE_STREAM = 0x44455643  # "DEVC"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MappedLayer(DenseLike):
    """One dense layer's conductances and partitions (a crossbar layer of the network model).

    Attributes:
        g_pos_s / g_neg_s: float64 ``(n_in + 1, n_out)``, siemens; the last row is the bias row.
        w_max: the weight that maps to a full ``g_on - g_off`` swing.
        dg_s: ``g_on_s - g_off_s``.
        split: the layer's tiles (row sizes include the bias row).
        source: the float layer it was mapped from (its ``unroll`` / ``fold``: a convolution reads
            one row vector per output position), or ``None`` for a plain dense layer.
        out_scale: float64 ``(n_h, n_out)``: the drift compensation's digital factor on each array's partial sums
            (row ``p``: row partition ``p``'s arrays; ``pyims.mapping.compensation``), or ``None`` (none).
        g_ref_pos_s / g_ref_neg_s: float64 ``(n_in + 1, n_out)``, siemens: the cells right after programming
            (what the compensation's reference read sees), or ``None`` without compensation.
        compensation: the device's ``drift_compensation`` ("none", "global", "per_column").
        calibrated_wires: the wires ``out_scale``'s calibration reads went through (``None``: wire-free, as mapped).
        read_sigma_pos_s / read_sigma_neg_s: float64 ``(n_in + 1, n_out)``, siemens: the standard deviation of
            each cell's read noise (a fresh draw every read), or ``None`` when reads are noiseless.
    """

    g_pos_s: np.ndarray
    g_neg_s: np.ndarray
    w_max: float
    dg_s: float
    split: LayerSplit
    source: DenseLike | None = None
    out_scale: np.ndarray | None = None
    read_sigma_pos_s: np.ndarray | None = None
    read_sigma_neg_s: np.ndarray | None = None
    g_ref_pos_s: np.ndarray | None = None
    g_ref_neg_s: np.ndarray | None = None
    compensation: str = "none"
    calibrated_wires: WireParasitics | None = None
    #: factors of calibration reads already made, per wires (``pyims.inference.drift_calibration``); not copied by
    #: ``replace``, so a layer with other conductances starts empty
    calibrations: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def unroll(self, a: np.ndarray) -> np.ndarray:
        return DenseLike.unroll(self, a) if self.source is None else self.source.unroll(a)

    def fold(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return z if self.source is None else self.source.fold(z, a)

    def describe(self) -> str:
        return f"mapped {self.source.describe() if self.source is not None else DenseLike.describe(self)}"

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

    def tile_g(self, p: int, c: int, *, reference: bool = False) -> np.ndarray:
        """Conductances of tile (p, c): ``(rows_p, 2 * outs_c)`` with G+ / G- interleaved; ``reference``: the cells
        right after programming (``g_ref_*``, kept with drift compensation) instead of at the read time."""
        pos, neg = (self.g_ref_pos_s, self.g_ref_neg_s) if reference else (self.g_pos_s, self.g_neg_s)
        if pos is None or neg is None:
            raise SpecError("tile_g(reference=True): the layer keeps no reference conductances (it has no drift "
                            "compensation)")
        return _interleaved(pos, neg, self.rows_of(p), self.outs_of(c))

    def tile(self, p: int, c: int, wires: WireParasitics) -> TileSpec:
        return TileSpec(g_s=self.tile_g(p, c), wires=wires)

    def effective_weights(self) -> np.ndarray:
        """The weights the programmed devices realise, ``(n_in + 1, n_out)`` (mapped-ideal, drift compensation
        included)."""
        w = (self.g_pos_s - self.g_neg_s) * (self.w_max / self.dg_s)
        if self.out_scale is None:
            return w
        return w * np.repeat(self.out_scale, self.split.row_sizes, axis=0)

    def compensate_parts(self, parts: list[np.ndarray]) -> list[np.ndarray]:
        """Each row partition's partial sums ``parts[p]`` ``(..., n_out)`` after its arrays' drift compensation factors
        (``parts`` itself when none). One part (the partial sums read together) takes the factors of a layer of one
        row partition."""
        if self.out_scale is None:
            return parts
        if len(parts) != self.out_scale.shape[0]:
            raise SpecError(f"compensate_parts: {len(parts)} partial result(s); the layer has {self.out_scale.shape[0]} "
                            "row partition(s), each compensated on its own")
        return [z * f for z, f in zip(parts, self.out_scale)]

    def with_calibration(self, out_scale: np.ndarray, wires: WireParasitics | None) -> "MappedLayer":
        """The layer with the compensation factors of calibration reads through ``wires`` (``None``: wire-free)."""
        scale = np.array(out_scale, dtype=np.float64)
        if self.out_scale is None or scale.shape != self.out_scale.shape:
            raise SpecError(f"with_calibration: factors of shape {scale.shape}; the layer's are "
                            f"{None if self.out_scale is None else self.out_scale.shape}")
        scale.flags.writeable = False
        return replace(self, out_scale=scale, calibrated_wires=wires)

    @property
    def read_noise(self) -> bool:
        """Whether every read of this layer draws fresh cell noise."""
        return self.read_sigma_pos_s is not None

    def tile_read_sigma(self, p: int, c: int) -> np.ndarray | None:
        """Read-noise standard deviations of tile (p, c), interleaved like ``tile_g``, or ``None``."""
        if self.read_sigma_pos_s is None or self.read_sigma_neg_s is None:
            return None
        return _interleaved(self.read_sigma_pos_s, self.read_sigma_neg_s, self.rows_of(p), self.outs_of(c))


def _interleaved(pos: np.ndarray, neg: np.ndarray, rows: slice, outs: slice) -> np.ndarray:
    """``pos`` / ``neg`` ``(n_rows, n_out)`` of one tile's rows and outputs as its columns: ``(rows, 2 * outs)``,
    G+ / G- interleaved."""
    a, b = pos[rows, outs], neg[rows, outs]
    out = np.empty((a.shape[0], 2 * a.shape[1]))
    out[:, 0::2], out[:, 1::2] = a, b
    return out


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MappedNetwork:
    """The mapped layers on their hardware, with everything needed to drive and read them.

    ``hardware`` (``pyims.Hardware``) is what the network was mapped for: devices, wires, partitions,
    periphery, DAC, ADC and the topology, resolved once here (``topology``: ``FullyAnalog`` or
    ``Tiled``) -- solvers take the network alone. ``neuron`` is the one neuron between the layers of
    a dense stack (what the fully-analog circuit instantiates); ``None`` for other networks (CNNs,
    mixed activations), which run tile by tile. ``steps`` is the whole network with the mapped layers
    in place (default: the dense stack ``layers[0], Activation(neuron), layers[1], ...``);
    ``input_shape`` one image's input; ``model`` the float model it was mapped from (for new draws
    of the devices: ``redrawn``).
    """

    layers: tuple[MappedLayer, ...]
    neuron: NeuronSpec | None
    hardware: Hardware = field(default_factory=Hardware)
    steps: tuple[Layer | Node, ...] | None = None
    input_shape: tuple[int, ...] | None = None
    model: Model | MLP | None = None
    _sequence: tuple[Layer | Node, ...] = field(default=(), init=False, repr=False)
    _topology: Topology = field(default=None, init=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if not isinstance(self.hardware, Hardware):
            raise SpecError(f"MappedNetwork.hardware is a {type(self.hardware).__name__}; pass a pyims.Hardware")
        if self.steps is None:
            if self.neuron is None:
                raise SpecError("MappedNetwork needs steps or a neuron (a dense stack)")
            object.__setattr__(self, "_sequence", dense_stack(self.layers, self.neuron))
        else:
            object.__setattr__(self, "_sequence", tuple(self.steps))
        if self.input_shape is None:
            object.__setattr__(self, "input_shape", (self.layers[0].n_in,))
        object.__setattr__(self, "_topology", self.hardware.topology.resolve(self))

    # ------------------------------------------------------------ the hardware's parts
    @property
    def topology(self) -> Topology:
        """``FullyAnalog`` or ``Tiled``: decided once, when the network was mapped."""
        return self._topology

    @property
    def wires(self) -> WireParasitics:
        return self.hardware.wires

    @property
    def encoding(self) -> InputEncoding:
        return self.hardware.encoding

    @property
    def periphery(self) -> PeripherySpec:
        return self.hardware.periphery

    @property
    def device(self) -> DeviceSpec:
        """The mapping's device spec (conductance range, levels, variation)."""
        return self.hardware.device_spec

    @property
    def plan(self) -> PartitionPlan:
        return self.hardware.plan

    @property
    def adc(self):
        """The output converter (``pyims.Adc``), or ``None``."""
        return self.hardware.adc

    def on(self, **changes) -> "MappedNetwork":
        """The same programmed arrays with other parts of the hardware that need no re-mapping (``wires``,
        ``adc``, ``topology``, ``periphery``): e.g. ``net.on(wires=w)``."""
        bad = set(changes) - {"wires", "adc", "topology", "periphery"}
        if bad:
            raise SpecError(f"MappedNetwork.on({', '.join(sorted(bad))}=...): those change the mapping; map the model again "
                            "with pyims.mapping.map_network(model, hardware)")
        return replace(self, hardware=self.hardware.replaced(**changes))

    def with_layers(self, layers: tuple[MappedLayer, ...]) -> "MappedNetwork":
        """The network with its crossbar layers replaced one for one (same shapes: e.g. recalibrated), in ``steps`` too."""
        layers = tuple(layers)
        if len(layers) != len(self.layers) or any(not isinstance(new, MappedLayer) or new.split != old.split
                                                  for old, new in zip(self.layers, layers)):
            raise SpecError("with_layers: pass one MappedLayer per crossbar layer, each with its layer's partitions")
        if self.steps is None:
            return replace(self, layers=layers)
        swap = {id(old): new for old, new in zip(self.layers, layers)}
        steps = tuple(Node(swap.get(id(layer_of(s)), layer_of(s)), s.inputs) if isinstance(s, Node)
                      else swap.get(id(s), s) for s in self.steps)
        return replace(self, layers=layers, steps=steps)

    def redrawn(self, seed: int) -> "MappedNetwork":
        """The model mapped again with another draw of the hardware's randomness: device variation and the
        converters' errors seeded with ``seed`` (a ``Repeat`` draw)."""
        if self.model is None:
            raise SpecError("this MappedNetwork does not know the model it was mapped from; map it with map_network")
        return map_network(self.model, self.hardware.redrawn(seed).replaced(topology=self.topology))

    @property
    def sequence(self) -> tuple[Layer | Node, ...]:
        """The network model with the mapped layers in place (``pyims.model.layers``)."""
        return self._sequence

    @property
    def fully_analog_problem(self) -> str | None:
        """Why this network is not one dense stack with one neuron (``None`` when it is): its model's first cause."""
        if self.neuron is not None:
            return None
        model = self.model
        return model.fully_analog_problem() if isinstance(model, Model) else None

    @property
    def fully_analog_capable(self) -> bool:
        """A dense stack with one neuron: it can run as one circuit (``mode="analog"``)."""
        return self.neuron is not None

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        """``(n_in, n_out)`` of every crossbar layer (bias row not counted)."""
        return tuple((layer.n_in, layer.n_out) for layer in self.layers)

    @property
    def n_tiles(self) -> int:
        """Tiles of all crossbar layers."""
        return sum(layer.n_h * layer.n_v for layer in self.layers)

    def describe_plan(self) -> str:
        """E.g. ``16/8/8 x 8/8/1``."""
        return "/".join(str(layer.n_h) for layer in self.layers) + " x " + "/".join(str(layer.n_v) for layer in self.layers)

    @property
    def sense(self) -> Sense:
        """The sense periphery every layer ends in."""
        return sense_for(self.periphery)

    @property
    def combiner(self) -> Combiner:
        """How horizontal partitions' partial sums meet."""
        return combiner_for(self.periphery)

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
        """Hardware inputs as float64 ``(N >= 1, *input_shape)`` (``(N, features)`` is reshaped), finite;
        SpecError naming the expected shape otherwise."""
        arr = real_array("inputs", "u", u)
        shape = self.input_shape or ()
        n_feat = int(np.prod(shape))
        if arr.ndim < 2 or arr.shape[0] < 1 or int(np.prod(arr.shape[1:])) != n_feat:
            want = f"(n_images >= 1, {n_feat})" if len(shape) == 1 else f"(n_images >= 1, {', '.join(map(str, shape))}) or (n_images, {n_feat})"
            raise SpecError(f"inputs have shape {arr.shape}; the network needs {want}")
        if not np.all(np.isfinite(arr)):
            raise SpecError("inputs hold NaN or inf; pass finite values")
        return arr.reshape((arr.shape[0],) + tuple(shape))

    def augment(self, u: np.ndarray) -> np.ndarray:
        """Inputs ``(N, n_in)`` -> ``(N, n_in + 1)`` with the bias row's input appended."""
        return np.concatenate([u, np.full((u.shape[0], 1), self.u_bias)], axis=1)

    def combine(self, k: int, parts: list[np.ndarray]) -> np.ndarray:
        """Crossbar layer ``k``'s outputs ``(..., n_out)`` from what its arrays deliver (``parts``: one ``(..., n_out)``
        per partial result, after the ADC where one converts them): each array's drift compensation
        (``MappedLayer.compensate_parts``), then the combiner (one part: itself)."""
        parts = self.layers[k].compensate_parts(list(parts))
        return parts[0] if len(parts) == 1 else self.combiner.combine(parts)

    def digital_out(self, k: int, z: np.ndarray) -> np.ndarray:
        """Crossbar layer ``k``'s outputs ``z`` ``(..., n_out)`` (pre-activation units, after the ADC, the drift
        compensation and the partial sums' combination: ``combine``) through the ADC's near-memory correction
        (``Adc.correct``: per-output scale and offset, the next ReLU fused) where the topology converts the layer.
        Every solver's tiled read-out ends here."""
        layer = self.layers[k]
        adc, n_layers = self.adc, len(self.layers)
        if adc is None or adc.correction == "none" or not self.topology.converts(k, n_layers):
            return z
        # without drift compensation z is a whole number of the converter's LSB: the fixed-point unit snaps to it
        return adc.correct(z, layer=k, n_layers=n_layers, relu=adc.fuses_relu(self.sequence, k),
                           on_grid=layer.out_scale is None)

    def mapped_ideal_evaluate(self, k: int, layer: "MappedLayer", rows: np.ndarray) -> np.ndarray:
        """The forward routine's strategy for the programmed devices without wires."""
        return self.augment(rows) @ layer.effective_weights()

    def mapped_ideal_forward(self, u: np.ndarray) -> list[np.ndarray]:
        """Pre-activations of every layer on the programmed devices, without wires: list of ``(N, n_out)``."""
        return forward(self.sequence, np.asarray(u, dtype=np.float64), self.mapped_ideal_evaluate).pre


def map_network(
    model: MLP | Model,
    hardware: Hardware | None = None,
    *,
    device: DeviceSpec | None = None,
    encoding: InputEncoding | None = None,
    periphery: PeripherySpec | None = None,
    plan: PartitionPlan | None = None,
) -> MappedNetwork:
    """Map ``model`` (an ``MLP`` or any ``Model``) onto the crossbars of ``hardware``; deterministic in
    ``hardware.devices.variation_seed``. The keywords replace those parts of ``hardware`` (default: ideal)."""
    hw = hardware if hardware is not None else Hardware()
    if not isinstance(hw, Hardware):
        raise SpecError(f"hardware is a {type(hw).__name__}; pass a pyims.Hardware")
    changes = {k: v for k, v in (("devices", device), ("encoding", encoding), ("periphery", periphery), ("plan", plan))
               if v is not None}
    if changes:
        hw = hw.replaced(**changes)
    device, encoding, periphery, plan = hw.device_spec, hw.encoding, hw.periphery, hw.plan
    m = as_model(model)
    xbars = m.crossbar_layers
    splits = plan.resolve_shapes(tuple((layer.n_in, layer.n_out) for layer in xbars))  # type: ignore[attr-defined]
    u_bias = periphery.v_bias_v / encoding.v_read_v
    rng = np.random.default_rng(device.variation_seed)
    conversion = ConductanceMapping.from_spec(device, hw.device)  # weights -> targets -> the device
    cells = hw.device
    layers = []
    for k, (layer, split) in enumerate(zip(xbars, splits)):
        w_aug = np.vstack([layer.weight, (layer.bias / u_bias)[None, :]])  # type: ignore[attr-defined]
        # the device's draws: one stream per crossbar layer, from device.seed (G+ cells, then G-); the third word keeps
        # it apart from the variation's and the converters' streams (numpy reads [s, 0] as s)
        pos, neg, w_max = conversion.cells(w_aug, rng, np.random.default_rng([cells.seed, k, DEVICE_STREAM]))
        comp = cells.drift_compensation
        scale = drift_scale(comp, tile_reads(pos.g_reference_s, neg.g_reference_s, split), tile_reads(pos.g_s, neg.g_s, split),
                            split)  # wire-free: the solvers read through their wires (pyims.inference.drift_calibration)
        noisy = pos.read_noise or neg.read_noise
        refs = (pos.g_reference_s, neg.g_reference_s) if scale is not None else (None, None)
        arrays = ([pos.g_s, neg.g_s] + ([pos.read_sigma_s, neg.read_sigma_s] if noisy else [])
                  + ([scale, *refs] if scale is not None else []))
        for arr in arrays:
            arr.flags.writeable = False
        layers.append(
            MappedLayer(g_pos_s=pos.g_s, g_neg_s=neg.g_s, w_max=w_max, dg_s=conversion.dg_s, split=split,
                        source=None if isinstance(layer, Dense) else layer,  # type: ignore[arg-type]
                        out_scale=scale, read_sigma_pos_s=pos.read_sigma_s if noisy else None,
                        read_sigma_neg_s=neg.read_sigma_s if noisy else None, g_ref_pos_s=refs[0], g_ref_neg_s=refs[1],
                        compensation=comp)
        )
    if isinstance(model, MLP):
        return MappedNetwork(layers=tuple(layers), neuron=model.neuron, hardware=hw, model=model)
    stack = m.dense_stack()
    if stack is not None:  # the dense stack alone, on the flattened input: leading / trailing reshapes only rearrange
        return MappedNetwork(layers=tuple(layers), neuron=stack[1], hardware=hw, input_shape=(m.n_features,), model=m)
    index = {id(layer): k for k, layer in enumerate(xbars)}
    steps = m.replaced(lambda s, layer: layers[index[id(layer)]] if layer.crossbar else layer)
    return MappedNetwork(layers=tuple(layers), neuron=None, hardware=hw, steps=steps, input_shape=m.input_shape, model=m)
