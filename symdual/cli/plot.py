"""``symdual plot``: rules and catalog methods side by side (lam Omega, eta_hat, drop rate, f), Figure 1's style.

    symdual plot --method logsum --keep-prob "tanh(w)" -o cmp.pdf
    symdual plot --method mcp --param a=1 --method scad --eta-hat "w*(w+eps)" --param eps=1 -o cmp.png --csv cmp.csv

Rules and methods are drawn in the order given; ``--param`` and ``--lam`` set the rule or method just before
them. Drawn by :func:`symdual.figures.plot`.
"""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ._rule_options import RULE_OPTIONS, add_timeout_argument, parse_params

HELP = "plot rules and catalog methods side by side (Omega, eta_hat, drop rate, f)"
DESCRIPTION = ("Draw rules and catalog methods side by side in the papers' figure style, e.g. "
               "symdual plot --method logsum --keep-prob 'tanh(w)' -o cmp.pdf")
EPILOG = ("Panels: lam*Omega(w) (Omega(0) = 0), eta_hat(w), the drop rate p(w) = lam/(lam + eta_hat(w)) over |w| "
          "(log scale), and the dual f(eta) over eta. A rule whose f has no evaluator is drawn from the envelope "
          "f(eta_hat(w)) = 2 Omega(w) - w**2/eta_hat(w) when eta_hat is nondecreasing, else left out of that panel "
          "(the CSV's 'how' column says which). Needs matplotlib.")
PIECES = ("omega", "eta_hat", "drop_rate", "f_dual")


class _AddRule(argparse.Action):
    """``--method NAME`` or a rule option: one more entry of ``args.rules``, in command-line order."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        rules = list(getattr(namespace, "rules", None) or [])
        rules.append({"option": option_string, "kind": self.dest, "text": values, "params": [], "lam": None})
        namespace.rules = rules


class _SetOfLast(argparse.Action):
    """``--param NAME=VALUE`` or ``--lam VALUE``: a setting of the rule or method given just before."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        rules = getattr(namespace, "rules", None) or []
        if not rules:
            parser.error(f"{option_string} must follow the --method or rule option it sets")
        last = dict(rules[-1])
        if self.dest == "lam":
            if last["lam"] is not None:
                parser.error(f"--lam is given twice for {last['option']} {last['text']}")
            last["lam"] = values
        else:
            last["params"] = [*last["params"], values]
        namespace.rules = [*rules[:-1], last]


def _pieces(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    bad = [n for n in names if n not in PIECES]
    if bad or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"expected distinct names among {','.join(PIECES)}, got {text!r}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.set_defaults(rules=[])
    parser.add_argument("--method", dest="method", action=_AddRule, metavar="NAME",
                        help="a catalog method (repeatable; symdual table lists them)")
    for flag, dest, help_text in RULE_OPTIONS:
        parser.add_argument(flag, dest=dest, action=_AddRule, metavar="EXPR", help=f"{help_text} (repeatable)")
    parser.add_argument("--param", dest="param", action=_SetOfLast, metavar="NAME=VALUE",
                        help="a parameter of the rule or method just before (repeatable)")
    parser.add_argument("--lam", dest="lam", action=_SetOfLast, metavar="VALUE",
                        help="lam > 0 of the rule or method just before (default 1, or the method's)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the figure: a .pdf, .png or .svg file")
    parser.add_argument("--csv", metavar="FILE", default=None, help="also write the curves as CSV (piece, rule, x, "
                                                                    "value, how)")
    parser.add_argument("--pieces", type=_pieces, default=list(PIECES), metavar="LIST",
                        help=f"comma-separated panels among {','.join(PIECES)} (default all)")
    parser.add_argument("--w-range", nargs=2, type=float, default=(0.01, 5.0), metavar=("LOW", "HIGH"),
                        help="|w| range of the weight panels (default 0.01 5)")
    parser.add_argument("--eta-range", nargs=2, type=float, default=(0.01, 100.0), metavar=("LOW", "HIGH"),
                        help="eta range of the f panel (default 0.01 100)")
    parser.add_argument("--points", type=int, default=200, help="points per curve (default 200)")
    add_timeout_argument(parser)


def _settings(rule: dict) -> dict:
    """{name: exact value} of one rule's --param (each once) and --lam."""
    return parse_params(rule["params"], rule["lam"], f" for {rule['option']} {rule['text']}")


def _derived(rule: dict, timeout: float | None) -> Any:
    """The named derivation of one --method or rule option."""
    from ..figures.compare import Named

    values = _settings(rule)
    if rule["kind"] == "method":
        from .. import catalog

        catalog.entry(rule["text"])  # InputError listing the known names
        return Named(catalog.derive(rule["text"], values, timeout=timeout), rule["text"])
    from ..derivation import derive

    lam = values.pop("lam", "1")
    return Named(derive(**{rule["kind"]: rule["text"]}, lam=lam, params=values, timeout=timeout))


def run(args: argparse.Namespace) -> int:
    from ..figures import plot
    from ..figures.compare import csv_path
    from ..figures.output import image_path, require_matplotlib

    require_matplotlib()
    target = image_path(args.output)  # checked before any work
    table = None if args.csv is None else csv_path(args.csv)
    if not args.rules:
        raise InputError("nothing to plot: give --method NAME or a rule option (e.g. --keep-prob EXPR)")
    rules = [_derived(rule, args.timeout) for rule in args.rules]
    plot(*rules, pieces=args.pieces, w_range=args.w_range, eta_range=args.eta_range, points=args.points,
         path=target, csv=table)
    print(f"wrote {target}" + ("" if table is None else f" and {table}"))
    return 0
