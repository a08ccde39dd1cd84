"""The first-run demo (``make demo``): a simulated week of Svarfrist in well under a minute.

It creates ``demo/`` with an SQLite database, registers a realistic week of inquiries
(departments, channels and topics weighted in the order of Fredericia's annual report, which
lists them most frequent first), starts a local SMTP sink (aiosmtpd on 127.0.0.1, a free port)
that saves every message under ``demo/mail/``, and runs the daemon's sweep every half hour of
simulated time from Monday to the next Monday, marking inquiries replied or called back
along the way. It ends with what was sent and when, the compliance summary, and commands
that explore the demo's database as printed, from the folder the demo ran in.

aiosmtpd is a development dependency (``make demo`` installs it).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from tracker.cli.demo_intake import DemoIntake, intake_settings
from tracker.config import (
    DEFAULT_DEPARTMENTS,
    DEFAULT_TOPICS,
    RemindersSettings,
    Settings,
    SmtpSettings,
    WebSettings,
    build_calendar,
    build_rules,
)
from tracker.core.calendar import COPENHAGEN
from tracker.daemon.sweep import build_services, sweep
from tracker.intake.loop import summary
from tracker.sla import WRITTEN_CHANNELS
from tracker.store import access, register, schema
from tracker.store.db import make_engine, session_factory, transaction
from tracker.store.models import Inquiry, Obligation, OutboxMessage
from tracker.web.auth import hash_password

DEMO = Path("demo")
DATABASE = DEMO / "svarfrist.db"
ANNUAL = DEMO / "aarsrapport.html"
MAILDIR = DEMO / "indbakke"
"""The demo's mailbox of sample citizen mails (a Maildir), read by mail intake."""
START = datetime(2026, 11, 30, tzinfo=COPENHAGEN)  # Monday 30 November 2026
DAYS = 7
STEP = timedelta(minutes=30)
PER_WORKING_DAY = 24
# Weights follow the order of the annual report (most frequent first); illustrative figures.
DEPARTMENT_WEIGHTS = (40, 14, 10, 9, 8, 7, 6, 4, 2)
TOPIC_WEIGHTS = (22, 18, 14, 12, 10, 9, 8, 7)
CHANNEL_WEIGHTS = {
    "phone": 38,
    "sms": 6,
    "in_person": 24,
    "email": 20,
    "digital_post": 9,
    "letter": 3,
}
ADVISORS = (
    "anne.jensen@fredericia.dk",
    "bo.nielsen@fredericia.dk",
    "carla.hansen@fredericia.dk",
    "dorte.larsen@fredericia.dk",
)
DEFAULT_RECIPIENT = "borgervejledning@fredericia.dk"
LEAD = "leder.borgerservice@fredericia.dk"
CONFIG = DEMO / "svarfrist.toml"
WEB_HOST, WEB_PORT = "127.0.0.1", 8080
WEB_URL = f"http://{WEB_HOST}:{WEB_PORT}"
# The demo's log-in: the first advisor, and a lead who also sees the department and reports.
DEMO_PASSWORD = "demo-adgangskode"
DEMO_USERS = ((ADVISORS[0], "advisor"), (LEAD, "lead"))


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


@dataclass
class Planned:
    received: datetime
    channel: str
    department: str
    topic: str
    advisor: str | None
    callback: bool
    reply_after: timedelta | None
    callback_after: timedelta | None
    ref: str = ""


def sample(rng: random.Random) -> list[Planned]:
    """A week of inquiries arriving in office hours on working days, with their fates."""
    cal = build_calendar(Settings())
    office = cal.schedule("office_hours")
    planned: list[Planned] = []
    for day in range(5):
        date = (START + timedelta(days=day)).date()
        intervals = cal.day_intervals(date, office)
        if not intervals:
            continue
        start_min, end_min = intervals[0]
        for _ in range(PER_WORKING_DAY):
            minute = rng.randrange(start_min, end_min)
            received = datetime.combine(date, datetime.min.time(), COPENHAGEN) + timedelta(
                minutes=minute
            )
            channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
            callback = (channel == "phone" and rng.random() < 0.5) or rng.random() < 0.1
            planned.append(
                Planned(
                    received=received,
                    channel=channel,
                    department=rng.choices(DEFAULT_DEPARTMENTS, DEPARTMENT_WEIGHTS)[0],
                    topic=rng.choices(DEFAULT_TOPICS, TOPIC_WEIGHTS)[0],
                    advisor=rng.choice(ADVISORS) if rng.random() < 0.85 else None,
                    callback=callback,
                    # Only a written inquiry is replied to (the reply rule's channels).
                    reply_after=_fate(rng) if channel in WRITTEN_CHANNELS else None,
                    callback_after=_fate(rng) if callback else None,
                )
            )
    planned.sort(key=lambda p: p.received)
    return planned


