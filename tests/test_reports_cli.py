"""``svarfrist report`` through the real console script: formats, the annual view, errors."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from register_support import cli_env, write_config
from report_data import NOW, World, database, env_for, expected, generated, local, pct

from tracker.core.calendar import BusinessCalendar

FREDERICIA = [
    "Arbejdsmarked og Borgerservice",
    "Diverse",
    "Teknik og Miljø",
    "Pleje og Omsorg",
    "Familie og Børnesundhed",
    "Voksenservice",
    "Børn og Unge",
    "Kultur og Idræt",
    "Økonomi og Personale",
]
TOPICS = [
    "Sygedagpengesager i JC",
    "Kontanthjælp",
    "Enkeltydelse",
    "Jobcenter (langtidsledige)",
    "Voksenservice",
    "Uddannelseshjælp",
    "Boligindskudslån",
    "Jobafklaringsforløb",
]
IMPORT_COLUMNS = [
    "ref",
    "received_at",
    "channel",
    "department",
    "topic",
    "advisor",
    "callback_requested",
    "replied_at",
    "called_back_at",
    "closed_at",
    "note",
]


def the_463(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    """The annual report's year: 463 inquiries, 274 in Arbejdsmarked og Borgerservice, 64 open."""
    departments = [FREDERICIA[0]] * 274
    others = FREDERICIA[1:]
    departments += [others[i % len(others)] for i in range(463 - 274)]
    channels = ["phone"] * 262 + ["in_person"] * 96 + ["email"] * 63
    channels += ["digital_post"] * 30 + ["letter"] * 12
    start = local(2017, 7, 3, 9, 0)
    rows = []
    for i in range(463):
        received = start + timedelta(hours=18 * i)  # spread over the year, local time
        open_ = i % 7 == 3 and i < 7 * 64  # exactly 64 open, spread out
        rows.append(
            {
                "ref": f"BV-{i + 1:03d}",
                "received_at": received.isoformat(),
                "channel": channels[(i * 7) % 463],
                "department": departments[(i * 5) % 463],
                "topic": TOPICS[min(i % 11, 7)],
                "advisor": "",
                "callback_requested": "ja" if i % 4 == 0 else "nej",
                "replied_at": "",
                "called_back_at": "",
                "closed_at": "" if open_ else (received + timedelta(days=3)).isoformat(),
                "note": "Borgeren fortalte om sin sag (fortroligt)",
            }
        )
    path = tmp_path / "aar.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, IMPORT_COLUMNS, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return path, rows


def test_the_annual_report_reproduces_the_advisors_463_inquiries(
    run_cli: Any, tmp_path: Path, database_url: str
) -> None:
    env = env_for(tmp_path, database_url, population=40368, departments=FREDERICIA, topics=TOPICS)
    path, rows = the_463(tmp_path)
    assert run_cli("init", env=env).returncode == 0
    imported = run_cli("import", str(path), "--now", "2018-08-01T12:00", env=env)
    assert imported.returncode == 0, imported.stderr
    args = ["report", "--annual", "--from", "2017-07-01", "--to", "2018-06-30"]
    args += ["--now", "2018-08-01T12:00"]
    got = run_cli(*args, "--format", "json", env=env)
    assert got.returncode == 0, got.stderr
    annual = json.loads(got.stdout)
    assert (annual["total"], annual["open"], annual["closed"]) == (463, 64, 399)
    assert annual["departments"][0] == {
        "key": "Arbejdsmarked og Borgerservice",
        "count": 274,
        "share": 59.2,
        "open": sum(1 for r in rows if r["department"] == FREDERICIA[0] and not r["closed_at"]),
    }
    assert annual["population"] == 40368
    assert annual["population_share"] == 1.14
    channels = Counter(r["channel"] for r in rows)
    assert {c["key"]: (c["count"], c["share"]) for c in annual["channels"]} == {
        k: (n, pct(n, 463)) for k, n in channels.items()
    }
    topics = sorted(Counter(r["topic"] for r in rows).items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(t["key"], t["count"]) for t in annual["topics"]] == topics
    text = run_cli(*args, env=env)
    assert text.returncode == 0
    assert "59,2 %" in text.stdout
    assert "1,14 %" in text.stdout
    assert "40.368" in text.stdout
    assert "fortroligt" not in text.stdout
    html = run_cli(*args, "--format", "html", env=env)
    assert "59,2 %" in html.stdout
    assert "fortroligt" not in html.stdout


