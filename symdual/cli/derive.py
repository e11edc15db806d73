"""``symdual derive``: Omega, f and eta_hat (and the properties) of a dropout rule."""
from __future__ import annotations

import argparse
import json

from ._rule_options import add_rule_arguments, rule_kwargs

HELP = "derive Omega, f and eta_hat (and the properties) from a rule"
DESCRIPTION = ("Derive the effective penalty of a dropout rule, e.g. "
               "symdual derive --eta-hat 'w*(w+eps)' --param eps=2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_rule_arguments(parser)
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--latex", action="store_true",
                     help="LaTeX: the pieces as aligned equations broken to fit a column of a two-column article, "
                          "then the verdicts and provenance as lists (needs \\usepackage{amsmath,amssymb})")


def run(args: argparse.Namespace) -> int:
    from ..derivation import derive

    d = derive(**rule_kwargs(args))
    if args.json:
        print(json.dumps(d.as_dict(), indent=2))
    elif args.latex:
        from ..report import latex_report

        print(latex_report(d))
    else:
        print(d)
    return 0
