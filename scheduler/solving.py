"""Solves run outside the RPC threads: in a worker process (the default) or a worker thread.

A solve holds the GIL for long stretches (compiling, greedy, decoding), so in the
server's process it would stall every other RPC; a spawned worker process keeps the
event loop free.  (``spawn``, not ``fork``: forking a process that runs gRPC threads
is unsafe.)  The thread mode exists for tests and small deployments, where the
worker's start-up second matters more.

The solver reports no progress of its own, so progress during the solve is the
share of its time limit that has passed, capped below 1 until it returns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import time
from collections.abc import Callable, Sequence
from typing import Literal

from scheduler.pinning import Pinned, solve_with_pins
from solver import Plan, Problem, SolveParams

Progress = Callable[[float], None]
TICK_S = 0.2


def _solve_job(problem_json: str, objective: str, params_json: str, pins: Sequence[Pinned]) -> str:
    """Runs in the worker: JSON in, JSON out, so nothing but plain strings crosses the process boundary."""
    problem = Problem.model_validate_json(problem_json)
    params = SolveParams.model_validate_json(params_json)
    return solve_with_pins(problem, objective, params, pins).model_dump_json()


class SolverRunner:
    def __init__(self, mode: Literal["process", "thread"] = "process") -> None:
        self.mode = mode
        self._executor: concurrent.futures.Executor | None = None

    def _pool(self) -> concurrent.futures.Executor:
        if self._executor is None:
            if self.mode == "process":
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
            else:
                self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="solve")
        return self._executor

    async def solve(
        self, problem: Problem, objective: str, params: SolveParams, pins: Sequence[Pinned] = (),
        progress: Progress | None = None,
    ) -> Plan:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        future = loop.run_in_executor(
            self._pool(), _solve_job, problem.model_dump_json(), objective, params.model_dump_json(), tuple(pins)
        )
        while True:
            done, _ = await asyncio.wait({future}, timeout=TICK_S)
            if done:
                return Plan.model_validate_json(future.result())
            if progress is not None:
                progress(min(0.99, (time.monotonic() - started) / params.time_limit_s))

    def close(self) -> None:
        """Stop accepting solves; a solve still running in a worker process is terminated."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
            # The stdlib has no public way to stop a busy worker before 3.14 (terminate_workers).
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
