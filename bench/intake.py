"""Benchmark of mail intake (not a test): ``.venv/bin/python bench/intake.py``.

A real Dovecot (the tests' throw-away server) holding N citizen mails (default 10,000, each from
its own sender), SQLite, and an aiosmtpd sink in a process of its own. In one run:

1. Bare ``imaplib``: UID FETCH of the same header fields intake fetches (BODY.PEEK[HEADER],
   INTERNALDATE, RFC822.SIZE) of every message, in the same chunks: the rate a reader cannot
   beat.
2. Intake registering the same messages (parse, decide, inquiry with its obligations, progress,
   keyed hashes, the acknowledgement's outbox row, one savepoint per message): mails
   registered per second, and its ratio to (1); target >= 0.5x.
3. Intake sending the acknowledgements (a claimed batch's headers re-read in one UID FETCH,
   rendered, handed to SMTP, the outcomes committed four at a time, ``reply`` fulfilled and
   the rows erased at the end of the round): acknowledgements per second, beside
   the outbox's rate for the same number of reminders (bench/sweep.py's delivery); target
   >= 0.8x. Beside it the CPU time of this process per acknowledgement and per reminder,
   steadier than the rates on a shared machine.

Options: ``--messages N``.
"""

from __future__ import annotations

import argparse
import imaplib
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import dovecot  # noqa: E402  (the tests' Dovecot)
from intake_world import citizen_mail, settings_for  # noqa: E402
from sweep import _free_port, _wait_for_port, cpu_per_message, delivery_rate  # noqa: E402

from tracker.intake import loop  # noqa: E402
from tracker.intake.acknowledge import connector_of, send_acknowledgements  # noqa: E402
from tracker.intake.imap import FETCH_CHUNK, ImapMailbox  # noqa: E402
from tracker.intake.process import Intake  # noqa: E402
from tracker.store import schema  # noqa: E402
from tracker.store.db import make_engine, session_factory  # noqa: E402

FIELDS = "(BODY.PEEK[HEADER] INTERNALDATE RFC822.SIZE)"


class _Port:
    def __init__(self, port: int) -> None:
        self.port = port


def bare_imaplib(server: dovecot.Dovecot, uids: list[int]) -> float:
    """Seconds for imaplib to fetch every message's header fields (chunks as intake's)."""
    imap = imaplib.IMAP4("127.0.0.1", server.port)
    imap.login(dovecot.USER, dovecot.PASSWORD)
    imap.select("INBOX", readonly=True)
    start = time.perf_counter()
    for i in range(0, len(uids), FETCH_CHUNK):
        chunk = uids[i : i + FETCH_CHUNK]
        typ, _ = imap.uid("FETCH", f"{chunk[0]}:{chunk[-1]}", FIELDS)
        assert typ == "OK"
    elapsed = time.perf_counter() - start
    imap.logout()
    return elapsed


def intake_phases(
    server: dovecot.Dovecot, port: int, url: str, n: int
) -> tuple[float, float, float]:
    """Seconds to register every message and to send every acknowledgement, and the CPU
    seconds of this process sending them."""
    engine = make_engine(url)
    schema.upgrade(engine)
    settings = settings_for(server, _Port(port), url, batch=500, sent_folder=None)  # type: ignore[arg-type]
    settings.daemon.claim_lease_seconds = 300
    intake = Intake.of(settings)
    factory = session_factory(engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    mailbox = ImapMailbox.connect(intake.conf)
    mailbox.ensure_folders([intake.conf.done_folder])
    validity = mailbox.open("INBOX")
    start = time.perf_counter()
    registered = 0
    while True:
        batch = loop._next_batch(mailbox, factory, key=intake.mailbox, folder="INBOX",
                                 uidvalidity=validity, limit=intake.conf.batch,
                                 clock=clock)  # fmt: skip
        if not batch:
            break
        counts = loop._inbox_batch(intake, factory, folder="INBOX", uidvalidity=validity,
                                   batch=batch, clock=clock)  # fmt: skip
        registered += counts.outcomes["registered"]
    t_register = time.perf_counter() - start
    assert registered == n, registered
    start, cpu = time.perf_counter(), time.process_time()
    sent = 0
    connect = connector_of(intake)
    while True:
        done = send_acknowledgements(mailbox, validity, intake=intake, factory=factory,
                                     connect=connect, clock=clock)  # fmt: skip
        if not done:
            break
        sent += done
    t_ack, cpu_ack = time.perf_counter() - start, time.process_time() - cpu
    assert sent == n, sent
    mailbox.close()
    engine.dispose()
    return t_register, t_ack, cpu_ack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    n = args.messages
    tmp = Path(tempfile.mkdtemp(prefix="svarfrist-bench-intake-"))
    port = _free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = dovecot.make()
    try:
        server.start()
        _wait_for_port(port)
        start = time.perf_counter()
        # Straight into the maildir, as a delivery agent writes it (an APPEND each is slow).
        server.deliver_many([citizen_mail(i, sender=f"borger{i}@example.dk") for i in range(n)])
        print(f"bench/intake.py: Dovecot 2.3, SQLite, aiosmtpd in its own process; {n:,} mails")
        print(f"  (delivering them: {time.perf_counter() - start:.1f} s)")
        uids = server.uids("INBOX")
        t_bare = bare_imaplib(server, uids)
        t_register, t_ack, cpu_ack = intake_phases(
            server, port, f"sqlite:///{tmp / 'intake.db'}", n
        )
        bare, registered, acked = n / t_bare, n / t_register, n / t_ack
        print(f"bare imaplib header fetch:      {bare:8.0f} mails/s")
        print(f"intake, registered:             {registered:8.0f} mails/s "
              f"= {registered / bare:.2f}x the fetch (target >= 0.5x)")  # fmt: skip
        reminders, _ = delivery_rate(tmp, port, n, per_message=False)
        print(f"intake, acknowledgements sent:  {acked:8.0f} /s")
        print(f"outbox, reminders delivered:    {reminders:8.0f} /s; acknowledgements "
              f"= {acked / reminders:.2f}x (target >= 0.8x)")  # fmt: skip
        per_reminder = cpu_per_message(tmp, port, n, runs=1)
        print(f"CPU per message: acknowledgement {cpu_ack / n * 1e3:.3f} ms, reminder "
              f"{per_reminder * 1e3:.3f} ms (planned and delivered); acknowledgements "
              f"= {per_reminder / (cpu_ack / n):.2f}x by CPU")  # fmt: skip
    finally:
        dovecot.remove(server)
        sink.terminate()
        sink.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
