"""Words for reports in Danish (default) and English (config ``reminders.language``).

Keys in JSON and CSV stay the stored identifiers; only text and HTML use these labels.
Departments and topics are shown exactly as configured (they are already Danish names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tracker.core.calendar import MONTH_NAMES_DA, MONTH_NAMES_EN

Labels = Mapping[str, str]

_DA: dict[str, str] = {
    "report_title": "Svarfrist – rapport om svarfrister",
    "annual_title": "Svarfrist – årsrapport",
    "monthly_subject": "Svarfrist: månedsrapport for {month}",
    "period": "Periode",
    "all_time": "alle henvendelser i registret",
    "since": "fra",
    "until": "til og med",
    "generated": "Dannet",
    "inquiries": "Henvendelser",
    "count": "Antal",
    "share": "Andel",
    "open": "Åbne",
    "closed": "Lukkede",
    "obligations": "Frister",
    "on_time": "Til tiden",
    "late": "For sent",
    "overdue": "Overskredet",
    "compliance": "Overholdt",
    "median_hours": "Median (arb.timer)",
    "p90_hours": "90 % (arb.timer)",
    "by_department": "Afdeling",
    "by_channel": "Henvendelsesform",
    "by_rule": "Regel",
    "by_advisor": "Rådgiver",
    "by_topic": "Emne",
    "by_month": "Måned",
    "by_office": "Kontor",
    "top_topics": "Hyppigste emner",
    "population_share": "Andel af voksenbefolkningen",
    "of": "af",
    "none": "(ingen)",
    "ref": "Ref.",
    "received": "Modtaget",
    "due": "Frist",
    "met": "Opfyldt",
    "met_on_time": "Opfyldt til tiden",
    "met_late": "Opfyldt for sent",
    "hours_late": "Arb.timer for sent",
    "chart_share": "Henvendelser pr. {what}",
    "chart_compliance": "Overholdte frister pr. {what}",
    "chart_months": "Overholdte frister pr. måned",
    "chart_channels": "Henvendelsesformer",
    "chart_topics": "Hyppigste emner",
    "no_data": "Ingen data i perioden",
    "untimed": "Opfyldte frister uden gemt svartid (talt med, ikke i median og 90 %): {count}",
    "compliance_note": (
        "Overholdt = frister opfyldt til tiden blandt opfyldte og overskredne. "
        "Svartider i arbejdstimer efter den danske kalender."
    ),
    "phone": "Telefon",
    "sms": "SMS",
    "email": "E-mail",
    "letter": "Brev",
    "digital_post": "Digital Post",
    "in_person": "Personligt fremmøde",
    "reply": "Kvittering/svar",
    "callback": "Opringning",
    "answer": "Endeligt svar",
}

_EN: dict[str, str] = {
    "report_title": "Svarfrist – response-deadline report",
    "annual_title": "Svarfrist – annual report",
    "monthly_subject": "Svarfrist: monthly report for {month}",
    "period": "Period",
    "all_time": "every inquiry in the register",
    "since": "from",
    "until": "up to and including",
    "generated": "Generated",
    "inquiries": "Inquiries",
    "count": "Count",
    "share": "Share",
    "open": "Open",
    "closed": "Closed",
    "obligations": "Deadlines",
    "on_time": "On time",
    "late": "Late",
    "overdue": "Overdue",
    "compliance": "Compliance",
    "median_hours": "Median (work h)",
    "p90_hours": "90th pct (work h)",
    "by_department": "Department",
    "by_channel": "Channel",
    "by_rule": "Rule",
    "by_advisor": "Advisor",
    "by_topic": "Topic",
    "by_month": "Month",
    "by_office": "Office",
    "top_topics": "Most frequent topics",
    "population_share": "Share of the adult population",
    "of": "of",
    "none": "(none)",
    "ref": "Ref",
    "received": "Received",
    "due": "Due",
    "met": "Met",
    "met_on_time": "Met on time",
    "met_late": "Met late",
    "hours_late": "Working hours late",
    "chart_share": "Inquiries per {what}",
    "chart_compliance": "Deadlines met per {what}",
    "chart_months": "Deadlines met per month",
    "chart_channels": "Channels of first contact",
    "chart_topics": "Most frequent topics",
    "no_data": "No data in the period",
    "untimed": "Met deadlines without a stored response time (counted, not timed): {count}",
    "compliance_note": (
        "Compliance = deadlines met on time among those met or overdue. "
        "Response times in working hours on the Danish calendar."
    ),
    "phone": "Phone",
    "sms": "SMS",
    "email": "E-mail",
    "letter": "Letter",
    "digital_post": "Digital Post",
    "in_person": "In person",
    "reply": "Acknowledgement",
    "callback": "Call-back",
    "answer": "Final answer",
}

MONTHS_DA, MONTHS_EN = MONTH_NAMES_DA, MONTH_NAMES_EN


def period_text(
    first: object,
    last: object,
    labels: Labels,
    offices: Iterable[str] | None = None,
    departments: Iterable[str] | None = None,
) -> str:
    """The period line: both ends, one open end in words, or the whole register; and the
    offices (``report --office``) and departments (a caller held to some) it counts when
    narrowed to some."""
    if first and last:
        span = f"{first} – {last}"
    elif first:
        span = f"{labels['since']} {first}"
    elif last:
        span = f"{labels['until']} {last}"
    else:
        span = labels["all_time"]
    if offices is not None:
        span += f"  {labels['by_office']}: {', '.join(sorted(offices))}"
    if departments is not None:
        span += f"  {labels['by_department']}: {', '.join(sorted(departments))}"
    return f"{labels['period']}: {span}"


def labels_for(language: str) -> Labels:
    return _EN if language == "en" else _DA


def month_name(key: str, language: str) -> str:
    """``2026-10`` -> ``oktober 2026`` / ``October 2026``."""
    year, month = key.split("-")
    names = MONTHS_EN if language == "en" else MONTHS_DA
    return f"{names[int(month) - 1]} {year}"


def key_label(kind: str, key: str | None, labels: Labels) -> str:
    """A key as people read it: channel and rule names translated, the rest as stored."""
    if key is None:
        return labels["none"]
    if kind in {"channel", "rule"}:
        return labels.get(key, key)
    return key


def short_month(key: str | None, language: str) -> str:
    """``2026-10`` -> ``okt 26`` / ``Oct 26`` (chart axis labels)."""
    if not key:
        return ""
    year, month = key.split("-")
    names = MONTHS_EN if language == "en" else MONTHS_DA
    return f"{names[int(month) - 1][:3]} {year[2:]}"
