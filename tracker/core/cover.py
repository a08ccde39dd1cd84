"""Who receives an advisor's reminders at ``now``: the advisor, or whoever covers for them.

Pure (no database, no clock): the store reads the absences and teams that matter and asks
:func:`cover`. The rule, in order, on the local (Europe/Copenhagen) date of ``now``:

1. the advisor is not absent: no cover, the advisor receives it;
2. the absence names a substitute who is not absent that day: the substitute, for the
   inquiries of the office that recorded the absence (its lead named a colleague of it);
3. else the present members of the advisor's teams in the inquiry's office (every such team
   the advisor is in, the advisor excluded), each a copy;
4. else the office's default recipient (``default_recipient``) when there is one and it is
   not the advisor;
5. else nobody can take it: it still goes to the advisor (a reminder is never dropped).

``until`` is the last day of the advisor's absence as the mail states it: overlapping or
back-to-back absences count as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from tracker.core.calendar import COPENHAGEN


class Because(StrEnum):
    """Why a recipient receives an absent advisor's mail (said in the mail)."""

    SUBSTITUTE = "substitute"
    TEAM = "team"
    OFFICE = "office"
    NOBODY = "nobody"


@dataclass(frozen=True, kw_only=True)
class Absence:
    """One stored absence: ``first`` to ``last`` inclusive, local dates; ``office``: the
    office that recorded it (None: any), whose inquiries its ``substitute`` covers."""

    advisor: str
    first: date
    last: date
    substitute: str | None = None
    office: str | None = None

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True, kw_only=True)
class Cover:
    """An absent advisor's mail goes to ``recipients`` (in this order, no repeats)."""

    advisor: str
    until: date
    recipients: tuple[str, ...]
    because: Because

    def payload(self) -> dict[str, str]:
        """What a mail needs to say whose inquiry it is: an address, a date, a reason."""
        return {"advisor": self.advisor, "until": self.until.isoformat(), "because": self.because}


def owner(advisor: str | None, default_recipient: str | None) -> str | None:
    """Whose an inquiry's reminders and digest lines are: its advisor, else its office's
    default recipient (None: nobody's). Asked when they are planned and again when sent."""
    return advisor or default_recipient


def local_day(now: datetime) -> date:
    """The local date an absence is looked up on."""
    return now.astimezone(COPENHAGEN).date()


def absent_until(advisor: str, day: date, absences: Iterable[Absence]) -> date | None:
    """The last day of ``advisor``'s absence that covers ``day`` (joined runs), else None."""
    own = sorted((a for a in absences if a.advisor == advisor), key=lambda a: a.first)
    until: date | None = None
    for absence in own:
        if until is None:
            if absence.covers(day):
                until = absence.last
        elif absence.first <= until + timedelta(days=1):
            until = max(until, absence.last)
    return until


def cover(
    advisor: str,
    day: date,
    absences: Iterable[Absence],
    teams: Mapping[str, Iterable[str]],
    fallback: str | None = None,
    *,
    office: str | None = None,
) -> Cover | None:
    """Who receives ``advisor``'s mail on ``day``; None when the advisor is not absent.

    ``teams``: team name -> member addresses (every team; those without the advisor are
    ignored). Addresses are compared as given: the store keeps them lower-cased. ``office``:
    the inquiry's; an absence recorded by another office is the advisor's all the same, but
    its substitute does not cover this office's inquiries (None: every substitute does).
    """
    absences = list(absences)
    until = absent_until(advisor, day, absences)
    if until is None:
        return None

    def present(person: str) -> bool:
        return person != advisor and absent_until(person, day, absences) is None

    today = [
        a
        for a in absences
        if a.advisor == advisor
        and a.covers(day)
        and a.substitute
        and (office is None or a.office is None or a.office == office)
    ]
    today.sort(key=lambda a: (a.first, a.last, a.substitute or ""), reverse=True)
    for absence in today:  # the most recently begun absence names the substitute
        if absence.substitute is not None and present(absence.substitute):
            return Cover(
                advisor=advisor,
                until=until,
                recipients=(absence.substitute,),
                because=Because.SUBSTITUTE,
            )
    members = sorted(
        {m for team in teams.values() if advisor in set(team) for m in team if present(m)}
    )
    if members:
        return Cover(advisor=advisor, until=until, recipients=tuple(members), because=Because.TEAM)
    if fallback and fallback != advisor:
        return Cover(advisor=advisor, until=until, recipients=(fallback,), because=Because.OFFICE)
    return Cover(advisor=advisor, until=until, recipients=(advisor,), because=Because.NOBODY)
