"""Reliability of mail intake (slow): SIGKILLs during a backlog, and two readers at once."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SVARFRIST, clean_env
from intake_world import World, citizen_mail, make_world, toml_for
from sqlalchemy import func, select

from tracker.notify import OUTCOMES_PER_COMMIT
from tracker.store.db import read_only, session_factory
from tracker.store.models import Inquiry

pytestmark = pytest.mark.slow

# The numbers: 20 kills at random moments in a 2,000-message backlog.
BACKLOG = 2000
KILLS = 20
# Rounds of ``intake --once`` that finish what the killed readers left; one round reads the
# whole rest, later ones only wait out a killed reader's lease on an acknowledgement.
FINISHING_ROUNDS = 60
# Polls of the work done while a reader runs (a bound, not a time limit), and how close to
# the end of the work a kill may fall: far more than a reader gets done between two polls.
PROGRESS_POLLS = 15_000
MARGIN = 400
LEASE = 10  # seconds before a killed reader's claimed acknowledgement may be taken again


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def _backlog(world: World, n: int) -> None:
    """``n`` citizen mails delivered into the INBOX's maildir (an APPEND each would make the
    backlog the slow part of the test), all of them seen by the server before intake starts."""
    world.server.deliver_many([citizen_mail(i, sender=f"borger{i}@example.dk") for i in range(n)])
    assert len(world.server.uids("INBOX")) == n


def _progress(world: World) -> int:
    """Work done so far: inquiries registered plus acknowledgements the sink received. Read
    without SQLite's write lock, which a poller would otherwise take from the reader."""
    with session_factory(read_only(world.engine))() as session:
        registered = session.scalar(select(func.count()).select_from(Inquiry)) or 0
    return registered + len(world.sink.handler.received)


def _await_progress(world: World, target: int, reader: subprocess.Popen[bytes]) -> int:
    """Wait (bounded) until the work has reached ``target``; returns how far it got."""
    for _ in range(PROGRESS_POLLS):
        done = _progress(world)
        if done >= target:
            return done
        assert reader.poll() is None, "the reader stopped by itself"
        time.sleep(0.02)
    raise AssertionError(f"intake made no progress to {target} in {PROGRESS_POLLS} polls")


def _finish(env: dict[str, str], cwd: Path, world: World) -> None:
    """Rounds of ``intake --once`` until the mailbox and the outbox are empty (a killed
    reader's claim expires after the lease)."""
    for _ in range(FINISHING_ROUNDS):
        done = subprocess.run(
            [SVARFRIST, "intake", "--once"], env=clean_env(env), cwd=cwd, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        if not world.server.uids("INBOX") and not world.outbox():
            return
        time.sleep(1)
    raise AssertionError(f"intake did not finish the backlog in {FINISHING_ROUNDS} rounds")


def test_sigkills_during_a_backlog_lose_nothing_and_resend_at_most_one_commit_per_kill(
    world: World, database_url: str, tmp_path: Path
) -> None:
    env = toml_for(world, database_url, tmp_path / "svarfrist.toml", lease=LEASE, batch=25)
    _backlog(world, BACKLOG)
    # Each kill at a random point of the work (registrations, then acknowledgements sent):
    # the reader is killed once the work has got that far, so the kills fall mid-backlog
    # however fast this machine is, in both halves of the work.
    targets = sorted(random.Random(15).sample(range(1, 2 * BACKLOG - MARGIN), KILLS))
    mid_backlog = 0
    for target in targets:
        reader = subprocess.Popen(
            [SVARFRIST, "intake"], env=clean_env(env), cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            done = _await_progress(world, target, reader)
        finally:  # killed whatever happened: never left reading after the test
            reader.send_signal(signal.SIGKILL)
            reader.wait(timeout=30)
        mid_backlog += done < 2 * BACKLOG
    assert mid_backlog == KILLS  # every kill fell before the work was done
    _finish(env, tmp_path, world)
    refs = [i.ref for i in world.inquiries()]
    assert len(refs) == BACKLOG == len(set(refs))  # every citizen mail exactly one inquiry
    acks = Counter(str(m["X-Svarfrist-Ref"]) for m in world.sink.messages)
    assert set(acks) == set(refs)  # every acknowledgement sent
    twice = sum(n - 1 for n in acks.values())
    print(f"{KILLS} kills in a backlog of {BACKLOG}: {twice} acknowledgements sent twice")
    # at most the messages of one commit of outcomes (the one in flight among them) per kill
    assert twice <= KILLS * OUTCOMES_PER_COMMIT
    assert world.server.uids("INBOX") == []
    assert len(world.server.uids("Svarfrist/Registreret")) == BACKLOG


def test_two_readers_on_postgresql_register_each_mail_once(
    postgres_url: str, tmp_path: Path
) -> None:
    for world in make_world(postgres_url):
        env = toml_for(world, postgres_url, tmp_path / "svarfrist.toml", batch=20)
        _backlog(world, 150)
        readers = [
            subprocess.Popen(
                [SVARFRIST, "intake", "--once"],
                env=clean_env(env),
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for reader in readers:
            _, err = reader.communicate(timeout=300)
            assert reader.returncode == 0, err
        _finish(env, tmp_path, world)
        refs = [i.ref for i in world.inquiries()]
        assert len(refs) == 150 == len(set(refs))
        acks = Counter(str(m["X-Svarfrist-Ref"]) for m in world.sink.messages)
        assert set(acks) == set(refs) and max(acks.values()) == 1
