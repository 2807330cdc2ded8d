"""Read noise per MVM under wire resistance: every input vector reads its own conductances.

A device with read noise (``MappedLayer.read_sigma_pos_s`` / ``read_sigma_neg_s``) gives every read a
fresh draw: input vector ``b`` of a tile sees ``G~ = max(G + sigma * xi_b, G_FLOOR_S)`` with
``xi_b ~ N(0, 1)`` per cell. With wire resistance each vector is then a different linear circuit. Its
factorization is not redone per vector; the noiseless one is reduced, once per tile, to

* ``D`` (``drop``, ``(m, cells)``): the voltage across every cell per volt on each row input, so a vector's
  noiseless cell voltages are ``dx = v @ D`` (m solves);
* ``A`` (``sens``, ``(cells, n)``): ``A[k, j] = lambda_j[col node of k] - lambda_j[row node of k]`` with
  ``lambda_j`` the node voltages when column j's sense node is held at 1 V and every other port at 0 V
  (the adjoint of column current j; ``lambda_j`` lies in [0, 1], so ``|A| <= 1``; n solves);
* the wire-only transfer resistances ``R_row`` ``(n, n)`` and ``R_col`` ``(m, m)`` (no solve): the voltage
  across cell (i, j') per ampere pushed through cell (i, j) by the row wire alone is ``R_row[j, j'] =
  r_driver + r_row min(q_j, q_j')`` (``q`` the segments from the driver), along a column ``R_col[i, i'] =
  r_sense + r_col min(m-1-i, m-1-i')``; ``P_w = I_m (x) R_row + R_col (x) I_n`` for all cells at once.

**The exact change.** With the noiseless node voltages x and the noisy ones x~ (same sources), the change
of column current j is exactly (an adjoint identity: the noiseless ``lambda_j``, the *noisy* drops)

    dI_j = sum_k A[k, j] t_k,     t = dG dx~,     dx~ = (I + P dG)^-1 dx,

with ``dg = G~ - G`` (clipping included) and ``P = B K^-1 B^T`` the noiseless tile's cell-to-cell transfer
resistance (K its nodal matrix, B the cells' incidence). Because the cells only add conductance to the
wires, ``P = P_w (I + G P_w)^-1`` and ``0 <= P_w - P <= P_w G P_w``. Per vector, with ``w = dg dx``:

* ``"first_order"``: ``t = w``; exact without wires (``P = 0``: ``I = G V``);
* ``"second_order"`` (the default): ``t = w - dG P^ w`` with ``P^ = sum_{s <= S} (-1)^s P_K (G P_K)^s``
  (``S = shunt_terms``, default 0) and ``P_K`` the wire kernels' ``kernel_rank`` largest eigenpairs
  (default 4; ``None``: whole). ``P_K w`` costs two thin products per vector, nothing is solved;
* ``"exact"``: every vector's tile factored and solved (sparse): the reference.

Then ``dI = t @ A`` (one product per tile), in pre-activation units folded with the G+/G- difference.

**Its error.** ``t - t^ = (dG P)^2 (I + dG P)^-1 w + dG (P^ - P) w``. With ``lam_w = lambda_max(P_w)``,
``gamma = g_max lam_w`` (the cells' largest share of the wire paths), ``tau = ||P_w - P_K||`` (the first dropped
eigenvalues) and ``rho = max|dg| lam_w`` (>= ||dG P||),
``||P^ - P|| <= delta = lam_w gamma^(S+1) + tau sum_{s<=S} (s+1) gamma^s``, so every output of every vector obeys

    |error_j| <= ||A[:, j]|| ||w|| (rho^2 / (1 - rho) + max|dg| delta)     (second order; rho < 1)
    |error_j| <= ||A[:, j]|| ||w|| rho / (1 - rho)                           (first order)

(``TileSensitivity.error_bound``). This holds for every draw but is loose: it takes the worst alignment of
independent random vectors (a factor ~sqrt(cells) and more) and can exceed the deviation itself on
128-cell tiles. The typical sizes, relative to the noise-induced deviation: the first order's neglected
term is ``eps ~ sqrt(max_k sum_k' P_kk'^2 sigma_k'^2) + max_j sqrt(sum_i P_kk^2 sigma_k^2)`` (~sigma r n^1.5;
``TileSensitivity.first_order_ratio``, which bounds the measured error within 1-3x); the second order leaves
``eps (kappa + tau/lam_w + eps)`` with ``kappa = ||P_w - P|| / lam_w`` (~5-10 % on 64-128-row tiles). Measured at 2 ohm per
segment with PCM one hour after programming: first order ~1e-3, second order ~5e-5 (64x64, 128x64 tiles),
~1e-5 on the LeNet's layers; ``docs/read-noise.md``.

**Read power.** The drivers' power changes by exactly ``dP = sum_k dx_k t_k`` (the sources see the cells'
extra dissipation); the same ``t`` gives it with the same error.

**Seeding.** The draws of crossbar layer ``k`` for image ``g`` (its global index in the test set) come from
``numpy.random.default_rng([device.seed, k, g, READ_NOISE_STREAM])`` (the fourth word keeps them apart from
the mapping's ``[seed, k]`` stream: numpy pads seed words with zeros) as float32 standard normals by
Box-Muller (``standard_normals``; |xi| <= 5.77: a float32 uniform is >= 2^-24; bit-identical on one machine,
to float32 rounding across CPUs), one per cell of the layer per vector the image reads, laid out
``(vectors, n_rows, n_out, 2)`` (last axis: G+, G-) -- independent of the partition plan, of chunking, batch
size, threads and worker count. A convolution reads one vector per output position, so an image draws
(positions x cells) at once. ``build_noisy_layer_netlist`` writes the same draws into ngspice: every vector
its own copy of every tile.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from pyims.components.sense import diff_matrix
from pyims.devices.base import G_FLOOR_S
from pyims.errors import ConvergenceError, SpecError
from pyims.mapping import MappedLayer, MappedNetwork
from pyims.netlist.model import GROUND, Element, Netlist, OperatingPoint, VoltageSource
from pyims.netlist.tile import TileNodes, crossbar_elements
from pyims.netlist.tile_circuit import NodeLayout
from pyims.runners.factor import SpdFactor, resolve_backend
from pyims.runners.native import NativeTileSolver, assemble_tile
from pyims.spec import TileSpec, WireParasitics

__all__ = [
    "READ_NOISE_STREAM",
    "READ_NOISE_METHODS",
    "READ_NOISE_PRECISIONS",
    "MAX_SENSITIVITY_BYTES",
    "ReadNoiseOptions",
    "TileSensitivity",
    "LayerReadNoise",
    "ReadNoise",
    "read_noise_rng",
    "standard_normals",
    "layer_draws",
    "noisy_conductances",
    "exact_tile_currents",
    "NoisyLayerNetlist",
    "build_noisy_layer_netlist",
    "has_read_noise",
    "without_read_noise",
]

log = logging.getLogger(__name__)

#: The fourth word of every read-noise seed key ``[device.seed, k, image, READ_NOISE_STREAM]`` ("READ").
READ_NOISE_STREAM = 0x52454144

#: How each vector's noisy read is computed (module docstring).
READ_NOISE_METHODS = ("first_order", "second_order", "exact")

#: The arithmetic of the noise term: "single" (float32; ~1e-7 of the deviation, 2-4x faster) or "double".
READ_NOISE_PRECISIONS = ("single", "double")

#: Vectors computed together at least (a dense layer's block would otherwise hold a handful of vectors).
MIN_BLOCK_VECTORS = 64

#: The largest total size of the tiles' sensitivities (``D`` and ``A``) a network may need, bytes.
MAX_SENSITIVITY_BYTES = 4 * 2**30


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadNoiseOptions:
    """How the native solver evaluates read noise (``NativeNetwork(..., read_noise=...)``; module docstring).

    Attributes:
        method: "second_order" (default; ~5e-5 of the noise-induced deviation on 64-128-row tiles at 2 ohm per
            segment), "first_order" (~1e-3 there; exact without wires) or "exact" (every vector's tiles factored
            and solved: the reference, slow).
        kernel_rank: eigenpairs of each wire kernel the second order keeps (``None``: all; with 4 the measured
            error is that of all, within a factor 1.5 either way).
        shunt_terms: terms of the cells' share of the wire paths in the second order (0: the wire-only
            kernel; 1: ~10x more accurate with whole kernels, twice the kernel cost).
        precision: "single" (float32 arithmetic of the noise term, the default: ~1e-7 of the deviation) or
            "double".
        block_elements: cells x vectors computed at a time (memory: ~7 x 4 bytes x this per thread; the default
            2^16 keeps a block's work arrays in one core's cache: 2^21 measured 1.3x the CPU time on the LeNet).
        threads: image blocks computed side by side (``None``: the machine's cores, at most 4). Results do
            not depend on it.
    """

    method: str = "second_order"
    kernel_rank: int | None = 4
    shunt_terms: int = 0
    precision: str = "single"
    block_elements: int = 1 << 16
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.method not in READ_NOISE_METHODS:
            raise SpecError(f"ReadNoiseOptions.method={self.method!r} is unknown; use one of "
                            f"{', '.join(repr(m) for m in READ_NOISE_METHODS)}")
        rank = self.kernel_rank
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1):
            raise SpecError(f"ReadNoiseOptions.kernel_rank={self.kernel_rank!r} must be an integer >= 1, or None for "
                            "the whole wire kernels")
        if isinstance(self.shunt_terms, bool) or not isinstance(self.shunt_terms, (int, np.integer)) or self.shunt_terms < 0:
            raise SpecError(f"ReadNoiseOptions.shunt_terms={self.shunt_terms!r} must be an integer >= 0")
        if self.precision not in READ_NOISE_PRECISIONS:
            raise SpecError(f"ReadNoiseOptions.precision={self.precision!r} is unknown; use 'single' or 'double'")
        if isinstance(self.block_elements, bool) or not isinstance(self.block_elements, (int, np.integer)) \
                or self.block_elements < 1:
            raise SpecError(f"ReadNoiseOptions.block_elements={self.block_elements!r} must be an integer >= 1")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise SpecError(f"ReadNoiseOptions.threads={self.threads!r} must be an integer >= 1, or None for automatic")

    @property
    def dtype(self) -> type:
        return np.float32 if self.precision == "single" else np.float64

    @classmethod
    def of(cls, value: "ReadNoiseOptions | None") -> "ReadNoiseOptions":
        """``value``, or the defaults for ``None``; SpecError for anything else (what every ``read_noise=`` takes)."""
        if value is None:
            return cls()
        if not isinstance(value, cls):
            raise SpecError(f"read_noise is a {type(value).__name__}; pass a pyims.inference.read_noise.ReadNoiseOptions "
                            "(or None: its defaults)")
        return value

    @property
    def n_threads(self) -> int:
        """Image blocks computed side by side: ``threads``, or the machine's cores (at most 4); 1 for method "exact"
        (it shares each tile's noiseless solver between blocks)."""
        if self.method == "exact":
            return 1
        return self.threads if self.threads is not None else min(4, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------- draws
def read_noise_rng(seed: int, k: int, image: int) -> np.random.Generator:
    """The generator of crossbar layer ``k``'s read-noise draws for image ``image`` (global index), device ``seed``."""
    for name, value in (("seed", seed), ("layer", k), ("image", image)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise SpecError(f"read noise draws are keyed by integers >= 0; {name}={value!r}")
    return np.random.default_rng([int(seed), int(k), int(image), READ_NOISE_STREAM])


class _Scratch:
    """Work arrays reused across blocks (one set per thread): a fresh multi-megabyte numpy array costs its page
    faults on first touch, ~25 % of the whole evaluation here."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        size = int(np.prod(shape))
        buf = self._bufs.get(name)
        if buf is None or buf.size < size or buf.dtype != np.dtype(dtype):
            buf = self._bufs[name] = np.empty(max(size, 1), dtype=dtype)
        return buf[:size].reshape(shape)


_THREAD = threading.local()


def _scratch() -> _Scratch:
    """This thread's work arrays."""
    if not hasattr(_THREAD, "scratch"):
        _THREAD.scratch = _Scratch()
    return _THREAD.scratch


def standard_normals(rng: np.random.Generator, count: int, out: np.ndarray | None = None) -> np.ndarray:
    """``count`` float32 standard normals from ``rng`` by Box-Muller: ``2 * ceil(count / 2)`` float32 uniforms
    ``u``, first half ``a``, second half ``b``; ``r = sqrt(-2 ln(1 - a))``; the cosines ``r cos(2 pi b)`` then the
    sines ``r sin(2 pi b)``, the first ``count`` of them (into ``out`` when given: float32, ``count`` values)."""
    count = int(count)
    half = (count + 1) // 2
    u = rng.random(2 * half, dtype=np.float32, out=_scratch().get("uniforms", (2 * half,)))
    a, b = u[:half], u[half:]
    np.log1p(np.negative(a, out=a), out=a)
    np.sqrt(np.multiply(a, np.float32(-2.0), out=a), out=a)  # r
    np.multiply(b, np.float32(2.0 * math.pi), out=b)  # theta
    res = np.empty(count, dtype=np.float32) if out is None else out.reshape(-1)
    if out is not None and (out.dtype != np.float32 or res.size != count or not np.shares_memory(res, out)):
        raise SpecError(f"standard_normals: out must be a contiguous float32 array of {count} values")
    np.multiply(np.cos(b, out=res[:half]), a, out=res[:half])
    np.sin(b, out=b)
    np.multiply(a[: count - half], b[: count - half], out=res[half:])
    return res if out is None else out


def layer_draws(seed: int, k: int, images: Sequence[int] | np.ndarray, per_image: int, n_rows: int,
                n_out: int) -> np.ndarray:
    """``xi``: float32 ``(len(images) * per_image, n_rows, n_out, 2)``: every cell's standard normal for every vector
    images ``images`` (global indices) read through crossbar layer ``k`` (``per_image`` vectors each, image-major);
    last axis G+ (0) and G- (1)."""
    return _layer_draws(seed, k, images, per_image, n_rows, n_out,
                        np.empty((len(np.atleast_1d(images)), per_image, n_rows, n_out, 2), dtype=np.float32))


def _layer_draws(seed: int, k: int, images: Sequence[int] | np.ndarray, per_image: int, n_rows: int, n_out: int,
                 out: np.ndarray) -> np.ndarray:
    """``layer_draws`` into ``out`` (float32 ``(len(images), per_image, n_rows, n_out, 2)``)."""
    images = np.asarray(images, dtype=np.int64).reshape(-1)
    for q, g in enumerate(images.tolist()):
        standard_normals(read_noise_rng(seed, k, g), per_image * n_rows * n_out * 2, out=out[q])
    return out.reshape(images.size * per_image, n_rows, n_out, 2)


def noisy_conductances(g_s: np.ndarray, sigma_s: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """The conductances a read sees, float64 (S): ``max(g_s + sigma_s * xi, G_FLOOR_S)`` (broadcast)."""
    return np.maximum(np.asarray(g_s, dtype=np.float64) + np.asarray(sigma_s, dtype=np.float64) * xi, G_FLOOR_S)


# ---------------------------------------------------------------------------------------------- one tile
def wire_kernels(tile: TileSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(R_row (n, n), R_col (m, m))`` ohm: the wire-only transfer resistances between the cells of one row / one
    column (module docstring), from the tile's node layout (zero-ohm wires merged)."""
    lay = NodeLayout.of(tile)
    w = tile.wires
    q_row = (np.arange(lay.n_cols) // lay.cols_per_row_node) if w.r_row_ohm > 0.0 else np.zeros(lay.n_cols, np.int64)
    q_col = (lay.n_rows - 1 - np.arange(lay.n_rows)) if w.r_col_ohm > 0.0 else np.zeros(lay.n_rows, np.int64)
    r_row = w.r_driver_ohm + w.r_row_ohm * np.minimum.outer(q_row, q_row).astype(np.float64)
    r_col = w.r_sense_ohm + w.r_col_ohm * np.minimum.outer(q_col, q_col).astype(np.float64)
    return r_row, r_col


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TileSensitivity:
    """A tile's noiseless factorization reduced to what read noise needs (module docstring).

    Attributes:
        tile: the noiseless tile (mean conductances).
        drop: float64 ``(m, m * n)``: volts across cell (i, j) (flattened row-major) per volt on each row input.
        sens: float64 ``(m * n, n)``: ``A``, the change of column current j per siemens of cell k per volt across
            it (dimensionless; ~1 for the cells of column j, small elsewhere).
        r_row_ohm / r_col_ohm: float64 ``(n, n)`` / ``(m, m)``: the wire-only transfer-resistance kernels.
        row_eig / col_eig: their eigenvalues (ascending, ohm) and eigenvectors (columns).
    """

    tile: TileSpec
    drop: np.ndarray
    sens: np.ndarray
    r_row_ohm: np.ndarray
    r_col_ohm: np.ndarray
    row_eig: tuple[np.ndarray, np.ndarray]
    col_eig: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, tile: TileSpec) -> "TileSensitivity":
        """Factor ``tile`` once and solve for ``D`` (m right-hand sides) and ``A`` (n right-hand sides)."""
        if not isinstance(tile, TileSpec):
            raise SpecError(f"TileSensitivity needs a TileSpec, got {type(tile).__name__}")
        b = assemble_tile(tile)
        m, n = tile.n_rows, tile.n_cols
        if b.n_unknowns:
            try:  # CHOLMOD's own nested dissection: its solves with many right-hand sides are the faster here
                factor = SpdFactor(b.l_uu, resolve_backend("auto"))
            except np.linalg.LinAlgError as exc:
                raise ConvergenceError(f"read noise: the {m}x{n} tile's nodal matrix is singular ({exc}); check for "
                                       "conductances so small that nodes float", rundir=None) from exc
            # interior voltages per volt on each row (first m), and with sense j at 1 V (last n): one solve
            sol = -factor.solve(np.hstack([b.l_us.toarray(), b.l_ku.T.toarray()]))
            if not np.all(np.isfinite(sol)):
                raise ConvergenceError(f"read noise: the {m}x{n} tile's solves are not finite", rundir=None)
            x, lam = sol[:, :m], sol[:, m:]
        else:
            x, lam = np.zeros((0, m)), np.zeros((0, n))
        rn, cn = b.row_nodes, b.col_nodes
        known_row, known_col = (rn < 0)[..., None], (cn < 0)[..., None]
        # a known row node is row i's source (1 V per volt of input i); a known column node is column j's sense (0 V)
        v_row = np.where(known_row, np.eye(m)[:, None, :], x[np.maximum(rn, 0)] if x.size else 0.0)
        v_col = np.where(known_col, 0.0, x[np.maximum(cn, 0)] if x.size else 0.0)
        drop = np.ascontiguousarray((v_row - v_col).reshape(m * n, m).T)
        # the adjoint field of column j: 0 at every source, 1 at sense j (the cell's own column when known)
        l_row = np.where(known_row, 0.0, lam[np.maximum(rn, 0)] if lam.size else 0.0)
        l_col = np.where(known_col, np.eye(n)[None, :, :], lam[np.maximum(cn, 0)] if lam.size else 0.0)
        sens = np.ascontiguousarray((l_col - l_row).reshape(m * n, n))
        r_row, r_col = wire_kernels(tile)
        row_eig, col_eig = np.linalg.eigh(r_row), np.linalg.eigh(r_col)
        for arr in (drop, sens, r_row, r_col, *row_eig, *col_eig):
            arr.flags.writeable = False
        return cls(tile=tile, drop=drop, sens=sens, r_row_ohm=r_row, r_col_ohm=r_col, row_eig=tuple(row_eig),
                   col_eig=tuple(col_eig))

    @property
    def n_rows(self) -> int:
        return self.tile.n_rows

    @property
    def n_cols(self) -> int:
        return self.tile.n_cols

    @property
    def lam_w_ohm(self) -> float:
        """``lambda_max(P_w)`` = ``lambda_max(R_row) + lambda_max(R_col)``, ohm."""
        return float(max(self.row_eig[0][-1], 0.0) + max(self.col_eig[0][-1], 0.0))

    @property
    def wired(self) -> bool:
        """Whether any wire resistance couples the cells (else the first order is exact)."""
        return self.lam_w_ohm > 0.0

    @property
    def gamma(self) -> float:
        """``g_max lambda_max(P_w)``: the cells' largest share of the wire paths (bounds ``||P_w - P|| / ||P_w||``)."""
        return float(self.tile.g_s.max()) * self.lam_w_ohm

    def transfer(self) -> np.ndarray:
        """``T`` ``(m, n)`` S rebuilt from ``D`` (a column's current is the sum of its cells'): a check on ``D``."""
        m, n = self.n_rows, self.n_cols
        return np.einsum("aij,ij->aj", self.drop.reshape(m, m, n), self.tile.g_s)

    def kernel_factors(self, rank: int | None, dtype: type = np.float64) -> tuple[np.ndarray, ...]:
        """``(U_row (n, K), lam_row (K,), U_col (m, K'), lam_col (K',))``: the ``rank`` largest eigenpairs of each
        kernel (``None``: all), so ``P_K = I (x) U_row lam_row U_row^T + U_col lam_col U_col^T (x) I``."""
        out = []
        for vals, vecs in (self.row_eig, self.col_eig):
            keep = vals.size if rank is None else min(int(rank), vals.size)
            out += [np.ascontiguousarray(vecs[:, vals.size - keep :], dtype=dtype), vals[vals.size - keep :].astype(dtype)]
        return tuple(out)

    def kernel_tail_ohm(self, rank: int | None) -> float:
        """``||P_w - P_K||`` = ``lambda_{K+1}(R_row) + lambda_{K+1}(R_col)``, ohm (0 for the whole kernels)."""
        tail = 0.0
        for vals, _ in (self.row_eig, self.col_eig):
            if rank is not None and rank < vals.size:
                tail += max(float(vals[vals.size - 1 - rank]), 0.0)
        return tail

    def cell_terms(self, v: np.ndarray, dg_s: np.ndarray,
                   options: "ReadNoiseOptions | None" = None) -> tuple[np.ndarray, np.ndarray]:
        """``(dx, t)``: the noiseless cell voltages ``v @ D`` and the cell terms (first order ``w = dg dx``, second
        order ``w - dG P^ w``), both ``(B, m, n)``, for inputs ``v`` ``(B, m)`` and conductance changes ``dg_s``
        ``(B, m, n)`` S, in the dtype of ``v``."""
        opts = options if options is not None else ReadNoiseOptions()
        dx = (v @ self.drop.astype(v.dtype, copy=False)).reshape(dg_s.shape)
        t = dg_s * dx
        if opts.method == "second_order" and self.wired:
            factors = self.kernel_factors(opts.kernel_rank, v.dtype)
            t -= dg_s * approx_transfer(t, factors, self.tile.g_s.astype(v.dtype), opts.shunt_terms)
        return dx, t

    def delta_currents(self, v_in_v: np.ndarray, dg_s: np.ndarray, *,
                       options: "ReadNoiseOptions | None" = None) -> np.ndarray:
        """The change of the column currents ``(B, n)`` A for inputs ``v_in_v`` ``(B, m)`` V whose reads see
        ``G + dg_s`` (``dg_s`` ``(B, m, n)`` S), float64 (``options.method``: "first_order", "second_order" or
        "exact")."""
        v, dg = self._checked(v_in_v, dg_s)
        if options is not None and options.method == "exact":
            return exact_tile_currents(self.tile, v, self.tile.g_s + dg)[0] - v @ self.transfer()
        _, t = self.cell_terms(v, dg, options)
        return t.reshape(t.shape[0], -1) @ self.sens

    def delta_power(self, v_in_v: np.ndarray, dg_s: np.ndarray, *, options: "ReadNoiseOptions | None" = None) -> np.ndarray:
        """The change of the power the row sources deliver ``(B,)`` W (``sum_k dx_k t_k``)."""
        v, dg = self._checked(v_in_v, dg_s)
        dx, t = self.cell_terms(v, dg, options)
        return np.einsum("bij,bij->b", dx, t)

    def error_bound(self, v_in_v: np.ndarray, dg_s: np.ndarray, *, options: "ReadNoiseOptions | None" = None) -> np.ndarray:
        """The rigorous bound ``(B, n)`` A on ``|delta_currents - exact|`` (module docstring); ``inf`` where
        ``rho = max|dg| lambda_max(P_w) >= 1``."""
        opts = options if options is not None else ReadNoiseOptions()
        v, dg = self._checked(v_in_v, dg_s)
        dx = (v @ self.drop).reshape(dg.shape)
        w_norm = np.sqrt(np.einsum("bij,bij->b", dg * dx, dg * dx))  # (B,)
        dg_max = np.max(np.abs(dg.reshape(dg.shape[0], -1)), axis=1)
        lam, gamma = self.lam_w_ohm, self.gamma
        rho = dg_max * lam
        with np.errstate(divide="ignore", invalid="ignore"):
            third = rho * rho / (1.0 - rho)  # (dG P)^2 (I + dG P)^-1
            if opts.method == "exact":
                factor = np.zeros_like(rho)
            elif opts.method == "first_order" or not self.wired:
                factor = rho / (1.0 - rho) if self.wired else np.zeros_like(rho)
            else:
                s_max = opts.shunt_terms
                delta = lam * gamma ** (s_max + 1) + self.kernel_tail_ohm(opts.kernel_rank) * sum(
                    (s + 1) * gamma**s for s in range(s_max + 1))
                factor = third + dg_max * delta
        factor = np.where(rho < 1.0, factor, np.inf)
        a_norm = np.sqrt(np.sum(self.sens**2, axis=0))  # (n,)
        return (w_norm * factor)[:, None] * a_norm[None, :]

    def first_order_ratio(self, sigma_s: np.ndarray) -> float:
        """The typical size of the first order's neglected term relative to the noise-induced deviation
        (module docstring): ``max_k sqrt(sum_k' P_w[k, k']^2 sigma_k'^2) + max_j sqrt(sum_i P_w[k, k]^2 sigma^2)``."""
        s2 = np.asarray(sigma_s, dtype=np.float64) ** 2
        if s2.shape != self.tile.g_s.shape:
            raise SpecError(f"sigma_s has shape {s2.shape}; the tile is {self.tile.g_s.shape}")
        r_row, r_col = self.r_row_ohm, self.r_col_ohm
        diag = np.add.outer(np.diag(r_col), np.diag(r_row))  # P_w[k, k], (m, n)
        coupled = s2 @ (r_row**2) + (r_col**2) @ s2 + 2.0 * np.outer(np.diag(r_col), np.diag(r_row)) * s2
        return float(np.sqrt(coupled.max()) + np.sqrt((diag**2 * s2).sum(axis=0)).max())

    def _checked(self, v_in_v: np.ndarray, dg_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = np.asarray(v_in_v, dtype=np.float64)
        dg = np.asarray(dg_s, dtype=np.float64)
        m, n = self.n_rows, self.n_cols
        if v.ndim != 2 or v.shape[1] != m:
            raise SpecError(f"inputs have shape {v.shape}; this tile needs (n_vectors, {m})")
        if dg.shape != (v.shape[0], m, n):
            raise SpecError(f"dg_s has shape {dg.shape}; pass one ({m}, {n}) array of conductance changes per vector: "
                            f"({v.shape[0]}, {m}, {n})")
        return v, dg


def apply_kernel(w: np.ndarray, factors: tuple[np.ndarray, ...], out: np.ndarray | None = None,
                 scratch: _Scratch | None = None) -> np.ndarray:
    """``P_K w`` for cell arrays ``w`` ``(B, m, n)``: the row kernel along every row, the column kernel along every
    column (``TileSensitivity.kernel_factors``), same shape and dtype (into ``out`` when given)."""
    u_row, l_row, u_col, l_col = factors
    bsz, m, n = w.shape
    k_row, k_col = u_row.shape[1], u_col.shape[1]
    work = scratch if scratch is not None else _Scratch()
    out = np.empty_like(w) if out is None else out
    coef = np.matmul(w.reshape(bsz * m, n), u_row, out=work.get("row_coef", (bsz * m, k_row), w.dtype))
    coef *= l_row
    np.matmul(coef, u_row.T, out=out.reshape(bsz * m, n))
    c = np.matmul(u_col.T, w, out=work.get("col_coef", (bsz, k_col, n), w.dtype))
    c *= l_col[:, None]
    out += np.matmul(u_col, c, out=work.get("col_back", (bsz, m, n), w.dtype))
    return out


def approx_transfer(w: np.ndarray, factors: tuple[np.ndarray, ...], g_s: np.ndarray, shunt_terms: int,
                    out: np.ndarray | None = None, scratch: _Scratch | None = None) -> np.ndarray:
    """``P^ w`` with ``P^ = sum_{s <= shunt_terms} (-1)^s P_K (G P_K)^s``, the noiseless cell-to-cell transfer
    resistance ``P = P_w (I + G P_w)^-1`` truncated (module docstring); ``w`` ``(B, m, n)``, ``g_s`` ``(m, n)``."""
    q = apply_kernel(w, factors, out, scratch)
    y = q
    for s in range(1, shunt_terms + 1):
        y = apply_kernel(y * g_s, factors)
        q += y if s % 2 == 0 else -y
    return q


def exact_tile_currents(tile: TileSpec, v_in_v: np.ndarray, g_noisy_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference: ``(i_col (B, n), i_src (B, m))`` A with vector ``b`` read through ``tile``'s wires and the cells
    ``g_noisy_s[b]`` (``(B, m, n)`` S): one sparse factorization and solve per vector."""
    v = np.asarray(v_in_v, dtype=np.float64)
    g = np.asarray(g_noisy_s, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != tile.n_rows or g.shape != (v.shape[0],) + tile.g_s.shape:
        raise SpecError(f"exact_tile_currents needs inputs (B, {tile.n_rows}) and conductances (B, {tile.n_rows}, "
                        f"{tile.n_cols}); got {v.shape} and {g.shape}")
    i_col, i_src = np.empty((v.shape[0], tile.n_cols)), np.empty((v.shape[0], tile.n_rows))
    for b in range(v.shape[0]):
        solver = NativeTileSolver(TileSpec(g_s=g[b], wires=tile.wires), method="solves")
        i_col[b], i_src[b] = (r[0] for r in solver.solve(v[b : b + 1]))
    return i_col, i_src


# ---------------------------------------------------------------------------------------------- a layer
@dataclass(frozen=True, slots=True, eq=False)
class _Tile:
    p: int
    c: int
    rows: slice
    outs: slice
    sens: TileSensitivity
    g_s: np.ndarray  # (m, 2 n_c) mean conductances, S
    sigma_s: np.ndarray  # (m * 2 n_c,) read-noise std, S (compute dtype)
    lo_s: np.ndarray  # (m * 2 n_c,) G_FLOOR_S - g_s: the smallest change a read may see (compute dtype)
    drop: np.ndarray  # (m, m * 2 n_c) compute dtype
    out_map: np.ndarray  # (m * 2 n_c, n_c): cell terms -> partial pre-activations (A D_diff w_max / dg), compute dtype
    factors: tuple[np.ndarray, ...] | None  # the wire kernels' factors (second order on a wired tile), compute dtype
    g_c: np.ndarray  # (m, 2 n_c) mean conductances in the compute dtype (shunt terms)
    solver: list = field(default_factory=list)  # "exact": the noiseless tile's solver, built when first needed


class LayerReadNoise:
    """Crossbar layer ``k``'s read noise on ``wires``: its tiles' sensitivities and the draws (module docstring)."""

    def __init__(self, layer: MappedLayer, k: int, wires: WireParasitics, seed: int,
                 options: ReadNoiseOptions | None = None) -> None:
        if not layer.read_noise:
            raise SpecError(f"crossbar layer {k + 1} has no read noise (read_sigma_pos_s is None)")
        self.layer, self.k, self.wires, self.seed = layer, int(k), wires, int(seed)
        self.options = options if options is not None else ReadNoiseOptions()
        dt = self.options.dtype
        scale = layer.w_max / layer.dg_s
        tiles = []
        for c in range(layer.n_v):
            for p in range(layer.n_h):
                tile = layer.tile(p, c, wires)
                sigma = layer.tile_read_sigma(p, c)
                sens = TileSensitivity.of(tile)
                n_c = layer.outs_of(c).stop - layer.outs_of(c).start
                out_map = (sens.sens @ diff_matrix(n_c)) * scale
                second = self.options.method == "second_order" and sens.wired
                tiles.append(_Tile(p=p, c=c, rows=layer.rows_of(p), outs=layer.outs_of(c), sens=sens, g_s=tile.g_s,
                                   sigma_s=sigma.astype(dt).ravel(), lo_s=(G_FLOOR_S - tile.g_s).astype(dt).ravel(),
                                   drop=sens.drop.astype(dt, copy=False), out_map=out_map.astype(dt, copy=False),
                                   factors=sens.kernel_factors(self.options.kernel_rank, dt) if second else None,
                                   g_c=tile.g_s.astype(dt)))
        self.tiles = tuple(tiles)

    @property
    def n_cells(self) -> int:
        """Cells of the layer: ``n_rows * n_out * 2``."""
        return self.layer.n_rows * self.layer.n_out * 2

    def block_images(self, per_image: int) -> int:
        """Images computed together when each reads ``per_image`` vectors: ~``block_elements`` cells x vectors, and at
        least ``MIN_BLOCK_VECTORS`` vectors (the products' efficiency; a dense layer reads one vector per image)."""
        per_image = max(int(per_image), 1)
        return max(-(-MIN_BLOCK_VECTORS // per_image), self.options.block_elements // (per_image * self.n_cells), 1)

    def draws(self, images: Sequence[int] | np.ndarray, per_image: int) -> np.ndarray:
        """``xi`` float32 ``(len(images) * per_image, n_rows, n_out, 2)`` (``layer_draws``)."""
        return layer_draws(self.seed, self.k, images, per_image, self.layer.n_rows, self.layer.n_out)

    def deltas(self, rows_aug: np.ndarray, images: Sequence[int] | np.ndarray, *, w: np.ndarray | None = None,
               energy: bool = False) -> tuple[list[np.ndarray], np.ndarray | None]:
        """What read noise adds to the layer's partial outputs: per horizontal partition ``p`` ``(M, n_out)``
        (pre-activation units), and to the read power ``(M,)`` (``energy``; times ``v_read_v**2``: watts), for the
        augmented row vectors ``rows_aug`` ``(M, n_rows)`` (units of ``v_read_v``) of images ``images`` (global
        indices, ``M / len(images)`` vectors each, image-major). ``w``: the layer's noiseless map ``(n_rows, n_out)``
        (needed by method "exact", which returns the noisy read minus it)."""
        layer = self.layer
        images = np.asarray(images, dtype=np.int64).reshape(-1)
        n_vec = rows_aug.shape[0]
        if images.size == 0 or n_vec % images.size:
            raise SpecError(f"{n_vec} row vectors cannot be split evenly over {images.size} image(s)")
        per_image = n_vec // images.size
        parts = [np.zeros((n_vec, layer.n_out)) for _ in range(layer.n_h)]
        power = np.zeros(n_vec) if energy else None
        opts = self.options
        if opts.method == "exact" and w is None:
            raise SpecError('read noise method "exact" needs the layer\'s noiseless map w')
        block = self.block_images(per_image)
        starts = list(range(0, images.size, block))

        def run_block(a: int) -> None:
            b = min(a + block, images.size)
            rs = slice(a * per_image, b * per_image)
            work = _scratch()
            xi = _layer_draws(self.seed, self.k, images[a:b], per_image, layer.n_rows, layer.n_out,
                              work.get("xi", (b - a, per_image, layer.n_rows, layer.n_out, 2)))
            u = rows_aug[rs]
            for t in self.tiles:
                xi_t = xi[:, t.rows, t.outs, :]  # the tile's cells: a view of the layer's draw (G+/G- interleaved)
                if opts.method == "exact":
                    dz, dp = self._exact_block(t, u[:, t.rows], xi_t.reshape(xi.shape[0], *t.g_s.shape), w, energy)
                else:
                    dz, dp = self._block(t, u[:, t.rows], xi_t, energy, work)
                parts[t.p][rs, t.outs] += dz
                if power is not None:
                    power[rs] += dp

        threads = opts.n_threads
        if threads == 1 or len(starts) == 1:
            for a in starts:
                run_block(a)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(run_block, starts))
        return parts, power

    def _block(self, t: _Tile, u: np.ndarray, xi: np.ndarray, energy: bool,
               work: _Scratch) -> tuple[np.ndarray, np.ndarray | None]:
        """One tile, one block of vectors: ``(dz (B, n_c), dp (B,) or None)``; ``xi`` ``(B, m, n_c, 2)`` float32, the
        tile's cells of the layer's draw (a view; left as it is)."""
        dt = self.options.dtype
        bsz, m, n = xi.shape[0], t.g_s.shape[0], t.g_s.shape[1]
        # the cells' changes, flat rows (long inner loops for the element-wise steps), scaled straight out of the draw
        dg = work.get("dg", (bsz, m * n), dt)
        np.multiply(xi, t.sigma_s.reshape(m, n // 2, 2), out=dg.reshape(xi.shape))
        np.maximum(dg, t.lo_s, out=dg)  # max(G + sigma xi, floor) - G
        dx = np.matmul(u.astype(dt), t.drop, out=work.get("dx", (bsz, m * n), dt))  # the noiseless cell voltages
        term = np.multiply(dx, dg, out=work.get("term", (bsz, m * n), dt))
        if t.factors is not None:
            q = approx_transfer(term.reshape(bsz, m, n), t.factors, t.g_c, self.options.shunt_terms,
                                out=work.get("q", (bsz, m, n), dt), scratch=work).reshape(bsz, m * n)
            term -= np.multiply(dg, q, out=q)
        dz = term @ t.out_map
        dp = np.einsum("bk,bk->b", dx, term, dtype=np.float64) if energy else None
        return dz, dp

    def _exact_block(self, t: _Tile, u: np.ndarray, xi: np.ndarray, w: np.ndarray,
                     energy: bool) -> tuple[np.ndarray, np.ndarray | None]:
        layer = self.layer
        sigma = layer.tile_read_sigma(t.p, t.c)
        g_noisy = noisy_conductances(t.g_s, sigma, xi)
        i_col, i_src = exact_tile_currents(t.sens.tile, u, g_noisy)
        n_c = t.outs.stop - t.outs.start
        z = (i_col @ diff_matrix(n_c)) * (layer.w_max / layer.dg_s)
        dz = z - u @ w[t.rows, t.outs]
        dp = None
        if energy:
            if not t.solver:
                t.solver.append(NativeTileSolver(t.sens.tile, method="solves"))
            dp = np.einsum("bi,bi->b", u, i_src - u @ t.solver[0].input_conductance())
        return dz, dp


class ReadNoise:
    """Every crossbar layer's read noise of ``net`` (``LayerReadNoise`` for the layers that have it)."""

    def __init__(self, net: MappedNetwork, options: ReadNoiseOptions | None = None) -> None:
        self.options = ReadNoiseOptions.of(options)
        check_read_noise_network(net)
        seed = net.hardware.device.seed
        size = sensitivity_bytes(net, self.options)
        if size > MAX_SENSITIVITY_BYTES:
            raise SpecError(f"read noise on these tiles needs ~{size / 2**30:.1f} GiB of cell sensitivities (each tile's "
                            f"rows x cells); the limit is {MAX_SENSITIVITY_BYTES / 2**30:.0f} GiB: use smaller tiles, "
                            "e.g. pyims.PartitionPlan(max_rows=128, max_cols=128)")
        self.layers: dict[int, LayerReadNoise] = {
            k: LayerReadNoise(layer, k, net.wires, seed, self.options) for k, layer in enumerate(net.layers) if layer.read_noise
        }
        log.info("read noise per MVM: %d crossbar layer(s), %d tile(s), method %s, %.0f MB of cell sensitivities",
                 len(self.layers), sum(len(l.tiles) for l in self.layers.values()), self.options.method, size / 1e6)

    def __contains__(self, k: int) -> bool:
        return k in self.layers

    def __getitem__(self, k: int) -> LayerReadNoise:
        return self.layers[k]


def sensitivity_bytes(net: MappedNetwork, options: ReadNoiseOptions | None = None) -> int:
    """Memory the read-noise layers' tile sensitivities take: per tile ``(m + n) * m * n`` values, in float64 and
    again in the options' precision."""
    per_value = 8 + np.dtype((options or ReadNoiseOptions()).dtype).itemsize
    total = 0
    for layer in net.layers:
        if layer.read_noise:
            for m in layer.split.row_sizes:
                for n_c in layer.split.out_sizes:
                    total += (m + 2 * n_c) * m * 2 * n_c * per_value
    return total


def has_read_noise(net: MappedNetwork) -> bool:
    """Whether any crossbar layer of ``net`` draws fresh read noise for every vector."""
    return any(layer.read_noise for layer in net.layers)


def without_read_noise(net: MappedNetwork) -> MappedNetwork:
    """``net`` with every read at the cells' mean conductances: the same programmed (and drifted) cells, no per-read
    draw -- what read noise deviates from."""
    return net.with_layers(tuple(replace(layer, read_sigma_pos_s=None, read_sigma_neg_s=None) for layer in net.layers))


def check_read_noise_network(net: MappedNetwork) -> None:
    """SpecError unless ``net``'s read noise can be evaluated per vector: every tile alone (the tiled topology)."""
    if has_read_noise(net) and net.topology.name != "tiled":
        raise SpecError(f"read noise draws every cell afresh for every input vector; it is evaluated tile by tile, but "
                        f"this network runs on the {net.topology.name} topology: use pyims.Hardware(topology=\"tiled\")")


# ---------------------------------------------------------------------------------------------- ngspice
@dataclass(frozen=True, slots=True)
class NoisyLayerNetlist:
    """One crossbar layer read with read noise in ngspice: every vector its own copy of every tile, with the
    conductances its draw gives (``.op``).

    ``sense_sources[(v, p, c)]``: the 0 V sources of vector ``v``'s copy of tile (p, c), one per physical column;
    ``input_sources[v]``: vector ``v``'s row sources (layer rows, the bias row last).
    """

    netlist: Netlist
    sense_sources: dict[tuple[int, int, int], tuple[str, ...]]
    input_sources: tuple[tuple[str, ...], ...]
    n_vectors: int


def build_noisy_layer_netlist(net: MappedNetwork, k: int, a: np.ndarray, images: Sequence[int] | np.ndarray) -> NoisyLayerNetlist:
    """Crossbar layer ``k`` read by row vectors ``a`` ``(M, n_in)`` (units of ``v_read_v``) of images ``images``
    (global indices, ``M / len(images)`` vectors each, image-major), every vector through its own copy of every tile
    with the cells ``max(G + sigma xi, G_FLOOR_S)`` of its draw (``layer_draws``: the same as the native solver's)."""
    layer = net.layers[k]
    if not layer.read_noise:
        raise SpecError(f"crossbar layer {k + 1} has no read noise; build_layer_netlist reads it")
    a = np.asarray(a, dtype=np.float64)
    images = np.asarray(images, dtype=np.int64).reshape(-1)
    if a.ndim != 2 or a.shape[1] != layer.n_in:
        raise SpecError(f"layer {k + 1} inputs have shape {a.shape}; need (n_vectors, {layer.n_in})")
    if images.size == 0 or a.shape[0] % images.size:
        raise SpecError(f"{a.shape[0]} row vectors cannot be split evenly over {images.size} image(s)")
    per_image = a.shape[0] // images.size
    xi = layer_draws(net.hardware.device.seed, k, images, per_image, layer.n_rows, layer.n_out)
    v = net.augment(a) * net.v_read_v
    elements: list[Element] = []
    sense_sources: dict[tuple[int, int, int], tuple[str, ...]] = {}
    input_sources = []
    for q in range(v.shape[0]):
        rows = tuple(f"v{q}a{k}_{i}" for i in range(layer.n_rows))
        srcs = [VoltageSource(f"VX{q}_{i}", node, GROUND, float(v[q, i])) for i, node in enumerate(rows)]
        elements += srcs
        input_sources.append(tuple(s.name for s in srcs))
        for c in range(layer.n_v):
            outs = layer.outs_of(c)
            for p in range(layer.n_h):
                g = layer.tile_g(p, c)
                xi_t = xi[q, layer.rows_of(p), outs, :].reshape(g.shape)
                tile = TileSpec(g_s=noisy_conductances(g, layer.tile_read_sigma(p, c), xi_t), wires=net.wires)
                tag = f"V{q}L{k}P{p}C{c}"
                sense = tuple(f"v{q}l{k}p{p}c{c}_vg{kk}" for kk in range(tile.n_cols))
                nodes = TileNodes(tile, prefix=f"v{q}l{k}p{p}c{c}_", source_nodes=rows[layer.rows_of(p)], sense_nodes=sense)
                elements += crossbar_elements(tile, nodes, tag=tag)
                names = tuple(f"V{tag}S{kk}" for kk in range(tile.n_cols))
                elements += [VoltageSource(name, node, GROUND, 0.0) for name, node in zip(names, sense)]
                sense_sources[(q, p, c)] = names
    netlist = Netlist(
        title=f"* pyims read noise, layer {k + 1} of {len(net.layers)}: {v.shape[0]} vector(s), each its own tiles",
        elements=tuple(elements),
        analysis=OperatingPoint(),
        comments=(
            f"layer {k + 1}: {layer.n_in} inputs + bias row, {layer.n_out} outputs, {layer.n_h}x{layer.n_v} tiles per vector",
            f"cells max(G + sigma xi, {G_FLOOR_S!r}) with xi drawn from default_rng([{net.hardware.device.seed}, {k}, "
            f"image, {READ_NOISE_STREAM}]) for images {images.tolist()[:8]}{' ...' if images.size > 8 else ''}",
            f"wires: {net.wires}",
        ),
    )
    return NoisyLayerNetlist(netlist=netlist, sense_sources=sense_sources, input_sources=tuple(input_sources),
                             n_vectors=v.shape[0])
