"""The layers hold: import-linter checks the imports, and the core reads no environment.

The contracts live in pyproject.toml (``[tool.importlinter]``); ``make lint`` runs them, and these
tests show that the check bites when a core module imports the database library.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
TRACKER = ROOT / "tracker"
PURE = sorted([*TRACKER.joinpath("core").glob("*.py"), TRACKER / "sla.py"])
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def reads_environment(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found.extend(a.name for a in node.names if a.name in {"environ", "getenv"})
    return found


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_a_pure_module_does_not_read_the_environment(path: Path) -> None:
    assert reads_environment(ast.parse(path.read_text(encoding="utf-8"))) == []


def test_the_check_would_notice_an_environment_read() -> None:
    tree = ast.parse("import os\nx = os.environ['A']\n")
    assert reads_environment(tree) == ["os.environ"]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_layer_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/calendar.py", "import sqlalchemy", "The pure core imports no"),
        ("store/models.py", "import tracker.cli", "Layers:"),
    ],
)
def test_the_contracts_fail_when_a_module_imports_across_its_layer(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(TRACKER, tmp_path / "tracker", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "tracker" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1
    assert f"{contract}" in result.stdout
    assert "BROKEN" in result.stdout


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
    # multiprocessing, which only a large file's reader process needs (tracker.transfer.importer).
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from tracker.cli import build_parser;"
         " build_parser(['import', 'x.csv']); print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for heavy in ("tracker.cli.report", "tracker.cli.register", "jinja2", "apscheduler"):
        assert heavy not in loaded
    assert "multiprocessing" not in loaded
    assert "tracker.cli.transfer" in loaded
