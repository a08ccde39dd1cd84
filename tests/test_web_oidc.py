"""Single sign-on against a real OpenID Connect provider (node-oidc-provider on loopback),
through the real uvicorn server, on SQLite and PostgreSQL: the provider's groups give the
role, a user in no mapped group is refused with nothing written, a tampered or foreign
answer is refused, and local accounts keep working beside it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import oidc_provider
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from oidc_provider import Provider, follow
from page_support import PASSWORD, SECRET, USERS, add_users, browser
from page_support import log_in as log_in_locally
from register_support import engine_for, session_on
from sqlalchemy import select
from web_server import EMAIL, Web, bound_socket, url_of, web_app

from tracker.store import access
from tracker.store.access import SSO_PASSWORD
from tracker.store.models import User
from tracker.web.pages import oidc as oidc_pages
from tracker.web.pages.sessions import COOKIE, csrf_token

GROUPS: dict[str, Any] = {
    "0b6c-advisors": {"role": "advisor", "departments": ["Diverse"]},
    "7f1e-leads": {"role": "lead", "departments": ["Teknik og Miljø"]},
    "c3d9-admins": {"role": "admin"},
}
CALLBACK = "/login/oidc/callback"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with oidc_provider.running(tmp_path_factory.mktemp("oidc")) as running:
        yield running


@contextmanager
def sso_app(
    database_url: str,
    provider: Provider,
    local_users: bool = True,
    offices: dict[str, Any] | None = None,
    groups: dict[str, Any] = GROUPS,
    **oidc: Any,
) -> Iterator[Web]:
    """The app with single sign-on at ``provider`` (and the local users of page_support)."""
    sock = bound_socket()
    web = {
        "secret_key": SECRET,
        "insecure_http": True,
        "base_url": url_of(sock),
        "oidc": provider.oidc_settings(groups, **oidc),
    }
    with web_app(database_url, sock=sock, web=web, offices=offices or {}) as app:
        if local_users:
            add_users(database_url)
        yield app


def user_row(database_url: str, email: str) -> tuple[str, str, str] | None:
    with engine_for(database_url, init=False) as engine, session_on(engine) as session:
        row = session.execute(
            select(User.role, User.departments, User.password_hash).where(User.email == email)
        ).one_or_none()
    return None if row is None else (row.role, row.departments, row.password_hash)


@contextmanager
def sso_log_in(
    web: Web, login: str, start: str = "/login/oidc"
) -> Iterator[tuple[httpx.Response, httpx.Client]]:
    """A browser that pressed the button and logged in at the provider as ``login``."""
    with browser(web) as client:
        yield oidc_provider.log_in(client, login, start), client


def csrf_of_cookie(client: httpx.Client) -> str:
    """The CSRF token of the browser's session (the page that would show it has no form)."""
    visit = URLSafeTimedSerializer(SECRET.encode(), salt="svarfrist.session")
    return csrf_token(SECRET.encode(), visit.loads(client.cookies[COOKIE])["s"])


