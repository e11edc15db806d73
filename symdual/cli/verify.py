"""``symdual verify``: the theorems of both papers, or those that apply to your rule (checks: symdual.verify)."""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..verify import GROUPS
from ._rule_options import add_rule_arguments, has_rule, rule_kwargs

HELP = "verify the theorems of both papers (or of your rule)"
DESCRIPTION = "Verify the theorems of both papers, or those that apply to your rule (``symdual verify``)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_rule_arguments(parser, required=False)
    parser.add_argument("--json", action="store_true", help="print the checks as a JSON list")
    parser.add_argument("--quick", action="store_true", help="a faster subset (smaller grids and samples)")
    parser.add_argument("--only", action="append", choices=GROUPS, metavar="NAME",
                        help=f"run only this group (repeatable): {', '.join(GROUPS)}")


def run(args: argparse.Namespace) -> int:
    """Run the checks (all, or those of the given rule); exit code 1 if any failed."""
    from ..verify import report, verify_all, verify_rule

    groups = tuple(args.only) if args.only else GROUPS
    start = time.perf_counter()
    if has_rule(args):
        from ..derivation import derive

        result = verify_rule(derive(**rule_kwargs(args)), groups, args.quick, timeout=args.timeout)
    else:
        result = verify_all(groups, args.quick, timeout=args.timeout)
    if args.json:
        print(json.dumps([c.as_dict() for c in result.checks], indent=2))
        for line in result.skipped:
            print(f"symdual verify: skipped {line}", file=sys.stderr)
    else:
        print(report(result, time.perf_counter() - start))
    return 1 if any(not c.passed for c in result.checks) else 0
