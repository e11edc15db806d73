"""Leading terms of Omega at 0+ and at infinity.

From a closed form: ``series`` of the piece active there. From Omega' alone
(when the integral has no closed form): the series of Omega' integrated term
by term,

    Omega(w) = sum_k c_k w**(a_k + 1)/(a_k + 1)           at 0+ (Omega(0) = 0),
    Omega(w) = C + sum_k c_k w**(a_k + 1)/(a_k + 1)       at oo (C unknown),

with c w**(-1) integrating to c log(w). All functions are pure CAS; run them
bounded.

Series of Omega and eta_hat from the expansion of a dual f (:class:`DualSeries`):

When w**2 = eta**2 f'(eta) has no closed-form solution, its solution still
has a series.  Two terms follow from the envelope theorem (first-order
perturbation of the minimum), with f - f(0+) = c eta**q + d eta**a + ...
(0 < q < a) near 0:

    eta0 = (w**2/(c q))**(1/(q+1)),   eta_hat = eta0 (1 - d a/(c q (q+1)) eta0**(a-q) + ...)
    Omega - Omega(0) = (q+1) c/2 eta0**q + d/2 eta0**a + O(eta0**min(a2, 2a-q))

and with f = A log(eta) + B + d eta**(-k) + ... (k > 0) near infinity:

    eta0 = w**2/A,   eta_hat = eta0 + k d/A eta0**(1-k) + ...
    Omega = A/2 (1 + log(eta0)) + B/2 + d/2 eta0**(-k) + O(eta0**(-min(k2, 2k)))

(a2, k2: the exponents of the next terms of f).  The next correction is
second order in the perturbation, hence the O-terms.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .piecewise import head, tail
from .rules import eta, w

C = sp.Symbol("C")
"""The unknown constant of integration in a series at infinity."""

_ZERO = sp.Integer(0)


MAX_ORDER = 12
"""series_at raises the order up to this when the terms below ``n`` all vanish."""


def series_at(expr: sp.Expr, point: sp.Expr, n: int = 3) -> sp.Expr:
    """Series of ``expr`` at w -> 0+ or w -> oo, with its O-term and at least one nonzero term:
    if every term below order ``n`` vanishes (Omega = w**3/3 + ... at n = 3), the order is raised."""
    ser = _series_at(expr, point, n)
    while ser.removeO() == 0 and ser.getO() is not None and n < MAX_ORDER:
        n += 3
        ser = _series_at(expr, point, n)
    return ser


def _series_at(expr: sp.Expr, point: sp.Expr, n: int) -> sp.Expr:
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


# ------------------------------------------------ series from the expansion of a dual f
@dataclass(frozen=True)
class DualSeries:
    """Terms of f: near 0, f - f(0+) = sum c eta**e (e increasing); near oo,
    f = A log(eta) + B + sum d eta**(-k) (k increasing)."""

    at_zero: tuple[tuple[sp.Expr, sp.Expr], ...]
    log_coeff: sp.Expr | None = None
    constant: sp.Expr | None = None
    at_infinity: tuple[tuple[sp.Expr, sp.Expr], ...] = ()


def _terms(ser: sp.Expr, x: sp.Symbol) -> list[tuple[sp.Expr, sp.Expr]]:
    out: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand(ser.removeO())):
        c, e = term.as_coeff_exponent(x)
        if c.has(x):
            raise ValueError(f"term {term} is not c*{x}**e")
        out[e] = out.get(e, 0) + c
    return sorted(((c, e) for e, c in out.items() if c != 0), key=lambda ce: ce[1])


def expansion_at_zero(f: sp.Expr, n: int = 4) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
    """(coefficient, exponent) terms of f - f(0+) at eta -> 0+ (SymPy series)."""
    f0 = sp.limit(f, eta, 0, "+")
    return tuple(_terms(sp.series(f - f0, eta, 0, n), eta))


def expansion_at_infinity(f: sp.Expr, n: int = 4) -> tuple[sp.Expr, sp.Expr, tuple[tuple[sp.Expr, sp.Expr], ...]]:
    """(A, B, ((d, k), ...)) with f = A log(eta) + B + sum d eta**(-k) at eta -> oo."""
    A = sp.limit(f / sp.log(eta), eta, sp.oo)
    rest = sp.expand(f - A * sp.log(eta))
    ser = sp.series(rest, eta, sp.oo, n)
    terms = _terms(ser, eta)
    B = sum((c for c, e in terms if e == 0), sp.Integer(0))
    return A, B, tuple(sorted(((c, -e) for c, e in terms if e != 0), key=lambda ck: ck[1]))


def _order(x: sp.Expr, point: sp.Expr) -> sp.Order:
    return sp.Order(x, (w, point))


def at_zero(series: DualSeries, omega0: sp.Expr = _ZERO) -> tuple[sp.Expr, sp.Expr]:
    """(Omega, eta_hat) two-term series at w -> 0+ (module docstring)."""
    (c, q), *more = series.at_zero
    eta0 = (w**2 / (c * q)) ** (1 / (q + 1))
    omega = omega0 + (q + 1) * c / 2 * eta0**q
    eta_hat = eta0
    if not more:
        return omega + _order(eta0**(2 * q), 0), eta_hat
    d, a = more[0]
    next_a = more[1][1] if len(more) > 1 else sp.oo
    err = sp.Min(next_a, 2 * a - q)
    omega = omega + d / 2 * eta0**a + _order(sp.powsimp(eta0**err, force=True), 0)
    eta_hat = eta0 * (1 - d * a / (c * q * (q + 1)) * eta0 ** (a - q)) + _order(eta0 ** (1 + err - q), 0)
    return sp.expand(sp.powsimp(omega, force=True)), sp.expand(sp.powsimp(eta_hat, force=True))


def at_infinity(series: DualSeries) -> tuple[sp.Expr, sp.Expr]:
    """(Omega, eta_hat) two-term series at w -> oo (module docstring)."""
    A, B = series.log_coeff, series.constant
    eta0 = w**2 / A
    omega = A / 2 * (1 + 2 * sp.log(w) - sp.log(A)) + B / 2
    eta_hat = eta0
    if series.at_infinity:
        d, k = series.at_infinity[0]
        k2 = series.at_infinity[1][1] if len(series.at_infinity) > 1 else sp.oo
        err = sp.Min(k2, 2 * k)
        omega += d / 2 * eta0 ** (-k) + _order(eta0 ** (-err), sp.oo)
        eta_hat += k * d / A * eta0 ** (1 - k) + _order(eta0 ** (1 - err), sp.oo)
    return sp.expand(sp.powsimp(omega, force=True)), sp.expand(sp.powsimp(eta_hat, force=True))
