"""CSV import/export (docs/contract.md): round trips, dialects, all-or-nothing, error reports,
and the import's fast path agreeing with the SLA engine."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_postgres_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from register_support import (
    DEPARTMENTS,
    TOPICS,
    assert_refused,
    cli_env,
    context,
    dump,
    engine_for,
    session_on,
    settings_for,
    sqlite_and_postgres,
    write_config,
)
from sqlalchemy import func, select

from tracker.core.calendar import COPENHAGEN
from tracker.core.response import local_month, outcome, response_minutes
from tracker.core.validate import CHANNELS
from tracker.errors import BadInputError, SvarfristError
from tracker.sla import evaluate
from tracker.store import register
from tracker.store.models import Inquiry, Obligation
from tracker.store.obligations import first_look, pauses_of
from tracker.transfer import csvio, export, importer

HEADER = ",".join(csvio.COLUMNS)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))


def ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return result


def test_export_import_export_gives_the_same_bytes(
    run_cli: Any, env: dict[str, str], tmp_path: Path, postgres_or_sqlite_url_2: str
) -> None:
    ok(run_cli("init", env=env))
    note = 'Ring; "efter" kl. 14\nspørg om æøå'
    ok(
        run_cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Teknik og Miljø",
            "--callback",
            "--topic",
            TOPICS[2],
            "--note",
            note,
            "--received",
            "2026-03-29T01:30",
            env=env,
        )
    )
    ok(
        run_cli(
            "add",
            "--channel",
            "phone",
            "--department",
            "Diverse",
            "--advisor",
            "a@b.dk",
            "--received",
            "2026-10-25T02:30+01:00",
            "--ref",
            "HENV/7",
            env=env,
        )
    )
    ok(run_cli("reply", "2026-000001", "--at", "2026-03-30T09:00:00.123456", env=env))
    ok(run_cli("pause", "HENV/7", "--at", "2026-10-25T02:40+01:00", env=env))
    ok(run_cli("resume", "HENV/7", "--at", "2026-10-26T09:00", env=env))
    ok(run_cli("pause", "2026-000001", "--at", "2026-03-30T10:00", env=env))  # still paused
    ok(run_cli("close", "HENV/7", "--at", "2026-10-26T10:00", env=env))
    first = ok(run_cli("export", env=env)).stdout
    assert first.splitlines()[0] == HEADER
    assert [r["pauses"] for r in csv.DictReader(io.StringIO(first))] == [
        "2026-03-30T10:00:00+02:00/",
        "2026-10-25T02:40:00+01:00/2026-10-26T09:00:00+01:00",  # the repeated hour's 2nd time
    ]
    (tmp_path / "export.csv").write_text(first, encoding="utf-8")

    other = {**env, "SVARFRIST_DATABASE_URL": postgres_or_sqlite_url_2}
    ok(run_cli("init", env=other))
    imported = ok(run_cli("import", "export.csv", env=other))
    assert "imported 2 rows" in imported.stdout
    assert ok(run_cli("export", env=other)).stdout == first
    as_json = json.loads(ok(run_cli("export", "--format", "json", env=other)).stdout)
    assert [r["ref"] for r in as_json] == ["2026-000001", "HENV/7"]
    assert as_json[0]["note"] == note and as_json[0]["callback_requested"] is True
    assert as_json[0]["pauses"] == [{"start": "2026-03-30T10:00:00+02:00", "end": None}]


def test_a_purged_inquiry_moves_to_another_database_purged(
    run_cli: Any, env: dict[str, str], tmp_path: Path, postgres_or_sqlite_url_2: str
) -> None:
    # purged_at was not exported: the copy came back unpurged, so it could be reopened,
    # undone or reassigned, and the next purge stamped it again at another time.
    ok(run_cli("init", env=env))
    add = ("add", "--channel", "phone", "--department", "Diverse", "--callback")
    ok(run_cli(*add, "--received", "2026-09-01T10:00", "--note", "Ring om huslejen", env=env))
    ok(run_cli("callback", "2026-000001", "--at", "2026-09-01T11:00", env=env))
    ok(run_cli("close", "2026-000001", "--at", "2026-09-02T10:00", env=env))
    ok(run_cli("purge", "--now", "2026-11-01T12:00", env=env))
    exported = ok(run_cli("export", env=env)).stdout
    (row,) = csv.DictReader(io.StringIO(exported))
    assert row["purged_at"] == "2026-11-01T12:00:00+01:00" and row["note"] == ""
    (tmp_path / "export.csv").write_text(exported, encoding="utf-8")

    other = {**env, "SVARFRIST_DATABASE_URL": postgres_or_sqlite_url_2}
    ok(run_cli("init", env=other))
    ok(run_cli("import", "export.csv", env=other))
    shown = json.loads(ok(run_cli("show", "2026-000001", "--json", env=other)).stdout)
    assert shown["purged_at"] == "2026-11-01T12:00:00+01:00" and shown["note"] is None
    assert_refused(run_cli("reopen", "2026-000001", env=other), fragment="was purged at")
    assert ok(run_cli("export", env=other)).stdout == exported
    (copy,) = json.loads(ok(run_cli("export", "--format", "json", env=other)).stdout)
    assert copy["purged_at"] == "2026-11-01T12:00:00+01:00"


def test_a_reply_a_fraction_of_a_second_late_is_still_late_after_a_move(
    run_cli: Any, env: dict[str, str], tmp_path: Path, postgres_or_sqlite_url_2: str
) -> None:
    # The export wrote times to the second: a reply recorded from the clock 0.4 s after its
    # deadline came back at the deadline itself, met on time, and the figures improved.
    ok(run_cli("init", env=env))
    ok(run_cli("add", "--channel", "email", "--department", "Diverse",
               "--received", "2026-09-01T10:00:00.250", env=env))  # fmt: skip
    (due,) = [o["due_at"] for o in _shown(run_cli, env)["obligations"]]
    late = datetime.fromisoformat(due) + timedelta(seconds=0.4)
    ok(run_cli("reply", "2026-000001", "--at", late.isoformat(), env=env))
    ok(run_cli("pause", "2026-000001", "--at", "2026-09-03T09:00:00.125", env=env))
    before = _shown(run_cli, env)
    assert before["obligations"][0]["state"] == "met_late"
    exported = ok(run_cli("export", env=env)).stdout
    assert "2026-09-01T10:00:00.250000+02:00" in exported
    assert "2026-09-03T09:00:00.125000+02:00/" in exported
    (tmp_path / "export.csv").write_text(exported, encoding="utf-8")
    other = {**env, "SVARFRIST_DATABASE_URL": postgres_or_sqlite_url_2}
    ok(run_cli("init", env=other))
    ok(run_cli("import", "export.csv", env=other))
    assert _shown(run_cli, other) == before
    assert ok(run_cli("export", env=other)).stdout == exported


def _shown(run_cli: Any, env: dict[str, str]) -> dict[str, Any]:
    """The inquiry as ``show --json`` has it, but its history and the last change undo would
    revert (the audit trail is not moved)."""
    shown = dict(json.loads(ok(run_cli("show", "2026-000001", "--json", env=env)).stdout))
    del shown["history"], shown["last_change"]
    return shown


def test_a_purged_row_is_closed_before_its_purge_and_brings_no_note_back(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    ok(run_cli("init", env=env))
    text = (
        "received_at,channel,department,closed_at,note,purged_at\n"
        "2026-09-01T10:00,email,Diverse,2026-09-02T10:00,,2026-11-01T12:00\n"  # fine
        "2026-09-01T10:00,email,Diverse,2026-09-02T10:00,Ring om huslejen,2026-11-01T12:00\n"
        "2026-09-01T10:00,email,Diverse,,,2026-11-01T12:00\n"  # row 4: open
        "2026-09-01T10:00,email,Diverse,2026-09-02T10:00,,2026-09-02T09:00\n"  # row 5
        "2026-09-01T10:00,email,Diverse,2026-09-02T10:00,,2096-11-01T12:00\n"  # row 6
        "2026-09-01T10:00,email,Diverse,2026-09-02T10:00,,Ring om huslejen\n"  # row 7
        "2026-09-01T10:00,email,Diverse,2026-09-0,,2026-11-01T12:00\n"  # row 8
    )
    (tmp_path / "purged.csv").write_text(text, encoding="utf-8")
    before = dump(database_url)
    result = run_cli("import", "purged.csv", env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: purged.csv: 6 bad rows, nothing imported")
    assert "row 2" not in result.stderr
    assert "row 3: note: must be empty on a purged inquiry (purged_at)" in result.stderr
    assert "row 4: purged_at: only a closed inquiry is purged (closed_at)" in result.stderr
    assert "row 5: purged_at 2026-09-02T09:00:00+02:00 is before the recorded closed_at" in (
        result.stderr
    )
    assert "row 6: purged_at 2096-11-01T12:00:00+01:00 is in the future" in result.stderr
    assert "row 7: purged_at: is not an ISO 8601 time" in result.stderr
    assert "row 8: closed_at: is not an ISO 8601 time\n" in result.stderr  # purged_at unchecked
    assert "huslejen" not in result.stderr and "Traceback" not in result.stderr
    assert dump(database_url) == before


@pytest.fixture
def postgres_or_sqlite_url_2(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    with fresh_postgres_database(database_url, prefix="svarfrist_t2") as url:
        yield url


def test_semicolons_a_bom_local_times_and_danish_booleans_are_read(
    run_cli: Any, env: dict[str, str], tmp_path: Path
) -> None:
    ok(run_cli("init", env=env))
    text = (
        "\ufeffreceived_at;channel;department;callback_requested;topic\n"
        "2026-11-27T15:00;email;Diverse;ja;Kontanthjælp\n"
        '2026-11-27T16:00;letter;Børn og Unge;nej;"Råd; ""hjælp"", og ærinder"\n'
    )
    (tmp_path / "in.csv").write_bytes(text.encode("utf-8"))
    ok(run_cli("import", "in.csv", env=env))
    shown = json.loads(ok(run_cli("show", "2026-000001", "--json", env=env)).stdout)
    assert shown["callback_requested"] is True
    assert shown["received_at"] == "2026-11-27T15:00:00+01:00"
    assert {o["rule"]: o["due_at"] for o in shown["obligations"]} == {
        "reply": "2026-11-30T15:00:00+01:00",
        "callback": "2026-12-01T15:00:00+01:00",
    }
    second = json.loads(ok(run_cli("show", "2026-000002", "--json", env=env)).stdout)
    assert second["topic"] == TOPICS[2] and second["callback_requested"] is False


def test_bad_rows_reject_the_whole_file_naming_row_and_column(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    ok(run_cli("init", env=env))
    rows = ["received_at,channel,department,replied_at,note"]
    rows += ["2026-11-25T10:00,email,Diverse,,fine"] * 5
    rows.append("2026-11-25T10:00,fax,Diverse,,")  # row 7
    rows.append("2026-11-25T10:00,email,Diverse,2026-11-24T10:00,")  # row 8
    rows.append("not a time,email,Nowhere,,")  # row 9
    rows += ["2026-11-25T10:00,email,Diverse,,x,extra"] * 22  # rows 10-31
    (tmp_path / "bad.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = dump(database_url)
    result = run_cli("import", "bad.csv", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "25 bad rows, nothing imported" in result.stderr
    assert "row 7: channel: unknown channel (one of phone, sms" in result.stderr
    assert "row 8: replied_at 2026-11-24T10:00:00+01:00 is before the inquiry" in result.stderr
    assert "row 9: received_at: is not an ISO 8601 time" in result.stderr
    assert "department: unknown department (one of: " in result.stderr
    # A cell's text is never repeated: it may be a note written into the wrong column.
    assert "fax" not in result.stderr and "Nowhere" not in result.stderr
    assert "row 26: " in result.stderr and "row 27: " not in result.stderr  # 20 listed
    assert "... and 5 more bad rows" in result.stderr
    assert result.stdout == ""
    assert dump(database_url) == before


def test_times_add_and_reply_refuse_are_refused_by_import_too(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """A received time before 1900 or in the future, a fulfilment, closing, answer or pause
    in the future (after the import's --now and the clock skew), and a closing before a
    fulfilment, are bad rows, as ``add``, ``reply``, ``close``, ``answer``, ``pause`` and
    ``resume`` refuse them; a dry run says so too."""
    ok(run_cli("init", env=env))
    now = "2026-11-26T12:00:00+01:00"
    text = (
        "received_at,channel,department,replied_at,closed_at,answer_promised,answered_at,pauses\n"
        "1850-11-25T10:00,email,Diverse,,,,,\n"  # row 2
        "2026-11-26T12:30,email,Diverse,,,,,\n"  # row 3: 30 minutes ahead of --now
        "2026-11-25T10:00,email,Diverse,2026-11-27T10:00,,,,\n"  # row 4
        "2026-11-25T10:00,email,Diverse,,2026-11-27T10:00,,,\n"  # row 5
        "2026-11-25T10:00,email,Diverse,,,ja,2026-11-27T10:00,\n"  # row 6
        "2026-11-25T10:00,email,Diverse,,,,,2026-11-25T11:00/2026-11-27T10:00\n"  # row 7
        "2026-11-25T10:00,email,Diverse,,,,,2026-11-27T10:00/\n"  # row 8
        "2026-11-26T12:03,email,Diverse,2026-11-26T12:04,,,,\n"  # row 9: within the skew
        "2026-11-25T10:00,email,Diverse,2026-11-25T12:00,2026-11-25T11:00,,,\n"  # row 10
        "2026-11-25T10:00,email,Diverse,,2026-11-25T11:00,ja,2026-11-25T11:30,\n"  # row 11
        "2026-11-25T10:00,email,Diverse,2026-11-25T11:00,2026-11-25T11:00,,,\n"  # row 12
    )
    (tmp_path / "times.csv").write_text(text, encoding="utf-8")
    before = dump(database_url)
    for extra in (["--dry-run"], []):
        result = run_cli("import", "times.csv", "--now", now, *extra, env=env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
        assert "9 bad rows, nothing imported" in result.stderr
        assert "row 2: received_at: received 1850-11-25" in result.stderr
        assert "is before 1900-01-01" in result.stderr
        assert "row 3: received_at: received 2026-11-26T12:30:00+01:00 is in the future" in (
            result.stderr
        )
        assert "row 4: replied_at 2026-11-27T10:00:00+01:00 is in the future" in result.stderr
        assert "row 5: closed_at 2026-11-27T10:00:00+01:00 is in the future" in result.stderr
        assert "row 6: answered_at 2026-11-27T10:00:00+01:00 is in the future" in result.stderr
        assert "row 7: pauses: resume at 2026-11-27T10:00:00+01:00 is in the future" in (
            result.stderr
        )
        assert "row 8: pauses: pause at 2026-11-27T10:00:00+01:00 is in the future" in (
            result.stderr
        )
        assert "row 9" not in result.stderr
        # A closing before a fulfilment of the row, as `close` refuses one before a recorded
        # reply, call-back or answer; at the same minute it is not before.
        assert (
            "row 10: closed_at 2026-11-25T11:00:00+01:00 is before the recorded replied_at "
            "(2026-11-25T12:00:00+01:00)"
        ) in result.stderr
        assert "row 11: closed_at 2026-11-25T11:00:00+01:00 is before the recorded answered_at" in (
            result.stderr
        )
        assert "row 12" not in result.stderr
        assert dump(database_url) == before
    # The same file a day later imports (rows 2, 10 and 11 apart): "the future" is the
    # import's now.
    later = "".join(
        line for number, line in enumerate(text.splitlines(True), 1) if number not in (2, 10, 11)
    )
    (tmp_path / "later.csv").write_text(later, encoding="utf-8")
    ok(run_cli("import", "later.csv", "--now", "2026-11-28T12:00:00+01:00", env=env))


def test_duplicate_refs_in_the_file_or_the_database_are_bad_rows(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    ok(run_cli("init", env=env))
    ok(run_cli("add", "--channel", "email", "--department", "Diverse", "--ref", "A-1", env=env))
    text = (
        "ref,received_at,channel,department\n"
        "A-1,2026-11-25T10:00,email,Diverse\n"
        "B-1,2026-11-25T10:00,email,Diverse\n"
        "B-1,2026-11-25T10:00,email,Diverse\n"
    )
    (tmp_path / "dup.csv").write_text(text, encoding="utf-8")
    before = dump(database_url)
    result = run_cli("import", "dup.csv", env=env)
    assert result.returncode == 2
    assert "row 2: ref: duplicate ref 'A-1'" in result.stderr
    assert "row 4: ref: 'B-1' is also the ref of row 3" in result.stderr
    assert dump(database_url) == before


def test_the_first_bad_rows_are_listed_even_when_found_late(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # Row 2's ref is in the database, which the import finds only when it checks a chunk of
    # refs, after the 25 rows below it are known bad: it is still one of the 20 listed.
    ok(run_cli("init", env=env))
    ok(run_cli("add", "--channel", "email", "--department", "Diverse", "--ref", "A-1", env=env))
    rows = ["ref,received_at,channel,department", "A-1,2026-11-25T10:00,email,Diverse"]
    rows += [f"B-{i},2026-11-25T10:00,fax,Diverse" for i in range(25)]  # rows 3-27
    (tmp_path / "late.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = dump(database_url)
    result = run_cli("import", "late.csv", env=env)
    assert result.returncode == 2
    assert "26 bad rows, nothing imported" in result.stderr
    listed = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert listed[0] == "row 2: ref: duplicate ref 'A-1': an inquiry with that ref exists"
    assert [line.split(":")[0] for line in listed[1:20]] == [f"row {n}" for n in range(3, 22)]
    assert listed[20:] == ["... and 6 more bad rows"]
    assert dump(database_url) == before


def test_bytes_that_are_not_utf8_are_named_by_their_own_row(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # The decoder reads kilobytes ahead of the CSV reader: the row must come from the bytes.
    ok(run_cli("init", env=env))
    rows = ["received_at,channel,department"] + ["2026-11-25T10:00,email,Diverse"] * 3000
    data = ("\n".join(rows) + "\n").encode() + b"2026-11-25T10:00,e\xf8mail,Diverse\n"
    assert import_bytes(run_cli, env, database_url, tmp_path, data) == (
        "error: latin1.csv: row 3002: not UTF-8 text\n"
    )


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_bytes_that_are_not_utf8_in_a_small_file_are_named_by_their_own_row(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path, delimiter: str
) -> None:
    # A small file is decoded whole while its header line is read: the bad bytes are in row
    # 4 (a quoted line break in row 3), not in the header.
    ok(run_cli("init", env=env))
    good = delimiter.join(["2026-11-25T10:00", "email", "Diverse"])
    data = (
        delimiter.join(["received_at", "channel", "department", "note"]).encode()
        + f'\n{good}{delimiter}\n{good}{delimiter}"two\nlines"\n{good}{delimiter}caf'.encode()
        + b"\xe9\n"
    )
    assert import_bytes(run_cli, env, database_url, tmp_path, data) == (
        "error: latin1.csv: row 4: not UTF-8 text\n"
    )


def import_bytes(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path, data: bytes
) -> str:
    """The error of importing ``data`` as latin1.csv, which must be refused (exit 2) with
    nothing written."""
    (tmp_path / "latin1.csv").write_bytes(data)
    before = dump(database_url)
    result = run_cli("import", "latin1.csv", env=env)
    assert result.returncode == 2
    assert dump(database_url) == before
    return str(result.stderr)


def test_dry_run_validates_and_writes_nothing(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    ok(run_cli("init", env=env))
    (tmp_path / "ok.csv").write_text(
        "received_at,channel,department\n2026-11-25T10:00,email,Diverse\n", encoding="utf-8"
    )
    before = dump(database_url)
    result = ok(run_cli("import", "ok.csv", "--dry-run", env=env))
    assert "1 rows are valid; nothing imported" in result.stdout
    assert result.stderr == ""  # no progress output when stderr is not a terminal
    assert dump(database_url) == before


def test_imported_generated_style_refs_move_the_counter_past_them(
    run_cli: Any, env: dict[str, str], tmp_path: Path
) -> None:
    ok(run_cli("init", env=env))
    (tmp_path / "refs.csv").write_text(
        "ref,received_at,channel,department\n"
        "2026-000050,2026-11-25T10:00,phone,Diverse\n"
        ",2026-11-25T11:00,phone,Diverse\n",
        encoding="utf-8",
    )
    ok(run_cli("import", "refs.csv", env=env))
    added = ok(run_cli("add", "--channel", "phone", "--department", "Diverse", env=env))
    assert added.stdout.strip() == "2026-000052"


# -- properties, in-process (SQLite) ----------------------------------------------------------
@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    with engine_for(f"sqlite:///{path}"):
        pass
    return path


@contextmanager
def fresh_db(template: Path) -> Iterator[str]:
    """A copy of the initialised template database, removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "svarfrist.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"


def import_text(
    url: str, text: str | bytes, now: datetime, *, reader: bool | None = None, **overrides: Any
) -> None:
    """Import ``text`` (bytes as they are, a str as UTF-8) from a temporary file."""
    ctx = context(settings_for(url, **overrides), now=now)
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    try:
        with engine_for(url, init=False) as engine, session_on(engine) as session:
            importer.import_csv(session, ctx, Path(f.name), reader=reader)
    finally:
        Path(f.name).unlink()


def export_text(url: str) -> str:
    out = io.StringIO()
    with engine_for(url, init=False) as engine, session_on(engine) as session:
        export.write_csv(session, out)
    return out.getvalue()


def csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csvio.COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


SAFE_TEXT = st.characters(codec="utf-8", exclude_characters="\x00")
TOPIC = (
    st.text(SAFE_TEXT | st.sampled_from(list('æøåÆØÅ;,"\n')), min_size=1, max_size=15)
    .map(str.strip)
    .filter(bool)
)
SECONDS_2020_2030 = st.integers(1_577_836_800, 1_893_456_000)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).astimezone(COPENHAGEN).isoformat()


