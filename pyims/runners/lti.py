"""Linear time-invariant layers: BDF2 step-response kernels of a crossbar layer under wire R and C.

The transient counterpart of the DC port-matrix solver (``pyims.runners.native``). Each crossbar
layer -- every tile with the R and C of every wire segment, and the sense periphery its topology
gives it (virtual grounds, op-amp loads, difference amplifiers, averaging: all static) -- is one
linear time-invariant system from its row voltages ``V(t)`` (inputs, bias row, or the previous
layer's neuron outputs, which are ideal voltage sources) to its outputs ``z(t)``:

    C x' + L x = E V(t),        z = Q x + R V

Integrated with the second-order backward differentiation formula (BDF2 = Gear 2, what ngspice
uses for networks: L-stable, so the stiff modes of tiny wire segments are damped) on a uniform
grid of step ``h``,

    (3C/2h + L) x[k] = C/2h (4 x[k-1] - x[k-2]) + E V[k],

the layer is a discrete convolution: starting from the DC state of its initial inputs (as a
SPICE transient does), ``z[k] = z_dc(V[0]) + sum_j (V[j] - V[j-1]) @ S[k - j]`` with ``S`` its
step-response kernel (``StepKernels.z_step``, ``(K+1, m, n_z)``). ``step_kernels`` computes ``S``
once per layer by running the BDF2 recursion on a block of right-hand sides -- the ``m`` row
sources, or, when fewer, the ``n_z`` outputs through the adjoint (the recursion's matrices are
polynomials in ``M^-1 C`` times ``M^-1``, so the transposed system runs the same recursion) -- each
step one factorization reused (``LayerSolver``: CHOLMOD on the tiles' interiors, the few sense
nodes by a dense Schur complement). Applying a kernel is then dense products: ``conv_scalar`` for
inputs that all follow one profile, ``causal_conv`` (FFT) for arbitrary waveforms. The build reports its
progress step by step (``step_kernels(progress=...)``, ``kernel_work``): a big layer's recursion can take minutes
(the shipped LeNet's 120-output layer: 0.4-0.7 s per step with CHOLMOD, 3-5 s with SuperLU). Exact for the
discretised circuit; the discretisation error is O(h^2) (``docs/capacitance.md``).

``pyims.inference.read_time`` evaluates networks with these kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from pyims.components.sense import diff_matrix
from pyims.errors import ConvergenceError
from pyims.runners.factor import SpdFactor, resolve_backend
from pyims.runners.native import SCHUR_MIN_UNKNOWNS, assemble_tile
from pyims.runners.ordering import grid_order

if TYPE_CHECKING:
    from pyims.mapping import MappedNetwork

__all__ = ["LtiBlock", "layer_blocks", "LayerSolver", "StepKernels", "step_kernels", "kernel_work", "causal_conv",
           "conv_scalar"]

#: Work units of ``step_kernels``' progress: one packed solve counts ``ceil(unknowns x right-hand sides / this)``
#: (its cost, to the factor of a layer's fill), so a bar over several layers moves in proportion to time.
KERNEL_WORK_UNIT = 100_000
#: The two factorizations of a layer count as this many packed solves (measured on the shipped LeNet's read time,
#: 128x128-cell tiles: both together cost 0.4 step solves with SuperLU, 1.6 with CHOLMOD).
KERNEL_FACTOR_SOLVES = 1


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LtiBlock:
    """One independent part of a layer: ``C x' + L x = E V_b``, ``z_b = Q x + R V_b``; source currents
    ``i_b = Su x + Ss V_b + Cs dV_b/dt`` (energy). ``rows`` / ``outs`` index the layer's rows and ``z``.

    Unknowns: the tiles' interiors (the first ``n_interior``, an SPD block), then the block's sense
    nodes (loaded senses only).
    """

    rows: np.ndarray  # (m_b,) layer row indices
    outs: np.ndarray  # (n_b,) indices into the layer's z (partial outputs: partition-major p * n_out + j)
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


def layer_blocks(net: "MappedNetwork", l: int) -> list[LtiBlock]:
    """Crossbar layer ``l`` of ``net`` (on its wires) as independent blocks: a tile alone when it ends in a 0 V
    virtual ground, else the tiles that share sense nodes (``Combiner.groups``) with those nodes and their load.
    The topology says which sense each tile sees and how many partial results each output has
    (``partial_outputs``): with more than one, ``z`` has one entry per (partition, output), ``n_h * n_out``
    partition-major; with one, the partitions' contributions to an output add up in ``z``."""
    layer = net.layers[l]
    wires = net.wires
    topology = net.topology
    sense = topology.tile_sense(net)
    n_parts = topology.partial_outputs(layer)
    gain = net.layer_gain(l)
    scale = layer.w_max / layer.dg_s
    v_read = net.v_read_v
    n_out, n_h = layer.n_out, layer.n_h
    out: list[LtiBlock] = []
    for c in range(layer.n_v):
        outs = layer.outs_of(c)
        n_c = outs.stop - outs.start
        load = sense.load(n_c, gain=gain)
        groups = tuple((p,) for p in range(n_h)) if load is None else net.combiner.groups(n_h)
        for group in groups:
            tiles = [(p, assemble_tile(layer.tile(p, c, wires))) for p in group]
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
                z0 = (p if n_parts > 1 else 0) * n_out + outs.start
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
            orders = [o + (grid_order(b) if b.l_uu.shape[0] else np.zeros(0, dtype=np.int64))
                      for (_, b), o in zip(tiles, offs[:-1])]
            out.append(LtiBlock(rows=rows, outs=outs_b, l=lmat, c=cap, e=e, q=sp.csr_matrix(q), r=r,
                              su=su, ss=ss, cs=cs, n_interior=n_i, order=np.concatenate(orders)))
    return out


