"""Native inference: every layer of the mapped network is one exact linear map.

Each tile (p, c) is factored once and reduced to its port matrices (``NativeTileSolver``):
``T`` (inputs -> column currents at 0 V), ``S`` (inputs -> source currents) and, for a
finite-gain sense amplifier, ``Y`` (sense-node voltages -> column currents). Because neuron
outputs are ideal voltage sources, layer l's pre-activations are then exactly

    z_l = [a_{l-1}, u_bias] @ W_l       (one dense matrix per layer)

for any number of images. ``W_l`` per tile (``D``: +1 on G+ columns, -1 on G- columns, per
output; ``s = w_max / dg``):

* ideal sense, or tiled mode:            W[p, c] = T_pc D s
* op-amp sense (gain A, feedback Rf), summing partitions at one node per column:
      K_c = sum_p Y_pc + (1 + A) / Rf,   W[p, c] = T_pc K_c^-1 D (A / Rf) s
* op-amp sense, averaging (a sense amplifier per partition, stage gain times h):
      K_pc = Y_pc + (1 + A) / Rf,        W[p, c] = T_pc K_pc^-1 D (A / Rf) s
* voltage-mode difference amplifiers ("diffamp", IMAC-Sim), one per partition, averaged:
      K_pc = Y_pc + L,   W[p, c] = v_read T_pc K_pc^-1 D_k / (h v_z)
  where L (2x2 per output) is what the amplifier's input resistors draw from the I+ / I- line
  ends and ``D_k`` its output ``k (v+ - v-)``, ``k = A g / (1 + g + A)``.

Each case is its sense component's (``pyims.components``: ``load``, ``readout``,
``native_block``), grouped by its combiner; this module only builds the port matrices and
runs the forward routine (``pyims.model.layers.forward``) with them.

Read power per image is ``sum_pc V_p . (V_p S_pc - v_s T_pc^T)`` with ``v_s`` the sense-node
voltages (0 for ideal sensing); a convolution reads its tiles once per output position, and its
power is the sum over those reads.

Any network of the layer model runs here: a convolution hands its im2col patches to the same
``W`` (every output position is one more input vector of the same tiles). With an ADC
(``pyims.components.adc``) the tiled mode converts every tile's partial sums before adding them
(``z = sum_p Q(V_p W_p)``) and the fully-analog mode converts the last layer's outputs.

Read noise (a device read after ``t_since_program_s > 0``; tiled topology only): every input vector
reads its own conductance draw, keyed by (device seed, crossbar layer, global image index), and
its tiles' partial outputs (and read power) get the change that draw makes under the wires
(``pyims.inference.read_noise``: second order in the conductance changes from the noiseless
factorization, ~1e-5 of the noise-induced deviation; or exact per-vector solves).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace

import numpy as np

from pyims.components.adc import Adc
from pyims.components.sense import Sense
from pyims.errors import SpecError
from pyims.hardware import Topology, as_topology
from pyims.inference.drift_calibration import with_wired_drift_factors
from pyims.inference.read_noise import ReadNoise, ReadNoiseOptions, has_read_noise
from pyims.inference.result import NetworkResult
from pyims.mapping import MappedLayer, MappedNetwork
from pyims.progress import BAR_DELAY_S, progress_bar
from pyims.model.layers import Layer, forward
from pyims.runners.native import NativeTileSolver, count_unknowns, resolve_port_method
from pyims.spec import TileSpec, WireParasitics
from pyims.spec.simulator import NativeOptions

__all__ = ["NativeNetwork", "vectors_per_image"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _PowerTerm:
    """Read power of tile (p, c): ``V_p . (V_p S - v_s T^T)`` with ``v_s = sum_q V_q @ vs_maps[q]``."""

    p: int
    s: np.ndarray  # (rows_p, rows_p)
    t: np.ndarray  # (rows_p, 2 n_c)
    vs_maps: dict[int, np.ndarray] | None  # q -> (rows_q, 2 n_c); None: sense nodes at 0 V


@dataclass(frozen=True, slots=True)
class _LayerMap:
    w: np.ndarray  # (rows, n_out)
    power: tuple[_PowerTerm, ...]


@dataclass(slots=True)
class _Ports:
    """A tile's port matrices, filled block by block: T (m, n); S (m, m) or None; Y (n, n) or None."""

    t: np.ndarray
    s: np.ndarray | None
    y: np.ndarray | None


