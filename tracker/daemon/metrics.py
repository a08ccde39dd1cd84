"""Prometheus metrics of the daemon (``prometheus-client``), served while ``svarfrist run`` runs.

Served only when ``daemon.metrics_port`` is set, bound to ``daemon.metrics_host`` (loopback by
default: the figures are not secret, but nothing outside the host needs them unless a scraper
is configured). A registry of its own, so nothing else in the process adds series.

* ``svarfrist_sweeps_total{outcome}``: sweeps that completed (``ok``) or raised (``error``);
* ``svarfrist_sweep_duration_seconds``: how long a sweep took (histogram);
* ``svarfrist_last_sweep_timestamp_seconds``: the time the last sweep ran for;
* ``svarfrist_deliveries_total{outcome}``: outbox rows ``sent``, ``retried``, ``failed``,
  ``cancelled`` or ``released``; ``svarfrist_messages_sent_total``: messages (a catch-up or a
  digest carries several rows);
* ``svarfrist_outbox_backlog{state}``: ``due``, ``scheduled``, ``retrying``, ``failed`` rows;
* ``svarfrist_oldest_due_message_age_seconds``: how long the longest-waiting due message has
  waited (0 when none): the figure to alert on when mail cannot be delivered;
* ``svarfrist_intake_messages{outcome}``, ``svarfrist_intake_ignored{reason}``,
  ``svarfrist_intake_failing``: mail intake's counts and health, from the database.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tracker.notify import DeliveryReport
from tracker.store.outbox import Backlog

# Sweep durations: from an idle sweep (milliseconds) to a large catch-up (minutes).
_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_OUTCOMES = ("sent", "retried", "failed", "cancelled", "released")


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.sweeps = Counter("svarfrist_sweeps", "Sweeps run, by outcome", ["outcome"], registry=r)
        self.duration = Histogram(
            "svarfrist_sweep_duration_seconds",
            "How long one sweep took",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.last_sweep = Gauge(
            "svarfrist_last_sweep_timestamp_seconds", "The time the last sweep ran for", registry=r
        )
        self.deliveries = Counter(
            "svarfrist_deliveries", "Outbox rows by delivery outcome", ["outcome"], registry=r
        )
        self.messages = Counter("svarfrist_messages_sent", "E-mail messages sent", registry=r)
        self.backlog = Gauge(
            "svarfrist_outbox_backlog", "Outbox rows waiting, by state", ["state"], registry=r
        )
        self.oldest = Gauge(
            "svarfrist_oldest_due_message_age_seconds",
            "How long the longest-waiting due message has waited",
            registry=r,
        )
        self.intake_messages = Gauge(
            "svarfrist_intake_messages",
            "Mails read by intake since the database began, by outcome",
            ["outcome"],
            registry=r,
        )
        self.intake_ignored = Gauge(
            "svarfrist_intake_ignored",
            "Mails intake ignored (moved to the ignored folder), by reason",
            ["reason"],
            registry=r,
        )
        self.intake_failing = Gauge(
            "svarfrist_intake_failing", "1 while the IMAP server cannot be read", registry=r
        )
        for outcome in ("ok", "error"):
            self.sweeps.labels(outcome)
        for outcome in _OUTCOMES:
            self.deliveries.labels(outcome)

    def sweep_done(self, now: datetime, seconds: float, delivery: DeliveryReport | None) -> None:
        """Count one sweep; ``delivery`` is None when the sweep raised."""
        self.duration.observe(seconds)
        self.sweeps.labels("ok" if delivery is not None else "error").inc()
        if delivery is None:
            return
        self.last_sweep.set(now.timestamp())
        for outcome in _OUTCOMES:
            self.deliveries.labels(outcome).inc(getattr(delivery, outcome))
        self.messages.inc(delivery.messages)

    def outbox(self, backlog: Backlog, now: datetime) -> None:
        self.backlog.labels("due").set(backlog.due)
        self.backlog.labels("scheduled").set(backlog.scheduled)
        self.backlog.labels("retrying").set(len(backlog.retrying))
        self.backlog.labels("failed").set(backlog.failed)
        oldest = backlog.oldest_due_at
        self.oldest.set(max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)

    def intake(self, state: Mapping[str, Any] | None) -> None:
        """Mail intake's counters as recorded in the database (every reader adds to them)."""
        if state is None:
            return
        for outcome, n in dict(state.get("counts", {})).items():
            self.intake_messages.labels(outcome).set(n)
        for reason, n in dict(state.get("ignored", {})).items():
            self.intake_ignored.labels(reason).set(n)
        self.intake_failing.set(1 if state.get("failing_since") else 0)


@dataclass
class MetricsServer:
    """The HTTP endpoint (prometheus-client's WSGI server on a thread of its own)."""

    server: WSGIServer
    thread: threading.Thread

    @classmethod
    def start(cls, metrics: Metrics, host: str, port: int) -> MetricsServer:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
        return cls(server=server, thread=thread)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
