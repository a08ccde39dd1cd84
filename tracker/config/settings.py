"""Settings: environment ``SVARFRIST_*`` over a TOML file over built-in defaults.

The TOML file comes from ``SVARFRIST_CONFIG``, else ``/etc/svarfrist/svarfrist.toml`` if it
exists, else none. Secrets may also come from systemd credentials (``$CREDENTIALS_DIRECTORY``,
file ``smtp__password``). The flat environment names of docs/contract.md (``SVARFRIST_SMTP_HOST``)
work as written; the nested form (``SVARFRIST_SMTP__HOST``) works too. A bad setting fails at
start with one line naming the key; a ``SVARFRIST_*`` variable that names nothing is warned of.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tracker.core import validate
from tracker.errors import ConfigError
from tracker.sla import Channel, Fulfilment

SYSTEM_CONFIG = Path("/etc/svarfrist/svarfrist.toml")
ENV_PREFIX = "SVARFRIST_"
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

# Public mail providers' domains: citizens write from them, so none is ever a colleague's
# (IntakeSettings.staff), even where the office's own mailbox is at one.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "outlook.dk", "hotmail.com",
        "hotmail.dk", "live.com", "live.dk", "msn.com", "yahoo.com", "yahoo.dk",
        "icloud.com", "me.com", "mac.com", "aol.com", "gmx.com", "gmx.net", "gmx.de",
        "proton.me", "protonmail.com", "pm.me", "mail.com", "mail.dk", "jubii.dk",
        "ofir.dk", "sol.dk", "email.dk", "privat.dk", "c.dk", "youmail.dk", "get2net.dk",
        "stofanet.dk", "webspeed.dk", "tdcadsl.dk", "post.tele.dk", "mail.tele.dk",
        "yandex.com", "zoho.com",
    }
)  # fmt: skip
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
    escalation_to: str | dict[str, str] | None = None
    """One address for every department, or a table department -> address (a department
    not in the table is not escalated)."""
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
    office: str = "*"
    """The office the group's members work in (``[offices.<key>]`` or ``default``); ``*``:
    every office. A user whose mapped groups name two different offices is refused."""


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

    def required_secret(self) -> str:
        """The client secret where it is used: the web app, at start. The daemon and the
        other commands never need its credential, so it is not required at load."""
        found = self.secret()
        if found is None:
            raise ConfigError(
                "web.oidc.client_secret",
                "required by the web app: client_secret, client_secret_file or the credential "
                "web__oidc__client_secret",
            )
        return found.get_secret_value()


def _secret_or_file(value: SecretStr | None, path: Path | None, key: str) -> SecretStr | None:
    # An empty value (``Environment=SVARFRIST_WEB_SECRET_KEY=``, an empty credential) is no
    # secret, as an empty file is: never a key anyone could sign with.
    if value is not None and value.get_secret_value().strip():
        return value
    if path is None:
        return None
    name = "client_secret_file" if key == "web.oidc" else "secret_key_file"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{key}.{name}", f"cannot read: {exc.strerror}") from None
    return SecretStr(text) if text else None


MIN_SECRET_KEY_LENGTH = 32
"""The shortest ``web.secret_key``: it signs session cookies and one-click mail links, so a
short one could be found by trying and a log-in or a link forged."""
MAKE_SECRET_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


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
    list_threads: int = Field(default=4, ge=1, le=64)
    """How many lists (``GET /api/v1/inquiries``, *Mine frister*) one web process builds at
    once; more wait their turn. Python runs one thread at a time: dozens of lists at once
    each wait for the interpreter at every database call, so a few at a time answer more per
    second and sooner (bench/web.py)."""
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
        """The secret key, from the setting or else the file it names; ConfigError naming
        where it came from when it is shorter than :data:`MIN_SECRET_KEY_LENGTH`."""
        found = _secret_or_file(self.secret_key, self.secret_key_file, "web")
        if found is not None and len(found.get_secret_value().strip()) < MIN_SECRET_KEY_LENGTH:
            where = "web.secret_key" if found is self.secret_key else "web.secret_key_file"
            raise ConfigError(
                where,
                f"at least {MIN_SECRET_KEY_LENGTH} characters: it signs the session cookies "
                f"and the mail links (make one with {MAKE_SECRET_KEY})",
            )
        return found


IMAP_ONLY_KEYS = (
    "imap_port",
    "imap_security",
    "username",
    "password",
    "oauth2_token_command",
    "oauth2_token_file",
    "ca_file",
    "timeout_seconds",
)
"""``[intake]`` keys that only an IMAP mailbox uses (the connection and its login): a
Maildir would ignore them."""


MIN_HASH_KEY = 16
HASH_KEY_NEEDED = (
    f"required: a secret of at least {MIN_HASH_KEY} characters (hash_key, or the credential "
    "intake__hash_key)"
)


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
    office: str = "default"
    """The office whose calendar, rules and departments the mailbox's inquiries follow."""
    offices: dict[str, str] = {}
    """Address the mail was sent to -> office (default ``office``): one mailbox shared by
    several offices, each with its own address."""
    hash_key: SecretStr | None = None
    """The HMAC key of the Message-ID and sender hashes (required; keep it secret)."""
    max_per_sender_per_day: int = Field(default=5, ge=1)
    staff_domains: list[str] | None = None
    """The domains of the office's own people (default: those of the mailbox's addresses).
    Mail from them is not a citizen's: an advisor's answer where it went to someone outside
    them, else a colleague's forward, registered without an acknowledgement and never
    capped. ``[]``: everyone outside the mailbox's own addresses is a citizen."""
    poll_seconds: int = Field(default=60, ge=1)
    """Polling interval when the server has no IDLE (and the longest IDLE wait)."""
    timeout_seconds: float = Field(default=60.0, gt=0)
    batch: int = Field(default=200, ge=1, le=10_000)

    def key(self) -> bytes:
        """The key of the keyed hashes (Message-IDs, senders). Required only where mail is
        read (``intake``, ``run``): the web app and the other commands never need its
        credential. Its length is checked at load (tracker.config.checks)."""
        if self.hash_key is None:
            raise ConfigError("intake.hash_key", HASH_KEY_NEEDED)
        return self.hash_key.get_secret_value().encode("utf-8")

    def mailbox_key(self) -> str:
        """Which mailbox this is, as intake's progress, its acknowledgements still to send and
        its health record it: a digest (128 bits, hex) of the Maildir's absolute path, or of
        the login at the IMAP server (its port and security aside). Several intakes may share
        one database, one per mailbox, each keeping its own; every daemon reading one mailbox
        names it alike."""
        if self.maildir is not None:
            identity = f"maildir:{self.maildir.resolve()}"
        else:
            identity = f"imap:{self.username.lower()}@{(self.imap_host or '').lower()}"
        return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]

    def mailbox_name(self) -> str:
        """The mailbox as ``status`` names it: the Maildir, or the login at the IMAP server."""
        if self.maildir is not None:
            return str(self.maildir)
        return f"{self.username} at {self.imap_host}"

    @field_validator("staff_domains")
    @classmethod
    def _domains(cls, value: list[str] | None) -> list[str] | None:
        """``kommune.dk`` or ``@kommune.dk``, any case; not empty, not an address."""
        if value is None:
            return None
        domains = [d.strip().lower().removeprefix("@") for d in value]
        for domain in domains:
            if not domain or "@" in domain or "." not in domain or " " in domain:
                raise ValueError(f"not a mail domain: {domain!r} (e.g. 'kommune.dk')")
            if domain in PUBLIC_MAIL_DOMAINS:
                raise ValueError(
                    f"{domain!r} is a public mail provider's: every citizen writing from it "
                    "would be read as a colleague, never acknowledged"
                )
        return domains

    def staff(self, own: Iterable[str]) -> frozenset[str]:
        """The domains of the office's own people: ``staff_domains``, else those of the
        mailbox's own addresses (``own``) but a public mail provider's, which its citizens
        write from too (a small office's mailbox at outlook.dk)."""
        if self.staff_domains is not None:
            return frozenset(self.staff_domains)
        domains = (a.rpartition("@")[2] for a in own if "@" in a)
        return frozenset(d for d in domains if d not in PUBLIC_MAIL_DOMAINS)

    @field_validator("departments", "offices")
    @classmethod
    def _addresses_in_lower_case(cls, value: dict[str, str]) -> dict[str, str]:
        """Keyed by address in lower case: a mail's addresses are read in lower case
        (tracker.intake.parse), so ``Byg@Kommune.dk`` as written would never match."""
        return {address.strip().lower(): named for address, named in value.items()}

    def addressed(self, recipients: Iterable[str]) -> tuple[str, str | None]:
        """The office and department of a mail sent to ``recipients``: the first of them
        named in ``offices`` or ``departments`` decides both (each defaulting to ``office``
        and ``default_department``); None: no department, the mail is not registered."""
        for address in recipients:
            if address in self.offices or address in self.departments:
                return self.offices.get(address, self.office), self.departments.get(
                    address, self.default_department
                )
        return self.office, self.default_department

    def routes(self) -> dict[str, tuple[str, str | None]]:
        """Every address it names (``default``: none of them) -> its office and department."""
        named = {"default": (self.office, self.default_department)}
        for address in (*self.departments, *self.offices):
            named[address] = self.addressed([address])
        return named


