"""A local Maildir as intake's mailbox (``[intake] maildir = "path"``), beside IMAP.

For a mailbox delivered to this machine's disk (a local delivery agent, fetchmail, a copy of
an office's mail), and for the demo, which must run where no IMAP server is installed. It is
read through exactly the same processing as an IMAP mailbox (tracker.intake.loop): this
module only lists, reads and moves files.

Layout as Dovecot, Courier and Python's :class:`mailbox.Maildir` have it: the folder
``INBOX`` is the Maildir itself, any other folder ``A/B`` its Maildir++ sub-folder ``.A.B``;
folders are created with :class:`mailbox.Maildir` (``cur``, ``new``, ``tmp``). A Maildir has
no UIDs, so each folder keeps a small list (``svarfrist-uidlist``: its UIDVALIDITY, the next
UID, and the UID given to each file's unique name), like Dovecot's ``dovecot-uidlist``;
a new file gets the next UID, oldest delivery first. Losing the list gives the folder a new
UIDVALIDITY, which intake handles as it handles an IMAP server's (no duplicates). The
arrival time is the file's modification time, which is the delivery time in Maildir. A move
is a rename into the target folder (atomic, the file and its time kept), never a deletion.
"""

from __future__ import annotations

import fcntl
import mailbox
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tracker.intake.source import Fetched

UIDLIST = "svarfrist-uidlist"
_VALIDITY = "svarfrist-uidvalidity"
"""The last UIDVALIDITY given in the folder: a lost list's new one is always greater."""
_LOCK = "svarfrist-uidlist.lock"
# Read from a message file until its header ends, in pieces of this size: never its body.
_PIECE = 8192
HEADER_LIMIT = 1 << 20
"""A header longer than this is cut here (the rest is body as far as intake is concerned)."""
# The runs of digits in a file name (_delivery_order).
_DIGITS = re.compile(r"(\d+)")


def _key(name: str) -> str:
    """A Maildir file's unique name without its flags (``:2,S``), which a client changes."""
    return name.split(":", 1)[0]


def _delivery_order(key: str) -> tuple[str | int, ...]:
    """A file name's numbers as numbers: ``1765000000.M5P7`` before ``1765000000.M123456P7``.
    Delivery agents write the time's microseconds unpadded (Dovecot, Python's Maildir), so
    within one second the names' text order is not their order of delivery."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(key))


def read_header(path: Path) -> bytes:
    """The message's header: its bytes up to and including the blank line that ends it."""
    found = bytearray()
    with path.open("rb") as handle:
        while len(found) < HEADER_LIMIT:
            piece = handle.read(_PIECE)
            if not piece:
                break
            found += piece
            for end in (b"\n\n", b"\r\n\r\n"):
                at = found.find(end)
                if at >= 0:
                    return bytes(found[: at + len(end)])
    return bytes(found[:HEADER_LIMIT])


