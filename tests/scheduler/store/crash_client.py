"""A store client to be killed: submits from several threads and prints each id once its write is acknowledged.

``python -m tests.scheduler.store.crash_client URL RUN`` writes ``sent <key>`` before each call and
``ack <key> <id>`` after it returns, flushing each line, so whatever the parent read before its
SIGKILL is a true record of what the store had promised.
"""

from __future__ import annotations

import sys
import threading
from itertools import count

from scheduler.domain import new_id
from scheduler.store import open_store
from tests.scheduler.store.builders import change, spec

THREADS = 4


def main(url: str, run: str) -> None:
    store = open_store(url)
    lock = threading.Lock()
    numbers = count()

    def say(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def client() -> None:
        while True:
            key = f"{run}-{next(numbers)}"
            say(f"sent {key}")
            record = store.submit_request(spec("org-crash", key), id=new_id("req"), by=change())
            say(f"ack {key} {record.id}")

    for _ in range(THREADS):
        threading.Thread(target=client, daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
