"""Serving the app with uvicorn: one process, one worker (several processes may share one
PostgreSQL: the app keeps nothing in memory between requests)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import uvicorn
from sqlalchemy import Engine

from tracker.config import Settings
from tracker.errors import SvarfristError
from tracker.web.app import create_app
from tracker.web.state import system_clock

log = logging.getLogger(__name__)
GRACE_SECONDS = 20


def server(
    settings: Settings,
    engine: Engine,
    host: str,
    port: int,
    clock: Callable[[], datetime] = system_clock,
) -> uvicorn.Server:
    """A uvicorn server for the app; logging stays as the command line configured it."""
    config = uvicorn.Config(
        create_app(settings, engine=engine, clock=clock),
        host=host,
        port=port,
        workers=1,
        log_config=None,
        server_header=False,
        # Behind a reverse proxy on the same host, the client address is the forwarded one.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        # Requests still open this long after SIGTERM are cut: within systemd's
        # TimeoutStopSec (30 s), so the unit stops cleanly rather than being killed.
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    return uvicorn.Server(config)


def serve(
    settings: Settings,
    engine: Engine,
    host: str,
    port: int,
    clock: Callable[[], datetime] = system_clock,
) -> None:
    """Serve until SIGTERM or SIGINT; uvicorn finishes the requests in flight."""
    if settings.web.insecure_http:
        log.warning("web.insecure_http is set: cookies go without Secure (a demo only)")
    if settings.web.key() is None:
        log.warning("web.secret_key is not set: the pages answer 503; the API serves")
    try:
        server(settings, engine, host, port, clock).run()
    except SystemExit:
        # uvicorn exits with its own status (3) when it cannot start, having logged why (the
        # address in use, a host that does not resolve): a failure of the environment, 1.
        message = f"cannot serve on {host}:{port} (the reason is logged above)"
        raise SvarfristError(message) from None
