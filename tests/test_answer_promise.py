"""The answer promise of mail intake's acknowledgement (the ``answer`` obligation) in ``show``
and through ``export`` -> ``import``, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_postgres_database
from register_support import (
    cli_env,
    context,
    engine_for,
    session_on,
    settings_for,
    write_config,
)

from tracker.core.calendar import COPENHAGEN
from tracker.sla import Channel
from tracker.store import register
from tracker.transfer import csvio

RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=COPENHAGEN)
ANSWERED = "2026-12-03T14:00:00+01:00"
# Ten working days (240 working hours) after Monday 30 November 09:15.
ANSWER_DUE = "2026-12-14T09:15:00+01:00"
OLD_COLUMNS = csvio.COLUMNS[: csvio.COLUMNS.index("pauses") + 1]


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))


@pytest.fixture
def second_env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A second empty database of the same kind, with the same config."""
    config = tmp_path / "svarfrist.toml"
    if database_url.startswith("sqlite"):
        yield cli_env(f"sqlite:///{tmp_path / 'second.db'}", config)
        return
    with fresh_postgres_database(database_url, prefix="svarfrist_ans") as url:
        yield cli_env(url, config)


def ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return result


def promised(database_url: str) -> str:
    """An inquiry registered as intake registers one it acknowledges; returns its ref."""
    settings = settings_for(database_url)
    with engine_for(database_url) as engine, session_on(engine) as session:
        new = register.NewInquiry(
            channel=Channel.EMAIL,
            department="Diverse",
            received_at=RECEIVED,
            answer_promised=True,
        )
        return register.add(session, context(settings, RECEIVED), new)


def shown(run_cli: Any, env: dict[str, str], ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(run_cli("show", ref, "--json", env=env)).stdout)
    return data


def test_show_lists_the_promised_answer_like_the_other_obligations(
    run_cli: Any, env: dict[str, str], database_url: str
) -> None:
    ref = promised(database_url)
    text = ok(run_cli("show", ref, env=env)).stdout
    assert "answer:      promised (acknowledgement)" in text
    assert f"obligation:  answer  due {ANSWER_DUE}" in text
    data = shown(run_cli, env, ref)
    assert data["answer_promised"] is True and data["answered_at"] is None
    assert {o["rule"]: o["due_at"] for o in data["obligations"]}["answer"] == ANSWER_DUE
    ok(run_cli("answer", ref, "--at", ANSWERED, env=env))
    assert f"answered:    {ANSWERED}" in ok(run_cli("show", ref, env=env)).stdout
    answer = {o["rule"]: o for o in shown(run_cli, env, ref)["obligations"]}["answer"]
    assert answer["met_at"] == ANSWERED and answer["state"] == "met_on_time"


def test_an_export_imported_into_a_fresh_database_keeps_the_promise_and_its_deadline(
    run_cli: Any, env: dict[str, str], second_env: dict[str, str], database_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    open_ref = promised(database_url)
    answered_ref = promised(database_url)
    ok(run_cli("answer", answered_ref, "--at", ANSWERED, env=env))
    ok(run_cli("add", "--channel", "phone", "--department", "Diverse", env=env))
    exported = ok(run_cli("export", env=env)).stdout
    rows = {r["ref"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert (rows[open_ref]["answer_promised"], rows[open_ref]["answered_at"]) == ("true", "")
    assert rows[answered_ref]["answered_at"] == ANSWERED
    assert [r["answer_promised"] for r in rows.values()].count("false") == 1
    (tmp_path / "export.csv").write_text(exported, encoding="utf-8")

    ok(run_cli("init", env=second_env))
    ok(run_cli("import", "export.csv", env=second_env))
    assert ok(run_cli("export", env=second_env)).stdout == exported
    for ref in (open_ref, answered_ref):
        before, after = shown(run_cli, env, ref), shown(run_cli, second_env, ref)
        assert after["answer_promised"] is True
        assert after["obligations"] == before["obligations"]
        assert after["answered_at"] == before["answered_at"]
    due = {o["rule"]: o["due_at"] for o in shown(run_cli, second_env, open_ref)["obligations"]}
    assert due["answer"] == ANSWER_DUE
    as_json = json.loads(ok(run_cli("export", "--format", "json", env=second_env)).stdout)
    assert [r["answer_promised"] for r in as_json].count(True) == 2
    # The promise is kept as a promise: `svarfrist answer` still fulfils it after the move.
    ok(run_cli("answer", open_ref, "--at", ANSWERED, env=second_env))


def test_a_file_without_the_new_columns_imports_as_before(
    run_cli: Any, env: dict[str, str], tmp_path: Path
) -> None:
    ok(run_cli("init", env=env))
    row = {c: "" for c in OLD_COLUMNS}
    row.update(received_at="2026-11-30T09:15", channel="email", department="Diverse")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=OLD_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(row)
    (tmp_path / "old.csv").write_text(out.getvalue(), encoding="utf-8")
    ok(run_cli("import", "old.csv", env=env))
    data = shown(run_cli, env, "2026-000001")
    assert data["answer_promised"] is False
    assert [o["rule"] for o in data["obligations"]] == ["reply"]


@pytest.mark.parametrize(
    ("promise", "answered", "fragment"),
    [
        ("false", ANSWERED, "answered_at: only an inquiry promised an answer date"),
        ("", ANSWERED, "answered_at: only an inquiry promised an answer date"),
        ("true", "2026-11-29T09:00", "answered_at"),
        ("maybe", "", "answer_promised"),
    ],
)
def test_an_answer_without_a_promise_or_before_receipt_is_a_bad_row(
    run_cli: Any, env: dict[str, str], tmp_path: Path, promise: str, answered: str, fragment: str
) -> None:
    ok(run_cli("init", env=env))
    row = {c: "" for c in csvio.COLUMNS}
    row.update(
        received_at="2026-11-30T09:15",
        channel="email",
        department="Diverse",
        answer_promised=promise,
        answered_at=answered,
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csvio.COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(row)
    (tmp_path / "bad.csv").write_text(out.getvalue(), encoding="utf-8")
    refused = run_cli("import", "bad.csv", env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("error: bad.csv: 1 bad row")
    assert f"row 2: {fragment}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert ok(run_cli("export", env=env)).stdout.count("\n") == 1  # the header: nothing written
