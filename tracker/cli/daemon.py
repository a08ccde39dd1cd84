"""The daemon's commands: ``tick`` (one sweep), ``run`` (until SIGTERM) and ``status``."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tracker.cli.common import format_time, now_of, out, print_json, settings
from tracker.cli.database import add_office, context, database, given_office
from tracker.errors import SvarfristError
from tracker.store.db import session_factory, transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tracker.daemon.health import Health
    from tracker.store import outbox

# asyncio and the scheduler, SMTP and template stacks are imported inside the commands that
# use them: every other command (add, reply, list, ...) starts without loading them.

# Exit status of ``status`` when the daemon is unhealthy (monitoring: anything non-zero alerts).
STALE = 1
# Retrying messages listed by ``status`` (all are counted).
_SHOWN = 20


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    tick = sub.add_parser("tick", help="one sweep: send every reminder that is due, then exit")
    tick.add_argument("--now", help="as if it were this time (ISO 8601)")
    tick.set_defaults(handler=cmd_tick)

    run = sub.add_parser("run", help="the daemon: sweep on a schedule until SIGTERM")
    run.set_defaults(handler=cmd_run)

    status = sub.add_parser(
        "status",
        help="the daemon's health: last sweep, outbox backlog, retrying and failed deliveries; "
        "exit 1 when unhealthy",
    )
    status.add_argument("--now", help="as if it were this time (ISO 8601)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    add_office(
        status,
        "the backlog, retrying and failed messages of this office's inquiries only (digests "
        "and reports are about no one inquiry: counted without --office)",
    )
    status.set_defaults(handler=cmd_status)


def cmd_tick(args: argparse.Namespace) -> int:
    import asyncio

    from tracker.daemon.sweep import build_services, sweep

    now = now_of(args)
    with database() as engine:
        svc = build_services(settings(), session_factory(engine))
        report = asyncio.run(sweep(svc, now))
    d = report.delivery
    out(
        f"sweep at {format_time(now)}: {report.refreshed} obligations refreshed, "
        f"{report.enqueued + report.digests} messages queued, {d.messages} sent "
        f"({d.sent} reminders), {d.retried} to retry, {d.failed} failed, "
        f"{d.cancelled} cancelled"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from tracker.daemon.metrics import Metrics, MetricsServer
    from tracker.daemon.sweep import build_services
    from tracker.scheduler import run_daemon, wall_clock
    from tracker.store.register import purge

    conf = settings()
    with database() as engine:  # refuses an outdated schema before anything starts
        svc = build_services(conf, session_factory(engine))

        def purge_now(now: datetime) -> int:
            with transaction(session_factory(engine)) as session:
                return purge(session, _daemon_context(args, now))

        metrics = Metrics() if conf.daemon.metrics_port is not None else None
        server = None
        if metrics is not None and conf.daemon.metrics_port is not None:
            host, port = conf.daemon.metrics_host, conf.daemon.metrics_port
            try:
                server = MetricsServer.start(metrics, host, port)
            except OSError as exc:  # the port is taken, or the host is not ours: exit 1
                raise SvarfristError(
                    f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
                ) from exc
        intake = _intake_loop(conf, engine)
        try:
            return asyncio.run(
                run_daemon(
                    svc,
                    interval_seconds=conf.daemon.sweep_interval_seconds,
                    digest_time=conf.reminders.digest_time,
                    purge_time=conf.daemon.purge_time,
                    purge=purge_now,
                    clock=wall_clock,
                    metrics=metrics,
                    intake=intake,
                )
            )
        finally:
            if server is not None:
                server.stop()


def _intake_loop(conf: Any, engine: Engine) -> Callable[[threading.Event], None] | None:
    """Mail intake's loop when [intake] is configured: read continuously beside the sweeps."""
    if conf.intake is None:
        return None
    from tracker.intake import loop
    from tracker.intake.acknowledge import connector_of
    from tracker.intake.process import Intake
    from tracker.scheduler import wall_clock

    intake = Intake.of(conf)
    factory = session_factory(engine)
    connect = connector_of(intake)

    def read(stop: threading.Event) -> None:
        loop.forever(intake, factory, connect, wall_clock, stop)

    return read


def _daemon_context(args: argparse.Namespace, now: datetime) -> Any:
    args.actor = "svarfrist-daemon"
    return context(args, now)


def cmd_status(args: argparse.Namespace) -> int:
    from tracker.daemon.health import assess

    now = now_of(args)
    conf = settings().daemon
    max_age = timedelta(seconds=conf.status_max_age_seconds)
    office = given_office(args)
    with database() as engine:
        last, backlog, failures = _status(engine, now, office)
        intake = _intake_state(engine)
    health = assess(
        now=now,
        last_sweep=last,
        oldest_due_at=backlog.oldest_due_at,
        retrying=len(backlog.retrying),
        max_sweep_age=max_age,
        max_undelivered=timedelta(seconds=conf.status_max_undelivered_seconds),
        clock_skew=timedelta(minutes=settings().clock_skew_minutes),
    )
    for mailbox in _failing(intake):
        since = datetime.fromisoformat(str(mailbox["failing_since"]))
        if now - since > max_age:
            problem = (
                f"mail intake cannot read the mailbox{_named(mailbox)} since {format_time(since)}"
            )
            health = replace(health, problems=(*health.problems, problem))
    if args.json:
        document = _status_json(now, last, backlog, failures, health)
        document |= {"intake": _intake_json(intake)}
        print_json(document | ({"office": office} if office is not None else {}))
    else:
        _print_status(
            now, last=last, backlog=backlog, failures=failures, health=health, max_age=max_age
        )
        _print_intake(intake)
    return 0 if health.healthy else STALE


