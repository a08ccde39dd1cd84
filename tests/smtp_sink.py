"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts; for tests/demo."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    rcpt: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    """Accepts mail; ``refuse`` maps an address to an SMTP reply ("550 no such user")."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(Received(rcpt=list(envelope.rcpt_tos), data=envelope.content))
        return "250 Message accepted for delivery"


class Sink:
    """Start/stop a recording SMTP server; restartable on the same port."""

    def __init__(
        self, port: int | None = None, handler: Handler | None = None, *, smtputf8: bool = False
    ) -> None:
        self.port = port or free_port()
        self.handler = handler or Handler()
        self.smtputf8 = smtputf8
        self._controller: Controller | None = None

    def start(self) -> Sink:
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self.smtputf8
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.handler.received]

    def env(self) -> dict[str, str]:
        return {
            "SVARFRIST_SMTP_HOST": "127.0.0.1",
            "SVARFRIST_SMTP_PORT": str(self.port),
            "SVARFRIST_SMTP_SECURITY": "none",
        }
