"""The ``symdual`` command line: derive, table, verify, figures.

Each subcommand other than ``derive`` lives in its own module, which provides
``add_arguments(parser)`` and ``run(args) -> int``. Input errors print one
line ``symdual: error: ...`` and exit with code 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .errors import InputError

SUBCOMMANDS = {
    "table": ("symdual.table", "the paper's Table 2 for every catalog method"),
    "verify": ("symdual.verify", "verify the theorems of both papers (or of your rule)"),
    "figures": ("symdual.figures", "regenerate the papers' figures as PNG files"),
}

RULE_OPTIONS = (
    ("--eta-hat", "eta_hat", "the eta-trick weight eta_hat(w)"),
    ("--keep-prob", "keep_prob", "keep probability q(w)"),
    ("--drop-rate", "drop_rate", "drop rate p(w)"),
    ("--ratio", "ratio", "drop-to-keep ratio r(w) = p/(1-p)"),
    ("--variance", "variance", "Gaussian dropout variance sigma**2(w)"),
    ("--penalty", "penalty", "a penalty Omega(w): derive the dropout rule implementing it"),
    ("--dual", "dual", "a dual f(eta): Omega(w) = 1/2 inf_eta [w**2/eta + f(eta)]"),
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'symdual derive: error: ... (see --help)'."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_rule_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """The rule options shared by ``derive`` and ``verify``."""
    group = p.add_mutually_exclusive_group(required=required)
    for flag, dest, help_text in RULE_OPTIONS:
        group.add_argument(flag, dest=dest, metavar="EXPR", help=help_text)
    p.add_argument("--lam", default="1", help="penalty strength lam > 0 (default 1)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a parameter of the rule (repeatable)")
    p.add_argument("--timeout", type=float, default=None, help="budget of each CAS call in seconds (default 4)")


def rule_kwargs(args: argparse.Namespace) -> dict:
    """derive() keyword arguments from parsed rule options."""
    from .parsing import ParseError, parse_param

    params = {}
    for text in args.param:
        try:
            name, value = parse_param(text)
        except ParseError as exc:
            raise InputError(f"--param: {exc}") from None
        params[name] = value
    rule = {dest: getattr(args, dest) for _, dest, _ in RULE_OPTIONS if getattr(args, dest) is not None}
    if args.timeout is not None:
        if not args.timeout > 0:
            raise InputError(f"--timeout must be positive, got {args.timeout}")
        from .bounded import set_default_timeout

        set_default_timeout(args.timeout)
    return dict(rule, lam=params.pop("lam", args.lam), params=params)


def _derive(args: argparse.Namespace) -> int:
    from .derivation import derive

    d = derive(**rule_kwargs(args))
    if args.json:
        print(json.dumps(d.as_dict(), indent=2))
    elif args.latex:
        from .report import latex_summary

        print(latex_summary(d))
    else:
        print(d)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symdual",
        description="Turn dropout strategies into the regularisation penalties they minimise.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    p = sub.add_parser("derive", help="derive Omega, f and eta_hat (and the properties) from a rule",
                       description="Derive the effective penalty of a dropout rule, e.g. "
                                   "symdual derive --eta-hat 'w*(w+eps)' --param eps=2")
    add_rule_arguments(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--latex", action="store_true", help="LaTeX output")
    p.set_defaults(handler=_derive)
    for name, (module, help_text) in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        sp_ = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip().splitlines()[0])
        mod.add_arguments(sp_)
        sp_.set_defaults(handler=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except InputError as exc:
        print(f"symdual: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
