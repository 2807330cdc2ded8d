"""The Dask client pyims's distributed work runs on (sweep points, ngspice verification batches).

``check_scheduler(address)`` asks an address whether it is a Dask scheduler, within a bounded time
(``SCHEDULER_TIMEOUT_S``): the command line calls it before any long work, so an address that is an
HTTP server (the dashboard port), a socket that never answers or a closed port fails in seconds with
a ``ClusterError``, not after training or never. ``dask_client(scheduler, n_workers)`` checks the
address the same way, then connects to the existing scheduler, or starts a ``LocalCluster``
of ``n_workers`` single-threaded worker processes (default: the machine's cores), and closes what
it started on exit. Dask's own start/stop messages are kept below WARNING, and workers inherit
single-threaded BLAS (many small solves per process run faster that way).

Shutdown is orderly and quiet (``docs/cluster.md``): the client closes before the cluster; the worker
processes of a LocalCluster ignore SIGINT (Ctrl-C reaches the whole process group, but only this
process decides what an interrupt means), so they print no ``KeyboardInterrupt`` tracebacks; on an
interrupt or error the ngspice runs those workers started are killed first (a worker blocked on one
would otherwise be killed after Dask's grace time and leave ngspice running); and Dask's loggers are
held at CRITICAL while everything closes -- in the worker processes for their whole life -- unless
pyims's own log is on (``pyims -v``), which shows them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["dask_client", "check_scheduler", "quiet_loggers", "verbose_dask", "kill_worker_simulations",
           "SCHEDULER_TIMEOUT_S"]

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


#: Loggers whose messages a closing cluster emits (heartbeats to a closed scheduler, cancelled tasks, workers
#: killed after the grace time): held at CRITICAL while a cluster closes, unless ``verbose_dask()``.
SHUTDOWN_LOGGERS = ("distributed", "tornado", "asyncio")


def verbose_dask() -> bool:
    """True when pyims's own log is on at INFO (``pyims -v``): Dask's shutdown messages and its worker
    processes' logs are shown then, and held below CRITICAL otherwise."""
    return logging.getLogger("pyims").isEnabledFor(logging.INFO)


@contextmanager
def quiet_loggers(names: tuple[str, ...] = SHUTDOWN_LOGGERS, level: int = logging.CRITICAL) -> Iterator[None]:
    """Hold the loggers ``names`` at ``level`` (at least) inside the block, unless ``verbose_dask()``; their levels
    are restored after it."""
    if verbose_dask():
        yield
        return
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(max(level, saved[name]))
    try:
        yield
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


def _start_quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (shared by the worker processes) unless it runs already, telling it not
    to warn of "leaked semaphore objects" at exit: a worker still busy when the cluster closes is killed after Dask's
    grace time, and the tracker then frees what it held -- expected after Ctrl-C, not a fault to report."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)  # CPython's shared tracker (private: guarded)
    if tracker is None or getattr(tracker, "_pid", None) is not None:
        return  # running already, or not a tracker this Python has: its warnings stay as they are
    saved = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [saved, "ignore::UserWarning:multiprocessing.resource_tracker"]))
    try:
        resource_tracker.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = saved


def _start_local_cluster(n_workers: int, quiet: bool):
    """A LocalCluster whose worker processes ignore SIGINT. SIGINT is set to ignored while they are spawned: an
    ignored signal stays ignored across exec, and Python installs its KeyboardInterrupt handler only where SIGINT
    is at its default. (Blocking it instead does not carry over: the processes are spawned from threads Dask made
    earlier.) A Ctrl-C in those seconds of start-up is not seen; pressed again, it is."""
    import signal
    import threading

    from dask.distributed import LocalCluster

    if quiet:
        _start_quiet_resource_tracker()
    main = threading.current_thread() is threading.main_thread()  # signal.signal works only there
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"},  # no port 8787 clash
                            silence_logs=logging.CRITICAL if quiet else logging.WARNING)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def kill_worker_simulations(cluster) -> int:
    """Kill every process group a worker process of ``cluster`` (a LocalCluster) started as its own session -- the
    ngspice runs (``pyims.runners.session`` starts each in a new session so that a timeout kills all of it); returns
    how many. A worker blocked on one then finishes its task with an error at once and closes in time."""
    import signal

    import psutil

    killed = 0
    for worker in list(getattr(cluster, "workers", {}).values()):
        pid = getattr(getattr(worker, "process", None), "pid", None)
        if pid is None:
            continue
        try:
            children = psutil.Process(pid).children()
        except psutil.Error:
            continue
        for child in children:
            try:
                if os.getpgid(child.pid) == child.pid:  # a session leader: a run started with start_new_session
                    os.killpg(child.pid, signal.SIGKILL)
                    killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator:
    """A Dask client on ``scheduler``, or on a LocalCluster of ``n_workers`` worker processes started here and closed
    on exit (see the module docstring for how it shuts down)."""
    from dask.distributed import Client

    for name in ("distributed", "tornado", "bokeh"):  # Dask logs every start and stop at INFO
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # inherited by worker processes
    local = client = None
    if scheduler is None:
        local = _start_local_cluster(n_workers or os.cpu_count() or 1, quiet=not verbose_dask())
    else:
        check_scheduler(scheduler)
    ok = False
    try:
        client = Client(scheduler or local, timeout=SCHEDULER_TIMEOUT_S)
        yield client
        ok = True
    finally:
        with quiet_loggers():  # the client first, then the cluster it talks to
            if local is not None and not ok:  # interrupted or failed: stop the simulations still running
                kill_worker_simulations(local)
            if client is not None:
                client.close()
            if local is not None:
                local.close()
