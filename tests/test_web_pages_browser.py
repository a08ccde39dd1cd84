"""The staff pages in a real Chromium (Debian's, driven by Playwright) against a real
uvicorn: one session logs in, registers an inquiry by keyboard alone, marks it answered
from *Mine frister* (htmx on), undoes it, and visits every page; on each page axe-core
finds 0 violations, nothing scrolls sideways at 390 px, and the CSP blocks nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARGS, CHROMIUM, NARROW
from page_support import PASSWORD, USERS, page_app

playwright = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

WIDE = {"width": 1280, "height": 800}
NOTE = "Ringede om <b>boligstøtte</b>"


@pytest.fixture
def page(request: Any, tmp_path: Path) -> Iterator[tuple[Any, str, list[str]]]:
    """A Chromium tab (``request.param``: JavaScript on or off), the app's
    URL, and the CSP violations Chromium reports."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    with (
        page_app(f"sqlite:///{tmp_path / 'browser.db'}") as web,
        playwright.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        blocked: list[str] = []

        def noted(message: Any) -> None:
            if "Content Security Policy" in message.text:
                blocked.append(message.text)

        try:
            context = browser.new_context(viewport=WIDE, java_script_enabled=request.param)
            tab = context.new_page()
            tab.on("console", noted)
            yield tab, web.url, blocked
        finally:
            browser.close()


def check(tab: Any, name: str, found: dict[str, int]) -> None:
    """axe-core on the page as it is, then the same page at 390 px: no sideways scroll."""
    results = axe_module.Axe().run(tab)
    found[name] = results.violations_count
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"
    tab.set_viewport_size(NARROW)
    width = tab.evaluate("document.documentElement.scrollWidth")
    tab.set_viewport_size(WIDE)
    assert width <= NARROW["width"], f"{name}: {width} px wide at 390 px"


