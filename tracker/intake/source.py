"""What intake reads mail through: an IMAP mailbox (tracker.intake.imap) or a local Maildir
(tracker.intake.maildir). Both give each message of a folder a UID under a UIDVALIDITY, hand
out headers only, and move processed mail to another folder, never deleting it; everything
else (parse, decide, register, acknowledge, progress) is the same code for both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class Fetched:
    uid: int
    header: bytes
    arrived_at: datetime
    """INTERNALDATE: when the server received the message (a Maildir: its delivery time)."""
    size: int


class Mailbox(Protocol):
    """One open mailbox: an IMAP session or a local Maildir."""

    folder: str | None
    """The folder :meth:`open` selected."""

    def has_idle(self) -> bool: ...

    def exists(self, folder: str) -> bool: ...

    def ensure_folders(self, names: Sequence[str]) -> None: ...

    def open(self, folder: str) -> int:
        """Select ``folder``; returns its UIDVALIDITY."""
        ...

    def fetch_after(self, last_uid: int, limit: int) -> list[Fetched]:
        """The next ``limit`` messages after ``last_uid``, oldest first, headers only."""
        ...

    def fetch(self, uids: Sequence[int]) -> list[Fetched]: ...

    def move(self, uids: Sequence[int], target: str) -> None:
        """Move out of the selected folder; a UID no longer there is passed over."""
        ...

    def idle_for(self, seconds: float) -> bool: ...

    def close(self) -> None: ...
