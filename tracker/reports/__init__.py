"""Management reports: queries over stored values, the report values, text, CSV and HTML."""

from __future__ import annotations
