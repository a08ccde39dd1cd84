"""Helpers shared by the bench scripts (bench/sweep.py, bench/offices.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tracker.daemon.sweep import Services, sweep


def timed(label: str, action: Callable[[], Any]) -> Any:
    """``action()``, printing how long it took (for the slow steps: building databases)."""
    start = time.perf_counter()
    result = action()
    print(f"  ({label}: {time.perf_counter() - start:.1f} s)", flush=True)
    return result


def alternate_sweeps(
    services: Sequence[Services],
    runs: int,
    now: Callable[[int], datetime],
    before: Callable[[Services], None] | None = None,
) -> list[list[float]]:
    """Seconds of each of ``runs`` idle sweeps per services, taking turns in one event loop
    (so load from elsewhere on the machine hits all alike); run ``i`` sweeps at ``now(i)``.
    ``before`` (untimed) readies the database for each sweep. Asserts nothing was found."""
    times: list[list[float]] = [[] for _ in services]

    async def measure() -> None:
        for i in range(runs):
            for which, svc in enumerate(services):
                if before is not None:
                    before(svc)
                start = time.perf_counter()
                report = await sweep(svc, now(i))
                times[which].append(time.perf_counter() - start)
                assert not report.found_work, report

    asyncio.run(measure())
    return times
