"""Run the web app with uvicorn on a socket bound here, so ``--port 0`` can pick a free port and the
printed URL is the real one."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

from mechscope.errors import MechscopeError
from mechscope.ui import app_url


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (0: any free port), or a one-line error naming the fix.

    >>> s = bind("127.0.0.1", 0); s.getsockname()[1] > 0
    True
    >>> s.close()
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        what = "is in use" if exc.errno in (98, 48) else f"cannot be bound ({exc.strerror})"
        raise MechscopeError(f"port {port} on {host} {what}; pass another --port (0 picks a free one)") from None
    sock.listen(128)
    return sock


def run(store_root: str | Path | None, host: str, port: int, token: str,
        announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted; `announce` gets the app's URL once the socket is bound."""
    import uvicorn

    from mechscope.ui.app import create_app

    sock = bind(host, port)
    app = create_app(store_root, token=token, host=host)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    announce(app_url(token, host=host, port=bound_port))
    sys.stdout.flush()
    try:
        server.run(sockets=[sock])
    finally:
        app.state.jobs.shutdown()
        sock.close()
