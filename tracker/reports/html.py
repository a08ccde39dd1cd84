"""Reports as one self-contained HTML page: summary figures, inline SVG charts, tables.

No scripts, fonts, style sheets or images are fetched: the CSS is inline, the charts are
SVG in the page, so the file opens offline, on a phone (viewport, fluid layout) and prints
(@media print). Jinja2 autoescapes every string; the SVG is built from escaped pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources

from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup

from tracker.core.calendar import COPENHAGEN
from tracker.reports.build import AnnualReport, Report, ReportRow, ShareRow
from tracker.reports.format import (
    integer,
    number,
    pct,
    report_header,
    report_rows_text,
    share_rows_text,
)
from tracker.reports.labels import Labels, key_label, period_text, short_month
from tracker.reports.svg import Bar, columns, hbars


@dataclass(frozen=True, kw_only=True)
class Table:
    caption: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True, kw_only=True)
class Page:
    lang: str
    title: str
    period: str
    generated: str
    figures: Sequence[tuple[str, str]]
    charts: Sequence[tuple[str, Markup]] = field(default_factory=list)
    tables: Sequence[Table] = field(default_factory=list)
    note: str = ""
    empty: str = ""


@cache
def _template() -> Template:
    # autoescape=True explicitly: select_autoescape(["html"]) would not match "*.html.j2".
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    source = (
        resources.files("tracker.reports").joinpath("report.html.j2").read_text(encoding="utf-8")
    )
    return env.from_string(source)


def render(page: Page) -> str:
    return _template().render(page=page)


def _period(report: Report | AnnualReport, labels: Labels) -> str:
    """The page's period line, with the offices and departments it is narrowed to."""
    p = report.period
    return period_text(p.first, p.last, labels, p.offices, p.departments)


def _generated(now: datetime, labels: Labels) -> str:
    return f"{labels['generated']} {now.astimezone(COPENHAGEN).strftime('%Y-%m-%d %H:%M')}"


def _share_bars(
    kind: str, rows: Sequence[ShareRow | ReportRow], labels: Labels, lang: str
) -> list[Bar]:
    return [
        Bar(
            label=key_label(kind, r.key, labels),
            value=float(r.count),
            text=f"{integer(r.count, lang)} ({pct(r.share, lang)})",
        )
        for r in rows
    ]


def _compliance_bars(kind: str, rows: Sequence[ReportRow], labels: Labels, lang: str) -> list[Bar]:
    return [
        Bar(label=key_label(kind, r.key, labels), value=r.compliance, text=pct(r.compliance, lang))
        for r in rows
        if r.compliance is not None
    ]


def _month_columns(months: Sequence[ReportRow], labels: Labels, lang: str) -> Markup:
    bars = [
        Bar(label=short_month(r.key, lang), value=r.compliance, text=pct(r.compliance, lang))
        for r in months
        if r.compliance is not None
    ]
    return columns(labels["chart_months"], bars)


def _charts(*items: tuple[str, Markup]) -> list[tuple[str, Markup]]:
    return [(caption, svg) for caption, svg in items if svg]


def report_page(report: Report, months: Sequence[ReportRow], labels: Labels, lang: str) -> str:
    """The grouped compliance report; ``months`` feeds the compliance-by-month chart."""
    what = labels[f"by_{report.by.value}"].lower()
    overall = report.obligations
    kind = report.by.value
    figures = [
        (labels["inquiries"], integer(report.total, lang)),
        (labels["open"], integer(report.open, lang)),
        (labels["closed"], integer(report.closed, lang)),
        (labels["obligations"], integer(overall.obligations, lang)),
        (labels["overdue"], integer(overall.overdue, lang)),
        (labels["compliance"], pct(overall.compliance, lang)),
    ]
    rows = report.rows  # by month in date order already (build.Report.rows)
    charts = _charts(
        (
            labels["chart_share"].format(what=what),
            hbars(labels["chart_share"].format(what=what), _share_bars(kind, rows, labels, lang)),
        ),
        (
            labels["chart_compliance"].format(what=what),
            hbars(
                labels["chart_compliance"].format(what=what),
                _compliance_bars(kind, rows, labels, lang),
                maximum=100.0,
                colour_by_value=True,
            ),
        ),
        # By month the compliance bars above already are the monthly trend.
        (
            labels["chart_months"],
            Markup("") if kind == "month" else _month_columns(months, labels, lang),
        ),
    )
    page = Page(
        lang=lang,
        title=labels["report_title"],
        period=_period(report, labels),
        generated=_generated(report.now, labels),
        figures=figures,
        charts=charts,
        tables=[
            Table(
                caption=labels[f"by_{kind}"],
                header=report_header(report, labels),
                rows=report_rows_text(report, labels, lang),
            )
        ],
        note=labels["compliance_note"],
        empty="" if report.total else labels["no_data"],
    )
    return render(page)


def annual_page(report: AnnualReport, labels: Labels, lang: str) -> str:
    """The annual-report view: departments, channels, open, top topics, reach, trend."""
    figures = [
        (labels["inquiries"], integer(report.total, lang)),
        (labels["open"], integer(report.open, lang)),
        (labels["closed"], integer(report.closed, lang)),
    ]
    if report.population:
        figures.append(
            (
                f"{labels['population_share']} ({labels['of']} {integer(report.population, lang)})",
                f"{number(report.population_share, lang, 2)} %",
            )
        )
    header = [labels["count"], labels["share"], labels["open"]]
    charts = _charts(
        (
            labels["chart_share"].format(what=labels["by_department"].lower()),
            hbars(
                labels["chart_share"].format(what=labels["by_department"].lower()),
                _share_bars("department", report.departments, labels, lang),
            ),
        ),
        (
            labels["chart_channels"],
            hbars(labels["chart_channels"], _share_bars("channel", report.channels, labels, lang)),
        ),
        (labels["chart_months"], _month_columns(report.months, labels, lang)),
        (
            labels["chart_topics"],
            hbars(labels["chart_topics"], _share_bars("topic", report.topics, labels, lang)),
        ),
    )
    tables = [
        Table(
            caption=title, header=[title, *header], rows=share_rows_text(kind, rows, labels, lang)
        )
        for kind, title, rows in (
            ("department", labels["by_department"], report.departments),
            ("channel", labels["by_channel"], report.channels),
            ("topic", labels["top_topics"], report.topics),
        )
        if rows
    ]
    page = Page(
        lang=lang,
        title=labels["annual_title"],
        period=_period(report, labels),
        generated=_generated(report.now, labels),
        figures=figures,
        charts=charts,
        tables=tables,
        note=labels["compliance_note"],
        empty="" if report.total else labels["no_data"],
    )
    return render(page)