# docs/contract.md's flat names for nested settings: they must work exactly as written.
# Every [web] key has one (SVARFRIST_WEB_<KEY>, "overrides each key"), and every scalar key
# of [web.oidc] (SVARFRIST_WEB_OIDC_<KEY>; its groups table only nested, as JSON).
FLAT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "SVARFRIST_SMTP_HOST": ("smtp", "host"),
    "SVARFRIST_SMTP_PORT": ("smtp", "port"),
    "SVARFRIST_SMTP_SECURITY": ("smtp", "security"),
    "SVARFRIST_SMTP_USERNAME": ("smtp", "username"),
    "SVARFRIST_SMTP_PASSWORD": ("smtp", "password"),
    **{
        f"SVARFRIST_WEB_{key.upper()}": ("web", key)
        for key in WebSettings.model_fields
        if key != "oidc"
    },
    **{
        f"SVARFRIST_WEB_OIDC_{key.upper()}": ("web", "oidc", key)
        for key in OidcSettings.model_fields
        if key != "groups"
    },
}
# The flat names whose setting is a list or a table: their text is JSON, as nested ones'.
_FLAT_JSON = frozenset(
    var
    for var, (*sections, key) in FLAT_ALIASES.items()
    if sections == ["web"] and get_origin(WebSettings.model_fields[key].annotation) in (list, dict)
)


