"""Single sign-on with OpenID Connect (``[web.oidc]``): ``/login/oidc`` and its callback.

The authorization code flow with PKCE (S256), a ``state`` and a ``nonce``, through Authlib's
Starlette client. What the callback must compare (state, nonce, the PKCE verifier, where to
go after) travels in a short-lived cookie signed with ``web.secret_key``, never in a process's
memory: any web process can finish a log-in another began. Authlib verifies the ID token
(signature against the provider's keys, issuer, audience, nonce, expiry). The user's address
comes from ``email`` (else ``preferred_username`` or ``upn``, as Entra ID sends), their role,
departments and office from the groups claim mapped in ``[web.oidc.groups]``
(tracker.store.logins.sso_standing); a user in no mapped group, or in groups of two offices,
is refused and nothing is written. Then the same session cookie as a local log-in.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from tracker.config import OidcSettings, is_loopback
from tracker.core import validate
from tracker.errors import BadInputError
from tracker.store import logins
from tracker.web.pages.common import PRIVATE, local_path
from tracker.web.pages.failures import PageError
from tracker.web.pages.sessions import new_visit, secret, set_cookie
from tracker.web.state import WebState, request_now, web_state

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
Now = Annotated[datetime, Depends(request_now)]

CALLBACK = "/login/oidc/callback"
COOKIE = "svarfrist_oidc"
FLOW_SECONDS = 600
"""How long a log-in at the provider may take, from the button to the callback."""
_SALT = "svarfrist.oidc"
# The provider's address fields that must be https (http only on loopback).
_ENDPOINTS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
_ADDRESS_CLAIMS = ("email", "preferred_username", "upn")


def build_client(oidc: OidcSettings) -> StarletteOAuth2App:
    """Authlib's client for the provider; it reads the discovery document at first use and
    keeps it (and the signing keys) for the process's life, refetching keys it does not know."""
    client = OAuth().register(
        name="oidc",
        server_metadata_url=oidc.discovery_url,
        client_id=oidc.client_id,
        client_secret=oidc.required_secret(),
        client_kwargs={"scope": oidc.scopes, "code_challenge_method": "S256", "timeout": 15},
    )
    return cast(StarletteOAuth2App, client)


def _settings(state: WebState) -> OidcSettings:
    oidc = state.settings.web.oidc
    if oidc is None:
        raise PageError(404, "404")
    return oidc


def _client(request: Request) -> StarletteOAuth2App:
    return cast(StarletteOAuth2App, request.app.state.oidc)


def _redirect_uri(state: WebState) -> str:
    return f"{state.settings.web.base_url}{CALLBACK}"


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_SALT)


def _secure(url: object) -> bool:
    parts = urlsplit(str(url))
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))


async def _metadata(client: StarletteOAuth2App) -> dict[str, Any]:
    """The provider's discovery document; 502 if it cannot be had or names http:// endpoints
    off loopback."""
    try:
        metadata = cast(dict[str, Any], await client.load_server_metadata())
    except (httpx2.HTTPError, ValueError) as exc:
        log.warning("single sign-on: the discovery document cannot be read: %s", exc)
        raise PageError(502, "oidc_unreachable") from None
    insecure = [key for key in _ENDPOINTS if not _secure(metadata.get(key, ""))]
    if insecure:
        log.error("single sign-on: the provider's %s is not https", ", ".join(insecure))
        raise PageError(502, "oidc_unreachable")
    return metadata