def test_json_output_is_the_contract_shape_with_identifiers(run_cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    world = generated(120, seed=3)
    with database(url, world):
        pass
    env = env_for(tmp_path, url)
    got = run_cli(
        "report", "--by", "channel", "--format", "json", "--now", NOW.isoformat(), env=env
    )
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == expected(world, "channel", NOW)
    assert "FORTROLIG" not in got.stdout


def test_csv_is_for_excel_bom_semicolons_and_decimal_commas(run_cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    world = generated(120, seed=5)
    with database(url, world):
        pass
    env = env_for(tmp_path, url)
    out = tmp_path / "rapport.csv"
    got = run_cli(
        "report", "--format", "csv", "--output", str(out), "--now", NOW.isoformat(), env=env
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout == ""
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:3] == ["key", "count", "share"]
    want = expected(world, "department", NOW)["rows"]
    assert [r[0] for r in table[1:]] == [r["key"] for r in want]
    share = str(want[0]["share"]).replace(".", ",")
    assert table[1][2] == share
    assert all("." not in cell for row in table[1:] for cell in row[2:3] + row[9:])
    assert "FORTROLIG" not in raw.decode("utf-8-sig")


def test_help_says_the_csv_is_for_excel(run_cli: Any) -> None:
    got = run_cli("report", "--help")
    assert got.returncode == 0
    assert "utf-8-sig" in got.stdout
    assert "decimal comma" in got.stdout


def test_text_is_an_aligned_danish_table(run_cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, generated(80, seed=9)):
        pass
    got = run_cli("report", "--now", NOW.isoformat(), env=env_for(tmp_path, url))
    assert got.returncode == 0, got.stderr
    lines = got.stdout.splitlines()
    header = next(line for line in lines if line.startswith("Afdeling"))
    assert "Overholdt" in header
    assert "Til tiden" in header
    dashes = lines[lines.index(header) + 1]
    assert set(dashes) <= {"-", " "}
    english = run_cli(
        "report", "--now", NOW.isoformat(), env=env_for(tmp_path, url, reminders={"language": "en"})
    )
    assert "Compliance" in english.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ([], "Periode: alle henvendelser i registret"),
        (["--from", "2026-01-01"], "Periode: fra 2026-01-01"),
        (["--to", "2026-06-30"], "Periode: til og med 2026-06-30"),
        (["--from", "2026-01-01", "--to", "2026-06-30"], "Periode: 2026-01-01 – 2026-06-30"),
    ],
)
def test_the_period_line_says_in_words_what_an_open_end_covers(
    run_cli: Any, tmp_path: Path, args: list[str], line: str
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url):
        pass
    env = env_for(tmp_path, url)
    got = run_cli("report", "--now", NOW.isoformat(), *args, env=env)
    assert got.returncode == 0, got.stderr
    assert line in got.stdout.splitlines()
    html = run_cli("report", "--format", "html", "--now", NOW.isoformat(), *args, env=env)
    assert line in html.stdout


