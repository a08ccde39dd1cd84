"""Benchmark: the HTTP API's list against a bare Starlette endpoint, at 1,000 and 1,000,000.

Not a test. For each size it builds a SQLite database through the real schema (Alembic) and
fills it fast with executemany (indexes dropped during the load, recreated after): that
many inquiries, most of them closed, and one advisor with exactly 50 open. Then, on
loopback only and bounded in time:

* ``app``: ``GET /api/v1/inquiries?advisor=…&state=open`` of the real app (bearer token,
  FastAPI, SQLAlchemy, the register's queries), served by uvicorn with one worker;
* ``bare``: a bare Starlette endpoint, same uvicorn, that runs the very SQL statements the
  app ran for that request (captured from the app's engine) with the sqlite3 driver
  directly and returns their rows as JSON: the yardstick;
* ``page``: *Mine frister* at ``/`` of the real app, for the same advisor logged in (one
  log-in through ``/login`` with its CSRF token before the load, then the session cookie on
  every request), against the same bare endpoint (the page runs the same list).

Load: ``--connections`` keep-alive HTTP/1.1 connections (default 32) from one asyncio
client for ``--seconds`` (default 20) after a short warm-up. It prints requests/s, p50 and
p99 latency, the server's RSS after the run, and the ratios the issue asks for: app/bare
requests/s (>= 0.5), app/bare p99 (<= 3), app p50 1M/1k (flat: <= 1.2), RSS 1M/1k (<= 1.2),
and the same for the page.

    .venv/bin/python bench/web.py                       # 1,000 and 1,000,000, 20 s each
    .venv/bin/python bench/web.py --sizes 1000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ADVISOR = "anna@fredericia.dk"
OPEN_MINE = 50
OTHER_OPEN_SHARE = 0.02  # of everybody else's inquiries, still open
DEPARTMENTS = ["Diverse", "Teknik og Miljø", "Pleje og Omsorg", "Børn og Unge"]
LIST_PATH = f"/api/v1/inquiries?advisor={ADVISOR}&state=open"
BATCH = 100_000
PASSWORD = "bench-password-of-some-length"
SECRET = "bench-secret-key-of-enough-length-0123456789"
WARM_UP_S = 2.0
START_TIMEOUT_S = 60.0


# -- the data -------------------------------------------------------------------------------
def _fmt(moment: datetime) -> str:
    """The stored form of a time on SQLite (UTC, naive, microseconds; tracker.store.models)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _rows(start: int, stop: int, mine: set[int]) -> tuple[list[tuple[Any, ...]], list[Any]]:
    from tracker.store.bulk import InquiryRow

    rng = random.Random(start)
    inquiries, obligations = [], []
    for i in range(start, stop):
        received = NOW - timedelta(minutes=rng.randint(60, 3 * 365 * 24 * 60))
        is_open = i in mine or rng.random() < OTHER_OPEN_SHARE
        advisor = ADVISOR if i in mine else f"vejleder{i % 300:03d}@fredericia.dk"
        closed = None if is_open else _fmt(received + timedelta(days=3))
        due = received + timedelta(days=2)
        met = None if is_open else _fmt(received + timedelta(hours=5))
        department = DEPARTMENTS[i % len(DEPARTMENTS)]
        inquiries.append(tuple(InquiryRow(i, f"2026-{i:07d}", "email", department, None, advisor,
                                          False, _fmt(received), met, None, closed, None,
                                          _fmt(received))))  # fmt: skip
        obligations.append((i, "reply", "working_days", 24.0, _fmt(due - timedelta(hours=4)),
                            _fmt(due), met, "pending" if is_open else "met",
                            _fmt(due) if is_open else None, received.year * 100 + received.month,
                            department))  # fmt: skip
    return inquiries, obligations


