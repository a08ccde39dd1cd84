"""Every conflict has its code where it is raised (docs/contract.md "HTTP", the error codes):
the API's client branches on ``code``, never on the English words of ``error``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tracker
from tracker.errors import (
    ConflictError,
    NoWorkingTimeError,
    UnknownRefError,
    UnknownRuleError,
    UnknownScheduleError,
)

PACKAGE = Path(tracker.__file__).parent
CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def _conflicts() -> list[tuple[str, int, str | None]]:
    """Each ``ConflictError(...)`` made anywhere in the package: where, and the literal code
    of the ``.coded("...")`` called on it at once (None: made without one)."""
    found: list[tuple[str, int, str | None]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        coded: dict[int, str | None] = {}
        for node in ast.walk(tree):
            # ConflictError(...).coded("x"): a Call on the attribute ``coded`` of the Call.
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "coded"
                and isinstance(node.func.value, ast.Call)
            ):
                arg = node.args[0] if len(node.args) == 1 else None
                literal = arg.value if isinstance(arg, ast.Constant) else None
                coded[id(node.func.value)] = literal if isinstance(literal, str) else None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == ConflictError.__name__
            ):
                where = str(path.relative_to(PACKAGE.parent))
                found.append((where, node.lineno, coded.get(id(node))))
    return found


def test_every_conflict_raised_in_the_package_is_coded_where_it_is_raised() -> None:
    conflicts = _conflicts()
    assert len(conflicts) >= 11  # the walk sees the store's raises (register, history, access)
    uncoded = [f"{where}:{line}" for where, line, code in conflicts if code is None]
    assert uncoded == []
    malformed = [code for _, _, code in conflicts if code and not CODE.fullmatch(code)]
    assert malformed == []


def test_no_subclass_of_conflict_escapes_the_walk() -> None:
    """A subclass would be raised under another name, which the walk above does not see."""
    assert ConflictError.__subclasses__() == []


def test_the_errors_that_name_a_thing_carry_their_code() -> None:
    assert UnknownRefError("2026-000001").code == "unknown_ref"
    assert UnknownRuleError("nope").code == "unknown"
    assert UnknownScheduleError("nope").code == "unknown"
    assert NoWorkingTimeError("never", 10).code == "no_working_time"
