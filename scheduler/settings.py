"""Typed settings, validated once at start-up and passed down; nothing reads the environment later.

Every field can be set from the environment as ``ALLMENDE_<FIELD>`` (for example
``ALLMENDE_DATABASE_URL``); command-line flags override the environment.  The Helm
chart's values mirror these fields one to one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_PREFIX = "ALLMENDE_"


class SettingsError(ValueError):
    """Settings that cannot start a server; the message names the field."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite:///allmende.db"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 50051
    agent_port: Annotated[int, Field(ge=0, le=65535)] = 50052  # mTLS listener for cluster agents (with client_ca_file)
    # TLS: the server's certificate and key; with client_ca_file, cluster agents connect to agent_port
    # with a certificate signed by that CA whose common name is their cluster id (mTLS).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    client_ca_file: Path | None = None
    heartbeat_interval_s: Annotated[float, Field(gt=0)] = 10.0
    stale_after_missed: Annotated[int, Field(ge=1)] = 3
    staleness_check_s: Annotated[float, Field(gt=0)] = 5.0
    heartbeat_flush_s: Annotated[float, Field(gt=0)] = 1.0  # how often buffered heartbeats are checked for writing
    # a cluster's heartbeat reaches the store at most this often (default: half the staleness window)
    heartbeat_persist_s: Annotated[float, Field(gt=0)] | None = None
    solver_executor: Literal["process", "thread"] = "process"
    default_time_limit_s: Annotated[float, Field(gt=0)] = 30.0
    grace_s: Annotated[float, Field(ge=0)] = 5.0
    max_page_size: Annotated[int, Field(ge=1)] = 500
    token_cache_s: Annotated[float, Field(ge=0)] = 10.0  # a revoked token is refused within this time
    workers: Annotated[int, Field(ge=1, le=64)] = 1  # server processes sharing the port (scheduler.api.workers)
    # execution of approved allocations (scheduler.execution): "local" runs them on a Ray head of the
    # service's own (started, or the one at local_ray_address), clusters with their own target on theirs;
    # "clusters" runs only the clusters with a target of their own (KubeRay, a Ray address) and starts no head
    execute: Literal["none", "local", "clusters"] = "none"
    local_ray_address: str | None = None  # an existing head's dashboard URL (http://host:8265) to reuse
    local_ray_gpus: Annotated[int, Field(ge=0)] | None = None  # logical GPUs of a started head (default: registered)
    execution_seconds_per_slot: Annotated[float, Field(gt=0)] | None = None  # compressed clock, for demos
    execution_tick_s: Annotated[float, Field(gt=0)] = 5.0
    max_attempts: Annotated[int, Field(ge=1)] = 3  # submits of one allocation before it fails
    retry_backoff_s: Annotated[float, Field(ge=0)] = 5.0  # doubled after each failed submit
    pending_timeout_s: Annotated[float, Field(gt=0)] = 600.0  # a job queued longer is stopped and failed
    stop_grace_s: Annotated[float, Field(ge=0)] = 60.0  # a job alive this long past its window is stopped
    # accounting: the share of board power a GPU draws where its cluster reports no measured power
    gpu_utilisation: Annotated[float, Field(gt=0, le=1)] = 0.7
    # RayJobs on clusters that execute through KubeRay (scheduler.execution.kuberay_manifest)
    kuberay_image: Annotated[str, Field(min_length=1)] = "rayproject/ray:2.40.0-py311-gpu"
    kuberay_gpus_per_node: Annotated[int, Field(ge=1, le=64)] = 8
    kuberay_namespace_template: Annotated[str, Field(min_length=1)] = "allmende-{org}"
    kuberay_queue: str = ""  # a Kueue LocalQueue to admit RayJobs through; empty: no Kueue
    kuberay_suspend_until_start: bool = False
    kuberay_ttl_s: Annotated[int, Field(ge=0)] = 600  # RayJobs are deleted this long after they finish
    # observability (scheduler.metrics, scheduler.logs): Prometheus on its own port (0: off), log lines as text or JSON
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    # the web console (scheduler.web) on its own HTTP port (0: off), on http_host (default: host); over TLS
    # with the gRPC server's certificate when one is configured.  Worker 0 of --workers serves it.
    http_port: Annotated[int, Field(ge=0, le=65535)] = 0
    http_host: str | None = None
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _tls_pairs(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        if self.client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("client_ca_file (mTLS) needs tls_cert_file and tls_key_file")
        if self.workers > 1:
            if self.database_url.startswith("memory:"):
                raise ValueError("workers > 1 share the database, so they need SQLite or PostgreSQL, not memory://")
            if self.port == 0 or (self.client_ca_file is not None and self.agent_port == 0):
                raise ValueError("workers > 1 share one port, so it must be given, not 0")
        if self.http_port:
            taken = {"port": self.port, "agent_port": self.agent_port if self.client_ca_file else 0,
                     "metrics_port": self.metrics_port}
            clash = [name for name, port in taken.items() if port == self.http_port]
            if clash:
                raise ValueError(f"http_port {self.http_port} is already the {clash[0]}: the console needs a port "
                                 "of its own")
        for name in ("tls_cert_file", "tls_key_file", "client_ca_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: {path} is not a readable file")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def console_host(self) -> str:
        return self.http_host or self.host

    @property
    def stale_after_s(self) -> float:
        return self.heartbeat_interval_s * self.stale_after_missed

    @property
    def heartbeat_persist_every_s(self) -> float:
        return self.heartbeat_persist_s if self.heartbeat_persist_s is not None else self.stale_after_s / 2


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``ALLMENDE_*`` variables, then ``overrides`` (flags); ``None`` overrides are ignored."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = env[key]
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("; ".join(lines)) from exc
