"""``symdual verify``: the theorems of both papers, or those that apply to your rule (checks: symdual.verify)."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

from ..verify import CHECK_BUDGET_S, EXIT_FAIL, EXIT_UNCHECKED, GROUPS
from ._rule_options import add_rule_arguments, has_rule, rule_kwargs

HELP = "verify the theorems of both papers (or of your rule)"
DESCRIPTION = "Verify the theorems of both papers, or those that apply to your rule (``symdual verify``)."
EPILOG = (f"Each check ends PASS, FAIL (the theorem is contradicted) or UNCHECKED (it could not be carried out: "
          f"a reference solver did not converge, the rule could not be evaluated, the check's budget ran out; the "
          f"reason is printed). Exit status: 0 every check passed; {EXIT_FAIL} a check failed; {EXIT_UNCHECKED} "
          f"none failed but some could not be checked; 2 bad input. Progress goes to stderr (one line per check, "
          f"or a live line on a terminal); with --json, stdout holds only the JSON list.")


def check_budget(text: str) -> float:
    """argparse type of --check-budget: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_rule_arguments(parser, required=False)
    parser.add_argument("--json", action="store_true",
                        help="print the checks as a JSON list (each with its status: PASS, FAIL or UNCHECKED)")
    parser.add_argument("--quick", action="store_true",
                        help="a faster subset (smaller grids and samples); the checks of the theorem groups and of "
                             "the catalog that passed are replayed from the on-disk cache while symdual, its "
                             "libraries and the options are unchanged")
    parser.add_argument("--no-cache", action="store_true",
                        help="with --quick: recompute every check (neither read nor write the cache)")
    parser.add_argument("--only", action="append", choices=GROUPS, metavar="NAME",
                        help=f"run only this group (repeatable): {', '.join(GROUPS)}")
    parser.add_argument("--check-budget", type=check_budget, default=CHECK_BUDGET_S, metavar="SECONDS",
                        help=f"wall-clock budget of each check; past it the check is UNCHECKED "
                             f"(default {CHECK_BUDGET_S:g})")


def _jsonable(x: object) -> object:
    """json.dumps fallback: numpy and mpmath scalars as Python numbers (non-finite as strings), else str."""
    import numpy as np

    if isinstance(x, np.bool_):
        return bool(x)
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(x)
    return v if math.isfinite(v) else str(v)


def run(args: argparse.Namespace) -> int:
    """Run the checks (all, or those of the given rule); exit code 1 if any failed, 3 if some could not be checked."""
    from ..verify import Progress, exit_code, report, verify_all, verify_rule

    groups = tuple(args.only) if args.only else GROUPS
    start = time.perf_counter()
    progress = Progress(sys.stderr)
    budget = getattr(args, "check_budget", CHECK_BUDGET_S)
    try:
        if has_rule(args):
            from ..derivation import derive

            kwargs = rule_kwargs(args)
            progress.start("the derivation of the rule")
            record = derive(**kwargs)  # bad input: InputError, one line, exit 2 (no progress line before it)
            progress.note(f"derived {record.title()} ({time.perf_counter() - start:.1f} s)")
            result = verify_rule(record, groups, args.quick, timeout=args.timeout, progress=progress, budget=budget)
        else:
            use_cache = bool(args.quick) and not getattr(args, "no_cache", False)
            result = verify_all(groups, args.quick, timeout=args.timeout, progress=progress, budget=budget,
                                use_cache=use_cache)
    finally:
        progress.close()
    if args.json:
        print(json.dumps([c.as_dict() for c in result.checks], indent=2, default=_jsonable, allow_nan=False))
        for line in result.skipped:
            print(f"symdual verify: skipped {line}", file=sys.stderr)
    else:
        print(report(result, time.perf_counter() - start))
    return exit_code(result)
