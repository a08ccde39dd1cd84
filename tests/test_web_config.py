"""The ``[web]`` settings: docs/contract.md's SVARFRIST_WEB_* names, the secret key from the
environment, a file or a systemd credential, and bad values refused naming the key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.config import load_settings, unknown_variables
from tracker.errors import ConfigError

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A process environment without SVARFRIST_* variables or systemd credentials."""
    for var in list(os.environ):
        if var.startswith("SVARFRIST_") or var == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def test_the_defaults_keep_cookies_secure_and_set_no_address(env: pytest.MonkeyPatch) -> None:
    web = load_settings().web
    assert web.base_url is None and web.key() is None
    assert web.insecure_http is False
    assert web.max_body_bytes == 65536


def test_the_contracts_flat_environment_names_work_and_are_not_warned_of(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("SVARFRIST_WEB_BASE_URL", "https://svarfrist.fredericia.dk/")
    env.setenv("SVARFRIST_WEB_SECRET_KEY", KEY)
    env.setenv("SVARFRIST_WEB_INSECURE_HTTP", "true")
    env.setenv("SVARFRIST_WEB__MAX_BODY_BYTES", "2048")
    web = load_settings().web
    assert web.base_url == "https://svarfrist.fredericia.dk"  # no trailing slash
    key = web.key()
    assert key is not None and key.get_secret_value() == KEY
    assert web.insecure_http is True and web.max_body_bytes == 2048
    assert unknown_variables(os.environ) == []
    assert KEY not in repr(web) and KEY not in str(load_settings())


def test_every_web_key_has_its_flat_environment_name(env: pytest.MonkeyPatch) -> None:
    """The example file says SVARFRIST_WEB_* overrides each key, but page_size,
    max_page_size, list_threads and embed_origins were warned of as naming no setting and
    ignored: the flat names were a hand-kept list that had fallen behind [web]."""
    env.setenv("SVARFRIST_WEB_PAGE_SIZE", "20")
    env.setenv("SVARFRIST_WEB_MAX_PAGE_SIZE", "100")
    env.setenv("SVARFRIST_WEB_LIST_THREADS", "2")
    env.setenv("SVARFRIST_WEB_EMBED_ORIGINS", '["https://www.fredericia.dk"]')
    web = load_settings().web
    assert (web.page_size, web.max_page_size, web.list_threads) == (20, 100, 2)
    assert web.embed_origins == ["https://www.fredericia.dk"]
    assert unknown_variables(os.environ) == []
    env.setenv("SVARFRIST_WEB_EMBED_ORIGINS", "https://www.fredericia.dk")
    with pytest.raises(ConfigError, match=r"^config: SVARFRIST_WEB_EMBED_ORIGINS: not valid JSON"):
        load_settings()


def test_the_secret_key_comes_from_a_systemd_credential(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "web__secret_key").write_text(KEY, encoding="utf-8")
    env.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    key = load_settings().web.key()
    assert key is not None and key.get_secret_value() == KEY


def test_the_secret_key_comes_from_a_file_the_settings_name(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text(KEY + "\n", encoding="utf-8")
    env.setenv("SVARFRIST_WEB_SECRET_KEY_FILE", str(tmp_path / "key"))
    key = load_settings().web.key()
    assert key is not None and key.get_secret_value() == KEY
    env.setenv("SVARFRIST_WEB_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"web\.secret_key_file"):
        load_settings().web.key()


@pytest.mark.parametrize("source", ["environment", "credential"])
def test_an_empty_secret_key_is_no_key_not_an_empty_one(
    env: pytest.MonkeyPatch, tmp_path: Path, source: str
) -> None:
    """``Environment=SVARFRIST_WEB_SECRET_KEY=`` (or an empty credential file) served the
    pages with cookies and mail links signed by the empty key, which anyone can forge."""
    if source == "environment":
        env.setenv("SVARFRIST_WEB_SECRET_KEY", "")
    else:
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        (credentials / "web__secret_key").write_text("\n", encoding="utf-8")
        env.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert load_settings().web.key() is None
    (tmp_path / "key").write_text(KEY + "\n", encoding="utf-8")
    env.setenv("SVARFRIST_WEB_SECRET_KEY_FILE", str(tmp_path / "key"))
    key = load_settings().web.key()
    assert key is not None and key.get_secret_value() == KEY


SHORT = "0123456789abcdef0123456789abcde"  # 31 characters


@pytest.mark.parametrize("source", ["environment", "credential", "file"])
def test_a_secret_key_shorter_than_32_characters_is_refused_naming_where_it_came_from(
    env: pytest.MonkeyPatch, tmp_path: Path, source: str
) -> None:
    """A 3-character key signed session cookies and one-click mail links: anyone could
    find it by trying, and forge a log-in or a link."""
    key = "web.secret_key"
    if source == "environment":
        env.setenv("SVARFRIST_WEB_SECRET_KEY", SHORT)
    elif source == "credential":
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        (credentials / "web__secret_key").write_text(SHORT + "\n", encoding="utf-8")
        env.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    else:
        (tmp_path / "key").write_text(f"  {SHORT}\n", encoding="utf-8")
        env.setenv("SVARFRIST_WEB_SECRET_KEY_FILE", str(tmp_path / "key"))
        key = "web.secret_key_file"
    with pytest.raises(ConfigError) as caught:
        load_settings().web.key()
    assert caught.value.key == key
    assert "at least 32 characters" in caught.value.problem
    assert "secrets.token_urlsafe(48)" in caught.value.problem
    assert SHORT not in str(caught.value)


def test_a_short_secret_key_stops_a_command_at_start(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("calendar", "--year", "2026", env={"SVARFRIST_WEB_SECRET_KEY": "abc"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: config: web.secret_key: at least 32 characters"), lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("SVARFRIST_WEB_BASE_URL", "svarfrist.fredericia.dk", "web.base_url"),
        ("SVARFRIST_WEB_BASE_URL", "https://svar frist.dk", "web.base_url"),
        ("SVARFRIST_WEB_INSECURE_HTTP", "maybe", "web.insecure_http"),
        ("SVARFRIST_WEB_MAX_BODY_BYTES", "10", "web.max_body_bytes"),
        ("SVARFRIST_WEB__PAGE_SIZE", "0", "web.page_size"),
        ("SVARFRIST_WEB__COLOUR", "red", "web.colour"),
        ("SVARFRIST_WEB_LINK_DAYS", "0", "web.link_days"),
        ("SVARFRIST_WEB__EMBED_ORIGINS", '["https://a.dk; script-src *"]', "web.embed_origins"),
        ("SVARFRIST_WEB__EMBED_ORIGINS", '["https://a.dk/path"]', "web.embed_origins"),
        ("SVARFRIST_WEB__EMBED_ORIGINS", '["a.dk"]', "web.embed_origins"),
        ("SVARFRIST_WEB__EMBED_ORIGINS", "[]", "web.embed_origins"),
    ],
)
def test_a_bad_web_setting_is_refused_naming_its_key(
    env: pytest.MonkeyPatch, variable: str, value: str, key: str
) -> None:
    env.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.key == key


def test_link_days_and_embed_origins_have_defaults_and_take_values(
    env: pytest.MonkeyPatch,
) -> None:
    defaults = load_settings().web
    assert (defaults.link_days, defaults.embed_origins) == (14, ["*"])
    env.setenv("SVARFRIST_WEB_LINK_DAYS", "3")
    env.setenv("SVARFRIST_WEB__EMBED_ORIGINS", '["https://www.fredericia.dk"]')
    web = load_settings().web
    assert (web.link_days, web.embed_origins) == (3, ["https://www.fredericia.dk"])
