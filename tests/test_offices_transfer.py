"""Export and import with offices, through the real console script on SQLite and
PostgreSQL: ``export`` writes an ``office`` column (last), ``--office`` exports and imports one
office's rows, a row of another office is refused by name, and a file from before offices
imports into the office the import is for."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from test_offices_register import NOW, Cli, add, cli  # noqa: F401 (cli: the fixture)

OLD_HEADER = (
    "ref,received_at,channel,department,topic,advisor,callback_requested,replied_at,"
    "called_back_at,closed_at,note,pauses,answer_promised,answered_at"
)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_writes_the_office_last_and_exports_one_office(cli: Cli) -> None:  # noqa: F811
    top = add(cli)
    nord = add(cli, "--office", "nord", department="Borgerservice Nord")
    everything = cli.ok("export").stdout
    assert everything.splitlines()[0] == OLD_HEADER + ",office"
    assert {r["ref"]: r["office"] for r in rows(everything)} == {
        top["ref"]: "default",
        nord["ref"]: "nord",
    }
    only = rows(cli.ok("export", "--office", "nord").stdout)
    assert [r["ref"] for r in only] == [nord["ref"]]


def test_an_office_s_export_imports_into_that_office_with_the_same_deadlines(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    nord = add(cli, "--office", "nord", department="Borgerservice Nord")
    path = tmp_path / "nord.csv"
    exported = cli.ok("export", "--office", "nord").stdout
    path.write_text(exported.replace(nord["ref"] + ",", "X-1,"), "utf-8")  # a new ref
    refused = cli("import", str(path), "--now", NOW)  # into default: a row of another office
    assert refused.returncode == 2 and "office" in refused.stderr
    cli.ok("import", str(path), "--office", "nord", "--now", NOW)
    copy = cli.json("show", "X-1", "--now", NOW)
    assert copy["office"] == "nord"
    assert copy["obligations"][0]["due_at"] == nord["obligations"][0]["due_at"]


def test_a_file_from_before_offices_imports_into_the_import_s_office(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.csv"
    path.write_text(
        OLD_HEADER + "\r\nOLD-1,2026-12-04T10:00,phone,Borgerservice Nord,,,true,,,,,,false,\r\n",
        "utf-8",
    )
    cli.ok("import", str(path), "--office", "nord", "--now", NOW)
    shown = cli.json("show", "OLD-1", "--now", NOW)
    assert shown["office"] == "nord"
    assert shown["obligations"][0]["due_at"] == "2027-01-04T10:00:00+01:00"
