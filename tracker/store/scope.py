"""Which departments' inquiries a caller may see and act on: the one home of that rule.

With ``web.restrict_departments = false`` (the default) every caller sees every inquiry, as
before. With it true, a user or token tied to departments (``svarfrist user add ...
--department D``) sees and acts only on inquiries of those departments; an advisor or lead
tied to none sees none (least privilege: a forgotten ``--department`` shows nothing rather
than everything); a manager or admin tied to none keeps the whole register (they are the
municipality's overview and its administrators), and one tied to departments is held to them
like anyone else.

The web app builds a :class:`Scope` per request from its caller and hands it to the store:
the list queries narrow by it, ``show`` and every action load an inquiry through it (another
department's ref is an unknown ref, 404, so a ref's existence does not leak), and ``add``
refuses a department outside it. The command line, the daemon, intake and the one-click mail
links (the link itself is the authorisation, issued to the inquiry's own advisor) act with
:data:`EVERYTHING`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, false, true
from sqlalchemy.orm import InstrumentedAttribute

from tracker.errors import OutOfScopeError
from tracker.store.access import Role

UNRESTRICTED_WITHOUT_DEPARTMENTS = frozenset({Role.MANAGER, Role.ADMIN})
"""Roles that see everything when tied to no department (under restriction)."""


@dataclass(frozen=True, kw_only=True)
class Scope:
    departments: frozenset[str] | None
    """The departments in reach; None: every department."""

    @classmethod
    def of(cls, *, restrict: bool, role: Role, departments: Collection[str]) -> Scope:
        """The scope of a caller with ``role`` tied to ``departments`` (see the module)."""
        if not restrict:
            return EVERYTHING
        if not departments and role in UNRESTRICTED_WITHOUT_DEPARTMENTS:
            return EVERYTHING
        return cls(departments=frozenset(departments))

    def allows(self, department: str) -> bool:
        return self.departments is None or department in self.departments

    def clause(
        self, column: InstrumentedAttribute[str], parameter: str | None = None
    ) -> ColumnElement[bool]:
        """A WHERE condition on an inquiry's department column (``true()`` vanishes from an
        AND, so an unrestricted query is the very query it was). ``parameter``: the
        departments are that expanding parameter's value (a statement built once and run
        with ``{parameter: sorted(departments)}``) rather than values of their own."""
        if self.departments is None:
            return true()
        if not self.departments:
            return false()
        if parameter is not None:
            return column.in_(bindparam(parameter, expanding=True))
        return column.in_(sorted(self.departments))

    @property
    def shape(self) -> Scope:
        """A scope whose clause is the same SQL as this one's with a parameter: everything,
        nothing, or some departments (one per kind, for statements built once per kind)."""
        if self.departments is None or not self.departments:
            return self
        return _SOME

    def admit(self, department: str) -> None:
        """Registering into ``department``: refused (403, field ``department``) outside."""
        if not self.allows(department):
            raise OutOfScopeError(department)

    def within(self, offered: Iterable[str]) -> list[str]:
        """The configured departments this scope may use, in the configured order (the
        forms' choices)."""
        return [d for d in offered if self.allows(d)]


EVERYTHING = Scope(departments=None)
_SOME = Scope(departments=frozenset({""}))
"""The shape of every scope of some departments (Scope.shape)."""
