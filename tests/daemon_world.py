"""Test personas for the reminder daemon: a database with inquiries, settings, sweeps."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.config import Settings, build_calendar, build_rules
from tracker.core.calendar import COPENHAGEN
from tracker.daemon.sweep import Services, SweepReport, build_services, sweep
from tracker.store import register, schema
from tracker.store.db import make_engine, session_factory, transaction
from tracker.store.models import OutboxMessage

ADVISOR = "anne@fredericia.dk"
OTHER = "bo@fredericia.dk"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=COPENHAGEN)


class World:
    """One database + settings; ``add`` registers inquiries, ``tick`` sweeps at a time."""

    def __init__(self, url: str, smtp_port: int, **overrides: Any) -> None:
        self.engine: Engine = make_engine(url)
        schema.upgrade(self.engine)
        self.factory: sessionmaker[Session] = session_factory(self.engine)
        values: dict[str, Any] = {
            "database_url": url,
            "default_recipient": "team@fredericia.dk",
            "mail_from": "svarfrist@fredericia.dk",
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "timeout_seconds": 5,
            },
        }
        values.update(overrides)
        self.settings = Settings(**values)
        self.calendar = build_calendar(self.settings)
        self.rules = build_rules(self.settings)
        self.svc: Services = build_services(self.settings, self.factory)

    def ctx(self, now: datetime) -> register.Context:
        return register.Context(
            settings=self.settings, calendar=self.calendar, rules=self.rules, actor="test", now=now
        )

    def add(self, received: datetime, **fields: Any) -> str:
        fields.setdefault("channel", "email")
        fields.setdefault("department", "Diverse")
        with transaction(self.factory) as session:
            return register.add(
                session, self.ctx(received), register.NewInquiry(received_at=received, **fields)
            )

    def reply(self, ref: str, at: datetime) -> None:
        with transaction(self.factory) as session:
            register.reply(session, self.ctx(at), ref, at)

    def tick(self, now: datetime) -> SweepReport:
        return asyncio.run(sweep(self.svc, now))

    def ticks(self, start: datetime, end: datetime, step: timedelta) -> None:
        now = start
        while now <= end:
            self.tick(now)
            now += step

    def outbox(self) -> list[OutboxMessage]:
        with self.factory() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def close(self) -> None:
        self.engine.dispose()
