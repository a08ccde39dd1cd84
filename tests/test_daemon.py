"""The daemon as a real process: SIGTERM, SIGKILL at random points, two replicas on PG."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SVARFRIST, clean_env
from daemon_world import ADVISOR, World, local
from smtp_sink import Handler, Sink, free_port
from sqlalchemy import insert

from tracker.notify import OUTCOMES_PER_COMMIT
from tracker.store.models import OutboxMessage
from tracker.store.outbox import OutboxState

# The contract: after SIGTERM the daemon is gone, with status 0, within this many seconds.
STOP_BOUND_SECONDS = 10
# A short claim lease for the kill test, so a killed sender's rows are retaken at the next tick.
LEASE = 10


def _wait(proc: subprocess.Popen[str], seconds: float) -> int | None:
    """Poll (bounded) for the process to exit; never sleeps longer than needed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return code
        try:
            return proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
    return proc.poll()


def _daemon_env(world: World, sink: Sink) -> dict[str, str]:
    return clean_env(
        {
            "SVARFRIST_DATABASE_URL": world.settings.database_url,
            "SVARFRIST_DEFAULT_RECIPIENT": "team@fredericia.dk",
            "SVARFRIST_DAEMON__SWEEP_INTERVAL_SECONDS": "1",
            **sink.env(),
        }
    )


