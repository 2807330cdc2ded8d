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
from pyims.runners.native import _assemble, _grid_order
from pyims.spec import WireParasitics
from pyims.spec._checks import nonnegative, positive

__all__ = ["ReadTimeSpec", "ReadTimeResult", "NativeReadTime", "layer_system", "DEFAULT_STEPS"]

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
class _LayerSystem:
    """``C x' + L x = E V``, ``z = Q x + R V``; source currents ``i = Su x + Ss V + Cs dV/dt`` (for energy).

    Unknowns: the tiles' interiors (``n_interior``, an SPD block), then the sense nodes (loaded senses).
    """

    l: sp.csr_matrix  # (N, N)
    c: np.ndarray  # (N,)
    e: sp.csr_matrix  # (N, m)
    q: sp.csr_matrix  # (n_z, N)
    r: np.ndarray  # (n_z, m)
    su: sp.csr_matrix  # (m, N)
    ss: np.ndarray  # (m, m)
    cs: np.ndarray  # (m,)
    n_interior: int
    order: np.ndarray  # elimination order of the interior (per tile, geometric)


def layer_system(net: MappedNetwork, wires: WireParasitics, l: int, *, tiled: bool) -> _LayerSystem:
    """Layer ``l``'s linear system (see ``_LayerSystem``). Tiled: ideal 0 V senses, and ``z`` has one row per
    (partition, output): ``n_z = n_h * n_out``, partition-major. Analog: the network's sense periphery."""
    layer = net.layers[l]
    sense = IdealSense(net.periphery) if tiled else net.sense
    combiner = net.combiner
    gain = net.layer_gain(l)
    scale = layer.w_max / layer.dg_s
    v_read = net.v_read_v
    v_z = net.layer_v_z(l)
    m, n_out, n_h = layer.n_rows, layer.n_out, layer.n_h
    n_z = n_h * n_out if tiled else n_out
    blocks = {(p, c): _assemble(layer.tile(p, c, wires)) for c in range(layer.n_v) for p in range(n_h)}
    offs, orders, n = {}, [], 0
    for key, b in blocks.items():
        offs[key] = n
        order = _grid_order(b) if b.l_uu.shape[0] else np.zeros(0, dtype=np.int64)
        orders.append(n + order)
        n += b.l_uu.shape[0]
    n_interior = n
    lr, lc, lv = [], [], []
    er, ec, ev = [], [], []
    qr, qc, qv = [], [], []
    sr, sc_, sv = [], [], []
    c_parts = [b.c_u for b in blocks.values()]
    r = np.zeros((n_z, m))
    ss = np.zeros((m, m))
    cs = np.zeros(m)

    def put(rows, cols, vals, mat: sp.spmatrix, r0: int, c0: int) -> None:
        coo = sp.coo_matrix(mat)
        rows.append(coo.row + r0)
        cols.append(coo.col + c0)
        vals.append(coo.data)

    sense_cap = []
    for c in range(layer.n_v):
        outs = layer.outs_of(c)
        n_c = outs.stop - outs.start
        load = sense.load(n_c, gain=gain)
        for p in range(n_h):
            b, off, rows = blocks[(p, c)], offs[(p, c)], layer.rows_of(p)
            put(lr, lc, lv, b.l_uu, off, off)
            put(er, ec, ev, -b.l_us, off, rows.start)
            put(sr, sc_, sv, b.l_su, rows.start, off)
            ss[rows, rows] += b.l_ss.toarray()
            cs[rows] += b.c_s
            if load is None:  # 0 V virtual ground: z from the column currents i = -(L_ku x + L_ks V)
                d = diff_matrix(n_c) * (scale / v_read)  # (2 n_c, n_c)
                z0 = p * n_out + outs.start if tiled else outs.start
                put(qr, qc, qv, -(sp.csr_matrix(d.T) @ b.l_ku), z0, off)
                r[z0 : z0 + n_c, rows] += -(d.T @ b.l_ks.toarray())
        if load is None:
            continue
        # (2 n_c, n_c); it reads line-end voltages in units of v_read (the native solver's convention), here in volts
        readout = sense.readout(n_c, gain=gain, scale=scale, v_read_v=v_read, v_z=v_z, n_h=n_h) / v_read
        for group in combiner.groups(n_h):
            s_off = n
            n += 2 * n_c
            cap = np.zeros(2 * n_c)
            for p in group:
                b, off, rows = blocks[(p, c)], offs[(p, c)], layer.rows_of(p)
                put(lr, lc, lv, b.l_ku.T, off, s_off)
                put(lr, lc, lv, b.l_ku, s_off, off)
                put(lr, lc, lv, b.l_kk, s_off, s_off)
                put(er, ec, ev, -b.l_ks, s_off, rows.start)
                put(sr, sc_, sv, b.l_ks.T, rows.start, s_off)
                cap += b.c_k
            put(lr, lc, lv, sp.csr_matrix(load.T), s_off, s_off)  # i_load = v_s @ load (row-vector convention)
            put(qr, qc, qv, sp.csr_matrix(readout.T), outs.start, s_off)
            sense_cap.append(cap)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    c_vec = np.concatenate(c_parts + sense_cap) if (c_parts or sense_cap) else np.zeros(0)
    mat = lambda rows, cols, vals, shape: sp.csr_matrix((cat(vals), (cat(rows).astype(np.int64), cat(cols).astype(np.int64))),  # noqa: E731
                                                        shape=shape)
    return _LayerSystem(
        l=mat(lr, lc, lv, (n, n)), c=c_vec, e=mat(er, ec, ev, (n, m)), q=mat(qr, qc, qv, (n_z, n)), r=r,
        su=mat(sr, sc_, sv, (m, n)), ss=ss, cs=cs, n_interior=n_interior,
        order=np.concatenate(orders) if orders else np.zeros(0, dtype=np.int64),
    )


