"""Mail intake in the demo: a small mailbox of sample citizen mails (Danish, invented) in a
local Maildir, ``demo/indbakke/``, read by the same intake code as an IMAP mailbox; the
acknowledgements go through the outbox to the demo's SMTP sink and land in ``demo/mail/``.

Monday morning four citizens write (one to the building department's address) and an
out-of-office reply arrives (ignored: no inquiry, no acknowledgement); on Tuesday one
citizen writes again in the same thread (attached to the first inquiry, no second
acknowledgement), and an advisor's reply with the ref tag, sent as a Bcc to the mailbox,
fulfils the answer the acknowledgement promised.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tracker.config import IntakeSettings, Settings
from tracker.core.calendar import COPENHAGEN
from tracker.intake import loop
from tracker.intake.acknowledge import connector_of
from tracker.intake.parse import digest
from tracker.intake.process import Counts, Intake
from tracker.store import intake as intake_store

MAILBOX_ADDRESS = "borgerservice@fredericia.dk"
BUILDING_ADDRESS = "byggeri@fredericia.dk"


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One sample mail: when it arrives and what it says (all invented)."""

    at: datetime
    sender: str
    to: str
    subject: str
    body: str
    message_id: str
    extra: str = ""


def _monday(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 30, hour, minute, tzinfo=COPENHAGEN)


FIRST_ROUND = [
    Sample(
        at=_monday(8, 12),
        sender="Mette Sørensen <mette.s@example.dk>",
        to=MAILBOX_ADDRESS,
        subject="Spørgsmål om boligstøtte",
        body="Hej\n\nJeg er flyttet og vil gerne vide, om jeg skal søge boligstøtte igen.\n",
        message_id="<demo-1@example.dk>",
    ),
    Sample(
        at=_monday(8, 47),
        sender="Jens Holm <jens.holm@example.dk>",
        to=BUILDING_ADDRESS,
        subject="Byggetilladelse til carport",
        body="Goddag\n\nHvor lang tid tager det at få svar på en ansøgning om carport?\n",
        message_id="<demo-2@example.dk>",
    ),
    Sample(
        at=_monday(9, 5),
        sender="Fatima Ali <fatima.ali@example.dk>",
        to=MAILBOX_ADDRESS,
        subject="Sygedagpenge",
        body="Hej\n\nJeg har ikke fået mine sygedagpenge for november. Hvad gør jeg?\n",
        message_id="<demo-3@example.dk>",
    ),
    Sample(
        at=_monday(9, 30),
        sender="Peter Lund <peter.lund@example.dk>",
        to=MAILBOX_ADDRESS,
        subject="Fraværende: Re: Nyhedsbrev",
        body="Jeg er på ferie til og med 4. december og læser ikke mails.\n",
        message_id="<demo-4@example.dk>",
        extra="Auto-Submitted: auto-replied\n",
    ),
    Sample(
        at=_monday(9, 41),
        sender="Ole Kristensen <ole.k@example.dk>",
        to=MAILBOX_ADDRESS,
        subject="Kontanthjælp og opsparing",
        body="Hej\n\nMå jeg have en opsparing, når jeg modtager kontanthjælp?\n",
        message_id="<demo-5@example.dk>",
    ),
]
FOLLOW_UP = Sample(
    at=_monday(9, 15) + timedelta(days=1),
    sender="Mette Sørensen <mette.s@example.dk>",
    to=MAILBOX_ADDRESS,
    subject="Re: Spørgsmål om boligstøtte",
    body="Hej igen\n\nJeg har glemt at skrive, at jeg nu bor sammen med min søster.\n",
    message_id="<demo-6@example.dk>",
    extra="In-Reply-To: <demo-1@example.dk>\nReferences: <demo-1@example.dk>\n",
)
ROUNDS = (_monday(10, 0), _monday(11, 0) + timedelta(days=1))
"""When intake reads the mailbox in the simulated week: Monday 10.00 and Tuesday 11.00."""


def _raw(sample: Sample) -> bytes:
    return (
        f"From: {sample.sender}\nTo: {sample.to}\nSubject: {sample.subject}\n"
        f"Date: {format_datetime(sample.at)}\nMessage-ID: {sample.message_id}\n{sample.extra}"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{sample.body}"
    ).encode()


def deliver(maildir: Path, samples: list[Sample]) -> None:
    """The mails into the Maildir's ``new/``, each with its arrival time as a local
    delivery agent leaves it (the file's time)."""
    box = mailbox.Maildir(maildir, create=True)
    for sample in samples:
        message = mailbox.MaildirMessage(_raw(sample))
        message.set_date(sample.at.timestamp())
        box.add(message)


def _advisor_reply(ref: str, at: datetime) -> Sample:
    """An advisor's answer to the first mail, Bcc to the mailbox: fulfils ``answer``."""
    return Sample(
        at=at,
        sender=f"Borgerservice <{MAILBOX_ADDRESS}>",
        to="mette.s@example.dk",
        subject=f"Sv: Spørgsmål om boligstøtte [SF {ref}]",
        body="Kære Mette\n\nJa, du skal søge igen, når du flytter. Venlig hilsen Anne\n",
        message_id="<demo-7@fredericia.dk>",
        extra="In-Reply-To: <demo-1@example.dk>\n",
    )


def intake_settings(maildir: Path, secret: SecretStr) -> IntakeSettings:
    return IntakeSettings(
        maildir=maildir,
        address=MAILBOX_ADDRESS,
        default_department="Arbejdsmarked og Borgerservice",
        departments={BUILDING_ADDRESS: "Teknik og Miljø"},
        hash_key=secret,
    )


class DemoIntake:
    """Delivers the sample mails and runs intake at the simulated week's :data:`ROUNDS`."""

    def __init__(self, settings: Settings, factory: Any) -> None:
        assert settings.intake is not None and settings.intake.maildir is not None
        self.maildir = settings.intake.maildir
        self.intake = Intake.of(settings)
        self.factory = factory
        self.connect = connector_of(self.intake)
        self.counts = Counts()
        self.rounds = list(ROUNDS)
        deliver(self.maildir, FIRST_ROUND)

    def step(self, now: datetime) -> None:
        """The round due at ``now``, if any (before Tuesday's, the follow-up and the reply
        arrive)."""
        if not self.rounds or self.rounds[0] > now:
            return
        at = self.rounds.pop(0)
        if not self.rounds:
            reply = _advisor_reply(self._first_ref(), at - timedelta(minutes=20))
            deliver(self.maildir, [FOLLOW_UP, reply])
        clock: Callable[[], datetime] = lambda: at  # noqa: E731 - the simulated moment
        self.counts.add(loop.once(self.intake, self.factory, self.connect, clock))

    def _first_ref(self) -> str:
        with self.factory() as session:
            mine = digest(self.intake.key, FIRST_ROUND[0].message_id.strip("<>"))
            found = intake_store.known(session, [mine])
        assert found is not None, "the first sample mail was not registered"
        return found[1]
