"""A real OpenID Connect provider for the single sign-on tests: node-oidc-provider, started
from tests/oidc/provider.mjs on a free port of 127.0.0.1, and a browser-like walk through
its login form with httpx.

``npm ci`` installs the provider (tests/oidc/package-lock.json) when tests/oidc/node_modules
is missing; the CI machine has node and npm (.ci/run installs them) and reaches the registry.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

PROVIDER_DIR = Path(__file__).parent / "oidc"
CLIENT_ID = "svarfrist"
CLIENT_SECRET = "svarfrist-test-client-secret"
# Bounded waits (no sleeps without an end): npm ci, the provider's first line, its discovery.
INSTALL_TIMEOUT_S = 300
START_TIMEOUT_S = 30.0
MAX_REDIRECTS = 20


@dataclass
class Provider:
    issuer: str
    accounts_file: Path
    accounts: dict[str, dict[str, Any]]

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def set_account(self, login: str, **claims: Any) -> None:
        """Add or change an account at the provider (read again at each log-in)."""
        self.accounts[login] = claims
        self.accounts_file.write_text(json.dumps(self.accounts), encoding="utf-8")

    def oidc_settings(self, groups: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        """A ``[web.oidc]`` table for this provider."""
        return {
            "discovery_url": self.discovery_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "groups": groups,
            **overrides,
        }


def install() -> None:
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            check=False,
            cwd=PROVIDER_DIR,
            timeout=INSTALL_TIMEOUT_S,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"npm ci in tests/oidc failed: {done.stderr[-2000:]}"


def _first_line(process: subprocess.Popen[str]) -> str:
    """The provider's first line (its issuer), waited for at most START_TIMEOUT_S."""
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT_S)
    assert found and found[0].startswith("http://127.0.0.1:"), "the provider did not start"
    return found[0].strip()


def _await_discovery(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the provider's discovery document did not come"
        time.sleep(0.05)


@contextmanager
def running(directory: Path) -> Iterator[Provider]:
    """The provider, until the block ends; its accounts in ``directory``/accounts.json."""
    install()
    accounts_file = directory / "accounts.json"
    accounts_file.write_text("{}", encoding="utf-8")
    process = subprocess.Popen(
        ["node", "provider.mjs", str(accounts_file), CLIENT_ID, CLIENT_SECRET],
        cwd=PROVIDER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        issuer = _first_line(process)
        provider = Provider(issuer=issuer, accounts_file=accounts_file, accounts={})
        _await_discovery(provider.discovery_url)
        yield provider
    finally:
        process.kill()
        process.wait(timeout=30)


class _Forms(HTMLParser):
    """The forms of a page: action and the named inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1][1][values["name"]] = values.get("value", "")


def forms(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def follow(
    client: httpx.Client, response: httpx.Response, stop: str | None = None
) -> httpx.Response:
    """Follow redirects across the app and the provider (at most MAX_REDIRECTS); ``stop``:
    not a redirect to an address that starts so (the test takes that step itself)."""
    for _ in range(MAX_REDIRECTS):
        if not response.is_redirect:
            return response
        if stop and urljoin(str(response.url), response.headers["location"]).startswith(stop):
            return response
        target = urljoin(str(response.url), response.headers["location"])
        response = client.get(target)
    raise AssertionError("too many redirects")


def log_in(
    client: httpx.Client, login: str, start: str = "/login/oidc", stop: str | None = None
) -> httpx.Response:
    """Press the app's single sign-on button and log in as ``login`` at the provider (its
    development login form: any password); the app's last answer after the redirects (or
    the redirect to ``stop``, see ``follow``)."""
    response = follow(client, client.get(start), stop)
    for _ in range(3):  # the provider's login form, perhaps a consent form
        if not response.url.path.startswith("/interaction/"):
            return response
        action, fields = forms(response.text)[0]
        if fields.get("prompt") == "login":
            fields |= {"login": login, "password": "any password"}
        posted = client.post(urljoin(str(response.url), action), data=fields)
        response = follow(client, posted, stop)
    raise AssertionError("the provider kept asking")
