"""One sparse symmetric positive-definite factorization, by CHOLMOD or by SuperLU.

Every nodal matrix the native solvers factor -- a tile's interior ``L_uu``, the transient's
``L_uu + C/h``, a tile with its ports ordered last -- is symmetric positive definite. Two engines:

* ``"cholmod"``: sparse Cholesky from SuiteSparse's CHOLMOD (through scikit-sparse, the
  ``pyims-spice[fast]`` extra), supernodal, with a nested-dissection ordering. The fast path.
* ``"superlu"``: scipy's SuperLU in symmetric mode (minimum degree on ``A + A^T``, diagonal
  pivots). Always there; the reference the benchmarks divide by.

``backend="auto"`` takes CHOLMOD when it can be imported and is safe to call in this process:
CHOLMOD runs parallel regions on GNU OpenMP, whose thread pool does not survive ``fork()``. A
process forked after its parent ran CHOLMOD hangs in its first CHOLMOD call (measured: the child
blocks in ``cholmod_super_numeric`` forever; ``OMP_NUM_THREADS=1`` does not help). Such a process
gets SuperLU instead (same results to ~1e-12, slower) and one warning that names the fix: start
worker processes with the "spawn" method, as pyims itself and Dask do.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pyims.errors import SpecError

__all__ = ["FACTOR_BACKENDS", "SpdFactor", "cholmod_available", "cholmod_fork_safe", "resolve_backend", "schur_onto_last"]

log = logging.getLogger(__name__)

FACTOR_BACKENDS = ("auto", "cholmod", "superlu")

#: Process id of the process that last ran CHOLMOD here; a forked child inherits it and sees a
#: different pid of its own.
_cholmod_pid: int | None = None
_fork_warned = False


def cholmod_available() -> bool:
    """True when CHOLMOD (scikit-sparse) can be imported."""
    try:
        import sksparse.cholmod  # noqa: F401
    except ImportError:
        return False
    return True


def cholmod_fork_safe() -> bool:
    """False in a process forked after its parent (or an ancestor) ran CHOLMOD (see the module docstring)."""
    return _cholmod_pid is None or _cholmod_pid == os.getpid()


def resolve_backend(backend: str) -> str:
    """``"auto"`` -> ``"cholmod"`` or ``"superlu"``; an explicit ``"cholmod"`` is checked.

    Raises SpecError for an unknown name or a CHOLMOD request without scikit-sparse. A CHOLMOD
    request in a process where CHOLMOD would hang falls back to SuperLU with a warning.
    """
    global _fork_warned
    if backend not in FACTOR_BACKENDS:
        raise SpecError(f"factorization backend {backend!r} is unknown; use one of {', '.join(FACTOR_BACKENDS)}")
    if backend == "superlu":
        return backend
    if not cholmod_available():
        if backend == "cholmod":
            raise SpecError('the "cholmod" backend needs scikit-sparse: pip install "pyims-spice[fast]" '
                            '(with libsuitesparse-dev installed), or use "superlu"')
        return "superlu"
    if not cholmod_fork_safe():
        if not _fork_warned:
            log.warning("pyims: this process was forked after its parent ran CHOLMOD, whose OpenMP threads do not "
                        "survive fork(); native solves here use SuperLU (same results, slower). Start worker "
                        'processes with multiprocessing.get_context("spawn") to keep the fast path.')
            _fork_warned = True
        return "superlu"
    return "cholmod"


def _mark_cholmod_used() -> None:
    global _cholmod_pid
    _cholmod_pid = os.getpid()


class SpdFactor:
    """``a`` (sparse SPD, ``(N, N)``) factored once; ``solve(rhs)`` for ``(N,)`` or ``(N, K)`` right-hand sides.

    ``order`` (a permutation of ``N``, optional): the fill-reducing elimination order CHOLMOD uses
    instead of its own nested dissection, e.g. a tile's ``pyims.runners.ordering.grid_order``
    (SuperLU keeps its minimum degree: it is the reference).
    Raises ``np.linalg.LinAlgError`` when the matrix is not numerically positive definite
    (callers turn it into their own typed error with context).
    """

    def __init__(self, a: sp.spmatrix, backend: str = "auto", *, order: np.ndarray | None = None) -> None:
        self.backend = resolve_backend(backend)
        a = sp.csc_matrix(a)
        self._order = None
        if self.backend == "cholmod":
            from sksparse.cholmod import CholmodError, cholesky

            if order is not None:
                self._order = np.asarray(order)
                a = a[self._order][:, self._order]
            try:
                _mark_cholmod_used()
                method = "nesdis" if order is None else "natural"
                self._cholmod = cholesky(a.tocsc(), ordering_method=method, mode="supernodal")
            except CholmodError as exc:
                raise np.linalg.LinAlgError(f"CHOLMOD: {exc}") from exc
            self._lu = None
        else:
            try:
                self._lu = spla.splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                                     options={"SymmetricMode": True})
            except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
                raise np.linalg.LinAlgError(f"SuperLU: {exc}") from exc
            self._cholmod = None

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``a^-1 rhs`` (float64, same shape as ``rhs``)."""
        rhs = np.ascontiguousarray(rhs, dtype=np.float64)
        if self._cholmod is None:
            return self._lu.solve(rhs)
        if self._order is None:
            return self._cholmod.solve_A(rhs)
        out = np.empty_like(rhs)
        out[self._order] = self._cholmod.solve_A(rhs[self._order])
        return out


