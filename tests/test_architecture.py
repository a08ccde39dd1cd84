"""The pure core stays pure: no database, scheduler, mail, settings or environment in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TRACKER = Path(__file__).parents[1] / "tracker"
PURE_MODULES = ["calendar.py", "intervals.py", "explain.py", "sla.py"]
FORBIDDEN = ("sqlalchemy", "apscheduler", "aiosmtplib", "pydantic", "pydantic_settings")
FORBIDDEN_OWN = ("tracker.config",)


def imported_modules(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def reads_environment(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found.extend(a.name for a in node.names if a.name in {"environ", "getenv"})
    return found


@pytest.mark.parametrize("module", PURE_MODULES)
def test_a_pure_module_imports_no_infrastructure_and_no_settings(module: str) -> None:
    tree = ast.parse((TRACKER / module).read_text(encoding="utf-8"))
    bad = [
        name
        for name in imported_modules(tree)
        if name.split(".")[0] in FORBIDDEN
        or any(name == own or name.startswith(own + ".") for own in FORBIDDEN_OWN)
    ]
    assert bad == []


@pytest.mark.parametrize("module", PURE_MODULES)
def test_a_pure_module_does_not_read_the_environment(module: str) -> None:
    tree = ast.parse((TRACKER / module).read_text(encoding="utf-8"))
    assert reads_environment(tree) == []


def test_the_check_would_notice_a_forbidden_import_and_an_environment_read() -> None:
    tree = ast.parse("import os\nfrom sqlalchemy import select\nx = os.environ['A']\n")
    assert "sqlalchemy" in imported_modules(tree)
    assert reads_environment(tree) == ["os.environ"]


def _subcommands(parser: object) -> list[str]:
    import argparse

    actions = getattr(parser, "_actions", [])
    found = next(a for a in actions if isinstance(a, argparse._SubParsersAction))
    return list(found.choices)


def test_the_cli_table_names_every_command_with_the_module_that_defines_it() -> None:
    """The start-up shortcut imports only the named module, so the table must be exact."""
    import subprocess
    import sys

    from tracker.cli import COMMANDS, build_parser

    assert _subcommands(build_parser([])) == [n for names in COMMANDS.values() for n in names]
    for names in COMMANDS.values():
        for name in names:
            assert _subcommands(build_parser(["-v", name, "--help"])) == list(names)
    # What running `import` loads: not the report, register or scheduler stacks, nor
    # multiprocessing, which only a large file's reader process needs (tracker.importer).
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from tracker.cli import build_parser;"
         " build_parser(['import', 'x.csv']); print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for heavy in ("tracker.cli.report", "tracker.cli.register", "jinja2", "apscheduler"):
        assert heavy not in loaded
    assert "multiprocessing" not in loaded
    assert "tracker.cli.transfer" in loaded