def _intake_state(engine: Engine) -> dict[str, Any] | None:
    from tracker.store import intake

    with session_factory(engine)() as session:
        return intake.states(session)


def _failing(intake: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The mailboxes intake cannot read (each intake's own, in a database shared by several)."""
    mailboxes = intake.get("mailboxes", []) if intake is not None else []
    return [m for m in mailboxes if m.get("failing_since")]


def _named(mailbox: dict[str, Any]) -> str:
    return f" {mailbox['mailbox']}" if mailbox.get("mailbox") else ""


def _print_intake(intake: dict[str, Any] | None) -> None:
    """Mail intake's counts and health (refs and counts only: nothing of any mail)."""
    if intake is None:
        return
    counts = ", ".join(f"{n} {k}" for k, n in sorted(intake.get("counts", {}).items()))
    ignored = ", ".join(f"{n} {k}" for k, n in sorted(intake.get("ignored", {}).items()))
    last_round = _stored_time(intake.get("last_round_at")) or "never"
    out(f"mail intake: last round {last_round}; {counts or 'no mail'}")
    out(f"mail intake ignored: {ignored or 'none'}")
    for mailbox in _failing(intake):
        out(
            f"mail intake FAILING{_named(mailbox)} since "
            f"{_stored_time(mailbox['failing_since'])}: {mailbox.get('last_error')}; "
            f"next attempt {_stored_time(mailbox.get('next_attempt_at'))}"
        )


INTAKE_TIMES = ("last_round_at", "failing_since", "next_attempt_at")
"""The times in intake's state (stored in UTC), in the whole and in each mailbox's."""


def _intake_json(intake: dict[str, Any] | None) -> dict[str, Any] | None:
    """Intake's state for ``status --json``, its times local with offset as every output
    time is (docs/contract.md), not as stored."""
    if intake is None:
        return None

    def local(state: dict[str, Any]) -> dict[str, Any]:
        return state | {key: _stored_time(state[key]) for key in INTAKE_TIMES if key in state}

    return local(intake) | {"mailboxes": [local(m) for m in intake.get("mailboxes", [])]}


def _stored_time(stored: Any) -> str | None:
    """A time intake's state keeps (ISO 8601, UTC), printed as every time is: local time
    with offset, to the second."""
    return format_time(datetime.fromisoformat(str(stored))) if stored else None


def _age(now: datetime, moment: datetime | None) -> int | None:
    return None if moment is None else int((now - moment).total_seconds())


def _status_json(
    now: datetime,
    last: datetime | None,
    backlog: outbox.Backlog,
    failures: list[outbox.Failure],
    health: Health,
) -> dict[str, Any]:
    return {
        "last_sweep": format_time(last),
        "last_sweep_age_seconds": _age(now, last),
        "healthy": health.healthy,
        "problems": list(health.problems),
        "backlog": {
            "due": backlog.due,
            "scheduled": backlog.scheduled,
            "oldest_due_at": format_time(backlog.oldest_due_at),
            "oldest_due_age_seconds": _age(now, backlog.oldest_due_at),
            "retrying": len(backlog.retrying),
        },
        "failed": backlog.failed,
        "failures": [
            {"key": f.key, "kind": f.kind, "recipient": f.recipient, "error": f.error}
            for f in failures
        ],
        "retrying": [
            {
                "key": r.key,
                "kind": r.kind,
                "recipient": r.recipient,
                "attempts": r.attempts,
                "error": r.error,
                "due_since": format_time(r.due_since),
                "next_attempt_at": format_time(r.next_attempt_at),
            }
            for r in backlog.retrying[:_SHOWN]
        ],
    }


def _print_status(
    now: datetime,
    *,
    last: datetime | None,
    backlog: outbox.Backlog,
    failures: list[outbox.Failure],
    health: Health,
    max_age: timedelta,
) -> None:
    if last is None:
        out("last sweep: never: STALE (is `svarfrist run` running?)")
    else:
        age = _age(now, last) or 0
        when = f"{age} s ago" if age >= 0 else f"{-age} s in the future"
        limit = int(max_age.total_seconds())
        out(f"last sweep: {format_time(last)} ({when}, limit {limit} s): {health.sweep_verdict}")
    oldest = ""
    if backlog.oldest_due_at is not None:
        waited = _age(now, backlog.oldest_due_at)
        oldest = f", oldest due {format_time(backlog.oldest_due_at)} ({waited} s waiting)"
    out(f"outbox: {backlog.due} due now{oldest}, {backlog.scheduled} scheduled later")
    out(f"retrying deliveries: {len(backlog.retrying)}")
    for r in backlog.retrying[:_SHOWN]:
        out(
            f"  {r.kind} to {r.recipient} ({r.key}, {r.attempts} attempts, due since "
            f"{format_time(r.due_since)}, next {format_time(r.next_attempt_at)}): {r.error}"
        )
    out(f"failed deliveries: {backlog.failed}")
    for f in failures:
        out(f"  {f.kind} to {f.recipient} ({f.key}, {f.attempts} attempts): {f.error}")
    for problem in health.problems:
        out(f"UNHEALTHY: {problem}")
    if health.healthy:
        out("healthy")


def _status(
    engine: Engine, now: datetime, office: str | None
) -> tuple[datetime | None, outbox.Backlog, list[outbox.Failure]]:
    from tracker.daemon.sweep import LAST_SWEEP
    from tracker.store import outbox

    with session_factory(engine)() as session:
        state = outbox.get_state(session, LAST_SWEEP)
        return (
            state.at if state is not None else None,
            outbox.backlog(session, now, office),
            outbox.failures(session, office=office),
        )
