"""The ``svarfrist`` command: parse arguments, load settings, call one function, exit.

Exit status: 0 success; 2 bad input (one ``error:`` line, nothing written); 1 a failure of
the environment. No traceback ever reaches the user.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import ClassVar

from tracker.cli import daemon, pure
from tracker.cli import register as register_cli
from tracker.cli import report as report_cli
from tracker.cli.common import ArgumentParser
from tracker.config import unknown_variables
from tracker.errors import BadInputError, ConfigError, SvarfristError

log = logging.getLogger(__name__)

Registrar = Callable[..., None]
COMMAND_MODULES: list[Registrar] = [
    pure.register,
    register_cli.register_commands,
    daemon.register,
    report_cli.register,
]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="svarfrist", description="Response-deadline tracking")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    for register in COMMAND_MODULES:
        register(sub)
    return parser


class JournalFormatter(logging.Formatter):
    """``<N>`` syslog priority on every line, so journald files each line at its level."""

    PRIORITIES: ClassVar[dict[str, int]] = {
        "CRITICAL": 2,
        "ERROR": 3,
        "WARNING": 4,
        "INFO": 6,
        "DEBUG": 7,
    }

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{self.PRIORITIES.get(record.levelname, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        configure_logging(args.verbose)
        for var in unknown_variables(os.environ):
            log.warning("environment variable %s names no setting; ignored", var)
        code: int = args.handler(args)
        return code
    except (BadInputError, ConfigError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except SvarfristError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:
        log.debug("unexpected failure", exc_info=True)
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
