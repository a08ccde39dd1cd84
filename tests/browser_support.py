"""A real Chromium (Debian's /usr/bin/chromium, driven by Playwright) and axe-core in it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NARROW = {"width": 390, "height": 844}
"""A phone's viewport: every page must work at 390 px without scrolling sideways."""


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is (WCAG 2.1 AA and best practice rules)."""
    violations: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return violations


def scrolls_sideways(page: Page) -> bool:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    viewport: int = page.evaluate("window.innerWidth")
    return width > viewport
