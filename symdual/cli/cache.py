"""``symdual cache``: where the cache of derived results lives, what it holds, and clearing it."""
from __future__ import annotations

import argparse

HELP = "show or clear the cache of derived results"
DESCRIPTION = "Show (info) or delete (clear) the on-disk cache of derived results."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["info", "clear"], help="info: location and size; clear: delete it")


def run(args: argparse.Namespace) -> int:
    from .. import cache

    print(cache.cache_dir())
    return 0
