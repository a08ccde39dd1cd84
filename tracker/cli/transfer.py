"""``import`` and ``export``: the register as CSV (or JSON), per docs/contract.md."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracker.cli.common import now_of, out
from tracker.cli.database import (
    add_common,
    add_office,
    context,
    database,
    given_office,
    office_of,
    office_scope,
)
from tracker.errors import BadInputError
from tracker.store.db import read_only, session_factory, transaction
from tracker.transfer import export, importer

EXPORT_HELP = """\
Every inquiry in the import format, to standard output: export, then import into an empty
database, gives the same file again. This CSV is for import, not for spreadsheets: cells are
written verbatim, so a cell beginning with =, +, - or @ would run as a formula in Excel.
For a spreadsheet use --excel: UTF-8 with BOM, ';' as separator, and such cells prefixed with
an apostrophe (which import would keep, so that file does not round-trip)."""

# Below this many rows a progress indication is more noise than help.
PROGRESS_FROM_ROWS = 20_000


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    imp = sub.add_parser("import", help="bulk import CSV; all rows or none")
    imp.add_argument("file", help="CSV file (UTF-8, comma or semicolon separated)")
    imp.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
    add_office(
        imp,
        "the office the rows are for (a row's office cell, if any, must say it); without it "
        "each row goes to the office its office cell names, default where empty",
    )
    add_common(imp, writes=True)
    imp.set_defaults(handler=cmd_import)

    exp = sub.add_parser(
        "export",
        help="everything, in the import format, to stdout",
        description=EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exp.add_argument("--format", choices=["csv", "json"], default="csv")
    exp.add_argument(
        "--excel",
        action="store_true",
        help="CSV for a spreadsheet (Danish Excel: BOM, ';', formula-like cells neutralised); "
        "not for import",
    )
    add_office(exp, "only this office's inquiries")
    exp.set_defaults(handler=cmd_export)


class _TerminalProgress:
    """A one-line counter on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, phase: str, done: int) -> None:
        if done >= PROGRESS_FROM_ROWS:
            sys.stderr.write(f"\r{phase}: {done:,} rows")
            sys.stderr.flush()
            self.shown = True

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def cmd_import(args: argparse.Namespace) -> int:
    # Without --office every row goes to the office its ``office`` cell names (an export of
    # every office imports as it was); with it, every row must be that office's.
    ctx = replace(context(args, now_of(args)), scope=office_scope(args)).office(office_of(args))
    progress = _TerminalProgress() if sys.stderr.isatty() else None
    path = Path(args.file)
    try:
        with database() as engine:
            if args.dry_run:  # never committed: the session rolls back on close
                with session_factory(engine)() as session:
                    result = importer.import_csv(
                        session, ctx, path, dry_run=True, progress=progress
                    )
            else:
                with transaction(session_factory(engine)) as session:
                    result = importer.import_csv(session, ctx, path, progress=progress)
    finally:
        if progress is not None:
            progress.finish()
    if result.dry_run:
        out(f"{result.rows} rows are valid; nothing imported (dry run)")
    else:
        out(f"imported {result.rows} rows ({result.generated_refs} with generated refs)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.excel and args.format != "csv":
        raise BadInputError("--excel is CSV for a spreadsheet: not with --format json")
    office = given_office(args)
    with database() as engine, session_factory(read_only(engine))() as session:
        if args.excel:
            export.write_excel(session, sys.stdout, office)
        elif args.format == "json":
            export.write_json(session, sys.stdout, office)
        else:
            export.write_csv(session, sys.stdout, office)
    return 0
