"""systemd notifications (sd_notify(3)) without a dependency: one datagram to $NOTIFY_SOCKET.

``READY=1`` after the database check and scheduler start, ``WATCHDOG=1`` every half
``WatchdogSec``, ``STOPPING=1`` on SIGTERM. Outside systemd (no NOTIFY_SOCKET) it does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send ``message`` (e.g. ``READY=1``); False when not run by systemd with a socket."""
    address = environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address[0] == "@":  # an abstract socket: the name starts with a NUL byte
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(message.encode("utf-8"))
    return True


def watchdog_interval(environ: Mapping[str, str] = os.environ) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of WatchdogSec), or None when not asked."""
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2 / 1_000_000
