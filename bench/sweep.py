"""Benchmark of the reminder daemon (not a test): ``.venv/bin/python bench/sweep.py``.

1. An idle sweep (nothing due) with 1,000,000 open obligations vs 1,000: same run, ratio
   printed (target <= 1.5x). The sweep's queries are index range scans on next_action_at and
   outbox(state, send_at), so their cost should not grow with the number of open obligations.
2. 1,000 reminders planned (refresh), rendered and delivered to a local aiosmtpd (a separate
   process, so client and server do not share one interpreter) by one ``sweep``: target
   >= 500/s end to end. Beside it, in the same run: the same sweep with one SMTP connection
   per message, bare aiosmtplib over one connection and with one connection per message, and
   rendering alone, and the CPU time per message of the same sweep (median of five).

Options: ``--open N`` (default 1,000,000) to try a smaller database quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import alternate_sweeps, timed
from tracker.config import Settings, SmtpSettings
from tracker.core.calendar import COPENHAGEN
from tracker.core.response import local_month
from tracker.daemon.sweep import DIGEST_DONE, build_services, sweep
from tracker.mail.render import MailConfig, message_id, render
from tracker.notify import Connection, SmtpConfig, SmtpConnection
from tracker.store import outbox, schema
from tracker.store.db import make_engine, session_factory, transaction

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)  # a Monday morning, inside the window
CHUNK = 50_000
IDLE_RUNS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sqlite_time(moment: datetime) -> str:
    # UTCDateTime stores naive UTC on SQLite in this format (sorts in time order).
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def build_database(path: Path, count: int, *, due_now: bool) -> str:
    """``count`` open inquiries with one ``reply`` obligation each, inserted in bulk.

    ``due_now``: the obligations are in their warning period at NOW (a due_soon each);
    otherwise their next action is days away, so a sweep at NOW finds nothing.
    """
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    schema.upgrade(engine)
    received = NOW - timedelta(hours=21) if due_now else NOW + timedelta(days=2)
    warn, due = received + timedelta(hours=20), received + timedelta(hours=24)
    if due_now:  # Friday 12:50 -> warn Monday 08:50, due Monday 12:50
        received = datetime(2026, 11, 27, 12, 50, tzinfo=COPENHAGEN)
        warn, due = NOW - timedelta(minutes=10), NOW + timedelta(hours=3, minutes=50)
    next_action = NOW - timedelta(minutes=1) if due_now else warn
    month = local_month(received)  # the reports' stored keys (tracker.core.response)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        for start in range(0, count, CHUNK):
            ids = range(start + 1, min(start + CHUNK, count) + 1)
            cur.executemany(
                "INSERT INTO inquiries (id, ref, channel, department, topic, advisor, "
                "callback_requested, received_at, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        i,
                        f"B-{i:07d}",
                        "email",
                        "Arbejdsmarked og Borgerservice",
                        "Kontanthjælp",
                        f"advisor{i % 50}@fredericia.dk",
                        0,
                        _sqlite_time(received),
                        _sqlite_time(received),
                    )
                    for i in ids
                ],
            )
            cur.executemany(
                "INSERT INTO obligations (id, inquiry_id, rule, schedule, hours, warn_at, "
                "due_at, state, next_action_at, received_month, department)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        i,
                        i,
                        "reply",
                        "working_days",
                        24.0,
                        _sqlite_time(warn),
                        _sqlite_time(due),
                        "pending",
                        _sqlite_time(next_action),
                        month,
                        "Arbejdsmarked og Borgerservice",
                    )
                    for i in ids
                ],
            )
        cur.execute("COMMIT")
    finally:
        raw.close()
    with transaction(session_factory(engine)) as session:
        # As after the daemon's first sweeps: obligations planned (next_action_at set to their
        # next look above), today's digest done.
        outbox.put_state(session, DIGEST_DONE, NOW, {"day": NOW.date().isoformat()})
        session.execute(text("ANALYZE"))
    engine.dispose()
    return url


def settings_for(url: str, port: int) -> Settings:
    return Settings(
        database_url=url,
        mail_from="svarfrist@fredericia.dk",
        default_recipient="team@fredericia.dk",
        smtp=SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=30),
    )


def idle_sweeps(small_url: str, large_url: str, port: int) -> tuple[float, float]:
    """Median idle sweep on each database, measured alternately (bench.common)."""
    engines = [make_engine(small_url), make_engine(large_url)]
    services = [
        build_services(settings_for(url, port), session_factory(engine))
        for url, engine in zip((small_url, large_url), engines, strict=True)
    ]
    times = alternate_sweeps(services, IDLE_RUNS, lambda i: NOW + timedelta(seconds=i))
    for engine in engines:
        engine.dispose()
    return statistics.median(times[0]), statistics.median(times[1])


class _PerMessage:
    """A connection that opens and closes an SMTP session for every message."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, envelope: Any) -> None:
        conn = await SmtpConnection.open(self.config)
        try:
            await conn.send(envelope)
        finally:
            await conn.close()

    async def close(self) -> None:
        return None


