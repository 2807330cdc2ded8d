"""Run a sweep: every point not yet in the store, on a Dask cluster (or serially), into the store.

Each point is a full experiment (``run_experiment``) reduced to a record of metrics and
provenance. The client process is the only writer of records, and it writes each one as soon
as its point finishes, so an interrupted sweep loses at most the points that were running; the
next run skips every point with a valid record. Results do not depend on how many workers run
them (each point is deterministic and computed whole by one worker).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyims import __version__
from pyims.errors import SpecError
from pyims.experiment.config import parse_config
from pyims.experiment.summary import ExperimentSummary
from pyims.sweeps.spec import SweepSpec
from pyims.sweeps.store import ResultStore, config_key

__all__ = ["run_sweep", "check_sweep", "evaluate_point", "SweepSummary"]

log = logging.getLogger(__name__)


def _metrics(summary: ExperimentSummary) -> dict[str, Any]:
    """The record of one point: flat metrics (the store's table columns) read from the typed summary."""
    acc, errs, network = summary.accuracy, summary.layer_errors.analog_vs_digital, summary.network
    first = network.tiles[0]
    v = summary.spice_verification
    return {
        "accuracy_digital": acc.digital.accuracy,
        "accuracy_mapped_ideal": acc.mapped_ideal.accuracy,
        "accuracy_analog": acc.analog.accuracy,
        "ties_analog": acc.analog.n_ties,
        "top1_agreement_analog_vs_digital": summary.agreement.analog_vs_digital.top1_agreement,
        "layer1_relative_rmse": errs[0].relative_rmse_ratio,
        "output_relative_rmse": errs[-1].relative_rmse_ratio,
        "n_tiles": network.n_tiles,
        "partition_plan": network.partitions,
        "layer1_h": len(first.row_sizes),
        "layer1_v": len(first.out_sizes),
        "layer1_tile_rows": max(first.row_sizes),
        "layer1_tile_cols": 2 * max(first.out_sizes),
        "n_test": summary.dataset.n_test,
        "energy_per_inference_j": summary.energy.mean_energy_per_inference_j if summary.energy else None,
        "ngspice_images": v.n_images if v else 0,
        "ngspice_max_rel_diff": v.max_rel_diff if v else None,
        "ngspice_passed": v.passed if v else (False if summary.spice_verification_incomplete else None),
        **_read_time_metrics(summary),
        **_monte_carlo_metrics(summary),
    }


def _monte_carlo_metrics(summary: ExperimentSummary) -> dict[str, Any]:
    """With ``simulation.repeats`` > 1: the analog accuracy across the draws (``accuracy_analog`` is draw 0's):
    mean, standard deviation, the 95 % Student-t interval of the mean and the 2.5-97.5 percentiles of the draws."""
    mc = summary.monte_carlo
    if mc is None:
        return {}
    return {"n_draws": mc.n_draws, "accuracy_analog_mean": mc.mean, "accuracy_analog_std": mc.std,
            "accuracy_analog_mean_low": mc.mean_interval.low, "accuracy_analog_mean_high": mc.mean_interval.high,
            "accuracy_analog_draws_low": mc.draw_interval.low, "accuracy_analog_draws_high": mc.draw_interval.high}


def _read_time_metrics(summary: ExperimentSummary) -> dict[str, Any]:
    """With ``simulation.t_read_s``: the settled accuracy, the settling times and the transient's energy."""
    rt = summary.read_time
    if rt is None:
        return {}
    return {"accuracy_dc": rt.accuracy_dc, "latency_s": rt.latency_s, "settling_p50_s": rt.settling_s.get("p50"),
            "fraction_settled": rt.fraction_settled, "energy_transient_j": rt.energy_per_inference_j}


def evaluate_point(data: dict[str, Any], base_dir: str) -> dict[str, Any]:
    """Run one point (experiment config ``data``); a record body with metrics or the error. Runs on workers."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from pyims.experiment.run import run_experiment

    t0 = time.perf_counter()
    provenance = {"pyims_version": __version__, "host": platform.node(), "pid": os.getpid()}
    try:
        cfg = parse_config(data, base_dir=Path(base_dir))
        # Worker processes may not start processes of their own (Dask workers are daemons).
        cfg = dataclasses.replace(cfg, simulation=dataclasses.replace(cfg.simulation, native_workers=1))
        result = run_experiment(cfg, show_progress=False)
        v = result.summary.spice_verification
        provenance.update(
            backend="native" + ("+ngspice" if v else ""), mode=cfg.simulation.mode,
            ngspice_version=v.ngspice_version if v else None, wall_time_s=time.perf_counter() - t0,
            native_build_s=result.summary.timing.get("native_build_s"),
        )
        stopped = result.summary.spice_verification_incomplete
        if stopped is not None and stopped.status == "interrupted":  # Ctrl-C in a serial sweep stops the sweep
            raise KeyboardInterrupt
        if stopped is not None:  # not a result either: recorded as failed (run again on resume), metrics kept
            return {"status": "failed", "metrics": _metrics(result.summary), "provenance": provenance,
                    "error": f"ngspice verification failed: {stopped.reason}"}
        if v is not None and not v.passed:
            # a point whose ngspice check failed is not a result: recorded as failed (re-run on resume),
            # its metrics kept for inspection
            return {"status": "failed", "metrics": _metrics(result.summary), "provenance": provenance,
                    "error": f"ngspice verification failed: {v.failure}"}
        return {"status": "ok", "metrics": _metrics(result.summary), "error": None, "provenance": provenance}
    except Exception as exc:  # noqa: BLE001 - a failing point is recorded, not raised
        provenance["wall_time_s"] = time.perf_counter() - t0
        return {
            "status": "error", "metrics": None, "provenance": provenance,
            "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=8),
        }


def check_sweep(spec: SweepSpec) -> int:
    """Check every point of ``spec`` before running (``pyims.experiment.preflight`` on each distinct config);
    returns how many distinct configs there are."""
    from pyims.experiment.preflight import preflight

    seen = set()
    for point in spec.points():
        cfg = spec.config(point)
        if cfg not in seen:
            seen.add(cfg)
            preflight(cfg)
    return len(seen)


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """What a sweep run did."""

    n_points: int
    n_skipped: int
    n_ran: int
    n_failed: int
    wall_time_s: float
    interrupted: bool


def run_sweep(
    spec: SweepSpec,
    store: ResultStore,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    serial: bool = False,
    fail_fast: bool = False,
    progress: Callable[[int], None] | None = None,
    evaluate: Callable[[dict[str, Any], str], dict[str, Any]] = evaluate_point,
    append: bool = False,
) -> SweepSummary:
    """Run every point of ``spec`` that ``store`` lacks; see the module docstring.

    ``scheduler``: address of an existing Dask scheduler; else an in-process ``LocalCluster``
    with ``n_workers`` single-threaded worker processes (default: the machine's cores), or no
    Dask at all with ``serial=True``. ``fail_fast`` stops at the first failing point. A store
    holding another sweep's points is refused unless ``append`` (``ResultStore.claim``).
    """
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise SpecError(f"n_workers={n_workers!r} must be an integer >= 1 (or None: the machine's cores)")
    t0 = time.perf_counter()
    points = [(point, spec.config(point)) for point in spec.points()]
    keys = [config_key(cfg) for _, cfg in points]
    return _run_claimed(spec, store, points, keys, t0, scheduler=scheduler, n_workers=n_workers, serial=serial,
                        fail_fast=fail_fast, progress=progress, evaluate=evaluate, append=append)


def _run_claimed(spec, store, points, keys, t0, *, scheduler, n_workers, serial, fail_fast, progress, evaluate,
                 append) -> SweepSummary:
    todo = []
    configs: dict[str, dict[str, Any]] = {}
    index: dict[str, int] = {}
    n_skipped = 0
    claimed = store.claim(spec.name, keys, {axis: list(values) for axis, values in spec.axes}, append=append)
    for k, ((point, cfg), key) in enumerate(zip(points, keys)):
        index[key] = k
        if store.done(key):
            n_skipped += 1
            if progress is not None:
                progress(1)
            continue
        todo.append((key, point, spec.point_data(point)))
        configs[key] = cfg.as_dict()
    n_ran = n_failed = 0
    interrupted = False

    def finish(key: str, point: dict[str, Any], body: dict[str, Any]) -> None:
        nonlocal n_ran, n_failed
        store.put({"key": key, "sweep": spec.name, "spec": claimed, "point": point, "point_index": index[key],
                   "config": configs[key], "base_dir": str(spec.base_dir), **body})
        n_ran += 1
        if body["status"] != "ok":
            n_failed += 1
            log.warning("point %s failed: %s", point, body["error"])
            if fail_fast:
                raise SpecError(f"sweep point {point} failed: {body['error']} (fail_fast)")
        if progress is not None:
            progress(1)

    try:
        if serial or not todo:
            for key, point, data in todo:
                finish(key, point, evaluate(data, str(spec.base_dir)))
        else:
            from dask.distributed import as_completed

            from pyims.dask_client import dask_client

            with dask_client(scheduler, n_workers) as client:
                futures = {client.submit(evaluate, data, str(spec.base_dir), pure=False, key=f"pyims-{key}"): (key, point)
                           for key, point, data in todo}
                for fut in as_completed(futures):
                    key, point = futures[fut]
                    finish(key, point, fut.result())
    except KeyboardInterrupt:  # the cluster is closed by now (dask_client); every finished point is stored
        interrupted = True
        log.info("sweep interrupted: %d of %d points stored; run it again to resume", n_skipped + n_ran, spec.n_points)
    return SweepSummary(
        n_points=spec.n_points, n_skipped=n_skipped, n_ran=n_ran, n_failed=n_failed,
        wall_time_s=time.perf_counter() - t0, interrupted=interrupted,
    )
