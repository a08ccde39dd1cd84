"""Failed reminder e-mails as ``show`` and ``list`` print them (kept apart from the register's
own output code; see tracker/store/outbox.py ``delivery_failures``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.cli.common import out
from tracker.store.outbox import Failure

Failures = Mapping[str, list[Failure]]


def failures_json(failed: Failures, ref: str) -> dict[str, Any]:
    """``{"delivery_failures": [...]}`` when the inquiry has any, else ``{}`` (an added key)."""
    found = failed.get(ref)
    if not found:
        return {}
    return {
        "delivery_failures": [
            {"kind": f.kind, "recipient": f.recipient, "attempts": f.attempts, "error": f.error}
            for f in found
        ]
    }


def print_failures(failed: Failures, ref: str) -> None:
    for f in failed.get(ref, []):
        out(f"mail failed: {f.kind} to {f.recipient} after {f.attempts} attempt(s): {f.error}")


def failure_suffix(failed: Failures, ref: str) -> str:
    found = failed.get(ref)
    return f"  mail-failed:{len(found)}" if found else ""