def test_an_empty_database_reports_zero_in_every_format(run_cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url):
        pass
    env = env_for(tmp_path, url)
    for fmt in ("text", "csv", "json", "html"):
        got = run_cli("report", "--format", fmt, "--from", "2026-01-01", env=env)
        assert got.returncode == 0, (fmt, got.stderr)
    got = run_cli("report", "--format", "json", env=env)
    assert json.loads(got.stdout)["rows"] == []
    annual = run_cli("report", "--annual", "--format", "html", env=env)
    assert annual.returncode == 0
    assert "Ingen data" in annual.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--by", "colour"],
        ["--format", "xlsx"],
        ["--from", "2026-13-01"],
        ["--to", "yesterday"],
        ["--from", "2026-05-01", "--to", "2026-04-01"],
        ["--annual", "--breaches"],
        ["--annual", "--by", "channel"],
        ["--breaches", "--format", "html"],
        ["--now", "not a time"],
    ],
)
def test_bad_input_exits_2_with_one_error_line_and_writes_nothing(
    run_cli: Any, tmp_path: Path, args: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url):
        pass
    out = tmp_path / "out.txt"
    got = run_cli("report", *args, "--output", str(out), env=env_for(tmp_path, url))
    assert got.returncode == 2
    assert got.stderr.startswith("error:")
    assert len(got.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--from", "0001-01-01", "--to", "0001-01-02"], "--from"),
        (["--from", "9999-12-30"], "--from"),
        (["--to", "9999-12-31"], "--to"),
        (["--from", "2026-01-01", "--to", "0001-01-02"], "--to"),
    ],
)
@pytest.mark.parametrize("view", [[], ["--annual"], ["--breaches"], ["--by", "month"]])
def test_a_period_the_calendar_cannot_handle_exits_2_naming_the_option(
    run_cli: Any, tmp_path: Path, args: list[str], option: str, view: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, generated(20, seed=4)):
        pass
    out = tmp_path / "out.txt"
    got = run_cli("report", *view, *args, "--output", str(out), env=env_for(tmp_path, url))
    assert got.returncode == 2, got.stderr
    assert got.stderr.startswith(f"error: {option}: ")
    assert "outside the years a report covers" in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_monthly_report_over_the_widest_period_lists_only_the_months_with_data(
    run_cli: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    world = generated(60, seed=8)
    with database(url, world):
        pass
    got = run_cli(
        "report",
        *("--from", "0002-01-01", "--to", "9998-12-31", "--by", "month", "--format", "json"),
        *("--now", NOW.isoformat()),
        env=env_for(tmp_path, url),
    )
    assert got.returncode == 0, got.stderr
    want = expected(world, "month", NOW, date(2, 1, 1), date(9998, 12, 31))
    assert json.loads(got.stdout) == want
    assert [r["key"] for r in want["rows"]] != []


def test_the_breach_list_has_every_late_or_overdue_deadline_and_no_notes(
    run_cli: Any, tmp_path: Path
) -> None:
    cal = BusinessCalendar()
    world = World()
    fri = local(2026, 3, 6, 15, 0)  # Friday: the weekend does not count as lateness
    late = world.add(
        received_at=fri,
        channel="email",
        department="Teknik og Miljø",
        advisor="åse@fredericia.dk",
        note="hemmelig note",
    )
    due = cal.due_at(fri, 24, "working_days")
    assert due is not None
    world.oblige(late, "reply", due_at=due, met_at=due + timedelta(days=3, hours=2))  # Thu 17:00
    overdue = world.add(received_at=local(2026, 4, 14, 9), channel="sms", department="Diverse")
    due2 = cal.due_at(overdue["received_at"], 24, "working_days")
    world.oblige(overdue, "reply", due_at=due2)
    ok = world.add(received_at=local(2026, 3, 2, 9), channel="letter", department="Diverse")
    world.oblige(
        ok,
        "reply",
        due_at=cal.due_at(ok["received_at"], 24, "working_days"),
        met_at=local(2026, 3, 2, 12),
    )
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, world):
        pass
    now = local(2026, 4, 16, 9, 0)  # Thursday: due2 was Wed 09:00, 24 working hours ago
    got = run_cli(
        "report",
        "--breaches",
        "--format",
        "csv",
        "--now",
        now.isoformat(),
        env=env_for(tmp_path, url),
    )
    assert got.returncode == 0, got.stderr
    table = list(csv.reader(io.StringIO(got.stdout.lstrip("\ufeff")), delimiter=";"))
    assert table[0] == [
        "ref",
        "rule",
        "department",
        "advisor",
        "received",
        "due",
        "met",
        "working_hours_late",
        "office",  # added last, after the columns of earlier releases
    ]
    assert table[1] == [
        late["ref"],
        "reply",
        "Teknik og Miljø",
        "åse@fredericia.dk",
        "2026-03-06T15:00:00+01:00",
        "2026-03-09T15:00:00+01:00",
        "2026-03-12T17:00:00+01:00",
        "74,00",
        "default",
    ]
    assert table[2][0] == overdue["ref"]
    assert table[2][6] == ""
    assert table[2][7] == "24,00"
    assert len(table) == 3
    assert "hemmelig" not in got.stdout
    as_json = run_cli(
        "report",
        "--breaches",
        "--format",
        "json",
        "--now",
        now.isoformat(),
        env=env_for(tmp_path, url),
    )
    assert [b["working_hours_late"] for b in json.loads(as_json.stdout)] == [74.0, 24.0]