def test_sigterm_stops_the_daemon_with_status_zero_within_ten_seconds(tmp_path: Path) -> None:
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 'd.db'}", sink.port)
    try:
        proc = subprocess.Popen(
            [SVARFRIST, "run"],
            env=_daemon_env(world, sink),
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        started = time.monotonic()
        line = ""
        while "daemon started" not in line and time.monotonic() - started < 30:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        assert "daemon started" in line, line
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = _wait(proc, STOP_BOUND_SECONDS)
        elapsed = time.monotonic() - sent
        if code is None:
            proc.kill()
        assert code == 0 and elapsed <= STOP_BOUND_SECONDS, (code, elapsed)
    finally:
        sink.stop()
        world.close()


def test_the_daemon_refuses_an_outdated_schema(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("run", env={"SVARFRIST_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"})
    assert result.returncode == 1 and "svarfrist init" in result.stderr


def test_sigkill_at_random_points_loses_no_reminder_and_duplicates_are_counted(
    tmp_path: Path,
) -> None:
    """20 ``tick`` processes killed with SIGKILL at random moments, then a clean one."""
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 'k.db'}", sink.port, reminders={"digest_time": None})
    rng = random.Random(4)
    try:
        refs = [world.add(local("2026-11-27T12:00"), advisor=ADVISOR) for _ in range(150)]
        env = _daemon_env(world, sink) | {
            "SVARFRIST_DAEMON__CLAIM_LEASE_SECONDS": str(LEASE),
            # No digest: it would carry the day's reminders in one message (one per advisor).
            "SVARFRIST_REMINDERS": '{"digest_time": null}',
        }
        # Each restart is a later sweep: beyond the claim lease, inside the window and before
        # the catch-up threshold (30 min), so every reminder still goes out singly.
        now = local("2026-11-30T08:00")
        kills = 0
        while kills < 20:
            proc = subprocess.Popen(
                [SVARFRIST, "tick", "--now", now.isoformat()],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # A random point: after a random number of accepted messages (or at start-up).
            target = len(sink.handler.received) + rng.randint(0, 8)
            deadline = time.monotonic() + 20
            while (
                len(sink.handler.received) < target
                and proc.poll() is None
                and time.monotonic() < deadline
            ):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.002)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            now += timedelta(seconds=LEASE + 1)
        final = subprocess.run(
            [SVARFRIST, "tick", "--now", now.isoformat()],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert final.returncode == 0, final.stderr
        counts = Counter(m["X-Svarfrist-Ref"] for m in sink.messages)
        lost = [r for r in refs if counts[r] == 0]
        duplicates = sum(c - 1 for c in counts.values() if c > 1)
        print(
            f"\nkill test: {len(refs)} reminders, 20 SIGKILLs, lost {len(lost)}, "
            f"duplicates {duplicates} (at-least-once: messages accepted by the server before "
            f"the kill whose outcomes were not yet committed, at most "
            f"{OUTCOMES_PER_COMMIT + 1} per kill)"
        )
        assert lost == []
        assert duplicates <= kills * (OUTCOMES_PER_COMMIT + 1)
        assert {r.state for r in world.outbox()} == {OutboxState.SENT}
    finally:
        sink.stop()
        world.close()


@pytest.mark.postgres
def test_two_daemons_on_postgresql_deliver_2000_reminders_exactly_once(
    postgres_url: str,
) -> None:
    sink = Sink().start()
    world = World(postgres_url, sink.port, reminders={"digest_time": None})
    try:
        now = local("2026-11-30T09:00")
        with world.factory.begin() as session:
            session.execute(
                insert(OutboxMessage),
                [
                    {
                        "key": f"load:{i}",
                        "kind": "overdue",
                        "recipient": ADVISOR,
                        "payload": {
                            "ref": f"2026-{i:06d}",
                            "rule": "reply",
                            "department": "Diverse",
                            "due_at": "2026-11-30T08:00:00+00:00",
                        },
                        "state": "pending",
                        "send_at": now,
                        "attempts": 0,
                        "created_at": now,
                    }
                    for i in range(2000)
                ],
            )

        env = clean_env({"SVARFRIST_DATABASE_URL": postgres_url, **sink.env()})
        daemons = [
            subprocess.Popen(
                [SVARFRIST, "tick", "--now", now.isoformat()],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [d.communicate(timeout=120) for d in daemons]
        assert [d.returncode for d in daemons] == [0, 0], outputs
        per_daemon = [int(out.split(" sent (")[1].split(" ")[0]) for out, _ in outputs]
        counts = Counter(m["X-Svarfrist-Ref"] for m in sink.messages)
        print(
            f"\ntwo daemons: {per_daemon} sent, {len(counts)} distinct, max {max(counts.values())}"
        )
        assert sum(per_daemon) == 2000 and len(counts) == 2000
        assert max(counts.values()) == 1
        # Both took part (SKIP LOCKED split the rows) unless one finished before the other began.
        assert all(n > 0 for n in per_daemon) or max(per_daemon) == 2000
    finally:
        sink.stop()
        world.close()


def test_status_fails_when_the_last_sweep_is_too_old(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 's.db'}", sink.port)
    try:
        env = {"SVARFRIST_DATABASE_URL": world.settings.database_url}
        never = run_cli("status", "--now", "2026-11-30T09:00", env=env)
        assert never.returncode == 1 and "never" in never.stdout
        world.tick(local("2026-11-30T09:00"))
        fresh = run_cli("status", "--now", "2026-11-30T09:05", env=env)
        assert fresh.returncode == 0 and ": ok" in fresh.stdout, fresh.stdout
        stale = run_cli("status", "--now", "2026-11-30T09:11", "--json", env=env)
        assert stale.returncode == 1
        assert '"healthy": false' in stale.stdout
    finally:
        sink.stop()
        world.close()


def test_run_tells_systemd_ready_pings_the_watchdog_and_says_stopping(tmp_path: Path) -> None:
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 'n.db'}", sink.port)
    notify_path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(notify_path)
        server.settimeout(20)  # a bound, not a sleep: recv returns as soon as a datagram comes
        env = _daemon_env(world, sink) | {"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "1000000"}
        proc = subprocess.Popen(
            [SVARFRIST, "run"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            seen: list[str] = []
            while not ("READY=1" in " ".join(seen) and "WATCHDOG=1" in seen):
                seen.append(server.recv(256).decode())
            proc.send_signal(signal.SIGTERM)
            while "STOPPING=1" not in seen:
                seen.append(server.recv(256).decode())
            assert _wait(proc, STOP_BOUND_SECONDS) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            sink.stop()
            world.close()


def test_status_is_unhealthy_when_mail_cannot_be_delivered_and_shows_the_retries(
    tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    world = World(f"sqlite:///{tmp_path / 'down.db'}", free_port(), reminders={"digest_time": None})
    try:
        env = {"SVARFRIST_DATABASE_URL": world.settings.database_url}
        world.add(local("2026-11-27T12:00"), advisor=ADVISOR)  # its due_soon is due at 09:00
        world.tick(local("2026-11-30T09:00"))  # nothing listens on the SMTP port
        world.tick(local("2026-11-30T09:05"))
        early = run_cli("status", "--now", "2026-11-30T09:06", env=env)
        assert early.returncode == 0, early.stdout  # 6 minutes: within the limit
        assert "retrying deliveries: 1" in early.stdout and "cannot connect" in early.stdout
        world.tick(local("2026-11-30T09:10"))
        world.tick(local("2026-11-30T09:16"))
        late = run_cli("status", "--now", "2026-11-30T09:16", env=env)
        assert late.returncode == 1, late.stdout
        assert "UNHEALTHY: mail is not being delivered" in late.stdout
        assert "960 s waiting" in late.stdout and "failed deliveries: 0" in late.stdout
        data = json.loads(run_cli("status", "--now", "2026-11-30T09:16", "--json", env=env).stdout)
        assert data["healthy"] is False and data["backlog"]["oldest_due_age_seconds"] == 960
        [retrying] = data["retrying"]
        assert retrying["attempts"] == 4 and "cannot connect" in retrying["error"]
        assert retrying["due_since"].startswith("2026-11-30T09:00")
    finally:
        world.close()


def test_status_after_a_sweep_in_the_future_is_not_healthy(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 'f.db'}", sink.port)
    try:
        world.tick(local("2030-01-01T10:00"))
        env = {"SVARFRIST_DATABASE_URL": world.settings.database_url}
        result = run_cli("status", "--now", "2026-11-30T09:00", env=env)
        assert result.returncode == 1, result.stdout
        assert "in the future" in result.stdout and ": ok" not in result.stdout
        assert "s ago" not in result.stdout.splitlines()[0]
    finally:
        sink.stop()
        world.close()


class _SlowHandler(Handler):
    """Holds the first message's DATA until the test lets it answer (a slow server)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.answer = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.arrived.is_set():
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.answer.wait)
        return await super().handle_DATA(server, session, envelope)


def test_sigterm_with_a_message_in_flight_neither_loses_it_nor_sends_it_twice(
    tmp_path: Path,
) -> None:
    handler = _SlowHandler()
    sink = Sink(handler=handler).start()
    world = World(f"sqlite:///{tmp_path / 'f.db'}", sink.port, reminders={"digest_time": None})
    notify_path = str(tmp_path / "notify.sock")
    now = _due_rows(world, 3)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(notify_path)
        server.settimeout(30)  # a bound, not a sleep
        env = _daemon_env(world, sink) | {"NOTIFY_SOCKET": notify_path}
        proc = subprocess.Popen([SVARFRIST, "run"], env=env, cwd=tmp_path, stderr=subprocess.PIPE)
        try:
            assert handler.arrived.wait(60), "the first message never reached the server"
            proc.send_signal(signal.SIGTERM)
            seen: list[str] = []
            while "STOPPING=1" not in seen:
                seen.append(server.recv(256).decode())
            handler.answer.set()  # the server answers DATA only after the stop began
            assert _wait(proc, STOP_BOUND_SECONDS) == 0
        finally:
            handler.answer.set()
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    try:
        states = Counter(r.state for r in world.outbox())
        assert states[OutboxState.SENT] == 1, states  # the one in flight was recorded
        assert states[OutboxState.PENDING] == 2, states  # the rest given back untried
        assert all(r.attempts == (1 if r.state == "sent" else 0) for r in world.outbox())
        world.tick(now)  # the restart
        counts = Counter(m["X-Svarfrist-Ref"] for m in sink.messages)
        assert counts == Counter({f"2026-{i:06d}": 1 for i in range(3)}), counts
        assert {r.state for r in world.outbox()} == {OutboxState.SENT}
    finally:
        sink.stop()
        world.close()


def _due_rows(world: World, count: int) -> datetime:
    """``count`` overdue reminders due now by the wall clock (outside any sending window too:
    the window applies when a reminder is planned, not when a due row is sent)."""
    now = datetime.now(UTC)
    with world.factory.begin() as session:
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "key": f"due:{i}",
                    "kind": "overdue",
                    "recipient": ADVISOR,
                    "payload": {
                        "ref": f"2026-{i:06d}",
                        "rule": "reply",
                        "department": "Diverse",
                        "due_at": (now - timedelta(minutes=5)).isoformat(),
                    },
                    "state": "pending",
                    "send_at": now - timedelta(minutes=1),
                    "attempts": 0,
                    "created_at": now,
                }
                for i in range(count)
            ],
        )
    return now


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        name: float(value)
        for name, _, value in (line.rpartition(" ") for line in text.splitlines())
        if name and not name.startswith("#")
    }


def test_the_daemon_serves_prometheus_metrics_and_keeps_apschedulers_lines_out_of_the_log(
    tmp_path: Path,
) -> None:
    sink = Sink().start()
    world = World(f"sqlite:///{tmp_path / 'm.db'}", sink.port, reminders={"digest_time": None})
    _due_rows(world, 2)
    port = free_port()
    env = _daemon_env(world, sink) | {"SVARFRIST_DAEMON__METRICS_PORT": str(port)}
    proc = subprocess.Popen(
        [SVARFRIST, "run"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        line = ""
        while "daemon started" not in line and proc.poll() is None:
            line = proc.stderr.readline()
        metrics: dict[str, float] = {}
        deadline = time.monotonic() + 60  # a bound on polling the real port, not a sleep
        backlog = 'svarfrist_outbox_backlog{state="due"}'  # set after the sweep's counters
        while metrics.get('svarfrist_deliveries_total{outcome="sent"}', 0) < 2 or (
            backlog not in metrics
        ):
            assert time.monotonic() < deadline, metrics
            with contextlib.suppress(OSError):
                metrics = _scrape(port)
        assert metrics['svarfrist_sweeps_total{outcome="ok"}'] >= 1
        assert metrics["svarfrist_sweep_duration_seconds_count"] >= 1
        assert metrics['svarfrist_deliveries_total{outcome="failed"}'] == 0
        assert metrics["svarfrist_messages_sent_total"] == 2
        assert metrics[backlog] == 0
        assert metrics['svarfrist_outbox_backlog{state="retrying"}'] == 0
        assert metrics["svarfrist_oldest_due_message_age_seconds"] == 0
        assert metrics["svarfrist_last_sweep_timestamp_seconds"] > 0
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=STOP_BOUND_SECONDS)
        assert proc.returncode == 0
        assert "Running job" not in rest and "executed successfully" not in rest, rest
        assert "stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sink.stop()
        world.close()


@pytest.mark.parametrize("password", [None, "secret"])
def test_an_smtp_user_without_a_password_is_said_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, password: str | None
) -> None:
    """The password comes as a systemd credential the unit must load; without it every mail
    tried to log in with none and failed, retried until given up, with nothing said at start."""
    smtp = {"host": "127.0.0.1", "port": free_port(), "security": "none", "username": "relay"}
    smtp |= {"password": password} if password else {}
    with caplog.at_level(logging.WARNING, logger="tracker.daemon.sweep"):
        World(f"sqlite:///{tmp_path / 'd.db'}", 25, smtp=smtp).close()
    warned = [r.getMessage() for r in caplog.records if "no smtp.password" in r.getMessage()]
    assert len(warned) == (password is None)
