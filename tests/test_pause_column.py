"""The CSV's ``pauses`` column: what it accepts and refuses, and that a register's pauses
survive export -> import with every deadline as the register computed it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from register_support import (
    cli_env,
    context,
    dump,
    engine_for,
    session_on,
    settings_for,
    sqlite_and_postgres,
)
from register_support import write_config as write_config_file
from sqlalchemy import select
from test_import_export import (
    EPOCH,
    fresh_db,
    import_text,
    ok,
    pause_offsets,
    template_db,
)
from test_import_export import export_text as export_of

from tracker.core.validate import CHANNELS
from tracker.errors import BadInputError
from tracker.sla import WRITTEN_CHANNELS
from tracker.store import register
from tracker.store.models import Inquiry, Obligation, Pause
from tracker.transfer.pauses import format_pauses, parse_pauses

__all__ = ["template_db"]  # the module-scoped fixture, shared with test_import_export

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
RECEIVED = "2026-03-02T09:00"
HEADER = "received_at,channel,department,callback_requested,closed_at,pauses"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+01:00")


# -- the cell --------------------------------------------------------------------------------
def test_a_cell_is_written_as_local_intervals_exact_an_open_pause_last() -> None:
    # To the second, with the fraction where a time has one: an import gives back the very
    # instant (a pause half a second longer or shorter moves the deadline).
    spans = [
        (datetime(2026, 3, 2, 9, 0, 0, 500_000, tzinfo=UTC),
         datetime(2026, 3, 3, 8, 15, tzinfo=UTC)),
        (datetime(2026, 6, 1, 8, 0, tzinfo=UTC), None),
    ]  # fmt: skip
    assert format_pauses(spans) == (
        "2026-03-02T10:00:00.500000+01:00/2026-03-03T09:15:00+01:00 2026-06-01T10:00:00+02:00/"
    )
    assert format_pauses([]) == ""


def test_naive_times_are_copenhagen_wall_time_and_touching_and_empty_pauses_are_allowed() -> None:
    pauses = parse_pauses(
        "2026-03-02T10:00/2026-03-02T11:00  2026-03-02T11:00/2026-03-02T11:00 "
        "2026-03-02T12:00:00Z/2026-03-03T09:00",
        received_at=_at(RECEIVED),
        closed_at=_at("2026-03-03T09:00"),  # a pause may end at the closing
    )
    assert [(p.start, p.end) for p in pauses] == [
        (_at("2026-03-02T10:00"), _at("2026-03-02T11:00")),
        (_at("2026-03-02T11:00"), _at("2026-03-02T11:00")),
        (datetime(2026, 3, 2, 12, tzinfo=UTC), _at("2026-03-03T09:00")),
    ]
    assert parse_pauses(f"{RECEIVED}/", _at(RECEIVED), None)[0].end is None


BAD_CELLS = [
    # (closed_at, pauses, the problem as reported)
    # A cell's text is not repeated (a note in the wrong column must not be).
    ("", "2026-03-02T10:00", "pauses: pause 1: is not an interval"),
    ("", "/2026-03-02T10:00", "pauses: pause 1: is not an interval"),
    ("", "2026-03-02T10:00/2026-03-02T11:00/", "pauses: pause 1: "),
    ("", "2026-03-02T10:00/PT2H", "pauses: pause 1 end: is not an ISO 8601 time"),
    ("", "2026-03-29T02:30/", "pauses: pause 1 start: 2026-03-29T02:30 does not exist"),
    ("", "2026-03-02T08:00/2026-03-02T10:00", "pauses: pause 1 starts before received_at"),
    ("", "2026-03-02T11:00/2026-03-02T10:00", "pauses: pause 1 ends before it starts"),
    (
        "",
        "2026-03-02T10:00/2026-03-02T12:00 2026-03-02T11:00/2026-03-02T13:00",
        "pauses: pause 2 starts before pause 1 ends",
    ),
    (
        "",
        "2026-03-03T10:00/2026-03-03T12:00 2026-03-02T10:00/2026-03-02T11:00",
        "pauses: pause 2 starts before pause 1 ends",
    ),
    (
        "",
        "2026-03-02T10:00/ 2026-03-03T10:00/2026-03-03T11:00",
        "pauses: pause 1 is open but is not the last",
    ),
    ("2026-03-05T10:00", "2026-03-02T10:00/", "pauses: pause 1 is open on a closed inquiry"),
    (
        "2026-03-03T10:00",
        "2026-03-02T10:00/2026-03-02T11:00 2026-03-04T10:00/2026-03-04T11:00",
        "pauses: pause 2 starts after closed_at",
    ),
    (
        "2026-03-03T10:00",
        "2026-03-02T10:00/2026-03-04T11:00",
        "pauses: pause 1 ends after closed_at",
    ),
]


@pytest.mark.parametrize(("closed", "cell", "problem"), BAD_CELLS)
def test_a_bad_cell_rejects_the_file_naming_row_and_column_and_writes_nothing(
    template_db: Path, closed: str, cell: str, problem: str
) -> None:
    rows = [
        HEADER,
        f"{RECEIVED},email,Diverse,true,,",
        f"{RECEIVED},email,Diverse,true,{closed},{cell}",
    ]
    text = "\n".join(rows) + "\n"
    with fresh_db(template_db) as url:
        before = dump(url)
        with pytest.raises(BadInputError) as refused:
            import_text(url, text, NOW)
        assert dump(url) == before
    message = str(refused.value)
    assert "1 bad row, nothing imported" in message
    assert f"row 3: {problem}" in message, message


def test_every_bad_cell_is_reported_by_the_command_with_exit_2_and_nothing_written(
    run_cli: Any, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, write_config_file(tmp_path / "svarfrist.toml"))
    ok(run_cli("init", env=env))
    lines = [HEADER, f"{RECEIVED},email,Diverse,true,,2026-03-02T10:00/"]  # row 2 is fine
    lines += [f'{RECEIVED},email,Diverse,true,{closed},"{cell}"' for closed, cell, _ in BAD_CELLS]
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = dump(database_url)
    result = run_cli("import", "bad.csv", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert f"{len(BAD_CELLS)} bad rows, nothing imported" in result.stderr
    for row, (_, _, problem) in enumerate(BAD_CELLS, start=3):
        assert f"row {row}: {problem}" in result.stderr
    assert "row 2:" not in result.stderr
    assert result.stdout == ""
    assert dump(database_url) == before


def test_a_file_without_the_pauses_column_still_imports(template_db: Path) -> None:
    text = "received_at,channel,department,note\n2026-03-02T09:00,email,Diverse,hej\n"
    with fresh_db(template_db) as url:
        import_text(url, text, NOW)
        exported = export_of(url)
    (row,) = csv.DictReader(io.StringIO(exported))
    assert (row["note"], row["pauses"]) == ("hej", "")


# -- against the register ---------------------------------------------------------------------
InquiryPlan = tuple[
    str, bool, int, list[tuple[int, int | None]], int | None, int | None, int | None
]


@st.composite
def inquiry_plans(draw: st.DrawFn) -> InquiryPlan:
    """channel, callback requested, received (epoch s), pauses, replied, called back and
    closed (seconds after receipt): what the register commands below are given."""
    closed = draw(st.none() | st.integers(0, 12 * 86_400))
    limit = 12 * 86_400 if closed is None else closed
    fulfilment = st.none() | st.integers(0, limit)
    return (
        draw(st.sampled_from(sorted(CHANNELS))),
        draw(st.booleans()),
        draw(st.integers(1_767_225_600, 1_798_761_600)),  # 2026
        draw(pause_offsets(closed, 12 * 86_400)),
        draw(fulfilment),
        draw(fulfilment),
        closed,
    )


def _build(url: str, plans: list[InquiryPlan], now: datetime) -> None:
    """The inquiries made with the register's commands, in the order a user would."""
    ctx = context(settings_for(url), now=now)
    at = lambda received, offset: EPOCH + timedelta(seconds=received + offset)  # noqa: E731
    with engine_for(url, init=False) as engine, session_on(engine) as session:
        for channel, callback, received, spans, replied, called, closed in plans:
            new = register.NewInquiry(
                channel=channel,
                department="Diverse",
                received_at=at(received, 0),
                callback_requested=callback,
            )
            ref = register.add(session, ctx, new)
            for start, end in spans:
                register.pause(session, ctx, ref, at(received, start))
                if end is not None:
                    register.resume(session, ctx, ref, at(received, end))
            # The register refuses a fulfilment the inquiry has no obligation for.
            if replied is not None and channel in WRITTEN_CHANNELS:
                register.reply(session, ctx, ref, at(received, replied))
            if called is not None and callback:
                register.callback(session, ctx, ref, at(received, called))
            if closed is not None:
                register.close(session, ctx, ref, at(received, closed))


