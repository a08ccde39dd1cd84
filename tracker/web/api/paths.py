"""Where the API lives."""

from __future__ import annotations

PREFIX = "/api/v1"