#: A keyword left out (``None`` is a value: "no ADC").
UNSET = object()

#: Tiles with at least this many unknown nodes have their solves split across worker processes.
SPLIT_UNKNOWNS = 20_000


def _port_task(tile: TileSpec, side: str, start: int, stop: int) -> tuple[np.ndarray, ...]:
    """Worker entry point: factor ``tile`` and compute its port matrices (``side="schur"``: all of them
    from one Cholesky) or one block of them by solves."""
    if side == "schur":
        return NativeTileSolver(tile, method="schur").port_matrices()
    return NativeTileSolver(tile, method="solves").port_block(side, start, stop)


def _sides(m: int, n: int, need_s: bool, need_y: bool) -> tuple[str, ...]:
    """Which solves to do: row-source right-hand sides give T and S, sense-node ones give T and Y."""
    if need_s and need_y:
        return ("rows", "cols")
    if need_s:
        return ("rows",)
    if need_y:
        return ("cols",)
    return ("rows",) if m <= n else ("cols",)


def _worker_env() -> dict[str, str]:
    return {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def bind(net: MappedNetwork, wires: WireParasitics | None = None, mode: str | None = None, adc=UNSET) -> MappedNetwork:
    """``net`` on other wires / topology / ADC (the keywords solvers accepted before the network carried its
    hardware, ``docs/migration.md``), its drift compensation calibrated through its wires
    (``pyims.inference.drift_calibration``): what every solver solves."""
    changes: dict = {}
    if wires is not None and wires != net.wires:
        changes["wires"] = wires
    if mode is not None and mode != net.topology.name:
        changes["topology"] = as_topology(mode)
    if adc is not UNSET and adc is not net.adc:
        if adc is not None and not isinstance(adc, Adc):
            raise SpecError(f"adc is a {type(adc).__name__}; pass a pyims.Adc or None")
        changes["adc"] = adc
    net = net.on(**changes) if changes else net
    check_linear_cells(net)
    return with_wired_drift_factors(net)  # drift compensation: the calibration reads through these wires


def check_linear_cells(net: MappedNetwork) -> None:
    """SpecError unless every cell is linear: the solvers reduce tiles to exact linear port matrices."""
    device = net.hardware.device
    if not device.linear:
        raise SpecError(f'device kind "{device.kind}" is not linear (its current is not G V); the native and SPICE network '
                        "solvers here solve linear cells only, so far: use a linear kind")


class NativeNetwork:
    """Exact native inference of ``net`` on its hardware (wires on every tile, its topology, its ADC).

    Building the layer maps costs the sparse solves; ``run`` is then dense products only.
    ``options`` (``NativeOptions``): ``energy=False`` skips the source-conductance part ``S`` (m solves
    per tile, instead of min(m, n)); ``workers`` processes share the solves (large tiles are split
    between them; ``None`` picks the machine's cores when the network is large enough to pay for
    starting them; results agree to round-off); ``port_method`` forms each tile's port matrices
    from one Cholesky factorization ("schur", needs scikit-sparse) or by solves ("solves"); "auto"
    takes "schur" for every tile big enough to gain from it where it can run
    (``pyims.runners.native.resolve_port_method``); ``self.tile_methods`` says what each tile got.
    ``progress(n)`` is called as tasks finish (``n_tasks`` in all); ``status(text)`` names each
    big tile as its work starts. ``wires`` / ``mode`` / ``adc`` / ``energy`` / ``workers`` /
    ``port_method`` are the earlier keywords (``docs/migration.md``). ``read_noise``
    (``ReadNoiseOptions``): how a device's read noise is evaluated, per input vector (default: second
    order; ``pyims.inference.read_noise``); the draws depend on each image's global index
    (``image_offset`` of ``run``), not on how the images are chunked.
    """

    def __init__(
        self,
        net: MappedNetwork,
        wires: WireParasitics | None = None,
        *,
        options: NativeOptions | None = None,
        mode: str | None = None,
        energy: bool | None = None,
        workers: int | None | object = UNSET,
        progress: Callable[[int], None] | None = None,
        port_method: str | None = None,
        status: Callable[[str], None] | None = None,
        adc: Adc | None | object = UNSET,
        read_noise: ReadNoiseOptions | None = None,
    ) -> None:
        net = bind(net, wires, mode, adc)
        ReadNoiseOptions.of(read_noise)  # a typed error before the build
        opts = options if options is not None else NativeOptions(energy=True)
        if not isinstance(opts, NativeOptions):
            raise SpecError(f"options is a {type(opts).__name__}; pass a pyims.NativeOptions")
        changes = {k: v for k, v in (("energy", energy), ("port_method", port_method)) if v is not None}
        if workers is not UNSET:
            changes["workers"] = workers
        if changes:
            opts = replace(opts, **changes)
        resolve_port_method(opts.port_method)  # a missing CHOLMOD fails before any work
        self.options = opts
        self.port_method = opts.port_method
        self.net, self.energy = net, opts.energy
        self.adc = net.adc
        t0 = time.perf_counter()
        self._status = status
        ports = self._ports(opts.workers, progress)
        self.layer_maps = tuple(self._layer_map(l, layer, ports[l]) for l, layer in enumerate(net.layers))
        #: read noise per crossbar layer (``None``: every read sees the mean conductances)
        self.read_noise = ReadNoise(net, read_noise) if has_read_noise(net) else None
        self.build_time_s = time.perf_counter() - t0

    @property
    def wires(self) -> WireParasitics:
        return self.net.wires

    @property
    def topology(self) -> Topology:
        return self.net.topology

    @property
    def mode(self) -> str:
        """The topology's name ("analog" | "tiled"), the label results carry."""
        return self.net.topology.name

    @property
    def n_tiles(self) -> int:
        return self.net.n_tiles

    @property
    def sense(self) -> Sense:
        """The periphery each tile's columns end in (the topology's choice)."""
        return self.net.topology.tile_sense(self.net)

    def _needs_y(self) -> bool:
        return self.sense.loads_lines

    def _ports(self, workers: int | None, progress: Callable[[int], None] | None) -> list[dict[tuple[int, int], _Ports]]:
        """Port matrices of every tile, computed in tasks (possibly in worker processes)."""
        need_y = self._needs_y()
        tiles, tasks = {}, []
        for l, layer in enumerate(self.net.layers):
            for c in range(layer.n_v):
                for p in range(layer.n_h):
                    tile = layer.tile(p, c, self.wires)
                    tiles[(l, p, c)] = tile
        self.tile_methods = {key: resolve_port_method(self.port_method, count_unknowns(t)) for key, t in tiles.items()}
        big = {key for key, t in tiles.items() if 2 * t.n_rows * t.n_cols >= SPLIT_UNKNOWNS}
        if workers is None:
            # Processes pay off when there is big work to share (~0.4 s to start them, measured with
            # "solves": 400x120x84x10 unpartitioned 9.9 s -> 7.6 s with 2; 16/8/8 x 8/8/1 1.1 s -> 1.5 s).
            # A tile done by "schur" cannot be split, so those need two big tiles or more.
            cores = os.cpu_count() or 1
            n_schur = sum(self.tile_methods[key] == "schur" for key in big)
            if n_schur < len(big):
                workers = min(cores, 4)
            else:
                workers = min(cores, 4, n_schur) if n_schur >= 2 else 1
        for key, tile in tiles.items():
            if self.tile_methods[key] == "schur":  # one factorization gives T, S and Y of the tile
                tasks.append((key, "schur", 0, tile.n_rows * tile.n_cols))
                continue
            m, n = tile.n_rows, tile.n_cols
            pieces = workers if key in big else 1
            for side in _sides(m, n, self.energy, need_y):
                r = m if side == "rows" else n
                bounds = np.linspace(0, r, min(pieces, r) + 1).round().astype(int)
                tasks += [(key, side, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        if progress is None:  # nobody reports for us: our own bar (with the time left), once the solves take a while
            own_bar = progress_bar(len(tasks), "native: tiles' port matrices", delay_s=BAR_DELAY_S, unit="task")
            progress = own_bar.update
        else:
            own_bar = None
        # biggest first, so the pool ends with small tasks
        tasks.sort(key=lambda t: -(t[3] - t[2]) * tiles[t[0]].n_rows * tiles[t[0]].n_cols)
        out: list[dict[tuple[int, int], _Ports]] = [{} for _ in self.net.layers]
        for (l, p, c), tile in tiles.items():
            m, n = tile.n_rows, tile.n_cols
            out[l][(p, c)] = _Ports(
                t=np.empty((m, n)), s=np.empty((m, m)) if self.energy else None, y=np.empty((n, n)) if need_y else None
            )

        def store(task, result) -> None:
            (l, p, c), side, a, b = task
            ports = out[l][(p, c)]
            if side == "schur":
                t, s_in, y = result
                ports.t[:] = t
                if ports.s is not None:
                    ports.s[:] = s_in
                if ports.y is not None:
                    ports.y[:] = y
            elif side == "rows":
                first, second = result
                ports.t[a:b, :] = first
                if ports.s is not None:
                    ports.s[:, a:b] = second
            else:
                first, second = result
                if ports.s is None:  # with S, T came from the row side
                    ports.t[:, a:b] = first
                if ports.y is not None:
                    ports.y[:, a:b] = second
            if progress is not None:
                progress(1)

        def announce(task) -> None:
            """Big tiles take a while (a 1024x1024 one ~20 s): say which one is being worked on."""
            (l, p, c), side, a, b = task
            tile = tiles[(l, p, c)]
            if self._status is not None and (l, p, c) in big:
                what = "one factorization" if side == "schur" else f"{side} {a}:{b} by solves"
                self._status(f"layer {l + 1} tile ({p}, {c}) {tile.n_rows}x{tile.n_cols}: {what}")

        if workers == 1 or len(tasks) == 1:
            for task in tasks:
                announce(task)
                store(task, _port_task(tiles[task[0]], *task[1:]))
        else:
            saved = {k: os.environ.get(k) for k in _worker_env()}
            os.environ.update(_worker_env())  # spawned workers start single-threaded BLAS
            try:
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                    futures = {pool.submit(_port_task, tiles[t[0]], *t[1:]): t for t in tasks}
                    if tasks:
                        announce(tasks[0])  # the biggest; the rest follow as workers free up
                    for fut in as_completed(futures):
                        store(futures[fut], fut.result())
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        self.n_tasks, self.workers = len(tasks), workers
        if own_bar is not None:
            own_bar.close()
        return out

    def _layer_map(self, l: int, layer: MappedLayer, ports: dict[tuple[int, int], _Ports]) -> _LayerMap:
        net, sense = self.net, self.sense
        gain = net.layer_gain(l)
        v_z = net.layer_v_z(l)
        scale = layer.w_max / layer.dg_s
        w = np.zeros((layer.n_rows, layer.n_out))
        power: list[_PowerTerm] = []
        for c in range(layer.n_v):
            outs = layer.outs_of(c)
            tile_ports = [ports[(p, c)] for p in range(layer.n_h)]
            blocks, maps = sense.native_block(
                [(q.t, q.y) for q in tile_ports], outs.stop - outs.start, gain=gain, scale=scale,
                v_read_v=net.v_read_v, v_z=v_z, combiner=net.combiner,
            )
            for p, block in enumerate(blocks):
                w[layer.rows_of(p), outs] = block
            if self.energy:
                for p, q in enumerate(tile_ports):
                    power.append(_PowerTerm(p=p, s=q.s, t=q.t, vs_maps=maps[p]))
        w.flags.writeable = False
        return _LayerMap(w=w, power=tuple(power))

    def _power(self, layer: MappedLayer, lmap: _LayerMap, v_aug: np.ndarray) -> np.ndarray:
        total = np.zeros(v_aug.shape[0])
        for term in lmap.power:
            v_p = v_aug[:, layer.rows_of(term.p)]
            i_src = v_p @ term.s
            if term.vs_maps is not None:
                v_s = sum(v_aug[:, layer.rows_of(q)] @ m for q, m in term.vs_maps.items())
                i_src = i_src - v_s @ term.t.T
            total += np.einsum("ij,ij->i", v_p, i_src)
        return total

    #: Row vectors per chunk of images (a convolution unrolls every image into one vector per output
    #: position); bounds the memory of the im2col patches at ~100 MB per layer.
    CHUNK_ROWS = 400_000

    def _noise(self, k: int, rows_aug: np.ndarray, images: np.ndarray,
               energy: bool = False) -> tuple[list[np.ndarray], np.ndarray | None] | None:
        """What layer ``k``'s read noise adds (``LayerReadNoise.deltas``) for the vectors ``rows_aug`` of ``images``
        (global indices), or ``None`` when its reads are noiseless."""
        if self.read_noise is None or k not in self.read_noise:
            return None
        return self.read_noise[k].deltas(rows_aug, images, w=self.layer_maps[k].w, energy=energy)

    def _parts(self, k: int, layer: MappedLayer, rows_aug: np.ndarray,
               noise: tuple[list[np.ndarray], np.ndarray | None] | None = None) -> list[np.ndarray]:
        """What the topology reads separately of layer ``k``: the whole output, or each horizontal partition's
        partial sums ``(M, n_out)`` (each output read by that tile's ADC); ``noise``: what read noise adds to each
        partition's partial sums (``_noise``)."""
        w = self.layer_maps[k].w
        if self.net.topology.partial_outputs(layer) == 1:
            parts = [rows_aug @ w]
            if noise is not None:
                parts[0] += sum(noise[0])
            return parts
        parts = [rows_aug[:, layer.rows_of(p)] @ w[layer.rows_of(p), :] for p in range(layer.n_h)]
        if noise is not None:
            for part, extra in zip(parts, noise[0]):
                part += extra
        return parts

    def calibrate_adc(self, u: np.ndarray, *, image_offset: int = 0, images: np.ndarray | None = None) -> Adc:
        """Fix the ADC ranges from inputs ``u`` (layer by layer, each on the previous layers' converted
        outputs), and with a digital correction (``adc.correction``) its per-output scale and offset: a least-squares
        fit, per output of every converted layer, of the converted outputs (after the drift compensation, the previous
        layers corrected) against the float model's pre-activations on the same inputs. Ranges or corrections already
        given stay. Returns (and keeps: ``self.adc``, ``self.net.adc``) the calibrated ADC. ``image_offset``: the
        global index of ``u[0]`` (read-noise draws are keyed by it); ``images``: instead, every image's own."""
        adc, net = self.adc, self.net
        if adc is None:
            raise SpecError("calibrate_adc needs an adc")
        a_all = net.check_inputs(u)
        a = a_all[: adc.calibration_images]
        images = _image_keys(a_all.shape[0], image_offset, images)[: a.shape[0]]  # read noise: the global indices
        topo, n_layers = net.topology, len(net.layers)
        fit_ranges, fit_correction = adc.full_scale_norm is None, not adc.correction_calibrated
        fs: list[float] = []
        scales: list[tuple[float, ...]] = []
        offsets: list[tuple[float, ...]] = []
        reference: list[np.ndarray] = []
        if fit_correction:  # the digital reference: the float model's outputs per crossbar layer, row by row
            if net.model is None:
                raise SpecError(f"adc.correction={adc.correction!r} is calibrated against the float model's pre-activations; "
                                "this MappedNetwork does not know its model: map it with pyims.mapping.map_network(model, "
                                "hardware), or give adc.correction_scale_ratio and correction_offset_norm")
            from pyims.model.graph import as_model

            def keep(k: int, layer: Layer, rows: np.ndarray) -> np.ndarray:
                reference.append(layer.float_forward(rows))  # type: ignore[attr-defined]
                return reference[-1]

            model = as_model(net.model)
            forward(model.steps, a.reshape((a.shape[0],) + tuple(model.input_shape)), keep, keep_inputs=False,
                    keep_pre=False)

        def evaluate(k: int, layer: Layer, rows: np.ndarray) -> np.ndarray:
            rows_aug = net.augment(rows)
            parts = self._parts(k, layer, rows_aug, self._noise(k, rows_aug, images))  # type: ignore[arg-type]
            so_far = adc
            if fit_ranges:
                fs.append(adc.calibrate(topo.calibration_data(parts)))
                so_far = adc.with_full_scale(tuple(fs) + (1.0,) * (n_layers - len(fs)))
            if not fit_correction:
                return topo.read_out(net if adc.correction == "none" else net.on(adc=so_far), so_far, k, parts)
            # what the digital unit receives: converted, combined, drift-compensated, not yet corrected
            bare = replace(so_far, correction="none", correction_scale_ratio=None, correction_offset_norm=None)
            z_in = topo.read_out(net.on(adc=bare), bare, k, parts)
            n_out = z_in.shape[-1]
            alpha, beta = (adc.fit_correction(z_in, reference[k]) if topo.converts(k, n_layers)
                           else (np.ones(n_out), np.zeros(n_out)))  # a layer no ADC converts has no digital unit
            scales.append(tuple(alpha.tolist()))
            offsets.append(tuple(beta.tolist()))
            rest = [net.layers[j].n_out for j in range(k + 1, n_layers)]
            fitted = so_far.with_correction(scales + [(1.0,) * n for n in rest], offsets + [(0.0,) * n for n in rest])
            if fitted.correction == "fixed":
                clipped = fitted.fixed_coefficients(k, n_layers, n_out)[2]
                if clipped:
                    log.warning("ADC correction of layer %d: %d scale / offset value(s) lie outside their fixed-point "
                                "formats and were clipped; widen adc.correction_scale_bits / correction_offset_bits",
                                k, clipped)
            return topo.read_out(net.on(adc=fitted), fitted, k, parts)

        forward(net.sequence, a, evaluate, keep_inputs=False, keep_pre=False)
        calibrated = adc
        if fit_ranges:
            calibrated = calibrated.with_full_scale(tuple(fs))
        if fit_correction:
            calibrated = calibrated.with_correction(scales, offsets)
        self.adc = calibrated
        self.net = net.on(adc=self.adc)
        log.info("ADC %s calibrated on the settled outputs of %d image(s): %s; to keep them fixed across calls, pass "
                 "hardware=pyims.calibrate(model, x_cal, hardware)",
                 " and ".join(w for w, on in (("ranges", fit_ranges), ("correction", fit_correction)) if on),
                 a.shape[0], self.adc.describe())
        return self.adc

    def run(self, u: np.ndarray, *, keep_pre: bool = True, image_offset: int = 0,
            images: np.ndarray | None = None) -> NetworkResult:
        """Inference on hardware inputs ``u`` ``(N, *input_shape)`` (units of ``v_read_v``, see
        ``InputEncoding.quantized``); ``keep_pre=False`` keeps only the outputs (large CNN test sets).
        ``image_offset``: the global index of ``u[0]`` in its test set (read-noise draws are keyed by it, so a
        test set run in pieces reads as it would whole). ``images``: instead, every image's global index ``(N,)``
        (a sample of a test set, as ``SpiceNetwork.run(..., images=...)`` takes)."""
        t0 = time.perf_counter()
        net = self.net
        a_all = net.check_inputs(u)
        keys = _image_keys(a_all.shape[0], image_offset, images)
        if self.adc is not None and not self.adc.calibrated:
            self.calibrate_adc(a_all, images=keys)
            net = self.net
        adc, topo, n_layers = self.adc, net.topology, len(net.layers)
        power = np.zeros(a_all.shape[0])
        per_image = sum(vectors_per_image(net, a_all[:1]))
        chunk = max(1, self.CHUNK_ROWS // max(per_image, 1)) if per_image > n_layers else a_all.shape[0]
        pres: list[list[np.ndarray]] = [[] for _ in net.layers]
        outs: list[np.ndarray] = []
        # images in blocks: a bar with the time left once the blocks take a while (one block: nothing to report)
        bar = progress_bar(a_all.shape[0], "native: images", enabled=None if a_all.shape[0] > chunk else False,
                           delay_s=BAR_DELAY_S, unit="image")
        for start in range(0, a_all.shape[0], chunk):
            a = a_all[start : start + chunk]
            n_img = a.shape[0]
            sl = slice(start, start + n_img)
            images = keys[start : start + n_img]

            def evaluate(k: int, layer: Layer, rows: np.ndarray) -> np.ndarray:
                rows_aug = net.augment(rows)
                lmap = self.layer_maps[k]
                noise = self._noise(k, rows_aug, images, energy=self.energy)
                if self.energy:
                    p_read = self._power(layer, lmap, rows_aug * net.v_read_v)  # type: ignore[arg-type]
                    if noise is not None and noise[1] is not None:
                        p_read += noise[1] * net.v_read_v**2
                    power[sl] += p_read.reshape(n_img, -1).sum(axis=1)
                if (adc is None or not topo.converts(k, n_layers)) and layer.out_scale is None:  # type: ignore[attr-defined]
                    z = rows_aug @ lmap.w
                    if noise is not None:
                        z += sum(noise[0])
                    return net.digital_out(k, z) if not topo.neurons_in_circuit else z
                return topo.read_out(net, adc, k, self._parts(k, layer, rows_aug, noise))  # type: ignore[arg-type]

            trace = forward(net.sequence, a, evaluate, keep_inputs=False, keep_pre=keep_pre)
            for l, z in enumerate(trace.pre):
                pres[l].append(z)
            outs.append(trace.output.reshape(n_img, -1))  # type: ignore[union-attr]
            bar.update(n_img)
        bar.close()
        return NetworkResult(
            pre_norm=tuple(np.concatenate(p) for p in pres) if keep_pre else (),
            output=np.concatenate(outs), power_w=power if self.energy else None, backend="native", mode=self.mode,
            wall_time_s=time.perf_counter() - t0, adc=self.adc, build_time_s=self.build_time_s,
        )


def vectors_per_image(net: MappedNetwork, a: np.ndarray) -> list[int]:
    """Per crossbar layer of ``net``, the input vectors one image reads: one per output position of a convolution,
    one for a dense layer (probed on the first image of hardware inputs ``a``)."""
    probe = forward(net.sequence, net.check_inputs(a)[:1], lambda k, layer, rows: np.zeros((rows.shape[0], layer.n_out)),
                    keep_pre=False)
    return [r.shape[0] for r in probe.inputs]  # type: ignore[attr-defined]


def _image_keys(n: int, image_offset: object, images: object) -> np.ndarray:
    """The global indices ``(n,)`` of ``n`` images: ``image_offset + 0 .. n-1``, or ``images`` (integers >= 0, one per
    image; then ``image_offset`` must be 0)."""
    offset = _image_offset(image_offset)
    if images is None:
        return offset + np.arange(n, dtype=np.int64)
    arr = np.asarray(images)
    if offset:
        raise SpecError(f"give image_offset={offset} or images, not both")
    if arr.shape != (n,) or (arr.size and (arr.dtype.kind not in "iu" or int(arr.min()) < 0)):
        raise SpecError(f"images must hold one global index (an integer >= 0) per image: {n} of them; got "
                        f"{arr.dtype} of shape {arr.shape}")
    return arr.astype(np.int64)


def _image_offset(value: object) -> int:
    """``image_offset`` checked: an integer >= 0 (the global index of the first image)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise SpecError(f"image_offset={value!r} must be an integer >= 0 (the global index of the first image)")
    return int(value)
