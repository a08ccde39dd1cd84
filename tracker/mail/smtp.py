"""The SMTP transport: one aiosmtplib session behind a small ``Connection`` protocol.

Every failure comes out as a :class:`DeliveryError` that says whether it is permanent: a 5xx
reply (recipient refused, message rejected) is, and so is an address that needs SMTPUTF8 on a
server that does not offer it; a 4xx reply, a timeout, a refused or dropped connection and bad
credentials (configuration, fixed by the operator) are not.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import aiosmtplib

from tracker.mail.message import Envelope

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Sending one message failed; ``permanent`` says whether retrying can help."""

    def __init__(
        self, recipient: str, detail: str, *, permanent: bool, connection_lost: bool = False
    ) -> None:
        kind = "permanent" if permanent else "transient"
        super().__init__(f"delivery to {recipient} failed ({kind}): {detail}")
        self.recipient = recipient
        self.detail = detail
        self.permanent = permanent
        self.connection_lost = connection_lost


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    host: str
    port: int
    security: Literal["none", "starttls", "tls"]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0
    ca_file: str | None = None


def client_options(config: SmtpConfig) -> dict[str, Any]:
    """aiosmtplib options with the TLS mode mapped explicitly.

    ``start_tls=None`` (aiosmtplib's default) would upgrade only if the server offers it, so
    ``starttls`` says True (required), ``none`` says False, ``tls`` is implicit TLS (465).
    """
    modes = {
        "none": {"use_tls": False, "start_tls": False},
        "starttls": {"use_tls": False, "start_tls": True},
        "tls": {"use_tls": True, "start_tls": False},
    }
    return {
        "hostname": config.host,
        "port": config.port,
        "username": config.username,
        "password": config.password,
        "timeout": config.timeout_seconds,
        "cert_bundle": config.ca_file,
        **modes[config.security],
    }


class Connection(Protocol):
    async def send(self, envelope: Envelope) -> None: ...

    async def close(self) -> None: ...


Connector = Callable[[], Awaitable[Connection]]


class SmtpConnection:
    """One aiosmtplib session; every failure comes out as a :class:`DeliveryError`."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self._client = client

    @classmethod
    async def open(cls, config: SmtpConfig) -> SmtpConnection:
        client = aiosmtplib.SMTP(**client_options(config))
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            log.error("SMTP login to %s:%s refused: %s", config.host, config.port, exc.code)
            raise DeliveryError("*", f"login refused ({exc.code})", permanent=False) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                "*", f"cannot connect to {config.host}:{config.port}: {exc}", permanent=False
            ) from exc
        return cls(client)

    async def send(self, envelope: Envelope) -> None:
        try:
            options = await self._options(envelope)
            await self._client.sendmail(
                envelope.sender, [envelope.recipient], envelope.data, mail_options=options
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise DeliveryError(
                envelope.recipient, f"recipient refused: {detail}", permanent=_permanent(codes)
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(
                envelope.recipient, f"{exc.code} {exc.message}", permanent=_permanent([exc.code])
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Disconnects and timeouts: the message may not have arrived; retry it.
            raise DeliveryError(
                envelope.recipient,
                f"{type(exc).__name__}: {exc}",
                permanent=False,
                connection_lost=True,
            ) from exc

    async def _options(self, envelope: Envelope) -> list[str]:
        """``SMTPUTF8`` when the message needs it; a permanent failure where it is not offered.

        A non-ASCII local part has no ASCII form, so no later attempt on this server can do
        better than this one.
        """
        if not envelope.smtputf8:
            return []
        if self._client.is_ehlo_or_helo_needed:
            await self._client.ehlo()  # the extensions are known only after EHLO
        if not self._client.supports_extension("smtputf8"):
            raise DeliveryError(
                envelope.recipient,
                "the address needs SMTPUTF8 (a non-ASCII local part), "
                "which this SMTP server does not offer",
                permanent=True,
            )
        return ["SMTPUTF8"]

    async def close(self) -> None:
        if not self._client.is_connected:
            return
        try:
            await self._client.quit()
        except (aiosmtplib.SMTPException, OSError):
            self._client.close()


def _permanent(codes: Sequence[int]) -> bool:
    """5xx is permanent; 4xx (and anything unexpected) is worth another try."""
    return bool(codes) and all(500 <= code < 600 for code in codes)


def smtp_connector(config: SmtpConfig) -> Connector:
    async def connect() -> Connection:
        return await SmtpConnection.open(config)

    return connect
