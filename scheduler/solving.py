"""Solves run outside the RPC threads: in a worker process (the default) or a worker thread.

A solve holds the GIL for long stretches (compiling, greedy, decoding), so in the
server's process it would stall every other RPC; a spawned worker process keeps the
event loop free.  (``spawn``, not ``fork``: forking a process that runs gRPC threads
is unsafe.)  The thread mode exists for tests and small deployments, where the
worker's start-up second matters more.

Progress has two parts.  The fraction is the share of the solver's time limit that has
passed, capped below 1 until it returns (the search is anytime: it uses its whole budget
unless it proves the plan optimal).  What the solver reports (:class:`solver.Progress`: its
phase, the best plan's value and size, the LP bound) comes back over a queue, from the worker
process or thread, and is handed on with the fraction every tick.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import multiprocessing
import multiprocessing.queues
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from scheduler.pinning import solve_with_pins
from solver import Plan, Problem, Progress, SolveParams
from solver.problem import Pin

OnProgress = Callable[[float, Progress | None], None]
TICK_S = 0.2

_EVENTS: Any = None  # in a worker process: the queue its solves report to (set when the process starts)


def _start_worker(events: Any) -> None:
    global _EVENTS
    _EVENTS = events


def _solve_job(problem_json: str, objective: str, params_json: str, pins: Sequence[Pin], job: int,
               events: Any = None) -> str:
    """Runs in the worker: JSON in, JSON out, so nothing but plain strings crosses the process boundary."""
    problem = Problem.model_validate_json(problem_json)
    params = SolveParams.model_validate_json(params_json)
    sink = events if events is not None else _EVENTS

    def report(progress: Progress) -> None:
        sink.put((job, progress.model_dump_json()))

    return solve_with_pins(problem, objective, params, pins, on_progress=report).model_dump_json()


class SolverRunner:
    def __init__(self, mode: Literal["process", "thread"] = "process") -> None:
        self.mode = mode
        self._executor: concurrent.futures.Executor | None = None
        self._events: Any = None
        self._jobs = itertools.count()

    def _pool(self) -> concurrent.futures.Executor:
        if self._executor is None:
            if self.mode == "process":
                context = multiprocessing.get_context("spawn")
                self._events = context.Queue()
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=_start_worker, initargs=(self._events,)
                )
            else:
                self._events = queue.SimpleQueue()
                self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="solve")
        return self._executor

    async def solve(
        self, problem: Problem, objective: str, params: SolveParams, pins: Sequence[Pin] = (),
        progress: OnProgress | None = None,
    ) -> Plan:
        loop = asyncio.get_running_loop()
        pool, job = self._pool(), next(self._jobs)
        started = time.monotonic()
        future = loop.run_in_executor(pool, _solve_job, problem.model_dump_json(), objective,
                                      params.model_dump_json(), tuple(pins), job,
                                      self._events if self.mode == "thread" else None)
        latest: Progress | None = None
        while True:
            done, _ = await asyncio.wait({future}, timeout=TICK_S)
            latest = self._latest(job, latest)
            if done:
                return Plan.model_validate_json(future.result())
            if progress is not None:
                progress(min(0.99, (time.monotonic() - started) / params.time_limit_s), latest)

    def _latest(self, job: int, latest: Progress | None) -> Progress | None:
        """The newest report of ``job`` in the queue (older jobs' leftovers are dropped)."""
        while True:
            try:
                sender, data = self._events.get_nowait()
            except queue.Empty:
                return latest
            if sender == job:
                latest = Progress.model_validate_json(data)

    def close(self) -> None:
        """Stop accepting solves; a solve still running in a worker process is terminated."""
        executor, self._executor = self._executor, None
        events, self._events = self._events, None
        if isinstance(events, multiprocessing.queues.Queue):
            events.close()  # its feeder thread must not hold up the server's exit
            events.cancel_join_thread()
        if executor is None:
            return
        if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
            # The stdlib has no public way to stop a busy worker before 3.14 (terminate_workers).
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
