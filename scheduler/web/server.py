"""The console's HTTP listener, run by uvicorn on the event loop the gRPC server already runs on.

uvicorn's ``Server.serve`` would take over SIGINT and SIGTERM, which the gRPC server's graceful stop
owns, so the listener is driven through ``startup`` and ``shutdown`` on a socket bound here: port 0
works (tests read the real port back) and a port in use fails with ``OSError`` as the gRPC port does.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

GRACE_S = 5


@dataclass
class Listening:
    server: uvicorn.Server
    sock: socket.socket
    port: int

    async def stop(self) -> None:
        await self.server.shutdown(sockets=[self.sock])


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def listen(app: Starlette, host: str, port: int, *, cert: Path | None = None,
                 key: Path | None = None) -> Listening:
    """Serve ``app`` on ``host:port`` (TLS with ``cert`` and ``key``) until :meth:`Listening.stop`."""
    sock = bind(host, port)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, server_header=False,
                            ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key) if key else None,
                            timeout_graceful_shutdown=GRACE_S)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
    except BaseException:
        sock.close()
        raise
    return Listening(server, sock, sock.getsockname()[1])
