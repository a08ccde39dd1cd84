"""E-mail: rendering messages from templates, and the SMTP adapter that sends them."""

from __future__ import annotations
