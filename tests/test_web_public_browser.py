"""The public page of response times in Debian's Chromium: axe-core, 390 px, no JavaScript,
and framed by another site: the public page shows, any other page is refused."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser_support import NARROW, axe_violations, chromium, scrolls_sideways
from test_web_public import seed
from web_server import web_app


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def other_site(folder: Path) -> Iterator[str]:
    """A second web site on another loopback port (another origin) serving ``folder``."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_public_page_and_its_embed_pass_axe_at_390_px_and_without_javascript(
    database_url: str, language: str
) -> None:
    with web_app(database_url, web={"language": language}) as web, chromium() as browser:
        seed(database_url)
        page = browser.new_context(viewport=NARROW).new_page()
        for path in ("/offentlig/svartider", "/offentlig/svartider?embed=1"):
            answer = page.goto(web.url + path)
            assert answer is not None and answer.status == 200
            assert page.locator("table").count() == 2
            assert axe_violations(page) == [], path
            assert not scrolls_sideways(page), path
        plain = browser.new_context(java_script_enabled=False, viewport=NARROW).new_page()
        plain.goto(web.url + "/offentlig/svartider")
        assert plain.locator("tbody tr").count() == 6  # 3 departments x 2 rules


def test_another_site_can_frame_the_public_page_but_no_other(
    database_url: str, tmp_path: Path
) -> None:
    with web_app(database_url) as web, chromium() as browser:
        (tmp_path / "index.html").write_text(
            "<!doctype html><title>Kommunen</title>"
            f'<iframe name="public" src="{web.url}/offentlig/svartider?embed=1"></iframe>'
            f'<iframe name="link" src="{web.url}/m/not-a-link"></iframe>',
            encoding="utf-8",
        )
        with other_site(tmp_path) as site:
            page = browser.new_page()
            page.goto(site + "/index.html")
            public = page.frame(name="public")
            link = page.frame(name="link")
            assert public is not None and link is not None
            assert public.locator("h1").inner_text() == "Svartider"
            # Refused by frame-ancestors 'none': Chromium shows its own error page instead.
            assert link.url.startswith("chrome-error://")
            assert "Linket" not in link.content()
