"""Property-based checks of the conversions and duality identities, against mpmath.

Over random parameter values (hypothesis), the engine's closed forms must
satisfy, at 30 digits and independently recomputed here:
  r = lam/eta, p = lam/(eta + lam), q = eta/(eta + lam)   (docs/conventions.md)
  Omega(w) = 1/2 min_eta [w**2/eta + f(eta)]              (brute-force minimum)
  f(eta)   = max_w [2 Omega(w) - w**2/eta]                (brute-force maximum)
  Omega'(w) = w/eta_hat(w)                                (mpmath.diff)
"""
from __future__ import annotations

from functools import cache

import mpmath
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdual as sd
from symdual.rules import eta, from_eta_hat, lam, to_eta_hat, w

rationals = st.fractions(min_value=sp.Rational(1, 20), max_value=20, max_denominator=50).map(sp.Rational)
probs = st.fractions(min_value=sp.Rational(1, 100), max_value=sp.Rational(99, 100),
                     max_denominator=100).map(sp.Rational)


@settings(max_examples=200, deadline=None)
@given(p=probs, lam_value=rationals)
def test_rate_conversions_exact(p, lam_value):
    e = to_eta_hat("drop_rate", p, lam_value)
    assert lam_value / e == p / (1 - p)  # r = p/(1-p) = lam/eta
    assert from_eta_hat("drop_rate", e, lam_value) == p
    assert from_eta_hat("keep_prob", e, lam_value) == 1 - p
    assert to_eta_hat("keep_prob", 1 - p, lam_value) == e
    assert to_eta_hat("ratio", p / (1 - p), lam_value) == e
    assert to_eta_hat("variance", p / (1 - p), lam_value) == e


@settings(max_examples=100, deadline=None)
@given(x=rationals, lam_value=rationals)
def test_symbolic_round_trip_of_kinds(x, lam_value):
    rule = w * (w + x)
    for kind in ("drop_rate", "keep_prob", "ratio", "variance"):
        back = to_eta_hat(kind, from_eta_hat(kind, rule, lam), lam)
        assert sp.simplify(back - rule) == 0


FAMILIES = {  # eta_hat with one parameter a > 0
    "logsum": lambda a: w * (w + a),
    "log2sum": lambda a: (w**2 + a) / 2,
    "lp": lambda a: w ** (2 - a / (1 + a)),  # p = a/(1+a) in (0, 1)
    "mcp": lambda a: sp.Piecewise((a * w / (a - w), w < a), (sp.oo, True)),
}


@cache
def derived(family: str, a: sp.Rational) -> sd.Derivation:
    return sd.derive(eta_hat=FAMILIES[family](a), timeout=20)  # closed forms wanted, even on a loaded machine


def _mp(expr, var):
    return sp.lambdify(var, expr, modules="mpmath")


@settings(max_examples=12, deadline=None)
@given(family=st.sampled_from(sorted(FAMILIES)), a=st.sampled_from([sp.Rational(1, 3), sp.Rational(1, 2), 1, 2, 5]),
       x=st.floats(min_value=0.02, max_value=30))
def test_eta_trick_identities(family, a, x):
    d = derived(family, sp.Integer(a) if isinstance(a, int) else a)
    omega, f, eta_hat = _mp(d.omega, w), _mp(d.f_dual, eta), _mp(d.eta_hat, w)
    with mpmath.workdps(30):
        x = mpmath.mpf(x)
        # Omega(x) - Omega(0) against the brute-force eta-trick minimum (f finite on (0, oo) here)
        obj = lambda u: (x**2 / mpmath.exp(u) + f(mpmath.exp(u))) / 2  # noqa: E731
        grid = [mpmath.mpf(k) / 10 for k in range(-200, 201)]
        u0 = min(grid, key=obj)
        u_star = mpmath.findroot(lambda u: mpmath.diff(obj, u), u0) if mpmath.isfinite(eta_hat(x)) else None
        best = min(obj(u0), obj(u_star) if u_star is not None else obj(u0))
        if not mpmath.isfinite(eta_hat(x)):  # beyond the knee: infimum as eta -> oo
            best = min(best, mpmath.limit(lambda t: f(t), mpmath.inf) / 2)
        ref0 = f(mpmath.mpf(10) ** -2000) / 2  # Omega(0+) = f(0+)/2 (f(eta) may approach slowly, like eta**(1/7))
        assert abs((best - ref0) - (omega(x) - omega(mpmath.mpf(0)))) < 1e-8 * max(1, abs(best))
        # Omega' = w/eta_hat (envelope theorem)
        if mpmath.isfinite(eta_hat(x)) and not (family == "mcp" and abs(x - a) < 1e-3):
            assert abs(mpmath.diff(omega, x) - x / eta_hat(x)) < 1e-15
        # f(eta) = max_w [2 Omega(w) - w**2/eta] at eta = eta_hat(x) (attained at w = x)
        if mpmath.isfinite(eta_hat(x)):
            e = eta_hat(x)
            g = lambda v: 2 * omega(v) - v**2 / e  # noqa: E731
            assert abs(f(e) - g(x)) < 1e-15 * max(1, abs(f(e)))
            assert all(g(x * t) <= g(x) + 1e-20 for t in (mpmath.mpf("0.5"), mpmath.mpf("0.9"), mpmath.mpf("1.1"), 2))
