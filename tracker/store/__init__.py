"""The register: the database schema, its migrations, and every write and read of inquiries."""

from __future__ import annotations
