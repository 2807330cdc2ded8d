"""IR-drop maps: the wire node voltages of one tile for one input, as a typed result.

``tile_ir_drop`` solves a tile natively; ``experiment_ir_drop`` takes an experiment's result
(layer 1's first tile under the mean test input); ``store_ir_drop`` re-creates the most resistive
point of a sweep store (its experiment runs again, training included, without ngspice or energy)
-- the one flow here that re-runs anything, and the one ``pyims plot`` calls. Figures take the
``IrDropMap`` (``pyims.plots.ir_drop_heatmap``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pyims.runners.native import NativeTileSolver
from pyims.spec import TileSpec

if TYPE_CHECKING:
    from pyims.experiment.run import ExperimentResult

__all__ = ["IrDropMap", "tile_ir_drop", "experiment_ir_drop", "point_ir_drop", "store_ir_drop"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class IrDropMap:
    """One tile's wire node voltages for one input vector.

    Attributes:
        v_in_v: float64 ``(m,)``, V: the row drivers' voltages.
        v_row_v: float64 ``(m, n)``, V: row i's wire at cell (i, j) (ideal wires: ``v_in_v[i]``).
        v_col_v: float64 ``(m, n)``, V: column j's wire at cell (i, j) (ideal wires: 0).
        r_row_ohm / r_col_ohm: the wire resistance per segment.
        label: what tile and input these are, for a figure's title.
    """

    v_in_v: np.ndarray
    v_row_v: np.ndarray
    v_col_v: np.ndarray
    r_row_ohm: float
    r_col_ohm: float
    label: str = ""

    @property
    def row_drop_v(self) -> np.ndarray:
        """``(m, n)`` V: how far each row wire node sits below its driver, ``v_in - v_row``."""
        return self.v_in_v[:, None] - self.v_row_v

    @property
    def shape(self) -> tuple[int, int]:
        return self.v_row_v.shape  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (arrays as nested lists)."""
        return {"v_in_v": self.v_in_v.tolist(), "v_row_v": self.v_row_v.tolist(), "v_col_v": self.v_col_v.tolist(),
                "r_row_ohm": self.r_row_ohm, "r_col_ohm": self.r_col_ohm, "label": self.label}


def tile_ir_drop(tile: TileSpec, v_in_v: np.ndarray, *, label: str = "") -> IrDropMap:
    """The IR-drop map of ``tile`` for one input ``v_in_v`` ``(m,)`` in V (the native solver's node voltages)."""
    v = np.asarray(v_in_v, dtype=np.float64)
    v_row, v_col = NativeTileSolver(tile).node_voltages(v)
    return IrDropMap(v_in_v=v, v_row_v=v_row, v_col_v=v_col, r_row_ohm=tile.wires.r_row_ohm,
                     r_col_ohm=tile.wires.r_col_ohm, label=label)


def experiment_ir_drop(result: "ExperimentResult") -> IrDropMap:
    """Layer 1's tile (0, 0) of an experiment's mapped network under the mean test input."""
    cfg, net = result.config, result.net
    u = cfg.encoding.quantized(result.dataset.test.x_norm).mean(axis=0)
    layer = net.layers[0]
    v = net.augment(u[None, :])[0, layer.rows_of(0)] * net.v_read_v
    label = (f"IR drop, layer-1 tile (0, 0) {layer.split.row_sizes[0]}x{2 * layer.split.out_sizes[0]}, "
             f"{cfg.wires.r_row_ohm:g}/{cfg.wires.r_col_ohm:g} ohm per segment, mean test input")
    return tile_ir_drop(layer.tile(0, 0, cfg.wires), v, label=label)


def point_ir_drop(record: dict[str, Any]) -> IrDropMap:
    """Re-create a stored sweep point's mapped network (its experiment runs again, training included; no
    ngspice, no energy) and map layer 1's first tile."""
    from pyims.experiment.config import parse_config
    from pyims.experiment.run import run_experiment

    data = record["config"]
    cfg = parse_config({**{k: v for k, v in data.items() if k != "name"},
                        "simulation": {**data["simulation"], "verify_images": 0, "energy": False}},
                       base_dir=Path(record.get("base_dir", ".")))
    return experiment_ir_drop(run_experiment(cfg, show_progress=False))


def store_ir_drop(store: Any) -> IrDropMap | None:
    """The IR-drop map of the most resistive successful point of a ``ResultStore`` (``None``: no such point)."""
    records = [r for r in store.records() if r["status"] == "ok" and "config" in r]
    if not records:
        return None
    worst = max(records, key=lambda r: (r["config"]["wires"]["r_row_ohm"] + r["config"]["wires"]["r_col_ohm"],
                                        json.dumps(r["point"], sort_keys=True)))
    return point_ir_drop(worst)