@st.composite
def pause_offsets(
    draw: st.DrawFn, closed: int | None, horizon: int = 60 * 86_400
) -> list[tuple[int, int | None]]:
    """Valid pauses as (start, end or None) seconds after receipt, as the register allows
    them: in order, touching and zero-length allowed, only the last open, and on a closed
    inquiry none open and none past the closing."""
    limit = horizon if closed is None else closed
    points = sorted(draw(st.lists(st.integers(0, limit), max_size=6)))
    spans: list[tuple[int, int | None]] = list(zip(points[::2], points[1::2], strict=False))
    if closed is None and draw(st.integers(0, 2)) == 0:
        after = spans[-1][1] or 0 if spans else 0
        spans.append((draw(st.integers(after, limit)), None))
    return spans


def pause_cell(received: int, spans: list[tuple[int, int | None]]) -> str:
    return " ".join(
        f"{local(received + a)}/{'' if b is None else local(received + b)}" for a, b in spans
    )


@st.composite
def register_rows(draw: st.DrawFn) -> tuple[list[str], list[dict[str, str]]]:
    topics = draw(st.lists(TOPIC, min_size=1, max_size=4, unique=True))
    rows = []
    for i in range(draw(st.integers(1, 6))):
        received = draw(SECONDS_2020_2030)
        promised = draw(st.booleans())
        later = st.none() | st.integers(0, 60 * 86_400)
        replied, called_back = draw(later), draw(later)
        answered = draw(later) if promised else None
        # A closing comes at or after every fulfilment of the row, as `close` requires.
        fulfilled = max((t for t in (replied, called_back, answered) if t is not None), default=0)
        closed = draw(st.none() | st.integers(fulfilled, 61 * 86_400))
        # Purge erases a closed inquiry's note, at or after its closing.
        purged = None if closed is None else draw(st.none() | st.integers(closed, 62 * 86_400))
        note = st.text(SAFE_TEXT | st.sampled_from(list(';"\r\næ')), max_size=30)
        cell = lambda offset, r=received: "" if offset is None else local(r + offset)  # noqa: E731
        rows.append(
            {
                "ref": draw(st.sampled_from(["", f"R-{i}", f"2026-{i + 7:06d}"])),
                "received_at": local(received),
                "channel": draw(st.sampled_from(sorted(CHANNELS))),
                "department": draw(st.sampled_from(DEPARTMENTS)),
                "topic": draw(st.sampled_from(["", *topics])),
                "advisor": draw(st.sampled_from(["", "a@b.dk", "kari.ø@fredericia.dk"])),
                "callback_requested": draw(st.sampled_from(["true", "false"])),
                "replied_at": cell(replied),
                "called_back_at": cell(called_back),
                "closed_at": cell(closed),
                "note": "" if purged is not None else draw(note),
                "pauses": pause_cell(received, draw(pause_offsets(closed))),
                "answer_promised": "true" if promised else "false",
                "answered_at": cell(answered),
                "office": "default",  # an export names every row's office
                "purged_at": cell(purged),
            }
        )
    return topics, rows


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=register_rows())
def test_import_export_round_trips_arbitrary_valid_rows(
    template_db: Path, case: tuple[list[str], list[dict[str, str]]]
) -> None:
    topics, rows = case
    now = datetime(2030, 6, 1, tzinfo=UTC)  # after every generated time: none is refused
    with fresh_db(template_db) as first, fresh_db(template_db) as second:
        import_text(first, csv_text(rows), now, topics=topics)
        exported = export_text(first)
        import_text(second, exported, now, topics=topics)
        assert export_text(second) == exported
    back = list(csv.DictReader(io.StringIO(exported)))
    assert len(back) == len(rows)
    strip = lambda r: tuple(v for k, v in sorted(r.items()) if k != "ref")  # noqa: E731
    assert sorted(map(strip, back)) == sorted(map(strip, rows))
    explicit = {r["ref"] for r in rows if r["ref"]}
    assert explicit <= {r["ref"] for r in back}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    channel=st.sampled_from(sorted(CHANNELS)),
    callback=st.booleans(),
    received=SECONDS_2020_2030,
    replied=st.none() | st.integers(0, 10 * 86_400),
    called_back=st.none() | st.integers(0, 10 * 86_400),
    closed=st.none() | st.integers(0, 10 * 86_400),
    now=st.integers(0, 20 * 86_400),
    promised=st.booleans(),
    answered=st.none() | st.integers(0, 20 * 86_400),
    data=st.data(),
)
def test_imported_obligations_equal_what_the_sla_engine_computes(
    template_db: Path,
    channel: str,
    callback: bool,
    received: int,
    replied: int | None,
    called_back: int | None,
    closed: int | None,
    now: int,
    promised: bool,
    answered: int | None,
    data: st.DataObject,
) -> None:
    if closed is not None:  # a closing comes at or after every fulfilment, as `close` requires
        fulfilled = (replied, called_back, answered if promised else None)
        closed = max([closed, *(t for t in fulfilled if t is not None)])
    # With pauses a row takes the exact path (sla.evaluate), without them the fast path.
    spans = data.draw(st.just([]) | pause_offsets(closed, 10 * 86_400), label="pauses")
    at = lambda offset: None if offset is None else EPOCH + timedelta(seconds=received + offset)  # noqa: E731
    row = {c: "" for c in csvio.COLUMNS}
    row.update(
        received_at=local(received),
        channel=channel,
        department="Diverse",
        callback_requested="true" if callback else "false",
        answer_promised="true" if promised else "false",
    )
    for column, offset in (
        ("replied_at", replied),
        ("called_back_at", called_back),
        ("closed_at", closed),
        ("answered_at", answered if promised else None),  # only a promise is answered
    ):
        row[column] = "" if offset is None else local(received + offset)
    row["pauses"] = pause_cell(received, spans)
    # "Now" at or after every time of the row: the import refuses a time in the future, as
    # add and the actions do.
    offsets = [replied, called_back, closed, answered if promised else None]
    offsets += [point for span in spans for point in span]
    now = max([now, *(offset for offset in offsets if offset is not None)])
    moment = EPOCH + timedelta(seconds=received + now)
    with fresh_db(template_db) as url:
        import_text(url, csv_text([row]), moment)
        settings_ = settings_for(url)
        with engine_for(url, init=False) as engine, session_on(engine) as session:
            stored = {o.rule: o for o in session.scalars(select(Obligation))}
            inquiry = session.scalar(select(Inquiry))
            stored_pauses = [(p.start, p.end) for p in pauses_of(session, inquiry.id)]
            inquiry_facts = register.facts_of(inquiry, stored_pauses)
    assert len(inquiry_facts.pauses) == len(spans)
    expected = evaluate(
        inquiry_facts, context(settings_).rules, context(settings_).calendar, moment
    )
    assert set(stored) == {o.rule for o in expected.obligations}
    for o in expected.obligations:
        got = stored[o.rule]
        assert (got.warn_at, got.due_at, got.met_at) == (o.warn_at, o.due_at, o.met_at)
        assert got.state == o.state.value
        # The stored response time, as the register would write it.
        assert got.response_minutes == response_minutes(
            context(settings_).calendar,
            o.schedule,
            inquiry_facts.received_at,
            o.met_at,
            inquiry_facts.pauses,
        )
        # The reports' stored keys, as the register writes them (tracker.core.response).
        assert got.received_month == local_month(inquiry_facts.received_at)
        assert got.department == "Diverse"
        assert got.outcome == outcome(o.met_at, o.due_at, got.response_minutes)
        # The register indexes an unmet obligation for the daemon's next sweep at once.
        assert got.next_action_at == first_look(o, inquiry_facts.received_at)
    assert inquiry_facts.closed_at == at(closed)


