"""``svarfrist run`` reads the mailbox continuously (IDLE) and resumes after an IMAP outage;
``svarfrist intake --once`` and ``status`` from the command line."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SVARFRIST, clean_env
from intake_world import World, citizen_mail, make_world, toml_for, wait_for


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def test_intake_once_from_the_command_line_registers_and_reports(
    world: World, database_url: str, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    env = toml_for(world, database_url, tmp_path / "svarfrist.toml")
    world.server.append(citizen_mail(1))
    world.server.append(citizen_mail(2, extra="Precedence: junk\r\n"))
    done = run_cli("intake", "--once", env=env)
    assert done.returncode == 0, done.stderr
    assert "1 registered" in done.stdout and "1 ignored" in done.stdout
    status = run_cli("status", "--json", env=env)
    intake = json.loads(status.stdout)["intake"]
    assert intake["counts"]["registered"] == 1 and intake["ignored"] == {"bulk": 1}
    text = run_cli("status", env=env).stdout
    assert "mail intake: last round" in text and "1 registered" in text
    assert "mail intake ignored: 1 bulk" in text
    assert "anna" not in status.stdout + done.stdout + done.stderr


def test_intake_once_with_the_server_down_is_one_error_line(
    world: World, database_url: str, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    env = toml_for(world, database_url, tmp_path / "svarfrist.toml")
    world.server.stop()
    done = run_cli("intake", "--once", env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: IMAP 127.0.0.1") and "Traceback" not in done.stderr


def test_the_daemon_reads_on_idle_and_resumes_after_the_server_restarts(
    world: World, database_url: str, tmp_path: Path
) -> None:
    env = toml_for(world, database_url, tmp_path / "svarfrist.toml")
    daemon = subprocess.Popen(
        [SVARFRIST, "run"], env=clean_env(env), cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        world.server.append(citizen_mail(1))
        wait_for(lambda: len(world.sink.messages) == 1)
        world.server.stop()  # the IMAP server goes away for a while
        wait_for(lambda: _failing(world))
        world.server.start()
        world.server.append(citizen_mail(2, sender="bo@example.dk"))
        wait_for(lambda: len(world.sink.messages) == 2, seconds=40)
        wait_for(lambda: not _failing(world))
        assert len(world.inquiries()) == 2
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
    assert "intake: IMAP" in err and "retrying in" in err
    assert "anna@example.dk" not in err and "bo@example.dk" not in err


def _failing(world: World) -> bool:
    from tracker.store import intake

    with world.factory() as s:
        state = intake.states(s)
        return bool(state is not None and state["failing_since"])


def test_metrics_show_intakes_counts_and_an_outage() -> None:
    from prometheus_client import generate_latest

    from tracker.daemon.metrics import Metrics

    metrics = Metrics()
    metrics.intake(
        {
            "counts": {"registered": 7, "ignored": 2},
            "ignored": {"bounce": 2},
            "failing_since": "2026-12-01T09:00:00+00:00",
        }
    )
    text = generate_latest(metrics.registry).decode()
    assert 'svarfrist_intake_messages{outcome="registered"} 7.0' in text
    assert 'svarfrist_intake_ignored{reason="bounce"} 2.0' in text
    assert "svarfrist_intake_failing 1.0" in text