def schur_onto_last(interior: sp.spmatrix, coupling: sp.spmatrix, ports: sp.spmatrix, shift: float,
                    order: np.ndarray | None = None) -> np.ndarray:
    """``ports - coupling^T interior^-1 coupling`` (dense ``(p, p)``) from one CHOLMOD factorization.

    ``interior`` ``(N, N)`` SPD, ``coupling`` ``(N, p)``, ``ports`` ``(p, p)`` symmetric; the whole
    matrix ``[[interior, coupling], [coupling^T, ports]]`` must be positive semi-definite with the
    Schur complement allowed singular (a floating tile). The interior is eliminated in ``order``
    (a permutation of N; default: CHOLMOD's nested dissection), the ports last in their own order; the factor's trailing ``p x p`` block ``G``
    gives ``G G^T`` = the Schur complement (of the shifted matrix, see below). ``shift`` (> 0)
    added on the port diagonal makes the whole matrix definite and adds exactly ``shift I`` to the
    result (it touches only the port block), which is subtracted again: choose it at the scale of
    the result, so its rounding (~eps * shift) stays small against the entries that matter.
    Raises ``np.linalg.LinAlgError`` when CHOLMOD finds the matrix not positive definite.
    """
    if resolve_backend("cholmod") != "cholmod":  # forked after CHOLMOD ran: callers must use solves
        raise RuntimeError("schur_onto_last needs CHOLMOD, which is not safe in this process")
    from sksparse.cholmod import CholmodError, analyze, cholesky

    n_u, p = interior.shape[0], ports.shape[0]
    ports = sp.csc_matrix(ports)
    g = float(shift)
    if n_u == 0:
        return ports.toarray()
    try:
        _mark_cholmod_used()
        if order is None:
            order = analyze(sp.csc_matrix(interior), ordering_method="nesdis").P()
        up = sp.csr_matrix(coupling)[order]
        full = sp.bmat([[sp.csc_matrix(interior)[order][:, order], up],
                        [up.T, ports + g * sp.identity(p)]]).tocsc()
        factor = cholesky(full, ordering_method="natural", mode="supernodal")
    except CholmodError as exc:
        raise np.linalg.LinAlgError(f"CHOLMOD: {exc}") from exc
    perm = factor.P()
    if not np.array_equal(perm[n_u:], np.arange(n_u, n_u + p)):  # CHOLMOD kept the ports last (checked)
        raise RuntimeError("CHOLMOD reordered the port block; cannot read the Schur complement off the factor")
    g_pp = factor.L()[n_u:, n_u:].toarray()
    return g_pp @ g_pp.T - g * np.eye(p)
