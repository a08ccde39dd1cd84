"""The mailbox over IMAP: a thin adapter over IMAPClient, tested against a real Dovecot.

TLS (993), STARTTLS or none; a password, or XOAUTH2 with an access token printed by a command
or kept in a file (Exchange Online and Google Workspace have no basic authentication any
more). Only headers are fetched (``BODY.PEEK[HEADER]``: nothing is marked as read), with the
server's arrival time (INTERNALDATE) and size. Processed mail is moved (MOVE, or COPY and
expunge where the server has no MOVE), never deleted.
"""

from __future__ import annotations

import logging
import shlex
import ssl
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from tracker.config import IntakeSettings
from tracker.errors import EnvironmentFailure
from tracker.intake.source import Fetched, Mailbox

log = logging.getLogger(__name__)

# How long an XOAUTH2 token command may take.
TOKEN_TIMEOUT_SECONDS = 30
# UIDs per FETCH command: long UID sets make long command lines.
FETCH_CHUNK = 500
IMAP_ERRORS: tuple[type[BaseException], ...] = (IMAPClientError, OSError, EOFError)
_CLOSING_ERRORS: tuple[type[BaseException], ...] = (*IMAP_ERRORS, AttributeError)
"""What an unreachable, restarting or misbehaving server raises: retried with backoff."""


__all__ = ["FETCH_CHUNK", "IMAP_ERRORS", "Fetched", "ImapMailbox", "Mailbox", "token"]


def token(settings: IntakeSettings) -> str:
    """The XOAUTH2 access token from ``oauth2_token_command`` or ``oauth2_token_file``."""
    if settings.oauth2_token_command:
        try:
            done = subprocess.run(
                shlex.split(settings.oauth2_token_command),
                capture_output=True,
                timeout=TOKEN_TIMEOUT_SECONDS,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise EnvironmentFailure(f"intake.oauth2_token_command failed: {exc}") from None
        return done.stdout.decode("utf-8", "replace").strip()
    assert settings.oauth2_token_file is not None
    try:
        return settings.oauth2_token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EnvironmentFailure(f"intake.oauth2_token_file: cannot read: {exc.strerror}") from None


class ImapMailbox:
    """One logged-in IMAP session (a :class:`~tracker.intake.source.Mailbox`)."""

    def __init__(self, client: IMAPClient) -> None:
        self.client = client
        self.folder: str | None = None

    @classmethod
    def connect(cls, settings: IntakeSettings) -> ImapMailbox:
        assert settings.imap_host is not None  # checked with the config (check_intake)
        context = ssl.create_default_context(cafile=settings.ca_file)
        tls = settings.imap_security == "tls"
        port = settings.imap_port or (993 if tls else 143)
        client = IMAPClient(
            settings.imap_host,
            port=port,
            ssl=tls,
            ssl_context=context if tls else None,
            timeout=settings.timeout_seconds,
        )
        client.normalise_times = False  # INTERNALDATE with its offset, not naive local time
        try:
            if settings.imap_security == "starttls":
                client.starttls(context)
            if settings.password is not None:
                client.login(settings.username, settings.password.get_secret_value())
            else:
                client.oauth2_login(settings.username, token(settings))
        except BaseException:
            _quietly_close(client)
            raise
        return cls(client)

    def has_idle(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    def exists(self, folder: str) -> bool:
        return bool(self.client.folder_exists(folder))

    def ensure_folders(self, names: Sequence[str]) -> None:
        for name in names:
            if self.client.folder_exists(name):
                continue
            try:
                self.client.create_folder(name)
            except IMAPClientError:
                # Another reader (a second daemon) created it between the check and the
                # CREATE ([ALREADYEXISTS]): what matters is that it exists now.
                if not self.client.folder_exists(name):
                    raise

    def open(self, folder: str) -> int:
        """Select ``folder`` (read-write, to move); returns its UIDVALIDITY."""
        info = self.client.select_folder(folder)
        self.folder = folder
        return int(info[b"UIDVALIDITY"])

    def fetch_after(self, last_uid: int, limit: int) -> list[Fetched]:
        """The next ``limit`` messages after ``last_uid``, oldest first, headers only."""
        uids = sorted(u for u in self.client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        return self.fetch(uids[:limit])

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        found: list[Fetched] = []
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = list(uids[start : start + FETCH_CHUNK])
            data = self.client.fetch(chunk, ["BODY.PEEK[HEADER]", "INTERNALDATE", "RFC822.SIZE"])
            for uid in chunk:
                item = data.get(uid)
                if item is not None:
                    found.append(_fetched(uid, item))
        return found

    def move(self, uids: Sequence[int], target: str) -> None:
        """Move out of the selected folder; a UID no longer there is passed over."""
        if not uids:
            return
        if self.client.has_capability("MOVE"):
            self.client.move(list(uids), target)
            return
        self.client.copy(list(uids), target)  # the copy exists before the original goes
        self.client.delete_messages(list(uids))
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge(list(uids))
        else:
            self.client.expunge()

    def idle_for(self, seconds: float) -> bool:
        """IDLE up to ``seconds`` in the selected folder; True when the server told of news."""
        self.client.idle()
        try:
            news = self.client.idle_check(timeout=seconds)
        finally:
            self.client.idle_done()
        return bool(news)

    def close(self) -> None:
        _quietly_close(self.client)


def _fetched(uid: int, item: dict[bytes, Any]) -> Fetched:
    arrived = item.get(b"INTERNALDATE")
    if not isinstance(arrived, datetime) or arrived.tzinfo is None:
        arrived = datetime.now(UTC)  # a server without a usable arrival time: now
    return Fetched(
        uid=uid,
        header=bytes(item.get(b"BODY[HEADER]") or b""),
        arrived_at=arrived,
        size=int(item.get(b"RFC822.SIZE") or 0),
    )


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except _CLOSING_ERRORS:
        try:
            client.shutdown()
        except _CLOSING_ERRORS:
            log.debug("IMAP connection already gone")
