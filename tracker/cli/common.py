"""Shared pieces of the command line: time parsing and printing, settings, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from tracker.config import (
    Office,
    Settings,
    build_calendar,
    build_offices,
    build_rules,
    load_settings,
)
from tracker.core import validate
from tracker.core.calendar import BusinessCalendar
from tracker.errors import BadInputError
from tracker.sla import Rule

# Arguments that name files: the operating system's names are bytes, and Python carries
# ones that are not UTF-8 through to open() intact, so they are not text to check.
PATH_ARGUMENTS = frozenset({"file", "output"})
# Options whose absence means something (the default recipient, $USER, cover by the team,
# every advisor's inquiries): given empty, as by a script's unset variable, they are refused
# rather than taken as absent.
NOT_EMPTY_ARGUMENTS = frozenset({"advisor", "actor", "substitute"})


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad usage as one ``error:`` line and exit status 2."""

    def error(self, message: str) -> Any:
        raise BadInputError(message)


def check_text_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every text argument passes validate.text (valid UTF-8, no NUL), named as typed, and
    none of NOT_EMPTY_ARGUMENTS is given empty.

    Bytes that are not UTF-8 arrive in argv as lone surrogates: refused here, before any
    command stores, looks up or prints them, with the option named and the value unshown.
    """
    for action in _actions(parser, args):
        value = getattr(args, action.dest, None)
        if isinstance(value, str) and action.dest not in PATH_ARGUMENTS:
            name = action.option_strings[0] if action.option_strings else action.dest
            validate.text(value, name)
            if action.dest in NOT_EMPTY_ARGUMENTS and not value.strip():
                raise BadInputError(f"{name}: empty (leave the option out for its default)")


def _actions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[argparse.Action]:
    """The parser's own actions and those of the subcommand that was chosen."""
    found = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                found += _actions(chosen, args)
    return found


@cache
def settings() -> Settings:
    return load_settings()


@cache
def calendar() -> BusinessCalendar:
    return build_calendar(settings())


@cache
def rules() -> dict[str, Rule]:
    return build_rules(settings())


@cache
def offices() -> dict[str, Office]:
    """Every configured office, built once per command (the ``default`` office's calendar
    and rules are :func:`calendar` and :func:`rules`, built from the same settings)."""
    return build_offices(settings())


def parse_time(text: str, option: str) -> datetime:
    """ISO 8601; with an offset as given, without one as Europe/Copenhagen wall time
    (validate.parse_time: a DST-gap wall time is refused, a repeated one is the first)."""
    return validate.parse_time(text, option)


def parse_date(text: str, option: str) -> date:
    return validate.parse_date(text, option)


def now_of(args: argparse.Namespace) -> datetime:
    """``--now`` if given, else the clock: read once per command, here in the shell. An
    empty ``--now`` (a script's unset variable) is no time, as for every time option."""
    given = getattr(args, "now", None)
    if given is not None:
        return parse_time(given, "--now")
    return datetime.now(UTC)


def format_time(moment: datetime | None) -> str | None:
    """Local time with offset, to the second (docs/contract.md)."""
    return None if moment is None else validate.local_time(moment)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