def _fate(rng: random.Random) -> timedelta | None:
    """Most are answered within hours, some take days, a few are forgotten."""
    roll = rng.random()
    if roll < 0.65:
        return timedelta(minutes=rng.randrange(20, 8 * 60))
    if roll < 0.9:
        return timedelta(hours=rng.randrange(20, 60))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailSaver:
    """aiosmtpd handler: every accepted message becomes demo/mail/NNNN-kind-ref.eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        message = message_from_bytes(envelope.content, policy=policy.default)
        kind = message.get("X-Svarfrist-Kind", "mail")
        ref = message.get("X-Svarfrist-Ref", "all")
        path = self.folder / f"{self.count:04d}-{kind}-{ref}.eml"
        path.write_bytes(envelope.content)
        return "250 OK"


def main() -> int:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        out("the demo needs aiosmtpd (a development dependency): run `make demo`")
        return 1
    shutil.rmtree(DEMO, ignore_errors=True)
    (DEMO / "mail").mkdir(parents=True)
    url = f"sqlite:///{DATABASE}"
    port = _free_port()
    secret = SecretStr(secrets.token_urlsafe(32))
    settings = Settings(
        database_url=url,
        mail_from="svarfrist@fredericia.dk",
        default_recipient=DEFAULT_RECIPIENT,
        smtp=SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=10),
        reminders=RemindersSettings(escalation_after_hours=8, escalation_to=LEAD),
        # The mails carry one-click links to the web app the demo can serve afterwards.
        web=WebSettings(base_url=WEB_URL, secret_key=secret, insecure_http=True),
        intake=intake_settings(MAILDIR, SecretStr(secrets.token_hex(32))),
    )
    engine = make_engine(url)
    schema.upgrade(engine)
    factory = session_factory(engine)
    _write_web_config(url, secret)
    _add_users(factory)
    controller = Controller(MailSaver(DEMO / "mail"), hostname="127.0.0.1", port=port)
    controller.start()
    rng = random.Random(2026)
    inquiries = sample(rng)
    out(
        f"Svarfrist demo: {len(inquiries)} inquiries over a simulated week from "
        f"{START:%A %d %B %Y}; database {DATABASE}; SMTP sink on 127.0.0.1:{port} "
        f"saving to {DEMO / 'mail'}/"
    )
    try:
        mail = DemoIntake(settings, factory)
        end = _simulate(settings, factory, inquiries, rng, mail)
    finally:
        controller.stop()
    _print_sent(factory, mail.counts.outcomes["acknowledged"])
    _print_intake(mail)
    svarfrist = svarfrist_words(Path(sys.executable), Path.cwd())
    commands = try_commands(svarfrist, url, end, _first_overdue(factory, end))
    status = _print_compliance(commands[0], url)
    _print_try(commands, end)
    # As it stood at the end of the demo's week, as the commands above (--now): its mails'
    # links were signed then, and would have expired 14 days after that week.
    web = (*svarfrist, "web", "--host", WEB_HOST, "--port", str(WEB_PORT), "--now", _at(end))
    _print_web(Command(env={"SVARFRIST_CONFIG": str(CONFIG)}, words=web))
    engine.dispose()
    if status == 0 and "--serve" in sys.argv[1:]:
        os.environ["SVARFRIST_CONFIG"] = str(CONFIG)
        os.execvp(web[0], web)  # `make demo`: the web app in the foreground, Ctrl-C ends it
    return status


def _write_web_config(url: str, secret: SecretStr) -> None:
    """The web app's configuration for the demo's database: plain http on this machine only
    (insecure_http), the key that signed the mails' links. Readable by its owner only."""
    CONFIG.write_text(
        f'database_url = "{url}"\n\n[web]\nbase_url = "{WEB_URL}"\n'
        f'secret_key = "{secret.get_secret_value()}"\ninsecure_http = true\n',
        encoding="utf-8",
    )
    CONFIG.chmod(0o600)


