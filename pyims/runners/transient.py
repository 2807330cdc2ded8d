"""Tile transients: ngspice (reference) and a native fixed-step solver on the same sparse system.

Native method (see ``docs/transient.md``): with the wire capacitances ``C`` (to ground, one per
cell node) the unknown node voltages obey ``C x' + L_uu x = -L_us V(t)``. Starting from the DC
solution at t = 0 (as ngspice does), the trapezoidal rule on the uniform grid gives

    (2C/h + L_uu) x[k+1] = (2C/h - L_uu) x[k] - L_us (V[k+1] + V[k])

and, for the step that starts at a corner of the stimulus (as SPICE does after a breakpoint),
backward Euler ``(C/h + L_uu) x[k+1] = C/h x[k] - L_us V[k+1]``. Both matrices are factored
once (``SpdFactor``: CHOLMOD where it can run, else SuperLU); each step is one sparse solve
(``method="be"`` uses backward Euler throughout). Column currents are read from the state;
source currents add the charging current ``C dV/dt`` of any capacitance sitting on a source
node (``r_driver_ohm = 0``).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pyims.errors import ConvergenceError, SimulationError, SpecError
from pyims.netlist.tile import TileNodes, sense_source_name
from pyims.netlist.transient import build_tile_transient_netlist, probe_node_name
from pyims.results import RunInfo, TransientResult
from pyims.runners.factor import SpdFactor, resolve_backend
from pyims.runners.native import assemble_tile
from pyims.runners.ordering import grid_order
from pyims.runners.session import NgspiceSession
from pyims.spec import Stimulus, TileSpec, TransientSpec
from pyims.spec.simulator import DEFAULT_TIMEOUT_S, TILE_TRANSIENT, SimOptions

__all__ = ["native_tile_transient", "ngspice_tile_transient", "TRANSIENT_METHODS", "onto_grid"]

TRANSIENT_METHODS = ("trap", "be")

#: Backward-Euler sub-steps in the step after each stimulus corner (method "trap").
CORNER_SUBSTEPS = 8


def onto_grid(t_raw: np.ndarray, arrays: list[np.ndarray], spec: TransientSpec, rundir: Path) -> list[np.ndarray]:
    """ngspice's own time points -> ``spec``'s grid (linear interpolation), for arrays of shape ``(T_raw, ...)``.

    Raises SimulationError (keeping ``rundir``) when ngspice stopped before ``t_stop_s``.
    """
    if t_raw[-1] < spec.t_stop_s * (1 - 1e-9):
        raise SimulationError(f"ngspice stopped at t={t_raw[-1]!r} s before t_stop_s={spec.t_stop_s!r}", rundir=rundir)
    t = spec.t_grid_s
    out = []
    for y in arrays:
        flat = y.reshape(y.shape[0], -1)
        cols = [np.interp(t, t_raw, flat[:, k]) for k in range(flat.shape[1])]
        out.append((np.stack(cols, axis=1) if cols else np.zeros((t.size, 0))).reshape((t.size,) + y.shape[1:]))
    return out


def _check(tile: TileSpec, stimulus: Stimulus, probes) -> tuple[tuple[str, int, int], ...]:
    if stimulus.n_rows != tile.n_rows:
        raise SpecError(f"stimulus drives {stimulus.n_rows} rows but the tile has {tile.n_rows}")
    probes = tuple((str(k), int(i), int(j)) for k, i, j in probes)
    for kind, i, j in probes:
        if kind not in ("row", "col"):
            raise SpecError(f"probe kind {kind!r} is unknown; use 'row' or 'col'")
        if not (0 <= i < tile.n_rows and 0 <= j < tile.n_cols):
            raise SpecError(f"probe ({kind!r}, {i}, {j}) is outside the {tile.n_rows}x{tile.n_cols} tile")
    return probes


def native_tile_transient(
    tile: TileSpec,
    stimulus: Stimulus,
    spec: TransientSpec,
    *,
    probes: tuple[tuple[str, int, int], ...] = (),
    method: str = "trap",
    backend: str = "auto",
) -> TransientResult:
    """Fixed-step transient of ``tile`` on ``spec``'s grid (see the module docstring).

    ``backend``: the sparse factorization (``pyims.runners.factor.FACTOR_BACKENDS``).
    """
    if method not in TRANSIENT_METHODS:
        raise SpecError(f"method={method!r} is unknown; use one of {', '.join(TRANSIENT_METHODS)}")
    backend = resolve_backend(backend)  # a bad name fails before any work
    probes = _check(tile, stimulus, probes)
    t0 = time.perf_counter()
    b = assemble_tile(tile)
    t = spec.t_grid_s
    h = spec.t_step_s
    v = stimulus.at(t)  # (T, m)
    n_t = t.size
    n_u = b.l_uu.shape[0]
    # As in SPICE, the step that starts at a corner of the stimulus is taken with backward Euler,
    # which damps stiff modes (a driver node's tiny RC) that trapezoidal steps alone let ring;
    # it is split into CORNER_SUBSTEPS sub-steps so its first-order error stays small.
    corner = np.zeros(n_t, dtype=bool)
    corner[np.clip(np.searchsorted(t, stimulus.t_s, side="left"), 0, n_t - 1)] = True
    use_be = corner if method == "trap" else np.ones(n_t, dtype=bool)

    order = grid_order(b) if backend == "cholmod" and b.l_uu.shape[0] else None

    def factor(a) -> SpdFactor:
        try:
            return SpdFactor(a, backend, order=order)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(f"native transient: the {tile.n_rows}x{tile.n_cols} tile's step matrix is not "
                                   f"positive definite ({exc}); check the tile's values", rundir=None) from exc

    # Outputs are read from the state as it goes: storing every state would cost T x N_u
    # doubles (768 MB for a 400x120 tile over 1,000 steps).
    probe_idx = np.array([(b.row_nodes if k == "row" else b.col_nodes)[i, j] for k, i, j in probes], dtype=int)
    i_col = -(v @ b.l_ks.T.toarray())
    i_src = v @ b.l_ss.T.toarray()
    v_probe = np.zeros((n_t, len(probes)))
    for p, (kind, i, _) in enumerate(probes):
        if probe_idx[p] < 0 and kind == "row":
            v_probe[:, p] = v[:, i]  # merged into the source node (a merged column node is the 0 V sense node)

    def record(k: int, state: np.ndarray) -> None:
        if not np.all(np.isfinite(state)):
            raise ConvergenceError("native transient produced non-finite voltages; check the tile's values", rundir=None)
        i_col[k] -= b.l_ku @ state
        i_src[k] += b.l_su @ state
        inside = probe_idx >= 0
        v_probe[k, inside] = state[probe_idx[inside]]

    if n_u:
        x = factor(b.l_uu).solve(-(b.l_us @ v[0]))
        sub = CORNER_SUBSTEPS if method == "trap" else 1
        hs = h / sub
        be = factor(b.l_uu + sp.diags(b.c_u / hs))
        trap = factor(b.l_uu + sp.diags(2.0 * b.c_u / h)) if method == "trap" else None
        record(0, x)
        for s in range(n_t - 1):
            if use_be[s]:
                for q in range(1, sub + 1):
                    v_q = stimulus.at(np.array([t[s] + q * hs]))[0] if sub > 1 else v[s + 1]
                    x = be.solve(b.c_u / hs * x - b.l_us @ v_q)
            else:
                x = trap.solve((2.0 / h) * b.c_u * x - b.l_uu @ x - b.l_us @ (v[s + 1] + v[s]))
            record(s + 1, x)
    if np.any(b.c_s):
        # Charging current of capacitance on a source node: C dV/dt, with the derivative over the
        # step just taken (exact for a stimulus whose corners lie on the grid).
        i_src = i_src + np.vstack([np.zeros((1, v.shape[1])), np.diff(v, axis=0) * (b.c_s / h)])
    info = RunInfo(backend="native", ngspice_version=None, klu=None, wall_time_s=time.perf_counter() - t0, run_dir=None)
    return TransientResult(t_s=t, i_col_a=np.ascontiguousarray(i_col), i_src_a=np.ascontiguousarray(i_src),
                           v_src_v=v, v_probe_v=v_probe, probes=probes, info=info)


def ngspice_tile_transient(
    tile: TileSpec,
    stimulus: Stimulus,
    spec: TransientSpec,
    *,
    probes: tuple[tuple[str, int, int], ...] = (),
    executable: str | os.PathLike[str] | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    run_root: str | os.PathLike[str] | None = None,
    keep_run_dir: bool = False,
    klu: bool | None = None,
    options: SimOptions = TILE_TRANSIENT,
) -> TransientResult:
    """ngspice transient of ``tile``; its adaptive time points are interpolated onto ``spec``'s grid.

    ``options`` are the solver settings (``timeout_s`` and ``klu``, when given, override theirs).
    """
    probes = _check(tile, stimulus, probes)
    t0 = time.perf_counter()
    options = options.overridden(timeout_s=timeout_s, klu=klu)
    session = NgspiceSession(options, executable=executable, run_root=run_root, keep_run_dir=True)
    netlist = build_tile_transient_netlist(tile, stimulus, spec, probes=probes)
    nodes = TileNodes(tile)
    m, n = tile.n_rows, tile.n_cols
    names = (["time"] + [f"i({sense_source_name(j)})" for j in range(n)] + [f"i(VIN{i})" for i in range(m)]
             + [f"v({probe_node_name(nodes, p)})" for p in probes])
    out = session.run(netlist, expect=names, prefix="tran-ngspice-")
    t_raw = out.data[:, 0]
    i_col, i_src, v_probe = onto_grid(
        t_raw, [out.data[:, 1 : 1 + n], -out.data[:, 1 + n : 1 + n + m], out.data[:, 1 + n + m :]], spec, out.rundir
    )
    if not keep_run_dir:
        shutil.rmtree(out.rundir, ignore_errors=True)
    run = RunInfo(backend="ngspice", ngspice_version=out.version, klu=out.klu,
                  wall_time_s=time.perf_counter() - t0, run_dir=out.rundir if keep_run_dir else None)
    return TransientResult(t_s=spec.t_grid_s, i_col_a=i_col, i_src_a=i_src, v_src_v=stimulus.at(spec.t_grid_s),
                           v_probe_v=v_probe, probes=probes, info=run)
