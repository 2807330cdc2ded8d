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

Read power per image is ``sum_pc V_p . (V_p S_pc - v_s T_pc^T)`` with ``v_s`` the sense-node
voltages (0 for ideal sensing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError
from pyims.inference.result import MODES, NetworkResult
from pyims.mapping import MappedLayer, MappedNetwork
from pyims.runners.native import NativeTileSolver
from pyims.spec import WireParasitics

__all__ = ["NativeNetwork"]

log = logging.getLogger(__name__)


def _diff_matrix(n_out: int) -> np.ndarray:
    """``(2 n_out, n_out)``: +1 at (2j, j), -1 at (2j + 1, j)."""
    d = np.zeros((2 * n_out, n_out))
    j = np.arange(n_out)
    d[2 * j, j] = 1.0
    d[2 * j + 1, j] = -1.0
    return d


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


class NativeNetwork:
    """Exact native inference of ``net`` with ``wires`` on every tile, in ``mode`` ("analog" | "tiled").

    Building the layer maps costs the sparse solves; ``run`` is then dense products only.
    ``energy=False`` skips the source-conductance solves (``S``), which cost m solves per tile.
    """

    def __init__(
        self,
        net: MappedNetwork,
        wires: WireParasitics,
        *,
        mode: str = "analog",
        energy: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise SpecError(f"mode={mode!r} is unknown; use one of {', '.join(MODES)}")
        self.net, self.wires, self.mode, self.energy = net, wires, mode, energy
        t0 = time.perf_counter()
        self.layer_maps = tuple(self._layer_map(layer, progress) for layer in net.layers)
        self.build_time_s = time.perf_counter() - t0

    @property
    def n_tiles(self) -> int:
        return sum(layer.n_h * layer.n_v for layer in self.net.layers)

    def _layer_map(self, layer: MappedLayer, progress: Callable[[int], None] | None) -> _LayerMap:
        per = self.net.periphery
        opamp = self.mode == "analog" and per.sense == "opamp"
        scale = layer.w_max / layer.dg_s
        w = np.zeros((layer.n_rows, layer.n_out))
        power: list[_PowerTerm] = []
        g_a = (1.0 + per.opamp_gain_ratio) / per.rf_ohm
        for c in range(layer.n_v):
            outs = layer.outs_of(c)
            d = _diff_matrix(outs.stop - outs.start) * scale
            solvers = []
            for p in range(layer.n_h):
                solver = NativeTileSolver(layer.tile(p, c, self.wires))
                if opamp:
                    solver.sense_admittance()
                solvers.append(solver)
                if progress is not None:
                    progress(1)
            ts = [s.transfer_matrix() for s in solvers]
            if not opamp:
                maps = [None] * layer.n_h
                for p, t in enumerate(ts):
                    w[layer.rows_of(p), outs] = t @ d
            else:
                eye = np.eye(ts[0].shape[1])
                gain = per.opamp_gain_ratio / per.rf_ohm
                if per.combine == "sum":
                    k_inv = np.linalg.inv(sum(s.sense_admittance() for s in solvers) + g_a * eye)
                    vs = {p: t @ k_inv for p, t in enumerate(ts)}
                    maps = [vs] * layer.n_h
                else:
                    vs_each = [t @ np.linalg.inv(s.sense_admittance() + g_a * eye) for s, t in zip(solvers, ts)]
                    maps = [{p: vs_each[p]} for p in range(layer.n_h)]
                for p in range(layer.n_h):
                    w[layer.rows_of(p), outs] = maps[p][p] @ d * gain
            if self.energy:
                for p, (solver, t) in enumerate(zip(solvers, ts)):
                    power.append(_PowerTerm(p=p, s=solver.input_conductance(), t=t, vs_maps=maps[p]))
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
        a = np.asarray(u, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != net.layer_sizes[0]:
            raise SpecError(f"inputs have shape {a.shape}; the network needs (N, {net.layer_sizes[0]})")
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
