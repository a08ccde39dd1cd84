"""The HTML report: self-contained, escaped, accessible, and rendered by a real browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from report_data import NOW, World, database, env_for, generated, local

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = '<b>Teknik & "Miljø"</b>'


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw pixel rows) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        out += line
        prev = line
    return width, height, bpp, bytes(out)


def non_white_share(png: bytes) -> float:
    width, height, bpp, pixels = decode_png(png)
    step = 7  # every 7th pixel is plenty to tell a page from a blank one
    seen = dark = 0
    for i in range(0, width * height, step):
        r, g, b = pixels[i * bpp : i * bpp + 3]
        seen += 1
        dark += min(r, g, b) < 235
    return dark / seen


def screenshot(html: Path, png: Path, size: str, tmp_path: Path) -> str:
    """Render in headless Chromium; returns its log, in which console messages appear."""
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={size}",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert png.exists(), proc.stderr[-2000:]
    return proc.stderr


def console_messages(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def html_reports(run_cli: Any, tmp_path: Path) -> dict[str, str]:
    world = generated(300, seed=4)
    hostile = world.add(received_at=local(2026, 3, 3, 9), channel="email", department=HOSTILE)
    world.oblige(hostile, "reply", due_at=local(2026, 3, 4, 9), met_at=local(2026, 3, 3, 12))
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, world):
        pass
    env = env_for(tmp_path, url, population=40368)
    pages = {}
    for name, extra in (("report", []), ("annual", ["--annual"])):
        out = tmp_path / f"{name}.html"
        got = run_cli(
            "report",
            *extra,
            "--format",
            "html",
            "--output",
            str(out),
            "--now",
            NOW.isoformat(),
            env=env,
        )
        assert got.returncode == 0, got.stderr
        pages[name] = out.read_text(encoding="utf-8")
    return pages


def test_the_page_is_self_contained_escaped_and_accessible(run_cli: Any, tmp_path: Path) -> None:
    for page in html_reports(run_cli, tmp_path).values():
        assert page.startswith("<!DOCTYPE html>")
        assert '<html lang="da">' in page
        assert '<meta name="viewport"' in page
        assert "@media print" in page
        for outside in ("http://", "https://", "<script", "<link", "@import", "url(", "src="):
            assert outside not in page
        charts = re.findall(r'<svg role="img" aria-label="([^"]+)"', page)
        assert len(charts) >= 3
        assert all(label.strip() for label in charts)
        assert "<table>" in page
        assert HOSTILE not in page
        assert "&lt;b&gt;Teknik &amp; &#34;Miljø&#34;&lt;/b&gt;" in page
        assert "FORTROLIG" not in page


def test_english_when_configured(run_cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, generated(40)):
        pass
    env = env_for(tmp_path, url, reminders={"language": "en"})
    got = run_cli("report", "--format", "html", "--now", NOW.isoformat(), env=env)
    assert '<html lang="en">' in got.stdout
    assert "Compliance" in got.stdout


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
def test_a_real_browser_renders_it_without_errors_on_a_phone_and_a_desk(
    run_cli: Any, tmp_path: Path
) -> None:
    pages = html_reports(run_cli, tmp_path)
    for name, page in pages.items():
        html = tmp_path / f"{name}.html"
        html.write_text(page, encoding="utf-8")
        for size in ("390,844", "1280,1600"):
            png = tmp_path / f"{name}-{size.replace(',', 'x')}.png"
            log = screenshot(html, png, size, tmp_path)
            assert console_messages(log) == []
            share = non_white_share(png.read_bytes())
            assert share > 0.03, f"{png.name} looks blank ({share:.1%} non-white)"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_the_checks_would_catch_a_blank_page_and_a_console_error(tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    png = tmp_path / "blank.png"
    screenshot(blank, png, "390,844", tmp_path)
    assert non_white_share(png.read_bytes()) < 0.001
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><p>x</p><script>nope();</script>", encoding="utf-8")
    log = screenshot(broken, tmp_path / "broken.png", "390,844", tmp_path)
    assert any("nope" in line for line in console_messages(log))


def test_a_world_without_data_still_renders(run_cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with database(url, World()):
        pass
    got = run_cli("report", "--format", "html", env=env_for(tmp_path, url))
    assert got.returncode == 0
    assert "Ingen data i perioden" in got.stdout
