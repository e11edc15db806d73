"""The symbolic eta-trick transforms, in every direction (docs/conventions.md).

    Omega(w)   = integral_0^w t/eta_hat(t) dt            (normalised Omega(0) = 0)
    eta_hat(w) = w / Omega'(w)                          (envelope theorem)
    f(eta)     = sup_w [2 Omega(w) - w**2/eta]           (concave conjugate in w**2)
    Omega(w)   = 1/2 inf_eta [w**2/eta + f(eta)],  at w**2 = eta**2 f'(eta)

Each function is a pure CAS computation that may be slow; the derivation runs
each under :func:`symdual.bounded.bounded`. They raise :class:`NoClosedForm`
when SymPy returns an unevaluated object, so the caller can fall back.
"""
from __future__ import annotations

import sympy as sp

from .errors import DivergentPenalty, NoClosedForm
from .piecewise import branches, from_branches, head, tail
from .rules import eta, w


def _factor_over_radicals(expr: sp.Expr) -> sp.Expr:
    """``factor`` over Q extended by the radicals in ``expr`` (cancels sqrt(2) factors)."""
    radicals = sorted({a for a in expr.atoms(sp.Pow) if a.is_number and not a.exp.is_integer}, key=sp.default_sort_key)
    return sp.factor(expr, extension=radicals) if radicals else expr


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few cheap normal forms (no ``simplify``)."""
    forms = [expr]
    for transform in (sp.cancel, sp.factor, _factor_over_radicals, lambda e: sp.logcombine(e, force=True), sp.powsimp):
        try:
            forms.append(transform(expr))
        except Exception:  # a normal form that does not apply
            continue
    return min(forms, key=sp.count_ops)


def simplest(expr: sp.Expr) -> sp.Expr:
    """``simplify`` piece by piece, kept only if shorter; run it under a budget."""
    def one(e: sp.Expr) -> sp.Expr:
        candidate = sp.simplify(e)
        return candidate if sp.count_ops(candidate) < sp.count_ops(e) else e

    x = eta if eta in expr.free_symbols and w not in expr.free_symbols else w
    return from_branches([(one(e), where) for e, where in branches(expr, x)], x)


def _closed(expr: sp.Expr) -> sp.Expr:
    if expr.has(sp.Integral, sp.Limit, sp.Subs) or expr.has(sp.nan):
        raise NoClosedForm(str(expr))
    return expr


def omega_integrand(eta_hat: sp.Expr) -> sp.Expr:
    """Omega'(w) = w/eta_hat(w) (0 where eta_hat is infinite)."""
    out = []
    for e, where in branches(eta_hat, w):
        out.append((sp.Integer(0) if e in (sp.oo, sp.zoo) else tidy(w / e), where))
    return from_branches(out, w)


def omega_from_eta_hat(eta_hat: sp.Expr) -> sp.Expr:
    """Omega(w) = integral_0^w t/eta_hat(t) dt, with Omega(0) = 0.

    Raises :class:`DivergentPenalty` if the integral diverges at 0.
    """
    antiderivative = _closed(sp.integrate(omega_integrand(eta_hat), w))
    at_zero = sp.limit(head(antiderivative, w), w, 0, "+")
    if at_zero.has(sp.oo, -sp.oo, sp.zoo):
        raise DivergentPenalty(
            f"the penalty diverges at w = 0: Omega(w) = {antiderivative} + C and its limit at 0+ "
            f"is {at_zero}; eta_hat(w) = {eta_hat} vanishes too fast at 0"
        )
    return from_branches([(tidy(e - at_zero), where) for e, where in branches(antiderivative, w)], w)


def eta_hat_from_omega(omega: sp.Expr) -> sp.Expr:
    """eta_hat(w) = w/Omega'(w), infinite where Omega' = 0."""
    out = []
    for e, where in branches(sp.diff(omega, w), w):
        out.append((sp.oo if e == 0 else tidy(w / e), where))
    return from_branches(out, w)


def _sample_points(lo: sp.Expr, hi: sp.Expr) -> list[sp.Expr]:
    """Three exact rational points strictly inside (lo, hi), hi possibly oo."""
    if hi == sp.oo:
        base = sp.Rational(max(float(lo), 0.0))
        return [base + d for d in (sp.Rational(1, 3), sp.Integer(2), sp.Integer(17))]
    return [lo + (hi - lo) * t for t in (sp.Rational(1, 7), sp.Rational(1, 2), sp.Rational(6, 7))]


def _finite_elements(solutions: sp.Set) -> list[sp.Expr]:
    """The explicit elements of a solveset result (FiniteSet, possibly intersected)."""
    if isinstance(solutions, sp.FiniteSet):
        return list(solutions)
    if isinstance(solutions, sp.Intersection):
        return [e for a in solutions.args if isinstance(a, sp.FiniteSet) for e in a]
    return []


def _root_in(equation: sp.Expr, x: sp.Symbol, param: sp.Symbol, lo: sp.Expr, hi: sp.Expr,
             x_domain: sp.Set) -> sp.Expr:
    """The branch x(param) of ``equation = 0`` lying in ``x_domain`` for param in (lo, hi).

    Candidates come from ``solveset`` over (0, oo) (fast for powers), then
    from ``solve(check=False)``; each is verified at three exact sample points.
    """
    probes = _sample_points(lo, hi)

    def valid(cand: sp.Expr) -> bool:
        for p in probes:
            value = sp.N(cand.subs(param, p), 30)
            if not value.is_real or not x_domain.contains(value):
                return False
            if abs(sp.N(equation.subs({x: value, param: p}), 30)) > 1e-20 * (1 + abs(value)) ** 2:
                return False
        return True

    for source in (lambda: _finite_elements(sp.solveset(equation, x, sp.Interval.open(0, sp.oo))),
                   lambda: sp.solve(equation, x, check=False)):
        for cand in source():
            if valid(cand):
                return tidy(cand)
    raise NoClosedForm(f"no root of {equation} = 0 in {x_domain}")