@router.get("/login/oidc")
async def start(
    request: Request, state: State, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    """To the provider's login, with a new state, nonce and PKCE verifier."""
    _settings(state)
    key = secret(state)
    client = _client(request)
    await _metadata(client)
    try:
        flow = await client.create_authorization_url(_redirect_uri(state))
    except httpx2.HTTPError:
        raise PageError(502, "oidc_unreachable") from None
    kept = {
        "state": flow["state"],
        "nonce": flow["nonce"],
        "verifier": flow["code_verifier"],
        "next": local_path(next_path),
    }
    response = RedirectResponse(flow["url"], status_code=303, headers=PRIVATE)
    response.set_cookie(
        COOKIE,
        _serializer(key).dumps(kept),
        max_age=FLOW_SECONDS,
        path="/login/oidc",
        httponly=True,
        secure=not state.settings.web.insecure_http,
        samesite="lax",  # the provider's redirect back is a top-level GET: the cookie goes
    )
    return response


def _kept(request: Request, key: bytes) -> dict[str, str]:
    """What ``start`` kept, if the cookie is there, unaltered and young enough."""
    raw = request.cookies.get(COOKIE)
    try:
        kept: Any = _serializer(key).loads(raw, max_age=FLOW_SECONDS) if raw else None
    except BadSignature:
        kept = None
    names = ("state", "nonce", "verifier", "next")
    if not isinstance(kept, dict) or not all(isinstance(kept.get(n), str) for n in names):
        raise PageError(400, "oidc_expired")
    return {n: kept[n] for n in names}


def _address(claims: dict[str, Any]) -> str:
    """The user's address: ``email``, else ``preferred_username`` or ``upn`` (Entra ID). An
    ``email`` the provider says it has not verified (``email_verified`` false) is not used:
    it could name another person's account."""
    for name in _ADDRESS_CLAIMS:
        if name == "email" and claims.get("email_verified") is False:
            continue
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            try:
                return (validate.advisor(value.strip()) or "").lower()
            except BadInputError:
                continue
    raise PageError(400, "oidc_no_email")


def _groups(claims: dict[str, Any], name: str) -> list[str]:
    value = claims.get(name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(group) for group in value]
    return []


async def _claims(request: Request, state: WebState, kept: dict[str, str]) -> dict[str, Any]:
    """The verified ID token's claims for the code in the callback's query."""
    query = request.query_params
    error = query.get("error")
    if error:
        code = error if error.replace("_", "").isalpha() and len(error) <= 40 else "an error"
        log.info("single sign-on: the provider answered %s", code)
        raise PageError(403 if error == "access_denied" else 400, "oidc_denied")
    sent = query.get("state", "")
    if not sent or not hmac.compare_digest(sent.encode(), kept["state"].encode()):
        raise PageError(400, "oidc_expired")
    client = _client(request)
    await _metadata(client)
    try:
        token = await client.fetch_access_token(
            redirect_uri=_redirect_uri(state),
            code=query.get("code", ""),
            code_verifier=kept["verifier"],
        )
        claims = await client.parse_id_token(token, nonce=kept["nonce"])
    except httpx2.HTTPError:
        raise PageError(502, "oidc_unreachable") from None
    except (OAuthError, JoseError, KeyError, ValueError) as exc:
        log.warning("single sign-on: refused the provider's answer: %s", type(exc).__name__)
        raise PageError(400, "oidc_failed") from None
    if claims is None:  # no ID token: not an OpenID Connect answer
        raise PageError(400, "oidc_failed")
    return dict(claims)


@router.get(CALLBACK)
async def callback(request: Request, state: State, now: Now) -> Response:
    """Back from the provider: verify, map the groups, write the user, log in."""
    oidc = _settings(state)
    key = secret(state)
    kept = _kept(request, key)
    claims = await _claims(request, state, kept)
    email = _address(claims)
    try:
        standing = logins.sso_standing(_groups(claims, oidc.groups_claim), oidc.groups)
    except logins.OfficesDisagree as exc:
        log.warning("single sign-on: %s is in groups of offices %s: refused", email, exc)
        raise PageError(403, "oidc_two_offices") from None
    if standing is None:
        log.warning("single sign-on: %s is in no group of [web.oidc.groups]: refused", email)
        raise PageError(403, "oidc_no_access")

    def write() -> bool:
        with state.writing() as session:
            return logins.sso_logged_in(session, email, standing, now)

    try:
        created = await run_in_threadpool(write)
    except IntegrityError:  # the same user's first log-in in another process made the row
        created = await run_in_threadpool(write)
    where = "" if standing.office == "*" else f" of office {standing.office}"
    log.info(
        "single sign-on: %s logged in as %s%s%s",
        email,
        standing.role,
        where,
        " (new user)" * created,
    )
    response = RedirectResponse(kept["next"], status_code=303, headers=PRIVATE)
    response.delete_cookie(
        COOKIE, path="/login/oidc", httponly=True, secure=not state.settings.web.insecure_http
    )
    set_cookie(response, request, new_visit(key, email))
    return response
