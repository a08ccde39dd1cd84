"""CSV meant for spreadsheets never carries a formula (OWASP's CSV injection advice): the rule
in tracker.core.spreadsheet, and every file that uses it (report, breach list, annual view,
the monthly mail's attachment, ``export --excel``), while the round-trip export stays
verbatim for import."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from report_data import NOW, World, database, env_for, local
from sqlalchemy.orm import Session

from tracker.config import ReportSettings, Settings
from tracker.core.calendar import BusinessCalendar
from tracker.core.spreadsheet import FORMULA_STARTS, Figure, neutralised, spreadsheet_row
from tracker.reports.monthly_mail import enqueue_monthly_report
from tracker.store.models import OutboxMessage

# Advisors are stored lower-case (one advisor whatever the case typed), so the formula is too.
EVIL_ADVISOR = "=cmd|'/ccalc'!a0@example.dk"
EVIL_DEPARTMENT = "@SUM(1+1)*cmd|' /C calc'!A0"
EVIL_TOPIC = '+HYPERLINK("http://evil.example")'
EVIL_NOTE = "-2+3 og en fortrolig note"


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        pytest.param(EVIL_ADVISOR, "'" + EVIL_ADVISOR, id="equals"),
        pytest.param("+45 75 85 00 00", "'+45 75 85 00 00", id="plus"),
        pytest.param("-1", "'-1", id="minus: text, though it looks like a number"),
        pytest.param("@SUM(A1:A9)", "'@SUM(A1:A9)", id="at"),
        pytest.param("\t=1+1", "'\t=1+1", id="tab in front"),
        pytest.param("\r=1+1", "'\r=1+1", id="carriage return in front"),
        pytest.param("Økonomi og Personale", "Økonomi og Personale", id="plain text"),
        pytest.param("a=b+c@d", "a=b+c@d", id="formula characters inside"),
        pytest.param(" =1+1", " =1+1", id="a space in front is not a formula start"),
        pytest.param("", "", id="empty"),
    ],
)
def test_text_that_begins_like_a_formula_gets_an_apostrophe(text: str, cell: str) -> None:
    assert neutralised(text) == cell


@given(st.text())
def test_no_neutralised_text_begins_like_a_formula_and_nothing_else_changes(text: str) -> None:
    cell = neutralised(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (text, "'" + text)


def test_figures_and_integers_are_data_even_when_negative() -> None:
    row = spreadsheet_row([Figure("-1,5"), -3, None, "-3", "Diverse"])
    assert row == ["-1,5", "-3", "", "'-3", "Diverse"]
    with pytest.raises(TypeError):
        spreadsheet_row([True])
    with pytest.raises(TypeError):
        spreadsheet_row([1.5])  # type: ignore[list-item]


def evil_world() -> World:
    world = World()
    inquiry = world.add(
        received_at=local(2026, 3, 2, 9),
        channel="email",
        department=EVIL_DEPARTMENT,
        topic=EVIL_TOPIC,
        advisor=EVIL_ADVISOR,
        note=EVIL_NOTE,
    )
    # Met a working day late: in the breach list, with a positive lateness.
    world.oblige(inquiry, "reply", due_at=local(2026, 3, 3, 9), met_at=local(2026, 3, 4, 9))
    return world


def cells(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def assert_no_formula(table: list[list[str]]) -> None:
    assert len(table) > 1
    for row in table:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (cell, row)


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "csv", "--by", "advisor"],
        ["--format", "csv", "--by", "department"],
        ["--format", "csv", "--by", "topic"],
        ["--format", "csv", "--annual"],
        ["--format", "csv", "--breaches"],
    ],
)
def test_report_csv_neutralises_every_formula_like_cell(
    run_cli: Any, tmp_path: Path, args: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, evil_world()):
        pass
    got = run_cli("report", *args, "--now", NOW.isoformat(), env=env_for(tmp_path, url))
    assert got.returncode == 0, got.stderr
    table = cells(got.stdout)
    assert_no_formula(table)
    flat = [cell for row in table for cell in row]
    evil = {"advisor": EVIL_ADVISOR, "topic": EVIL_TOPIC}.get(args[-1], EVIL_DEPARTMENT)
    assert "'" + evil in flat
    if "--breaches" in args:
        assert "'" + EVIL_ADVISOR in flat
        late = table[0].index("working_hours_late")
        assert table[1][late] == "24,00"  # a figure: no apostrophe
    assert "fortrolig" not in got.stdout


def test_the_monthly_mails_attachment_neutralises_formula_like_cells(database_url: str) -> None:
    config = Settings(
        database_url=database_url,
        departments=[EVIL_DEPARTMENT],
        reports=ReportSettings(management_recipients=["leder@fredericia.dk"]),
    )
    with database(database_url, evil_world()) as engine:
        with Session(engine) as session, session.begin():
            now = local(2026, 4, 1, 9)
            assert enqueue_monthly_report(session, config, BusinessCalendar(), now)
        with Session(engine) as session:
            (row,) = session.query(OutboxMessage).all()
    table = cells(row.payload["attachment_csv"])
    assert_no_formula(table)
    assert table[1][0] == "'" + EVIL_DEPARTMENT


def test_export_excel_is_for_danish_excel_and_neutralises_formula_like_cells(
    run_cli: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, evil_world()):
        pass
    env = env_for(tmp_path, url)
    excel = run_cli("export", "--excel", env=env)
    assert excel.returncode == 0, excel.stderr
    table = cells(excel.stdout)
    assert_no_formula(table)
    header, row = table
    record = dict(zip(header, row, strict=True))
    assert record["advisor"] == "'" + EVIL_ADVISOR
    assert record["department"] == "'" + EVIL_DEPARTMENT
    assert record["topic"] == "'" + EVIL_TOPIC
    assert record["note"] == "'" + EVIL_NOTE
    assert record["received_at"] == "2026-03-02T09:00:00+01:00"


def test_the_round_trip_export_stays_verbatim_and_says_it_is_not_for_spreadsheets(
    run_cli: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, evil_world()):
        pass
    env = env_for(tmp_path, url)
    plain = run_cli("export", env=env)
    assert plain.returncode == 0, plain.stderr
    assert not plain.stdout.startswith("\ufeff")
    header, row = list(csv.reader(io.StringIO(plain.stdout)))
    record = dict(zip(header, row, strict=True))
    assert (record["advisor"], record["note"]) == (EVIL_ADVISOR, EVIL_NOTE)
    helped = run_cli("export", "--help")
    assert "not for spreadsheets" in " ".join(helped.stdout.split())
    assert "--excel" in helped.stdout


def test_export_excel_with_json_is_bad_input(run_cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, evil_world()):
        pass
    got = run_cli("export", "--excel", "--format", "json", env=env_for(tmp_path, url))
    assert got.returncode == 2
    assert got.stderr.startswith("error: --excel")
    assert len(got.stderr.strip().splitlines()) == 1
    assert got.stdout == ""