def _last_event(plans: list[InquiryPlan]) -> int:
    return max(
        received
        + max(
            [0, replied or 0, called or 0, closed or 0]
            + [offset for span in spans for offset in span if offset is not None]
        )
        for _, _, received, spans, replied, called, closed in plans
    )


def _stored(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with engine_for(url, init=False) as engine, session_on(engine) as session:
        obligations = session.execute(
            select(
                Inquiry.ref, Obligation.rule, Obligation.warn_at, Obligation.due_at,
                Obligation.met_at, Obligation.state, Obligation.response_minutes,
                Obligation.next_action_at,
            )
            .join(Inquiry, Inquiry.id == Obligation.inquiry_id)
            .order_by(Inquiry.ref, Obligation.rule)
        )  # fmt: skip
        pauses = session.execute(
            select(Inquiry.ref, Pause.start, Pause.end)
            .join(Inquiry, Inquiry.id == Pause.inquiry_id)
            .order_by(Inquiry.ref, Pause.start, Pause.id)
        )
        return [tuple(r) for r in obligations], [tuple(r) for r in pauses]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plans=st.lists(inquiry_plans(), min_size=1, max_size=3),
    now=st.integers(0, 30 * 86_400),
)
def test_imported_inquiries_have_the_obligations_the_register_commands_gave_them(
    template_db: Path, plans: list[InquiryPlan], now: int
) -> None:
    # `now` after the last event: the register refuses events in the future.
    moment = EPOCH + timedelta(seconds=_last_event(plans) + now)
    with fresh_db(template_db) as built, fresh_db(template_db) as imported:
        _build(built, plans, moment)
        exported = export_of(built)
        import_text(imported, exported, moment)
        assert _stored(imported) == _stored(built)
        assert export_of(imported) == exported
    cells = [row["pauses"] for row in csv.DictReader(io.StringIO(exported))]
    # Export orders by ref (year first), not by when the test added them: compare as counts.
    assert sorted(len(cell.split()) for cell in cells) == sorted(len(p[3]) for p in plans)


