"""``symdual table``: the paper's Table 2 for every catalog method (rendering in :mod:`symdual.table`)."""
from __future__ import annotations

import argparse
import sys

from ..table import LAYOUTS, NAMESPACE, RENDER, printable
from ._rule_options import add_timeout_argument

HELP = "the paper's Table 2 for every catalog method"
DESCRIPTION = "The paper's Table 2 for every catalog method: rule, eta_hat, Omega, verdicts, provenance."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=sorted(RENDER), default="text",
                        help="output format (default text: wrapped to the terminal's width)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="column",
                        help="--format latex: 'column' (a table float in one column of a two-column page: name, "
                             "Omega, verdicts) or 'page' (a table* float across the page, with the rules and "
                             "eta_hat); needs \\usepackage{amsmath,amssymb,booktabs,array} (default column)")
    parser.add_argument("--method", action="append", default=None, metavar="NAME",
                        help="only this catalog method (repeatable; default: all)")
    parser.add_argument("--no-cache", action="store_true",
                        help="derive every row afresh, no cache read or write (the cache lives in "
                             "$SYMDUAL_CACHE_DIR, default the user cache folder; see symdual cache info)")
    parser.add_argument("--verbose", action="store_true", help="also print provenance, notes and verdict details")
    add_timeout_argument(parser, "each CAS call of a derivation")


def run(args: argparse.Namespace) -> int:
    from .. import cache, catalog
    from ..table import build_rows

    names = args.method or catalog.names()
    for name in names:
        catalog.entry(name)  # InputError listing the known names
    rows, info = build_rows(list(dict.fromkeys(names)), use_cache=not args.no_cache, timeout=args.timeout)
    if args.format == "latex":
        print(RENDER["latex"](rows, layout=args.layout))
    else:
        print(RENDER[args.format](rows))
    if args.verbose:
        for r in rows:
            _print_details(r)
    if args.no_cache:
        where = "disabled (--no-cache)"
    elif info.get("cache_off"):
        where = f"off ({info['cache_off']})"
    else:
        where = str(cache.cache_dir() / NAMESPACE)
    footer = (f"cache: {where}; {info['hits']} of {len(rows)} rows from the cache, "
              f"{len(info['derived'])} derived, {info['seconds']:.2f} s")
    sys.stdout.flush()
    print(_line(footer), file=sys.stdout if args.format == "text" else sys.stderr)
    return 0


def _line(text: str) -> str:
    """One printable line (escape sequences and control characters removed, whitespace collapsed)."""
    return " ".join(printable(text).split())


def _print_details(r: dict) -> None:
    """--verbose: provenance, verdict details and notes of one row."""
    print("\n" + _line(f"{r['name']} ({r['params']}; {r['citation']})"))
    for piece, prov in r.get("provenance_full", {"omega": r["provenance"]}).items():
        print(f"  {_line(piece)}: {_line(prov)}")
    for k, v in r["verdicts"].items():
        print(f"  {_line(k):<13} {_line(v['status']):<10} {_line(v['detail'])}")
    for n in r["notes"]:
        print("  - " + _line(n))
