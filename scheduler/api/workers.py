"""``allmende serve --workers N``: N server processes on one port, so the service uses every core.

gRPC Python runs each server's handlers on one event loop under one GIL, which on this design's
2-core target caps a process at about one core; the way out that gRPC itself documents is several
processes sharing the listening port with ``SO_REUSEPORT``, the kernel spreading connections over
them.  They share nothing but the database:

- Worker 0 is this process.  It alone does the once-per-server duties: it marks rounds a dead
  server left ``solving`` before any other worker starts, and it sweeps for stale clusters.
- Workers 1..N-1 are spawned processes that serve every RPC.  If this process is killed, its
  workers are killed with it (``PR_SET_PDEATHSIG``): a crash takes the whole server, as with one
  process, and what was acknowledged is in the database.
- If a worker dies, the server stops them all and exits with an error, so that its supervisor
  restarts it whole and worker 0 recovers the rounds that worker was solving.  A worker that stops
  cleanly (a Ctrl-C reaches every process of the terminal's group) stops the server cleanly.
- Writes stay durable and serial: each worker group-commits on its own, and on SQLite the writers
  of all workers take turns under one file lock (:class:`~scheduler.store.engine.WriterLock`).

What a worker keeps in memory stays its own, so what the others must see goes through the database:
a solve's progress reaches the round record every second (``GetRound`` on any worker shows it);
heartbeats reach it at least every half staleness window, which is what the sweep on worker 0 reads
for clusters streaming to other workers (a cluster marked stale comes back to ``active`` within that
half window); a revoked bearer token is refused by each worker within ``token_cache_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from scheduler import logs
from scheduler.settings import Settings

log = logging.getLogger("allmende.workers")

PR_SET_PDEATHSIG = 1
POLL_S = 0.5


async def serve_workers(settings: Settings, ready: Callable[[int], Awaitable[None] | None] | None = None) -> int:
    """Run worker 0 here and workers 1..N-1 as child processes; the exit code of the whole server."""
    from scheduler.api.server import serve

    context = multiprocessing.get_context("spawn")  # no fork of a process that has started gRPC
    children: list[tuple[Any, Any]] = []  # (process, its "serving" event)
    ended = asyncio.Event()  # a worker has exited: stop the server
    failed = [False]
    watching: list[asyncio.Task[None]] = []

    async def start_children(port: int) -> None:
        """Worker 0 is serving: start the others and wait until each serves too (or fails to)."""
        for index in range(1, settings.workers):
            serving = context.Event()
            child = context.Process(target=_child, args=(settings.model_dump(mode="json"), index, os.getpid(),
                                                         serving), name=f"allmende-worker-{index}")
            child.start()
            children.append((child, serving))
        for child, serving in children:
            while not await asyncio.to_thread(serving.wait, POLL_S):
                if not child.is_alive():
                    log.error("worker %s exited with code %s before serving: stopping the server", child.name,
                              child.exitcode)
                    failed[0] = True
                    ended.set()
                    return
        log.info("%d workers serving on %s:%d", settings.workers, settings.host, port)
        watching.append(asyncio.get_running_loop().create_task(_watch([c for c, _ in children], ended, failed)))
        if ready is not None:
            result = ready(port)
            if result is not None:
                await result

    try:
        await serve(settings, start_children, stop_when=ended)
    finally:
        for task in watching:
            task.cancel()
        for child, _ in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: a graceful stop, as for worker 0
        for child, _ in children:
            await asyncio.to_thread(child.join, settings.grace_s + 10)
            if child.is_alive():
                child.kill()
                await asyncio.to_thread(child.join)
    return 1 if failed[0] else 0


async def _watch(children: list[Any], ended: asyncio.Event, failed: list[bool]) -> None:
    while not ended.is_set():
        await asyncio.sleep(POLL_S)
        for child in children:
            if child.is_alive():
                continue
            if child.exitcode == 0:
                log.info("worker %s stopped: stopping the server", child.name)
            else:
                log.error("worker %s exited with code %s: stopping the server", child.name, child.exitcode)
                failed[0] = True
            ended.set()
            return


def _child(settings: dict[str, Any], index: int, parent: int, serving: Any) -> None:
    """A spawned worker: serve until SIGTERM, with none of worker 0's once-per-server duties."""
    from scheduler.api.server import serve

    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the parent's stop must do
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above took effect
        return
    logs.configure(settings["log_format"], worker=index)
    if settings["metrics_port"]:  # an HTTP port is not shared: worker i serves metrics on metrics_port + i
        settings = {**settings, "metrics_port": settings["metrics_port"] + index}
    asyncio.run(serve(Settings.model_validate(settings), lambda _port: serving.set(), duties=False))