def _add_users(factory: Any) -> None:
    password_hash = hash_password(DEMO_PASSWORD)
    with transaction(factory) as session:
        for email, role in DEMO_USERS:
            access.add_user(
                session, email=email, role_name=role, password_hash=password_hash, now=START
            )


def _print_web(command: Command) -> None:
    out()
    out("The web app over the demo's database (the mails' links in demo/mail/ open it):")
    out(f"  {command}")
    users = " or ".join(email for email, _ in DEMO_USERS)
    out(f"then open {WEB_URL} and log in as {users}, password {DEMO_PASSWORD!r}.")
    out("(`make demo` starts it for you; Ctrl-C stops it.)")


def _simulate(
    settings: Settings,
    factory: Any,
    inquiries: list[Planned],
    rng: random.Random,
    mail: DemoIntake,
) -> datetime:
    """Run the week: register, fulfil, read the mailbox and sweep every half hour; returns
    the last sweep."""
    calendar, rules = build_calendar(settings), build_rules(settings)

    def ctx(now: datetime) -> register.Context:
        return register.Context(
            settings=settings, calendar=calendar, rules=rules, actor="demo", now=now
        )

    svc = build_services(settings, factory)
    fulfilments: list[tuple[datetime, str, str]] = []
    now, end, waiting = START, START + timedelta(days=DAYS, hours=9), list(inquiries)
    while now <= end:
        with transaction(factory) as session:
            while waiting and waiting[0].received <= now:
                p = waiting.pop(0)
                p.ref = register.add(
                    session,
                    ctx(p.received),
                    register.NewInquiry(
                        channel=p.channel,
                        department=p.department,
                        received_at=p.received,
                        topic=p.topic,
                        advisor=p.advisor,
                        callback_requested=p.callback,
                    ),
                )
                if p.reply_after is not None:
                    fulfilments.append((p.received + p.reply_after, "reply", p.ref))
                if p.callback_after is not None:
                    fulfilments.append((p.received + p.callback_after, "callback", p.ref))
            fulfilments.sort()
            while fulfilments and fulfilments[0][0] <= now:
                at, what, ref = fulfilments.pop(0)
                operation = register.reply if what == "reply" else register.callback
                operation(session, ctx(at), ref, at)
                # Half of the inquiries with nothing left to do are closed right away.
                if all(r != ref for _, _, r in fulfilments) and rng.random() < 0.5:
                    register.close(session, ctx(at), ref, at)
        mail.step(now)
        asyncio.run(sweep(svc, now))
        last, now = now, now + STEP
    return last


def _print_intake(mail: DemoIntake) -> None:
    out()
    out(f"mail intake ({MAILDIR}/, a Maildir of sample citizen mails): {summary(mail.counts)}")
    out(
        f"the acknowledgements, each with its absolute answer deadline, are in {DEMO / 'mail'}/; "
        f"the mails were moved to {MAILDIR}/.Svarfrist.Registreret and .Svarfrist.Ignoreret"
    )


def _print_sent(factory: Any, acknowledgements: int) -> None:
    with factory() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_not(None))
                .order_by(OutboxMessage.sent_at, OutboxMessage.id)
            )
        )
    out()
    out(f"{'sent (local time)':<27} {'kind':<11} {'to':<34} ref")
    for row in rows:
        sent = row.sent_at.astimezone(COPENHAGEN).isoformat(timespec="minutes")
        items = len(row.payload.get("due_today", [])) + len(row.payload.get("overdue", []))
        ref = row.payload.get("ref", f"({items} {'item' if items == 1 else 'items'})")
        out(f"{sent:<27} {row.kind:<11} {row.recipient:<34} {ref}")
    kinds = Counter(r.kind for r in rows)
    # An acknowledgement's outbox row is erased once sent (it held where the citizen's
    # mail is): counted by intake instead.
    kinds["acknowledgement"] += acknowledgements
    out()
    out(
        "messages: "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        # A digest carries the recipient's reminders of the same sweep: one message, one id.
        + f"; total {len({r.message_id for r in rows}) + acknowledgements}"
    )
    out(f"every message is in {DEMO / 'mail'}/ (open the .eml files in a mail program)")


