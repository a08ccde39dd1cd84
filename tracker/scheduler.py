"""The daemon's wiring: APScheduler 3 jobs that call ``sweep(now=clock())``, and shutdown.

Jobs live in memory (they are defined here, in code); all state is in the database, so a
sweep at startup catches up after any downtime and several replicas need no coordination
beyond the outbox's row claims. Times of day (digest, purge) are Europe/Copenhagen wall
time, given explicitly: APScheduler's default is the host's zone, often UTC on servers.

Shutdown (SIGTERM/SIGINT): stop claiming, let the message in flight finish and commit, then
stop the scheduler. APScheduler 3's executor would cancel a running coroutine on shutdown,
so the sweep's lock is awaited first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time as monotonic_clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tracker.core.calendar import COPENHAGEN
from tracker.daemon import sdnotify
from tracker.daemon.metrics import Metrics
from tracker.daemon.sweep import Services, sweep
from tracker.store import outbox
from tracker.store.intake import states as intake_states

log = logging.getLogger(__name__)

# A job that starts this late (a busy loop, a suspended VM) still runs instead of being
# skipped; APScheduler's default of 1 s would silently drop it.
MISFIRE_GRACE_SECONDS = 300

Clock = Callable[[], datetime]
Purge = Callable[[datetime], object]
Intake = Callable[[threading.Event], None]
"""Mail intake's loop (tracker.intake.loop.forever): runs in its own thread until the event."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


class _AsDebug(logging.Filter):
    """APScheduler logs two INFO lines per job run ("Running job", "executed successfully"):
    thousands of journal lines a day that say nothing the sweep's own line does not. They
    become DEBUG records, shown only with ``--verbose``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_QUIET = _AsDebug()


def quiet_apscheduler() -> None:
    """Demote APScheduler's per-run lines to DEBUG (idempotent)."""
    for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)


@dataclass(kw_only=True)
class _Jobs:
    """The daemon's jobs; one lock so a sweep and the purge never overlap."""

    svc: Services
    clock: Clock
    stop: asyncio.Event
    purge: Purge | None
    metrics: Metrics | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def sweep(self) -> None:
        if self.stop.is_set():
            return
        async with self.lock:
            if self.stop.is_set():
                return
            await self._sweep(self.clock())

    async def _sweep(self, now: datetime) -> None:
        started = monotonic_clock.monotonic()
        try:
            report = await sweep(self.svc, now, self.stop)
        except Exception:
            log.exception("sweep at %s failed; the next one retries", now.isoformat())
            if self.metrics is not None:
                self.metrics.sweep_done(now, monotonic_clock.monotonic() - started, None)
            return
        if self.metrics is not None:
            self.metrics.sweep_done(now, monotonic_clock.monotonic() - started, report.delivery)
            await self._observe_outbox(now)
        if report.found_work:
            d = report.delivery
            log.info(
                "sweep: %d refreshed, %d queued, %d sent, %d retried, %d failed",
                report.refreshed,
                report.enqueued,
                d.sent,
                d.retried,
                d.failed,
            )

    async def _observe_outbox(self, now: datetime) -> None:
        assert self.metrics is not None
        try:
            found, intake = await asyncio.to_thread(_backlog, self.svc, now)
        except Exception:
            log.exception("cannot read the outbox for the metrics")
            return
        self.metrics.outbox(found, now)
        self.metrics.intake(intake)

    async def purge_job(self) -> None:
        if self.purge is None or self.stop.is_set():
            return
        async with self.lock:
            try:
                await asyncio.to_thread(self.purge, self.clock())
            except Exception:
                log.exception("purge failed; it runs again tomorrow")


def _backlog(svc: Services, now: datetime) -> tuple[outbox.Backlog, dict[str, Any] | None]:
    """The outbox's backlog, and mail intake's state row (its counters and health)."""
    with svc.factory() as session:
        return outbox.backlog(session, now), intake_states(session)


def _scheduler(
    jobs: _Jobs, *, interval_seconds: int, digest_time: time | None, purge_time: time
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=COPENHAGEN,
        job_defaults={
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            "coalesce": True,
            "max_instances": 1,
        },
    )
    # The first sweep runs at once: it catches up on whatever fell due while we were down.
    scheduler.add_job(
        jobs.sweep,
        IntervalTrigger(seconds=interval_seconds, timezone=COPENHAGEN),
        id="sweep",
        next_run_time=jobs.clock().astimezone(COPENHAGEN),
    )
    if digest_time is not None:
        scheduler.add_job(
            jobs.sweep,
            CronTrigger(
                day_of_week="mon-fri",
                hour=digest_time.hour,
                minute=digest_time.minute,
                timezone=COPENHAGEN,
            ),
            id="digest",
        )
    scheduler.add_job(
        jobs.purge_job,
        CronTrigger(hour=purge_time.hour, minute=purge_time.minute, timezone=COPENHAGEN),
        id="purge",
    )
    return scheduler


async def run_daemon(
    svc: Services,
    *,
    interval_seconds: int,
    digest_time: time | None,
    purge_time: time,
    purge: Purge | None = None,
    clock: Clock = wall_clock,
    metrics: Metrics | None = None,
    intake: Intake | None = None,
) -> int:
    """Sweep every ``interval_seconds`` until SIGTERM/SIGINT; returns the exit status (0).

    With ``intake``, the mailbox is read beside the sweeps, in a thread of its own (IMAP IDLE
    blocks), stopped with the daemon."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    quiet_apscheduler()
    jobs = _Jobs(svc=svc, clock=clock, stop=stop, purge=purge, metrics=metrics)
    scheduler = _scheduler(
        jobs, interval_seconds=interval_seconds, digest_time=digest_time, purge_time=purge_time
    )
    scheduler.start()
    sdnotify.notify(f"READY=1\nSTATUS=sweeping every {interval_seconds} s")
    log.info("svarfrist daemon started: sweeping every %d s", interval_seconds)
    watchdog = asyncio.create_task(_watchdog(stop))
    intake_stop = threading.Event()
    reading = asyncio.create_task(asyncio.to_thread(intake, intake_stop)) if intake else None
    await stop.wait()
    intake_stop.set()
    sdnotify.notify("STOPPING=1")
    log.info("stopping: finishing the message in flight")
    scheduler.pause()
    async with jobs.lock:
        scheduler.shutdown(wait=False)
    if reading is not None:
        await reading  # the round in flight finishes; IDLE wakes within seconds
    watchdog.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watchdog
    log.info("stopped")
    return 0


async def _watchdog(stop: asyncio.Event) -> None:
    interval = sdnotify.watchdog_interval()
    if interval is None:
        return
    while not stop.is_set():
        sdnotify.notify("WATCHDOG=1")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
