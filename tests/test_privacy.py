"""Privacy end to end: an inquiry's note never reaches a log line, an e-mail or a report.

The whole life of an inquiry runs through the real console script with debug logging on,
against a real SMTP server on 127.0.0.1; every byte written to stderr, every message the
server received and every report format are searched for the note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smtp_sink import Sink

NOTE = "Borgeren Jens Hansen, cpr 010203-1234, ring efter kl. 14"
# Parts of the note that would survive an encoding (RFC 2047 words, HTML escaping).
FRAGMENTS = ("Jens Hansen", "010203-1234", "ring efter")


def _leaks(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


def test_the_note_never_reaches_a_log_line_an_email_or_a_report(
    run_cli: Any, tmp_path: Path
) -> None:
    sink = Sink().start()
    try:
        env = {
            "SVARFRIST_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            "SVARFRIST_DEFAULT_RECIPIENT": "team@fredericia.dk",
            "SVARFRIST_MAIL_FROM": "svarfrist@fredericia.dk",
            **sink.env(),
        }
        steps = [
            ["init"],
            ["-v", "add", "--channel", "email", "--department", "Diverse", "--callback",
             "--received", "2026-11-27T15:00", "--note", NOTE, "--now", "2026-11-27T15:00"],
            ["-v", "tick", "--now", "2026-11-30T12:00"],
            ["-v", "tick", "--now", "2026-12-01T16:00"],
            ["-v", "pause", "2026-000001", "--at", "2026-12-01T16:05"],
            ["-v", "resume", "2026-000001", "--at", "2026-12-01T16:10"],
            ["-v", "reply", "2026-000001", "--at", "2026-12-01T16:15"],
            ["-v", "close", "2026-000001", "--at", "2026-12-01T16:20"],
            ["-v", "recompute"],
            ["-v", "status"],
            ["-v", "list", "--state", "all"],
        ]  # fmt: skip
        stderr = []
        for args in steps:
            result = run_cli(*args, env=env)
            assert result.returncode in (0, 1), (args, result.stderr)
            stderr.append(result.stderr)
        reports = [
            run_cli("-v", "report", "--format", fmt, "--now", "2026-12-02T12:00", env=env)
            for fmt in ("text", "csv", "json", "html")
        ]
        reports.append(run_cli("-v", "report", "--annual", "--now", "2026-12-02T12:00", env=env))
        reports.append(
            run_cli("-v", "report", "--breaches", "--format", "csv", "--now", "2026-12-02T12:00",
                    env=env)
        )  # fmt: skip
        for report in reports:
            assert report.returncode == 0, report.stderr
            assert _leaks(report.stdout) == []
            stderr.append(report.stderr)
        # Purge at the real clock (an erasing command refuses a future --now): closed on
        # 2026-12-01, it is past a one-day retention on any day this test runs.
        purged = run_cli("-v", "purge", env={**env, "SVARFRIST_RETENTION_DAYS": "1"})
        assert purged.returncode == 0, purged.stderr
        stderr.append(purged.stderr)
        shown = run_cli("show", "2026-000001", "--json", env=env)
    finally:
        sink.stop()
    assert sink.messages, "the reminders went out"
    for message in sink.messages:
        assert _leaks(message.as_string()) == []
        for part in message.walk():
            if part.get_content_maintype() == "text":
                assert _leaks(part.get_content()) == []
    assert _leaks("".join(stderr)) == []
    assert any("DEBUG" in text for text in stderr), "debug logging was on"
    assert '"note": null' in shown.stdout  # and retention erased it
