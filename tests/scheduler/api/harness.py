"""A real grpc.aio server for tests: in this process on its own event-loop thread, or as a subprocess.

Clients are plain synchronous stubs over a real channel, as the CLI uses them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc

from scheduler.api.gen.allmende.v1 import (
    execution_pb2_grpc,
    inventory_pb2_grpc,
    ledger_pb2_grpc,
    requests_pb2_grpc,
    review_pb2_grpc,
    rounds_pb2_grpc,
)
from scheduler.api.server import _build
from scheduler.domain import Change, Role
from scheduler.service import Service
from scheduler.settings import Settings
from scheduler.solving import SolverRunner
from scheduler.store import Repository, open_store
from support.ports import free_port, listening, wait_for

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2025, 3, 3, tzinfo=UTC)
ALLMENDE = [str(Path(sys.executable).with_name("allmende"))]


@dataclass
class ManualClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Stubs:
    channel: grpc.Channel
    inventory: inventory_pb2_grpc.InventoryServiceStub = field(init=False)
    requests: requests_pb2_grpc.RequestServiceStub = field(init=False)
    rounds: rounds_pb2_grpc.RoundServiceStub = field(init=False)
    review: review_pb2_grpc.ReviewServiceStub = field(init=False)
    ledger: ledger_pb2_grpc.LedgerServiceStub = field(init=False)
    execution: execution_pb2_grpc.ExecutionServiceStub = field(init=False)

    def __post_init__(self) -> None:
        self.inventory = inventory_pb2_grpc.InventoryServiceStub(self.channel)
        self.requests = requests_pb2_grpc.RequestServiceStub(self.channel)
        self.rounds = rounds_pb2_grpc.RoundServiceStub(self.channel)
        self.review = review_pb2_grpc.ReviewServiceStub(self.channel)
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(self.channel)
        self.execution = execution_pb2_grpc.ExecutionServiceStub(self.channel)


def auth(bearer: str | None) -> list[tuple[str, str]]:
    return [] if bearer is None else [("authorization", f"Bearer {bearer}")]


def issue(store: Repository, role: Role, *, org: str | None = None, cluster: str | None = None) -> str:
    by = Change(actor="test", role=Role.SYSTEM, at=T0, action="issue_token")
    name = f"{role}-{org or cluster or 'staff'}"
    return store.write(lambda t: t.create_token(role, by=by, org=org, cluster=cluster, name=name)).bearer


class InProcessServer:
    """The server on a private event loop in a daemon thread; ``call`` runs a coroutine on that loop."""

    def __init__(self, url: str = "memory://", clock: Callable[[], datetime] | None = None, solver: str = "thread",
                 **settings: Any) -> None:
        self.settings = Settings(port=0, **settings)
        self.clock = clock or ManualClock()
        self.store = open_store(url)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="grpc-server")
        self.thread.start()
        self.service = Service(self.store, self.settings, clock=self.clock,
                               runner=SolverRunner("process" if solver == "process" else "thread"))
        self.running = self.call(_build(self.service, self.settings))
        self.call(self.running.server.start())
        self.port = self.running.port
        self.address = f"127.0.0.1:{self.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def token(self, role: Role, *, org: str | None = None, cluster: str | None = None) -> str:
        return issue(self.store, role, org=org, cluster=cluster)

    def stubs(self) -> Stubs:
        return Stubs(grpc.insecure_channel(self.address))

    def close(self) -> None:
        self.call(self.running.server.stop(0))
        self.call(self.service.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.store.close()


class SubprocessServer:
    """``allmende serve`` in a child process, on a port chosen here so restarts reuse it."""

    def __init__(self, db_url: str, port: int | None = None, extra_env: dict[str, str] | None = None,
                 workers: int = 1) -> None:
        self.db_url = db_url
        self.workers = workers
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "ALLMENDE_SOLVER_EXECUTOR": "thread", **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        cmd = [*ALLMENDE, "serve", "--db", self.db_url, "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        channel = grpc.insecure_channel(self.address)
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            self.kill()
            raise RuntimeError(f"server did not start: {self.stderr()}") from None
        finally:
            channel.close()
        wait_for(lambda: listening(self.port) == self.workers, timeout=timeout)  # worker 0 serves first

    def stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None or self.proc.poll() is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def stubs(self) -> Stubs:
        return Stubs(grpc.insecure_channel(self.address))