def svarfrist_words(python: Path, cwd: Path) -> tuple[str, ...]:
    """How to run ``svarfrist`` from ``cwd`` with the demo's interpreter, as a user would type it.

    The console script beside the interpreter (``.venv/bin/svarfrist`` under ``make demo``),
    relative to ``cwd`` when it lies inside it; ``python -m tracker`` when there is none.
    """
    script = python.parent / "svarfrist"
    if not script.exists():
        return (str(python), "-m", "tracker")
    try:
        return (str(script.relative_to(cwd)),)
    except ValueError:
        return (str(script),)


@dataclass(frozen=True, kw_only=True)
class Command:
    """A command the demo prints: the environment it needs and its words."""

    env: dict[str, str]
    words: tuple[str, ...]

    def __str__(self) -> str:
        assignments = [f"{name}={shlex.quote(value)}" for name, value in self.env.items()]
        return " ".join([*assignments, shlex.join(self.words)])


def _at(moment: datetime) -> str:
    """A demo time as its commands' --now takes it (local wall-clock time)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def try_commands(svarfrist: tuple[str, ...], url: str, end: datetime, ref: str) -> list[Command]:
    """Commands to explore the demo's database as it stood at the last sweep (``--now``);
    ``ref`` is the inquiry that ``show`` prints."""
    db = {"SVARFRIST_DATABASE_URL": url}
    now = ("--now", _at(end))
    annual = ("--annual", "--format", "html", "--output", str(ANNUAL))
    explain = ("--rule", "reply", "--received", "2026-12-23T14:00", "--explain")
    return [
        Command(env=db, words=(*svarfrist, "report", "--by", "rule", *now)),
        Command(env=db, words=(*svarfrist, "list", "--state", "overdue", *now)),
        Command(env=db, words=(*svarfrist, "show", ref, *now)),
        Command(env=db, words=(*svarfrist, "report", "--breaches", *now)),
        Command(env=db, words=(*svarfrist, "report", *annual, *now)),
        Command(env=db, words=(*svarfrist, "status", *now)),
        Command(env={}, words=(*svarfrist, "due", *explain)),
    ]


def _first_overdue(factory: Any, end: datetime) -> str:
    """The ref of the inquiry whose deadline passed first unmet (else the first inquiry)."""
    with factory() as session:
        ref = session.scalar(
            select(Inquiry.ref)
            .join(Obligation, Obligation.inquiry_id == Inquiry.id)
            .where(Obligation.met_at.is_(None), Obligation.due_at <= end)
            .order_by(Obligation.due_at, Inquiry.ref)
            .limit(1)
        )
        first = session.scalar(select(Inquiry.ref).order_by(Inquiry.ref).limit(1))
    return str(ref or first)


def _environment(command: Command) -> dict[str, str]:
    """This process's environment without SVARFRIST_* (the demo's settings are its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SVARFRIST_")}
    return env | command.env


def _print_compliance(command: Command, url: str) -> int:
    """Run the compliance report as printed; its exit status becomes the demo's."""
    out()
    out("Compliance at the end of the week, by rule:")
    out(f"$ {command}")
    result = subprocess.run(
        command.words, env=_environment(command), capture_output=True, text=True, check=False
    )
    out(result.stdout.rstrip())
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
    return result.returncode


def _print_try(commands: list[Command], end: datetime) -> None:
    out()
    out(
        f"Try it yourself from this folder (the demo's clock stopped at {end:%Y-%m-%d %H:%M}, "
        "hence --now):"
    )
    for command in commands:
        out(f"  {command}")
    url = commands[0].env["SVARFRIST_DATABASE_URL"]
    out(f"(or `export SVARFRIST_DATABASE_URL={shlex.quote(url)}` once, and leave out the prefix)")
    out(f"The annual report is then in {ANNUAL}: open it in a browser.")


if __name__ == "__main__":
    sys.exit(main())
