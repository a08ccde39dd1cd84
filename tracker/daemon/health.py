"""Is the daemon doing its job? Pure: the facts ``status`` reads become a verdict with reasons.

Unhealthy when any of these holds (each is one reason, in words an operator can act on):

* no sweep was ever recorded, or the last one is older than ``max_sweep_age``;
* the last sweep is *in the future* (beyond a small clock skew): a host clock set wrong, or a
  ``tick --now`` with a later time; such a record says nothing about the daemon running now;
* a message has waited longer than ``max_undelivered`` since it was due: mail cannot be
  delivered (the SMTP server is down or refuses), even while each attempt is only retried.

Failed (permanent) deliveries are shown but do not make the daemon unhealthy: they are a
fact about one address, not about delivery, and would keep the alarm on forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, kw_only=True)
class Health:
    problems: tuple[str, ...]
    sweep_verdict: str
    """``ok``, ``STALE``, ``IN THE FUTURE`` or ``never``: the last sweep in one word."""

    @property
    def healthy(self) -> bool:
        return not self.problems


def assess(
    *,
    now: datetime,
    last_sweep: datetime | None,
    oldest_due_at: datetime | None,
    retrying: int,
    max_sweep_age: timedelta,
    max_undelivered: timedelta,
    clock_skew: timedelta,
) -> Health:
    """The verdict at ``now``; every reason it is not healthy, in the order above."""
    problems: list[str] = []
    if last_sweep is None:
        verdict = "never"
        problems.append("no sweep has run: is `svarfrist run` running?")
    elif last_sweep > now + clock_skew:  # up to the skew ahead is hosts' clocks, not an error
        verdict = "IN THE FUTURE"
        ahead = int((last_sweep - now).total_seconds())
        problems.append(
            f"the last sweep is recorded {ahead} s in the future: a clock set wrong, or "
            "`tick --now` with a later time; it says nothing about the daemon now"
        )
    elif now - last_sweep > max_sweep_age:
        verdict = "STALE"
        age = int((now - last_sweep).total_seconds())
        problems.append(
            f"the last sweep was {age} s ago (limit {int(max_sweep_age.total_seconds())} s): "
            "is `svarfrist run` running?"
        )
    else:
        verdict = "ok"
    if oldest_due_at is not None and now - oldest_due_at > max_undelivered:
        waited = int((now - oldest_due_at).total_seconds())
        limit = int(max_undelivered.total_seconds())
        cause = f", {retrying} being retried" if retrying else ""
        problems.append(
            f"mail is not being delivered: a message has waited {waited} s (limit {limit} s){cause}"
        )
    return Health(problems=tuple(problems), sweep_verdict=verdict)
