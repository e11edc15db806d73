"""Leading terms of Omega at 0+ and at infinity.

From a closed form: ``series`` of the piece active there. From Omega' alone
(when the integral has no closed form): the series of Omega' integrated term
by term,

    Omega(w) = sum_k c_k w**(a_k + 1)/(a_k + 1)           at 0+ (Omega(0) = 0),
    Omega(w) = C + sum_k c_k w**(a_k + 1)/(a_k + 1)       at oo (C unknown),

with c w**(-1) integrating to c log(w). All functions are pure CAS; run them
bounded.
"""
from __future__ import annotations

import sympy as sp

from .pieces import head, tail
from .rules import w

C = sp.Symbol("C")
"""The unknown constant of integration in a series at infinity."""


def series_at(expr: sp.Expr, point: sp.Expr, n: int = 3) -> sp.Expr:
    """Series of ``expr`` at w -> 0+ or w -> oo, with its O-term."""
    if point == 0:
        return sp.series(head(expr, w), w, 0, n)
    piece = tail(expr, w)
    try:  # Gruntz-style asymptotic series: handles exponentially small tails
        return piece.aseries(w, n)
    except (NotImplementedError, ValueError, TypeError, AttributeError):
        return sp.series(piece, w, sp.oo, n)


def integrated_series(derivative: sp.Expr, point: sp.Expr, n: int = 3) -> sp.Expr:
    """Series of Omega from that of Omega' = ``derivative``, integrated term by term."""
    ser = series_at(derivative, point, n)
    order = ser.getO()
    terms = sp.Add.make_args(ser.removeO())
    total = sp.Integer(0) if point == 0 else C
    for term in terms:
        total += sp.integrate(term, w)
    if order is not None:
        try:
            total += sp.Order(sp.integrate(order.expr, w), (w, point))
        except (TypeError, ValueError, NotImplementedError):
            pass  # the O-term of Omega' does not integrate into an O-term SymPy accepts
    return total


