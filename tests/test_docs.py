"""The documentation a clone reads: short README, links that stay inside the repository and
resolve, and every configuration key explained in docs/operations.md."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from tracker.config import Settings

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
README_MAX_LINES = 150


def anchors(page: Path) -> set[str]:
    """GitHub-style anchors of a page's headings."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower())
            found.add(title.replace(" ", "-"))
    return found


def settings_keys(model: type[BaseModel], section: str = "") -> Iterator[tuple[str, str]]:
    """(section, key) of every setting; a nested model's keys under its dotted section
    (``web.oidc``), a named table's under ``section."ID"`` (``web.oidc.groups."ID"``)."""
    for name, field in model.model_fields.items():
        kind = field.annotation
        optional = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(optional) == 1:
            kind = optional[0]  # an optional section ([intake]): its keys are documented
        inner = f"{section}.{name}" if section else name
        value = typing.get_args(kind)[1] if typing.get_origin(kind) is dict else None
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from settings_keys(kind, inner)
        elif section and isinstance(value, type) and issubclass(value, BaseModel):
            yield from settings_keys(value, f'{inner}."ID"')
        else:
            yield section, name


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_of_a_page_points_inside_the_repository_and_resolves(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text
    for target in LINK.findall(text):
        assert not re.match(r"[a-z][a-z0-9+.-]*:", target), f"{page.name}: {target} leaves"
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page.resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(resolved), f"{page.name}: no heading for #{anchor}"


def test_no_module_or_test_points_outside_the_repository() -> None:
    paths = [*ROOT.glob("tracker/**/*.py"), *ROOT.glob("tests/*.py"), ROOT / "pyproject.toml"]
    for path in paths:
        if path != Path(__file__):
            assert "../shared" not in path.read_text(encoding="utf-8"), path


def test_operations_explains_every_configuration_key() -> None:
    rows = [
        line
        for line in (ROOT / "docs" / "operations.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]
    for section, key in settings_keys(Settings):
        if section:
            assert any(f"[{section}]" in row and re.search(rf"\b{key}\b", row) for row in rows), (
                f"[{section}] {key} is not in docs/operations.md"
            )
        else:
            first_cells = [row.split("|")[1] for row in rows]
            assert any(f"`{key}`" in cell or f"`[{key}." in cell for cell in first_cells), (
                f"{key} is not in docs/operations.md"
            )
