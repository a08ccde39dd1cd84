"""The register's commands through the real console script, on SQLite and PostgreSQL.

Hand-checked deadlines are those of docs/deadlines.md (``working_days``, default closed days).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from register_support import RECIPIENT, cli_env, dump, engine_for, write_config
from sqlalchemy import select

from tracker.store.models import Event

CONTRACT_KEYS = {
    "ref",
    "channel",
    "department",
    "topic",
    "advisor",
    "callback_requested",
    "received_at",
    "status",
    "closed_at",
    "obligations",
}
OBLIGATION_KEYS = {"rule", "due_at", "warn_at", "met_at", "state"}


@dataclass
class Cli:
    """The console script bound to one database and config."""

    run_cli: Any
    env: dict[str, str]
    url: str

    def __call__(self, *args: str, **extra: str) -> Any:
        return self.run_cli(*args, env={**self.env, **extra})


@pytest.fixture
def cli(run_cli, database_url: str, tmp_path: Path) -> Cli:
    """run_cli against a fresh, initialised database with the test config."""
    config = write_config(tmp_path / "svarfrist.toml")
    bound = Cli(run_cli, cli_env(database_url, config), database_url)
    assert bound("init").returncode == 0
    return bound


def ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return result


def show(cli: Cli, ref: str, now: str = "2026-11-26T12:00") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(cli("show", ref, "--json", "--now", now)).stdout)
    return data


def by_rule(data: dict[str, Any]) -> dict[str, Any]:
    return {o["rule"]: o for o in data["obligations"]}


def test_add_prints_a_generated_ref_and_show_gives_the_contract_shape(cli: Cli) -> None:
    first = ok(
        cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Diverse",
            "--received",
            "2026-11-27T15:00",
            "--callback",
            "--advisor",
            "a@b.dk",
            "--topic",
            "Kontanthjælp",
            "--now",
            "2026-11-27T15:05",
        )
    )
    second = ok(
        cli(
            "add",
            "--channel",
            "phone",
            "--department",
            "Børn og Unge",
            "--received",
            "2026-11-28T11:00",
            "--now",
            "2026-11-28T11:05",
        )
    )
    assert first.stdout == "2026-000001\n"
    assert second.stdout == "2026-000002\n"
    data = show(cli, "2026-000001", now="2026-11-27T16:00")
    assert set(data) >= CONTRACT_KEYS
    assert data["received_at"] == "2026-11-27T15:00:00+01:00"
    assert data["status"] == "open" and data["closed_at"] is None
    assert data["topic"] == "Kontanthjælp" and data["advisor"] == "a@b.dk"
    rules = by_rule(data)
    assert set(rules) == {"reply", "callback"}
    assert all(set(o) >= OBLIGATION_KEYS for o in data["obligations"])
    # Fri 15:00 + 24 working hours: the weekend does not count
    assert rules["reply"]["due_at"] == "2026-11-30T15:00:00+01:00"
    assert rules["reply"]["warn_at"] == "2026-11-30T11:00:00+01:00"
    assert rules["callback"]["due_at"] == "2026-12-01T15:00:00+01:00"
    assert rules["reply"]["state"] == "pending"
    # phone without a call-back request carries no obligation
    assert show(cli, "2026-000002")["obligations"] == []


def test_add_json_prints_the_new_inquiry(cli: Cli) -> None:
    result = ok(
        cli(
            "add",
            "--channel",
            "sms",
            "--department",
            "Diverse",
            "--received",
            "2026-11-28T11:00",
            "--json",
            "--ref",
            "X-1",
            "--now",
            "2026-11-28T12:00",
        )
    )
    data = json.loads(result.stdout)
    assert data["ref"] == "X-1"
    # received Saturday: the clock starts Monday 00:00, due Monday 24:00 = Tuesday 00:00
    assert by_rule(data)["reply"]["due_at"] == "2026-12-01T00:00:00+01:00"


def test_reply_and_callback_fulfil_their_rules_on_time_or_late(cli: Cli) -> None:
    ok(
        cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Diverse",
            "--callback",
            "--received",
            "2026-11-25T10:00",
            "--now",
            "2026-11-25T10:00",
        )
    )
    ok(cli("reply", "2026-000001", "--at", "2026-11-26T09:00", "--now", "2026-11-26T09:00"))
    ok(cli("callback", "2026-000001", "--at", "2026-11-30T09:00"))
    rules = by_rule(show(cli, "2026-000001", now="2026-12-01T00:00"))
    assert rules["reply"]["met_at"] == "2026-11-26T09:00:00+01:00"
    assert rules["reply"]["state"] == "met_on_time"
    assert rules["callback"]["state"] == "met_late"  # due Fri 27 Nov 10:00


def test_pause_and_resume_move_the_deadline_by_the_paused_working_time(cli: Cli) -> None:
    ok(
        cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Diverse",
            "--received",
            "2026-11-27T15:00",
            "--now",
            "2026-11-27T15:00",
        )
    )
    paused = ok(cli("pause", "2026-000001", "--at", "2026-11-27T16:00"))
    assert "2026-11-30T15:00:00+01:00 -> -" in paused.stdout
    data = show(cli, "2026-000001", now="2026-12-10T00:00")
    assert by_rule(data)["reply"]["due_at"] is None  # the clock is stopped
    assert by_rule(data)["reply"]["state"] == "pending"
    ok(cli("resume", "2026-000001", "--at", "2026-11-30T10:00"))
    # paused Fri 16-24 (8 h) and Mon 0-10 (10 h): Mon 15:00 + 18 h = Tue 09:00
    rules = by_rule(show(cli, "2026-000001"))
    assert rules["reply"]["due_at"] == "2026-12-01T09:00:00+01:00"
    kinds = [e["kind"] for e in events(cli)]
    assert kinds == ["created", "paused", "resumed"]


def test_close_fulfils_every_pending_obligation_and_lists_follow_the_state(cli: Cli) -> None:
    for received in ("2026-11-23T10:00", "2026-11-24T10:00", "2026-11-25T10:00"):
        ok(
            cli(
                "add",
                "--channel",
                "letter",
                "--department",
                "Diverse",
                "--received",
                received,
                "--advisor",
                "a@b.dk" if received.startswith("2026-11-24") else "c@d.dk",
            )
        )
    ok(cli("close", "2026-000001", "--at", "2026-11-23T12:00"))
    closed = by_rule(show(cli, "2026-000001"))
    assert closed["reply"]["state"] == "met_on_time"

    def refs(*args: str, now: str = "2026-11-25T12:00") -> list[str]:
        out = ok(cli("list", "--json", "--now", now, *args)).stdout
        return [item["ref"] for item in json.loads(out)]

    assert refs() == ["2026-000002", "2026-000003"]  # open by default
    assert refs("--state", "closed") == ["2026-000001"]
    assert refs("--state", "all") == ["2026-000001", "2026-000002", "2026-000003"]
    # derived at --now from stored times: no daemon has run
    assert refs("--state", "overdue") == ["2026-000002"]  # due Wed 25 Nov 10:00
    assert refs("--state", "due_soon") == []
    # 2026-000003 is due Thu 10:00 and warned from 06:00
    assert refs("--state", "due_soon", now="2026-11-26T07:00") == ["2026-000003"]
    assert refs("--state", "open", "--advisor", "a@b.dk") == ["2026-000002"]
    text = ok(cli("list", "--state", "overdue", "--now", "2026-11-25T12:00")).stdout
    assert text.splitlines()[0].startswith("Ref.")  # a header, then the inquiries
    assert text.splitlines()[1].startswith("2026-000002")
    assert "kvittering: overskredet" in text


def test_purge_erases_old_notes_only_and_keeps_every_statistic(cli: Cli, database_url: str) -> None:
    secret = "Borgeren hedder Jens; ring efter kl. 14"
    ok(
        cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Diverse",
            "--note",
            secret,
            "--received",
            "2026-09-01T10:00",
        )
    )
    ok(
        cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Diverse",
            "--note",
            secret,
            "--received",
            "2026-11-01T10:00",
        )
    )
    ok(cli("close", "2026-000001", "--at", "2026-09-02T10:00"))
    ok(cli("close", "2026-000002", "--at", "2026-11-20T10:00"))
    before = dump(database_url)
    result = ok(cli("purge", "--now", "2026-11-26T12:00"))
    assert "1 inquiries" in result.stdout
    assert show(cli, "2026-000001")["note"] is None
    assert show(cli, "2026-000002")["note"] == secret  # closed 6 days ago: kept
    after = dump(database_url)
    assert after["obligations"] == before["obligations"]
    strip = lambda rows: [r[:11] for r in rows]  # noqa: E731 - everything but note/purged_at
    assert strip(after["inquiries"]) == strip(before["inquiries"])
    purged = [e for e in events(cli) if e["kind"] == "purged"]
    assert purged[0]["details"]["count"] == 1
    assert secret not in json.dumps([list(map(str, r)) for r in after["events"]])


def test_the_audit_trail_names_the_actor_and_never_holds_the_note(
    cli: Cli, database_url: str
) -> None:
    ok(cli("add", "--channel", "email", "--department", "Diverse", "--note", "hemmeligt æøå"))
    ok(cli("reply", "2026-000001", "--actor", "kari.borgervejleder"))
    trail = events(cli)
    assert [(e["kind"], e["actor"]) for e in trail] == [
        ("created", "tester"),
        ("replied", "kari.borgervejleder"),
    ]
    assert "hemmeligt" not in json.dumps(dump(database_url)["events"], default=str)


def test_recompute_lists_moved_deadlines_and_dry_run_writes_nothing(
    run_cli, cli, database_url: str, tmp_path: Path
) -> None:
    ok(
        cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Diverse",
            "--received",
            "2026-12-02T10:00",
            "--now",
            "2026-12-07T10:00",
        )
    )
    ok(
        cli(
            "add",
            "--channel",
            "email",
            "--department",
            "Diverse",
            "--received",
            "2026-12-07T10:00",
            "--now",
            "2026-12-07T10:00",
        )
    )
    # the municipality declares Thursday 3 December closed
    changed = write_config(tmp_path / "changed.toml", calendar={"closed_dates": ["2026-12-03"]})
    env = cli_env(database_url, changed)
    before = dump(database_url)
    dry = run_cli("recompute", "--dry-run", "--now", "2026-12-01T00:00", env=env)
    assert dry.returncode == 0, dry.stderr
    assert (
        "2026-000001  reply  2026-12-03T10:00:00+01:00 -> 2026-12-04T10:00:00+01:00" in dry.stdout
    )
    assert "2026-000002" not in dry.stdout
    assert "1 deadlines moved (dry run" in dry.stdout
    assert dump(database_url) == before
    real = run_cli("recompute", "--json", "--now", "2026-12-01T00:00", env=env)
    assert json.loads(real.stdout)["moved"] == [
        {
            "ref": "2026-000001",
            "rule": "reply",
            "old_due_at": "2026-12-03T10:00:00+01:00",
            "new_due_at": "2026-12-04T10:00:00+01:00",
        }
    ]
    assert by_rule(show(cli, "2026-000001"))["reply"]["due_at"] == "2026-12-04T10:00:00+01:00"
    assert [e["kind"] for e in events(cli)][-1] == "recomputed"
    again = run_cli("recompute", "--now", "2026-12-01T00:00", env=env)
    assert "0 deadlines moved" in again.stdout


def events(cli: Cli) -> list[dict[str, Any]]:
    """The audit trail, read straight from the database the CLI uses."""
    with engine_for(cli.url, init=False) as engine, engine.connect() as conn:
        rows = conn.execute(select(Event).order_by(Event.id)).mappings().all()
        return [dict(r) for r in rows]


def test_default_recipient_is_used_when_configured(cli: Cli) -> None:
    # the test config sets one, so an inquiry without an advisor is fine
    ok(cli("add", "--channel", "email", "--department", "Diverse"))
    assert RECIPIENT
