"""The command line of the web app: ``token``, ``user`` and ``web`` through the real
console script."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SVARFRIST, clean_env
from register_support import assert_refused, cli_env, dump, write_config

# How long `svarfrist web` may take to answer its first request (a bounded poll).
START_TIMEOUT_S = 60.0
PASSWORD = "korrekt hest batteri hæfteklamme"


@pytest.fixture
def env(run_cli: Any, tmp_path: Path, database_url: str) -> dict[str, str]:
    environment = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    result = run_cli("init", env=environment)
    assert result.returncode == 0, result.stderr
    return environment


def test_a_token_is_printed_once_stored_hashed_listed_and_revoked(
    run_cli: Any, env: dict[str, str]
) -> None:
    created = run_cli("token", "create", "--name", "intranet", "--role", "lead", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sf_") and len(token) > 40 and "\n" not in token
    assert "shown this once" in created.stderr
    rows = dump(env["SVARFRIST_DATABASE_URL"])["api_tokens"]
    assert len(rows) == 1 and token not in repr(rows)
    listed = run_cli("token", "list", env=env)
    assert listed.returncode == 0 and "intranet  lead" in listed.stdout
    assert "never used" in listed.stdout and token not in listed.stdout
    as_json = run_cli("token", "list", "--json", env=env)
    assert [t["name"] for t in json.loads(as_json.stdout)] == ["intranet"]
    assert_refused(
        run_cli("token", "create", "--name", "intranet", "--role", "admin", env=env),
        fragment="exists",
    )
    revoked = run_cli("token", "revoke", "intranet", env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in run_cli("token", "list", env=env).stdout
    assert_refused(run_cli("token", "revoke", "intranet", env=env), fragment="no live token")
    again = run_cli("token", "create", "--name", "intranet", "--role", "lead", env=env)
    assert again.returncode == 0 and again.stdout.strip() != token


@pytest.mark.parametrize(
    "args",
    [
        ("--name", "intranet", "--role", "superuser"),
        ("--name", "two words", "--role", "advisor"),
        ("--name", "", "--role", "advisor"),
        ("--role", "advisor"),
    ],
    ids=["unknown role", "name with a space", "empty name", "no name"],
)
def test_a_bad_token_request_is_refused_with_nothing_written(
    run_cli: Any, env: dict[str, str], args: tuple[str, ...]
) -> None:
    before = dump(env["SVARFRIST_DATABASE_URL"])
    result = run_cli("token", "create", *args, env=env)
    assert_refused(result)
    assert result.stdout == ""
    assert dump(env["SVARFRIST_DATABASE_URL"]) == before


def test_a_bad_token_name_is_refused_as_the_token_name_not_as_an_actor(
    run_cli: Any, env: dict[str, str]
) -> None:
    result = run_cli("token", "create", "--name", "two words", "--role", "advisor", env=env)
    assert_refused(result, fragment="token name 'two words' must be a login name")


def test_a_user_gets_an_argon2_hash_of_the_password_from_stdin(
    run_cli: Any, env: dict[str, str]
) -> None:
    added = run_cli(
        "user", "add", "Anna@Fredericia.DK", "--role", "advisor", env=env, stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert "anna@fredericia.dk" in added.stdout
    (row,) = dump(env["SVARFRIST_DATABASE_URL"])["users"]
    stored = repr(row)
    assert "$argon2id$" in stored and PASSWORD not in stored
    from tracker.web.auth import verify_password

    password_hash = next(v for v in row if isinstance(v, str) and v.startswith("$argon2id$"))
    assert verify_password(password_hash, PASSWORD)
    assert not verify_password(password_hash, PASSWORD + "!")
    listed = run_cli("user", "list", env=env)
    assert "anna@fredericia.dk  advisor" in listed.stdout and "never" in listed.stdout
    assert_refused(
        run_cli("user", "add", "anna@fredericia.dk", "--role", "lead", env=env, stdin=PASSWORD),
        fragment="exists",
    )
    removed = run_cli("user", "remove", "ANNA@fredericia.dk", env=env)
    assert removed.returncode == 0, removed.stderr
    assert dump(env["SVARFRIST_DATABASE_URL"])["users"] == []
    assert_refused(run_cli("user", "remove", "anna@fredericia.dk", env=env), fragment="no user")


@pytest.mark.parametrize(
    ("email", "role", "password", "fragment"),
    [
        ("anna@fredericia.dk", "advisor", "short", "at least 12"),
        ("anna@fredericia.dk", "advisor", "", "at least 12"),
        ("not an address", "advisor", PASSWORD, "is not one e-mail address"),
        # the address is checked before the password is read
        ("not an address", "advisor", "", "is not one e-mail address"),
        ("anna@fredericia.dk", "chief", PASSWORD, "invalid choice"),
    ],
    ids=["short password", "no password", "bad address", "bad address first", "unknown role"],
)
def test_a_bad_user_is_refused_with_nothing_written(
    run_cli: Any, env: dict[str, str], email: str, role: str, password: str, fragment: str
) -> None:
    before = dump(env["SVARFRIST_DATABASE_URL"])
    result = run_cli("user", "add", email, "--role", role, env=env, stdin=password + "\n")
    assert_refused(result, fragment=fragment)
    assert dump(env["SVARFRIST_DATABASE_URL"]) == before


def test_an_unknown_department_is_refused_before_the_password_is_read(
    run_cli: Any, env: dict[str, str]
) -> None:
    """The operator typed the password twice to be told then that the department was
    misspelt: the address was checked first, the departments only when writing."""
    before = dump(env["SVARFRIST_DATABASE_URL"])
    args = ("user", "add", "anna@fredericia.dk", "--role", "advisor", "--department", "Divers")
    assert_refused(run_cli(*args, env=env, stdin="\n"), fragment="unknown department 'Divers'")
    assert dump(env["SVARFRIST_DATABASE_URL"]) == before


@pytest.mark.parametrize(
    ("password", "fragment"),
    [(b"korrekt hest \xe6ble\n", "password: not valid UTF-8"), (b"korrekt\x00hest!\n", "NUL")],
    ids=["latin-1 password", "password with NUL"],
)
def test_a_password_that_is_not_text_is_refused_unshown_with_nothing_written(
    env: dict[str, str], tmp_path: Path, password: bytes, fragment: str
) -> None:
    before = dump(env["SVARFRIST_DATABASE_URL"])
    proc = subprocess.run(
        [SVARFRIST, "user", "add", "anna@fredericia.dk", "--role", "advisor"],
        input=password,
        capture_output=True,
        env=clean_env(env),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert_refused(_text(proc), fragment=fragment)
    assert b"hest" not in proc.stderr
    assert dump(env["SVARFRIST_DATABASE_URL"]) == before


def _text(proc: subprocess.CompletedProcess[bytes]) -> Any:
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_svarfrist_web_serves_the_api_with_a_created_token_until_sigterm(
    run_cli: Any, env: dict[str, str], tmp_path: Path
) -> None:
    token = run_cli("token", "create", "--name", "ci", "--role", "advisor", env=env).stdout
    with _serving(env, tmp_path) as base:
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        headers = {"Authorization": f"Bearer {token.strip()}"}
        added = httpx.post(
            f"{base}/api/v1/inquiries",
            json={"channel": "sms", "department": "Diverse", "received_at": "2026-11-25T10:00"},
            headers=headers,
        )
        assert added.status_code == 201, added.text
        assert httpx.get(f"{base}/api/v1/inquiries", headers=headers).status_code == 200
    listed = run_cli("token", "list", env=env).stdout
    assert "never used" not in listed  # the token's use was recorded


def test_svarfrist_web_now_serves_as_if_it_were_then_the_clock_running_on(
    run_cli: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """``--now`` (the demo's week): an inquiry registered without a received time is
    received at the server's now, which started at --now and runs on in real time."""
    token = run_cli("token", "create", "--name", "ci", "--role", "advisor", env=env).stdout
    with _serving(env, tmp_path, "--now", "2026-11-25T12:00") as base:
        added = httpx.post(
            f"{base}/api/v1/inquiries",
            json={"channel": "sms", "department": "Diverse"},
            headers={"Authorization": f"Bearer {token.strip()}"},
        )
    assert added.status_code == 201, added.text
    received = datetime.fromisoformat(added.json()["received_at"])
    start = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # 12:00 in Copenhagen
    assert start <= received < start + timedelta(seconds=START_TIMEOUT_S + 60)


@pytest.mark.parametrize("now", ["yesterday", ""])
def test_svarfrist_web_refuses_a_now_that_is_not_a_time(
    run_cli: Any, env: dict[str, str], now: str
) -> None:
    assert_refused(run_cli("web", "--now", now, env=env), fragment="--now")


@contextlib.contextmanager
def _serving(env: dict[str, str], tmp_path: Path, *args: str) -> Iterator[str]:
    """``svarfrist web`` on a free port with ``args``, until it answers; its base URL. Ends
    it with SIGTERM, which it must take cleanly (no traceback)."""
    port = _free_port()
    proc = subprocess.Popen(
        [SVARFRIST, "web", "--port", str(port), *args],
        env=clean_env(env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "svarfrist web did not come up"
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.05)  # the bounded poll's pause, watching for exit
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    # uvicorn finishes and then lets SIGTERM take its course: exit 0 or "killed by TERM".
    assert proc.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_svarfrist_web_refuses_a_port_that_is_not_one(
    run_cli: Any, env: dict[str, str], port: str
) -> None:
    assert_refused(run_cli("web", "--port", port, env=env), fragment="--port")


@pytest.mark.parametrize("host", ["", "  "])
def test_svarfrist_web_refuses_an_empty_host_that_would_bind_every_interface(
    run_cli: Any, env: dict[str, str], host: str
) -> None:
    assert_refused(run_cli("web", "--host", host, env=env), fragment="--host")


def test_svarfrist_web_on_a_port_in_use_exits_1_with_an_error_line(
    run_cli: Any, env: dict[str, str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("web", "--port", str(taken.getsockname()[1]), env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: cannot serve on 127.0.0.1:")
    assert "Traceback" not in result.stderr


def test_svarfrist_web_without_a_database_exits_1_with_one_line(
    run_cli: Any, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "svarfrist.toml")
    result = run_cli("web", env=cli_env(f"sqlite:///{tmp_path / 'missing.db'}", config))
    assert result.returncode == 1
    assert result.stderr.startswith("error: no database at") and result.stderr.count("\n") == 1