def test_a_report_over_a_period_checks_dates_in_local_time(run_cli: Any, tmp_path: Path) -> None:
    world = World()
    world.add(received_at=local(2026, 3, 31, 23, 59), channel="phone", department="Diverse")
    world.add(received_at=local(2026, 4, 1, 0, 0), channel="phone", department="Diverse")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, world):
        pass
    env = env_for(tmp_path, url)
    got = run_cli(
        "report",
        "--from",
        "2026-04-01",
        "--to",
        "2026-04-30",
        "--format",
        "json",
        "--now",
        NOW.isoformat(),
        env=env,
    )
    assert json.loads(got.stdout)["total"] == 1
    assert date(2026, 4, 1).isoformat() == json.loads(got.stdout)["from"]


@pytest.mark.parametrize("language", ["da", "en"])
def test_a_rule_is_named_without_hours_the_configuration_may_not_give(
    run_cli: Any, tmp_path: Path, language: str
) -> None:
    # The labels said "Kvittering/svar (24 t)" and "Opringning (48 t)" whatever the rules'
    # configured hours (here 8 and 16), in every view that names a rule: a compliance figure
    # measured against 8 hours presented as one against 24. Several offices may configure
    # several hours, so a label cannot carry them.
    url = f"sqlite:///{tmp_path / 'r.db'}"
    config = write_config(
        tmp_path / "svarfrist.toml",
        rules={"reply": {"hours": 8}, "callback": {"hours": 16}},
        reminders={"language": language},
    )
    env = cli_env(url, config)
    assert run_cli("init", env=env).returncode == 0
    now = ("--now", "2026-12-02T12:00")
    add = ("add", "--channel", "email", "--department", "Diverse", "--callback")
    made = run_cli(*add, "--received", "2026-12-01T10:00", *now, env=env)
    assert made.returncode == 0, made.stderr
    for view in (("--by", "rule"), ("--breaches",), ("--by", "rule", "--format", "html")):
        got = run_cli("report", *view, *now, env=env)
        assert got.returncode == 0, got.stderr
        for hours in ("24 t", "48 t", "24 h", "48 h"):
            assert hours not in got.stdout, (view, got.stdout)
        assert ("Kvittering/svar" if language == "da" else "Acknowledgement") in got.stdout


def test_a_monthly_report_lists_its_months_in_date_order_in_every_format(
    run_cli: Any, tmp_path: Path
) -> None:
    # March has the most inquiries, January the fewest: by count the rows would be March,
    # February, January; by month every format lists them January, February, March.
    url = f"sqlite:///{tmp_path / 'r.db'}"
    world = World()
    for month, n in ((1, 1), (2, 2), (3, 3)):
        for day in range(1, n + 1):
            world.add(received_at=local(2026, month, day, 10), channel="phone", department="D")
    with database(url, world):
        pass
    env = env_for(tmp_path, url)
    months = ["2026-01", "2026-02", "2026-03"]
    shown: dict[str, list[str]] = {}
    for form in ("json", "csv", "text", "html"):
        got = run_cli(
            "report", "--by", "month", "--format", form, "--now", NOW.isoformat(), env=env
        )
        assert got.returncode == 0, got.stderr
        if form == "json":
            shown[form] = [r["key"] for r in json.loads(got.stdout)["rows"]]
        elif form == "csv":
            lines = csv.reader(io.StringIO(got.stdout.lstrip("\ufeff")), delimiter=";")
            shown[form] = [line[0] for line in list(lines)[1:]]
        else:  # the table's rows (in HTML after the charts, which follow the rows)
            body = got.stdout[got.stdout.index("<table") :] if form == "html" else got.stdout
            shown[form] = sorted(months, key=body.index)
    assert shown == dict.fromkeys(("json", "csv", "text", "html"), months)


def test_report_now_in_the_middle_of_the_period_counts_what_existed_then(
    run_cli: Any, tmp_path: Path
) -> None:
    # --to after --now: the inquiries received after --now are not counted, nor open.
    url = f"sqlite:///{tmp_path / 'r.db'}"
    world = generated(80, seed=5)
    with database(url, world):
        pass
    then = local(2026, 3, 1, 12, 0)
    assert any(i["received_at"] > then for i in world.inquiries)
    first, last = date(2026, 1, 1), date(2026, 4, 30)
    got = run_cli(
        "report",
        *("--from", first.isoformat(), "--to", last.isoformat(), "--format", "json"),
        *("--now", then.isoformat()),
        env=env_for(tmp_path, url),
    )
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == expected(world, "department", then, first, last)
