"""Settings: environment ``SVARFRIST_*`` over a TOML file over built-in defaults.

The TOML file comes from ``SVARFRIST_CONFIG``, else ``/etc/svarfrist/svarfrist.toml`` if it
exists, else none. Secrets may also come from systemd credentials (``$CREDENTIALS_DIRECTORY``,
file ``smtp__password``). The flat environment names of docs/contract.md (``SVARFRIST_SMTP_HOST``)
work as written; the nested form (``SVARFRIST_SMTP__HOST``) works too. A bad setting fails at
start with one line naming the key; a ``SVARFRIST_*`` variable that names nothing is warned of.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tracker.core import validate
from tracker.core.calendar import (
    BUILTIN_SCHEDULES,
    BusinessCalendar,
    ClosedDayRules,
    Schedule,
    parse_interval,
)
from tracker.core.units import MINUTES_PER_DAY
from tracker.errors import BadInputError, ConfigError
from tracker.sla import DEFAULT_RULES, Channel, Fulfilment, Rule

SYSTEM_CONFIG = Path("/etc/svarfrist/svarfrist.toml")
ENV_PREFIX = "SVARFRIST_"
# docs/contract.md's flat names for nested settings: they must work exactly as written.
FLAT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "SVARFRIST_SMTP_HOST": ("smtp", "host"),
    "SVARFRIST_SMTP_PORT": ("smtp", "port"),
    "SVARFRIST_SMTP_SECURITY": ("smtp", "security"),
    "SVARFRIST_SMTP_USERNAME": ("smtp", "username"),
    "SVARFRIST_SMTP_PASSWORD": ("smtp", "password"),
    "SVARFRIST_WEB_BASE_URL": ("web", "base_url"),
    "SVARFRIST_WEB_SECRET_KEY": ("web", "secret_key"),
    "SVARFRIST_WEB_SECRET_KEY_FILE": ("web", "secret_key_file"),
    "SVARFRIST_WEB_INSECURE_HTTP": ("web", "insecure_http"),
    "SVARFRIST_WEB_MAX_BODY_BYTES": ("web", "max_body_bytes"),
    "SVARFRIST_WEB_LANGUAGE": ("web", "language"),
    "SVARFRIST_WEB_LINK_DAYS": ("web", "link_days"),
    "SVARFRIST_WEB_RESTRICT_DEPARTMENTS": ("web", "restrict_departments"),
    **{
        f"SVARFRIST_WEB_OIDC_{key.upper()}": ("web", "oidc", key)
        for key in (
            "discovery_url",
            "client_id",
            "client_secret",
            "client_secret_file",
            "scopes",
            "groups_claim",
            "button_label",
            "local_login",
        )
    },
}
# Variables that are not settings but are read by Svarfrist or its test suite.
NON_SETTING_VARIABLES = frozenset({"SVARFRIST_CONFIG"})

DEFAULT_DEPARTMENTS = [
    "Arbejdsmarked og Borgerservice",
    "Diverse",
    "Teknik og Miljø",
    "Pleje og Omsorg",
    "Familie og Børnesundhed",
    "Voksenservice",
    "Børn og Unge",
    "Kultur og Idræt",
    "Økonomi og Personale",
]
DEFAULT_TOPICS = [
    "Sygedagpengesager i JC",
    "Kontanthjælp",
    "Enkeltydelse",
    "Jobcenter (langtidsledige)",
    "Voksenservice",
    "Uddannelseshjælp",
    "Boligindskudslån",
    "Jobafklaringsforløb",
]

_STRICT = ConfigDict(extra="forbid")
# The longest rule a deadline search is meant for: a year of hours. More is a typo (and
# the search for working time would run for decades of calendar before giving up).
MAX_RULE_HOURS = 365 * 24


class SmtpSettings(BaseModel):
    model_config = _STRICT
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    ca_file: str | None = None
    """PEM file of the CA(s) that signed the SMTP server's certificate (an internal CA)."""


