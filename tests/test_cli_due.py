"""``svarfrist due`` and ``svarfrist calendar`` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import Result, clean_env


def ok(result: Result) -> Result:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_due_json_has_the_contract_shape_and_monday_15_00(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(run_cli("due", "--rule", "reply", "--received", "2026-11-27T15:00", "--json"))
    assert json.loads(result.stdout) == {
        "rule": "reply",
        "schedule": "working_days",
        "hours": 24,
        "received_at": "2026-11-27T15:00:00+01:00",
        "warn_at": "2026-11-30T11:00:00+01:00",
        "due_at": "2026-11-30T15:00:00+01:00",
    }


def test_due_takes_a_time_with_an_offset_as_given(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(run_cli("due", "--rule", "reply", "--received", "2026-11-27T14:00Z", "--json"))
    doc = json.loads(result.stdout)
    assert doc["received_at"] == "2026-11-27T15:00:00+01:00"
    assert doc["due_at"] == "2026-11-30T15:00:00+01:00"


def test_due_prints_local_times_with_offset_in_summer(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(run_cli("due", "--rule", "callback", "--received", "2026-06-04T11:00", "--json"))
    doc = json.loads(result.stdout)
    # Thu 11-24 (13 h); Fri 5 June (Grundlovsdag) and the weekend closed; Mon 24 h; Tue 11 h.
    assert doc["due_at"] == "2026-06-09T11:00:00+02:00"
    assert (doc["rule"], doc["hours"]) == ("callback", 48)


def test_due_text_output_names_the_rule_and_the_deadline(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(run_cli("due", "--rule", "reply", "--received", "2026-11-27T15:00"))
    assert "reply" in result.stdout
    assert "2026-11-30T15:00:00+01:00" in result.stdout
    assert "2026-11-30T11:00:00+01:00" in result.stdout


def test_due_with_hours_and_schedule_needs_no_rule(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(
        run_cli(
            "due",
            "--hours",
            "2",
            "--schedule",
            "office_hours",
            "--received",
            "2026-11-27T12:00",
            "--json",
        )
    )
    doc = json.loads(result.stdout)
    assert (doc["schedule"], doc["hours"]) == ("office_hours", 2)
    assert doc["due_at"] == "2026-11-30T09:00:00+01:00"


def test_due_explain_text_lists_skipped_days_in_danish_and_english(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(run_cli("due", "--rule", "reply", "--received", "2026-12-23T14:00", "--explain"))
    assert "2026-12-28T14:00:00+01:00" in result.stdout
    for text in ("Juleaftensdag", "Christmas Eve", "Sprunget over", "Skipped", "lørdag"):
        assert text in result.stdout, text


def test_due_explain_json_carries_the_skipped_days_and_both_languages(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(
        run_cli("due", "--rule", "reply", "--received", "2026-12-23T14:00", "--explain", "--json")
    )
    doc = json.loads(result.stdout)
    assert doc["due_at"] == "2026-12-28T14:00:00+01:00"
    why = doc["explanation"]
    assert why["counted_from"] == "2026-12-23T14:00:00+01:00"
    assert [(s["date"], s["reason"]) for s in why["skipped"]] == [
        ("2026-12-24", "closed"),
        ("2026-12-25", "closed"),
        ("2026-12-26", "weekend"),
        ("2026-12-27", "weekend"),
    ]
    assert why["skipped"][0]["name_da"] == "Juleaftensdag"
    assert any("Juleaftensdag" in line for line in why["da"])
    assert any("Christmas Eve" in line for line in why["en"])


def test_calendar_lists_the_closed_days_of_a_year_with_names(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(run_cli("calendar", "--year", "2024"))
    assert "2024-12-24" in result.stdout
    assert "Juleaftensdag" in result.stdout
    assert "Store bededag" not in result.stdout


def test_calendar_json_lists_dates_names_and_kinds(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = ok(run_cli("calendar", "--year", "2023", "--json"))
    days = json.loads(result.stdout)
    by_date = {d["date"]: d for d in days}
    assert by_date["2023-05-05"]["name_da"] == "Store bededag"
    assert by_date["2023-05-05"]["kind"] == "public"
    assert by_date["2023-06-05"]["kind"] == "municipal_closing"
    assert len(days) == 14


def test_python_dash_m_tracker_runs_the_same_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tracker", "due", "--rule", "reply", "--received",
         "2026-11-27T15:00", "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["due_at"] == "2026-11-30T15:00:00+01:00"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(
            ["due", "--rule", "reply", "--received", "soon"], "--received", id="malformed"
        ),
        pytest.param(
            ["due", "--rule", "reply", "--received", "2026-02-30T10:00"], "2026-02-30", id="feb 30"
        ),
        pytest.param(
            ["due", "--rule", "reply", "--received", "2026-03-29T02:30"], "DST", id="dst gap"
        ),
        pytest.param(
            ["due", "--rule", "nope", "--received", "2026-11-27T15:00"], "nope", id="unknown rule"
        ),
        pytest.param(
            ["due", "--hours", "2", "--schedule", "nope", "--received", "2026-11-27T15:00"],
            "nope",
            id="unknown schedule",
        ),
        pytest.param(
            ["due", "--hours", "-1", "--schedule", "working_days", "--received", "2026-11-27"],
            "--hours",
            id="negative hours",
        ),
        pytest.param(
            ["due", "--hours", "many", "--schedule", "working_days", "--received", "2026-11-27"],
            "--hours",
            id="hours not a number",
        ),
        pytest.param(["due", "--rule", "reply"], "--received", id="missing received"),
        pytest.param(["due", "--received", "2026-11-27T15:00"], "--rule", id="missing rule"),
        pytest.param(["frobnicate"], "frobnicate", id="unknown command"),
        pytest.param([], "command", id="no command"),
        pytest.param(["calendar", "--year", "twenty"], "--year", id="year not a number"),
        pytest.param(
            ["due", "--hours", "1e300", "--schedule", "working_days", "--received", "2026-11-27"],
            "finite",
            id="hours overflow",
        ),
        pytest.param(
            ["due", "--hours", "1000000", "--schedule", "working_days", "--received", "2026-11-27"],
            "50 years",
            id="more hours than the search bound",
        ),
        pytest.param(
            ["due", "--rule", "reply", "--received", "9999-12-31T23:00"], "9999", id="year 9999"
        ),
        pytest.param(
            ["due", "--rule", "reply", "--received", "0001-01-01T00:00"], "range", id="year 1"
        ),
        pytest.param(
            ["due", "--rule", "reply", "--received", "2150-12-23T10:00"],
            "outside the years the calendar supports (1772-2099)",
            id="a year without holiday data",
        ),
        pytest.param(["calendar", "--year", "2101"], "2101 is outside 1771-2100", id="year 2101"),
    ],
)
def test_bad_input_exits_2_with_one_error_line_and_no_traceback(
    run_cli, args: list[str], fragment: str
) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr
