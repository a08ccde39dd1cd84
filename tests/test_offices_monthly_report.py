"""The monthly management report per office, on SQLite and PostgreSQL: the top level's
``management_recipients`` get every office's report, as before offices; an office with
recipients of its own (``[offices.KEY.reports]``) gets its own report alone, on its own
calendar, once, and never the top level's figures; its recipients are checked at start."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from register_support import cli_env
from sqlalchemy import select
from test_offices_register import CONFIG, Cli

from tracker.config import Settings, check_offices, management_recipients
from tracker.core.calendar import COPENHAGEN
from tracker.daemon.sweep import build_services, plan_reports
from tracker.errors import ConfigError
from tracker.store.db import make_engine, session_factory
from tracker.store.models import OutboxMessage

# Nord's first working day of January 2027 is Tuesday the 5th: it closes Monday the 4th.
MONTHLY = CONFIG.replace(
    "closed_dates = [2026-12-07]", "closed_dates = [2026-12-07, 2027-01-04]"
) + (
    '\n[reports]\nmanagement_recipients = ["chef@kommune.dk"]\n'
    '\n[offices.nord.reports]\nmanagement_recipients = ["chef@nord.dk", "chef@nord.dk"]\n'
)
DECEMBER = "2026-12-04T10:00"


@pytest.fixture
def world(run_cli: Any, database_url: str, tmp_path: Path) -> Settings:
    """Two inquiries in default and one in nord, received in December 2026."""
    config = tmp_path / "svarfrist.toml"
    config.write_text(MONTHLY, encoding="utf-8")
    cli = Cli(run_cli, cli_env(database_url, config))
    cli.ok("init")
    placed = [["Diverse"], ["Teknik og Miljø"], ["Borgerservice Nord", "--office", "nord"]]
    for department, *office in placed:
        cli.ok("add", "--channel", "phone", "--department", department,
               "--received", DECEMBER, "--now", DECEMBER, *office)  # fmt: skip
    settings = Settings(**{**tomllib.loads(MONTHLY), "database_url": database_url})
    check_offices(settings)
    return settings


def plan(settings: Settings, *moment: int) -> dict[str, dict[str, Any]]:
    """Plan the reports at a local time of January 2027; every queued report by key."""
    engine = make_engine(settings.database_url)
    try:
        svc = build_services(settings, session_factory(engine))
        plan_reports(svc, datetime(2027, 1, *moment, tzinfo=COPENHAGEN))
        with session_factory(engine)() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "report"))
            return {r.key: {"to": r.recipient, **r.payload} for r in rows}
    finally:
        engine.dispose()


def test_each_office_with_recipients_gets_its_own_report_on_its_own_calendar(
    world: Settings,
) -> None:
    monday = plan(world, 4, 9, 0)
    assert set(monday) == {"report:2026-12:chef@kommune.dk"}  # nord is closed today
    every = monday["report:2026-12:chef@kommune.dk"]
    assert "Diverse" in every["text"] and "Borgerservice Nord" in every["text"]
    assert "Kontor:" not in every["text"]

    tuesday = plan(world, 5, 9, 0)
    assert set(tuesday) == {"report:2026-12:chef@kommune.dk", "report:2026-12:nord:chef@nord.dk"}
    nord = tuesday["report:2026-12:nord:chef@nord.dk"]
    assert nord["to"] == "chef@nord.dk"  # named twice, queued once
    assert nord["subject"] == "Svarfrist: månedsrapport for december 2026 (nord)"
    assert nord["attachment_name"] == "svarfrist-2026-12-nord.csv"
    assert "Kontor: nord" in nord["text"] and "Borgerservice Nord" in nord["text"]
    for view in ("text", "html", "attachment_csv"):
        assert "Diverse" not in nord[view] and "Teknik" not in nord[view], view
    assert plan(world, 6, 9, 0) == tuesday  # once a month, whatever the sweeps


def test_an_office_does_not_inherit_the_top_level_recipients() -> None:
    text = MONTHLY.replace(
        '\n[offices.nord.reports]\nmanagement_recipients = ["chef@nord.dk", "chef@nord.dk"]\n',
        "\n[offices.nord.reports]\nmonthly_time = 10:00:00\n",
    )
    settings = Settings(**tomllib.loads(text))
    assert management_recipients(settings, "nord") == []
    assert management_recipients(settings, "default") == []


def test_a_bad_office_management_recipient_stops_the_start_naming_the_key() -> None:
    text = MONTHLY.replace('"chef@nord.dk", "chef@nord.dk"', '"chef@nord.dk", "ikke en adresse"')
    settings = Settings(**tomllib.loads(text))
    with pytest.raises(ConfigError) as raised:
        check_offices(settings)
    assert raised.value.key == "offices.nord.reports.management_recipients[1]"
