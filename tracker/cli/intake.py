"""``svarfrist intake [--once]``: read the configured mailbox (docs/intake.md)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from tracker.cli.common import out, settings
from tracker.cli.database import database
from tracker.errors import BadInputError, EnvironmentFailure
from tracker.store.db import session_factory


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    intake = sub.add_parser(
        "intake",
        help="read the [intake] mailbox: register citizens' mails, acknowledge them, "
        "fulfil on advisors' replies",
    )
    intake.add_argument("--once", action="store_true", help="read what is new, then exit")
    intake.set_defaults(handler=cmd_intake)


def cmd_intake(args: argparse.Namespace) -> int:
    from tracker.intake import loop
    from tracker.intake.acknowledge import connector_of
    from tracker.intake.imap import IMAP_ERRORS
    from tracker.intake.process import Intake
    from tracker.scheduler import wall_clock

    conf = settings()
    if conf.intake is None:
        raise BadInputError("no [intake] section in the configuration: nothing to read")
    intake = Intake.of(conf)
    with database() as engine:
        factory = session_factory(engine)
        connect = connector_of(intake)
        if args.once:
            try:
                counts = loop.once(intake, factory, connect, wall_clock)
            except IMAP_ERRORS as exc:
                where = f"IMAP {conf.intake.imap_host}" if conf.intake.imap_host else "maildir"
                raise EnvironmentFailure(f"{where}: {type(exc).__name__}: {exc}") from None
            out(f"intake: {loop.summary(counts)}")
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        loop.forever(intake, factory, connect, wall_clock, stop)
    return 0
