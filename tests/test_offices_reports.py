"""``report --by office``: offices side by side, through the same GROUP BY as the other
groupings; ``report --office KEY``: one office alone, in every view; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_offices_register import NOW, Cli, add, cli  # noqa: F401 (cli: the fixture)


def test_report_by_office_puts_the_offices_side_by_side(cli: Cli) -> None:  # noqa: F811
    add(cli)
    add(cli, "--department", "Teknik og Miljø")
    nord = add(cli, "--office", "nord", department="Borgerservice Nord")
    cli.ok("callback", nord["ref"], "--at", "2026-12-04T10:30", "--now", NOW)
    report = json.loads(cli.ok("report", "--by", "office", "--format", "json", "--now", NOW).stdout)
    assert report["by"] == "office"
    rows = {r["key"]: r for r in report["rows"]}
    assert {k: r["count"] for k, r in rows.items()} == {"default": 2, "nord": 1}
    assert rows["nord"]["on_time"] == 1 and rows["default"]["on_time"] == 0
    text = cli.ok("report", "--by", "office", "--now", NOW).stdout
    assert "Kontor" in text and "nord" in text


LATER = "2027-01-29T12:00"  # every unmet callback overdue (nord: 48 h of 3 a day)


def offices_world(cli: Cli) -> None:  # noqa: F811
    """default: two inquiries, callbacks overdue at LATER; nord: one called back in time,
    one overdue."""
    add(cli)
    add(cli, "--department", "Teknik og Miljø")
    met = add(cli, "--office", "nord", department="Borgerservice Nord")
    cli.ok("callback", met["ref"], "--at", "2026-12-04T10:30", "--now", NOW)
    add(cli, "--office", "nord", department="Borgerservice Nord")


def report_of(cli: Cli, *args: str) -> Any:  # noqa: F811
    return json.loads(cli.ok("report", "--format", "json", "--now", LATER, *args).stdout)


def test_report_office_counts_that_office_alone_in_every_view(cli: Cli) -> None:  # noqa: F811
    offices_world(cli)
    nord = report_of(cli, "--office", "nord")
    assert (nord["total"], nord["open"], nord["offices"]) == (2, 2, ["nord"])
    assert [(r["key"], r["count"], r["on_time"], r["overdue"]) for r in nord["rows"]] == [
        ("Borgerservice Nord", 2, 1, 1)
    ]
    default = report_of(cli, "--office", "default", "--by", "office")
    assert [(r["key"], r["count"], r["overdue"]) for r in default["rows"]] == [("default", 2, 2)]
    everyone = report_of(cli, "--by", "office")  # without --office: every office, as before
    assert "offices" not in everyone  # the document as before offices
    assert {r["key"]: r["count"] for r in everyone["rows"]} == {"default": 2, "nord": 2}
    for by in ("month", "rule", "channel"):
        rows = report_of(cli, "--office", "nord", "--by", by)["rows"]
        assert sum(r["obligations"] for r in rows) == 2, by
    annual = report_of(cli, "--office", "nord", "--annual")
    assert annual["total"] == 2
    assert [d["key"] for d in annual["departments"]] == ["Borgerservice Nord"]
    assert [(m["obligations"], m["on_time"], m["overdue"]) for m in annual["months"]] == [(2, 1, 1)]
    breaches = report_of(cli, "--office", "nord", "--breaches")
    assert [b["department"] for b in breaches] == ["Borgerservice Nord"]
    # how late on nord's own opening hours (09-12 on weekdays), a schedule the top level
    # lacks: due Mon 4 Jan 10:00, 2 h that day, then 19 days of 3 h to Fri 29 Jan 12:00
    assert [b["working_hours_late"] for b in breaches] == [59.0]
    assert len(report_of(cli, "--breaches")) == 3
    csv_text = cli.ok("report", "--office", "nord", "--format", "csv", "--now", LATER).stdout
    assert "Borgerservice Nord" in csv_text and "Diverse" not in csv_text
    text = cli.ok("report", "--office", "nord", "--now", LATER).stdout
    assert "Borgerservice Nord" in text and "Teknik" not in text
    assert "  Kontor: nord\n" in text  # the period line says which office it counts
    html = cli.ok("report", "--office", "nord", "--format", "html", "--now", LATER).stdout
    assert "Borgerservice Nord" in html and "Teknik og Miljø" not in html
    assert "Kontor: nord" in html
    assert "Kontor: nord" in cli.ok("report", "--office", "nord", "--annual", "--now", LATER).stdout
    assert "Kontor:" not in cli.ok("report", "--now", LATER).stdout
    breach_csv = cli.ok(
        "report", "--office", "default", "--breaches", "--format", "csv", "--now", LATER
    ).stdout
    assert "Borgerservice Nord" not in breach_csv and breach_csv.count("callback") == 2


def test_the_breach_list_names_each_breachs_office(cli: Cli) -> None:  # noqa: F811
    offices_world(cli)
    breaches = report_of(cli, "--breaches")
    assert sorted(b["office"] for b in breaches) == ["default", "default", "nord"]
    assert all(
        (b["office"] == "nord") == (b["department"] == "Borgerservice Nord") for b in breaches
    )
    csv_text = cli.ok("report", "--breaches", "--format", "csv", "--now", LATER).stdout
    header, *rows = csv_text.lstrip("\ufeff").splitlines()
    assert header.split(";")[-1] == "office"  # last: the older columns keep their places
    assert sorted(r.split(";")[-1] for r in rows) == ["default", "default", "nord"]
    text = cli.ok("report", "--breaches", "--now", LATER).stdout.splitlines()
    assert text[0].split()[:4] == ["Ref.", "Regel", "Kontor", "Afdeling"]
    at = text[0].index("Kontor")
    assert [line[at:].split()[0] for line in text[2:]] == ["default", "default", "nord"]
    one = cli.ok("report", "--office", "nord", "--breaches", "--now", LATER).stdout
    assert "Kontor" in one  # several offices configured: the column stays


@pytest.mark.parametrize("view", [[], ["--annual"], ["--breaches"], ["--format", "html"]])
def test_report_with_an_unknown_office_exits_2_and_writes_nothing(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    view: list[str],
) -> None:
    add(cli)
    out = tmp_path / "out.txt"
    got = cli("report", "--office", "nope", *view, "--output", str(out), "--now", LATER)
    assert got.returncode == 2
    assert got.stderr.startswith("error:") and "nope" in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1
    assert got.stdout == ""
    assert not out.exists()
