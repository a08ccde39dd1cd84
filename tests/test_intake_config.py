"""[intake] settings: checked at start, naming the key; the XOAUTH2 token's sources; TLS."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracker.config import IntakeSettings, load_settings
from tracker.config.settings import HASH_KEY_NEEDED
from tracker.errors import ConfigError, EnvironmentFailure
from tracker.intake.imap import token
from tracker.intake.process import Intake

GOOD = """
default_recipient = "team@kommune.test"
[intake]
imap_host = "imap.kommune.test"
username = "borgerservice@kommune.test"
password = "pw"
default_department = "Diverse"
hash_key = "0123456789abcdef0123"
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for var in list(os.environ):
        if var.startswith("SVARFRIST_") or var == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def load(env: pytest.MonkeyPatch, tmp_path: Path, text: str) -> object:
    path = tmp_path / "svarfrist.toml"
    path.write_text(text, encoding="utf-8")
    env.setenv("SVARFRIST_CONFIG", str(path))
    return load_settings()


def test_a_complete_intake_section_loads_with_its_defaults(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = load(env, tmp_path, GOOD)
    intake = settings.intake  # type: ignore[attr-defined]
    assert (intake.folder, intake.acknowledge, intake.max_per_sender_per_day) == ("INBOX", True, 5)
    assert intake.staff_domains is None  # the mailbox's own addresses' domains
    assert "0123456789" not in repr(intake)  # the key is a secret


@pytest.mark.parametrize(
    ("change", "key"),
    [
        pytest.param(
            ('hash_key = "0123456789abcdef0123"', 'hash_key = "short"'),
            "intake.hash_key",
            id="short key",
        ),
        pytest.param(('password = "pw"', ""), "intake.password", id="no way to log in"),
        pytest.param(('"Diverse"', '"Nowhere"'), "intake.default_department", id="unknown dept"),
        pytest.param(
            (
                'hash_key = "0123456789abcdef0123"',
                'hash_key = "0123456789abcdef0123"\n[intake.departments]\n"x@k.dk" = "Nowhere"',
            ),
            "intake.departments.x@k.dk",
            id="unknown department of an address",
        ),
        pytest.param(
            ('default_recipient = "team@kommune.test"', ""),
            "default_recipient",
            id="nobody to remind",
        ),
        pytest.param(('imap_host = "imap.kommune.test"', ""), "intake.imap_host", id="no host"),
        pytest.param(
            ("[intake]", '[intake]\nmaildir = "/var/mail/bs"'),
            "intake.imap_host",
            id="an IMAP host and a maildir",
        ),
        pytest.param(
            ('username = "borgerservice@kommune.test"', ""),
            "intake.username",
            id="an IMAP host without a login",
        ),
        pytest.param(
            ("[intake]", '[intake]\nstaff_domains = ["kollega@kommune.dk"]'),
            "intake.staff_domains",
            id="an address for a staff domain",
        ),
        pytest.param(
            ("[intake]", '[intake]\nstaff_domains = ["kommune.dk", "Gmail.com"]'),
            "intake.staff_domains",
            id="a public mail provider's domain for a staff domain",
        ),
        pytest.param(
            ("[intake]", '[intake]\nstaff_domains = "kommune.dk"'),
            "intake.staff_domains",
            id="staff domains not a list",
        ),
        pytest.param(
            ("[intake]", '[intake]\nca_file = "/nonexistent/ca.pem"'),
            "intake.ca_file",
            id="a CA file that is not there",
        ),
        pytest.param(
            ("[intake]", '[intake]\nimap_security = "none"\nca_file = "/dev/null"'),
            "intake.ca_file",
            id="a CA file without TLS",
        ),
    ],
)
def test_a_bad_intake_section_fails_at_start_naming_the_key(
    env: pytest.MonkeyPatch, tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env, tmp_path, GOOD.replace(*change))
    assert str(caught.value).startswith(key) or key in str(caught.value)


OFFICES = """
[offices.vejle]
departments = ["Borgerservice Vejle"]
"""


@pytest.mark.parametrize(
    ("change", "key"),
    [
        pytest.param(
            ("[intake]", '[intake]\noffice = "nope"'), "intake.office", id="unknown office"
        ),
        pytest.param(
            ("[intake]", '[intake]\noffice = "vejle"'),
            "intake.default_department",
            id="the default department is not the office's",
        ),
        pytest.param(
            (
                'hash_key = "0123456789abcdef0123"',
                'hash_key = "0123456789abcdef0123"\n[intake.offices]\n"v@vejle.dk" = "nope"',
            ),
            "intake.offices.v@vejle.dk",
            id="an address of an unknown office",
        ),
        pytest.param(
            (
                'hash_key = "0123456789abcdef0123"',
                'hash_key = "0123456789abcdef0123"\n[intake.offices]\n"v@vejle.dk" = "vejle"',
            ),
            "intake.offices.v@vejle.dk",
            id="an office's address falls back on a department it does not have",
        ),
        pytest.param(
            (
                'hash_key = "0123456789abcdef0123"',
                'hash_key = "0123456789abcdef0123"\n[intake.offices]\n"v@vejle.dk" = "vejle"'
                '\n[intake.departments]\n"v@vejle.dk" = "Diverse"',
            ),
            "intake.departments.v@vejle.dk",
            id="an office's address with another office's department",
        ),
        pytest.param(
            (
                'hash_key = "0123456789abcdef0123"',
                'hash_key = "0123456789abcdef0123"\n[intake.offices]\n"not an address" = "vejle"',
            ),
            "intake.offices.not an address",
            id="an office's address that is no address",
        ),
    ],
)
def test_an_intake_office_or_department_that_does_not_exist_there_fails_at_start(
    env: pytest.MonkeyPatch, tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env, tmp_path, GOOD.replace(*change) + OFFICES)
    assert caught.value.key == key


# A mail's addresses are read in lower case (intake.parse): "V@Vejle.dk" as configured
# never matched, and Vejle's mail went to the default office, on its calendar.
@pytest.mark.parametrize("written", ["v@vejle.dk", "V@Vejle.dk"])
def test_one_mailbox_may_serve_several_offices_each_by_its_address(
    env: pytest.MonkeyPatch, tmp_path: Path, written: str
) -> None:
    routes = (
        f'[intake.offices]\n"{written}" = "vejle"\n'
        f'[intake.departments]\n"{written}" = "Borgerservice Vejle"\n'
    )
    settings = load(env, tmp_path, GOOD + routes + OFFICES)
    intake = settings.intake  # type: ignore[attr-defined]
    assert intake.addressed(["x@kommune.test", "v@vejle.dk"]) == ("vejle", "Borgerservice Vejle")
    assert intake.addressed(["x@kommune.test"]) == ("default", "Diverse")


def test_a_maildir_needs_no_host_and_no_login(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = GOOD.replace('imap_host = "imap.kommune.test"', f'maildir = "{tmp_path}"')
    for line in ('username = "borgerservice@kommune.test"\n', 'password = "pw"\n'):
        text = text.replace(line, "")
    settings = load(env, tmp_path, text)
    assert settings.intake is not None
    assert settings.intake.maildir == tmp_path and settings.intake.imap_host is None


MAILDIR = """
default_recipient = "team@kommune.test"
[intake]
maildir = "/var/mail/bs"
address = "borgerservice@kommune.test"
default_department = "Diverse"
hash_key = "0123456789abcdef0123"
"""


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('username = "borgerservice@kommune.test"', "username"),
        ('password = "pw"', "password"),
        ('oauth2_token_command = "/usr/local/bin/token"', "oauth2_token_command"),
        ('oauth2_token_file = "/run/svarfrist/token"', "oauth2_token_file"),
        ("imap_port = 993", "imap_port"),
        ('imap_security = "tls"', "imap_security"),
        ("timeout_seconds = 30", "timeout_seconds"),
        ('ca_file = "/dev/null"', "ca_file"),
    ],
)
def test_an_imap_key_with_a_maildir_is_refused_naming_it(
    env: pytest.MonkeyPatch, tmp_path: Path, line: str, key: str
) -> None:
    """A Maildir ignored the IMAP login keys silently: whoever set a password or a token
    command believed it was used."""
    with pytest.raises(ConfigError) as caught:
        load(env, tmp_path, MAILDIR.replace("[intake]", f"[intake]\n{line}"))
    assert caught.value.key == f"intake.{key}"
    assert "only with imap_host" in caught.value.problem


