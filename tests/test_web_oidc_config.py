"""``[web.oidc]``: single sign-on's settings from the file, the flat environment names and
systemd credentials, and the one-line errors that name the bad key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracker.config import load_settings, unknown_variables
from tracker.errors import ConfigError
from tracker.web.pages.oidc import build_client

DISCOVERY = "https://login.microsoftonline.com/6f1c0000-aaaa-bbbb-cccc-000000000001/v2.0/.well-known/openid-configuration"
GROUP = "0b6c1f5e-1111-2222-3333-444455556666"
BASE = f"""
[web]
base_url = "https://svarfrist.fredericia.dk"
[web.oidc]
discovery_url = "{DISCOVERY}"
client_id = "c0ffee00-0000-0000-0000-000000000001"
[web.oidc.groups."{GROUP}"]
role = "lead"
departments = ["Diverse"]
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A process environment without SVARFRIST_* variables or systemd credentials."""
    for var in list(os.environ):
        if var.startswith("SVARFRIST_") or var == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def configure(env: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    path = tmp_path / "svarfrist.toml"
    path.write_text(text, encoding="utf-8")
    env.setenv("SVARFRIST_CONFIG", str(path))


def test_the_file_with_a_secret_from_a_systemd_credential_gives_single_sign_on(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(env, tmp_path, BASE)
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "web__oidc__client_secret").write_text("fra-systemd\n", encoding="utf-8")
    env.setenv("CREDENTIALS_DIRECTORY", str(creds))
    oidc = load_settings().web.oidc
    assert oidc is not None
    secret = oidc.secret()
    assert secret is not None and secret.get_secret_value() == "fra-systemd"
    assert oidc.scopes == "openid email profile"
    assert oidc.groups_claim == "groups"
    assert oidc.local_login is True
    assert oidc.groups[GROUP].role == "lead"
    assert oidc.groups[GROUP].departments == ["Diverse"]


def test_the_flat_environment_names_set_every_key_and_are_not_warned_of(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(env, tmp_path, BASE)
    secret_file = tmp_path / "oidc_secret"
    secret_file.write_text("fra-filen\n", encoding="utf-8")
    variables = {
        "SVARFRIST_WEB_OIDC_DISCOVERY_URL": "http://127.0.0.1:9000/.well-known/openid-configuration",
        "SVARFRIST_WEB_OIDC_CLIENT_ID": "svarfrist",
        "SVARFRIST_WEB_OIDC_CLIENT_SECRET_FILE": str(secret_file),
        "SVARFRIST_WEB_OIDC_SCOPES": "openid  email",
        "SVARFRIST_WEB_OIDC_GROUPS_CLAIM": "roles",
        "SVARFRIST_WEB_OIDC_BUTTON_LABEL": "Log ind med Microsoft",
        "SVARFRIST_WEB_OIDC_LOCAL_LOGIN": "false",
    }
    for name, value in variables.items():
        env.setenv(name, value)
    assert unknown_variables(variables) == []
    oidc = load_settings().web.oidc
    assert oidc is not None
    assert oidc.discovery_url.startswith("http://127.0.0.1:9000/")  # http: loopback only
    assert oidc.client_id == "svarfrist"
    secret = oidc.secret()
    assert secret is not None and secret.get_secret_value() == "fra-filen"
    assert oidc.scopes == "openid email"
    assert oidc.groups_claim == "roles"
    assert oidc.button_label == "Log ind med Microsoft"
    assert oidc.local_login is False
    assert oidc.groups[GROUP].role == "lead"  # the file's groups are kept
    env.setenv("SVARFRIST_WEB__OIDC__GROUPS", '{"g-ledere": {"role": "manager"}}')
    oidc = load_settings().web.oidc
    assert oidc is not None
    roles = {group: g.role for group, g in oidc.groups.items()}
    assert roles == {GROUP: "lead", "g-ledere": "manager"}  # added to the file's groups


@pytest.mark.parametrize(
    ("change", "key"),
    [
        pytest.param(
            ("https://login", "http://login"), "web.oidc.discovery_url", id="http-off-loopback"
        ),
        pytest.param(
            (DISCOVERY, "ftp://idp.example.dk/x"), "web.oidc.discovery_url", id="not-http"
        ),
        pytest.param(
            ('base_url = "https://svarfrist.fredericia.dk"', ""), "web.base_url", id="no-base-url"
        ),
        pytest.param(
            ('role = "lead"', 'role = "chef"'), f"web.oidc.groups.{GROUP}.role", id="role"
        ),
        pytest.param(
            ('["Diverse"]', '["Ingen"]'), f"web.oidc.groups.{GROUP}.departments", id="department"
        ),
        pytest.param(("client_id =", "klient_id ="), "web.oidc.client_id", id="missing-client-id"),
        pytest.param(
            ("[web.oidc]", '[web.oidc]\nscopes = "email profile"'),
            "web.oidc.scopes",
            id="no-openid",
        ),
        pytest.param(("[web.oidc]", "[web.oidc]\nbutton = 'x'"), "web.oidc.button", id="unknown"),
    ],
)
def test_a_bad_oidc_setting_fails_with_one_line_naming_the_key(
    env: pytest.MonkeyPatch, tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    env.setenv("SVARFRIST_WEB_OIDC_CLIENT_SECRET", "s")
    configure(env, tmp_path, BASE.replace(*change))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert raised.value.key == key, raised.value


OFFICES = """
[offices.nord]
departments = ["Borgerservice Nord"]
"""


@pytest.mark.parametrize(
    ("group", "key", "message"),
    [
        pytest.param(
            'office = "syd"',
            "office",
            "unknown office 'syd' (known offices: *, default, nord)",
            id="unknown-office",
        ),
        pytest.param(
            'office = "nord"',
            "departments",
            "unknown department 'Diverse' in office 'nord'",
            id="department-of-another-office",
        ),
    ],
)
def test_a_group_s_office_must_exist_and_hold_its_departments(
    env: pytest.MonkeyPatch, tmp_path: Path, group: str, key: str, message: str
) -> None:
    env.setenv("SVARFRIST_WEB_OIDC_CLIENT_SECRET", "s")
    configure(env, tmp_path, BASE + group + "\n" + OFFICES)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert (raised.value.key, raised.value.problem) == (f"web.oidc.groups.{GROUP}.{key}", message)


def test_a_group_of_every_office_may_name_any_office_s_departments(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("SVARFRIST_WEB_OIDC_CLIENT_SECRET", "s")
    both = BASE.replace('["Diverse"]', '["Diverse", "Borgerservice Nord"]')
    configure(env, tmp_path, both + OFFICES)
    oidc = load_settings().web.oidc
    assert oidc is not None and oidc.groups[GROUP].office == "*"
    configure(
        env,
        tmp_path,
        BASE.replace('["Diverse"]', '["Borgerservice Nord"]') + 'office = "nord"\n' + OFFICES,
    )
    oidc = load_settings().web.oidc
    assert oidc is not None and oidc.groups[GROUP].office == "nord"


def test_single_sign_on_without_a_client_secret_or_groups_fails_naming_the_key(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The secret is the web app's alone: required where the app starts, not by every
    # command (the daemon and each wrapper had to load its credential too).
    configure(env, tmp_path, BASE)
    oidc = load_settings().web.oidc
    assert oidc is not None
    with pytest.raises(ConfigError) as raised:
        build_client(oidc)
    assert raised.value.key == "web.oidc.client_secret"
    assert "web__oidc__client_secret" in raised.value.problem
    env.setenv("SVARFRIST_WEB_OIDC_CLIENT_SECRET", "s")
    configure(env, tmp_path, BASE.split("[web.oidc.groups", maxsplit=1)[0])
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert raised.value.key == "web.oidc.groups"


def test_only_the_web_app_needs_the_client_secret(
    env: pytest.MonkeyPatch, tmp_path: Path, run_cli: Any
) -> None:
    """The daemon and every command run as the service user had to load the web app's
    client secret, or they stopped at start; now only ``svarfrist web`` does."""
    configure(env, tmp_path, BASE)
    env_vars = {
        "SVARFRIST_CONFIG": str(tmp_path / "svarfrist.toml"),
        "SVARFRIST_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "SVARFRIST_WEB_SECRET_KEY": "k" * 32,
    }
    assert run_cli("init", env=env_vars).returncode == 0
    assert run_cli("list", env=env_vars).returncode == 0
    web = run_cli("web", "--port", "1", env=env_vars)
    assert web.returncode == 2
    [line] = web.stderr.splitlines()
    assert line.startswith("error: config: web.oidc.client_secret: required by the web app")
