"""``svarfrist web``: the web app and the HTTP API (docs/contract.md "HTTP")."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.cli.common import parse_time, settings
from tracker.cli.database import database
from tracker.errors import BadInputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    web = sub.add_parser(
        "web",
        help="serve the web app and the HTTP API (/api/v1) until SIGTERM",
        description="Serve the staff pages (log in with `svarfrist user add`; they need "
        "web.secret_key), the HTTP API under /api/v1 (bearer tokens: `svarfrist token "
        "create`), /healthz and /metrics, with uvicorn, one worker. Bind to 127.0.0.1 "
        "behind a reverse proxy that terminates TLS.",
    )
    web.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind ({DEFAULT_HOST})")
    web.add_argument("--port", default=str(DEFAULT_PORT), help=f"TCP port ({DEFAULT_PORT})")
    web.add_argument(
        "--now",
        help="serve as if it were this time when the server starts, the clock running on from "
        "there (ISO 8601; for the demo's week: its mails' links and deadlines as they stood)",
    )
    web.set_defaults(handler=cmd_web)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise BadInputError(f"--port: {text!r} is not a TCP port (1-65535)")
    return int(text)


def _host(text: str) -> str:
    """An address or name to bind. An empty one would not be the default: the server
    would listen on every interface (0.0.0.0 and ::), which only an explicit 0.0.0.0 may ask."""
    if not text.strip():
        raise BadInputError(
            f"--host: {text!r} is no address (default {DEFAULT_HOST}; 0.0.0.0 for every interface)"
        )
    return text


def cmd_web(args: argparse.Namespace) -> int:
    host, port = _host(args.host), _port(args.port)
    start = None if args.now is None else parse_time(args.now, "--now")
    # FastAPI and uvicorn: only for this command
    from tracker.web.server import serve
    from tracker.web.state import clock_from, system_clock

    clock = system_clock if start is None else clock_from(start)
    with database() as engine:
        serve(settings(), engine, host, port, clock)
    return 0