class _BlockSolver:
    """``M = [[A, B], [B^T, D]]`` with ``A`` (the interior) SPD and ``D`` (sense nodes, few) dense, maybe
    non-symmetric: ``A`` factored once (CHOLMOD or SuperLU), the rest through the Schur complement."""

    def __init__(self, m: sp.csr_matrix, n_interior: int, order: np.ndarray, backend: str) -> None:
        m = m.tocsr()
        self.ni = n_interior
        a = m[:n_interior, :n_interior]
        try:
            self.a = SpdFactor(a, backend, order=order if backend == "cholmod" else None) if n_interior else None
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(f"read-time transient: a layer's step matrix is not positive definite ({exc})",
                                   rundir=None) from exc
        n_k = m.shape[0] - n_interior
        self.n_k = n_k
        if n_k:
            import scipy.linalg as sla

            self.b = m[:n_interior, n_interior:].toarray()  # (N_i, n_k); equals C^T (the Laplacian coupling)
            self.c = m[n_interior:, :n_interior].tocsr()
            d = m[n_interior:, n_interior:].toarray()
            self.z = self.a.solve(self.b) if self.a is not None else np.zeros((0, n_k))
            self.schur = sla.lu_factor(d - self.c @ self.z)

    def solve(self, rhs: np.ndarray, *, transpose: bool = False) -> np.ndarray:
        """``M^-1 rhs`` (or ``M^-T rhs``) for ``(N, k)`` right-hand sides."""
        if not self.n_k:
            return self.a.solve(rhs)
        import scipy.linalg as sla

        ru, rk = rhs[: self.ni], rhs[self.ni :]
        y = self.a.solve(ru) if self.a is not None else ru
        # M^T = [[A, C^T], [B^T, D^T]] and C^T = B (the tiles' couplings are symmetric): same Z, Schur transposed
        vk = sla.lu_solve(self.schur, rk - self.c @ y, trans=1 if transpose else 0)
        return np.concatenate([y - self.z @ vk, vk])


@dataclass(frozen=True, slots=True, eq=False)
class _Kernels:
    """A layer's step responses: ``z_step (K+1, m, n_z)``, ``z_dc (m, n_z)``; with energy ``i_step (K+1, m, m)``,
    ``i_dc (m, m)``: row-vector convention (``z = V @ z_dc`` at DC)."""

    z_step: np.ndarray
    z_dc: np.ndarray
    i_step: np.ndarray | None
    i_dc: np.ndarray | None