def test_an_imap_password_credential_with_a_maildir_is_refused(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "intake__password").write_text("pw\n", encoding="utf-8")
    env.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    with pytest.raises(ConfigError) as caught:
        load(env, tmp_path, MAILDIR)
    assert caught.value.key == "intake.password"


def settings_with(**kw: object) -> IntakeSettings:
    return IntakeSettings(imap_host="h", username="u", **kw)  # type: ignore[arg-type]


def test_the_xoauth2_token_comes_from_a_command(tmp_path: Path) -> None:
    script = tmp_path / "token.py"
    script.write_text("print('  ya29.token-from-command  ')\n")
    conf = settings_with(oauth2_token_command=f"{sys.executable} {script}")
    assert token(conf) == "ya29.token-from-command"


def test_the_xoauth2_token_comes_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("ya29.token-from-file\n")
    assert token(settings_with(oauth2_token_file=tmp_path / "token")) == "ya29.token-from-file"


def test_a_failing_token_command_is_an_environment_failure(tmp_path: Path) -> None:
    conf = settings_with(oauth2_token_command=f"{sys.executable} -c 'raise SystemExit(3)'")
    with pytest.raises(EnvironmentFailure, match="oauth2_token_command"):
        token(conf)
    with pytest.raises(EnvironmentFailure, match="oauth2_token_file"):
        token(settings_with(oauth2_token_file=tmp_path / "missing"))


