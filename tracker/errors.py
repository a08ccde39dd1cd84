"""Domain exceptions: each names the offending thing so the CLI can print one clear line."""

from __future__ import annotations


class SvarfristError(Exception):
    """Base class for every error Svarfrist reports to a user."""


class BadInputError(SvarfristError):
    """The user gave input we cannot accept (exit status 2, nothing written)."""


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


class UnknownRuleError(BadInputError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown rule {name!r}")
        self.name = name


class NoWorkingTimeError(SvarfristError):
    """A deadline search hit its bound: the schedule has (almost) no working time."""

    def __init__(self, schedule: str, years: int) -> None:
        super().__init__(f"schedule {schedule!r} has not enough working time within {years} years")
        self.schedule = schedule
        self.years = years


class EnvironmentFailure(SvarfristError):
    """Something outside the user's input failed (database unreachable, ...): exit status 1."""