@pytest.mark.parametrize("page", [True], indirect=True)
def test_one_session_through_every_page_by_keyboard_with_axe_clean(
    page: tuple[Any, str, list[str]],
) -> None:
    tab, url, blocked = page
    found: dict[str, int] = {}
    tab.goto(f"{url}/")
    assert tab.url.startswith(f"{url}/login")
    check(tab, "login", found)
    tab.fill("#email", USERS["admin"])
    tab.fill("#password", "forkert")
    tab.click("button[type=submit] >> text=Log ind")
    assert "Forkert e-mail eller adgangskode." in tab.inner_text("main")
    check(tab, "login (failed)", found)
    tab.fill("#password", PASSWORD)
    tab.press("#password", "Enter")
    tab.wait_for_url(f"{url}/")
    check(tab, "mine (empty)", found)

    # Registration by keyboard alone: skip link, then Tab through the form.
    tab.goto(f"{url}/henvendelser/ny")
    check(tab, "new", found)
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.className") == "skip"
    tab.keyboard.press("Enter")
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "channel"
    outline = tab.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused field shows no focus"
    tab.keyboard.type("E")  # E-mail
    tab.keyboard.press("Tab")  # department: the first, Diverse
    tab.keyboard.press("Tab")  # topic: none
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "callback_requested"
    tab.keyboard.press("Tab")  # advisor: me
    # received: now; Chromium's date-time field is a tab stop per part (day, month, ...)
    for _ in range(8):
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.id") == "note":
            break
    assert tab.evaluate("document.activeElement.id") == "note"
    tab.keyboard.type(NOTE)
    tab.keyboard.press("Tab")
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r".*/henvendelser/2026-000001\?udfoert=add$"))
    assert "Henvendelsen er registreret." in tab.inner_text("main")
    assert NOTE in tab.inner_text("main")  # as text: escaped, not markup
    check(tab, "detail", found)

    # A refused form: the message beside the field, focusable and axe-clean.
    tab.goto(f"{url}/henvendelser/ny")
    tab.fill("#received_at", "2031-01-01T10:00")
    tab.click("form[action='/henvendelser/ny'] button[type=submit]")
    assert tab.inner_text("#err-received_at") == "Tidspunktet ligger i fremtiden."
    assert tab.evaluate("document.activeElement.id") == "received_at"  # the field to correct
    check(tab, "new (refused)", found)

    # Svar sendt from Mine frister (htmx swaps the list), then undo on the inquiry's page.
    tab.goto(f"{url}/")
    assert "I tide" in tab.inner_text("main")
    check(tab, "mine", found)
    assert tab.evaluate("typeof htmx") == "object"
    tab.evaluate("window.notReloaded = true")
    tab.click("button:has-text('Svar sendt')")
    tab.wait_for_selector("text=Svar sendt er registreret.")
    assert "Besvaret" in tab.inner_text("main")
    assert tab.evaluate("window.notReloaded === true")  # htmx swapped the list in place
    # focus lands on the confirmation, not lost on the page: the keyboard goes on from there
    assert tab.evaluate("document.activeElement.getAttribute('role')") == "status"
    assert NOTE not in tab.content()
    tab.goto(f"{url}/henvendelser/2026-000001")
    tab.click("button:has-text('Fortryd: Svar sendt')")  # the button names what it undoes
    tab.wait_for_selector("text=Fortrudt: Svar sendt.")
    check(tab, "detail (after undo)", found)
    tab.goto(f"{url}/")
    assert "I tide" in tab.inner_text("main")

    # Absences: a refused one (the message beside the field), then one saved and listed.
    tab.goto(f"{url}/fravaer")
    check(tab, "absence (empty)", found)
    tab.fill("#raadgiver", USERS["advisor"])
    tab.fill("#fra", "2026-12-10")
    tab.fill("#til", "2026-12-01")
    tab.click("form[action='/fravaer'] button[type=submit]")
    assert tab.inner_text("#err-til") == "Slutdatoen ligger før startdatoen."
    check(tab, "absence (refused)", found)
    tab.fill("#fra", "2026-11-30")
    tab.fill("#til", "2026-12-04")
    tab.fill("#stedfortraeder", USERS["lead"])
    tab.click("form[action='/fravaer'] button[type=submit]")
    tab.wait_for_url(f"{url}/fravaer?udfoert=absence_added")
    assert USERS["lead"] in tab.inner_text("main table")
    check(tab, "absence", found)

    for name, path in [
        ("department", "/afdeling?afdeling=Diverse"),
        ("reports", "/rapporter?fra=2026-11-01&til=2026-11-30"),
        ("calendar", "/kalender?aar=2026"),
        ("404", "/henvendelser/findes-ikke"),
    ]:
        tab.goto(f"{url}{path}")
        check(tab, name, found)
    assert blocked == []
    assert sorted(found) == sorted(
        [
            "login",
            "login (failed)",
            "mine (empty)",
            "new",
            "detail",
            "new (refused)",
            "mine",
            "detail (after undo)",
            "absence (empty)",
            "absence (refused)",
            "absence",
            "department",
            "reports",
            "calendar",
            "404",
        ]
    )


@pytest.mark.parametrize("page", [False], indirect=True)
def test_without_javascript_the_forms_and_one_click_actions_still_work(
    page: tuple[Any, str, list[str]],
) -> None:
    tab, url, _blocked = page
    tab.goto(f"{url}/login")
    tab.fill("#email", USERS["advisor"])
    tab.fill("#password", PASSWORD)
    tab.click("main button[type=submit]")
    tab.wait_for_url(f"{url}/")
    tab.goto(f"{url}/henvendelser/ny")
    tab.select_option("#channel", "email")
    tab.click("main button[type=submit]")
    tab.wait_for_url(re.compile(r".*/henvendelser/2026-000001\?udfoert=add$"))
    tab.goto(f"{url}/")
    tab.click("button:has-text('Svar sendt')")
    tab.wait_for_url(f"{url}/?udfoert=reply")
    assert "Besvaret" in tab.inner_text("main")
    tab.goto(f"{url}/fravaer")  # an advisor's own absence, and removing it, without script
    tab.fill("#fra", "2026-11-30")
    tab.fill("#til", "2026-12-04")
    tab.click("form[action='/fravaer'] button[type=submit]")
    tab.wait_for_url(f"{url}/fravaer?udfoert=absence_added")
    assert USERS["advisor"] in tab.inner_text("main table")
    tab.click("main table button[type=submit]")
    tab.wait_for_url(f"{url}/fravaer?udfoert=absence_removed")
    assert "Der er ikke registreret fravær." in tab.inner_text("main")