class LayerSolver:
    """A layer's blocks as one block-diagonal system ``M = [[A, B], [C, D]]``: ``A`` all the interiors (SPD,
    factored once: CHOLMOD for big layers, SuperLU for small), ``D`` all the sense nodes (few per block; a
    controlled source makes it non-symmetric), ``C = B^T`` (the tiles' couplings). The sense nodes go through
    the (block-diagonal, sparse) Schur complement. Right-hand sides are *packed*: the blocks are independent,
    so each block's columns sit side by side in the same ``r`` columns (block b uses its first ``r_b``)."""

    def __init__(self, blocks: list[LtiBlock], shift: float) -> None:
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


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StepKernels:
    """A layer's step responses (row-vector convention: ``z = V @ z_dc`` at DC), volts in, outputs out.

    Attributes:
        z_step: float64 ``(K+1, m, n_z)``: output ``j`` at grid step ``k`` after row ``i`` steps by 1 V at step 0.
        z_dc: float64 ``(m, n_z)``: the settled outputs per volt on each row (the layer's DC map).
        i_step / i_dc: the rows' source currents (A per V) likewise, ``(K+1, m, m)`` / ``(m, m)``; ``None``
            unless built with ``energy=True``.
    """

    z_step: np.ndarray
    z_dc: np.ndarray
    i_step: np.ndarray | None
    i_dc: np.ndarray | None


def _forward(blocks: list[LtiBlock], energy: bool) -> bool:
    """Whether the kernels run forward (the rows as right-hand sides) rather than adjoint (the outputs)."""
    return energy or max(b.e.shape[1] for b in blocks) <= max(b.q.shape[0] for b in blocks)


def _solve_work(blocks: list[LtiBlock], energy: bool) -> int:
    """Work units of one packed solve of the layer (``KERNEL_WORK_UNIT``): unknowns x right-hand sides."""
    width = max(b.e.shape[1] for b in blocks) if _forward(blocks, energy) else max(b.q.shape[0] for b in blocks)
    return max(1, -(-sum(b.l.shape[0] for b in blocks) * width // KERNEL_WORK_UNIT))


def kernel_work(blocks: list[LtiBlock], k_max: int, *, energy: bool) -> int:
    """The work units ``step_kernels(blocks, ..., k_max, energy=energy, progress=...)`` reports in all: the two
    factorizations, the DC solve and ``k_max + 1`` step solves, each weighted by its size (``KERNEL_WORK_UNIT``)."""
    return _solve_work(blocks, energy) * (KERNEL_FACTOR_SOLVES + 1 + k_max + 1)


def step_kernels(blocks: list[LtiBlock], m: int, n_z: int, h: float, k_max: int, *, energy: bool,
                 progress: Callable[[int], None] | None = None) -> StepKernels:
    """BDF2 step responses of the layer (see the module docstring): forward (each block's rows as right-hand
    sides) or adjoint (its outputs), whichever is fewer -- forward when the source currents are wanted --
    all blocks in one packed solve per step.

    ``progress(units)``, when given, is called after the factorizations, the DC solve and every step of the
    recursion with the work units just done (``kernel_work`` in all), so a long layer shows movement."""
    forward_ = _forward(blocks, energy)
    unit = _solve_work(blocks, energy)
    report = progress if progress is not None else (lambda units: None)
    step = LayerSolver(blocks, 1.5 / h)  # 3C / 2h
    dc = LayerSolver(blocks, 0.0)
    report(KERNEL_FACTOR_SOLVES * unit)
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
    report(unit)
    prev2 = np.zeros_like(seed)
    prev = step.solve(seed, transpose=not forward_)
    for k in range(k_max + 1):
        if k > 0:
            prev2, prev = prev, step.solve(cdiag[:, None] * (4.0 * prev - prev2), transpose=not forward_)
        read(prev, imp_z[k], imp_i[k] if energy else None)
        report(unit)
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
    return StepKernels(z_step=np.cumsum(imp_z, axis=0), z_dc=z_dc,
                    i_step=np.cumsum(imp_i, axis=0) if energy else None, i_dc=i_dc)


def causal_conv(dv: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[:, k] = sum_{j <= k} dv[:, j] @ kernel[k - j]``: ``dv (N, K+1, m)``, ``kernel (K+1, m, n)`` -> ``(N, K+1, n)`` (FFT)."""
    n_t = dv.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n_t)))
    fk = np.fft.rfft(kernel, n=size, axis=0)  # (F, m, n)
    fd = np.fft.rfft(dv, n=size, axis=1)  # (N, F, m)
    prod = np.matmul(fd.transpose(1, 0, 2), fk)  # (F, N, n): one product per frequency
    return np.fft.irfft(prod.transpose(1, 0, 2), n=size, axis=1)[:, :n_t]



def conv_scalar(d: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[k] = sum_{j <= k} d[j] kernel[k - j]`` for a scalar series ``d (K+1,)`` and ``kernel (K+1, ...)``."""
    n_t = d.size
    size = 1 << int(np.ceil(np.log2(2 * n_t)))
    fk = np.fft.rfft(kernel, n=size, axis=0)
    fd = np.fft.rfft(d, n=size)
    shape = (-1,) + (1,) * (kernel.ndim - 1)
    return np.fft.irfft(fd.reshape(shape) * fk, n=size, axis=0)[:n_t]


