"""Export and import with offices, through the real console script on SQLite and
PostgreSQL: ``export`` writes an ``office`` column (last), ``--office`` exports and imports one
office's rows (a row of another office is refused by name), an import without ``--office``
puts each row into the office it names, on that office's calendar, rules, departments and
topics, and a file from before offices imports into the office the import is for."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from test_offices_register import (  # noqa: F401 (cli: the fixture)
    NOW,
    RECEIVED,
    Cli,
    add,
    cli,
    due,
)

from tracker.transfer.csvio import BATCH
from tracker.transfer.importer import READER_FROM_BYTES

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
    assert everything.splitlines()[0] == OLD_HEADER + ",office,purged_at"
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
    # into default: a row of another office
    refused = cli("import", str(path), "--office", "default", "--now", NOW)
    assert refused.returncode == 2
    assert "office: not 'default', the office of this import (--office)" in refused.stderr
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


def _with_refs(text: str, renamed: dict[str, str]) -> str:
    for old, new in renamed.items():
        text = text.replace(old + ",", new + ",")
    return text


def test_an_export_of_every_office_imports_as_it_was(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    top = add(cli)
    nord = add(cli, "--office", "nord", department="Borgerservice Nord")
    exported = cli.ok("export").stdout
    path = tmp_path / "every.csv"
    path.write_text(_with_refs(exported, {top["ref"]: "T-1", nord["ref"]: "N-1"}), "utf-8")
    assert cli.ok("import", str(path), "--dry-run", "--now", NOW).stdout  # nothing written
    assert len(rows(cli.ok("export").stdout)) == 2
    cli.ok("import", str(path), "--now", NOW)
    for copy, original in ((cli.json("show", "T-1"), top), (cli.json("show", "N-1"), nord)):
        assert copy["office"] == original["office"]
        assert [o["due_at"] for o in copy["obligations"]] == [
            o["due_at"] for o in original["obligations"]
        ]
    # the copies export as the originals did, but for their refs
    again = {r["ref"]: r for r in rows(cli.ok("export").stdout)}
    for r in rows(exported):
        copy = again["T-1" if r["ref"] == top["ref"] else "N-1"]
        assert {**copy, "ref": r["ref"]} == r


def test_each_row_is_checked_against_its_own_office(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "received_at,channel,department,office\r\n"
        "2026-12-04T10:00,phone,Borgerservice Nord,nord\r\n"  # fine
        "2026-12-04T10:00,phone,Diverse,nord\r\n"  # a department of default's
        "2026-12-04T10:00,phone,Borgerservice Nord,\r\n"  # empty: default's, no such dept.
        "2026-12-04T10:00,pigeon,Diverse,syd\r\n",  # no such office, nor channel
        "utf-8",
    )
    refused = cli("import", str(path), "--now", NOW)
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.splitlines()
    assert lines[0].endswith("3 bad rows, nothing imported:")
    assert "row 3: department:" in lines[1] and "Borgerservice Nord" in lines[1]
    assert "row 4: department:" in lines[2] and "Diverse" in lines[2]
    assert lines[3].startswith("  row 5: channel:")
    assert "office: unknown office (known offices: default, nord)" in lines[3]
    assert "syd" not in refused.stderr  # a cell's text is never repeated
    assert rows(cli.ok("export").stdout) == []


def test_a_large_file_of_two_offices_imports_each_row_into_its_own(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Several chunks, the two offices' rows interleaved: on a machine with two cores (as
    CI) the file is prepared in the reader process."""
    top, nord = add(cli), add(cli, "--office", "nord", department="Borgerservice Nord")
    lines = ["ref,received_at,channel,department,callback_requested,office"]
    count = 4 * BATCH + 1000
    for n in range(count):
        office, department = ("nord", "Borgerservice Nord") if n % 2 else ("", "Diverse")
        lines.append(f"M-{n},{RECEIVED}:00+01:00,phone,{department},true,{office}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    assert path.stat().st_size >= READER_FROM_BYTES
    cli.ok("import", str(path), "--now", NOW)
    listed = cli.json("list", "--office", "nord", "--state", "all")
    assert len(listed) == count // 2 + 1
    for n in (0, 1, count - 2, count - 1):
        shown = cli.json("show", f"M-{n}")
        original = nord if n % 2 else top
        assert shown["office"] == original["office"]
        assert due(shown, "callback") == due(original, "callback")