class CalendarSettings(BaseModel):
    model_config = _STRICT
    country: str = "DK"
    timezone: Literal["Europe/Copenhagen"] = "Europe/Copenhagen"
    extra_closed_days: list[str] = ["06-05", "12-24", "12-31"]
    """Month-day pairs closed every year (Grundlovsdag, Juleaftensdag, Nytårsaftensdag)."""
    closed_dates: list[date] = []
    opened_dates: list[date] = []
    half_days: dict[str, time] = {}
    """"YYYY-MM-DD" (once) or "MM-DD" (every year) -> the time the office closes."""


class ScheduleSettings(BaseModel):
    model_config = _STRICT
    monday: list[str] = []
    tuesday: list[str] = []
    wednesday: list[str] = []
    thursday: list[str] = []
    friday: list[str] = []
    saturday: list[str] = []
    sunday: list[str] = []
    closed_days: bool = True
    """Whether closed days stop this clock (``calendar_days`` does not)."""


class RuleSettings(BaseModel):
    """Overrides of one rule; unset fields keep the built-in rule's value."""

    model_config = _STRICT
    enabled: bool | None = None
    hours: float | None = Field(default=None, ge=0, le=MAX_RULE_HOURS)
    schedule: str | None = None
    warn_before: float | None = Field(default=None, ge=0, le=MAX_RULE_HOURS)
    channels: list[Channel] | None = None
    requires_callback: bool | None = None
    requires_promise: bool | None = None
    fulfilled_by: Fulfilment | None = None


class RemindersSettings(BaseModel):
    model_config = _STRICT
    window_schedule: str = "sending_window"
    """The schedule inside which e-mails go out (default working days 07:00-18:00)."""
    digest_time: time | None = time(7, 30)
    escalation_after_hours: float | None = Field(default=None, ge=0)
    escalation_to: str | None = None
    language: Literal["da", "en"] = "da"
    catch_up_after_minutes: int = Field(default=30, ge=1)
    """Reminders this late (after downtime) go out as one message per recipient."""


class DaemonSettings(BaseModel):
    model_config = _STRICT
    sweep_interval_seconds: int = Field(default=60, ge=1)
    status_max_age_seconds: int = Field(default=600, ge=1)
    purge_time: time = time(3, 0)
    claim_lease_seconds: int = Field(default=300, ge=10)
    max_attempts: int = Field(default=10, ge=1)
    status_max_undelivered_seconds: int = Field(default=900, ge=1)
    """``status`` is unhealthy when a due message has waited longer than this (SMTP down)."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve Prometheus metrics on this port while ``svarfrist run`` runs (off when unset)."""
    metrics_host: str = "127.0.0.1"
    """The address the metrics port binds to: loopback unless a scraper needs more."""


class ReportSettings(BaseModel):
    model_config = _STRICT
    management_recipients: list[str] = []
    monthly_time: time = time(8, 0)


ROLE_NAMES = ("advisor", "lead", "manager", "admin")
"""The web app's roles (tracker.store.access.Role), lowest first."""


class OidcGroupSettings(BaseModel):
    """``[web.oidc.groups."<group id>"]``: what membership of one provider group gives."""

    model_config = _STRICT
    role: Literal["advisor", "lead", "manager", "admin"]
    departments: list[str] = []
    """The departments the group's members work in (``web.restrict_departments``)."""
    # Offices (issue 16, item 1) add an ``office`` key here: the group's office.


class OidcSettings(BaseModel):
    """``[web.oidc]``: single sign-on with an OpenID Connect provider (docs/operations.md)."""

    model_config = _STRICT
    discovery_url: str
    """The provider's ``.well-known/openid-configuration`` (Entra ID: the tenant's own)."""
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    """Also from ``client_secret_file`` or the systemd credential ``web__oidc__client_secret``."""
    client_secret_file: Path | None = None
    scopes: str = "openid email profile"
    groups_claim: str = Field(default="groups", min_length=1)
    """The ID token's claim that lists the user's groups."""
    button_label: str = Field(default="Log ind med kommunens konto", min_length=1)
    local_login: bool = True
    """false: the login page shows only the provider's button and a local password is
    refused; set it back to true to let local accounts in during a provider outage."""
    groups: dict[str, OidcGroupSettings] = {}
    """Group id -> role (and departments); a user in none of them is refused."""

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("must include openid")
        return " ".join(value.split())

    def secret(self) -> SecretStr | None:
        """The client secret, from the setting or else the file it names."""
        return _secret_or_file(self.client_secret, self.client_secret_file, "web.oidc")