def _address_form(value: str | None) -> str | None:
    return validate.address_form(value) if value is not None else None


Recipient = Annotated[str | None, AfterValidator(_address_form)]
"""An address setting as addresses are kept (``validate.address_form``: lower case), so
``Leder@Fredericia.DK`` is the advisor ``leder@fredericia.dk`` whose absence diverts its
mail; checked as one address when the configuration is loaded (config.checks)."""


class OfficeSettings(BaseModel):
    """``[offices.<key>]``: an office's own values of some top-level keys (every one
    optional; a key not set here is the top level's, and a table such as ``[calendar]`` or
    ``[rules.reply]`` is merged key by key). Its keys are a subset of the top level's, with
    the same types (tests/test_config.py holds the two together)."""

    model_config = _STRICT
    default_recipient: Recipient = None
    departments: list[str] | None = None
    topics: list[str] | None = None
    calendar: CalendarSettings | None = None
    schedules: dict[str, ScheduleSettings] | None = None
    rules: dict[str, RuleSettings] | None = None
    reminders: RemindersSettings | None = None
    reports: ReportSettings | None = None
    """The office's own monthly management report: its ``management_recipients`` get that
    office's figures only, and are not inherited from the top level (whose recipients get
    every office's); ``monthly_time`` is inherited unless set."""
    retention_days: int | None = Field(default=None, ge=0)
    """How long the office's closed inquiries keep their notes (each municipality of a
    shared deployment decides its own); unset: the top level's."""


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
    default_recipient: Recipient = None
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
    offices: dict[str, OfficeSettings] = {}
    """Offices with their own calendar, rules, departments and recipients (tracker.config
    .offices); the top level is the office ``default``."""

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
                table[key] = _flat_value(var, os.environ[var])
        return found


def _flat_value(var: str, text: str) -> Any:
    if var not in _FLAT_JSON:
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(var, f"not valid JSON: {exc}") from None


def config_path() -> Path | None:
    explicit = os.environ.get("SVARFRIST_CONFIG")
    if explicit:
        return Path(explicit)
    try:
        return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None
    except OSError:  # /etc/svarfrist closed to this user: reading it says so (load_settings)
        return SYSTEM_CONFIG


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


def intake_sources(environ: Mapping[str, str], secrets_dir: str | None) -> list[str]:
    """What gives ``[intake]`` keys besides the TOML file, by name (never by value): the
    variables ``SVARFRIST_INTAKE`` and ``SVARFRIST_INTAKE__*``, and the systemd credentials
    ``intake__*``."""
    field = ENV_PREFIX + "INTAKE"
    found = sorted(
        var for var in environ if var.upper() == field or var.upper().startswith(field + "__")
    )
    if secrets_dir:
        try:
            names = sorted(p.name for p in Path(secrets_dir).iterdir())
        except OSError:
            names = []
        found += [f"credential {name}" for name in names if name.lower().startswith("intake__")]
    return found or ["the environment"]
