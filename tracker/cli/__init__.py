"""The ``svarfrist`` command: parse arguments, load settings, call one function, exit.

Exit status: 0 success; 2 bad input (one ``error:`` line, nothing written); 1 a failure of
the environment. No traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import sys
import threading
from collections.abc import Sequence
from contextlib import suppress
from typing import ClassVar, NoReturn

from tracker.cli.common import ArgumentParser, check_text_arguments
from tracker.config import unknown_variables
from tracker.errors import BadInputError, ConfigError, SvarfristError

log = logging.getLogger(__name__)

# Each command module's ``add_commands(sub)`` adds these subcommands. Only the module of the
# command being run is imported (start-up is most of a short command's time: the report and
# register modules pull in their own stacks); --help and unknown commands load them all.
COMMANDS: dict[str, tuple[str, ...]] = {
    "tracker.cli.pure": ("due", "calendar"),
    "tracker.cli.register": (
        "init", "add", "reply", "callback", "answer", "pause", "resume", "close", "show", "list",
        "purge", "recompute", "assign", "reopen", "undo",
    ),
    "tracker.cli.transfer": ("import", "export"),
    "tracker.cli.daemon": ("tick", "run", "status"),
    "tracker.cli.report": ("report",),
    "tracker.cli.configuration": ("config",),
    "tracker.cli.web": ("web",),
    "tracker.cli.access": ("token", "user"),
    "tracker.cli.intake": ("intake",),
    "tracker.cli.cover": ("team", "absence"),
}  # fmt: skip


def build_parser(argv: Sequence[str] | None = None) -> ArgumentParser:
    """The parser; given ``argv``, with only the subcommands of the module that runs it."""
    parser = ArgumentParser(prog="svarfrist", description="Response-deadline tracking")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    wanted = _command_in(argv)
    for module, names in COMMANDS.items():
        if wanted is None or wanted in names:
            importlib.import_module(module).add_commands(sub)
    for command in sub.choices.values():
        complete_help(command)
    return parser


def complete_help(parser: argparse.ArgumentParser) -> None:
    """Every option's help lists all its values (argparse shows only the help text), and a
    ``--json`` flag without its own words says what it does."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                complete_help(child)
            continue
        if action.help is None and "--json" in action.option_strings:
            action.help = "print JSON instead of text"
        if action.choices is not None and action.help is not argparse.SUPPRESS:
            values = [str(c) for c in action.choices]
            if not all(v in (action.help or "") for v in values):
                listed = f"one of: {', '.join(values)}"
                action.help = f"{action.help} ({listed})" if action.help else listed


def _command_in(argv: Sequence[str] | None) -> str | None:
    """The known command ``argv`` names (the first word that is not an option), if any."""
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    known = {name for names in COMMANDS.values() for name in names}
    return words[0] if words and words[0] in known else None


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
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        check_text_arguments(parser, args)
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
        if isinstance(exc, BrokenPipeError) and _stdout_closed():
            # The reader of our output went away (`svarfrist export | head`): as for any
            # Unix filter, nothing to say about it, and a status that is not success.
            _discard_stdout()
            return 1
        log.debug("unexpected failure", exc_info=True)
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1


def run() -> None:
    """Console-script entry point."""
    leave(main())


def leave(code: int) -> NoReturn:
    """Exit with ``code``, skipping the interpreter's teardown when nothing needs it.

    Finalising the interpreter frees, one object at a time, every module that SQLAlchemy,
    pydantic and holidays loaded: about 0.13 s, a quarter of a short command such as
    ``show`` (0.51 against 0.39 s measured), to release memory the operating system takes
    back at once anyway. By the time main() returns, every command has committed, closed its
    database and sent its mail; what is left is to flush the output, which this does. Where
    another thread or a child process is still running (a daemon's scheduler, an import's
    reader), the normal exit waits for it.
    """
    logging.shutdown()
    try:
        sys.stdout.flush()
    except OSError as exc:  # the reader went away, or a full disk
        if not isinstance(exc, BrokenPipeError):
            sys.stderr.write(f"error: the output could not be written: {exc.strerror}\n")
        _discard_stdout()
        code = code or 1
    with suppress(OSError):  # nowhere left to say anything
        sys.stderr.flush()
    if threading.active_count() == 1 and not _children_running():
        os._exit(code)
    sys.exit(code)


def _stdout_closed() -> bool:
    """Whether stdout is a pipe (or socket) that its reader has closed: poll says POLLERR."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no file descriptor, or no poll()
        return False


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that no later flush fails on the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _children_running() -> bool:
    # multiprocessing is loaded only by an import that started a reader process.
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is not None and bool(multiprocessing.active_children())
