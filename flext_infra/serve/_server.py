"""Running the application under uvicorn: ``flext serve``.

uvicorn owns the signals: on SIGTERM (or Ctrl-C) it stops accepting
connections, lets in-flight requests finish (``graceful_timeout``), runs the
lifespan's shutdown, which disposes the container, and then re-raises the
signal, so the process ends as terminated by it rather than with a made-up 0.
"""

from __future__ import annotations

import math
import socket

import uvicorn

from flext_infra.container import Container
from flext_infra.observability import get_logger
from flext_infra.orchestration import MeltanoProject
from flext_infra.serve._app import create_app

log = get_logger("flext.serve")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(
    container: Container,
    *,
    host: str,
    port: int,
    project: MeltanoProject | None = None,
    graceful_timeout: float = 30.0,
) -> None:
    """Serve :func:`create_app` on ``host:port`` until a signal stops it.

    Raises:
        ConfigurationError: the settings refuse to serve (no token when deployed).
        OSError: the address cannot be bound.
    """
    app = create_app(container, project=project)
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    config = uvicorn.Config(
        app,
        log_config=None,  # our logging pipeline is already installed
        access_log=False,  # RequestLogMiddleware writes one structured line per request
        server_header=False,
        timeout_graceful_shutdown=math.ceil(graceful_timeout),
        lifespan="on",
    )
    log.info("serve.listening", url=f"http://{shown}:{bound_port}")
    uvicorn.Server(config).run(sockets=[sock])