def _kernels(sys_: _LayerSystem, h: float, k_max: int, *, energy: bool, backend: str) -> _Kernels:
    """BDF2 step responses of the layer (see the module docstring), forward (m columns) or adjoint (n_z)."""
    n = sys_.l.shape[0]
    m, n_z = sys_.e.shape[1], sys_.q.shape[0]
    cdiag = sys_.c / (2.0 * h)
    step = _BlockSolver(sys_.l + sp.diags(3.0 * cdiag), sys_.n_interior, sys_.order, backend)
    dc = _BlockSolver(sys_.l, sys_.n_interior, sys_.order, backend)
    forward_ = energy or m <= n_z
    e = sys_.e.toarray()
    if forward_:
        w_dc = dc.solve(e)  # (N, m)
        z_dc = (sys_.q @ w_dc + sys_.r).T
        i_dc = (sys_.su @ w_dc + sys_.ss).T if energy else None
        rhs0 = e
    else:
        w_dc = dc.solve(sys_.q.T.toarray(), transpose=True)  # (N, n_z)
        z_dc = (w_dc.T @ e + sys_.r).T
        i_dc = None
        rhs0 = sys_.q.T.toarray()
    impulse_z = np.empty((k_max + 1, m, n_z))
    impulse_i = np.empty((k_max + 1, m, m)) if energy else None
    prev2 = np.zeros((n, rhs0.shape[1]))
    prev = step.solve(rhs0, transpose=not forward_)
    for k in range(k_max + 1):
        if k > 0:
            nxt = step.solve(cdiag[:, None] * (4.0 * prev - prev2), transpose=not forward_)
            prev2, prev = prev, nxt
        if not np.all(np.isfinite(prev)):
            raise ConvergenceError("read-time transient produced non-finite values; check the circuit's values", rundir=None)
        if forward_:
            impulse_z[k] = (sys_.q @ prev).T
            if energy:
                impulse_i[k] = (sys_.su @ prev).T
        else:
            impulse_z[k] = e.T @ prev
    impulse_z[0] += sys_.r.T
    if energy:
        impulse_i[0] += sys_.ss.T
        # charging current of capacitance on a source node, BDF2's derivative: Cs (3V_k - 4V_k-1 + V_k-2) / 2h
        for lag, w in ((0, 1.5), (1, -2.0), (2, 0.5)):
            if lag <= k_max:
                impulse_i[lag] += np.diag(sys_.cs * w / h)
    z_step = np.cumsum(impulse_z, axis=0)
    i_step = np.cumsum(impulse_i, axis=0) if energy else None
    return _Kernels(z_step=z_step, z_dc=z_dc, i_step=i_step, i_dc=i_dc)


def _causal_conv(dv: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[:, k] = sum_{j <= k} dv[:, j] @ kernel[k - j]``: ``dv (N, K+1, m)``, ``kernel (K+1, m, n)`` -> ``(N, K+1, n)`` (FFT)."""
    n_t = dv.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n_t)))
    fk = np.fft.rfft(kernel, n=size, axis=0)  # (F, m, n)
    fd = np.fft.rfft(dv, n=size, axis=1)  # (N, F, m)
    prod = np.einsum("nfm,fmo->nfo", fd, fk, optimize=True)
    return np.fft.irfft(prod, n=size, axis=1)[:, :n_t]


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

    ``mode``: "analog" (the fully-analog dense stack; layers run into each other in time) or "tiled"
    (each layer alone, read at ``t_read_s`` after its inputs step). ``energy``: also the drivers'
    energy (forward kernels, ``m`` right-hand sides per step). Building costs ``K`` sparse solves
    per layer with ``min(m, n)`` right-hand sides; ``run`` is dense products and FFTs.
    """

    #: images per chunk of the per-image products (bounds memory at ~K x n x 8 B per image and layer)
    CHUNK = 256

    def __init__(self, net: MappedNetwork, wires: WireParasitics, spec: ReadTimeSpec, *, mode: str = "analog",
                 energy: bool = False, adc=None, band_ratio: float = 0.01, backend: str = "auto") -> None:
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
        self._dc = None
        backend = resolve_backend(backend)
        t0 = time.perf_counter()
        h, k_max = spec.step_s, spec.n_steps
        self.systems = [layer_system(net, wires, l, tiled=mode == "tiled") for l in range(len(net.layers))]
        self.kernels = [_kernels(s, h, k_max, energy=energy, backend=backend) for s in self.systems]
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

    def run(self, u: np.ndarray) -> ReadTimeResult:
        """Outputs at the read time for hardware inputs ``u`` ``(N, n_in)`` (units of ``v_read_v``)."""
        t0 = time.perf_counter()
        net = self.net
        a_all = net.check_inputs(u)
        outs, pres, settle, energies, waves = [], [], [], [], []
        for start in range(0, a_all.shape[0], self.CHUNK):
            a = a_all[start : start + self.CHUNK]
            res = self._tiled(a) if self.mode == "tiled" else self._analog(a)
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
            energy_j=np.concatenate(energies) if self.energy else None,
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

    def _analog(self, u: np.ndarray):
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
                z_t = (v0 @ kern.z_dc)[None, None, :] + np.einsum("nm,kmo->nko", u * net.v_read_v, self.ramped[0][:, :-1, :])
                if self.energy:
                    v_t = np.concatenate([(u * net.v_read_v)[:, None, :] * self.spec.ramp()[None, :, None],
                                          np.broadcast_to(net.periphery.v_bias_v, (n, k_max + 1, 1))], axis=2)
            else:
                dv = np.diff(v_t, axis=1, prepend=v_t[:, :1])
                z_t = (v_t[:, :1] @ kern.z_dc) + _causal_conv(dv, kern.z_step)
            if self.energy:
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