def _secret_or_file(value: SecretStr | None, path: Path | None, key: str) -> SecretStr | None:
    if value is not None or path is None:
        return value
    name = "client_secret_file" if key == "web.oidc" else "secret_key_file"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{key}.{name}", f"cannot read: {exc.strerror}") from None
    return SecretStr(text) if text else None


class WebSettings(BaseModel):
    """``svarfrist web``: the web app and the HTTP API (docs/contract.md "HTTP")."""

    model_config = _STRICT
    base_url: str | None = None
    """The app's address as users reach it (https://svarfrist.kommune.dk), for mails' links."""
    secret_key: SecretStr | None = None
    """Signs session cookies and mail links. Also from ``secret_key_file`` or the systemd
    credential ``web__secret_key``."""
    secret_key_file: Path | None = None
    insecure_http: bool = False
    """Cookies without ``Secure``: only for a laptop demo over plain http://."""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    """A request body larger than this is refused with 413 before it is read."""
    page_size: int = Field(default=50, ge=1, le=1000)
    """Items per page of ``GET /api/v1/inquiries`` without ``limit``."""
    max_page_size: int = Field(default=500, ge=1, le=10_000)
    """The largest ``limit`` a client may ask for."""
    language: Literal["da", "en"] = "da"
    """The pages' language: Danish, or English where an office asks for it."""
    link_days: int = Field(default=14, ge=1, le=365)
    """How many days a one-click link in a reminder mail works (it works once)."""
    restrict_departments: bool = False
    """Users and tokens tied to departments (``--department``) see and act only on those
    departments' inquiries; advisors and leads tied to none see none (tracker.store.scope)."""
    embed_origins: list[str] = ["*"]
    """Who may show the public pages (/offentlig/...) in an ``<iframe>``: ``*`` (any site) or
    origins such as ``https://www.fredericia.dk``. Every other page refuses to be framed."""
    oidc: OidcSettings | None = None
    """Single sign-on; without ``[web.oidc]``, local accounts only."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = value.strip().rstrip("/")
        if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
            raise ValueError("must be an http:// or https:// address")
        return url

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        # Each lands in a Content-Security-Policy header: nothing that could end the directive.
        for origin in value:
            bare = origin.startswith(("https://", "http://")) and origin.count("/") == 2
            if origin != "*" and (not bare or any(c.isspace() or c in ";,'\"" for c in origin)):
                raise ValueError(f"{origin!r} is not * or an origin such as https://example.dk")
        if not value:
            raise ValueError("name at least one origin, or * for any")
        return value

    def key(self) -> SecretStr | None:
        """The secret key, from the setting or else the file it names."""
        return _secret_or_file(self.secret_key, self.secret_key_file, "web")


class IntakeSettings(BaseModel):
    """``svarfrist intake``: a mailbox read over IMAP, or a local Maildir (docs/intake.md)."""

    model_config = _STRICT
    imap_host: str | None = None
    maildir: Path | None = None
    """A local Maildir read instead of an IMAP server (the demo; local delivery)."""
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    """Default 993 with ``tls``, else 143."""
    imap_security: Literal["tls", "starttls", "none"] = "tls"
    username: str = ""
    """The IMAP login (required with ``imap_host``)."""
    password: SecretStr | None = None
    oauth2_token_command: str | None = None
    """A command that prints an OAuth2 access token (XOAUTH2: Exchange Online, Google)."""
    oauth2_token_file: Path | None = None
    """A file holding an OAuth2 access token, refreshed by something else."""
    ca_file: str | None = None
    folder: str = "INBOX"
    done_folder: str = "Svarfrist/Registreret"
    ignored_folder: str = "Svarfrist/Ignoreret"
    error_folder: str = "Svarfrist/Fejl"
    sent_folder: str | None = None
    """Where advisors' replies are kept (``Sent``): read for replies that fulfil ``answer``."""
    address: str | None = None
    """The mailbox's own address (default ``username`` when it is an address): mail from it
    is never a citizen's, and a Bcc of a reply to it fulfils ``answer``."""
    acknowledge: bool = True
    language: Literal["da", "en"] = "da"
    template_dir: Path | None = None
    """The office's own wording of the acknowledgement: ``<language>/acknowledgement.subject.j2``,
    ``.txt.j2``, ``.html.j2`` (each optional; the subject must keep ``[SF {{ ref }}]``)."""
    departments: dict[str, str] = {}
    """Address the mail was sent to -> department."""
    default_department: str | None = None
    hash_key: SecretStr | None = None
    """The HMAC key of the Message-ID and sender hashes (required; keep it secret)."""
    max_per_sender_per_day: int = Field(default=5, ge=1)
    poll_seconds: int = Field(default=60, ge=1)
    """Polling interval when the server has no IDLE (and the longest IDLE wait)."""
    timeout_seconds: float = Field(default=60.0, gt=0)
    batch: int = Field(default=200, ge=1, le=10_000)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        secrets_prefix="",
        secrets_nested_delimiter="__",
    )

    database_url: str = "sqlite:///svarfrist.db"
    mail_from: str = "svarfrist@localhost"
    default_recipient: str | None = None
    note_max_length: int = Field(default=4000, ge=0)
    retention_days: int = Field(default=30, ge=0)
    population: int | None = Field(default=None, gt=0)
    """Adult population, for the annual report's share of the population that made contact."""
    ref_prefix: str = ""
    clock_skew_minutes: int = Field(default=5, ge=0, le=24 * 60)
    """How far past the clock (or --now) an event's time may be: machines that disagree."""
    departments: list[str] = DEFAULT_DEPARTMENTS
    topics: list[str] = DEFAULT_TOPICS
    calendar: CalendarSettings = CalendarSettings()
    schedules: dict[str, ScheduleSettings] = {}
    rules: dict[str, RuleSettings] = {}
    smtp: SmtpSettings = SmtpSettings()
    reminders: RemindersSettings = RemindersSettings()
    daemon: DaemonSettings = DaemonSettings()
    reports: ReportSettings = ReportSettings()
    web: WebSettings = WebSettings()
    intake: IntakeSettings | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _FlatContractEnv(settings_cls),
            env_settings,
            NestedSecretsSettingsSource(file_secret_settings),
        ]
        toml = config_path()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


