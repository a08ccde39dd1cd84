"""Generated inquiries and obligations for the report tests, with independently counted answers.

Rows go in with SQLAlchemy Core (explicit ids), so the expected figures are computed here
from the very rows inserted, without any code from tracker.report_*.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, column, insert, table, update
from sqlalchemy.sql.expression import TableClause

from tracker.core.calendar import COPENHAGEN, BusinessCalendar
from tracker.store import schema
from tracker.store.db import make_engine
from tracker.store.models import Base, Inquiry, Obligation

DEPARTMENTS = ["Økonomi og Personale", "Teknik og Miljø", "Børn og Unge", "Diverse"]
TOPICS = ["Boligindskudslån", "Kontanthjælp", "Sygedagpengesager i JC", None]
ADVISORS = ["søren@fredericia.dk", "åse@fredericia.dk", "bo@fredericia.dk", None]
CHANNELS = ["phone", "sms", "email", "letter", "digital_post", "in_person"]
WRITTEN = {"sms", "email", "letter", "digital_post"}
NOW = datetime(2026, 4, 20, 10, 0, tzinfo=UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)  # type: ignore[misc]


@dataclass
class World:
    inquiries: list[dict[str, Any]] = field(default_factory=list)
    obligations: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": len(self.inquiries) + 1,
            "ref": f"T-{len(self.inquiries) + 1:05d}",
            "topic": None,
            "advisor": None,
            "callback_requested": False,
            "replied_at": None,
            "called_back_at": None,
            "closed_at": None,
            "note": None,
            "purged_at": None,
        }
        row.update(values)
        row.setdefault("created_at", row["received_at"])
        self.inquiries.append(row)
        return row

    def oblige(self, inquiry: dict[str, Any], rule: str, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": len(self.obligations) + 1,
            "inquiry_id": inquiry["id"],
            "rule": rule,
            "schedule": "working_days",
            "hours": 24.0 if rule == "reply" else 48.0,
            "warn_at": None,
            "met_at": None,
            "state": "pending",
            "next_action_at": None,
        }
        row.update(values)
        self.obligations.append(row)
        return row


def generated(
    n: int,
    seed: int = 7,
    calendar: BusinessCalendar | None = None,
    offices: Collection[str] = (),
) -> World:
    """``n`` inquiries from 2026-01-01 to 2026-04-15 with real deadlines on working_days.

    ``offices``: spread the inquiries over these offices (by a random stream of their own,
    so the rows are otherwise the same as without); none: every one in ``default``."""
    cal = calendar or BusinessCalendar()
    rnd = random.Random(seed)
    placing = random.Random(seed + 1)
    world = World()
    start = local(2026, 1, 1)
    span = int((local(2026, 4, 16) - start).total_seconds())
    for _ in range(n):
        received = (start + timedelta(seconds=rnd.randrange(span) // 60 * 60)).astimezone(UTC)
        channel = rnd.choice(CHANNELS)
        closed = None
        if rnd.random() < 0.8:
            closed = received + timedelta(minutes=rnd.randrange(60, 60 * 24 * 40))
        inquiry = world.add(
            received_at=received,
            channel=channel,
            department=rnd.choice(DEPARTMENTS),
            topic=rnd.choice(TOPICS),
            advisor=rnd.choice(ADVISORS),
            callback_requested=rnd.random() < 0.3,
            closed_at=closed,
            note="FORTROLIG note: må aldrig stå i en rapport",
        )
        if offices:
            inquiry["office"] = placing.choice(sorted(offices))
        for rule, hours in (("reply", 24), ("callback", 48)):
            if (rule == "reply" and channel not in WRITTEN) or (
                rule == "callback" and not inquiry["callback_requested"]
            ):
                continue
            due = cal.due_at(received, hours, "working_days")
            met = None
            if rnd.random() < 0.85:
                met = received + timedelta(minutes=rnd.randrange(1, hours * 60 * 3))
            world.oblige(inquiry, rule, due_at=due, met_at=met)
    return world


# Keys of a World's rows that are no column of the 0001 schema: set after the upgrade.
LATER = ("office",)


def _bare(model: type[Base], rows: list[dict[str, Any]]) -> TableClause:
    """The model's table with only the rows' columns (and their types): the model's later
    columns (and their defaults) do not exist yet in the 0001 schema the rows go into."""
    columns = model.__table__.c
    keys = [key for key in rows[0] if key not in LATER]
    return table(model.__tablename__, *(column(key, columns[key].type) for key in keys))


def _early(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in LATER} for row in rows]


def insert_world(engine: Engine, world: World) -> None:
    with engine.begin() as conn:
        if world.inquiries:
            conn.execute(insert(_bare(Inquiry, world.inquiries)), _early(world.inquiries))
        if world.obligations:
            conn.execute(insert(_bare(Obligation, world.obligations)), _early(world.obligations))


def place_offices(engine: Engine, world: World) -> None:
    """Move each inquiry with an ``office`` (and its obligations) there, as registering it
    there would have: the upgrade put every row in ``default`` (migration 0012)."""
    placed: dict[str, list[int]] = defaultdict(list)
    for i in world.inquiries:
        if i.get("office", "default") != "default":
            placed[i["office"]].append(i["id"])
    with engine.begin() as conn:
        for office, ids in placed.items():
            conn.execute(update(Inquiry).where(Inquiry.id.in_(ids)).values(office=office))
            owned = Obligation.inquiry_id.in_(ids)
            conn.execute(update(Obligation).where(owned).values(office=office))


@contextmanager
def database(url: str, world: World | None = None) -> Iterator[Engine]:
    """A database holding ``world``. The rows go into the 0001 schema and the upgrade to
    head fills their stored response times and report keys, as ``svarfrist init`` does for
    an old database."""
    engine = make_engine(url)
    try:
        schema.upgrade(engine, "0001")
        if world is not None:
            insert_world(engine, world)
        schema.upgrade(engine)
        if world is not None:
            place_offices(engine, world)
        yield engine
    finally:
        engine.dispose()


# -- independent expectations ------------------------------------------------------------------
def pct(part: int, whole: int, places: int = 1) -> float | None:
    if whole == 0:
        return None
    q = Decimal(1).scaleb(-places)
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(q, rounding=ROUND_HALF_UP))


def in_period(
    row: dict[str, Any],
    first: date | None,
    last: date | None,
    office: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Whether inquiry ``row`` is in the period (and in ``office``; None: any office) and
    had been received at ``now`` (None: whenever)."""
    day = row["received_at"].astimezone(COPENHAGEN).date()
    if office is not None and row.get("office", "default") != office:
        return False
    if now is not None and row["received_at"] > now:
        return False
    return (first is None or day >= first) and (last is None or day <= last)


