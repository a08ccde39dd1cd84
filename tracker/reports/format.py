"""Report values -> JSON (identifiers), CSV for Excel and aligned text (Danish by default).

CSV is written the way Danish Excel opens it with a double-click: UTF-8 with a byte-order
mark (``utf-8-sig``), ``;`` between fields and a decimal comma (59,2), and no text cell a
spreadsheet would run as a formula (tracker.core.spreadsheet). JSON and CSV keep the stored
identifiers as keys; text and HTML show labels in the configured language.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from tracker.core.spreadsheet import Cell, Figure, SpreadsheetWriter
from tracker.core.validate import local_time
from tracker.reports.build import AnnualReport, BreachRow, Report, ReportRow, ShareRow
from tracker.reports.labels import Labels, key_label, period_text


def _local_date(report: Report | AnnualReport, which: str) -> str | None:
    day = getattr(report.period, which)
    return day.isoformat() if day else None


def report_json(report: Report) -> dict[str, Any]:
    """docs/contract.md's shape; extra fields per row: median_hours, p90_hours."""
    document: dict[str, Any] = {
        "from": _local_date(report, "first"),
        "to": _local_date(report, "last"),
        "by": report.by.value,
        "total": report.total,
        "open": report.open,
        "closed": report.closed,
        "rows": [_row_json(r) for r in report.rows],
    }
    if report.period.offices is not None:  # narrowed (report --office): which offices
        document["offices"] = sorted(report.period.offices)
    if report.period.departments is not None:  # a caller held to departments: which
        document["departments"] = sorted(report.period.departments)
    return document


def _row_json(row: ReportRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "count": row.count,
        "share": row.share,
        "open": row.open,
        "closed": row.closed,
        "obligations": row.obligations,
        "on_time": row.on_time,
        "late": row.late,
        "overdue": row.overdue,
        "compliance": row.compliance,
        "median_hours": row.median_hours,
        "p90_hours": row.p90_hours,
    }


def _share_json(row: ShareRow) -> dict[str, Any]:
    return {"key": row.key, "count": row.count, "share": row.share, "open": row.open}


def annual_json(report: AnnualReport) -> dict[str, Any]:
    return {
        "from": _local_date(report, "first"),
        "to": _local_date(report, "last"),
        "total": report.total,
        "open": report.open,
        "closed": report.closed,
        "population": report.population,
        "population_share": report.population_share,
        "departments": [_share_json(r) for r in report.departments],
        "channels": [_share_json(r) for r in report.channels],
        "topics": [_share_json(r) for r in report.topics],
        "months": [
            {k: v for k, v in _row_json(r).items() if k not in {"count", "share", "open", "closed"}}
            for r in report.months
        ],
    }


# -- numbers ----------------------------------------------------------------------------------
def number(value: float | None, lang: str, places: int = 1) -> str:
    """A decimal with the language's separator (59,2 in Danish); '' for None."""
    if value is None:
        return ""
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if lang == "da" else text


def pct(value: float | None, lang: str, places: int = 1) -> str:
    return "–" if value is None else f"{number(value, lang, places)} %"


