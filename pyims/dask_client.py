"""The Dask client pyims's distributed work runs on (sweep points, ngspice verification batches).

``dask_client(scheduler, n_workers)`` connects to an existing scheduler, or starts a ``LocalCluster``
of ``n_workers`` single-threaded worker processes (default: the machine's cores), and closes what
it started on exit. Dask's own start/stop messages are kept below WARNING, and workers inherit
single-threaded BLAS (many small solves per process run faster that way).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["dask_client"]


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator:
    from dask.distributed import Client, LocalCluster

    for name in ("distributed", "tornado", "bokeh"):  # Dask logs every start and stop at INFO
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # inherited by worker processes
    local = None
    if scheduler is None:
        local = LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.WARNING)
    client = Client(scheduler or local)
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()
