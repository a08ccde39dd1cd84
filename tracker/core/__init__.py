"""The pure core: the Danish calendar, working time, deadlines, reminder planning.

No database, scheduler, mail, settings or environment: every function takes its inputs,
``now`` included, as parameters."""

from __future__ import annotations
