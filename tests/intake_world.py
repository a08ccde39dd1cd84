"""A mailbox world for the intake tests: a real Dovecot, an aiosmtpd sink, a database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import dovecot
import pytest
from smtp_sink import Sink
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.config import IntakeSettings, Settings
from tracker.intake import loop
from tracker.intake.acknowledge import connector_of
from tracker.intake.process import Counts, Intake
from tracker.store import schema
from tracker.store.db import make_engine, session_factory
from tracker.store.models import Inquiry, Obligation, OutboxMessage

HASH_KEY = "intake-test-hash-key-0123456789"
DEPARTMENTS = {"byg@kommune.test": "Teknik og Miljø"}


def citizen_mail(
    n: int,
    *,
    sender: str = "anna@example.dk",
    to: str = dovecot.USER,
    subject: str = "Spørgsmål",
    extra: str = "",
    date: datetime | None = None,
) -> bytes:
    when = format_datetime(date or datetime.now(UTC))
    return (
        f"From: Anna Borger <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <citizen-{n}@example.dk>\r\nDate: {when}\r\n{extra}"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHej, jeg har et spørgsmål.\r\n"
    ).encode()


@dataclass
class World:
    server: dovecot.Dovecot
    sink: Sink
    engine: Engine
    settings: Settings
    factory: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.factory = session_factory(self.engine)

    @property
    def intake(self) -> Intake:
        return Intake.of(self.settings)

    def round(self, clock: Any = None) -> Counts:
        return loop.once(
            self.intake,
            self.factory,
            connector_of(self.intake),
            clock or (lambda: datetime.now(UTC)),
        )

    def inquiries(self) -> list[Inquiry]:
        with self.factory() as s:
            return list(s.scalars(select(Inquiry).order_by(Inquiry.id)))

    def obligations(self, inquiry_id: int) -> dict[str, Obligation]:
        with self.factory() as s:
            rows = s.scalars(select(Obligation).where(Obligation.inquiry_id == inquiry_id))
            return {o.rule: o for o in rows}

    def outbox(self) -> list[OutboxMessage]:
        with self.factory() as s:
            return list(s.scalars(select(OutboxMessage)))


def settings_for(server: dovecot.Dovecot, sink: Sink, database_url: str, **intake: Any) -> Settings:
    conf = {
        "imap_host": "127.0.0.1",
        "imap_port": server.port,
        "imap_security": "none",
        "username": dovecot.USER,
        "password": dovecot.PASSWORD,
        "default_department": "Arbejdsmarked og Borgerservice",
        "departments": DEPARTMENTS,
        "hash_key": HASH_KEY,
        "sent_folder": "Sent",
        "poll_seconds": 1,
    } | intake
    return Settings(
        database_url=database_url,
        mail_from="Fredericia Kommune <borgerservice@kommune.test>",
        default_recipient="team@kommune.test",
        smtp={"host": "127.0.0.1", "port": sink.port, "security": "none"},
        intake=IntakeSettings(**conf),
    )


def make_world(database_url: str, *, ssl: bool = False, **intake: Any) -> Iterator[World]:
    if not dovecot.DOVECOT.exists():
        pytest.skip("no /usr/sbin/dovecot: apt-get install dovecot-imapd (.ci/run does)")
    server = dovecot.make(ssl=ssl)
    server.start()
    sink = Sink().start()
    engine = make_engine(database_url)
    schema.upgrade(engine)
    try:
        yield World(
            server=server,
            sink=sink,
            engine=engine,
            settings=settings_for(
                server,
                sink,
                database_url,
                **({"imap_security": "starttls", "ca_file": str(server.cert)} if ssl else {})
                | intake,
            ),
        )
    finally:
        engine.dispose()
        sink.stop()
        dovecot.remove(server)


def wait_for(predicate: Any, seconds: float = 20.0) -> None:
    """For the daemon tests only: poll a condition another thread makes true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def toml_for(
    world: World, database_url: str, path: Any, *, lease: int = 300, batch: int = 200
) -> dict[str, str]:
    """The world's settings as a TOML file, and the environment that points at it."""
    conf = world.settings.intake
    assert conf is not None and conf.password is not None and conf.hash_key is not None
    departments = "".join(f'"{a}" = "{d}"\n' for a, d in conf.departments.items())
    path.write_text(
        f'database_url = "{database_url}"\n'
        f'mail_from = "{world.settings.mail_from}"\n'
        f'default_recipient = "{world.settings.default_recipient}"\n'
        f"[daemon]\nsweep_interval_seconds = 1\nclaim_lease_seconds = {lease}\n"
        f'[smtp]\nhost = "127.0.0.1"\nport = {world.sink.port}\nsecurity = "none"\n'
        f'[intake]\nimap_host = "127.0.0.1"\nimap_port = {conf.imap_port}\n'
        f'imap_security = "none"\nusername = "{conf.username}"\n'
        f'password = "{conf.password.get_secret_value()}"\n'
        f'default_department = "{conf.default_department}"\n'
        f'hash_key = "{conf.hash_key.get_secret_value()}"\npoll_seconds = 2\nbatch = {batch}\n'
        f"[intake.departments]\n{departments}",
        encoding="utf-8",
    )
    return {"SVARFRIST_CONFIG": str(path)}