def test_an_export_moves_between_sqlite_and_postgresql_unchanged(
    run_cli: Any, tmp_path: Path, postgres_url: str
) -> None:
    lite, pg = sqlite_and_postgres(run_cli, tmp_path, postgres_url)
    for ref in ("b-2", "Å-3", "A-1", "2026-000001"):  # byte order differs from most locales
        ok(run_cli("add", "--channel", "sms", "--department", "Diverse", "--ref", ref, env=lite))
    exported = ok(run_cli("export", env=lite)).stdout
    assert [line.split(",")[0] for line in exported.splitlines()[1:]] == [
        "2026-000001", "A-1", "b-2", "Å-3"
    ]  # fmt: skip
    (tmp_path / "lite.csv").write_text(exported, encoding="utf-8")
    ok(run_cli("import", "lite.csv", env=pg))
    assert ok(run_cli("export", env=pg)).stdout == exported


def test_a_large_import_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess

    from conftest import SVARFRIST, clean_env

    lines = ["received_at,channel,department,advisor"]
    lines += ["2026-11-25T10:00:00+01:00,phone,Diverse,vejleder@fredericia.dk"] * (csvio.BATCH * 5)
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Big enough for the reader process where there is a second core (as on CI).
    assert (tmp_path / "big.csv").stat().st_size >= importer.READER_FROM_BYTES
    env = clean_env(
        cli_env(f"sqlite:///{tmp_path / 'db.sqlite'}", write_config(tmp_path / "c.toml"))
    )
    subprocess.run([SVARFRIST, "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    leader, follower = pty.openpty()
    proc = subprocess.run(
        [SVARFRIST, "import", "big.csv"], env=env, cwd=tmp_path, stderr=follower,
        stdout=subprocess.PIPE, check=False, timeout=600,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end is closed: everything has been read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert b"importing: 25,000 rows" in shown
    assert b"imported 25000 rows" in proc.stdout


def test_import_needs_an_advisor_for_pending_deadlines_without_a_default_recipient(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "c.toml", default_recipient=None, note_max_length=5)
    env = cli_env(database_url, config)
    ok(run_cli("init", env=env))
    (tmp_path / "in.csv").write_text(
        "received_at,channel,department,closed_at,note\n"
        "2026-11-25T10:00,email,Diverse,2026-11-25T11:00,\n"  # closed: nothing to remind of
        "2026-11-25T10:00,in_person,Diverse,,\n"  # no obligation at all
        "2026-11-25T10:00,email,Diverse,,\n"  # a pending reply and nobody to remind
        "2026-11-25T10:00,phone,Diverse,,too long\n",
        encoding="utf-8",
    )
    before = dump(database_url)
    result = run_cli("import", "in.csv", env=env)
    assert result.returncode == 2
    assert "2 bad rows" in result.stderr
    assert "row 4: advisor: required, since no default_recipient is configured" in result.stderr
    assert "row 5: note: note is 8 characters, longer than note_max_length (5)" in result.stderr
    assert "too long" not in result.stderr  # a note's text is never echoed
    assert dump(database_url) == before


@given(us=st.integers(-(10**15), 8 * 10**15))
def test_the_bulk_sqlite_time_text_is_what_sqlalchemy_stores(us: int) -> None:
    from sqlalchemy.dialects import sqlite

    from tracker.store.bulk import driver_time
    from tracker.store.models import UTCDateTime

    dialect = sqlite.dialect()
    # The column type's full bind processing: UTCDateTime, then SQLite's DATETIME text.
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    stored = process(EPOCH + timedelta(microseconds=us))
    assert driver_time(sqlite=True)(us) == stored


# -- the bulk load's deferred indexes ------------------------------------------------------------
def _indexes(url: str) -> list[tuple[str, str]]:
    with engine_for(url, init=False) as engine, engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
        )
        return [(name, sql) for name, sql in rows]


def test_a_large_import_rebuilds_every_index_and_looks_at_each_row_from_its_own_time(
    template_db: Path,
) -> None:
    from tracker.store.bulk import DEFER_INDEXES_FROM

    rows = DEFER_INDEXES_FROM + 500
    first = datetime(2026, 11, 2, 8, 0, tzinfo=COPENHAGEN)
    lines = ["received_at,channel,department"]
    lines += [f"{(first + timedelta(minutes=i)).isoformat()},email,Diverse" for i in range(rows)]
    with fresh_db(template_db) as url:
        before = _indexes(url)
        import_text(url, "\n".join(lines) + "\n", datetime(2026, 11, 30, 12, tzinfo=UTC))
        # The same indexes, defined the same way, and a consistent file.
        assert _indexes(url) == before
        assert any(name == "ix_obligations_next_action_at" for name, _ in before)
        with engine_for(url, init=False) as engine, engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            plan = " ".join(
                str(r[-1])
                for r in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT id FROM obligations"
                    " WHERE next_action_at <= '2026-12-01' ORDER BY next_action_at"
                )
            )
            assert "ix_obligations_next_action_at" in plan
            # Every unmet reply is looked at from its own inquiry's received time.
            pairs = conn.exec_driver_sql(
                "SELECT o.next_action_at, i.received_at FROM obligations o"
                " JOIN inquiries i ON i.id = o.inquiry_id"
            ).all()
        assert len(pairs) == rows
        assert all(nxt == received for nxt, received in pairs)


def test_a_failed_bulk_load_leaves_the_indexes_as_they_were(template_db: Path) -> None:
    from tracker.store.bulk import BulkWriter

    with fresh_db(template_db) as url:
        before = _indexes(url)
        with (
            engine_for(url, init=False) as engine,
            pytest.raises(RuntimeError),
            session_on(engine) as session,
            BulkWriter(session).loading() as writer,
        ):
            writer.defer_indexes()
            names = {name for name, _ in _live_indexes(session)}
            assert "ix_inquiries_received_at" not in names  # dropped for the load
            raise RuntimeError("a row the database refused")
        assert _indexes(url) == before


def _live_indexes(session: Any) -> list[tuple[str, str]]:
    rows = session.connection().exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
    )
    return [(name, sql) for name, sql in rows]


