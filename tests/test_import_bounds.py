"""An import refuses what it cannot store, naming row and column, with bounded memory and
without repeating a cell's text; and its reader process never outlives it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from register_support import cli_env, dump, write_config

from tracker.transfer import csvio


@pytest.fixture
def env(run_cli: Any, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    assert run_cli("init", env=env).returncode == 0
    return env


def refused(run_cli: Any, env: dict[str, str], database_url: str, *args: str) -> str:
    """Runs ``import *args``: exit 2, one ``error:`` line opening stderr, nothing written;
    returns stderr."""
    before = dump(database_url)
    result = run_cli("import", *args, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1
    assert result.stdout == ""
    assert dump(database_url) == before
    return str(result.stderr)


@pytest.mark.parametrize(
    "received",
    ["0001-01-01T00:30+01:00", "9999-12-31T23:00", "9999-06-01T10:00+00:00"],
)
@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
def test_a_year_the_calendar_cannot_handle_is_a_bad_row_naming_its_column(
    run_cli: Any,
    env: dict[str, str],
    database_url: str,
    tmp_path: Path,
    received: str,
    dry_run: bool,
) -> None:
    (tmp_path / "in.csv").write_text(
        f"received_at,channel,department\n2026-11-25T10:00,email,Diverse\n{received},email,Diverse\n",
        encoding="utf-8",
    )
    args = ("in.csv", "--dry-run") if dry_run else ("in.csv",)
    stderr = refused(run_cli, env, database_url, *args)
    assert "1 bad row," in stderr
    assert "row 3: received_at: " in stderr


@pytest.mark.parametrize("column", ["replied_at", "closed_at"])
def test_a_fulfilment_in_a_year_the_calendar_cannot_handle_is_a_bad_row(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path, column: str
) -> None:
    (tmp_path / "in.csv").write_text(
        f"received_at,channel,department,{column}\n2026-11-25T10:00,email,Diverse,9999-12-31T23:00\n",
        encoding="utf-8",
    )
    assert f"row 2: {column}: " in refused(run_cli, env, database_url, "in.csv")


def test_a_header_line_of_ten_megabytes_is_refused_by_its_row(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "in.csv").write_text("x" * 10_000_000 + "\n", encoding="utf-8")
    stderr = refused(run_cli, env, database_url, "in.csv")
    assert "row 1: longer than 1,048,576 characters" in stderr
    assert "xxxxxxxxxx" not in stderr


def test_a_file_without_line_breaks_is_refused_with_bounded_memory(
    run_cli: Any, env: dict[str, str], database_url: str
) -> None:
    # /dev/zero has no end: an import that reads a whole line first never finishes.
    stderr = refused(run_cli, env, database_url, "/dev/zero")
    assert "row 1: longer than" in stderr


def test_a_row_growing_past_the_bound_in_quoted_line_breaks_is_named(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # Short lines, but one quoted field that never closes: the row is bounded, not the line.
    lines = ["received_at,channel,department,note", "2026-11-25T10:00,email,Diverse,ok"]
    lines.append('2026-11-25T10:00,email,Diverse,"' + "\n".join(["y" * 1000] * 2000))
    (tmp_path / "in.csv").write_text("\n".join(lines), encoding="utf-8")
    assert "row 3: longer than 1,048,576 characters" in refused(
        run_cli, env, database_url, "in.csv"
    )


@pytest.mark.parametrize("column", ["note", "topic", "advisor", "ref", "pauses"])
def test_a_nul_byte_in_any_cell_is_a_bad_row_naming_its_column(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path, column: str
) -> None:
    header = "received_at,channel,department,note,topic,advisor,ref,pauses"
    values = {"note": "a\0b", "topic": "Kontanthj\0lp", "advisor": "a\0@b.dk", "ref": "R\0-1"}
    values["pauses"] = "2026-11-25T11:00\0/2026-11-25T12:00"
    cells = {c: "" for c in ("note", "topic", "advisor", "ref", "pauses")}
    cells[column] = values[column]
    row = "2026-11-25T10:00,email,Diverse," + ",".join(cells.values())
    (tmp_path / "in.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    stderr = refused(run_cli, env, database_url, "in.csv")
    assert f"row 2: {column}: contains a NUL character" in stderr


def test_a_note_in_the_topic_column_is_named_but_not_repeated(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # The note and topic headers swapped: the note's text lands in the topic column.
    (tmp_path / "in.csv").write_text(
        "received_at,channel,department,note,topic\n"
        "2026-11-25T10:00,email,Diverse,Kontanthjælp,Borgeren har gæld og en syg datter\n",
        encoding="utf-8",
    )
    stderr = refused(run_cli, env, database_url, "in.csv")
    assert "row 2: topic: unknown topic" in stderr
    assert "gæld" not in stderr and "datter" not in stderr


@pytest.mark.parametrize(
    ("column", "cell"),
    [
        ("channel", "Borgeren klager højlydt"),
        ("department", "Borgeren klager højlydt"),
        ("advisor", "Borgeren klager højlydt"),
        ("ref", "Borgeren klager højlydt"),
        ("callback_requested", "Borgeren klager højlydt"),
        ("received_at", "Borgeren klager højlydt"),
        ("pauses", "Borgeren klager højlydt"),
    ],
)
def test_no_column_repeats_a_cell_that_may_be_free_text(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path, column: str, cell: str
) -> None:
    row = {"received_at": "2026-11-25T10:00", "channel": "email", "department": "Diverse"}
    row[column] = cell
    (tmp_path / "in.csv").write_text(
        ",".join(row) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8"
    )
    stderr = refused(run_cli, env, database_url, "in.csv")
    assert f"row 2: {column}" in stderr
    assert not [word for word in cell.split() if word in stderr]  # no word of the cell


READER_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys
    from pathlib import Path
    from register_support import context, settings_for
    from tracker.store.db import make_engine, session_factory, transaction
    from tracker.transfer.importer import import_csv

    url, path = sys.argv[1], Path(sys.argv[2])

    def progress(phase, rows):
        # Tell the test which process reads, then hold the import here until killed.
        (reader,) = multiprocessing.active_children()
        print(reader.pid, flush=True)
        sys.stdin.read()

    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        import_csv(session, context(settings_for(url)), path, reader=True, progress=progress)
    """
)


