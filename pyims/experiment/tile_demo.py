"""The tile demo (``pyims tile-demo``): one random crossbar tile on every backend, and its error
against the ideal ``V @ G`` as wire resistance grows. A library flow; the CLI only prints it."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pyims import __version__
from pyims.compare import rel_diff
from pyims.errors import PyimsError
from pyims.netlist import build_tile_netlist, emit
from pyims.runners import TileJob, find_ngspice, get_runner
from pyims.runners.ngspice_env import NgspiceInfo
from pyims.spec import TileSpec, WireParasitics

__all__ = ["BackendRun", "WirePoint", "TileDemoResult", "random_tile_job", "run_tile_demo", "DEMO_WIRE_R_OHM"]

log = logging.getLogger(__name__)

#: Wire resistances (ohm per segment; drivers and sense 10 ohm when non-zero) of the demo's sweep.
DEMO_WIRE_R_OHM = (0.0, 0.5, 1.0, 2.5, 5.0, 10.0)


def random_tile_job(m: int, n: int, seed: int, wires: WireParasitics, n_vectors: int) -> TileJob:
    """A reproducible tile: cells uniform in [1 uS, 100 uS] (1 Mohm..10 kohm), inputs in [0, 0.2] V."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(1e-6, 1e-4, size=(m, n))
    v = rng.uniform(0.0, 0.2, size=(n_vectors, m))
    return TileJob(tile=TileSpec(g_s=g, wires=wires), v_in_v=v)


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendRun:
    """One backend on the demo tile: its wall time, its column currents' ``rel_diff`` from native,
    and its KCL residual relative to the total source current."""

    backend: str
    wall_time_s: float
    max_rel_diff_vs_native: float
    kcl_residual_ratio: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WirePoint:
    """The native tile at one wire resistance: ``rel_diff`` from ``V @ G`` and the mean current ratio."""

    r_wire_ohm: float
    max_rel_error_vs_ideal: float
    mean_current_ratio: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TileDemoResult:
    """What the tile demo measured (``summary.json`` of its output folder)."""

    pyims_version: str
    rows: int
    cols: int
    seed: int
    n_vectors: int
    wires: WireParasitics
    ngspice: NgspiceInfo | None
    backends: tuple[BackendRun, ...]
    wire_sweep: tuple[WirePoint, ...]
    netlist_path: Path
    summary_path: Path

    def to_dict(self) -> dict:
        return {
            "pyims_version": self.pyims_version,
            "tile": {"rows": self.rows, "cols": self.cols, "seed": self.seed, "n_vectors": self.n_vectors},
            "wires": {"r_row_ohm": self.wires.r_row_ohm, "r_col_ohm": self.wires.r_col_ohm,
                      "r_driver_ohm": self.wires.r_driver_ohm, "r_sense_ohm": self.wires.r_sense_ohm},
            "ngspice_version": self.ngspice.version if self.ngspice else None,
            "backends": {b.backend: {"wall_time_s": b.wall_time_s, "max_rel_diff_vs_native": b.max_rel_diff_vs_native}
                         for b in self.backends},
            "wire_sweep": [asdict(p) for p in self.wire_sweep],
        }


def run_tile_demo(
    out: str | Path,
    *,
    size: tuple[int, int] = (64, 64),
    n_vectors: int = 8,
    seed: int = 0,
    r_wire_ohm: float = 2.5,
    backends: tuple[str, ...] = ("native", "ngspice", "pyspice"),
) -> TileDemoResult:
    """Run the demo tile on ``backends`` (SPICE ones skipped when ngspice is missing) and the wire sweep;
    write its netlist and ``summary.json`` into ``out``."""
    from pyims.fileio import publish_dir

    def is_entry(name: str) -> bool:
        return name == "summary.json" or (name.startswith("tile_") and name.endswith(".cir"))

    res = publish_dir(out, lambda tmp: _tile_demo(tmp, size, n_vectors, seed, r_wire_ohm, backends), is_entry,
                      "pyims tile demo")
    final = Path(out)
    return dataclasses.replace(res, netlist_path=final / res.netlist_path.name, summary_path=final / "summary.json")


def _tile_demo(out: Path, size, n_vectors, seed, r_wire_ohm, backends) -> TileDemoResult:
    m, n = size
    wires = WireParasitics(r_row_ohm=r_wire_ohm, r_col_ohm=r_wire_ohm, r_driver_ohm=10.0, r_sense_ohm=10.0)
    job = random_tile_job(m, n, seed, wires, n_vectors)
    try:
        info: NgspiceInfo | None = find_ngspice()
    except PyimsError as exc:
        log.warning("ngspice not available (%s); running natively only", exc)
        info = None
    netlist_path = out / f"tile_{m}x{n}.cir"
    with open(netlist_path, "w") as dest:
        emit(build_tile_netlist(job.tile, job.v_in_v, klu=bool(info and info.klu)), dest)

    results = {"native": get_runner("native").run(job)}
    for backend in [b for b in backends if b != "native"] if info is not None else []:
        results[backend] = get_runner(backend).run(job)
    reference = results["native"].i_col_a
    runs = tuple(
        BackendRun(
            backend=b, wall_time_s=r.info.wall_time_s, max_rel_diff_vs_native=rel_diff(r.i_col_a, reference),
            kcl_residual_ratio=float(np.max(np.abs(r.kcl_residual_a())) / np.max(np.abs(r.i_src_a.sum(axis=1)))),
        )
        for b, r in results.items()
    )
    ideal = job.v_in_v @ job.tile.g_s
    sweep = []
    for r in DEMO_WIRE_R_OHM:
        w = WireParasitics(r_row_ohm=r, r_col_ohm=r, r_driver_ohm=10.0 if r else 0.0, r_sense_ohm=10.0 if r else 0.0)
        i = get_runner("native").run(TileJob(tile=TileSpec(g_s=job.tile.g_s, wires=w), v_in_v=job.v_in_v)).i_col_a
        sweep.append(WirePoint(r_wire_ohm=r, max_rel_error_vs_ideal=rel_diff(i, ideal),
                               mean_current_ratio=float(np.mean(np.abs(i)) / np.mean(np.abs(ideal)))))
    result = TileDemoResult(
        pyims_version=__version__, rows=m, cols=n, seed=seed, n_vectors=n_vectors, wires=wires, ngspice=info,
        backends=runs, wire_sweep=tuple(sweep), netlist_path=netlist_path, summary_path=out / "summary.json",
    )
    result.summary_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result
