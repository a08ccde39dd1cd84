"""``svarfrist report``: statistics and SLA compliance, the annual view, the breach list."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tracker.cli.common import (
    format_time,
    now_of,
    offices,
    parse_date,
    print_json,
    settings,
)
from tracker.cli.database import (
    add_common,
    add_office,
    database,
    office_scope,
    refuse_database_output,
)
from tracker.core.spreadsheet import EXCEL_ENCODING
from tracker.errors import BadInputError
from tracker.reports.build import breach_rows, build_annual, build_report, monthly_compliance
from tracker.reports.format import (
    annual_csv,
    annual_json,
    annual_text,
    breaches_csv,
    number,
    report_csv,
    report_json,
    report_text,
    table,
)
from tracker.reports.labels import Labels, key_label, labels_for
from tracker.reports.queries import GroupBy, Period, checked_period
from tracker.store.db import read_only, session_factory

FORMATS = ("text", "csv", "json", "html")

HELP = """\
Statistics and SLA compliance for inquiries received from --from to --to (local dates, both
inclusive), evaluated at --now. JSON and CSV keep stored identifiers as keys; text and HTML
use labels in the configured language (reminders.language, Danish by default).
CSV is made for Excel: UTF-8 with BOM (utf-8-sig), ';' as separator, decimal commas (59,2),
and a text cell beginning with =, +, - or @ gets an apostrophe so it never runs as a formula.
HTML is one self-contained page with inline SVG charts (no network needed).
Median and 90 % are of the response times stored when each deadline was met (working hours,
pauses excluded); a met deadline without one (its schedule no longer configured, or written
outside Svarfrist) is counted but not timed, and the text report says how many.
--office KEY counts that office's inquiries and deadlines only, in every view (default:
every office together)."""


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "report",
        help="statistics and SLA compliance (text, CSV for Excel, JSON, HTML)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--from", dest="first", help="first local date received (YYYY-MM-DD)")
    p.add_argument("--to", dest="last", help="last local date received, inclusive")
    p.add_argument("--by", choices=[g.value for g in GroupBy], help="group by (default department)")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), csv (Excel: utf-8-sig, ';', decimal comma), json, html",
    )
    p.add_argument("--output", help="write to this file instead of standard output")
    p.add_argument("--annual", action="store_true", help="the annual-report view")
    p.add_argument(
        "--breaches", action="store_true", help="every deadline met late or overdue (csv)"
    )
    add_office(p, "count only this office's inquiries, in every view (default every office)")
    add_common(p, writes=False)
    p.set_defaults(handler=cmd_report)


def _period(args: argparse.Namespace) -> Period:
    """The period of --from/--to, narrowed to --office if given (an unknown office: exit 2
    before anything is read or written)."""
    first = None if args.first is None else parse_date(args.first, "--from")
    last = None if args.last is None else parse_date(args.last, "--to")
    return checked_period(first, last).within(office_scope(args))


def _check(args: argparse.Namespace) -> None:
    by_given = args.by is not None
    if args.annual and args.breaches:
        raise BadInputError("--annual and --breaches are different reports: choose one")
    if (args.annual or args.breaches) and by_given:
        raise BadInputError("--by applies to the compliance report, not --annual/--breaches")
    if args.breaches and args.format == "html":
        raise BadInputError("--breaches is a list: use --format csv, json or text")


def cmd_report(args: argparse.Namespace) -> int:
    _check(args)
    period = _period(args)
    now = now_of(args)
    config = settings()
    lang = config.reminders.language
    labels = labels_for(lang)
    with database() as engine, session_factory(read_only(engine))() as session:
        if args.breaches:
            calendars = {key: o.calendar for key, o in offices().items()}
            rows = breach_rows(session, calendars, period=period, now=now)
            if args.format == "csv":
                return _emit(args.output, breaches_csv(rows), EXCEL_ENCODING)
            items = [
                {
                    "ref": r.ref,
                    "rule": r.rule,
                    "department": r.department,
                    "advisor": r.advisor,
                    "received": _iso(r.received_at),
                    "due": _iso(r.due_at),
                    "met": _iso(r.met_at),
                    "working_hours_late": r.hours_late,
                    "office": r.office,
                }
                for r in rows
            ]
            text = _breach_text(items, labels, lang, show_office=len(calendars) > 1)
            return _emit_structured(args, items, text)
        value: Any
        if args.annual:
            annual = build_annual(session, period=period, now=now, population=config.population)
            if args.format == "json":
                value = annual_json(annual)
            elif args.format == "csv":
                value = annual_csv(annual)
            elif args.format == "html":
                from tracker.reports.html import annual_page  # Jinja2: only for HTML

                value = annual_page(annual, labels, lang)
            else:
                value = annual_text(annual, labels, lang)
        else:
            by = GroupBy(args.by or GroupBy.DEPARTMENT)
            report = build_report(session, by=by, period=period, now=now)
            if args.format == "json":
                value = report_json(report)
            elif args.format == "csv":
                value = report_csv(report)
            elif args.format == "html":
                from tracker.reports.html import report_page  # Jinja2: only for HTML

                months = monthly_compliance(session, period, now)
                value = report_page(report, months, labels, lang)
            else:
                value = report_text(report, labels, lang)
    if args.format == "json":
        return _emit_structured(args, value, "")
    encoding = EXCEL_ENCODING if args.format == "csv" else "utf-8"
    return _emit(args.output, [str(value)], encoding)


def _iso(moment: Any) -> str | None:
    return format_time(moment)


def _breach_text(
    items: list[dict[str, Any]], labels: Labels, lang: str, *, show_office: bool
) -> str:
    """The breach list as a table; ``show_office``: a column of the inquiry's office (where
    several are configured), before the department, as the web's lists have it."""
    names = ("ref", "by_rule", "by_office", "by_department", "by_advisor", "received", "due", "met")
    header = [labels[n] for n in names if show_office or n != "by_office"]
    header.append(labels["hours_late"])
    rows = [
        [
            item["ref"],
            key_label("rule", item["rule"], labels),
            *([item["office"]] if show_office else []),
            item["department"],
            item["advisor"] or "",
            item["received"] or "",
            item["due"] or "",
            item["met"] or "",
            number(item["working_hours_late"], lang, 2),
        ]
        for item in items
    ]
    return table(header, rows, numeric_from=len(header) - 1) + "\n"


def _emit_structured(args: argparse.Namespace, value: Any, text: str) -> int:
    if args.format == "json":
        if args.output is None:
            print_json(value)
            return 0
        return _emit(args.output, [json.dumps(value, ensure_ascii=False, indent=2) + "\n"])
    return _emit(args.output, [text])


def _emit(output: str | None, chunks: Iterable[str], encoding: str = "utf-8") -> int:
    """Write to stdout, or atomically to ``output`` (a failed report leaves no file)."""
    if output is None:
        first = True
        for chunk in chunks:
            data = chunk.encode(encoding if first else "utf-8")
            sys.stdout.buffer.write(data)
            first = False
        sys.stdout.flush()
        return 0
    refuse_database_output(output)
    target = Path(output)
    if not target.parent.is_dir():
        raise BadInputError(f"--output: no such directory: {target.parent}")
    if target.is_dir():  # else the report is written, then cannot replace it (exit 1)
        raise BadInputError(f"--output: {output} is a directory: name a file")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".svarfrist-report-")
    try:
        with os.fdopen(fd, "wb") as handle:
            first = True
            for chunk in chunks:
                handle.write(chunk.encode(encoding if first else "utf-8"))
                first = False
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return 0