class _FlatContractEnv(PydanticBaseSettingsSource):
    """Reads docs/contract.md's flat names (``SVARFRIST_SMTP_HOST``) into the nested settings."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for var, (*sections, key) in FLAT_ALIASES.items():
            if var in os.environ:
                table = found
                for section in sections:
                    table = table.setdefault(section, {})
                table[key] = os.environ[var]
        return found


def config_path() -> Path | None:
    explicit = os.environ.get("SVARFRIST_CONFIG")
    if explicit:
        return Path(explicit)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``SVARFRIST_*`` variables that name no setting (``SVARFRIST_TEST_*`` are exempt)."""
    top = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = []
    for var in environ:
        if not var.startswith(ENV_PREFIX) or var.startswith("SVARFRIST_TEST_"):
            continue
        if var in top or var in FLAT_ALIASES or var in NON_SETTING_VARIABLES:
            continue
        head = var.split("__", 1)[0]
        if "__" in var and head in top:
            continue
        unknown.append(var)
    return sorted(unknown)


def load_settings() -> Settings:
    """Load and validate settings, raising ConfigError with one line naming the bad key."""
    path = config_path()
    if path is not None:
        if not path.is_file():
            raise ConfigError("SVARFRIST_CONFIG", f"no such file: {path}")
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    secrets_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    try:
        settings = Settings(_secrets_dir=secrets_dir)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(key, first["msg"]) from None
    except SettingsError as exc:  # a variable that is not the JSON a list or table needs
        raise ConfigError(_variable_of(exc), f"not valid JSON: {exc.__cause__}") from None
    check_settings(settings)
    build_calendar(settings)
    build_rules(settings)
    return settings


