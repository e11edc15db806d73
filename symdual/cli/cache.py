"""``symdual cache``: where the cache of derived results lives, what it holds, and clearing it.

    symdual cache info     # location, whether it is usable, entries and bytes per namespace
    symdual cache clear    # delete symdual's own files there, printing each one
"""
from __future__ import annotations

import argparse
import os

HELP = "show or clear the cache of derived results"
DESCRIPTION = ("Show (info) or delete (clear) the on-disk cache of derived results: $SYMDUAL_CACHE_DIR if set, "
               "else the user cache folder (platformdirs).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["info", "clear"],
                        help="info: location, entries and bytes per namespace; clear: delete symdual's files there")


def _line(text: str) -> str:
    from ..table import printable

    return " ".join(printable(text).split())


def _info() -> int:
    from .. import cache

    facts = cache.info()
    source = f"${cache.ENV}" if os.environ.get(cache.ENV) else "user cache folder"
    print(_line(f"location: {facts['location']} ({source})"))
    if facts["problem"] is not None:
        print(_line(f"status: off ({facts['problem']})"))
        return 0
    print("status: " + ("on" if facts["location"].is_dir() else "on (empty: the folder is created on first use)"))
    total_n = total_b = 0
    for ns, numbers in facts["namespaces"].items():
        other = f" (and {numbers['other']} other files, ignored)" if numbers["other"] else ""
        print(_line(f"{ns}: {numbers['entries']} entries, {numbers['bytes']} bytes{other}"))
        total_n, total_b = total_n + numbers["entries"], total_b + numbers["bytes"]
    print(f"total: {total_n} entries, {total_b} bytes")
    return 0


def _clear() -> int:
    from .. import cache

    reason = cache.problem()
    if reason is not None:
        print(_line(f"cache off ({reason}): nothing removed"))
        return 0
    removed = cache.remove()
    for path in removed:
        print(_line(f"removed {path}"))
    print(_line(f"removed {len(removed)} files from {cache.cache_dir()}"))
    return 0


def run(args: argparse.Namespace) -> int:
    return _info() if args.action == "info" else _clear()
