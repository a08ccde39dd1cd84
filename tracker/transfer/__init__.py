"""CSV import and export of the register (the format the contract names)."""

from __future__ import annotations