# -- one pass or two ---------------------------------------------------------------------------
def _rows_text(count: int, *, explicit: dict[int, str] | None = None, pauses: bool = False) -> str:
    """With ``pauses`` every fifth row has a pause and every thirteenth an open one, so
    batches mix the fast path with the exact one."""
    first = datetime(2026, 3, 2, 8, 0, tzinfo=COPENHAGEN)
    lines = ["ref,received_at,channel,department,replied_at" + (",pauses" if pauses else "")]
    for i in range(count):
        received = first + timedelta(minutes=7 * i)
        replied = (received + timedelta(hours=i % 50)).isoformat() if i % 3 else ""
        ref = (explicit or {}).get(i, "")
        line = f"{ref},{received.isoformat()},{sorted(CHANNELS)[i % 6]},Diverse,{replied}"
        if pauses:
            start = (received + timedelta(hours=1)).isoformat()
            end = (received + timedelta(hours=3)).isoformat() if i % 13 else ""
            line += f",{start}/{end}" if i % 5 == 0 or not i % 13 else ","
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_a_generated_style_ref_after_generated_ones_restarts_in_two_passes(
    template_db: Path,
) -> None:
    # Row BATCH + 1 names a number the one-pass import already generated for row 3: the
    # import starts again in two passes, which raise the counter past the explicit ref
    # before generating (as refs.allocate promises), so nothing collides.
    text = _rows_text(csvio.BATCH + 1, explicit={csvio.BATCH: "2026-000003"})
    with fresh_db(template_db) as url:
        import_text(url, text, datetime(2026, 11, 30, 12, tzinfo=UTC))
        with engine_for(url, init=False) as engine, session_on(engine) as session:
            got = list(session.scalars(select(Inquiry.ref).order_by(Inquiry.id)))
            counted = session.scalar(select(func.count()).select_from(Obligation))
    assert len(got) == len(set(got)) == csvio.BATCH + 1
    assert got[:2] == ["2026-000004", "2026-000005"]
    assert got[-1] == "2026-000003"
    assert counted is not None and counted > 0


