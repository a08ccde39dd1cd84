"""Several actions in one session, as mail intake runs them (tracker.intake.acknowledge
fulfils a round of acknowledgements in one transaction): each action's rows are the same as
when each runs in a transaction of its own, and a refused action writes nothing even though
the session goes on and commits the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from register_support import context, dump, engine_for, session_on, settings_for, utc

from tracker.errors import BadInputError
from tracker.store import register
from tracker.store.register import NewInquiry

RECEIVED = utc("2026-11-23T09:00")
NOW = utc("2026-11-27T12:00")

Action = tuple[str, str, datetime]
"""(action, which inquiry: "mail" or "phone", at)"""

ACTIONS: Sequence[Action] = (
    ("pause", "mail", utc("2026-11-23T10:00")),
    ("resume", "mail", utc("2026-11-24T13:00")),
    ("callback", "phone", utc("2026-11-24T14:00")),
    ("reply", "mail", utc("2026-11-25T09:30")),
    ("pause", "phone", utc("2026-11-25T10:00")),
    ("close", "phone", utc("2026-11-26T08:00")),
    ("pause", "mail", utc("2026-11-26T09:00")),
)


def _register(database_url: str, pairs: int = 1) -> list[dict[str, str]]:
    """``pairs`` times a mail inquiry and a phone inquiry with a call-back, received alike."""
    settings = settings_for(database_url)
    with engine_for(database_url) as engine, session_on(engine) as session:
        ctx = context(settings, now=RECEIVED)
        mail = NewInquiry(channel="email", department="Diverse", received_at=RECEIVED)
        phone = NewInquiry(channel="phone", department="Diverse", received_at=RECEIVED,
                           callback_requested=True)  # fmt: skip
        return [
            {"mail": register.add(session, ctx, mail), "phone": register.add(session, ctx, phone)}
            for _ in range(pairs)
        ]


def _act(database_url: str, refs: dict[str, str], *, one_session: bool) -> None:
    settings = settings_for(database_url)
    with engine_for(database_url, init=False) as engine:
        if one_session:
            with session_on(engine) as session:
                for name, which, at in ACTIONS:
                    register.ACTIONS[name](session, context(settings, NOW), refs[which], at)
            return
        for name, which, at in ACTIONS:
            with session_on(engine) as session:
                register.ACTIONS[name](session, context(settings, NOW), refs[which], at)


def _stored(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    rows = dump(database_url)
    return {name: rows[name] for name in ("inquiries", "obligations", "pauses", "events")}


def _of(rows: dict[str, list[tuple[Any, ...]]], ids: set[int]) -> dict[str, list[Any]]:
    """The rows of these inquiries, without the ids and refs that tell them apart."""
    return {
        "inquiries": [r[2:] for r in rows["inquiries"] if r[0] in ids],
        "obligations": [r[2:] for r in rows["obligations"] if r[1] in ids],
        "pauses": [r[2:] for r in rows["pauses"] if r[1] in ids],
        "events": [r[3:] for r in rows["events"] if r[1] in ids],
    }


def test_actions_in_one_session_write_what_separate_transactions_write(database_url: str) -> None:
    first, second = _register(database_url, pairs=2)
    _act(database_url, first, one_session=True)
    _act(database_url, second, one_session=False)
    rows = _stored(database_url)
    ids = {r[1]: r[0] for r in rows["inquiries"]}  # ref -> id
    together = _of(rows, {ids[first["mail"]], ids[first["phone"]]})
    apart = _of(rows, {ids[second["mail"]], ids[second["phone"]]})
    assert together == apart
    # three pauses added (and one ended) inside the one session: the equal obligations above
    # show its facts saw them; one event per action beside the two ``created``
    assert len(together["pauses"]) == 3
    assert len(together["events"]) == 2 + len(ACTIONS)


REFUSED: Sequence[tuple[str, Callable[[dict[str, str]], tuple[str, str, datetime]]]] = (
    ("a reply to a phone inquiry", lambda r: ("reply", r["phone"], utc("2026-11-24T10:00"))),
    ("a call-back nobody asked for", lambda r: ("callback", r["mail"], utc("2026-11-24T10:00"))),
    ("an answer never promised", lambda r: ("answer", r["mail"], utc("2026-11-24T10:00"))),
    ("a reply before receipt", lambda r: ("reply", r["mail"], RECEIVED - timedelta(hours=1))),
)


@pytest.mark.parametrize(("label", "refused"), REFUSED, ids=[label for label, _ in REFUSED])
def test_a_refused_action_in_a_session_that_goes_on_writes_nothing(
    database_url: str, label: str, refused: Callable[[dict[str, str]], Action]
) -> None:
    (refs,) = _register(database_url)
    before = _stored(database_url)
    settings = settings_for(database_url)
    name, ref, at = refused(refs)
    # pytest.raises takes the refusal, then the session commits (as intake's round goes on
    # after logging it)
    with (
        engine_for(database_url, init=False) as engine,
        session_on(engine) as session,
        pytest.raises(BadInputError),
    ):
        register.ACTIONS[name](session, context(settings, NOW), ref, at)
    assert _stored(database_url) == before, label