def delivery_rate(tmp: Path, port: int, count: int, *, per_message: bool) -> tuple[float, int]:
    url = build_database(tmp / f"deliver-{per_message}.db", count, due_now=True)
    engine = make_engine(url)
    settings = settings_for(url, port)
    config = SmtpConfig(host="127.0.0.1", port=port, security="none")

    async def per_message_connect() -> Connection:
        return _PerMessage(config)

    connect = per_message_connect if per_message else None
    svc = build_services(settings, session_factory(engine), connect)
    start = time.perf_counter()
    report = asyncio.run(sweep(svc, NOW))
    elapsed = time.perf_counter() - start
    engine.dispose()
    return count / elapsed, report.delivery.sent


def cpu_per_message(tmp: Path, port: int, count: int, runs: int = 5) -> float:
    """Median over ``runs`` sweeps of ``count`` due reminders (plan, render, deliver) of the
    process's CPU time, all its threads, per message: steadier than the wall-clock rate on
    a shared machine."""
    per: list[float] = []
    for run in range(runs):
        url = build_database(tmp / f"cpu-{run}.db", count, due_now=True)
        engine = make_engine(url)
        svc = build_services(settings_for(url, port), session_factory(engine), None)
        start = time.process_time()
        report = asyncio.run(sweep(svc, NOW))
        per.append((time.process_time() - start) / count)
        assert report.delivery.sent == count, report
        engine.dispose()
    return statistics.median(per)


def bare_rate(port: int, count: int, *, per_message: bool) -> float:
    data = b"From: a@b\r\nTo: c@d\r\nSubject: x\r\n\r\nhello\r\n"

    async def run() -> None:
        options: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": port,
            "use_tls": False,
            "start_tls": False,
        }
        if per_message:
            for _ in range(count):
                async with aiosmtplib.SMTP(**options) as client:
                    await client.sendmail("a@b", ["c@d"], data)
            return
        async with aiosmtplib.SMTP(**options) as client:
            for _ in range(count):
                await client.sendmail("a@b", ["c@d"], data)

    start = time.perf_counter()
    asyncio.run(run())
    return count / (time.perf_counter() - start)


def render_seconds(count: int) -> float:
    config = MailConfig(mail_from="svarfrist@fredericia.dk", commands={"reply": "reply"})
    payload = {
        "ref": "2026-000001",
        "rule": "reply",
        "department": "Arbejdsmarked og Borgerservice",
        "due_at": "2026-11-30T11:00:00+00:00",
    }
    start = time.perf_counter()
    for i in range(count):
        render(
            kind="due_soon",
            payload=payload,
            recipient="anne@fredericia.dk",
            message_id=message_id(f"reminder:{i}:due_soon", i, config.mail_from),
            config=config,
            now=NOW,
        )
    return (time.perf_counter() - start) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=1_000_000, help="open obligations (large)")
    parser.add_argument("--reminders", type=int, default=1_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="svarfrist-bench-"))
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        print(f"bench/sweep.py: SQLite, aiosmtpd sink in its own process on 127.0.0.1:{port}")
        small = timed("build 1,000", lambda: build_database(tmp / "small.db", 1_000, due_now=False))
        large = timed(
            f"build {args.open:,}",
            lambda: build_database(tmp / "large.db", args.open, due_now=False),
        )
        t_small, t_large = idle_sweeps(small, large, port)
        big = f"{args.open:,}"
        print(
            f"idle sweep, 1,000 open obligations: {t_small * 1000:7.2f} ms (median of {IDLE_RUNS})"
        )
        print(f"idle sweep, {big} open obligations: {t_large * 1000:7.2f} ms")
        print(f"ratio: {t_large / t_small:.2f}x (target <= 1.5x)")
        n = args.reminders
        rate, sent = delivery_rate(tmp, port, n, per_message=False)
        print(f"{n:,} reminders planned, rendered, delivered (sweep), one connection:")
        print(f"    {rate:6.0f}/s ({sent} sent; target >= 500/s)")
        rate_pm, sent_pm = delivery_rate(tmp, port, n, per_message=True)
        print(f"  the same, one connection per message: {rate_pm:6.0f}/s ({sent_pm} sent)")
        cpu = cpu_per_message(tmp, port, n)
        print(f"  CPU per message, the same sweep (median of five): {cpu * 1e3:.3f} ms")
        one = bare_rate(port, n, per_message=False)
        each = bare_rate(port, n, per_message=True)
        print(f"  bare aiosmtplib, one connection: {one:6.0f}/s; one per message: {each:6.0f}/s")
        per = render_seconds(n)
        print(f"  rendering alone: {per * 1e3:.3f} ms/message ({1 / per:,.0f}/s)")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("aiosmtpd did not start")


if __name__ == "__main__":
    sys.exit(main())
