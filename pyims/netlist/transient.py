"""Transient netlists: a tile driven by PWL sources in time (``.tran``).

Same circuit and names as ``build_tile_netlist`` (see ``pyims.netlist.tile``), except that
row sources are ``VIN{i} ... PWL(t0 v0 t1 v1 ...)`` and the analysis is ``.tran`` with steps
no longer than the reporting grid's.
"""

from __future__ import annotations

from pyims.errors import SpecError
from pyims.netlist.model import GROUND, Netlist, PwlTimeSource, Transient
from pyims.netlist.tile import TileNodes, sense_source_name, tile_elements
from pyims.spec import Stimulus, TileSpec, TransientSpec

__all__ = ["build_tile_transient_netlist", "probe_node_name"]


def probe_node_name(nodes: TileNodes, probe: tuple[str, int, int]) -> str:
    """The netlist node of probe ``("row" | "col", i, j)``."""
    kind, i, j = probe
    if kind == "row":
        return nodes.row(i, j)
    if kind == "col":
        return nodes.col(i, j)
    raise SpecError(f"probe kind {kind!r} is unknown; use 'row' or 'col'")


def build_tile_transient_netlist(
    tile: TileSpec,
    stimulus: Stimulus,
    spec: TransientSpec,
    *,
    probes: tuple[tuple[str, int, int], ...] = (),
    klu: bool = False,
) -> Netlist:
    """The tile driven by ``stimulus`` (one PWL source per row) over ``spec``'s window.

    Solver options other than ``klu`` (for hand-run text) are the session's (``pyims.spec.simulator.TILE_TRANSIENT``).
    """
    m, n = tile.n_rows, tile.n_cols
    if stimulus.n_rows != m:
        raise SpecError(f"stimulus drives {stimulus.n_rows} rows but the tile has {m}; pass v_v of shape (P, {m})")
    nodes = TileNodes(tile)
    for kind, i, j in probes:
        if not (0 <= i < m and 0 <= j < n):
            raise SpecError(f"probe ({kind!r}, {i}, {j}) is outside the {m}x{n} tile")
    t = tuple(stimulus.t_s.tolist())
    elements = tile_elements(
        tile, nodes, lambda i: PwlTimeSource(f"VIN{i}", nodes.source(i), GROUND, t, tuple(stimulus.v_v[:, i].tolist()))
    )
    w = tile.wires
    return Netlist(
        title=f"* pyims crossbar tile {m}x{n}, transient",
        elements=tuple(elements),
        analysis=Transient(spec.t_step_s, spec.t_stop_s, spec.t_step_s),
        options=("klu",) if klu else (),
        saved_currents=tuple(sense_source_name(j) for j in range(n)) + tuple(f"VIN{i}" for i in range(m)),
        saved_voltages=tuple(dict.fromkeys(probe_node_name(nodes, p) for p in probes)),
        comments=(
            f"crossbar tile: {m} rows x {n} columns; transient to {spec.t_stop_s!r} s, steps <= {spec.t_step_s!r} s",
            f"r_row_ohm={w.r_row_ohm!r} r_col_ohm={w.r_col_ohm!r} r_driver_ohm={w.r_driver_ohm!r} r_sense_ohm={w.r_sense_ohm!r}",
            f"c_row_f={w.c_row_f!r} c_col_f={w.c_col_f!r}",
        ),
    )
