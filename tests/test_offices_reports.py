"""``report --by office``: offices side by side, through the same GROUP BY as the other
groupings, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

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
