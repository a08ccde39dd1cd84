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


# Codes only the command line and the pages meet: the API has no route that raises them.
NOT_IN_API = {
    "token_exists",  # svarfrist token create
    "user_exists",  # svarfrist user add
    "same_advisor",  # assign: the command line and the inquiry's page
    "not_event",  # the undo button's form
}


def _literal_codes() -> set[str]:
    """Every code the package gives a refusal: ``.coded("x")``, ``_refused(field, "x", ...)``,
    ``code="x"``, a class's or an instance's ``code = "x"``, the general STATUS_CODES."""
    from tracker.web.errors import STATUS_CODES

    found = set(STATUS_CODES.values())
    for path in sorted(PACKAGE.rglob("*.py")):
        if "pages" in path.relative_to(PACKAGE).parts:
            continue  # the pages' own refusals are pages, not the API's JSON
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            texts: list[ast.expr] = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                texts += node.args if node.func.attr == "coded" else []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                texts += node.args[1:2] if node.func.id == "_refused" else []
            if isinstance(node, ast.Call):
                texts += [k.value for k in node.keywords if k.arg == "code"]
            if isinstance(node, ast.Assign):
                named = [t for t in node.targets if isinstance(t, ast.Attribute | ast.Name)]
                if any(getattr(t, "attr", getattr(t, "id", None)) == "code" for t in named):
                    texts.append(node.value)
            found |= {
                t.value for t in texts if isinstance(t, ast.Constant) and isinstance(t.value, str)
            }
    return found


def test_every_code_the_api_can_answer_is_in_the_contracts_table() -> None:
    contract = (PACKAGE.parent / "docs" / "contract.md").read_text(encoding="utf-8")
    table = contract.split("### Error codes of the HTTP API", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z0-9_]+)`", table))
    codes = _literal_codes() | {"department_scope", "office_scope"}  # OutOfScopeError's
    assert {"unknown_ref", "duplicate_ref", "unauthorized", "body_too_large"} <= codes
    assert sorted(codes - NOT_IN_API - documented) == []
