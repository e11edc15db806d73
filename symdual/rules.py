"""Symbols and the exact conversions between the ways a dropout rule is given.

Conventions (docs/conventions.md), fixed here once for the whole package::

    Omega(w)   = 1/2 * inf_{eta>0} [ w**2/eta + f(eta) ]
    r = lam/eta,   p = lam/(eta + lam),   q = eta/(eta + lam),   sigma**2 = r

where ``p`` is the drop rate, ``q = 1 - p`` the keep probability of inverted
dropout, ``r = p/q`` the drop-to-keep ratio and ``sigma**2`` the variance of
multiplicative Gaussian noise N(1, sigma**2) with the same second moment.
All expressions are in the weight magnitude ``w >= 0`` (the penalty is even).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

w = sp.Symbol("w", positive=True)
"""Weight magnitude |w| (penalties are even; w = 0 is handled as a limit)."""
eta = sp.Symbol("eta", positive=True)
"""Eta-trick variable (IRLS weight), eta > 0."""
lam = sp.Symbol("lam", positive=True)
"""Penalty strength lam > 0."""
s = sp.Symbol("s", positive=True)
"""Squared weight s = w**2 (subquadraticity is concavity in s)."""

RULE_KINDS = ("eta_hat", "drop_rate", "keep_prob", "ratio", "variance")
"""Ways to give a dropout rule, each a function of w."""
PENALTY_KINDS = ("penalty", "dual")
"""Ways to give the regulariser directly: Omega(w), or f(eta)."""
KINDS = RULE_KINDS + PENALTY_KINDS

def variable_of(kind: str) -> sp.Symbol:
    """The free variable of an input of this kind (eta for a dual, else w)."""
    return eta if kind == "dual" else w


def to_eta_hat(kind: str, expr: sp.Expr, lam_value: sp.Expr = lam) -> sp.Expr:
    """Exact eta_hat(w) of a rule given as ``kind``.

    eta = lam/r,  r = p/(1-p) = (1-q)/q = sigma**2.
    """
    if kind == "eta_hat":
        return expr
    if kind == "ratio" or kind == "variance":
        return lam_value / expr
    if kind == "drop_rate":
        return lam_value * (1 - expr) / expr
    if kind == "keep_prob":
        return lam_value * expr / (1 - expr)
    raise ValueError(f"unknown rule kind {kind!r}; expected one of {', '.join(RULE_KINDS)}")


def from_eta_hat(kind: str, eta_hat: sp.Expr, lam_value: sp.Expr = lam) -> sp.Expr:
    """Express eta_hat as a rule of the given kind (inverse of :func:`to_eta_hat`)."""
    if kind == "eta_hat":
        return eta_hat
    if kind == "ratio" or kind == "variance":
        return lam_value / eta_hat
    if kind == "drop_rate":
        return lam_value / (eta_hat + lam_value)
    if kind == "keep_prob":
        return eta_hat / (eta_hat + lam_value)
    raise ValueError(f"unknown rule kind {kind!r}; expected one of {', '.join(RULE_KINDS)}")


def as_exact(value: object) -> sp.Expr:
    """A parameter value as an exact SymPy number (floats by their decimal repr)."""
    if isinstance(value, sp.Basic):
        return value  # type: ignore[return-value]
    if isinstance(value, bool):
        raise TypeError("a parameter value must be a number, not a bool")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"parameter value {value} is not finite")
        return sp.Rational(repr(value))
    if isinstance(value, str):
        from .parsing import parse_number

        return parse_number(value)
    raise TypeError(f"cannot use {type(value).__name__} as a parameter value")


@dataclass(frozen=True)
class Rule:
    """A dropout rule or penalty as given by the user, before derivation.

    ``expr`` is in ``w`` (or ``eta`` for a dual), with parameters substituted.
    """

    kind: str
    expr: sp.Expr
    lam: sp.Expr = sp.Integer(1)
    params: Mapping[str, sp.Expr] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown rule kind {self.kind!r}; expected one of {', '.join(KINDS)}")
