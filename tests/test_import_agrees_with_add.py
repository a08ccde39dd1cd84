"""The import's row check and ``add`` accept and refuse the same values (one validator).

Random rows of times, channels, departments, topics, advisors, booleans, refs and notes go
both ways into a real SQLite register: through ``add`` as the command line hands them over
(validate.parse_time for ``--received``, validate.parse_bool for a boolean) and as a one-row
CSV file through ``import --dry-run``. Either both take the row or both refuse it with a
BadInputError (exit 2); anything else fails the test. The CSV format trims its cells (not
the note), so ``add`` gets the trimmed values; ``add`` alone defaults a missing received
time to now, so every row has one.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from register_support import DEPARTMENTS, NOW, TOPICS, context, engine_for, settings_for
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tracker.core import validate
from tracker.core.validate import BOOLEANS, CHANNELS
from tracker.errors import BadInputError
from tracker.store import register
from tracker.store.register import Context
from tracker.transfer import importer

NOTE_MAX = 12
# Any Unicode a file can hold: no lone surrogates (not UTF-8) and no NUL (refused by the
# CSV format itself, before any column's rule).
CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
ODD_TEXT = st.text(
    CHARACTERS
    | st.sampled_from(["\u200b", "\u202e", "\u2028", "\ufeff", "\u0301", "ø", " ", "\t", ";"]),
    max_size=20,
)


def padded(values: list[str]) -> st.SearchStrategy[str]:
    """One of ``values``, possibly in another case or with spaces around it."""
    return st.sampled_from(values).flatmap(
        lambda v: st.sampled_from([v, v.upper(), v.lower(), f" {v}", f"{v} ", f" {v}\t"])
    )


TIMES = st.one_of(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2035, 1, 1),
    ).map(lambda d: d.isoformat(timespec="minutes")),
    st.sampled_from(
        [
            "2026-11-25T10:00",
            "2026-11-25T10:00:00+01:00",
            "2026-03-29T02:30",  # skipped by DST
            "2026-10-25T02:30",  # repeated by DST
            "0001-01-01T00:30+01:00",
            "9999-12-31T23:00",
            "9999-06-01T10:00+00:00",
            "9998-12-31T12:00",
            "0002-01-05T10:00",
            "1899-12-31T10:00",
            "2026-11-25",
            "25-11-2026 10:00",
        ]
    ),
    ODD_TEXT,
)
ADVISORS = st.one_of(
    st.just(""),
    padded(["anna@fredericia.dk", "Bo.Jensen@Fredericia.DK", "x@y.z"]),
    st.sampled_from(
        ["not an address", "a@b", "@fredericia.dk", "a b@c.dk", "a@" + "b" * 320 + ".dk"]
    ),
    ODD_TEXT,
    ODD_TEXT.map(lambda t: f"{t}@fredericia.dk"),
)
REFS = st.one_of(
    st.just(""),
    st.sampled_from(["A-1", "2026-000042", "x.y/z_1", "_bad", "-bad", "a" * 64, "a" * 65]),
    ODD_TEXT,
)
ROWS = st.fixed_dictionaries(
    {
        "ref": REFS,
        "received_at": TIMES.filter(lambda t: t.strip() != ""),
        "channel": st.one_of(padded(sorted(CHANNELS)), ODD_TEXT),
        "department": st.one_of(padded(DEPARTMENTS), ODD_TEXT),
        "topic": st.one_of(st.sampled_from(["", " "]), padded(TOPICS), ODD_TEXT),
        "advisor": ADVISORS,
        "callback_requested": st.one_of(
            st.sampled_from(["", " ", "\t"]), padded(sorted(BOOLEANS)), ODD_TEXT
        ),
        "note": st.one_of(
            st.just(""), ODD_TEXT, st.text(CHARACTERS, min_size=NOTE_MAX - 1, max_size=NOTE_MAX + 1)
        ),
    }
)


@pytest.fixture(scope="module")
def register_db() -> Iterator[Engine]:
    with (
        tempfile.TemporaryDirectory() as directory,
        engine_for(f"sqlite:///{Path(directory) / 'svarfrist.db'}") as engine,
    ):
        yield engine


@pytest.fixture(scope="module")
def contexts(register_db: Engine) -> dict[bool, Context]:
    """With and without a default recipient (without one, a pending deadline needs an advisor)."""
    url = str(register_db.url)
    return {
        recipient: context(
            settings_for(
                url, note_max_length=NOTE_MAX, **({} if recipient else {"default_recipient": None})
            ),
            now=NOW,
        )
        for recipient in (True, False)
    }


def add_accepts(engine: Engine, ctx: Context, cells: dict[str, str]) -> bool:
    """What ``add`` says of the row's values, given as the command line would give them."""
    trimmed = {
        column: value if column == "note" else value.strip() for column, value in cells.items()
    }
    try:
        received = validate.parse_time(trimmed["received_at"], "--received")
        flag = trimmed["callback_requested"]
        callback = validate.parse_bool(flag, "--callback") if flag else False
        new = register.NewInquiry(
            channel=trimmed["channel"],
            department=trimmed["department"],
            received_at=received,
            topic=trimmed["topic"] or None,
            advisor=trimmed["advisor"] or None,
            callback_requested=callback,
            ref=trimmed["ref"] or None,
            note=trimmed["note"] or None,
        )
        with Session(engine) as session:
            try:
                register.add(session, ctx, new)
            finally:
                session.rollback()
    except BadInputError:
        return False
    return True


def import_accepts(engine: Engine, ctx: Context, cells: dict[str, str]) -> bool:
    """What ``import --dry-run`` says of the same values as a one-row CSV file."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(cells), lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(cells)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "row.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        try:
            with Session(engine) as session:
                importer.import_csv(session, ctx, path, dry_run=True)
        except BadInputError as exc:
            assert "row 2: " in str(exc), str(exc)  # a bad row is named by its number
            return False
    return True


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cells=ROWS, recipient=st.booleans())
def test_add_and_the_import_accept_and_refuse_the_same_rows(
    register_db: Engine, contexts: dict[bool, Context], cells: dict[str, str], recipient: bool
) -> None:
    ctx = contexts[recipient]
    assert add_accepts(register_db, ctx, cells) == import_accepts(register_db, ctx, cells)
