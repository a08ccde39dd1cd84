"""CSV meant for a spreadsheet: Danish Excel's dialect, and no cell it would run as a formula.

Danish Excel opens a CSV with a double-click when it is UTF-8 with a byte-order mark and
``;`` between fields (``,`` is its decimal separator). A spreadsheet runs a cell that begins
with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab or carriage return in front can
hide that start: OWASP's CSV injection advice is to prefix such a cell with ``'``, which makes
it text. Every CSV for spreadsheets (the reports, the breach list, the monthly mail's
attachment, ``export --excel``) writes its rows through :func:`spreadsheet_row`, the one place
that decides.

Text from the register (refs, departments, topics, advisors, notes) is neutralised. A number
this program formats itself is data, not a formula: a negative figure such as ``-1,5`` stays
a number the spreadsheet can add up, so it is passed as :class:`Figure`, never neutralised.
The round-trip ``export`` (for ``import``) is not a spreadsheet file and is written verbatim.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

EXCEL_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: without it Excel reads the file in the local code page."""
BOM = "\ufeff"
"""The byte-order mark, for a CSV carried as text (the monthly mail's attachment)."""
EXCEL_DELIMITER = ";"
LINE_END = "\r\n"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet treat a cell as a formula (OWASP)."""
TEXT_PREFIX = "'"


@dataclass(frozen=True, slots=True)
class Figure:
    """A number already formatted by this program (``59,2``, ``-1,5``): written as is."""

    text: str


Cell = str | int | Figure | None


def neutralised(text: str) -> str:
    """``text`` so that a spreadsheet shows it and never runs it: prefixed with ``'`` when it
    begins with one of :data:`FORMULA_STARTS`, unchanged otherwise."""
    return TEXT_PREFIX + text if text.startswith(FORMULA_STARTS) else text


def spreadsheet_row(cells: Iterable[Cell]) -> list[str]:
    """One CSV row's cells: text neutralised, integers and :class:`Figure` as they are,
    None empty. ``bool`` is refused: say ``true``/``false`` (or ja/nej) as text."""
    row = []
    for cell in cells:
        if cell is None:
            row.append("")
        elif isinstance(cell, str):
            row.append(neutralised(cell))
        elif isinstance(cell, Figure):
            row.append(cell.text)
        elif isinstance(cell, int) and not isinstance(cell, bool):
            row.append(str(cell))
        else:
            raise TypeError(f"not a spreadsheet cell: {cell!r}")
    return row


class SpreadsheetWriter:
    """Rows of :data:`Cell` as Danish Excel's CSV, onto ``out`` (opened without newline
    translation; the byte-order mark is the caller's encoding, :data:`EXCEL_ENCODING`)."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, delimiter=EXCEL_DELIMITER, lineterminator=LINE_END)

    def writerow(self, cells: Iterable[Cell]) -> None:
        self._writer.writerow(spreadsheet_row(cells))