def _variable_of(exc: SettingsError) -> str:
    """The environment variable pydantic-settings could not parse (it names only the field)."""
    match = re.search(r'field "(\w+)"', str(exc))
    return ENV_PREFIX + match.group(1).upper() if match else "environment"


# ``Name <address>``: a display name before one bracketed address.
_NAMED_ADDRESS = re.compile(r"([^<>]*)<([^<>]+)>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_settings(settings: Settings) -> None:
    """What pydantic's types cannot say: one address per address key, with no CR/LF that
    would add a header or a recipient; a ref prefix that makes valid refs; a database URL
    that parses. Raises ConfigError naming the key; never echoes a password."""
    addresses: list[tuple[str, str | None]] = [
        ("mail_from", settings.mail_from),
        ("default_recipient", settings.default_recipient),
        ("reminders.escalation_to", settings.reminders.escalation_to),
    ]
    addresses += [
        (f"reports.management_recipients[{i}]", value)
        for i, value in enumerate(settings.reports.management_recipients)
    ]
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
    try:
        validate.ref_prefix(settings.ref_prefix)
    except BadInputError:
        raise ConfigError(
            "ref_prefix", "must be letters, digits, '.', '-', '/' or '_' (as --ref)"
        ) from None
    check_database_url(settings.database_url)
    if settings.web.oidc is not None:
        check_oidc(settings, settings.web.oidc)
    if settings.intake is not None:
        check_intake(settings, settings.intake)


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
    (the redirect URI is built from it), a client secret, groups that map to something."""
    url = urlsplit(oidc.discovery_url.strip())
    secure = url.scheme == "https" or (url.scheme == "http" and is_loopback(url.hostname))
    if not url.hostname or not secure:
        raise ConfigError(
            "web.oidc.discovery_url", "must be an https:// address (http:// only on loopback)"
        )
    if settings.web.base_url is None:
        raise ConfigError("web.base_url", "required with [web.oidc] (the redirect URI's base)")
    if oidc.secret() is None:
        raise ConfigError(
            "web.oidc.client_secret",
            "required: client_secret, client_secret_file or the credential "
            "web__oidc__client_secret",
        )
    if not oidc.groups:
        raise ConfigError("web.oidc.groups", "map at least one group id to a role")
    for group, mapped in oidc.groups.items():
        for department in mapped.departments:
            if department not in settings.departments:
                raise ConfigError(
                    f"web.oidc.groups.{group}.departments", f"unknown department {department!r}"
                )


def check_intake(settings: Settings, intake: IntakeSettings) -> None:
    """[intake]: a key to hash with, one way to log in, departments that exist, addresses."""
    if intake.hash_key is None or len(intake.hash_key.get_secret_value()) < 16:
        raise ConfigError("intake.hash_key", "required: a secret of at least 16 characters")
    if (intake.imap_host is None) == (intake.maildir is None):
        raise ConfigError("intake.imap_host", "give imap_host or maildir (one of them)")
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
    named = dict(intake.departments)
    if intake.default_department is not None:
        named["default_department"] = intake.default_department
    for where, department in named.items():
        if department not in settings.departments:
            key = "intake.default_department" if where == "default_department" else where
            raise ConfigError(
                key if key.startswith("intake.") else f"intake.departments.{key}",
                f"unknown department {department!r}",
            )
    for key, value in [("intake.address", intake.address)] + [
        (f"intake.departments.{a}", a) for a in intake.departments
    ]:
        if value is not None:
            try:
                validate.address(value, key)
            except BadInputError:
                raise ConfigError(key, f"{value!r} is not one e-mail address") from None
    if settings.default_recipient is None:
        raise ConfigError(
            "default_recipient", "mail intake needs it: it is reminded of intake's inquiries"
        )


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


def masked_url(url: str) -> str:
    """The database URL with its password replaced by ***, for display."""
    return make_url(url).render_as_string(hide_password=True)


def build_schedules(settings: Settings) -> dict[str, Schedule]:
    schedules: dict[str, Schedule] = dict(BUILTIN_SCHEDULES)
    window = ((7 * 60, 18 * 60),)
    schedules["sending_window"] = Schedule(name="sending_window", week=(window,) * 5 + ((), ()))
    for name, spec in settings.schedules.items():
        days = (
            spec.monday,
            spec.tuesday,
            spec.wednesday,
            spec.thursday,
            spec.friday,
            spec.saturday,
            spec.sunday,
        )
        try:
            week = tuple(tuple(sorted(parse_interval(text) for text in day)) for day in days)
            schedules[name] = Schedule(name=name, week=week, observes_closed_days=spec.closed_days)
        except BadInputError as exc:
            raise ConfigError(f"schedules.{name}", str(exc)) from None
    window_name = settings.reminders.window_schedule
    if window_name not in schedules:
        raise ConfigError(
            "reminders.window_schedule",
            f"unknown schedule {window_name!r} (one of: {', '.join(sorted(schedules))})",
        )
    return schedules


def build_calendar(settings: Settings) -> BusinessCalendar:
    cal = settings.calendar
    extra = tuple(_month_day(text, "calendar.extra_closed_days") for text in cal.extra_closed_days)
    once: dict[date, time] = {}
    yearly: dict[tuple[int, int], time] = {}
    for key, closes in cal.half_days.items():
        if closes.hour * 60 + closes.minute >= MINUTES_PER_DAY:
            raise ConfigError(f"calendar.half_days.{key}", "closing time must be before 24:00")
        if len(key) == 5:
            yearly[_month_day(key, f"calendar.half_days.{key}")] = closes
        else:
            try:
                once[date.fromisoformat(key)] = closes
            except ValueError:
                raise ConfigError(
                    f"calendar.half_days.{key}", "expected YYYY-MM-DD or MM-DD"
                ) from None
    both = set(cal.opened_dates) & (set(cal.closed_dates) | set(once))
    if both:
        raise ConfigError("calendar.opened_dates", f"{min(both)} is also closed or a half day")
    rules = ClosedDayRules(
        country=cal.country,
        extra_closed=extra,
        closed_dates=frozenset(cal.closed_dates),
        half_days=once,
        yearly_half_days=yearly,
        opened_dates=frozenset(cal.opened_dates),
    )
    try:
        rules.closed_days(2000)
    except (NotImplementedError, KeyError, AttributeError):
        raise ConfigError("calendar.country", f"unknown country {cal.country!r}") from None
    return BusinessCalendar(rules=rules, schedules=build_schedules(settings))


def _month_day(text: str, key: str) -> tuple[int, int]:
    try:
        parsed = date.fromisoformat(f"2000-{text}")  # a leap year: 02-29 is allowed
    except ValueError:
        raise ConfigError(key, f"{text!r} is not a MM-DD date") from None
    return parsed.month, parsed.day


def build_rules(settings: Settings) -> dict[str, Rule]:
    """The built-in rules with the config's overrides, plus rules defined only in config."""
    schedules = build_schedules(settings)
    rules: dict[str, Rule] = {}
    for name in list(DEFAULT_RULES) + [n for n in settings.rules if n not in DEFAULT_RULES]:
        base = DEFAULT_RULES.get(name)
        spec = settings.rules.get(name, RuleSettings())
        if base is None and spec.hours is None:
            raise ConfigError(f"rules.{name}.hours", "a new rule needs hours")
        values: dict[str, Any] = {
            k: v for k, v in spec.model_dump(exclude_none=True).items() if k != "channels"
        }
        if spec.channels is not None:
            values["channels"] = frozenset(str(c) for c in spec.channels)
        rule = Rule(**{**(_rule_fields(base) if base else {"name": name}), **values})
        if rule.schedule not in schedules:
            raise ConfigError(f"rules.{name}.schedule", f"unknown schedule {rule.schedule!r}")
        rules[name] = rule
    return rules


def _rule_fields(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "hours": rule.hours,
        "schedule": rule.schedule,
        "warn_before": rule.warn_before,
        "channels": rule.channels,
        "requires_callback": rule.requires_callback,
        "fulfilled_by": rule.fulfilled_by,
        "enabled": rule.enabled,
        "requires_promise": rule.requires_promise,
    }