class MaildirMailbox:
    """A Maildir with its folders (a :class:`~tracker.intake.source.Mailbox`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder: str | None = None
        self._files: dict[int, Path] = {}

    @classmethod
    def connect(cls, root: Path) -> MaildirMailbox:
        # The delivery agent makes the Maildir: one made here would be a mistyped path,
        # read empty and healthy forever while the mail arrives elsewhere.
        if not (root / "cur").is_dir():
            raise FileNotFoundError(f"no Maildir at {root} (a folder with cur/, new/, tmp/)")
        return cls(root)

    def path_of(self, folder: str) -> Path:
        if folder.upper() == "INBOX":
            return self.root
        return self.root / ("." + ".".join(p for p in folder.split("/") if p))

    def has_idle(self) -> bool:
        return False

    def exists(self, folder: str) -> bool:
        return (self.path_of(folder) / "cur").is_dir()

    def ensure_folders(self, names: Sequence[str]) -> None:
        for name in names:
            mailbox.Maildir(self.path_of(name), factory=None, create=True)

    def open(self, folder: str) -> int:
        """Select ``folder``; numbers its new files; returns its UIDVALIDITY."""
        path = self.path_of(folder)
        if not self.exists(folder):
            raise FileNotFoundError(f"no Maildir folder {folder!r} at {path}")
        with self._locked(path):
            validity, uids = self._number(path)
        self.folder = folder
        self._files = uids
        return validity

    def fetch_after(self, last_uid: int, limit: int) -> list[Fetched]:
        assert self.folder is not None
        self.open(self.folder)  # new deliveries since the folder was opened
        return self.fetch(sorted(u for u in self._files if u > last_uid)[:limit])

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        found = []
        for uid in uids:
            path = self._files.get(uid)
            if path is None:
                continue
            try:
                stat = path.stat()
                header = read_header(path)
            except FileNotFoundError:
                continue  # moved away (by another reader, or a mail client) meanwhile
            arrived = datetime.fromtimestamp(stat.st_mtime, UTC)
            found.append(Fetched(uid=uid, header=header, arrived_at=arrived, size=stat.st_size))
        return found

    def move(self, uids: Sequence[int], target: str) -> None:
        """Rename each file into ``target`` (its ``cur`` or ``new``, as it was)."""
        to = self.path_of(target)
        mailbox.Maildir(to, factory=None, create=True)
        for uid in uids:
            path = self._files.pop(uid, None)
            if path is None:
                continue
            try:
                path.rename(to / path.parent.name / path.name)
            except FileNotFoundError:
                continue  # no longer there: passed over, as an IMAP MOVE passes over it

    def idle_for(self, seconds: float) -> bool:
        return False  # no IDLE in a Maildir: the loop polls (has_idle is False)

    def close(self) -> None:
        self._files = {}

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """One reader at a time numbers a folder (two daemons on one Maildir)."""
        with (path / _LOCK).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _number(path: Path) -> tuple[int, dict[int, Path]]:
        """The folder's UIDVALIDITY and its files by UID; a file not numbered yet gets the
        next UID (oldest delivery first), and the list is written back when it changed."""
        files: dict[str, Path] = {}
        for sub in ("new", "cur"):
            with os.scandir(path / sub) as entries:
                for entry in entries:
                    if entry.is_file() and not entry.name.startswith("."):
                        files[_key(entry.name)] = Path(entry.path)
        validity, next_uid, known = _read_uidlist(path / UIDLIST)
        if validity is None:
            validity, next_uid, known = _new_validity(path), 1, {}
        kept = {key: uid for key, uid in known.items() if key in files}
        new = sorted(
            (k for k in files if k not in kept),
            key=lambda k: (_mtime(files[k]), _delivery_order(k)),
        )
        for key in new:
            kept[key] = next_uid
            next_uid += 1
        if new or len(kept) != len(known):
            _write_uidlist(path / UIDLIST, validity, next_uid, kept)
        return validity, {uid: files[key] for key, uid in kept.items()}


def _new_validity(path: Path) -> int:
    """A UIDVALIDITY for a folder numbered afresh: the time, but always past the last one
    given (a list lost and made again within the same second must not repeat it)."""
    try:
        last = int((path / _VALIDITY).read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        last = 0
    validity = max(int(time.time()), last + 1)
    (path / _VALIDITY).write_text(f"{validity}\n", encoding="ascii")
    return validity


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _read_uidlist(path: Path) -> tuple[int | None, int, dict[str, int]]:
    """(UIDVALIDITY, next UID, UID by file key); (None, 1, {}) for a missing or broken list."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        validity, next_uid = (int(v) for v in lines[0].split())
        known = {}
        for line in lines[1:]:
            uid, key = line.split(" ", 1)
            known[key] = int(uid)
    except (OSError, ValueError, IndexError):
        return None, 1, {}
    return validity, next_uid, known


def _write_uidlist(path: Path, validity: int, next_uid: int, known: dict[str, int]) -> None:
    """Written to a temporary file and renamed over the old: never half a list."""
    lines = [f"{validity} {next_uid}"] + [f"{uid} {key}" for key, uid in known.items()]
    part = path.with_name(path.name + ".tmp")
    part.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(part, path)
