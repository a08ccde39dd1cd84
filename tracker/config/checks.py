"""What pydantic's types cannot check: addresses, refs, URLs, [web.oidc], [intake]."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tracker.config.settings import (
    HASH_KEY_NEEDED,
    IMAP_ONLY_KEYS,
    MIN_HASH_KEY,
    IntakeSettings,
    OidcSettings,
    Settings,
)
from tracker.core import validate
from tracker.errors import BadInputError, ConfigError

_NAMED_ADDRESS = re.compile(r"([^<>]*)<([^<>]+)>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_settings(settings: Settings) -> None:
    """What pydantic's types cannot say: one address per address key, with no CR/LF that
    would add a header or a recipient; a ref prefix that makes valid refs; a database URL
    that parses. Raises ConfigError naming the key; never echoes a password."""
    addresses: list[tuple[str, str | None]] = [("mail_from", settings.mail_from)]
    addresses += recipient_keys(settings)
    addresses += [
        (f"reports.management_recipients[{i}]", value)
        for i, value in enumerate(settings.reports.management_recipients)
    ]
    check_addresses(addresses)
    try:
        validate.ref_prefix(settings.ref_prefix)
    except BadInputError:
        raise ConfigError(
            "ref_prefix", "must be letters, digits, '.', '-', '/' or '_' (as --ref)"
        ) from None
    check_database_url(settings.database_url)
    secret_key = settings.web.secret_key
    if secret_key is not None and secret_key.get_secret_value().strip():
        settings.web.key()  # long enough; a key_file is read (and checked) where it is used
    check_ca_file("smtp.ca_file", settings.smtp.ca_file, ("smtp.security", settings.smtp.security))
    if settings.intake is not None:
        intake_security = ("intake.imap_security", settings.intake.imap_security)
        check_ca_file("intake.ca_file", settings.intake.ca_file, intake_security)
    if settings.web.oidc is not None:
        check_oidc(settings, settings.web.oidc)
    if settings.intake is not None:
        check_intake(settings, settings.intake)


def recipient_keys(settings: Settings, prefix: str = "") -> list[tuple[str, str | None]]:
    """The addresses an office's reminders go to, by key: the default recipient and the
    escalation address(es), each escalated department one the office has."""
    found: list[tuple[str, str | None]] = [
        (f"{prefix}default_recipient", settings.default_recipient)
    ]
    escalation = settings.reminders.escalation_to
    if isinstance(escalation, dict):
        for department, address in escalation.items():
            key = f"{prefix}reminders.escalation_to.{department}"
            if department not in settings.departments:
                raise ConfigError(key, f"unknown department {department!r}")
            found.append((key, address))
    else:
        found.append((f"{prefix}reminders.escalation_to", escalation))
    return found


def check_escalation(settings: Settings, prefix: str = "") -> None:
    """Escalation needs both its keys: the hours past the deadline and whom to tell. One
    without the other escalated nothing, silently; ConfigError names the missing one. Each
    office is checked as it applies (its own keys over the top level's); an empty table
    (``escalation_to = {}``) is escalation configured off, not half of it."""
    reminders = settings.reminders
    if reminders.escalation_after_hours is not None and reminders.escalation_to is None:
        raise ConfigError(
            f"{prefix}reminders.escalation_to",
            "required with escalation_after_hours (the address, or a table department -> "
            "address, that escalations go to); without it nothing is escalated",
        )
    if reminders.escalation_to is not None and reminders.escalation_after_hours is None:
        raise ConfigError(
            f"{prefix}reminders.escalation_after_hours",
            "required with escalation_to (working hours past the deadline before an "
            "escalation goes out); without it nothing is escalated",
        )


def check_addresses(addresses: list[tuple[str, str | None]]) -> None:
    """Each value one address (``mail_from`` may carry a display name), else ConfigError."""
    for key, value in addresses:
        if value is None:
            continue
        # The sender alone may carry a display name ("Fredericia Kommune <svarfrist@...>"),
        # which the mail layer puts in From; the address inside follows the one rule.
        named = _NAMED_ADDRESS.fullmatch(value) if key == "mail_from" else None
        try:
            if named and not _CONTROL.search(named.group(1)):
                validate.address(named.group(2), key)
            else:
                validate.address(value, key)
        except BadInputError:
            raise ConfigError(
                key, f"{value!r} is not one e-mail address (no list or line break)"
            ) from None


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost: this machine, where plain http is no risk."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_oidc(settings: Settings, oidc: OidcSettings) -> None:
    """[web.oidc]: an https discovery URL (http only on loopback), the web app's own address
    (the redirect URI is built from it), groups that map to something. The client secret is
    required where it is used (OidcSettings.required_secret: the web app at start)."""
    url = urlsplit(oidc.discovery_url.strip())
    secure = url.scheme == "https" or (url.scheme == "http" and is_loopback(url.hostname))
    if not url.hostname or not secure:
        raise ConfigError(
            "web.oidc.discovery_url", "must be an https:// address (http:// only on loopback)"
        )
    if settings.web.base_url is None:
        raise ConfigError("web.base_url", "required with [web.oidc] (the redirect URI's base)")
    if not oidc.groups:
        raise ConfigError("web.oidc.groups", "map at least one group id to a role")
    # each group's office and its departments: tracker.config.offices.check_offices


def check_intake(settings: Settings, intake: IntakeSettings) -> None:
    """[intake]: a key to hash with, one mailbox (IMAP with one way to log in, or a Maildir
    without any IMAP key), departments that exist, addresses."""
    # The key is required where mail is read (tracker.intake.process.Intake.of: intake,
    # run): only those need its credential. A key that is given must be long enough.
    if intake.hash_key is not None and len(intake.hash_key.get_secret_value()) < MIN_HASH_KEY:
        raise ConfigError("intake.hash_key", HASH_KEY_NEEDED)
    if (intake.imap_host is None) == (intake.maildir is None):
        raise ConfigError("intake.imap_host", "give imap_host or maildir (one of them)")
    if intake.maildir is not None:
        for name in IMAP_ONLY_KEYS:
            if name in intake.model_fields_set:
                raise ConfigError(
                    f"intake.{name}",
                    "only with imap_host: a local Maildir has no server and no login, and "
                    "would ignore it (the mailbox's own address is address); remove it",
                )
    if intake.imap_host is not None and not intake.username:
        raise ConfigError("intake.username", "required with imap_host")
    if (
        intake.imap_host is not None
        and intake.password is None
        and not intake.oauth2_token_command
        and not (intake.oauth2_token_file)
    ):
        raise ConfigError(
            "intake.password", "give password, oauth2_token_command or oauth2_token_file"
        )
    if intake.default_department is None and not intake.departments:
        raise ConfigError("intake.default_department", "required without [intake.departments]")
    # Each address's office and department exist: checked with the offices (check_offices).
    for key, value in (
        [("intake.address", intake.address)]
        + [(f"intake.departments.{a}", a) for a in intake.departments]
        + [(f"intake.offices.{a}", a) for a in intake.offices]
    ):
        if value is not None:
            try:
                validate.address(value, key)
            except BadInputError:
                raise ConfigError(key, f"{value!r} is not one e-mail address") from None
    if settings.default_recipient is None:
        raise ConfigError(
            "default_recipient", "mail intake needs it: it is reminded of intake's inquiries"
        )


def check_ca_file(key: str, path: str | None, security: tuple[str, str]) -> None:
    """A CA file that can be read: one that cannot would fail every connection to the mail
    server, retried for ever as if the server could not be reached. And a connection that
    uses it: with security ``none`` nothing is encrypted and no certificate is checked."""
    if path is None:
        return
    security_key, mode = security
    if mode == "none":
        raise ConfigError(
            key,
            f'only with {security_key} "starttls" or "tls": with "none" the connection is '
            "not encrypted and no certificate is checked against the CA",
        )
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from None


def check_database_url(url: str) -> None:
    """A URL SQLAlchemy can parse, with a numeric port. The message shows the URL's shape
    only: the text may hold a password, and a malformed URL cannot be masked reliably."""
    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError):
        raise ConfigError(
            "database_url",
            "not a database URL (expected sqlite:///PATH or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE)",
        ) from None
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("database_url", f"port {port} is not between 1 and 65535")
    if "@" in (parsed.host or ""):
        # The URL splits at the first '@': the rest of the password would be shown as host.
        raise ConfigError("database_url", "an '@' in the user name or password must be written %40")


def masked_url(url: str) -> str:
    """The database URL with its password replaced by ***, for display."""
    return make_url(url).render_as_string(hide_password=True)
