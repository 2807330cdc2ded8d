"""The Dask client pyims's distributed work runs on (sweep points, ngspice verification batches).

``check_scheduler(address)`` asks an address whether it is a Dask scheduler, within a bounded time
(``SCHEDULER_TIMEOUT_S``): the command line calls it before any long work, so an address that is an
HTTP server (the dashboard port), a socket that never answers or a closed port fails in seconds with
a ``ClusterError``, not after training or never. ``dask_client(scheduler, n_workers)`` checks the
address the same way, then connects to the existing scheduler, or starts a ``LocalCluster``
of ``n_workers`` single-threaded worker processes (default: the machine's cores), and closes what
it started on exit. Dask's own start/stop messages are kept below WARNING, and workers inherit
single-threaded BLAS (many small solves per process run faster that way).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["dask_client", "check_scheduler", "SCHEDULER_TIMEOUT_S"]

#: How long the connection and the scheduler's identity reply may take, together (seconds).
SCHEDULER_TIMEOUT_S = 10.0


async def _identity(address: str, timeout_s: float) -> object:
    import asyncio

    from distributed.comm import connect

    comm = await asyncio.wait_for(connect(address, timeout=timeout_s), timeout_s)
    try:
        await asyncio.wait_for(comm.write({"op": "identity"}), timeout_s)
        return await asyncio.wait_for(comm.read(), timeout_s)
    finally:
        comm.abort()


def check_scheduler(address: object, timeout_s: float = SCHEDULER_TIMEOUT_S) -> None:
    """``ClusterError`` unless ``address`` (e.g. ``tcp://host:8786``) answers as a Dask scheduler within about
    ``timeout_s`` seconds: the connection, the handshake and an identity request each have that limit."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    from pyims.errors import ClusterError

    if not isinstance(address, str) or not address.strip():
        raise ClusterError(f"scheduler address {address!r} is not an address; give e.g. tcp://host:8786")
    pool = ThreadPoolExecutor(1, thread_name_prefix="pyims-scheduler-check")  # its own event loop (Jupyter runs one)
    try:
        reply = pool.submit(asyncio.run, _identity(address, timeout_s)).result(timeout=3 * timeout_s + 5)
    except (FutureTimeout, asyncio.TimeoutError, TimeoutError) as exc:
        raise ClusterError(f"scheduler {address} did not answer as a Dask scheduler within {timeout_s:g} s (is it a "
                           "dashboard or another service's port? a Dask scheduler listens on 8786 by default)") from exc
    except Exception as exc:  # refused, unreachable, unknown scheme, a peer that speaks another protocol
        raise ClusterError(f"scheduler {address} cannot be reached as a Dask scheduler: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'no message'}") from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        what = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise ClusterError(f"{address} answered, but not as a Dask scheduler (it says it is {what!r}); give the "
                           "scheduler's address")


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
    else:
        check_scheduler(scheduler)
    client = Client(scheduler or local, timeout=SCHEDULER_TIMEOUT_S)
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()