def integer(value: int, lang: str) -> str:
    """Thousands grouped as Danes write them (40.368) or with commas in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "da" else text


# -- CSV --------------------------------------------------------------------------------------
def _csv(header: Iterable[Cell], rows: Iterable[Iterable[Cell]]) -> str:
    buffer = io.StringIO()
    writer = SpreadsheetWriter(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def _csv_value(value: str | int | float | None) -> Cell:
    """A report value as a spreadsheet cell: a figure with a decimal comma, never a formula."""
    if isinstance(value, float):
        return Figure(number(value, "da", 2 if value != round(value, 1) else 1))
    return value


REPORT_FIELDS = (
    "key",
    "count",
    "share",
    "open",
    "closed",
    "obligations",
    "on_time",
    "late",
    "overdue",
    "compliance",
    "median_hours",
    "p90_hours",
)


def report_csv(report: Report) -> str:
    """One row per key, the JSON field names as header; decode with ``utf-8-sig``."""
    rows = ([_csv_value(v) for v in _row_json(r).values()] for r in report.rows)
    return _csv(REPORT_FIELDS, rows)


def annual_csv(report: AnnualReport) -> str:
    """One table: section (department, channel, topic, total, population), key, figures."""
    rows: list[list[str | int | float | None]] = [
        ["total", "", report.total, 100.0 if report.total else None, report.open]
    ]
    for section, items in (
        ("department", report.departments),
        ("channel", report.channels),
        ("topic", report.topics),
    ):
        rows += [[section, r.key, r.count, r.share, r.open] for r in items]
    if report.population:
        rows.append(["population", "", report.population, report.population_share, ""])
    return _csv(
        ("section", "key", "count", "share", "open"), ([_csv_value(v) for v in r] for r in rows)
    )


BREACH_FIELDS = (
    "ref",
    "rule",
    "department",
    "advisor",
    "received",
    "due",
    "met",
    "working_hours_late",
    "office",  # last: the columns before it keep their places
)


def _local(moment: Any) -> str:
    return "" if moment is None else local_time(moment)


def breaches_csv(rows: Iterable[BreachRow]) -> Iterable[str]:
    """The breach list as CSV text chunks (streamed: one chunk per row after the header)."""
    yield _csv(BREACH_FIELDS, [])
    for r in rows:
        fields: list[Cell] = [
            r.ref,
            r.rule,
            r.department,
            r.advisor or "",
            _local(r.received_at),
            _local(r.due_at),
            _local(r.met_at),
            None if r.hours_late is None else Figure(number(r.hours_late, "da", 2)),
            r.office,
        ]
        yield _csv(fields, [])


# -- text -------------------------------------------------------------------------------------
def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = []
    for cells in [header, *rows]:
        parts = [
            str(c).rjust(w) if i >= numeric_from else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _period_line(report: Report | AnnualReport, labels: Labels) -> str:
    return period_text(
        _local_date(report, "first"),
        _local_date(report, "last"),
        labels,
        report.period.offices,
        report.period.departments,
    )


def report_rows_text(report: Report, labels: Labels, lang: str) -> list[list[str]]:
    return [
        [
            key_label(report.by.value, r.key, labels),
            integer(r.count, lang),
            pct(r.share, lang),
            integer(r.open, lang),
            integer(r.closed, lang),
            integer(r.obligations, lang),
            integer(r.on_time, lang),
            integer(r.late, lang),
            integer(r.overdue, lang),
            pct(r.compliance, lang),
            number(r.median_hours, lang) or "–",
            number(r.p90_hours, lang) or "–",
        ]
        for r in report.rows
    ]


def report_header(report: Report, labels: Labels) -> list[str]:
    names = ("count", "share", "open", "closed", "obligations", "on_time", "late", "overdue")
    return [
        labels[f"by_{report.by.value}"],
        *(labels[n] for n in names),
        labels["compliance"],
        labels["median_hours"],
        labels["p90_hours"],
    ]


def report_text(report: Report, labels: Labels, lang: str) -> str:
    summary = (
        f"{labels['inquiries']}: {integer(report.total, lang)}  "
        f"{labels['open']}: {integer(report.open, lang)}  "
        f"{labels['closed']}: {integer(report.closed, lang)}  "
        f"{labels['compliance']}: {pct(report.obligations.compliance, lang)}"
    )
    if report.untimed:
        summary += "\n" + labels["untimed"].format(count=integer(report.untimed, lang))
    body = table(report_header(report, labels), report_rows_text(report, labels, lang))
    return f"{labels['report_title']}\n{_period_line(report, labels)}\n{summary}\n\n{body}\n"


def share_rows_text(
    kind: str, rows: Sequence[ShareRow], labels: Labels, lang: str
) -> list[list[str]]:
    return [
        [
            key_label(kind, r.key, labels),
            integer(r.count, lang),
            pct(r.share, lang),
            integer(r.open, lang),
        ]
        for r in rows
    ]


def annual_text(report: AnnualReport, labels: Labels, lang: str) -> str:
    header = [labels["count"], labels["share"], labels["open"]]
    lines = [
        labels["annual_title"],
        _period_line(report, labels),
        f"{labels['inquiries']}: {integer(report.total, lang)}  "
        f"{labels['open']}: {integer(report.open, lang)}  "
        f"{labels['closed']}: {integer(report.closed, lang)}",
    ]
    if report.population:
        lines.append(
            f"{labels['population_share']}: {pct(report.population_share, lang, 2)} "
            f"({labels['of']} {integer(report.population, lang)})"
        )
    for kind, title, rows in (
        ("department", labels["by_department"], report.departments),
        ("channel", labels["by_channel"], report.channels),
        ("topic", labels["top_topics"], report.topics),
    ):
        lines += ["", table([title, *header], share_rows_text(kind, rows, labels, lang))]
    return "\n".join(lines) + "\n"