def build(directory: Path, size: int) -> Path:
    """A register of ``size`` inquiries, ``OPEN_MINE`` of them open and the advisor's."""
    from tracker.store import schema
    from tracker.store.bulk import INQUIRY_COLUMNS
    from tracker.store.db import make_engine

    path = directory / f"web-{size}.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    mine = set(random.Random(size).sample(range(1, size + 1), OPEN_MINE))
    conn = sqlite3.connect(path)
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('inquiries', 'obligations')"
    ).fetchall()
    insert_inquiry = (
        f"INSERT INTO inquiries ({', '.join(INQUIRY_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(INQUIRY_COLUMNS))})"
    )
    insert_obligation = (
        "INSERT INTO obligations (inquiry_id, rule, schedule, hours, warn_at, due_at, met_at,"
        " state, next_action_at, received_month, department)"
        f" VALUES ({', '.join('?' * 11)})"
    )
    with conn:
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for start in range(1, size + 1, BATCH):
            inquiries, obligations = _rows(start, min(start + BATCH, size + 1), mine)
            conn.executemany(insert_inquiry, inquiries)
            conn.executemany(insert_obligation, obligations)
        for _, sql in indexes:
            conn.execute(sql)
    conn.execute("ANALYZE")
    conn.close()
    return path


def add_token(path: Path) -> str:
    from tracker.store import access
    from tracker.store.db import make_engine, session_factory, transaction
    from tracker.web.auth import hash_password, new_token, token_digest

    token = new_token()
    engine = make_engine(f"sqlite:///{path}")
    with transaction(session_factory(engine)) as session:
        access.add_token(
            session, name="bench", role_name="advisor", digest=token_digest(token), now=NOW
        )
        # the same advisor as a page user: *Mine frister* lists their own inquiries
        access.add_user(
            session,
            email=ADVISOR,
            role_name="advisor",
            password_hash=hash_password(PASSWORD),
            now=NOW,
        )
    engine.dispose()
    return token


def log_in(port: int) -> dict[str, str]:
    """The Cookie header of a logged-in session: /login's form with its CSRF token, once."""
    import re

    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        form = client.get("/login")
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
        assert found, "no CSRF field on /login"
        fields = {"csrf": found.group(1), "email": ADVISOR, "password": PASSWORD, "next": "/"}
        answer = client.post("/login", data=fields)
        assert answer.status_code == 303, answer.text
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


# -- the servers (each its own process: its memory is its own) -------------------------------
def settings_for(path: Path) -> Any:
    from tracker.config import Settings

    return Settings(
        database_url=f"sqlite:///{path}",
        web={"secret_key": SECRET, "insecure_http": True},  # loopback, plain http
    )


def app_for(path: Path) -> Any:
    from tracker.web.app import create_app

    return create_app(settings_for(path), clock=lambda: NOW)


def capture(path: Path, token: str) -> list[tuple[str, list[Any]]]:
    """The SQL statements (with their parameters) the app runs for one list request."""
    import warnings

    from sqlalchemy import event

    with warnings.catch_warnings():  # Starlette 1.x asks for httpx2; httpx works here
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    app = app_for(path)
    engine = app.state.web.engine
    seen: list[tuple[str, list[Any]]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, list(parameters)))

    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert client.get(LIST_PATH, headers=headers).status_code == 200  # warm: token use
        event.listen(engine, "before_cursor_execute", record)
        answer = client.get(LIST_PATH, headers=headers)
        event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == 200 and len(answer.json()["items"]) == OPEN_MINE
    return seen


def bare_for(path: Path, statements: list[tuple[str, list[Any]]]) -> Any:
    from anyio import CapacityLimiter, to_thread
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    local = threading.local()
    # The SELECTs only: the driver reads in autocommit, the app's BEGINs are its sessions'.
    selects = [(sql, params) for sql, params in statements if sql.lstrip().upper() != "BEGIN"]
    # As many at once as the app builds lists (web.list_threads): with the thread pool's 40
    # at once, each would wait for the interpreter lock at every driver call.
    limiter = CapacityLimiter(settings_for(path).web.list_threads)

    def rows() -> bytes:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(path, check_same_thread=False)
        found = [conn.execute(sql, params).fetchall() for sql, params in selects]
        return json.dumps({"rows": found}, default=str).encode()

    async def inquiries(_request: Request) -> Response:
        body = await to_thread.run_sync(rows, limiter=limiter)
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/api/v1/inquiries", inquiries)])


