"""The two stable entry points: ``simulate_tile`` and ``tile_netlist``."""

from __future__ import annotations

import numpy as np

from pyims.errors import SimulatorNotFound
from pyims.netlist import build_tile_netlist, format_netlist
from pyims.runners import TileJob, find_ngspice, get_runner
from pyims.spec import TileSpec, WireParasitics

__all__ = ["simulate_tile", "tile_netlist"]


def _job(g_s: object, v_in_v: object, r_row_ohm: float, r_col_ohm: float, r_driver_ohm: float, r_sense_ohm: float) -> TileJob:
    wires = WireParasitics(r_row_ohm=r_row_ohm, r_col_ohm=r_col_ohm, r_driver_ohm=r_driver_ohm, r_sense_ohm=r_sense_ohm)
    return TileJob(tile=TileSpec(g_s=g_s, wires=wires), v_in_v=v_in_v)


def simulate_tile(
    g_s: object,
    v_in_v: object,
    *,
    r_row_ohm: float,
    r_col_ohm: float,
    r_driver_ohm: float,
    r_sense_ohm: float,
    backend: str = "native",
) -> np.ndarray:
    """Column currents of a crossbar tile, float64 array ``(n_vectors, n_cols)`` in amperes.

    Args:
        g_s: cell conductances ``(m, n)`` in siemens, every entry > 0.
        v_in_v: input voltages ``(n_vectors, m)`` in volts, one row per input vector.
        r_row_ohm, r_col_ohm: resistance of one row / column wire segment (0 = ideal wire).
        r_driver_ohm, r_sense_ohm: row driver and column sense resistances (0 = none).
        backend: "native" (exact sparse solver), "ngspice" (subprocess) or "pyspice" (libngspice).

    With every resistance 0 the result is exactly ``v_in_v @ g_s``. For source currents,
    provenance and runner options use ``get_runner(backend).run(TileJob(...))``.
    """
    job = _job(g_s, v_in_v, r_row_ohm, r_col_ohm, r_driver_ohm, r_sense_ohm)
    return get_runner(backend).run(job).i_col_a


def tile_netlist(
    g_s: object,
    v_in_v: object,
    *,
    r_row_ohm: float,
    r_col_ohm: float,
    r_driver_ohm: float,
    r_sense_ohm: float,
    klu: bool | None = None,
) -> str:
    """The ngspice netlist text of the tile ``simulate_tile`` would simulate.

    ``klu=None`` adds ``.options klu`` when the ngspice found on this machine supports it
    (and leaves it out when there is none); pass True/False for machine-independent text.
    """
    job = _job(g_s, v_in_v, r_row_ohm, r_col_ohm, r_driver_ohm, r_sense_ohm)
    if klu is None:
        try:
            klu = find_ngspice().klu
        except SimulatorNotFound:
            klu = False
    return format_netlist(build_tile_netlist(job.tile, job.v_in_v, klu=klu))
