"""``svarfrist user add`` and ``token create`` with ``--department``: checked against the
configured departments with ``add``'s validator, stored, listed; a bad one refused with
nothing written. Through the real console script on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from register_support import assert_refused, cli_env, dump, write_config

PASSWORD = "korrekt hest batteri hæfteklamme"


@pytest.fixture
def env(run_cli: Any, tmp_path: Path, database_url: str) -> dict[str, str]:
    environment = cli_env(database_url, write_config(tmp_path / "svarfrist.toml"))
    result = run_cli("init", env=environment)
    assert result.returncode == 0, result.stderr
    return environment


def test_a_user_is_tied_to_the_departments_named_and_list_shows_them(
    run_cli: Any, env: dict[str, str]
) -> None:
    added = run_cli(
        "user",
        "add",
        "anna@fredericia.dk",
        "--role",
        "advisor",
        "--department",
        "Teknik og Miljø",
        "--department",
        "Diverse",
        env=env,
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    plain = run_cli("user", "add", "ole@fredericia.dk", "--role", "lead", env=env, stdin=PASSWORD)
    assert plain.returncode == 0, plain.stderr
    listed = run_cli("user", "list", env=env)
    assert "anna@fredericia.dk  advisor  Diverse, Teknik og Miljø  created" in listed.stdout
    assert "ole@fredericia.dk  lead  no department  created" in listed.stdout
    as_json = json.loads(run_cli("user", "list", "--json", env=env).stdout)
    assert {u["email"]: u["departments"] for u in as_json} == {
        "anna@fredericia.dk": ["Diverse", "Teknik og Miljø"],
        "ole@fredericia.dk": [],
    }


def test_a_token_is_tied_to_its_departments_and_list_shows_them(
    run_cli: Any, env: dict[str, str]
) -> None:
    created = run_cli(
        "token", "create", "--name", "teknik", "--role", "advisor",
        "--department", "Teknik og Miljø", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    listed = run_cli("token", "list", env=env)
    assert "teknik  advisor  Teknik og Miljø  created" in listed.stdout
    as_json = json.loads(run_cli("token", "list", "--json", env=env).stdout)
    assert as_json[0]["departments"] == ["Teknik og Miljø"]


@pytest.mark.parametrize(
    "department", ["Økonomi", "diverse", ""], ids=["not configured", "wrong case", "empty"]
)
def test_a_department_that_is_not_configured_is_refused_with_nothing_written(
    run_cli: Any, env: dict[str, str], department: str
) -> None:
    before = dump(env["SVARFRIST_DATABASE_URL"])
    user = run_cli(
        "user", "add", "anna@fredericia.dk", "--role", "advisor", "--department", "Diverse",
        "--department", department, env=env, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert_refused(user, fragment="unknown department")
    token = run_cli(
        "token", "create", "--name", "bot", "--role", "lead", "--department", department, env=env
    )
    assert_refused(token, fragment="unknown department")
    assert token.stdout == ""
    assert dump(env["SVARFRIST_DATABASE_URL"]) == before


def test_the_text_lists_name_the_office_a_user_or_token_is_tied_to(
    run_cli: Any, tmp_path: Path, database_url: str
) -> None:
    # `--office` limits what a user or token sees; the JSON said so ("office"), the text
    # lists did not, so an administrator reading them took an office's token for one of
    # every office. One of every office (`*`) is listed as before.
    config = write_config(
        tmp_path / "svarfrist.toml", offices={"nord": {"departments": ["Borgerservice Nord"]}}
    )
    env = cli_env(database_url, config)
    assert run_cli("init", env=env).returncode == 0
    for email, office in (("nora@fredericia.dk", ("--office", "nord")), ("ole@fredericia.dk", ())):
        added = run_cli("user", "add", email, "--role", "lead", *office, env=env, stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        made = run_cli("token", "create", "--name", email.split("@")[0], "--role", "advisor",
                       *office, env=env)  # fmt: skip
        assert made.returncode == 0, made.stderr
    users = run_cli("user", "list", env=env).stdout
    assert "nora@fredericia.dk  lead  office nord  no department  created" in users
    assert "ole@fredericia.dk  lead  no department  created" in users
    tokens = run_cli("token", "list", env=env).stdout
    assert "nora  advisor  office nord  no department  created" in tokens
    assert "ole  advisor  no department  created" in tokens