def test_the_reader_process_dies_with_a_killed_import(template_db_url: str, tmp_path: Path) -> None:
    rows = ["received_at,channel,department"]
    rows += ["2026-11-25T10:00:00+01:00,email,Diverse"] * (csvio.BATCH * 8)
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    importing = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, template_db_url, str(tmp_path / "in.csv")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert importing.stdout is not None
    reader = int(importing.stdout.readline())
    watch = os.pidfd_open(reader)
    try:
        importing.kill()
        importing.wait()
        # A bounded wait for the reader's exit: the pidfd turns readable when it ends.
        ended, _, _ = select.select([watch], [], [], 60)
        assert ended == [watch], "the reader outlived the import it read for"
    finally:
        if not select.select([watch], [], [], 0)[0]:
            signal.pidfd_send_signal(watch, signal.SIGKILL)
        os.close(watch)


@pytest.fixture
def template_db_url(tmp_path: Path) -> str:
    from register_support import engine_for

    url = f"sqlite:///{tmp_path / 'svarfrist.db'}"
    with engine_for(url):
        pass
    return url


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "is empty: a header row is required"),
    ("\n\nreceived_at,channel,department\n2026-11-25T10:00,email,Diverse\n",
     "row 1: empty; the header row must be the first line"),
])  # fmt: skip
def test_a_file_without_a_header_on_its_first_line_is_refused_saying_so(
    run_cli: Any, env: dict[str, str], database_url: str, tmp_path: Path, text: str, fragment: str
) -> None:
    """Not "required column(s) missing" for a blank first line: the header is not missing."""
    (tmp_path / "in.csv").write_text(text, encoding="utf-8")
    assert fragment in refused(run_cli, env, database_url, "in.csv")