def key_of(by: str, inquiry: dict[str, Any], obligation: dict[str, Any] | None = None) -> Any:
    if by == "month":
        return inquiry["received_at"].astimezone(COPENHAGEN).strftime("%Y-%m")
    if by == "rule":
        assert obligation is not None
        return obligation["rule"]
    if by == "office":
        # rows go into the 0001 schema, before offices; the upgrade puts them in the default
        # office (offices side by side: tests/test_offices_reports.py)
        return inquiry.get("office", "default")
    return inquiry[by]


def state(obligation: dict[str, Any], now: datetime) -> str:
    met, due = obligation["met_at"], obligation["due_at"]
    if met is not None and met <= now:
        return "on_time" if due is None or met <= due else "late"
    if due is not None and due <= now:
        return "overdue"
    return "pending"


def hours(minutes: list[int], q: str) -> float:
    """The q-quantile of ``minutes`` in hours, one decimal, half up (1.45 -> 1.5), in exact
    decimals (q as text: 0.9 is nine tenths)."""
    ordered = sorted(minutes)
    h = (len(ordered) - 1) * Decimal(q)
    lo = int(h)
    hi = min(lo + 1, len(ordered) - 1)
    exact = (ordered[lo] + (ordered[hi] - ordered[lo]) * (h - lo)) / Decimal(60)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def expected(
    world: World,
    by: str,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    calendar: BusinessCalendar | None = None,
    untimed: Collection[int] = (),
    office: str | None = None,
) -> dict[str, Any]:
    """The JSON report computed the slow, obvious way. ``untimed``: ids of obligations
    without a stored response time (counted, but in no median or p90). ``office``: that
    office's rows only. An inquiry received after ``now`` did not exist yet: not counted."""
    cal = calendar or BusinessCalendar()
    inquiries = {i["id"]: i for i in world.inquiries if in_period(i, first, last, office, now)}
    groups: dict[Any, dict[str, Any]] = defaultdict(
        lambda: (
            dict.fromkeys(("count", "closed", "obligations", "on_time", "late", "overdue"), 0)
            | {"times": []}
        )
    )

    def closed(i: dict[str, Any]) -> bool:
        return i["closed_at"] is not None and i["closed_at"] <= now

    total = len(inquiries)
    total_closed = sum(closed(i) for i in inquiries.values())
    if by != "rule":
        for i in inquiries.values():
            g = groups[key_of(by, i)]
            g["count"] += 1
            g["closed"] += closed(i)
    for o in world.obligations:
        i = inquiries.get(o["inquiry_id"])
        if i is None:
            continue
        g = groups[key_of(by, i, o)]
        if by == "rule":
            g["count"] += 1
            g["closed"] += closed(i)
        g["obligations"] += 1
        s = state(o, now)
        if s != "pending":
            g[s] += 1
        if s in {"on_time", "late"} and o["id"] not in untimed:
            minutes = cal.working_time(i["received_at"], o["met_at"], o["schedule"]) // timedelta(
                minutes=1
            )
            g["times"].append(minutes)
    rows = []
    for key, g in groups.items():
        judged = g["on_time"] + g["late"] + g["overdue"]
        times = g.pop("times")
        rows.append(
            {
                "key": key,
                "count": g["count"],
                "share": pct(g["count"], total),
                "open": g["count"] - g["closed"],
                "closed": g["closed"],
                "obligations": g["obligations"],
                "on_time": g["on_time"],
                "late": g["late"],
                "overdue": g["overdue"],
                "compliance": pct(g["on_time"], judged),
                "median_hours": hours(times, "0.5") if times else None,
                "p90_hours": hours(times, "0.9") if times else None,
            }
        )
    if by == "month":  # months in date order
        rows.sort(key=lambda r: r["key"] or "")
    else:  # largest count first
        rows.sort(key=lambda r: (-r["count"], r["key"] or ""))
    document = {
        "from": first.isoformat() if first else None,
        "to": last.isoformat() if last else None,
        "by": by,
        "total": total,
        "open": total - total_closed,
        "closed": total_closed,
        "rows": rows,
    }
    if office is not None:  # a report narrowed to an office names it
        document["offices"] = [office]
    return document


def toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def env_for(tmp_path: Path, url: str, **config: Any) -> dict[str, str]:
    lines = [
        'default_recipient = "borgervejleder@fredericia.dk"',
        *(f"{k} = {toml(v)}" for k, v in config.items()),
    ]
    path = tmp_path / "svarfrist.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"SVARFRIST_DATABASE_URL": url, "SVARFRIST_CONFIG": str(path), "USER": "tester"}