def test_one_pass_and_two_passes_store_the_same(template_db: Path) -> None:
    text = _rows_text(2 * csvio.BATCH + 17, explicit={5: "X-5", 7001: "2025-000042"}, pauses=True)
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with fresh_db(template_db) as one, fresh_db(template_db) as two:
        import_text(one, text, moment)
        ctx = context(settings_for(two), now=moment)
        path = Path(two.removeprefix("sqlite:///")).with_name("in.csv")
        path.write_text(text, encoding="utf-8")
        with engine_for(two, init=False) as engine, session_on(engine) as session:
            importer._import_in_two_passes(session, ctx, path, progress=None)
        first, second = dump(one), dump(two)
    first.pop("events"), second.pop("events")  # the two-pass call records no event itself
    assert first == second
    assert len(first["inquiries"]) == 2 * csvio.BATCH + 17
    assert len(first["pauses"]) == len(
        [i for i in range(2 * csvio.BATCH + 17) if not i % 5 or not i % 13]
    )


# -- the reader process ------------------------------------------------------------------------
def test_the_reader_process_stores_what_one_process_stores(template_db: Path) -> None:
    # Several chunks, explicit refs, pauses (the exact path) and generated refs, into a
    # register that already holds inquiries (so ids do not start at 1).
    earlier = _rows_text(3, explicit={0: "E-0", 1: "E-1", 2: "E-2"}, pauses=True)
    text = _rows_text(2 * csvio.BATCH + 17, explicit={5: "X-5", 7001: "Y-7001"}, pauses=True)
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with fresh_db(template_db) as one, fresh_db(template_db) as two:
        for url, reader in ((one, False), (two, True)):
            import_text(url, earlier, moment, reader=False)
            import_text(url, text, moment, reader=reader)
        first, second = dump(one), dump(two)
    assert first == second
    assert len(first["inquiries"]) == 2 * csvio.BATCH + 20
    assert max(row[1] for row in first["pauses"]) > 3  # pauses of the second import's rows
    assert multiprocessing.active_children() == []


