"""A real PostgreSQL started from the machine's own binaries, for the tests and the service benchmark.

:class:`PostgresServer` runs ``initdb`` and ``pg_ctl start`` in a directory, on a loopback port with
its socket in that directory, and stops with ``pg_ctl stop -m immediate``.  PostgreSQL refuses to
run as root, so under root (CI runs ``make test`` as root) the server runs as an unprivileged system
user, ``allmende-pg``, created on first use (or ``nobody`` if it cannot be created).  Set
``ALLMENDE_PG_BIN`` to point at another ``bin`` directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PG_USER = "allmende-pg"
START_ATTEMPTS = 3


def find_bin() -> Path | None:
    """The newest ``bin`` directory holding initdb, pg_ctl and postgres (``ALLMENDE_PG_BIN`` first)."""
    candidates = [os.environ.get("ALLMENDE_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    candidates += [str(Path(p).parent) for p in [shutil.which("pg_ctl") or ""] if p]
    for c in candidates:
        if c and all((Path(c) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(c)
    return None


def _major(path: str) -> int:
    m = re.search(r"/postgresql/(\d+)/", path + "/")
    return int(m.group(1)) if m else 0


def unprivileged_user() -> str | None:
    """``None`` when not root; else a user PostgreSQL agrees to run as."""
    if os.geteuid() != 0:
        return None
    if subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER], capture_output=True
        )
        if made.returncode != 0 and subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
            return "nobody"
    return PG_USER


@dataclass
class PostgresServer:
    bin: Path
    root: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / tool), *args]
        if self.user is not None and shutil.which("runuser"):
            command = ["runuser", "-u", self.user, "--", *command]
        elif self.user is not None:  # no util-linux: su with an explicit shell (the user has none)
            command = ["su", "-s", "/bin/sh", self.user, "-c", shlex.join(command)]
        return subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            owner = pwd.getpwnam(self.user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        if not self.data.exists():
            initdb = ("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
            _check(self.run("initdb", *initdb))
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        _check(self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start"))

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _check(result: subprocess.CompletedProcess[str]) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{result.args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}")
