"""The rule options shared by ``symdual derive`` and ``symdual verify``, and the --timeout budget."""
from __future__ import annotations

import argparse
import math

from ..errors import InputError

RULE_OPTIONS = (
    ("--eta-hat", "eta_hat", "the eta-trick weight eta_hat(w)"),
    ("--keep-prob", "keep_prob", "keep probability q(w)"),
    ("--drop-rate", "drop_rate", "drop rate p(w)"),
    ("--ratio", "ratio", "drop-to-keep ratio r(w) = p/(1-p)"),
    ("--variance", "variance", "Gaussian dropout variance sigma**2(w)"),
    ("--penalty", "penalty", "a penalty Omega(w): derive the dropout rule implementing it"),
    ("--dual", "dual", "a dual f(eta): Omega(w) = 1/2 inf_eta [w**2/eta + f(eta)]"),
)
MAX_TIMEOUT = 3600.0
"""The largest --timeout accepted, in seconds."""


def timeout_seconds(text: str) -> float:
    """argparse type of --timeout: a finite number of seconds in (0, MAX_TIMEOUT]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds in (0, {MAX_TIMEOUT:g}], got {text!r}")
    return value


def add_timeout_argument(p: argparse.ArgumentParser, what: str = "each CAS call") -> None:
    p.add_argument("--timeout", type=timeout_seconds, default=None, metavar="SECONDS",
                   help=f"budget of {what} in seconds, at most {MAX_TIMEOUT:g} (default 4)")


def add_rule_arguments(p: argparse.ArgumentParser, required: bool = True) -> argparse._MutuallyExclusiveGroup:
    """The rule options (one of them), --lam, --param and --timeout; returns the rule options' group (a command
    may add another way to name a rule there, e.g. ``--method``)."""
    group = p.add_mutually_exclusive_group(required=required)
    for flag, dest, help_text in RULE_OPTIONS:
        group.add_argument(flag, dest=dest, metavar="EXPR", help=help_text)
    p.add_argument("--lam", default=None, help="penalty strength lam > 0 (default 1)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a parameter of the rule (repeatable)")
    add_timeout_argument(p)
    return group


def has_rule(args: argparse.Namespace) -> bool:
    """Whether one of the rule options was given."""
    return any(getattr(args, dest) is not None for _, dest, _ in RULE_OPTIONS)


def param_values(args: argparse.Namespace) -> dict:
    """{name: exact value} from ``--param NAME=VALUE`` (each once), and ``lam`` from ``--lam`` (its text) if given."""
    return parse_params(args.param, args.lam)


def parse_params(texts: list[str], lam: str | None, where: str = "") -> dict:
    """{name: exact value} of ``NAME=VALUE`` texts (each name once), plus ``lam`` (its text) if given;
    ``where`` names the rule in the message for a name given twice."""
    from ..parsing import ParseError, parse_param

    params = {}
    for text in texts:
        try:
            name, value = parse_param(text)
        except ParseError as exc:
            raise InputError(f"--param: {exc}") from None
        if name in params:
            raise InputError(f"--param {name} is given twice{where}")
        params[name] = value
    if "lam" in params and lam is not None:
        raise InputError("lam is given twice (--lam and --param lam=...): give one")
    if lam is not None:
        params["lam"] = lam  # read (and checked) by the derivation, as any rule's lam
    return params


def rule_kwargs(args: argparse.Namespace) -> dict:
    """:func:`symdual.derive` keyword arguments from parsed rule options (the budget included)."""
    params = param_values(args)
    rule = {dest: getattr(args, dest) for _, dest, _ in RULE_OPTIONS if getattr(args, dest) is not None}
    lam = params.pop("lam", "1")
    return dict(rule, lam=lam, params=params, timeout=args.timeout)
