"""ngspice verification of many images as Dask tasks: batches on a cluster, resumable.

A verification of N images is cut into batches of ``batch_size`` consecutive sample images. Each
batch is one task -- one ``SpiceNetwork`` run in a worker process (its own ngspice) -- on a Dask
cluster: a ``LocalCluster`` by default, or an existing scheduler (``scheduler="tcp://host:8786"``)
whose workers may be other machines. Finished batches are written to a batch store as they
arrive (atomically: ``<store>/<run_key>/<batch key>.npz`` with the pre-activations and power, and
``.json`` with the batch's provenance: images, host, process, ngspice version, wall time), so an
interrupted or failed verification resumes: a batch already stored is not run again. The batch
key hashes the run key (the experiment's config key and mode), the image indices and their
inputs, so a stored batch is only reused for exactly the same work.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import platform
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyims.errors import SpecError
from pyims.fileio import atomic_write_bytes
from pyims.inference.result import NetworkResult

__all__ = ["SpiceCluster", "BatchStore", "run_spice_batches", "DEFAULT_BATCH_IMAGES"]

log = logging.getLogger(__name__)

#: Images per batch when none is given: small enough to spread over workers, large enough that
#: ngspice's fixed cost per run (parsing the network) stays a small share.
DEFAULT_BATCH_IMAGES = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class SpiceCluster:
    """Where and how verification batches run.

    Attributes:
        store_dir: the batch store (created on first write; kept, so a re-run resumes).
        scheduler: address of an existing Dask scheduler; ``None`` starts a ``LocalCluster``.
        n_workers: worker processes of that LocalCluster (default: the machine's cores).
        batch_size: images per batch (default ``DEFAULT_BATCH_IMAGES``; it sets the batch keys, so
            keep it when resuming).
    """

    store_dir: Path
    scheduler: str | None = None
    n_workers: int | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "store_dir", Path(self.store_dir))
        for name in ("n_workers", "batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise SpecError(f"SpiceCluster.{name}={value!r} must be an integer >= 1 (or None for the default)")


class BatchStore:
    """Finished verification batches of one run under ``root / run_key``."""

    def __init__(self, root: str | os.PathLike[str], run_key: str) -> None:
        self.dir = Path(root) / run_key

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.dir / f"{key}.npz", self.dir / f"{key}.json"

    def get(self, key: str, n_layers: int, *, n_images: int | None = None
            ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, dict[str, Any]] | None:
        """A stored batch ``(pre per layer, power, outputs, provenance)``, or None when missing, unreadable (truncated,
        not an archive, fields missing, JSON nested too deep), of the wrong form (arrays not of floating-point numbers, not
        ``(N, n)`` / ``(N,)`` with ``N`` = ``n_images``, a provenance that is no table) or holding a non-finite value:
        such a batch runs again, so NaN from a store never passes verification."""
        npz, meta = self._paths(key)
        if not (npz.is_file() and meta.is_file()):
            return None
        try:
            with np.load(npz) as data:
                pre = [np.array(data[f"pre{l}"]) for l in range(n_layers)]
                power = np.array(data["power"])
                output = np.array(data["output"])
            info = json.loads(meta.read_text())
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RecursionError) as exc:
            log.warning("verification batch %s is damaged (%s); it runs again", npz,
                        type(exc).__name__ if isinstance(exc, RecursionError) else exc)
            return None
        problem = _batch_problem(pre, power, output, info, n_images)
        if problem is not None:
            log.warning("verification batch %s is damaged (%s); it runs again", npz, problem)
            return None
        if not all(np.all(np.isfinite(a)) for a in (*pre, power, output)):
            log.warning("verification batch %s holds NaN or inf; it runs again", npz)
            return None
        return pre, power, output, info

    def put(self, key: str, pre: list[np.ndarray], power: np.ndarray, output: np.ndarray, info: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        npz, meta = self._paths(key)
        buf = io.BytesIO()
        np.savez(buf, power=power, output=output, **{f"pre{l}": p for l, p in enumerate(pre)})
        atomic_write_bytes(npz, buf.getvalue())
        atomic_write_bytes(meta, json.dumps(info, indent=1, sort_keys=True).encode())  # written last: marks it done


def _batch_problem(pre: list[np.ndarray], power: np.ndarray, output: np.ndarray, info: Any,
                   n_images: int | None) -> str | None:
    """Why a stored batch is not one ``put`` writes (see ``BatchStore.get``), or None."""
    if not isinstance(info, dict):
        return f"its record is a {type(info).__name__}, not a table"
    named = [*((f"pre{l}", p, 2) for l, p in enumerate(pre)), ("power", power, 1), ("output", output, 2)]
    rows = n_images if n_images is not None else power.shape[0] if power.ndim else None
    for name, a, ndim in named:
        if a.dtype.kind != "f":  # put writes float64
            return f"{name} is a {a.dtype} array, not floating-point numbers"
        if a.ndim != ndim or a.shape[0] != rows:
            return f"{name} has shape {a.shape}, not {rows} rows" if a.ndim == ndim else \
                f"{name} has shape {a.shape}; need {(rows,) if ndim == 1 else (rows, 'n')}"
    return None


def _batch_key(run_key: str, mode: str, index: np.ndarray, u: np.ndarray) -> str:
    h = hashlib.sha256()
    for part in (run_key.encode(), mode.encode(), np.ascontiguousarray(index, dtype=np.int64).tobytes(),
                 np.ascontiguousarray(u, dtype=np.float64).tobytes()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()[:16]


def _run_batch(net, u: np.ndarray, timeout_s: float | None) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, dict[str, Any]]:
    """Worker entry point: one ngspice run of ``u`` (a batch of images) and its provenance."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from pyims.inference.spice import SpiceNetwork

    t0 = time.perf_counter()
    res = SpiceNetwork(net, timeout_s=timeout_s, batch_size=u.shape[0]).run(u)
    info = {"host": platform.node(), "pid": os.getpid(), "ngspice_version": res.ngspice_version,
            "wall_time_s": time.perf_counter() - t0, "finished_unix_s": time.time()}
    return list(res.pre_norm), res.power_w, res.logits, info


def run_spice_batches(
    net,
    u: np.ndarray,
    index: np.ndarray,
    *,
    cluster: SpiceCluster,
    run_key: str,
    timeout_s: float | None = 3600.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[NetworkResult, list[dict[str, Any]]]:
    """ngspice results for images ``u[index]`` (in ``index`` order) of ``net`` on its hardware (its topology, wires and
    ADC) and each batch's provenance.

    The ADC (``net.adc``, calibrated by the native run) is simulated too (its ranges are part of the batch key). Batches already in the store are read, the rest run as Dask tasks (one batch in all and no
    scheduler: in this process, without starting a cluster). Raises the first failing batch's
    error after every other batch has finished and been stored. An interrupt (Ctrl-C) stops at once: the batches
    finished so far stay stored, so a re-run resumes from them, and ngspice runs still going on a local cluster's
    workers are killed (``pyims.dask_client``).
    """
    t0 = time.perf_counter()
    adc, mode = net.adc, net.topology.name
    index = np.asarray(index, dtype=np.int64)
    size = cluster.batch_size or DEFAULT_BATCH_IMAGES
    store = BatchStore(cluster.store_dir, run_key)
    n_layers = len(net.layers)
    batches = [index[k : k + size] for k in range(0, index.size, size)]
    key_of = run_key if adc is None else f"{run_key}|{adc!r}"
    keys = [_batch_key(key_of, mode, b, u[b]) for b in batches]
    results: dict[str, tuple[list[np.ndarray], np.ndarray, np.ndarray, dict[str, Any]]] = {}
    todo = []
    for b, key in zip(batches, keys):
        stored = store.get(key, n_layers, n_images=int(b.size))
        if stored is not None:
            results[key] = (stored[0], stored[1], stored[2], {**stored[3], "resumed": True})
            if progress is not None:
                progress(int(b.size))
        else:
            todo.append((b, key))

    def finish(b: np.ndarray, key: str, out) -> None:
        pre, power, output, info = out
        info = {**info, "images": [int(i) for i in b], "batch": key, "resumed": False}
        store.put(key, pre, power, output, info)
        results[key] = (pre, power, output, info)
        if progress is not None:
            progress(int(b.size))

    failure: BaseException | None = None
    n_failed = 0
    if todo and len(batches) == 1 and cluster.scheduler is None:
        b, key = todo[0]
        finish(b, key, _run_batch(net, u[b], timeout_s))
    elif todo:
        from dask.distributed import as_completed

        from pyims.dask_client import dask_client

        with dask_client(cluster.scheduler, cluster.n_workers) as client:
            shared_net = client.scatter(net, broadcast=True)
            futures = {client.submit(_run_batch, shared_net, u[b], timeout_s, pure=False,
                                     key=f"pyims-spice-{key}"): (b, key) for b, key in todo}
            for fut in as_completed(futures):
                b, key = futures[fut]
                try:
                    finish(b, key, fut.result())
                except Exception as exc:  # keep the other batches; report the first failure at the end
                    log.info("verification batch of images %d..%d failed: %s", int(b[0]), int(b[-1]), exc)
                    failure = failure or exc
                    n_failed += 1
    if failure is not None:
        if n_failed > 1:
            log.warning("%d of %d verification batches failed (pyims -v names each); the first failure follows",
                        n_failed, len(todo))
        raise failure
    ordered = [results[key] for key in keys]
    for l in range(n_layers):  # hand-made batches, each well formed, may still disagree with each other
        widths = sorted({int(r[0][l].shape[1]) for r in ordered})
        if len(widths) > 1:
            raise SpecError(f"verification batches in {store.dir} disagree in layer {l + 1}'s width ({' and '.join(map(str, widths))} "
                            "values per image); move the folder aside to run them again")
    infos = [r[3] for r in ordered]
    versions = {i.get("ngspice_version") for i in infos}
    result = NetworkResult(
        pre_norm=tuple(np.concatenate([r[0][l] for r in ordered]) for l in range(n_layers)),
        power_w=np.concatenate([r[1] for r in ordered]),
        output=np.concatenate([r[2] for r in ordered]),
        backend="ngspice",
        mode=mode,
        wall_time_s=time.perf_counter() - t0,
        ngspice_version=max(v for v in versions if v is not None) if versions - {None} else None,
        run_dirs=(),
    )
    return result, infos