def test_a_member_of_the_advisor_group_is_logged_in_as_an_advisor_with_its_departments(
    database_url: str, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    provider.set_account(
        "sofie", email="Sofie.Rask@Fredericia.dk", groups=["0b6c-advisors", "unmapped"]
    )
    caplog.set_level(logging.INFO, logger=oidc_pages.__name__)
    with sso_app(database_url, provider) as web:
        with sso_log_in(web, "sofie", "/login/oidc?next=/kalender") as (answer, client):
            assert answer.status_code == 200, answer.text
            assert answer.url.path == "/kalender"
            assert "sofie.rask@fredericia.dk" in answer.text
            assert client.get("/afdeling").status_code == 403  # an advisor's role
        row = user_row(database_url, "sofie.rask@fredericia.dk")
        assert row == ("advisor", '["Diverse"]', SSO_PASSWORD)
        with engine_for(database_url, init=False) as engine, session_on(engine) as session:
            listed = {u.email: u.sso for u in access.users(session)}
        assert listed["sofie.rask@fredericia.dk"] is True  # `svarfrist user list` says so
        assert listed["anna@fredericia.dk"] is False  # a local user
    logged = [r.getMessage() for r in caplog.records if r.name == oidc_pages.__name__]
    # the audit line: the staff address and the role, no token, no claim beyond them
    assert logged == ["single sign-on: sofie.rask@fredericia.dk logged in as advisor (new user)"]


def test_a_member_of_the_lead_group_is_a_lead_and_of_both_groups_takes_the_higher_role(
    database_url: str, provider: Provider
) -> None:
    provider.set_account("lars", email="lars@fredericia.dk", groups=["7f1e-leads"])
    provider.set_account(
        "bodil", email="bodil@fredericia.dk", groups=["0b6c-advisors", "7f1e-leads"]
    )
    with sso_app(database_url, provider) as web:
        with sso_log_in(web, "lars") as (answer, client):
            assert answer.status_code == 200, answer.text
            assert client.get("/afdeling").status_code == 200  # a lead's page
        with sso_log_in(web, "bodil") as (answer, _):
            assert answer.status_code == 200, answer.text
        assert user_row(database_url, "lars@fredericia.dk") == (
            "lead",
            '["Teknik og Miljø"]',
            SSO_PASSWORD,
        )
        assert user_row(database_url, "bodil@fredericia.dk") == (
            "lead",
            '["Diverse", "Teknik og Miljø"]',
            SSO_PASSWORD,
        )


NORD = "Borgerservice Nord"
OFFICE_GROUPS: dict[str, Any] = {
    **GROUPS,
    "9a1d-nord-advisors": {"role": "advisor", "departments": [NORD], "office": "nord"},
    "4e2b-default-advisors": {"role": "advisor", "office": "default"},
}


def office_of(database_url: str, email: str) -> str | None:
    with engine_for(database_url, init=False) as engine, session_on(engine) as session:
        return session.scalar(select(User.office).where(User.email == email))


def test_a_group_of_one_office_ties_its_members_to_that_office_and_its_inquiries(
    database_url: str, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    provider.set_account("nora", email="nora@fredericia.dk", groups=["9a1d-nord-advisors"])
    caplog.set_level(logging.INFO, logger=oidc_pages.__name__)
    offices = {"nord": {"departments": [NORD], "default_recipient": "nord@example.dk"}}
    with sso_app(database_url, provider, offices=offices, groups=OFFICE_GROUPS) as web:
        with web.client("admin") as admin:
            hers = {**EMAIL, "advisor": "nora@fredericia.dk"}  # both hers: only one is seen
            here = admin.post(
                "/api/v1/inquiries", json={**hers, "office": "nord", "department": NORD}
            )
            there = admin.post("/api/v1/inquiries", json=hers)
            assert here.status_code == there.status_code == 201, there.text
        with sso_log_in(web, "nora") as (answer, client):
            assert answer.status_code == 200, answer.text
            own = client.get(f"/henvendelser/{here.json()['ref']}")
            other = client.get(f"/henvendelser/{there.json()['ref']}")
            listed = client.get("/").text
        assert own.status_code == 200 and other.status_code == 404
        assert here.json()["ref"] in listed and there.json()["ref"] not in listed
        assert office_of(database_url, "nora@fredericia.dk") == "nord"
        assert user_row(database_url, "nora@fredericia.dk") == (
            "advisor",
            f'["{NORD}"]',
            SSO_PASSWORD,
        )
    logged = [r.getMessage() for r in caplog.records if r.name == oidc_pages.__name__]
    assert logged == [
        "single sign-on: nora@fredericia.dk logged in as advisor of office nord (new user)"
    ]


def test_groups_of_two_offices_are_refused_and_a_group_of_every_office_wins(
    database_url: str, provider: Provider
) -> None:
    provider.set_account(
        "tim", email="tim@fredericia.dk", groups=["9a1d-nord-advisors", "4e2b-default-advisors"]
    )
    provider.set_account(
        "else", email="else@fredericia.dk", groups=["9a1d-nord-advisors", "c3d9-admins"]
    )
    offices = {"nord": {"departments": [NORD], "default_recipient": "nord@example.dk"}}
    with sso_app(database_url, provider, offices=offices, groups=OFFICE_GROUPS) as web:
        with sso_log_in(web, "tim") as (answer, client):
            assert answer.status_code == 403
            assert "flere kontorer" in answer.text and "Traceback" not in answer.text
            assert client.get("/").status_code == 303  # not logged in
        with sso_log_in(web, "else") as (answer, _):
            assert answer.status_code == 200, answer.text
    assert user_row(database_url, "tim@fredericia.dk") is None
    assert office_of(database_url, "else@fredericia.dk") == "*"  # the admins: every office
    assert user_row(database_url, "else@fredericia.dk") == ("admin", f'["{NORD}"]', SSO_PASSWORD)


def test_a_user_in_no_mapped_group_is_refused_in_danish_and_no_user_row_is_written(
    database_url: str, provider: Provider
) -> None:
    provider.set_account("ole", email="ole@fredericia.dk", groups=["some-other-group"])
    provider.set_account("ida", email="ida@fredericia.dk")  # no groups claim at all
    with sso_app(database_url, provider) as web:
        for login in ("ole", "ida"):
            with sso_log_in(web, login) as (answer, client):
                assert answer.status_code == 403
                assert "Du har ikke adgang til Svarfrist" in answer.text
                assert "Traceback" not in answer.text
                assert client.get("/").status_code == 303  # not logged in: to /login
        assert user_row(database_url, "ole@fredericia.dk") is None
        assert user_row(database_url, "ida@fredericia.dk") is None


def test_an_entra_id_user_without_an_email_claim_is_known_by_the_preferred_username(
    database_url: str, provider: Provider
) -> None:
    provider.set_account(
        "entra", preferred_username="Karen.Holm@Fredericia.dk", groups=["c3d9-admins"]
    )
    with sso_app(database_url, provider) as web:
        with sso_log_in(web, "entra") as (answer, _):
            assert answer.status_code == 200, answer.text
        assert user_row(database_url, "karen.holm@fredericia.dk") == ("admin", "[]", SSO_PASSWORD)


def test_an_address_the_provider_has_not_verified_is_not_used(
    database_url: str, provider: Provider
) -> None:
    provider.set_account(
        "mallory", email="admin@fredericia.dk", email_verified=False, groups=["0b6c-advisors"]
    )
    with sso_app(database_url, provider) as web, sso_log_in(web, "mallory") as (answer, _):
        assert answer.status_code == 400
        assert "ingen e-mailadresse" in answer.text
        row = user_row(database_url, "admin@fredericia.dk")
        assert row is not None and row[0] == "admin"
        assert row[2].startswith("$argon2id$")  # the local admin's row is untouched


def test_a_tampered_state_an_answer_without_the_flow_cookie_and_a_refusal_are_refused(
    database_url: str, provider: Provider
) -> None:
    provider.set_account("tove", email="tove@fredericia.dk", groups=["0b6c-advisors"])
    with sso_app(database_url, provider) as web:
        with browser(web) as client:
            back = oidc_provider.log_in(client, "tove", stop=web.url + CALLBACK)
            assert back.is_redirect
            query = dict(parse_qsl(urlsplit(back.headers["location"]).query))
            tampered = client.get(CALLBACK, params={**query, "state": query["state"] + "x"})
            assert tampered.status_code == 400
            assert "Prøv igen fra login-siden" in tampered.text
            denied = client.get(
                CALLBACK, params={"error": "access_denied", "state": query["state"]}
            )
            assert denied.status_code == 403
            assert "afbrudt eller afvist" in denied.text
        with browser(web) as stranger:  # the right answer, in a browser that did not start it
            answer = stranger.get(f"{CALLBACK}?{urlencode(query)}")
            assert answer.status_code == 400
            assert "Traceback" not in answer.text
        assert user_row(database_url, "tove@fredericia.dk") is None
        with browser(web) as client:  # a code used once is refused the second time
            back = oidc_provider.log_in(client, "tove", stop=web.url + CALLBACK)
            first = follow(client, client.get(back.headers["location"]))
            assert first.status_code == 200, first.text
            again = client.get(back.headers["location"])
            assert again.status_code == 400


class _LongAgo(TimestampSigner):
    """Signs as if it were 11 minutes ago."""

    def get_timestamp(self) -> int:
        return int(time.time()) - oidc_pages.FLOW_SECONDS - 60


def test_a_log_in_that_took_longer_than_ten_minutes_is_refused_as_expired(
    database_url: str, provider: Provider
) -> None:
    provider.set_account("vera", email="vera@fredericia.dk", groups=["0b6c-advisors"])
    with sso_app(database_url, provider) as web, browser(web) as client:
        back = oidc_provider.log_in(client, "vera", stop=web.url + CALLBACK)
        key = SECRET.encode()
        kept = URLSafeTimedSerializer(key, salt="svarfrist.oidc").loads(
            client.cookies[oidc_pages.COOKIE]
        )
        old = URLSafeTimedSerializer(key, salt="svarfrist.oidc", signer=_LongAgo).dumps(kept)
        original = next(c for c in client.cookies.jar if c.name == oidc_pages.COOKIE)
        client.cookies.delete(oidc_pages.COOKIE)
        client.cookies.set(oidc_pages.COOKIE, old, domain=original.domain, path=original.path)
        answer = client.get(back.headers["location"])
        assert answer.status_code == 400
        assert "Login tog for lang tid" in answer.text
    assert user_row(database_url, "vera@fredericia.dk") is None


def test_a_role_changed_at_the_provider_is_applied_at_the_next_log_in(
    database_url: str, provider: Provider
) -> None:
    provider.set_account("per", email="per@fredericia.dk", groups=["0b6c-advisors"])
    with sso_app(database_url, provider) as web:
        with sso_log_in(web, "per") as (answer, _):
            assert answer.status_code == 200, answer.text
        assert user_row(database_url, "per@fredericia.dk") == (
            "advisor",
            '["Diverse"]',
            SSO_PASSWORD,
        )
        provider.set_account("per", email="per@fredericia.dk", groups=["7f1e-leads"])
        with sso_log_in(web, "per") as (answer, client):
            assert answer.status_code == 200, answer.text
            assert client.get("/afdeling").status_code == 200
        assert user_row(database_url, "per@fredericia.dk") == (
            "lead",
            '["Teknik og Miljø"]',
            SSO_PASSWORD,
        )


def test_local_login_still_works_beside_single_sign_on_and_the_page_offers_both(
    database_url: str, provider: Provider
) -> None:
    label = "Log ind med Microsoft"
    with sso_app(database_url, provider, button_label=label) as web, browser(web) as client:
        page = client.get("/login?next=/kalender")
        assert 'href="/login/oidc?next=/kalender"' in page.text
        assert "Log ind med Microsoft" in page.text
        assert 'name="password"' in page.text
        assert log_in_locally(client, "lead").status_code == 303
        assert client.get("/afdeling").status_code == 200


def test_a_local_user_who_logs_in_by_single_sign_on_loses_the_local_password(
    database_url: str, provider: Provider
) -> None:
    provider.set_account("anna", email="anna@fredericia.dk", groups=["0b6c-advisors"])
    with sso_app(database_url, provider) as web:
        with sso_log_in(web, "anna") as (answer, _):  # the local advisor of page_support
            assert answer.status_code == 200, answer.text
        assert user_row(database_url, "anna@fredericia.dk") == (
            "advisor",
            '["Diverse"]',
            SSO_PASSWORD,
        )
        with browser(web) as client:
            refused = log_in_locally(client, "advisor")
            assert refused.status_code == 400
            assert "Forkert e-mail eller adgangskode" in refused.text


def test_with_local_login_off_the_page_offers_only_the_button_and_a_password_is_refused(
    database_url: str, provider: Provider
) -> None:
    with sso_app(database_url, provider, local_login=False) as web, browser(web) as client:
        page = client.get("/login")
        assert 'name="password"' not in page.text
        assert "Log ind med kommunens konto" in page.text
        form = {"email": USERS["lead"], "password": PASSWORD, "csrf": csrf_of_cookie(client)}
        refused = client.post("/login", data=form)  # as a form kept from before would
        assert refused.status_code == 403
        assert "slået fra" in refused.text
        assert client.get("/afdeling").status_code == 303  # not logged in


def test_without_oidc_settings_the_single_sign_on_paths_do_not_exist(tmp_path: Path) -> None:
    web = {"secret_key": SECRET, "insecure_http": True}
    database = f"sqlite:///{tmp_path / 'svarfrist.db'}"
    with web_app(database, web=web) as app, browser(app) as client:
        assert client.get("/login/oidc").status_code == 404
        assert client.get(CALLBACK).status_code == 404
        assert "/login/oidc" not in client.get("/login").text


def test_a_provider_that_does_not_answer_gives_a_danish_page_not_a_traceback(
    tmp_path: Path,
) -> None:
    closed = bound_socket()  # bound, never listening: connections are refused
    sock = bound_socket()
    web = {
        "secret_key": SECRET,
        "insecure_http": True,
        "base_url": url_of(sock),
        "oidc": {
            "discovery_url": f"{url_of(closed)}/.well-known/openid-configuration",
            "client_id": "svarfrist",
            "client_secret": "s",
            "groups": GROUPS,
        },
    }
    database = f"sqlite:///{tmp_path / 'svarfrist.db'}"
    with web_app(database, sock=sock, web=web) as app, browser(app) as client:
        answer = client.get("/login/oidc")
        assert answer.status_code == 502
        assert "Login-tjenesten svarer ikke" in answer.text
        assert client.get("/login").status_code == 200  # the password form is still there
    closed.close()