def serve(kind: str, path: Path, port: int, extra: str) -> None:
    import uvicorn

    if kind == "app":
        app = app_for(path)
    else:
        app = bare_for(path, [(s, p) for s, p in json.loads(Path(extra).read_text())])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(kind: str, path: Path, extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, __file__, "serve", kind, str(path), str(port), extra]
    proc = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the {kind} server did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# -- the load -------------------------------------------------------------------------------
async def _client(port: int, request: bytes, until: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failures = 0
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                failures += 1
            latencies.append(time.perf_counter() - began)
    finally:
        writer.close()
    return failures


async def _load(port: int, path: str, headers: dict[str, str], seconds: float, n: int) -> Any:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    until = time.perf_counter() + seconds
    latencies: list[float] = []
    failures = await asyncio.gather(*(_client(port, request, until, latencies) for _ in range(n)))
    return latencies, sum(failures)


def measure(
    port: int, path: str, headers: dict[str, str], seconds: float, n: int
) -> dict[str, float]:
    asyncio.run(_load(port, path, headers, WARM_UP_S, n))
    latencies, failures = asyncio.run(_load(port, path, headers, seconds, n))
    latencies.sort()
    assert failures == 0, f"{failures} answers were not 200"
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def run_size(directory: Path, size: int, seconds: float, connections: int) -> dict[str, Any]:
    began = time.perf_counter()
    path = build(directory, size)
    print(f"{size:>9,} inquiries built in {time.perf_counter() - began:.1f} s", flush=True)
    token = add_token(path)
    statements = capture(path, token)
    sql_file = directory / f"sql-{size}.json"
    sql_file.write_text(json.dumps(statements, default=str))
    auth = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {}
    for kind, target, given in (
        ("app", LIST_PATH, auth),
        ("bare", LIST_PATH, {}),
        ("page", "/", {}),
    ):
        proc, port = start("app" if kind == "page" else kind, path, str(sql_file))
        try:
            headers = log_in(port) if kind == "page" else given
            figures = measure(port, target, headers, seconds, connections)
            figures["rss_mib"] = rss_kib(proc.pid) / 1024
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        results[kind] = figures
        print(
            f"{size:>9,} {kind:<5} {figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:7.1f} ms"
            f"  p99 {figures['p99_ms']:7.1f} ms  RSS {figures['rss_mib']:6.1f} MiB",
            flush=True,
        )
    path.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    print(f"{args.connections} connections, {args.seconds:.0f} s per target, one worker, "
          f"loopback; {os.cpu_count()} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="svarfrist-bench-web-") as folder:
        runs = {
            size: run_size(Path(folder), size, args.seconds, args.connections)
            for size in args.sizes
        }
    for size, r in runs.items():
        for kind in ("app", "page"):
            rate, p99 = r[kind]["rps"] / r["bare"]["rps"], r[kind]["p99_ms"] / r["bare"]["p99_ms"]
            print(f"{size:>9,} {kind}/bare: {rate:.2f}x req/s (>= 0.5), p99 {p99:.2f}x (<= 3)")
    if len(runs) >= 2:
        for kind in ("app", "page"):
            small, big = runs[min(runs)][kind], runs[max(runs)][kind]
            latency = big["p50_ms"] / small["p50_ms"]
            rate = small["rps"] / big["rps"]
            memory = big["rss_mib"] / small["rss_mib"]
            print(
                f"{kind} {max(runs):,} vs {min(runs):,}: p50 {latency:.2f}x, req/s {rate:.2f}x "
                f"(flat: <= 1.2); server RSS {memory:.2f}x (<= 1.2)"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
