"""Single sign-on in a real Chromium (Debian's, driven by Playwright): the login page with the
provider's button is axe-clean and fits a phone, and pressing the button, logging in at the
real provider (node-oidc-provider on loopback) and coming back logs the user in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oidc_provider
import pytest
from browser_support import ARGS, CHROMIUM, NARROW
from oidc_provider import Provider
from page_support import SECRET, add_users
from web_server import bound_socket, url_of, web_app

playwright = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

LABEL = "Log ind med Microsoft"


@pytest.fixture
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with oidc_provider.running(tmp_path_factory.mktemp("oidc")) as running:
        yield running


def stay_on_loopback(route: Any) -> None:
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


def test_the_login_button_is_axe_clean_and_logs_in_through_the_provider_in_chromium(
    tmp_path: Path, provider: Provider
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    provider.set_account("sofie", email="sofie@fredericia.dk", groups=["leads"])
    sock = bound_socket()
    web = {
        "secret_key": SECRET,
        "insecure_http": True,
        "base_url": url_of(sock),
        "oidc": provider.oidc_settings({"leads": {"role": "lead"}}, button_label=LABEL),
    }
    database = f"sqlite:///{tmp_path / 'browser.db'}"
    with web_app(database, sock=sock, web=web) as app, playwright.sync_playwright() as p:
        add_users(database)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tab: Any = browser.new_page(viewport={"width": 1280, "height": 800})
            # The provider's development login page @imports a web font: nothing leaves
            # the loopback.
            tab.route("**/*", stay_on_loopback)
            tab.goto(f"{app.url}/kalender")
            assert tab.url.startswith(f"{app.url}/login")
            results = axe_module.Axe().run(tab)
            assert results.violations_count == 0, results.generate_report()
            tab.set_viewport_size(NARROW)
            assert tab.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
            tab.get_by_role("link", name=LABEL).click()
            tab.wait_for_url(f"{provider.issuer}/interaction/**")
            tab.fill("input[name=login]", "sofie")
            tab.fill("input[name=password]", "any password")
            tab.click("button[type=submit]")
            tab.wait_for_url(f"{app.url}/kalender")
            assert "sofie@fredericia.dk" in tab.inner_text("body")
            tab.goto(f"{app.url}/afdeling")  # a lead's page
            assert tab.url == f"{app.url}/afdeling"
        finally:
            browser.close()
