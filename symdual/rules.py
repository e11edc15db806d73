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

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np
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
        return lam_value * one_minus(expr) / expr
    if kind == "keep_prob":
        return lam_value * expr / one_minus(expr)
    raise ValueError(f"unknown rule kind {kind!r}; expected one of {', '.join(RULE_KINDS)}")


def one_minus(expr: sp.Expr) -> sp.Expr:
    """1 - expr, with 1 - erf(x) = erfc(x) and 1 - erfc(x) = erf(x), so that eta_hat keeps its digits where
    a rate tends to 1 (erf(w)/(1 - erf(w)) reads 1/0 in floating point from w = 6 on)."""
    if isinstance(expr, sp.erf):
        return sp.erfc(expr.args[0])
    if isinstance(expr, sp.erfc):
        return sp.erf(expr.args[0])
    return 1 - expr


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
    """A parameter value as an exact, finite, real SymPy number.

    Accepted: any real number type (int, float by its shortest decimal repr, Fraction, Decimal, NumPy
    integer/float scalars and 0-d arrays, mpmath mpf, SymPy numbers) and constant text ("sqrt(2)").
    TypeError for a bool, complex or non-numeric value; ValueError for a non-finite value or one
    outside the float64 range.
    """
    exact = _exact_number(value)
    if isinstance(exact, sp.Basic) and exact.is_number:
        _check_finite_real(exact, value)
    return exact


def _exact_number(value: object) -> sp.Expr:
    """``value`` as a SymPy number (no range checks)."""
    if isinstance(value, sp.Basic):
        return value  # type: ignore[return-value]
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise TypeError(f"a parameter value must be one number, got an array of shape {value.shape}")
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a parameter value must be a number, not a bool")
    if isinstance(value, str):
        from .parsing import parse_number

        return parse_number(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Rational):
        return sp.Rational(int(value.numerator), int(value.denominator))
    if isinstance(value, (float, np.floating)):
        return _from_float(float(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"parameter value {value} is not finite")
        return _from_fraction(Fraction(value))
    if isinstance(value, mpmath.mpf):
        return _from_mpf(value)
    if isinstance(value, (complex, np.complexfloating, mpmath.mpc)):
        raise TypeError(f"a parameter value must be a real number, got {value!r}")
    if isinstance(value, numbers.Real):
        return _from_float(float(value))
    raise TypeError(f"cannot use {type(value).__name__} as a parameter value")


def _from_float(value: float) -> sp.Expr:
    if not math.isfinite(value):
        raise ValueError(f"parameter value {value} is not finite")
    return sp.Rational(repr(value))


def _from_fraction(value: Fraction) -> sp.Expr:
    return sp.Rational(value.numerator, value.denominator)


def _from_mpf(value: mpmath.mpf) -> sp.Expr:
    if not mpmath.isfinite(value):
        raise ValueError(f"parameter value {value} is not finite")
    man, exp = value.man_exp
    if abs(exp) > 2 * MAX_EXPONENT:
        raise ValueError(f"parameter value {mpmath.nstr(value, 5)} is outside the float64 range (|x| <= 1.8e308)")
    return sp.Integer(man) * sp.Integer(2) ** exp


MAX_EXPONENT = 1100
"""Binary exponents beyond this (in either direction) are refused for parameter values."""


def _check_finite_real(exact: sp.Expr, value: object) -> None:
    """ValueError for nan/oo, a non-real value, or one beyond float64's range (in any of its constants)."""
    shown = str(value) if len(str(value)) < 60 else str(value)[:57] + "..."
    if exact.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or exact.is_finite is False:
        raise ValueError(f"parameter value {shown} is not finite")
    if exact.is_extended_real is False:
        raise ValueError(f"parameter value {shown} is not a real number")
    from .errors import InputError
    from .parsing import check_magnitude

    try:
        check_magnitude(exact)
    except InputError:
        raise ValueError(f"parameter value {shown} is outside the float64 range (|x| <= 1.8e308)") from None


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
