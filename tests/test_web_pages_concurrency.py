"""Fifty "svar sendt" forms posted at once on one inquiry, over real HTTP: the register's
row lock lets exactly one fulfil it, with one audit event; the rest get the 409 page."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from page_support import NEW_INQUIRY, csrf_of, logged_in, page_app, post_form
from web_server import assert_replied_once

CLIENTS = 50


def test_fifty_concurrent_svar_sendt_fulfil_once_with_one_audit_event(database_url: str) -> None:
    with page_app(database_url) as web, logged_in(web) as client:
        created = post_form(client, "/henvendelser/ny", "/henvendelser/ny", NEW_INQUIRY)
        path = created.headers["location"].split("?")[0]
        token = csrf_of(client.get(path).text)
        start = threading.Barrier(CLIENTS)

        def reply(n: int) -> int:
            start.wait()  # all fifty leave together
            data = {"csrf": token, "handling": "reply", "at": f"2026-11-26T11:{n:02d}"}
            return client.post(f"{path}/handling", data=data).status_code

        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = Counter(pool.map(reply, range(CLIENTS)))
    assert statuses == Counter({303: 1, 409: CLIENTS - 1})
    assert_replied_once(database_url)
