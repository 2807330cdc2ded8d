"""Outputs at a read time under wire capacitance: native network transients for whole test sets.

Each crossbar layer -- every tile with the R and C of every wire segment, and its sense periphery
(virtual grounds, op-amp loads, difference amplifiers, averaging: all static) -- is one linear
time-invariant system from its row voltages ``V(t)`` (inputs, bias row, or the previous layer's
neuron outputs, which are ideal voltage sources) to its pre-activations ``z(t)``:

    C x' + L x = E V(t),        z = Q x + R V

Neurons are static maps between layers. Integrated with the second-order backward
differentiation formula (BDF2 = Gear 2, what ngspice uses for networks: L-stable, so the stiff
modes of tiny wire segments are damped) on a uniform grid of step ``h``,

    (3C/2h + L) x[k] = C/2h (4 x[k-1] - x[k-2]) + E V[k],

the layer is a discrete convolution: starting from the DC state of its initial inputs (as a
SPICE transient does), ``z[k] = z_dc(V[0]) + sum_j (V[j] - V[j-1]) @ S[k - j]`` with ``S`` its
step-response kernel (``(K+1, m, n)``). ``S`` is computed once per layer by running the BDF2
recursion on a block of right-hand sides -- the ``m`` row sources, or, when fewer, the ``n``
outputs through the adjoint (the recursion's matrices are polynomials in ``M^-1 C`` times
``M^-1``, so the transposed system runs the same recursion) -- each step one factorization
reused (CHOLMOD on the tiles' interiors, the few sense nodes by a dense Schur complement). Then
every image costs only dense products: the first layer's inputs all follow one ramp, so its
outputs are ``u @ P[k]``; later layers' inputs are arbitrary waveforms, convolved with ``S`` by
FFT. Exact for the discretised circuit; the discretisation error is O(h^2) (``docs/capacitance.md``).

In tiled mode every layer is read alone: its inputs step at t = 0 (after the previous layer's
read) and its tiles' partial sums are taken at ``t_read_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pyims.components.sense import diff_matrix
from pyims.components.sense_ideal import IdealSense
from pyims.errors import ConvergenceError, SpecError
from pyims.inference.result import check_mode
from pyims.mapping import MappedNetwork
from pyims.model.layers import Layer, forward
from pyims.runners.factor import SpdFactor, resolve_backend
from pyims.runners.native import SCHUR_MIN_UNKNOWNS, _assemble, _grid_order
from pyims.spec import WireParasitics
from pyims.spec._checks import nonnegative, positive

__all__ = ["ReadTimeSpec", "ReadTimeResult", "NativeReadTime", "layer_blocks", "DEFAULT_STEPS", "ngspice_read_time",
           "verify_read_time",
           "READ_TIME_TOLERANCE_REL"]

#: Native (BDF2 on a fixed grid) vs ngspice (Gear, adaptive steps <= h) at the read time, relative to the
#: largest output: what the tests hold them to (measured ~1e-5 at 100+ steps per time constant).
READ_TIME_TOLERANCE_REL = 2e-3

#: Grid steps up to the read time when ``t_step_s`` is not given.
DEFAULT_STEPS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadTimeSpec:
    """When the outputs are read, and how the inputs arrive.

    Attributes:
        t_read_s: the read time, after the inputs start to rise (``t = t_delay_s``).
        t_rise_s: every input ramps linearly from 0 to its value in this time (the bias rows and
            the network's initial state are at DC from t = 0).
        t_delay_s: when the ramp starts.
        t_step_s: the integration step (``None``: ``(t_delay_s + t_read_s) / DEFAULT_STEPS``); the
            grid must hit the read time, the ramp's corners and every extra read time.
    """

    t_read_s: float
    t_rise_s: float = 1e-12
    t_delay_s: float = 0.0
    t_step_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_read_s", positive("simulation", "t_read_s", self.t_read_s))
        object.__setattr__(self, "t_rise_s", positive("simulation", "t_rise_s", self.t_rise_s))
        object.__setattr__(self, "t_delay_s", nonnegative("simulation", "t_delay_s", self.t_delay_s))
        if self.t_step_s is not None:
            object.__setattr__(self, "t_step_s", positive("simulation", "t_step_s", self.t_step_s))
        h = self.step_s
        for name, t in (("t_read_s", self.t_delay_s + self.t_read_s), ("t_rise_s", self.t_delay_s + self.t_rise_s),
                        ("t_delay_s", self.t_delay_s)):
            if abs(t / h - round(t / h)) > 1e-6:
                raise SpecError(f"simulation.{name}: t = {t!r} s is not on the grid of step {h!r} s; choose t_step_s "
                                "so that the delay, the rise and the read time are whole numbers of steps")
        if (self.t_delay_s + self.t_read_s) / h > 200_000:
            raise SpecError(f"simulation.t_step_s={h!r}: {round((self.t_delay_s + self.t_read_s) / h)} steps up to the read "
                            "time is too many; use a longer step")

    @property
    def step_s(self) -> float:
        return self.t_step_s if self.t_step_s is not None else (self.t_delay_s + self.t_read_s) / DEFAULT_STEPS

    @property
    def n_steps(self) -> int:
        """Grid steps from t = 0 to the read time."""
        return int(round((self.t_delay_s + self.t_read_s) / self.step_s))

    @property
    def t_grid_s(self) -> np.ndarray:
        return np.arange(self.n_steps + 1) * self.step_s

    def ramp(self) -> np.ndarray:
        """The inputs' common profile on the grid, 0 -> 1: ``(K+1,)``."""
        t = self.t_grid_s
        return np.clip((t - self.t_delay_s) / self.t_rise_s, 0.0, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Block:
    """One independent part of a layer: ``C x' + L x = E V_b``, ``z_b = Q x + R V_b``; source currents
    ``i_b = Su x + Ss V_b + Cs dV_b/dt`` (energy). ``rows`` / ``outs`` index the layer's rows and ``z``.

    Unknowns: the tiles' interiors (the first ``n_interior``, an SPD block), then the block's sense
    nodes (loaded senses only).
    """

    rows: np.ndarray  # (m_b,) layer row indices
    outs: np.ndarray  # (n_b,) indices into the layer's z (tiled: partition-major p * n_out + j)
    l: sp.csr_matrix  # (N, N)
    c: np.ndarray  # (N,)
    e: sp.csr_matrix  # (N, m_b)
    q: sp.csr_matrix  # (n_b, N)
    r: np.ndarray  # (n_b, m_b)
    su: sp.csr_matrix  # (m_b, N)
    ss: np.ndarray  # (m_b, m_b)
    cs: np.ndarray  # (m_b,)
    n_interior: int
    order: np.ndarray  # elimination order of the interior (per tile, geometric)


def layer_blocks(net: MappedNetwork, wires: WireParasitics, l: int, *, tiled: bool) -> list[_Block]:
    """Layer ``l`` as independent blocks: a tile alone when it ends in a 0 V virtual ground, else the tiles
    that share sense nodes (``Combiner.groups``) with those nodes and their load. Tiled: ideal senses, and
    ``z`` has one entry per (partition, output), ``n_h * n_out`` partition-major."""
    layer = net.layers[l]
    sense = IdealSense(net.periphery) if tiled else net.sense
    gain = net.layer_gain(l)
    scale = layer.w_max / layer.dg_s
    v_read = net.v_read_v
    n_out, n_h = layer.n_out, layer.n_h
    out: list[_Block] = []
    for c in range(layer.n_v):
        outs = layer.outs_of(c)
        n_c = outs.stop - outs.start
        load = sense.load(n_c, gain=gain)
        groups = tuple((p,) for p in range(n_h)) if load is None else net.combiner.groups(n_h)
        for group in groups:
            tiles = [(p, _assemble(layer.tile(p, c, wires))) for p in group]
            rows = np.concatenate([np.arange(layer.rows_of(p).start, layer.rows_of(p).stop) for p in group])
            row_at = {}
            k = 0
            for p, _ in tiles:
                rs = layer.rows_of(p)
                row_at[p] = slice(k, k + rs.stop - rs.start)
                k += rs.stop - rs.start
            sizes = [b.l_uu.shape[0] for _, b in tiles]
            offs = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
            n_i = int(offs[-1])
            n_s = 0 if load is None else 2 * n_c
            n = n_i + n_s
            m_b = rows.size
            parts: dict[str, list] = {"l": [], "e": [], "su": []}

            def put(key: str, mat, r0: int, c0: int) -> None:
                coo = sp.coo_matrix(mat)
                parts[key].append((coo.row + r0, coo.col + c0, coo.data))

            ss = np.zeros((m_b, m_b))
            cs = np.zeros(m_b)
            cap = np.zeros(n)
            if load is None:  # one tile; z from the column currents i = -(L_ku x + L_ks V)
                (p, b), = tiles
                d = diff_matrix(n_c) * (scale / v_read)  # (2 n_c, n_c)
                z0 = p * n_out + outs.start if tiled else outs.start
                outs_b = np.arange(z0, z0 + n_c)
                q = -(sp.csr_matrix(d.T) @ b.l_ku)
                r = -(d.T @ b.l_ks.toarray())
            else:
                outs_b = np.arange(outs.start, outs.stop)
                readout = sense.readout(n_c, gain=gain, scale=scale, v_read_v=v_read, v_z=net.layer_v_z(l), n_h=n_h)
                # it reads line-end voltages in units of v_read (the native solver's convention); here they are volts
                q = sp.hstack([sp.csr_matrix((n_c, n_i)), sp.csr_matrix(readout.T / v_read)]).tocsr()
                r = np.zeros((n_c, m_b))
            for (p, b), o in zip(tiles, offs[:-1]):
                rs = row_at[p]
                put("l", b.l_uu, o, o)
                put("e", -b.l_us, o, rs.start)
                put("su", b.l_su, rs.start, o)
                ss[rs, rs] += b.l_ss.toarray()
                cs[rs] += b.c_s
                cap[o : o + b.l_uu.shape[0]] = b.c_u
                if load is not None:
                    put("l", b.l_ku.T, o, n_i)
                    put("l", b.l_ku, n_i, o)
                    put("l", b.l_kk, n_i, n_i)
                    put("e", -b.l_ks, n_i, rs.start)
                    put("su", b.l_ks.T, rs.start, n_i)
                    cap[n_i:] += b.c_k
            if load is not None:
                put("l", load.T, n_i, n_i)  # i_load = v_s @ load (row-vector convention)

            def build(key: str, shape) -> sp.csr_matrix:
                if not parts[key]:
                    return sp.csr_matrix(shape)
                rr, cc, vv = (np.concatenate(x) for x in zip(*parts[key]))
                return sp.csr_matrix((vv, (rr, cc)), shape=shape)  # duplicates are summed

            lmat, e, su = build("l", (n, n)), build("e", (n, m_b)), build("su", (m_b, n))
            orders = [o + (_grid_order(b) if b.l_uu.shape[0] else np.zeros(0, dtype=np.int64))
                      for (_, b), o in zip(tiles, offs[:-1])]
            out.append(_Block(rows=rows, outs=outs_b, l=lmat, c=cap, e=e, q=sp.csr_matrix(q), r=r,
                              su=su, ss=ss, cs=cs, n_interior=n_i, order=np.concatenate(orders)))
    return out


class _LayerSolver:
    """A layer's blocks as one block-diagonal system ``M = [[A, B], [C, D]]``: ``A`` all the interiors (SPD,
    factored once: CHOLMOD for big layers, SuperLU for small), ``D`` all the sense nodes (few per block; a
    controlled source makes it non-symmetric), ``C = B^T`` (the tiles' couplings). The sense nodes go through
    the (block-diagonal, sparse) Schur complement. Right-hand sides are *packed*: the blocks are independent,
    so each block's columns sit side by side in the same ``r`` columns (block b uses its first ``r_b``)."""

    def __init__(self, blocks: list[_Block], shift: float) -> None:
        self.blocks = blocks
        self.ni_b = [b.n_interior for b in blocks]
        self.nk_b = [b.l.shape[0] - b.n_interior for b in blocks]
        self.int_off = np.concatenate([[0], np.cumsum(self.ni_b)]).astype(int)
        self.ni = int(self.int_off[-1])
        self.sense_off = self.ni + np.concatenate([[0], np.cumsum(self.nk_b)]).astype(int)
        self.n = int(self.sense_off[-1])
        self.idx = [np.concatenate([np.arange(self.int_off[k], self.int_off[k + 1]),
                                    np.arange(self.sense_off[k], self.sense_off[k + 1])]) for k in range(len(blocks))]
        mats = [b.l + sp.diags(shift * b.c) for b in blocks]
        a = sp.block_diag([mt[: b.n_interior, : b.n_interior] for mt, b in zip(mats, blocks)], format="csc")
        order = np.concatenate([o + b.order for o, b in zip(self.int_off[:-1], blocks)]) if blocks else np.zeros(0, int)
        backend = resolve_backend("auto") if self.ni >= SCHUR_MIN_UNKNOWNS else "superlu"
        try:
            self.a = SpdFactor(a, backend, order=order if backend == "cholmod" else None) if self.ni else None
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(f"read-time transient: a layer's step matrix is not positive definite ({exc})",
                                   rundir=None) from exc
        self.nk = self.n - self.ni
        if not self.nk:
            return
        self.c = sp.block_diag([mt[b.n_interior :, : b.n_interior] for mt, b in zip(mats, blocks)], format="csr")
        self.b = sp.block_diag([mt[: b.n_interior, b.n_interior :] for mt, b in zip(mats, blocks)], format="csr")
        # S = D - C A^-1 B, block by block, from one packed solve (block k's coupling columns side by side)
        width = max(self.nk_b)
        packed = np.zeros((self.ni, width))
        for k, (mt, b) in enumerate(zip(mats, blocks)):
            packed[self.int_off[k] : self.int_off[k + 1], : self.nk_b[k]] = mt[: b.n_interior, b.n_interior :].toarray()
        zp = self.a.solve(packed) if self.a is not None else packed
        self.zp = zp  # A^-1 B, packed: block k's columns are its first nk_b[k]
        schur = []
        for k, (mt, b) in enumerate(zip(mats, blocks)):
            r0, r1, nk = self.int_off[k], self.int_off[k + 1], self.nk_b[k]
            schur.append(mt[b.n_interior :, b.n_interior :].toarray() - mt[b.n_interior :, : b.n_interior] @ zp[r0:r1, :nk])
        import scipy.sparse.linalg as spla

        self.schur = spla.splu(sp.block_diag(schur, format="csc"))

    def solve(self, rhs: np.ndarray, *, transpose: bool = False) -> np.ndarray:
        """``M^-1 rhs`` (``M^-T rhs``) for packed ``(N, r)`` right-hand sides: one interior solve and the
        sense nodes' Schur complement (``M^T = [[A, C^T], [B^T, D^T]]`` with ``C^T = B``: the same steps,
        the Schur complement transposed)."""
        if not self.nk:
            return self.a.solve(rhs)
        ru, rk = rhs[: self.ni], rhs[self.ni :]
        y = self.a.solve(ru) if self.a is not None else ru
        vk = self.schur.solve(np.ascontiguousarray(rk - self.c @ y), trans="T" if transpose else "N")
        # x_u = y - A^-1 B v_k with A^-1 B kept (dense, per block): a product instead of a second solve
        xu = y.copy()
        for k in range(len(self.blocks)):
            r0, r1, nk = self.int_off[k], self.int_off[k + 1], self.nk_b[k]
            s0 = self.sense_off[k] - self.ni
            xu[r0:r1] -= self.zp[r0:r1, :nk] @ vk[s0 : s0 + nk]
        return np.concatenate([xu, vk])

    def pack(self, parts: list[np.ndarray], width: int) -> np.ndarray:
        """Per block ``(N_b, r_b)`` arrays -> one packed ``(N, width)``."""
        out = np.zeros((self.n, width))
        for k, part in enumerate(parts):
            out[self.idx[k], : part.shape[1]] = part
        return out


@dataclass(frozen=True, slots=True, eq=False)
class _Kernels:
    """A layer's step responses: ``z_step (K+1, m, n_z)``, ``z_dc (m, n_z)``; with energy ``i_step (K+1, m, m)``,
    ``i_dc (m, m)``: row-vector convention (``z = V @ z_dc`` at DC)."""

    z_step: np.ndarray
    z_dc: np.ndarray
    i_step: np.ndarray | None
    i_dc: np.ndarray | None


def _kernels(blocks: list[_Block], m: int, n_z: int, h: float, k_max: int, *, energy: bool) -> _Kernels:
    """BDF2 step responses of the layer (see the module docstring): forward (each block's rows as right-hand
    sides) or adjoint (its outputs), whichever is fewer -- forward when the source currents are wanted --
    all blocks in one packed solve per step."""
    forward_ = energy or max(b.e.shape[1] for b in blocks) <= max(b.q.shape[0] for b in blocks)
    step = _LayerSolver(blocks, 1.5 / h)  # 3C / 2h
    dc = _LayerSolver(blocks, 0.0)
    cdiag = np.concatenate([b.c[: b.n_interior] for b in blocks] + [b.c[b.n_interior :] for b in blocks]) / (2.0 * h)
    e_t = [sp.csr_matrix(b.e.T) for b in blocks]  # sparse: only the driver / first-cell couplings
    seeds = [b.e.toarray() for b in blocks] if forward_ else [b.q.T.toarray() for b in blocks]
    width = max(x.shape[1] for x in seeds)
    z_dc = np.zeros((m, n_z))
    imp_z = np.zeros((k_max + 1, m, n_z))
    i_dc = np.zeros((m, m)) if energy else None
    imp_i = np.zeros((k_max + 1, m, m)) if energy else None
    where = [np.ix_(b.rows, b.outs) for b in blocks]
    rows_rows = [np.ix_(b.rows, b.rows) for b in blocks]

    def read(x: np.ndarray, into_z: np.ndarray, into_i: np.ndarray | None) -> None:
        for k, b in enumerate(blocks):
            xb = x[step.idx[k]]
            if forward_:
                into_z[where[k]] += (b.q @ xb[:, : b.e.shape[1]]).T
                if into_i is not None:
                    into_i[rows_rows[k]] += (b.su @ xb[:, : b.e.shape[1]]).T
            else:
                into_z[where[k]] += e_t[k] @ xb[:, : b.q.shape[0]]

    seed = step.pack(seeds, width)
    read(dc.solve(dc.pack(seeds, width), transpose=not forward_), z_dc, i_dc)
    prev2 = np.zeros_like(seed)
    prev = step.solve(seed, transpose=not forward_)
    for k in range(k_max + 1):
        if k > 0:
            prev2, prev = prev, step.solve(cdiag[:, None] * (4.0 * prev - prev2), transpose=not forward_)
        read(prev, imp_z[k], imp_i[k] if energy else None)
    if not (np.all(np.isfinite(imp_z)) and np.all(np.isfinite(z_dc))):
        raise ConvergenceError("read-time transient produced non-finite values; check the circuit's values", rundir=None)
    for k, b in enumerate(blocks):
        imp_z[0][where[k]] += b.r.T
        z_dc[where[k]] += b.r.T
        if energy:
            imp_i[0][rows_rows[k]] += b.ss.T
            i_dc[rows_rows[k]] += b.ss.T
            # charging current of capacitance on a source node, BDF2's derivative: Cs (3V_k - 4V_k-1 + V_k-2) / 2h
            for lag, w in ((0, 1.5), (1, -2.0), (2, 0.5)):
                if lag <= k_max:
                    imp_i[lag][rows_rows[k]] += np.diag(b.cs * w / h)
    return _Kernels(z_step=np.cumsum(imp_z, axis=0), z_dc=z_dc,
                    i_step=np.cumsum(imp_i, axis=0) if energy else None, i_dc=i_dc)


def _causal_conv(dv: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[:, k] = sum_{j <= k} dv[:, j] @ kernel[k - j]``: ``dv (N, K+1, m)``, ``kernel (K+1, m, n)`` -> ``(N, K+1, n)`` (FFT)."""
    n_t = dv.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n_t)))
    fk = np.fft.rfft(kernel, n=size, axis=0)  # (F, m, n)
    fd = np.fft.rfft(dv, n=size, axis=1)  # (N, F, m)
    prod = np.matmul(fd.transpose(1, 0, 2), fk)  # (F, N, n): one product per frequency
    return np.fft.irfft(prod.transpose(1, 0, 2), n=size, axis=1)[:, :n_t]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ReadTimeResult:
    """What a read-time run returns for ``N`` images.

    Attributes:
        t_s: float64 ``(K+1,)``, the grid (0 .. t_delay + t_read).
        logits: float64 ``(N, n_out)``, the last layer's outputs at the read time (after an ADC).
        output_t: float64 ``(N, K+1, n_out)``: the last layer's outputs over the grid (analog mode),
            or ``None`` (tiled mode: each layer is read once).
        pre_norm: per crossbar layer ``(N, n_out_l)`` at the read time.
        settling_s: float64 ``(N,)``: when every output of an image has come within ``band_ratio`` of its
            DC value for good, after the inputs start (``inf`` if not by the read time; analog mode).
        energy_j: float64 ``(N,)`` energy the row drivers deliver from t = 0 to the read time, or ``None``.
        wall_time_s, build_time_s: timings.
    """

    t_s: np.ndarray
    logits: np.ndarray
    output_t: np.ndarray | None
    pre_norm: tuple[np.ndarray, ...]
    settling_s: np.ndarray | None
    energy_j: np.ndarray | None
    wall_time_s: float
    build_time_s: float


class NativeReadTime:
    """A mapped network's outputs at a read time under wire R and C, natively (see the module docstring).

    ``dc``: a ``NativeNetwork`` of the same network and wires to reuse for the settled outputs.
    ``mode``: "analog" (the fully-analog dense stack; layers run into each other in time) or "tiled"
    (each layer alone, read at ``t_read_s`` after its inputs step). ``energy``: also the drivers'
    energy (forward kernels, ``m`` right-hand sides per step). Building costs ``K`` sparse solves
    per layer with ``min(m, n)`` right-hand sides; ``run`` is dense products and FFTs.
    """

    #: images per chunk of the per-image products (bounds memory at ~K x n x 8 B per image and layer)
    CHUNK = 256

    def __init__(self, net: MappedNetwork, wires: WireParasitics, spec: ReadTimeSpec, *, mode: str = "analog",
                 energy: bool = False, adc=None, band_ratio: float = 0.01, dc=None) -> None:
        check_mode(net, mode)
        if not isinstance(spec, ReadTimeSpec):
            raise SpecError(f"spec is a {type(spec).__name__}; pass a pyims.inference.read_time.ReadTimeSpec")
        if energy and mode == "tiled":
            raise SpecError("energy from a read-time transient is computed for the fully-analog network "
                            '(mode="analog"); tiled co-simulation reads each layer alone')
        if adc is not None and mode == "tiled":
            raise SpecError("an ADC with a read time is modelled on the fully-analog network's outputs "
                            '(mode="analog"); in tiled mode use the DC result')
        if adc is not None and not adc.calibrated:
            raise SpecError("NativeReadTime needs a calibrated ADC (fixed full_scale_norm); calibrate it at DC first: "
                            "NativeNetwork(..., adc=adc).calibrate_adc(u)")
        self.net, self.wires, self.spec, self.mode, self.energy, self.adc = net, wires, spec, mode, energy, adc
        self.band_ratio = band_ratio
        # the settled outputs for the settling times: a NativeNetwork of this circuit the caller already built
        # (its DC factorizations reused), unless it converts its outputs (an ADC) or reads tiles alone
        self._dc = dc if dc is not None and dc.adc is None and dc.mode == "analog" and dc.net is net and dc.wires == wires else None
        t0 = time.perf_counter()
        h, k_max = spec.step_s, spec.n_steps
        self.kernels = []
        for l, layer in enumerate(net.layers):
            n_z = layer.n_h * layer.n_out if mode == "tiled" else layer.n_out
            blocks = layer_blocks(net, wires, l, tiled=mode == "tiled")
            self.kernels.append(_kernels(blocks, layer.n_rows, n_z, h, k_max, energy=energy))
        ramp = spec.ramp()
        d_ramp = np.diff(ramp, prepend=0.0)
        # inputs that all follow the ramp: z[k] = V0 @ z_dc + (v_in) @ P[k], P[k] = sum_j dramp[j] S[k - j]
        self.ramped = [_conv_scalar(d_ramp, kern.z_step) for kern in self.kernels]
        self.build_time_s = time.perf_counter() - t0

    @property
    def t_s(self) -> np.ndarray:
        return self.spec.t_grid_s

    def _bias_v(self, layer) -> np.ndarray:
        v = np.zeros(layer.n_rows)
        v[-1] = self.net.periphery.v_bias_v
        return v

    def run(self, u: np.ndarray, *, energy: bool | None = None) -> ReadTimeResult:
        """Outputs at the read time for hardware inputs ``u`` ``(N, n_in)`` (units of ``v_read_v``);
        ``energy=False`` skips the drivers' energy (built with ``energy=True``: computed by default)."""
        t0 = time.perf_counter()
        want_energy = self.energy if energy is None else energy
        if want_energy and not self.energy:
            raise SpecError("energy needs NativeReadTime(..., energy=True) (its source-current kernels)")
        net = self.net
        a_all = net.check_inputs(u)
        outs, pres, settle, energies, waves = [], [], [], [], []
        for start in range(0, a_all.shape[0], self.CHUNK):
            a = a_all[start : start + self.CHUNK]
            res = self._tiled(a) if self.mode == "tiled" else self._analog(a, want_energy)
            outs.append(res[0])
            pres.append(res[1])
            settle.append(res[2])
            energies.append(res[3])
            waves.append(res[4])
        logits = np.concatenate(outs)
        return ReadTimeResult(
            t_s=self.t_s, logits=logits,
            output_t=np.concatenate(waves) if self.mode == "analog" else None,
            pre_norm=tuple(np.concatenate([p[l] for p in pres]) for l in range(len(net.layers))),
            settling_s=np.concatenate(settle) if self.mode == "analog" else None,
            energy_j=np.concatenate(energies) if want_energy else None,
            wall_time_s=time.perf_counter() - t0, build_time_s=self.build_time_s,
        )

    def _energy(self, l: int, v_t: np.ndarray) -> np.ndarray:
        """Energy the rows deliver over the grid: ``sum_k w_k h V[k] . i[k]`` (trapezoid), ``v_t (N, K+1, m)``."""
        kern = self.kernels[l]
        dv = np.diff(v_t, axis=1, prepend=v_t[:, :1] * 0.0)
        dv[:, 0] = 0.0
        i_t = v_t[:, :1] @ kern.i_dc + _causal_conv(dv, kern.i_step)
        p = np.einsum("nkm,nkm->nk", v_t, i_t)
        return np.sum(0.5 * (p[:, 1:] + p[:, :-1]), axis=1) * self.spec.step_s

    def _analog(self, u: np.ndarray, want_energy: bool):
        net, k_max = self.net, self.spec.n_steps
        n = u.shape[0]
        pre_read, energy = [], np.zeros(n)
        v_t = z_t = None
        k_xbar = 0
        for step in net.sequence:
            layer = step
            if not layer.crossbar:
                a_t = layer(z_t)  # (N, K+1, n) activations over time
                v_t = np.concatenate([a_t * net.v_read_v, np.broadcast_to(
                    net.periphery.v_bias_v, a_t.shape[:2] + (1,))], axis=2)
                continue
            kern = self.kernels[k_xbar]
            if k_xbar == 0:
                v0 = self._bias_v(layer)
                z_t = (v0 @ kern.z_dc)[None, None, :] + np.tensordot(u * net.v_read_v, self.ramped[0][:, :-1, :], axes=([1], [1]))
                if want_energy:
                    v_t = np.concatenate([(u * net.v_read_v)[:, None, :] * self.spec.ramp()[None, :, None],
                                          np.broadcast_to(net.periphery.v_bias_v, (n, k_max + 1, 1))], axis=2)
            else:
                dv = np.diff(v_t, axis=1, prepend=v_t[:, :1])
                z_t = (v_t[:, :1] @ kern.z_dc) + _causal_conv(dv, kern.z_step)
            if want_energy:
                energy += self._energy(k_xbar, v_t)
            pre_read.append(z_t[:, -1])
            k_xbar += 1
        settle = self._settling(u, z_t)
        if self.adc is not None:
            last = len(net.layers) - 1
            gain, off = self.adc.errors(last, 1, net.layers[last].n_out)
            pre_read[-1] = self.adc.quantize(z_t[:, -1], self.adc.full_scale(last, len(net.layers)), gain[0], off[0])
        return pre_read[-1], pre_read, settle, energy, z_t

    def _settling(self, u: np.ndarray, z_t: np.ndarray) -> np.ndarray:
        """Per image: the time after the inputs start from which every output stays within ``band_ratio`` of
        the image's largest output swing around its DC value (``inf``: not by the read time)."""
        from pyims.inference.native import NativeNetwork

        if self._dc is None:
            self._dc = NativeNetwork(self.net, self.wires, mode="analog", energy=False)
        final = self._dc.run(u, keep_pre=False).logits  # (N, n): the settled (DC) outputs
        swing = np.max(np.abs(final - z_t[:, 0]), axis=1)  # (N,)
        band = self.band_ratio * np.maximum(swing, np.finfo(float).tiny)
        outside = (np.abs(z_t - final[:, None, :]) > band[:, None, None]).any(axis=2)  # (N, K+1)
        k_idx = np.arange(z_t.shape[1])
        last = np.where(outside, k_idx[None, :], -1).max(axis=1)  # last grid index outside the band
        t = self.t_s
        settled = np.where(last + 1 < t.size, t[np.clip(last + 1, 0, t.size - 1)] - self.spec.t_delay_s, np.inf)
        return np.maximum(settled, 0.0)

    def _tiled(self, u: np.ndarray):
        net = self.net

        def evaluate(k: int, layer: Layer, rows: np.ndarray) -> np.ndarray:
            kern = self.kernels[k]
            z_parts = (self._bias_v(layer) @ kern.z_dc)[None, :] + (rows * net.v_read_v) @ self.ramped[k][-1, :-1, :]
            return z_parts.reshape(-1, layer.n_h, layer.n_out).sum(axis=1)  # type: ignore[attr-defined]

        trace = forward(net.sequence, u, evaluate, keep_inputs=False)
        return trace.output.reshape(u.shape[0], -1), list(trace.pre), None, None, None


def _conv_scalar(d: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[k] = sum_{j <= k} d[j] kernel[k - j]`` for a scalar series ``d (K+1,)`` and ``kernel (K+1, ...)``."""
    n_t = d.size
    size = 1 << int(np.ceil(np.log2(2 * n_t)))
    fk = np.fft.rfft(kernel, n=size, axis=0)
    fd = np.fft.rfft(d, n=size)
    shape = (-1,) + (1,) * (kernel.ndim - 1)
    return np.fft.irfft(fd.reshape(shape) * fk, n=size, axis=0)[:n_t]


def ngspice_read_time(net: MappedNetwork, wires: WireParasitics, spec: ReadTimeSpec, u: np.ndarray, *, adc=None,
                      timeout_s: float | None = 3600.0, run_root=None, keep_run_dir: bool = False) -> ReadTimeResult:
    """The same read time in ngspice: one fully-analog network transient per image (Gear, steps <= the grid's),
    read on the grid at ``t_read_s``; energy from the drivers' power over the window."""
    from pyims.inference.transient import network_transient
    from pyims.spec import Stimulus, TransientSpec

    check_mode(net, "analog")
    t0 = time.perf_counter()
    a = net.check_inputs(u)
    grid = TransientSpec(t_stop_s=spec.t_delay_s + spec.t_read_s, t_step_s=spec.step_s)
    pres, outs, energies = [], [], []
    for row in a:
        stim = Stimulus.step(row * net.v_read_v, t_rise_s=spec.t_rise_s, t_delay_s=spec.t_delay_s)
        res = network_transient(net, wires, stim, grid, timeout_s=timeout_s, run_root=run_root, keep_run_dir=keep_run_dir)
        pres.append([p[-1] for p in res.pre_norm])
        outs.append(res.pre_norm[-1])
        energies.append(res.energy_j())
    pre = [np.stack([p[l] for p in pres]) for l in range(len(net.layers))]
    logits = pre[-1]
    if adc is not None:
        last = len(net.layers) - 1
        gain, off = adc.errors(last, 1, net.layers[last].n_out)
        logits = adc.quantize(logits, adc.full_scale(last, len(net.layers)), gain[0], off[0])
    return ReadTimeResult(t_s=spec.t_grid_s, logits=logits, output_t=np.stack(outs), pre_norm=tuple(pre), settling_s=None,
                          energy_j=np.array(energies), wall_time_s=time.perf_counter() - t0, build_time_s=0.0)


def verify_read_time(net: MappedNetwork, wires: WireParasitics, spec: ReadTimeSpec, u: np.ndarray, native, index: np.ndarray,
                     *, mode: str = "analog", tie_atol: float = 0.0, timeout_s: float | None = 3600.0, adc=None):
    """Images ``u[index]`` as ngspice network transients, held against the native read-time result ``native``
    (a ``NetworkResult`` on all of ``u``) at the read time, layer by layer (tolerance ``READ_TIME_TOLERANCE_REL``)."""
    from pyims.compare import SpiceVerification, agreement, layer_rel_diffs
    from pyims.inference.result import NetworkResult

    if mode != "analog":
        raise SpecError('ngspice checks a read time on the fully-analog network transient; with simulation.mode = "tiled" '
                        "set simulation.verify_images = 0 (the tiled read time is tested against ngspice tile transients)")
    res = ngspice_read_time(net, wires, spec, u[index], adc=adc, timeout_s=timeout_s)
    per_layer = layer_rel_diffs(list(res.pre_norm), [p[index] for p in native.pre_norm])
    passed = bool(np.all(np.asarray(per_layer) <= READ_TIME_TOLERANCE_REL))
    from pyims.runners.ngspice_env import find_ngspice

    verification = SpiceVerification(
        n_images=int(index.size), image_index=[int(i) for i in index], mode=f"{mode}, read at {spec.t_read_s!r} s",
        ngspice_version=find_ngspice().version, max_rel_diff_per_layer=per_layer, max_rel_diff_power=None,
        tolerance_rel=READ_TIME_TOLERANCE_REL, passed=passed,
        top1_agreement_native_vs_ngspice=agreement(res.logits, native.logits[index], tie_atol).top1_agreement,
        wall_time_s=res.wall_time_s, seconds_per_image=res.wall_time_s / max(int(index.size), 1), run_dirs=[], batches=[],
    )
    spice = NetworkResult(pre_norm=res.pre_norm, power_w=None, output=res.logits, backend="ngspice", mode=mode,
                          wall_time_s=res.wall_time_s, ngspice_version=verification.ngspice_version)
    return verification, spice
