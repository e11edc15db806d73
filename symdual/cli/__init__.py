"""The ``symdual`` command line: derive, table, verify, figures, plot, cache, export, case-study.

One module per subcommand (``symdual.cli.derive``, ``.table``, ``.verify``,
``.figures``, ``.plot``, ``.export``, ``.casestudy``), each with ``add_arguments(parser)`` and ``run(args) -> int``;
a subcommand imports its heavy dependencies inside ``run``, so every one is
listed by ``symdual --help`` even when its optional dependency is missing,
and then fails with one line naming the install command. Input errors print
one line ``symdual: error: ...`` and exit with code 2. Nothing in symdual
imports this package: it is the outermost layer.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .. import __version__
from ..errors import InputError
from . import cache, casestudy, derive, export, figures, plot, table, verify
from ._extras import missing_dependency

__all__ = ["build_parser", "main"]

SUBCOMMANDS = {"derive": derive, "table": table, "verify": verify, "figures": figures, "plot": plot, "cache": cache,
               "export": export, "case-study": casestudy}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'symdual derive: error: ... (see symdual derive --help)'."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symdual",
        description="Turn dropout strategies into the regularisation penalties they minimise.")
    parser.add_argument("--version", action="version", version=f"symdual {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, mod in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION)
        mod.add_arguments(p)
        p.set_defaults(handler=mod.run)
    return parser


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP -> SystemExit(128 + signum), so every ``finally`` (child processes killed) runs."""
    raise SystemExit(128 + signum)


@contextmanager
def _signals_exit() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP exit cleanly (main thread only; old handlers restored after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {name: signal.signal(getattr(signal, name), _exit_on_signal) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), signal.SIG_DFL if handler is None else handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _signals_exit():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the subcommand: input errors and missing optional dependencies -> one line, exit 2."""
    try:
        return int(args.handler(args) or 0)
    except InputError as exc:
        print(f"symdual: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional third-party dependency of the subcommand
        line = missing_dependency(args.command, exc)
        if line is None:
            raise
        print(f"symdual: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
