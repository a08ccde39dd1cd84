"""Two daemon replicas on PostgreSQL with several offices: every reminder and every office's
digest is planned once and delivered once, each to its own office's recipients (real
``svarfrist tick`` processes started together, a real SMTP sink)."""

from __future__ import annotations

import subprocess
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from conftest import SVARFRIST, clean_env
from daemon_world import World, local
from smtp_sink import Sink

from tracker.store.outbox import OutboxState

# Three offices (default, nord, syd), each its own recipient and digest time before 09:00.
CONFIG = """
default_recipient = "team@fredericia.dk"
mail_from = "svarfrist@fredericia.dk"
departments = ["Diverse"]

[reminders]
digest_time = 07:00:00

[offices.nord]
default_recipient = "nord@fredericia.dk"
departments = ["Borgerservice Nord"]
[offices.nord.reminders]
digest_time = 07:30:00

[offices.syd]
default_recipient = "syd@fredericia.dk"
departments = ["Borgerservice Syd"]
[offices.syd.calendar]
closed_dates = [2026-11-27]
"""
PLACES = {"default": "Diverse", "nord": "Borgerservice Nord", "syd": "Borgerservice Syd"}
PER_OFFICE = 40


@pytest.mark.postgres
def test_two_daemons_across_offices_plan_and_deliver_everything_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    sink = Sink().start()
    values = tomllib.loads(CONFIG)
    world = World(postgres_url, sink.port, **values)
    try:
        refs: dict[str, set[str]] = {}
        for office, department in PLACES.items():
            # no advisor: every reminder goes to the office's default recipient
            refs[office] = {
                world.add(local(f"2026-11-{23 + i % 3}T10:{i:02d}"), department=department,
                          office=office)
                for i in range(PER_OFFICE)
            }  # fmt: skip
        config = tmp_path / "svarfrist.toml"
        config.write_text(CONFIG, encoding="utf-8")
        env = clean_env(
            {"SVARFRIST_CONFIG": str(config), "SVARFRIST_DATABASE_URL": postgres_url, **sink.env()}
        )
        now = local("2026-11-30T09:00").isoformat()
        daemons = [
            subprocess.Popen(
                [SVARFRIST, "tick", "--now", now],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [d.communicate(timeout=180) for d in daemons]
        assert [d.returncode for d in daemons] == [0, 0], outputs

        rows = world.outbox()
        assert rows and {r.state for r in rows} == {OutboxState.SENT}
        # Planned once: one row per (kind, ref) reminder; sent once: one attempt per row and
        # no Message-ID twice (an advisor's rows of one sweep go out as one catch-up mail).
        planned = Counter((r.kind, r.payload.get("ref")) for r in rows if r.kind != "digest")
        assert max(planned.values()) == 1
        assert {r.attempts for r in rows} == {1}
        ids = Counter(m["Message-ID"] for m in sink.messages)
        assert max(ids.values()) == 1
        digests = Counter(r.recipient for r in rows if r.kind == "digest")
        assert digests == {"team@fredericia.dk": 1, "nord@fredericia.dk": 1, "syd@fredericia.dk": 1}
        # each office's reminders reach its own recipient only, every inquiry of it covered
        recipient = {
            "default": "team@fredericia.dk",
            "nord": "nord@fredericia.dk",
            "syd": "syd@fredericia.dk",
        }
        for office, mine in refs.items():
            told = {
                ref
                for m in sink.messages
                for ref in mine
                if ref in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            }
            assert told == mine, office
            others = set().union(*(v for k, v in refs.items() if k != office))
            to_me = [m for m in sink.messages if m["To"] == recipient[office]]
            assert not any(
                ref in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                for m in to_me
                for ref in others
            ), office
    finally:
        sink.stop()
        world.close()