def test_pauses_move_between_sqlite_and_postgresql_with_their_deadlines(
    run_cli: Any, tmp_path: Path, postgres_url: str
) -> None:
    lite, pg = sqlite_and_postgres(run_cli, tmp_path, postgres_url)
    now = ("--now", "2026-03-06T12:00")
    for ref in ("P-1", "P-2", "P-3"):
        ok(run_cli("add", "--channel", "email", "--department", "Diverse", "--callback",
                   "--ref", ref, "--received", "2026-03-02T09:00", *now, env=lite))  # fmt: skip
    for ref in ("P-1", "P-2"):
        ok(run_cli("pause", ref, "--at", "2026-03-02T10:00", *now, env=lite))
        ok(run_cli("resume", ref, "--at", "2026-03-03T09:15", *now, env=lite))
    ok(run_cli("pause", "P-1", "--at", "2026-03-04T09:15", *now, env=lite))  # still paused
    ok(run_cli("reply", "P-2", "--at", "2026-03-05T09:00", *now, env=lite))
    ok(run_cli("close", "P-2", "--at", "2026-03-05T10:00", *now, env=lite))
    exported = ok(run_cli("export", env=lite)).stdout
    first = next(csv.DictReader(io.StringIO(exported)))
    assert first["pauses"] == (
        "2026-03-02T10:00:00+01:00/2026-03-03T09:15:00+01:00 2026-03-04T09:15:00+01:00/"
    )
    (tmp_path / "lite.csv").write_text(exported, encoding="utf-8")
    ok(run_cli("import", "lite.csv", *now, env=pg))
    assert ok(run_cli("export", env=pg)).stdout == exported
    for ref in ("P-1", "P-2", "P-3"):
        shown = [
            json.loads(ok(run_cli("show", ref, "--json", *now, env=e)).stdout) for e in (lite, pg)
        ]
        # The audit history stays with the register that recorded it: an export carries
        # inquiries, not their events, so there is nothing there for undo to revert.
        assert shown[0].pop("history") and shown[1].pop("history") == []
        shown[0].pop("last_change")  # P-3 has none: no change since it was registered
        assert shown[1].pop("last_change") is None
        assert shown[0] == shown[1]
    as_json = json.loads(ok(run_cli("export", "--format", "json", env=pg)).stdout)
    assert as_json[0]["pauses"] == [
        {"start": "2026-03-02T10:00:00+01:00", "end": "2026-03-03T09:15:00+01:00"},
        {"start": "2026-03-04T09:15:00+01:00", "end": None},
    ]
    assert as_json[2]["pauses"] == []
