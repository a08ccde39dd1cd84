"""Domain exceptions: each names the offending thing so the CLI can print one clear line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


class SvarfristError(Exception):
    """Base class for every error Svarfrist reports to a user."""

    code: str | None = None
    """A short, stable snake_case name of the kind of error (the HTTP API's ``code``,
    docs/contract.md), where it has one."""


class BadInputError(SvarfristError):
    """The user gave input we cannot accept (exit status 2, nothing written).

    ``field`` names the input it concerns where one does (``channel``, ``at``, ...): the
    HTTP API reports it beside the message; the command line needs only the message.
    """

    field: str | None = None
    code: str | None = None
    """What kind of mistake it is (``future``, ``not_time``, ``unknown``, ...): the pages
    say the message in the user's language by it (tracker.web.pages.texts), the HTTP API
    answers it as ``code``."""

    def coded(self, code: str) -> BadInputError:
        """This error with ``code`` set: ``raise BadInputError("...").coded("future")``."""
        self.code = code
        return self


class UnknownRefError(BadInputError):
    """No inquiry has this ref (HTTP 404)."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown ref {ref!r}")
        self.ref = ref
        self.code = "unknown_ref"


class ConflictError(BadInputError):
    """The inquiry's state forbids the change: already done, already closed (HTTP 409).

    Every raise gives its ``code`` (``.coded("already_replied")``): the HTTP API's answer
    carries it, so that a client tells one conflict from another without reading words
    (tests/test_error_codes.py holds every raise to it)."""


class OutOfScopeError(BadInputError):
    """The caller may not use this department (``web.restrict_departments``; HTTP 403)."""

    def __init__(self, department: str, field: str = "department") -> None:
        super().__init__(f"{field} {department!r} is not one of yours")
        self.department = department
        self.field = field
        self.code = f"{field}_scope"


def about(field: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorator: a BadInputError the function raises concerns the input ``field``."""

    def decorate(check: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(check)
        def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return check(*args, **kwargs)
            except BadInputError as exc:
                # A conflict or an unknown ref concerns the inquiry, not an input field.
                if exc.field is None and not isinstance(exc, ConflictError | UnknownRefError):
                    exc.field = field
                raise

        return checked

    return decorate


class ConfigError(SvarfristError):
    """The configuration file or environment is invalid (exit status 2 at start)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config: {key}: {problem}")
        self.key = key
        self.problem = problem


class UnknownScheduleError(BadInputError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown schedule {name!r}")
        self.name = name
        self.code = "unknown"


class UnknownRuleError(BadInputError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown rule {name!r}")
        self.name = name
        self.code = "unknown"


class NoWorkingTimeError(SvarfristError):
    """A deadline search hit its bound: the schedule has (almost) no working time."""

    code = "no_working_time"

    def __init__(self, schedule: str, years: int) -> None:
        super().__init__(f"schedule {schedule!r} has not enough working time within {years} years")
        self.schedule = schedule
        self.years = years


class EnvironmentFailure(SvarfristError):
    """Something outside the user's input failed (database unreachable, ...): exit status 1."""
