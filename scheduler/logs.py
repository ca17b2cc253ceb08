"""Log lines as text for a terminal or as one JSON object per line for a log pipeline (``log_format``).

The JSON lines carry the round and allocation ids as fields of their own, so an operator can filter a
round's whole story without parsing messages.  Ids are taken from ``extra={"round_id": ...}`` where a
call gives them, else from the message's arguments: every id of ours names its kind
(``round-...``, ``alloc-...``, see :func:`scheduler.domain.new_id`), so existing calls such as
``log.info("round %s failed", record.id)`` need no change.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ID_FIELDS = {"round-": "round_id", "alloc-": "allocation_id", "req-": "request_id"}
EXTRA_FIELDS = ("round_id", "allocation_id", "request_id", "cluster_id", "worker")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, ids, exception."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            line["worker"] = self.worker
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, str):
                field = next((f for prefix, f in ID_FIELDS.items() if arg.startswith(prefix)), None)
                if field is not None:
                    line.setdefault(field, arg)
        for field in EXTRA_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(log_format: Literal["text", "json"], worker: int | None = None, level: int = logging.INFO) -> None:
    """Set the root logger's one handler (stderr) to ``log_format``; replaces any handler set before."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(worker))
    else:
        prefix = f"worker-{worker} " if worker is not None else ""
        handler.setFormatter(logging.Formatter(TEXT.replace("%(name)s", prefix + "%(name)s")))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
