"""The pure rule of who receives an absent advisor's mail (tracker.core.cover): a table of
cases, and properties over random absences and teams (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.core.cover import Absence, Because, absent_until, cover, local_day

ANNE, BO, CARL, DORA = "anne@x.dk", "bo@x.dk", "carl@x.dk", "dora@x.dk"
OFFICE = "borgerservice@x.dk"
DAY = date(2026, 12, 8)


def away(who: str, first: int, last: int, substitute: str | None = None) -> Absence:
    """Absent from DAY+first to DAY+last."""
    return Absence(
        advisor=who,
        first=DAY + timedelta(first),
        last=DAY + timedelta(last),
        substitute=substitute,
    )


TEAM = {"Borgerservice": [ANNE, BO, CARL], "Jobcenter": [DORA]}


@pytest.mark.parametrize(
    ("absences", "teams", "fallback", "expected"),
    [
        ([], TEAM, OFFICE, None),
        ([away(ANNE, 1, 3, BO)], TEAM, OFFICE, None),  # not yet absent
        ([away(ANNE, -3, -1, BO)], TEAM, OFFICE, None),  # back again
        ([away(ANNE, 0, 0, DORA)], TEAM, OFFICE, ((DORA,), Because.SUBSTITUTE, 0)),
        ([away(ANNE, -2, 2, DORA)], TEAM, OFFICE, ((DORA,), Because.SUBSTITUTE, 2)),
        ([away(ANNE, -2, 2)], TEAM, OFFICE, ((BO, CARL), Because.TEAM, 2)),
        ([away(ANNE, -2, 2, DORA), away(DORA, 0, 5)], TEAM, OFFICE, ((BO, CARL), Because.TEAM, 2)),
        ([away(ANNE, -2, 2), away(BO, 0, 1)], TEAM, OFFICE, ((CARL,), Because.TEAM, 2)),
        ([away(ANNE, 0, 2), away(BO, 0, 1), away(CARL, 0, 0)], TEAM, OFFICE,
         ((OFFICE,), Because.OFFICE, 2)),
        ([away(ANNE, 0, 2)], {}, OFFICE, ((OFFICE,), Because.OFFICE, 2)),
        ([away(ANNE, 0, 2)], {}, None, ((ANNE,), Because.NOBODY, 2)),
        ([away(ANNE, 0, 2)], {}, ANNE, ((ANNE,), Because.NOBODY, 2)),
        ([away(ANNE, -1, 2), away(ANNE, 3, 6)], {}, OFFICE, ((OFFICE,), Because.OFFICE, 6)),
        ([away(ANNE, -1, 2), away(ANNE, 4, 6)], {}, OFFICE, ((OFFICE,), Because.OFFICE, 2)),
        ([away(ANNE, -5, 9, BO), away(ANNE, 0, 1, CARL)], TEAM, None,
         ((CARL,), Because.SUBSTITUTE, 9)),
    ],
)  # fmt: skip
def test_the_cover_of_anne_on_the_day_follows_substitute_then_team_then_office(
    absences: list[Absence],
    teams: dict[str, list[str]],
    fallback: str | None,
    expected: tuple[tuple[str, ...], Because, int] | None,
) -> None:
    found = cover(ANNE, DAY, absences, teams, fallback)
    if expected is None:
        assert found is None
        return
    assert found is not None
    recipients, because, until = expected
    assert (found.recipients, found.because, found.until) == (
        recipients,
        because,
        DAY + timedelta(until),
    )
    assert found.payload() == {
        "advisor": ANNE,
        "until": (DAY + timedelta(until)).isoformat(),
        "because": because.value,
    }


def test_the_local_day_is_the_copenhagen_date_not_the_utc_one() -> None:
    assert local_day(datetime(2026, 12, 7, 23, 30, tzinfo=UTC)) == date(2026, 12, 8)
    assert local_day(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == date(2026, 7, 1)


PEOPLE = [ANNE, BO, CARL, DORA]
absence = st.builds(
    lambda who, first, length, sub: away(who, first, first + length, sub),
    st.sampled_from(PEOPLE),
    st.integers(-10, 10),
    st.integers(0, 10),
    st.none() | st.sampled_from(PEOPLE),
)
teams = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.lists(st.sampled_from(PEOPLE)))


@given(st.lists(absence, max_size=8), teams, st.none() | st.just(OFFICE))
def test_an_absent_advisors_mail_goes_to_someone_present_or_back_to_the_advisor(
    absences: list[Absence], team_map: dict[str, list[str]], fallback: str | None
) -> None:
    found = cover(ANNE, DAY, absences, team_map, fallback)
    anne_absent = any(a.advisor == ANNE and a.covers(DAY) for a in absences)
    assert (found is not None) == anne_absent
    if found is None:
        return
    assert found.recipients, "never nobody"
    assert len(set(found.recipients)) == len(found.recipients)
    assert found.until >= DAY
    assert absent_until(ANNE, found.until, absences) == found.until
    assert absent_until(ANNE, found.until + timedelta(1), absences) is None
    if found.because == Because.NOBODY:
        assert found.recipients == (ANNE,)
        return
    assert ANNE not in found.recipients
    for person in found.recipients:
        if person != OFFICE:
            assert absent_until(person, DAY, absences) is None, person
    if found.because == Because.TEAM:
        assert all(any(ANNE in m and p in m for m in team_map.values()) for p in found.recipients)


def test_the_mail_line_names_the_absent_advisor_and_the_last_day_in_danish_and_english() -> None:
    from tracker.mail.render import cover_line

    found = cover(ANNE, DAY, [away(ANNE, 0, 3)], TEAM)
    assert found is not None
    assert cover_line(found.payload(), "da") == (
        "Henvendelsen tilhører anne@x.dk, som er fraværende til og med fredag 11. december "
        "2026; du modtager den som medlem af rådgiverens team."
    )
    assert cover_line(found.payload(), "en", many=True) == (
        "These inquiries belong to anne@x.dk, who is absent up to and including Friday "
        "11 December 2026; you receive them as a member of their team."
    )
    assert cover_line(None, "da") == ""


def test_an_english_digest_keeps_an_absent_colleagues_items_in_a_section_of_their_own() -> None:
    from email import message_from_bytes, policy

    from tracker.mail.render import MailConfig, render_combined

    def item(ref: str) -> dict[str, str]:
        return {"ref": ref, "rule": "reply", "department": "Diverse",
                "due_at": "2026-12-08T15:00:00+00:00"}  # fmt: skip

    found = cover(ANNE, DAY, [away(ANNE, 0, 3, BO)], TEAM)
    assert found is not None
    own = {"day": "2026-12-08", "due_today": [item("2026-000001")], "overdue": []}
    theirs = {"day": "2026-12-08", "due_today": [item("2026-000002")], "overdue": [],
              "cover": found.payload()}  # fmt: skip
    envelope = render_combined(
        items=[("digest", theirs), ("digest", own)],
        recipient=BO,
        message_id="<1@x.dk>",
        config=MailConfig(mail_from="svarfrist@x.dk", language="en"),
        now=datetime(2026, 12, 8, 6, 30, tzinfo=UTC),
    )
    message = message_from_bytes(envelope.data, policy=policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    mine, covered = text.split("These inquiries belong to anne@x.dk")
    assert "2026-000001" in mine and "2026-000002" not in mine
    assert "2026-000002" in covered and "you receive them as their substitute" in covered
    assert "<h2>Absent colleagues' inquiries</h2>" in html.replace("&#39;", "'")


def test_a_substitute_covers_the_inquiries_of_the_office_that_recorded_the_absence() -> None:
    named = Absence(advisor=ANNE, first=DAY, last=DAY, substitute=DORA, office="nord")
    assert cover(ANNE, DAY, [named], TEAM, OFFICE, office="nord").recipients == (DORA,)
    other = cover(ANNE, DAY, [named], TEAM, OFFICE, office="default")
    assert other is not None and (other.recipients, other.because) == ((BO, CARL), Because.TEAM)
    assert cover(ANNE, DAY, [named], TEAM, OFFICE).recipients == (DORA,)  # no office known
