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
  where L (2x2 per output, see ``_diffamp_load``) is what the amplifier's input resistors
  draw from the I+ / I- line ends and ``D_k`` its output ``k (v+ - v-)``, ``k = A g / (1 + g + A)``.

Read power per image is ``sum_pc V_p . (V_p S_pc - v_s T_pc^T)`` with ``v_s`` the sense-node
voltages (0 for ideal sensing).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.inference.result import NetworkResult, check_mode
from pyims.mapping import MappedLayer, MappedNetwork
from pyims.runners.native import NativeTileSolver
from pyims.spec import TileSpec, WireParasitics

__all__ = ["NativeNetwork"]

log = logging.getLogger(__name__)


def _diff_matrix(n_out: int) -> np.ndarray:
    """``(2 n_out, n_out)``: +1 at (2j, j), -1 at (2j + 1, j)."""
    d = np.zeros((2 * n_out, n_out))
    j = np.arange(n_out)
    d[2 * j, j] = 1.0
    d[2 * j + 1, j] = -1.0
    return d


def _diffamp_load(n_out: int, r_in_ohm: float, gain: float, a: float) -> tuple[np.ndarray, np.ndarray]:
    """``(L, D_k)`` of ``n_out`` difference amplifiers on interleaved I+ / I- line ends.

    Row-vector convention, ``i_load = v_s @ L``: the I+ end sees ``RP + RG = (1 + g) r_in`` to
    ground; the I- end feeds ``RN`` into the inverting node held by the op-amp at
    ``v_nn = (g v- + A g/(1+g) v+) / (1 + g + A)``, so
    ``i- = ((1 + A) v- - A g/(1+g) v+) / ((1 + g + A) r_in)``; the output is
    ``v_d = A g (v+ - v-) / (1 + g + A)``.
    """
    j = np.arange(n_out)
    load = np.zeros((2 * n_out, 2 * n_out))
    denom = (1.0 + gain + a) * r_in_ohm
    load[2 * j, 2 * j] = 1.0 / ((1.0 + gain) * r_in_ohm)
    load[2 * j + 1, 2 * j + 1] = (1.0 + a) / denom
    load[2 * j, 2 * j + 1] = -a * gain / ((1.0 + gain) * denom)
    k = a * gain / (1.0 + gain + a)
    return load, _diff_matrix(n_out) * k


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


#: Tiles with at least this many unknown nodes have their solves split across worker processes.
SPLIT_UNKNOWNS = 20_000