def test_a_restart_in_two_passes_stops_the_reader_first(template_db: Path) -> None:
    text = _rows_text(csvio.BATCH + 1, explicit={csvio.BATCH: "2026-000003"})
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with fresh_db(template_db) as one, fresh_db(template_db) as two:
        import_text(one, text, moment, reader=False)
        import_text(two, text, moment, reader=True)
        assert dump(one) == dump(two)
    assert multiprocessing.active_children() == []


def _refusal(url: str, data: bytes, *, reader: bool) -> str:
    """The import's error for a file of ``data``, without the file's name."""
    with pytest.raises(BadInputError) as refused:
        import_text(url, data, datetime(2026, 11, 30, 12, tzinfo=UTC), reader=reader)
    name, _, message = str(refused.value).partition(".csv: ")
    assert name.startswith(tempfile.gettempdir())
    return message


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda rows: rows.replace(b",email,", b",fax,", 3), id="bad rows"),
        pytest.param(lambda rows: rows + b"\xff\xfe\n", id="not UTF-8 after three chunks"),
        pytest.param(lambda rows: rows + b'"open quote\n', id="not CSV at the end"),
    ],
)
def test_the_reader_process_refuses_a_file_as_one_process_does(
    template_db: Path, bad: Callable[[bytes], bytes]
) -> None:
    data = bad(_rows_text(3 * csvio.BATCH).encode())
    with fresh_db(template_db) as one, fresh_db(template_db) as two:
        before = dump(one)
        refused = _refusal(one, data, reader=True)
        assert refused == _refusal(two, data, reader=False)
        assert refused.startswith(("3 bad rows", "row 15002: not"))  # the row of the bad bytes
        assert dump(one) == dump(two) == before
    assert multiprocessing.active_children() == []


def test_a_reader_that_dies_is_an_error_and_writes_nothing(
    template_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()

    def killed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        if os.getpid() != parent:  # in the forked reader: it dies without a word
            os._exit(9)
        raise AssertionError("the importing process read the file itself")

    monkeypatch.setattr(importer, "chunks", killed)
    with fresh_db(template_db) as url:
        before = dump(url)
        with pytest.raises(SvarfristError, match="process reading the file stopped"):
            import_text(url, _rows_text(10), datetime(2026, 11, 30, 12, tzinfo=UTC), reader=True)
        assert dump(url) == before
    assert multiprocessing.active_children() == []


def test_the_reader_process_stores_the_same_on_postgresql(postgres_url: str) -> None:
    # On PostgreSQL the reader hands over aware datetimes, not SQLite's text.
    text = _rows_text(csvio.BATCH + 7, explicit={3: "X-3"}, pauses=True)
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with fresh_postgres_database(postgres_url) as other:
        for url, reader in ((postgres_url, True), (other, False)):
            with engine_for(url):
                pass
            import_text(url, text, moment, reader=reader)
        assert dump(postgres_url) == dump(other)
    assert len(dump(postgres_url)["pauses"]) > 0
