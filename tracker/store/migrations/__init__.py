"""Alembic migrations of the Svarfrist schema; run them with ``svarfrist init``."""
