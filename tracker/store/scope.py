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
refuses a department outside it.

Offices are apart whatever ``restrict_departments`` says: a user or token tied to an office
(``--office KEY``; the column holds ``*`` for one tied to none, which sees every office, as
every user did before offices) sees only that office's inquiries. ``clause`` narrows the
``office`` column of the same table as the department column it is given.

The command line, the daemon, intake and the one-click mail links (the link itself is the
authorisation, issued to the inquiry's own advisor) act with
:data:`EVERYTHING`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, false, true
from sqlalchemy.orm import InstrumentedAttribute

from tracker.errors import OutOfScopeError
from tracker.store.access import Role

ALL_OFFICES = "*"
"""A user's or token's office when it is tied to none: it sees every office."""
UNRESTRICTED_WITHOUT_DEPARTMENTS = frozenset({Role.MANAGER, Role.ADMIN})
"""Roles that see everything when tied to no department (under restriction)."""


@dataclass(frozen=True, kw_only=True)
class Scope:
    departments: frozenset[str] | None
    """The departments in reach; None: every department."""
    offices: frozenset[str] | None = None
    """The offices in reach; None: every office (a user or token tied to none, ``*``)."""

    @classmethod
    def of(
        cls,
        *,
        restrict: bool,
        role: Role,
        departments: Collection[str],
        office: str | None = ALL_OFFICES,
    ) -> Scope:
        """The scope of a caller with ``role`` tied to ``departments`` and ``office`` (see
        the module). An office tie holds whatever ``restrict`` says: offices are apart."""
        offices = None if office in (None, ALL_OFFICES) else frozenset({office})
        if not restrict or (not departments and role in UNRESTRICTED_WITHOUT_DEPARTMENTS):
            return cls(departments=None, offices=offices)
        return cls(departments=frozenset(departments), offices=offices)

    def narrowed_to_office(self, office: str) -> Scope:
        """This scope within ``office`` alone (``--office``): nothing if it was outside."""
        offices = frozenset({office}) if self.allows_office(office) else frozenset()
        return Scope(departments=self.departments, offices=offices)

    def admitted(self, office: str | None) -> Scope:
        """This scope within the office a caller chose: ``office`` (a known office's key)
        alone if given, refused (403, field ``office``) outside the scope; else every office
        in reach. A report counts what it reaches (tracker.reports.queries.Period.within),
        so a caller of one office never gets another office's figures, nor one held to some
        departments another department's."""
        if office is None:
            return self
        self.admit_office(office)
        return Scope(departments=self.departments, offices=frozenset({office}))

    def allows(self, department: str) -> bool:
        return self.departments is None or department in self.departments

    def clause(
        self, column: InstrumentedAttribute[str], parameter: str | None = None
    ) -> ColumnElement[bool]:
        """A WHERE condition on a row's department column and, where the scope holds some
        offices, on the ``office`` column of the same table (inquiries, obligations): see
        :meth:`_departments`. With ``parameter``, the offices are the expanding parameter
        ``<parameter>_offices`` (:meth:`values` gives both)."""
        departments = self._departments(column, parameter)
        if self.offices is None:
            return departments
        return and_(departments, self.office_clause(column.class_.office, parameter))

    def office_clause(
        self, column: InstrumentedAttribute[str], parameter: str | None = None
    ) -> ColumnElement[bool]:
        """A WHERE condition on an ``office`` column: the offices in reach (``true()``, which
        vanishes from an AND, when that is every office). See :func:`in_offices`."""
        if self.offices is None:
            return true()
        return in_offices(column, self.offices, parameter)

    def values(self, parameter: str) -> dict[str, Any]:
        """The parameters of a statement built with ``clause(..., parameter)``."""
        return {
            parameter: sorted(self.departments or ()),
            f"{parameter}_offices": sorted(self.offices or ()),
        }

    def _departments(
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
        departments = self.departments
        if departments:
            departments = _SOME.departments
        offices = self.offices
        if offices:
            offices = _SOME.offices
        return Scope(departments=departments, offices=offices)

    @property
    def home_office(self) -> str | None:
        """The one office in reach, where there is exactly one (a caller tied to it)."""
        return next(iter(self.offices)) if self.offices and len(self.offices) == 1 else None

    def allows_office(self, office: str) -> bool:
        return self.offices is None or office in self.offices

    def admit_office(self, office: str) -> None:
        """Registering into ``office``: refused (403, field ``office``) outside."""
        if not self.allows_office(office):
            raise OutOfScopeError(office, "office")

    def admit(self, department: str) -> None:
        """Registering into ``department``: refused (403, field ``department``) outside."""
        if not self.allows(department):
            raise OutOfScopeError(department)

    def within(self, offered: Iterable[str]) -> list[str]:
        """The configured departments this scope may use, in the configured order (the
        forms' choices)."""
        return [d for d in offered if self.allows(d)]


def in_offices(
    column: InstrumentedAttribute[str], offices: frozenset[str], parameter: str | None = None
) -> ColumnElement[bool]:
    """The WHERE condition "``column`` (an ``office`` column) is one of ``offices``": none
    of them, nothing. The one rule of an office's rows, for :meth:`Scope.clause` and the
    reports' office filter (tracker.reports.queries.scope_filter). With ``parameter``,
    the offices are the expanding parameter ``<parameter>_offices``."""
    if not offices:
        return false()
    if parameter is not None:
        return column.in_(bindparam(f"{parameter}_offices", expanding=True))
    return column.in_(sorted(offices))


EVERYTHING = Scope(departments=None)
_SOME = Scope(departments=frozenset({""}), offices=frozenset({""}))
"""The shape of every scope of some departments (Scope.shape)."""