def test_an_acknowledgement_template_without_the_ref_tag_fails_at_start(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tracker.intake.process import Intake

    (tmp_path / "t" / "da").mkdir(parents=True)
    (tmp_path / "t" / "da" / "acknowledgement.subject.j2").write_text("Tak for din mail\n")
    settings = load(
        env, tmp_path, GOOD.replace("[intake]", f'[intake]\ntemplate_dir = "{tmp_path / "t"}"')
    )
    with pytest.raises(ConfigError, match=r"intake.template_dir: the subject must keep"):
        Intake.of(settings)  # type: ignore[arg-type]
    (tmp_path / "u" / "da").mkdir(parents=True)
    (tmp_path / "u" / "da" / "acknowledgement.subject.j2").write_text("Tak [SF {{ reff }}]\n")
    settings = load(
        env, tmp_path, GOOD.replace("[intake]", f'[intake]\ntemplate_dir = "{tmp_path / "u"}"')
    )
    with pytest.raises(ConfigError, match="cannot render: 'reff' is undefined"):
        Intake.of(settings)  # type: ignore[arg-type]


def test_a_template_dir_that_holds_no_acknowledgement_template_fails_at_start(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A mistyped template_dir, or templates beside the language's folder instead of in it,
    were taken silently: the citizens got the built-in wording the office meant to replace."""
    from tracker.intake.process import Intake

    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "acknowledgement.txt.j2").write_text("Tak [SF {{ ref }}]\n")
    (tmp_path / "file").write_text("not a folder\n")
    for where, words in (
        ("missing", "is not a folder"),
        ("file", "is not a folder"),
        ("flat", "holds no da/acknowledgement.subject.j2, .txt.j2 or .html.j2"),
    ):
        text = GOOD.replace("[intake]", f'[intake]\ntemplate_dir = "{tmp_path / where}"')
        settings = load(env, tmp_path, text)
        with pytest.raises(ConfigError, match=rf"intake.template_dir: .*{where}.* {words}"):
            Intake.of(settings)  # type: ignore[arg-type]


def test_the_hash_key_is_required_where_mail_is_read_and_nowhere_else(
    env: pytest.MonkeyPatch, tmp_path: Path, run_cli: Any
) -> None:
    """Every command, the web app included, stopped without the key, so its credential had
    to be copied into the web app's unit and every wrapper. Only reading mail needs it."""
    settings = load(env, tmp_path, GOOD.replace('hash_key = "0123456789abcdef0123"', ""))
    with pytest.raises(ConfigError) as caught:
        Intake.of(settings)  # type: ignore[arg-type]
    assert caught.value.key == "intake.hash_key" and "intake__hash_key" in caught.value.problem
    path = tmp_path / "svarfrist.toml"
    database = f"sqlite:///{tmp_path / 'r.db'}"
    env_vars = {"SVARFRIST_CONFIG": str(path), "SVARFRIST_DATABASE_URL": database}
    assert run_cli("init", env=env_vars).returncode == 0
    assert run_cli("list", env=env_vars).returncode == 0
    once = run_cli("intake", "--once", env=env_vars)
    assert once.returncode == 2
    assert once.stderr.splitlines() == [f"error: config: intake.hash_key: {HASH_KEY_NEEDED}"]


@pytest.mark.parametrize("from_file", [True, False], ids=["config-file", "no-config-file"])
def test_an_intake_key_from_the_environment_without_an_intake_section_says_so(
    env: pytest.MonkeyPatch, tmp_path: Path, from_file: bool
) -> None:
    """A credential or variable for intake on a deployment without [intake] was told
    ``intake.hash_key: required``, or ``intake.imap_host: give imap_host or maildir``: as
    if the section were there and incomplete."""
    if from_file:
        path = tmp_path / "svarfrist.toml"
        path.write_text('default_recipient = "team@kommune.test"\n', encoding="utf-8")
        env.setenv("SVARFRIST_CONFIG", str(path))
    env.setenv("SVARFRIST_INTAKE__PASSWORD", "Hemmeligt42")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.key == "intake"
    assert "not configured: no [intake] section" in caught.value.problem
    assert "SVARFRIST_INTAKE__PASSWORD" in caught.value.problem
    assert "Hemmeligt42" not in caught.value.problem
    env.delenv("SVARFRIST_INTAKE__PASSWORD")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "intake__hash_key").write_text("0123456789abcdef0123\n", encoding="utf-8")
    env.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    with pytest.raises(ConfigError, match=r"no \[intake\] section.*credential intake__hash_key"):
        load_settings()


def test_an_intake_section_in_the_environment_alone_still_works(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in {
        "MAILDIR": str(tmp_path),
        "DEFAULT_DEPARTMENT": "Diverse",
        "HASH_KEY": "0123456789abcdef0123",
    }.items():
        env.setenv(f"SVARFRIST_INTAKE__{key}", value)
    env.setenv("SVARFRIST_DEFAULT_RECIPIENT", "team@kommune.test")
    settings = load_settings()
    assert settings.intake is not None and settings.intake.maildir == tmp_path
