"""``make demo`` runs the first-run demo: mail saved, a summary printed, and commands to try
that work exactly as printed, from the folder the demo ran in."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from conftest import clean_env

from tracker.cli.demo import svarfrist_words

TRY_HEADING = "Try it yourself from this folder"


@dataclass(frozen=True)
class DemoRun:
    folder: Path
    stdout: str

    def printed_commands(self) -> list[str]:
        """The indented lines under the "Try it yourself" heading."""
        lines = self.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(TRY_HEADING))
        commands = []
        for line in lines[start + 1 :]:
            if not line.startswith("  "):
                break
            commands.append(line.strip())
        return commands


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo as ``make demo`` runs it: from a folder holding ``.venv``, with its python.

    The folder's ``.venv`` is a link to the environment running the tests, so the commands
    the demo prints name ``.venv/bin/svarfrist`` just as they do in a clone.
    """
    folder = tmp_path_factory.mktemp("clone")
    venv = Path(sys.executable).parent.parent
    (folder / ".venv").symlink_to(venv, target_is_directory=True)
    python = Path(".venv") / "bin" / Path(sys.executable).name
    result = subprocess.run(
        [str(python), "-m", "tracker.cli.demo"],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return DemoRun(folder=folder, stdout=result.stdout)


def test_the_demo_simulates_a_week_and_saves_every_message(demo: DemoRun) -> None:
    mail = sorted((demo.folder / "demo" / "mail").glob("*.eml"))
    assert mail, demo.stdout
    assert "messages:" in demo.stdout and f"total {len(mail)}" in demo.stdout
    kinds = {
        message_from_bytes(p.read_bytes(), policy=policy.default)["X-Svarfrist-Kind"] for p in mail
    }
    assert {"due_soon", "overdue", "digest"} <= kinds
    assert (demo.folder / "demo" / "svarfrist.db").exists()


def test_the_demo_reads_a_mailbox_of_citizen_mails_and_saves_their_acknowledgements(
    demo: DemoRun,
) -> None:
    acks = sorted((demo.folder / "demo" / "mail").glob("*-acknowledgement-*.eml"))
    assert len(acks) == 4  # four citizens; the out-of-office reply and the follow-up get none
    for path in acks:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert str(message["Auto-Submitted"]) == "auto-replied"
        assert f"[SF {message['X-Svarfrist-Ref']}]" in str(message["Subject"])
        assert "Du får svar senest " in _text(path)
    maildir = demo.folder / "demo" / "indbakke"
    files = lambda folder: sorted((maildir / folder).glob("*/*"))  # noqa: E731 - new/ and cur/
    assert files("new") == [] and files("cur") == []  # everything read, nothing left behind
    assert len(files(".Svarfrist.Registreret")) == 6  # four citizens, a follow-up, a reply
    assert len(files(".Svarfrist.Ignoreret")) == 1  # the out-of-office reply
    assert "4 registered" in demo.stdout and "1 attached" in demo.stdout
    assert "1 answered" in demo.stdout and "1 ignored (auto-submitted)" in demo.stdout


def test_the_demo_prints_commands_for_its_own_database_and_the_venvs_svarfrist(
    demo: DemoRun,
) -> None:
    commands = demo.printed_commands()
    assert len(commands) >= 5
    database = "SVARFRIST_DATABASE_URL=sqlite:///demo/svarfrist.db .venv/bin/svarfrist "
    assert all(c.startswith((database, ".venv/bin/svarfrist ")) for c in commands)
    assert any(" show " in c for c in commands)


def test_every_command_the_demo_prints_works_as_printed_from_its_folder(demo: DemoRun) -> None:
    for command in demo.printed_commands():
        result = subprocess.run(
            ["sh", "-c", command],
            cwd=demo.folder,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        assert "error:" not in result.stderr, command
    assert (demo.folder / "demo" / "aarsrapport.html").read_text(encoding="utf-8").strip()


def test_the_printed_report_command_prints_the_demos_compliance_summary(demo: DemoRun) -> None:
    command = demo.printed_commands()[0]
    assert f"$ {command}" in demo.stdout
    result = subprocess.run(
        ["sh", "-c", command],
        cwd=demo.folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip()
    assert result.stdout.rstrip() in demo.stdout


def test_svarfrist_is_named_relative_to_the_folder_when_it_lies_inside_it(tmp_path: Path) -> None:
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").touch()
    (bin_ / "svarfrist").touch()
    assert svarfrist_words(bin_ / "python", tmp_path) == (".venv/bin/svarfrist",)
    assert svarfrist_words(bin_ / "python", tmp_path / "elsewhere") == (str(bin_ / "svarfrist"),)


def test_without_a_console_script_the_demo_prints_python_dash_m_tracker(tmp_path: Path) -> None:
    python = tmp_path / "bin" / "python3"
    assert svarfrist_words(python, tmp_path) == (str(python), "-m", "tracker")


def _text(path: Path) -> str:
    """A saved mail's plain-text part, decoded (quoted-printable folds long links)."""
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    body = message.get_body(("plain",))  # type: ignore[attr-defined]
    return str(body.get_content()) if body is not None else ""


def _web_command(demo: DemoRun) -> str:
    lines = demo.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("The web app over"))
    return lines[start + 1].strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_printed_web_command_serves_the_demo_its_users_and_its_mails_links(
    demo: DemoRun,
) -> None:
    """The web app as printed (on a free port instead of 8080): the demo's advisor logs in
    with the printed password and sees her inquiries; a link from a demo mail opens its
    confirmation page (the mails were signed with the web app's key)."""
    command = _web_command(demo)
    assert command.startswith("SVARFRIST_CONFIG=demo/svarfrist.toml .venv/bin/svarfrist web")
    port = _free_port()
    words = shlex.split(command.split(" ", 1)[1].replace("--port 8080", f"--port {port}"))
    server = subprocess.Popen(
        words,
        cwd=demo.folder,
        env=clean_env({"SVARFRIST_CONFIG": "demo/svarfrist.toml"}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):  # a bounded wait for the server to listen
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            page = client.get("/login")
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            assert token, page.text
            password = re.search(r"password '([^']+)'", demo.stdout)
            assert password, demo.stdout
            login = client.post(
                "/login",
                data={
                    "csrf": token.group(1),
                    "email": "anne.jensen@fredericia.dk",
                    "password": password.group(1),
                    "next": "/",
                },
            )
            assert login.status_code == 303, login.text
            mine = client.get("/")
            assert mine.status_code == 200 and "202" in mine.text  # refs such as 2026-000001
            links = [
                link
                for p in sorted((demo.folder / "demo" / "mail").glob("*.eml"))
                for link in re.findall(r"http://127\.0\.0\.1:8080(/m/[A-Za-z0-9_.\-]+)", _text(p))
            ]
            assert links, "no one-click link in the demo's mails"
            confirm = httpx.get(f"http://127.0.0.1:{port}{links[0]}", timeout=30)
            assert confirm.status_code in (200, 409), confirm.text  # 409: met later that week
            assert "<form" in confirm.text or confirm.status_code == 409
    finally:
        server.terminate()
        server.wait(timeout=30)
