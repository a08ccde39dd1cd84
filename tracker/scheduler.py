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
from collections.abc import Callable
from datetime import UTC, datetime, time

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tracker.core.calendar import COPENHAGEN
from tracker.daemon import sdnotify
from tracker.daemon.sweep import Services, sweep

log = logging.getLogger(__name__)

# A job that starts this late (a busy loop, a suspended VM) still runs instead of being
# skipped; APScheduler's default of 1 s would silently drop it.
MISFIRE_GRACE_SECONDS = 300

Clock = Callable[[], datetime]
Purge = Callable[[datetime], object]


def wall_clock() -> datetime:
    return datetime.now(UTC)


async def run_daemon(
    svc: Services,
    *,
    interval_seconds: int,
    digest_time: time | None,
    purge_time: time,
    purge: Purge | None = None,
    clock: Clock = wall_clock,
) -> int:
    """Sweep every ``interval_seconds`` until SIGTERM/SIGINT; returns the exit status (0)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    lock = asyncio.Lock()

    async def sweep_job() -> None:
        if stop.is_set():
            return
        async with lock:
            if stop.is_set():
                return
            now = clock()
            try:
                report = await sweep(svc, now, stop)
            except Exception:
                log.exception("sweep at %s failed; the next one retries", now.isoformat())
                return
            if report.found_work:
                log.info(
                    "sweep: %d refreshed, %d queued, %d sent, %d retried, %d failed",
                    report.refreshed,
                    report.enqueued,
                    report.delivery.sent,
                    report.delivery.retried,
                    report.delivery.failed,
                )

    async def purge_job() -> None:
        if purge is None or stop.is_set():
            return
        async with lock:
            try:
                await asyncio.to_thread(purge, clock())
            except Exception:
                log.exception("purge failed; it runs again tomorrow")

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
        sweep_job,
        IntervalTrigger(seconds=interval_seconds, timezone=COPENHAGEN),
        id="sweep",
        next_run_time=clock().astimezone(COPENHAGEN),
    )
    if digest_time is not None:
        scheduler.add_job(
            sweep_job,
            CronTrigger(
                day_of_week="mon-fri",
                hour=digest_time.hour,
                minute=digest_time.minute,
                timezone=COPENHAGEN,
            ),
            id="digest",
        )
    scheduler.add_job(
        purge_job,
        CronTrigger(hour=purge_time.hour, minute=purge_time.minute, timezone=COPENHAGEN),
        id="purge",
    )
    scheduler.start()
    sdnotify.notify(f"READY=1\nSTATUS=sweeping every {interval_seconds} s")
    log.info("svarfrist daemon started: sweeping every %d s", interval_seconds)
    watchdog = asyncio.create_task(_watchdog(stop))
    await stop.wait()
    sdnotify.notify("STOPPING=1")
    log.info("stopping: finishing the message in flight")
    scheduler.pause()
    async with lock:
        scheduler.shutdown(wait=False)
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