def f_from_omega(omega: sp.Expr, eta_hat: sp.Expr) -> sp.Expr:
    """f(eta) = sup_w [2 Omega(w) - w**2/eta], piece by piece of eta_hat.

    Assumes eta_hat nondecreasing: on each piece, the sup is at the w with
    eta_hat(w) = eta; below eta_hat(0+) it is at w = 0 (f = 2 Omega(0+)),
    beyond eta_hat(oo) < oo it is +oo.
    """
    out: list[tuple[sp.Expr, sp.Set]] = []
    omega_pieces = branches(omega, w)
    start = sp.limit(head(eta_hat, w), w, 0, "+")
    if start != 0:
        out.append((2 * sp.limit(head(omega, w), w, 0, "+"), sp.Interval(0, start)))
    reached = start
    for e, where in branches(eta_hat, w):
        if e in (sp.oo, sp.zoo):
            continue
        lo = sp.limit(e, w, where.inf, "+")
        hi = sp.limit(e, w, where.sup, "-") if where.sup != sp.oo else sp.limit(e, w, sp.oo)
        if lo == hi:
            continue  # eta_hat constant here: no eta of its own
        w_star = _root_in(e - eta, w, eta, lo, hi, where)
        om = next(o for o, dom in omega_pieces if dom.intersect(where).measure != 0)
        out.append((tidy(2 * om.subs(w, w_star) - w_star**2 / eta), sp.Interval(lo, hi)))
        reached = hi
    if reached != sp.oo:
        out.append((sp.oo, sp.Interval(reached, sp.oo)))
    out[0] = (out[0][0], sp.Interval(0, out[0][1].sup, True, out[0][1].right_open))
    return from_branches([(fe, dom) for fe, dom in out if dom.measure != 0], eta)


def stationary_w(f: sp.Expr) -> sp.Expr:
    """w(eta) = eta*sqrt(f'(eta)): the weight whose eta-trick minimiser is eta."""
    return eta * sp.sqrt(sp.diff(f, eta))


def omega_from_f(f: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(Omega(w), eta_hat(w)) from f: solve w**2 = eta**2 f'(eta) piece by piece.

    Pieces where f is constant (f' = 0) or infinite never hold the minimum
    in their interior and are skipped; f must be nondecreasing.
    """
    omega_parts: list[tuple[sp.Expr, sp.Set]] = []
    eta_parts: list[tuple[sp.Expr, sp.Set]] = []
    last_eta = sp.Integer(0)
    for fe, where in branches(f, eta):
        if fe in (sp.oo, sp.zoo):
            break
        fp = sp.factor(sp.cancel(sp.diff(fe, eta)))
        if fp == 0:
            last_eta = where.sup
            continue
        wl = sp.limit(stationary_w(fe), eta, where.inf, "+")
        wh = (sp.limit(stationary_w(fe), eta, where.sup, "-") if where.sup != sp.oo
              else sp.limit(stationary_w(fe), eta, sp.oo))
        if wl != 0 and not omega_parts:
            # below wl the minimum sits at the piece's left end eta = last_eta (> 0)
            fixed = where.inf
            omega_parts.append((tidy((w**2 / fixed + fe.subs(eta, fixed)) / 2), sp.Interval(0, wl)))
            eta_parts.append((fixed, sp.Interval(0, wl)))
        eta_star = _root_in(eta**2 * fp - w**2, eta, w, wl, wh, sp.Interval.open(where.inf, where.sup))
        omega_parts.append((tidy((w**2 / eta_star + fe.subs(eta, eta_star)) / 2), sp.Interval(wl, wh)))
        eta_parts.append((eta_star, sp.Interval(wl, wh)))
        last_eta = where.sup
    top = omega_parts[-1][1].sup if omega_parts else sp.Integer(0)
    if top != sp.oo:
        # beyond top the infimum sits where f stops being finite: eta = last_eta
        if last_eta == sp.oo:  # capped penalty: inf reached only as eta -> oo
            value, argmin = sp.limit(_last_finite(f), eta, sp.oo) / 2, sp.oo
        elif last_eta != 0:
            value = (w**2 / last_eta + sp.limit(_last_finite(f), eta, last_eta, "-")) / 2
            argmin = last_eta
        else:
            raise NoClosedForm("f has no piece with f' > 0")
        omega_parts.append((tidy(value), sp.Interval(top, sp.oo)))
        eta_parts.append((argmin, sp.Interval(top, sp.oo)))
    return from_branches(omega_parts, w), from_branches(eta_parts, w)


def _last_finite(f: sp.Expr) -> sp.Expr:
    return [fe for fe, _ in branches(f, eta) if fe not in (sp.oo, sp.zoo)][-1]


def limit_at(expr: sp.Expr, point: sp.Expr) -> sp.Expr:
    """lim_{w -> point} expr, using the piece active there (point 0+ or oo)."""
    if point == sp.oo:
        return sp.limit(tail(expr, w), w, sp.oo)
    return sp.limit(head(expr, w), w, point, "+")
