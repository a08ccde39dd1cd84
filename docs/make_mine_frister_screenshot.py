"""Regenerate docs/mine-frister.png: *Mine frister* with demo data at 1280x800, in Debian's
Chromium, served by the real app on a loopback port (the page tests' own helpers).

Run from the repository: ``.venv/bin/python docs/make_mine_frister_screenshot.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from page_support import PASSWORD, USERS, page_app  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
DEPARTMENTS = ["Borgerservice", "Ydelser", "Teknik og Miljø", "Børn og Unge"]
TOPICS = ["Pas og kørekort", "Boligstøtte", "Affald", "Kontanthjælp", "Sundhedskort", "Pladsanvisning"]
# channel, received (the app's clock is 2026-11-26 13:00 Copenhagen), department, topic, call-back
DEMO = [
    ("email", "2026-11-24T09:15", "Borgerservice", "Pas og kørekort", False),
    ("phone", "2026-11-25T10:05", "Ydelser", "Boligstøtte", True),
    ("letter", "2026-11-25T13:40", "Teknik og Miljø", "Affald", False),
    ("digital_post", "2026-11-26T08:30", "Ydelser", "Kontanthjælp", False),
    ("sms", "2026-11-25T15:00", "Borgerservice", "Sundhedskort", False),
    ("email", "2026-11-26T12:30", "Børn og Unge", "Pladsanvisning", False),
]


def main() -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/demo.db"
    with page_app(url, departments=DEPARTMENTS, topics=TOPICS) as web, web.client() as api:
        refs = []
        for channel, received, department, topic, callback in DEMO:
            body = {
                "channel": channel,
                "received_at": received,
                "department": department,
                "topic": topic,
                "advisor": USERS["advisor"],
                "callback_requested": callback,
            }
            refs.append(api.post("/api/v1/inquiries", json=body).json()["ref"])
        api.post(f"/api/v1/inquiries/{refs[3]}/reply", json={"at": "2026-11-26T09:10"})
        api.post(f"/api/v1/inquiries/{refs[2]}/pause", json={"at": "2026-11-26T09:00"})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            tab = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            tab.goto(f"{web.url}/login")
            tab.fill("#email", USERS["advisor"])
            tab.fill("#password", PASSWORD)
            tab.press("#password", "Enter")
            tab.wait_for_url(f"{web.url}/")
            tab.screenshot(path=str(ROOT / "docs" / "mine-frister.png"))
            browser.close()


if __name__ == "__main__":
    main()