def _port_task(tile: TileSpec, side: str, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Worker entry point: factor ``tile`` and compute one block of its port matrices."""
    return NativeTileSolver(tile).port_block(side, start, stop)


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


class NativeNetwork:
    """Exact native inference of ``net`` with ``wires`` on every tile, in ``mode`` ("analog" | "tiled").

    Building the layer maps costs the sparse solves; ``run`` is then dense products only.
    ``energy=False`` skips the source-conductance part ``S`` (m solves per tile, instead of
    min(m, n)). ``workers`` processes share the solves (large tiles are split between them);
    ``None`` picks the machine's cores when the network is large enough to pay for starting them.
    Results do not depend on ``workers``.
    """

    def __init__(
        self,
        net: MappedNetwork,
        wires: WireParasitics,
        *,
        mode: str = "analog",
        energy: bool = True,
        workers: int | None = 1,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        check_mode(net, mode)
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise SpecError(f"workers={workers!r} must be an integer >= 1, or None for automatic")
        self.net, self.wires, self.mode, self.energy = net, wires, mode, energy
        t0 = time.perf_counter()
        ports = self._ports(workers, progress)
        self.layer_maps = tuple(self._layer_map(l, layer, ports[l]) for l, layer in enumerate(net.layers))
        self.build_time_s = time.perf_counter() - t0

    @property
    def n_tiles(self) -> int:
        return sum(layer.n_h * layer.n_v for layer in self.net.layers)

    def _opamp(self) -> bool:
        return self.mode == "analog" and self.net.periphery.sense == "opamp"

    def _needs_y(self) -> bool:
        return self.mode == "analog" and self.net.periphery.sense in ("opamp", "diffamp")

    def _ports(self, workers: int | None, progress: Callable[[int], None] | None) -> list[dict[tuple[int, int], _Ports]]:
        """Port matrices of every tile, computed in tasks (possibly in worker processes)."""
        need_y = self._needs_y()
        tiles, tasks = {}, []
        biggest = 0
        for l, layer in enumerate(self.net.layers):
            for c in range(layer.n_v):
                for p in range(layer.n_h):
                    tile = layer.tile(p, c, self.wires)
                    tiles[(l, p, c)] = tile
                    biggest = max(biggest, 2 * tile.n_rows * tile.n_cols)
        if workers is None:
            # Processes pay off when there are big tiles to split (~0.4 s to start them, measured:
            # 400x120x84x10 unpartitioned 9.9 s -> 7.6 s with 2; 16/8/8 x 8/8/1 1.1 s -> 1.5 s).
            cores = os.cpu_count() or 1
            workers = min(cores, 4) if biggest >= SPLIT_UNKNOWNS else 1
        for key, tile in tiles.items():
            m, n = tile.n_rows, tile.n_cols
            pieces = workers if 2 * m * n >= SPLIT_UNKNOWNS else 1
            for side in _sides(m, n, self.energy, need_y):
                r = m if side == "rows" else n
                bounds = np.linspace(0, r, min(pieces, r) + 1).round().astype(int)
                tasks += [(key, side, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
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
            first, second = result
            ports = out[l][(p, c)]
            if side == "rows":
                ports.t[a:b, :] = first
                if ports.s is not None:
                    ports.s[:, a:b] = second
            else:
                if ports.s is None:  # with S, T came from the row side
                    ports.t[:, a:b] = first
                if ports.y is not None:
                    ports.y[:, a:b] = second
            if progress is not None:
                progress(1)

        if workers == 1 or len(tasks) == 1:
            for task in tasks:
                store(task, _port_task(tiles[task[0]], *task[1:]))
        else:
            saved = {k: os.environ.get(k) for k in _worker_env()}
            os.environ.update(_worker_env())  # spawned workers start single-threaded BLAS
            try:
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                    futures = {pool.submit(_port_task, tiles[t[0]], *t[1:]): t for t in tasks}
                    for fut in as_completed(futures):
                        store(futures[fut], fut.result())
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        self.n_tasks, self.workers = len(tasks), workers
        return out

    def _layer_map(self, l: int, layer: MappedLayer, ports: dict[tuple[int, int], _Ports]) -> _LayerMap:
        per = self.net.periphery
        opamp = self._opamp()
        diffamp = self.mode == "analog" and per.sense == "diffamp"
        scale = layer.w_max / layer.dg_s
        w = np.zeros((layer.n_rows, layer.n_out))
        power: list[_PowerTerm] = []
        g_a = (1.0 + per.opamp_gain_ratio) / per.rf_ohm
        for c in range(layer.n_v):
            outs = layer.outs_of(c)
            d = _diff_matrix(outs.stop - outs.start) * scale
            tile_ports = [ports[(p, c)] for p in range(layer.n_h)]
            ts = [q.t for q in tile_ports]
            if diffamp:
                n_c = outs.stop - outs.start
                load, d_k = _diffamp_load(n_c, per.r_in_ohm, self.net.layer_gain(l), per.opamp_gain_ratio)
                scale_z = self.net.v_read_v / (layer.n_h * self.net.layer_v_z(l))
                maps = []
                for p, q in enumerate(tile_ports):
                    vs = np.linalg.solve((q.y + load).T, q.t.T).T  # T K^-1
                    maps.append({p: vs})
                    w[layer.rows_of(p), outs] = vs @ d_k * scale_z
            elif not opamp:
                maps = [None] * layer.n_h
                for p, t in enumerate(ts):
                    w[layer.rows_of(p), outs] = t @ d
            else:
                eye = np.eye(ts[0].shape[1])
                gain = per.opamp_gain_ratio / per.rf_ohm
                if per.combine == "sum":
                    k_inv = np.linalg.inv(sum(q.y for q in tile_ports) + g_a * eye)
                    vs = {p: t @ k_inv for p, t in enumerate(ts)}
                    maps = [vs] * layer.n_h
                else:
                    vs_each = [q.t @ np.linalg.inv(q.y + g_a * eye) for q in tile_ports]
                    maps = [{p: vs_each[p]} for p in range(layer.n_h)]
                for p in range(layer.n_h):
                    w[layer.rows_of(p), outs] = maps[p][p] @ d * gain
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

    def run(self, u: np.ndarray) -> NetworkResult:
        """Inference on hardware inputs ``u`` ``(N, n_in)`` (units of ``v_read_v``, see ``InputEncoding.quantized``)."""
        t0 = time.perf_counter()
        net = self.net
        a = net.check_inputs(u)
        pre, power = [], np.zeros(a.shape[0])
        for l, (layer, lmap) in enumerate(zip(net.layers, self.layer_maps)):
            a_aug = net.augment(a)
            z = a_aug @ lmap.w
            pre.append(z)
            if self.energy:
                power += self._power(layer, lmap, a_aug * net.v_read_v)
            if l < len(net.layers) - 1:
                a = net.neuron(z)
        return NetworkResult(
            pre_norm=tuple(pre), power_w=power if self.energy else None, backend="native", mode=self.mode,
            wall_time_s=time.perf_counter() - t0,
        )
