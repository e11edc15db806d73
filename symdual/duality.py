"""The symbolic eta-trick transforms, in every direction (docs/conventions.md).

    Omega(w)   = integral_0^w t/eta_hat(t) dt            (normalised Omega(0) = 0)
    eta_hat(w) = w / Omega'(w)                          (envelope theorem)
    f(eta)     = sup_w [2 Omega(w) - w**2/eta]           (concave conjugate in w**2)
    Omega(w)   = 1/2 inf_eta [w**2/eta + f(eta)],  at w**2 = eta**2 f'(eta)

Both conjugations compare every candidate (stationary points of each piece,
all roots on a non-convex piece, kinks with their one-sided values, the limits
at 0+ and oo) and split the result where two candidates cross
(:func:`symdual.piecewise.envelope`); a crossing not found exactly raises.

Each function is a pure CAS computation that may be slow; the derivation runs
each under :func:`symdual.bounded.bounded`. They raise :class:`NoClosedForm`
when SymPy returns an unevaluated object, so the caller can fall back.
"""
from __future__ import annotations

from functools import lru_cache

import mpmath
import sympy as sp

from .errors import DivergentPenalty, NoClosedForm
from .piecewise import (
    IDENTICAL,
    TIE,
    Candidate,
    branches,
    envelope,
    from_branches,
    head,
    interior_roots,
    numeric,
    one_sided,
    sample_point,
    tail,
    with_ends,
)
from .rules import eta, w


def _factor_over_radicals(expr: sp.Expr) -> sp.Expr:
    """``factor`` over Q extended by the radicals in ``expr`` (cancels sqrt(2) factors)."""
    radicals = sorted({a for a in expr.atoms(sp.Pow) if a.is_number and not a.exp.is_integer}, key=sp.default_sort_key)
    return sp.factor(expr, extension=radicals) if radicals else expr


@lru_cache(maxsize=1024)
def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few cheap normal forms (no ``simplify``); a piecewise expression (Min, Max,
    Heaviside, sign included) is tidied branch by branch when that shortens a branch: (2 - 2 Max(0, 1 - w)**2)
    /Max(0, 1 - w)**2 becomes 2w(2 - w)/(1 - w)**2 for w < 1 (no cancellation near 0) and oo beyond
    (c/0 of a rule that is nonnegative: no dropout there)."""
    forms = [expr]
    for transform in (sp.cancel, sp.factor, _factor_over_radicals, lambda e: sp.logcombine(e, force=True), sp.powsimp):
        try:
            forms.append(transform(expr))
        except Exception:  # a normal form that does not apply
            continue
    best = min(forms, key=sp.count_ops)
    by_branch = _tidy_branches(expr)
    return best if by_branch is None else by_branch


def _tidy_branches(expr: sp.Expr) -> sp.Expr | None:
    """``expr`` rebuilt from its tidied branches, if one of them got shorter or was c/0 (then oo); else None."""
    x = {w, eta} & expr.free_symbols
    if len(x) != 1 or not expr.has(sp.Piecewise, sp.Min, sp.Max, sp.Heaviside, sp.sign):
        return None
    (x,) = x
    try:
        parts = branches(_rewritten(expr), x)
    except Exception:  # noqa: BLE001 - conditions SymPy cannot turn into intervals: no branches
        return None
    if len(parts) < 2:
        return None
    out, better = [], False
    for e, where in parts:
        if e == sp.zoo:
            out.append((sp.oo, where))
            better = True
            continue
        new = tidy(e)
        better = better or sp.count_ops(new) < sp.count_ops(e)
        out.append((new, where))
    return from_branches(out, x) if better else None


def simplest(expr: sp.Expr) -> sp.Expr:
    """``simplify`` piece by piece, kept only if shorter; run it under a budget."""
    def one(e: sp.Expr) -> sp.Expr:
        candidate = sp.simplify(e)
        return candidate if sp.count_ops(candidate) < sp.count_ops(e) else e

    folded = sp.piecewise_fold(expr)
    if isinstance(folded, sp.Piecewise) and any(c.has(sp.Eq) for _, c in folded.args):
        return sp.Piecewise(*[(one(e), c) for e, c in folded.args])  # a point branch: keep every condition
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
    for e, where in branches(sp.diff(_rewritten(omega), w), w):
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


@lru_cache(maxsize=256)
def _solveset_roots(equation: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, ...]:
    return tuple(_finite_elements(sp.solveset(equation, x, sp.Interval.open(0, sp.oo))))


@lru_cache(maxsize=256)
def _solve_roots(equation: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, ...]:
    return tuple(sp.solve(equation, x, check=False))


def _root_in(equation: sp.Expr, x: sp.Symbol, param: sp.Symbol, lo: sp.Expr, hi: sp.Expr,
             x_domain: sp.Set) -> sp.Expr:
    """The branch x(param) of ``equation = 0`` lying in ``x_domain`` for param in (lo, hi).

    Candidates come from ``solveset`` over (0, oo) (fast for powers), then
    from ``solve(check=False)``; each is verified at five exact sample points.
    """
    probes = _sample_points_many(lo, hi)

    def valid(cand: sp.Expr) -> bool:
        for p in probes:
            value = sp.N(cand.subs(param, p), 30)
            if not value.is_real or not x_domain.contains(value):
                return False
            if abs(sp.N(equation.subs({x: value, param: p}), 30)) > 1e-20 * (1 + abs(value)) ** 2:
                return False
        return True

    for source in (_solveset_roots, _solve_roots):
        for cand in source(equation, x):
            if valid(cand):
                return tidy(cand)
    raise NoClosedForm(f"no root of {equation} = 0 in {x_domain}")


def _sample_points_many(lo: sp.Expr, hi: sp.Expr) -> list[sp.Expr]:
    """Five exact points strictly inside (lo, hi): a root branch is checked at each."""
    if hi == sp.oo:
        return _sample_points(lo, hi) + [lo + sp.Rational(1, 50), lo + 1000]
    return _sample_points(lo, hi) + [lo + (hi - lo) * t for t in (sp.Rational(1, 50), sp.Rational(49, 50))]


def _rewritten(expr: sp.Expr) -> sp.Expr:
    """Min, Max, Heaviside and sign as Piecewise, so that every kink is a branch boundary."""
    if expr.has(sp.Min, sp.Max, sp.Heaviside, sp.sign):
        return sp.piecewise_fold(expr.rewrite(sp.Piecewise))
    return expr


def _infinite(expr: sp.Expr) -> bool:
    return expr in (sp.oo, sp.zoo)


def _critical_points(g: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> list[sp.Expr]:
    """Every zero of g' in (lo, hi) (a superset): between them g is monotone."""
    slope = tidy(sp.diff(g, x))
    if slope.is_positive or slope.is_negative:
        return []
    roots = interior_roots(slope, x, lo, hi)
    return [] if roots == IDENTICAL else roots


def _monotone_segments(g: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> list[tuple]:
    """(a, b, g(a+), g(b-)) for the segments of (lo, hi) on which g increases strictly."""
    ends = [lo, *_critical_points(g, x, lo, hi), hi]
    values = [one_sided(g, x, lo, "+"), *[g.subs(x, c) for c in ends[1:-1]], one_sided(g, x, hi, "-")]
    out = []
    for k in range(len(ends) - 1):
        if numeric(values[k + 1]) > numeric(values[k]) and not _close_values(values[k], values[k + 1]):
            out.append((ends[k], ends[k + 1], values[k], values[k + 1]))
    return out


def _close_values(a: sp.Expr, b: sp.Expr) -> bool:
    u, v = numeric(a), numeric(b)
    return u == v or (not mpmath.isinf(u) and not mpmath.isinf(v) and abs(u - v) <= TIE * (1 + abs(u)))


# ---------------------------------------------------------------- f from Omega


def _cells(omega: sp.Expr, eta_hat: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]]:
    """(lo, hi, Omega piece, eta_hat piece) on the common refinement of both partitions of w > 0."""
    om_parts, eh_parts = branches(omega, w), branches(eta_hat, w)
    cuts = {end for _, where in om_parts + eh_parts for end in (where.inf, where.sup)
            if end.is_number and end.is_finite and end > 0}
    bounds = [sp.Integer(0), *sorted(cuts, key=numeric), sp.oo]

    def active(parts: list[tuple[sp.Expr, sp.Set]], point: sp.Expr) -> sp.Expr:
        return next(e for e, where in parts if where.contains(point) == sp.true)

    out = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        mid = sample_point(lo, hi)
        out.append((lo, hi, active(om_parts, mid), active(eh_parts, mid)))
    return out


def _w_roots(om: sp.Expr, eh: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> list[Candidate]:
    """Stationary points of 2 Omega(w) - w**2/eta on (lo, hi): eta_hat(w) = eta, where eta_hat increases (maxima)."""
    if _infinite(eh) or eh == 0 or tidy(sp.diff(eh, w)) == 0:
        return []
    out = []
    for a, b, e_lo, e_hi in _monotone_segments(eh, w, lo, hi):
        root = _root_in(eh - eta, w, eta, e_lo, e_hi, sp.Interval.open(a, b))
        value = tidy(2 * om.subs(w, root) - root**2 / eta)
        out.append(Candidate(value, root, e_lo, e_hi, span=(a, b, om, w)))
    return out


def _kinks_in_w(cells: list[tuple]) -> list[Candidate]:
    """w fixed at 0+ and at each kink b: 2 Omega(b) - b**2/eta (the larger one-sided value of Omega)."""
    start = one_sided(cells[0][2], w, sp.Integer(0), "+")
    if numeric(start) == -mpmath.inf:
        raise NoClosedForm("Omega(0+) = -oo")
    out = [Candidate(sp.oo if start == sp.oo else 2 * start, sp.Integer(0), sp.Integer(0), sp.oo,
                     loc=sp.Integer(0), level=start)]
    for (_, b, om_left, _), (_, _, om_right, _) in zip(cells, cells[1:], strict=False):
        left, right = one_sided(om_left, w, b, "-"), one_sided(om_right, w, b, "+")
        level = right if numeric(right) > numeric(left) else left
        if numeric(level) == mpmath.inf:
            out.append(Candidate(sp.oo, b, sp.Integer(0), sp.oo))
        else:
            out.append(Candidate(tidy(2 * level - b**2 / eta), b, sp.Integer(0), sp.oo, loc=b, level=level))
    return out


def _growth_candidate(omega_tail: sp.Expr) -> list[Candidate]:
    """w -> oo: with Omega ~ c w**2, 2 Omega(w) - w**2/eta -> +oo for eta > 1/(2c), -oo below."""
    c = sp.limit(omega_tail / w**2, w, sp.oo)
    if c == 0:
        return []
    if c == sp.oo:
        return [Candidate(sp.oo, sp.oo, sp.Integer(0), sp.oo)]
    if c.is_number and c.is_finite and numeric(c) > 0:
        return [Candidate(sp.oo, sp.oo, tidy(1 / (2 * c)), sp.oo)]
    raise NoClosedForm(f"the growth of Omega at oo is not known: Omega/w**2 -> {c}")


def f_from_omega(omega: sp.Expr, eta_hat: sp.Expr) -> sp.Expr:
    """f(eta) = sup_w [2 Omega(w) - w**2/eta], comparing every candidate w.

    The candidates: on each piece, the w with eta_hat(w) = eta where eta_hat increases (all roots),
    each kink of Omega or eta_hat, w -> 0+ (2 Omega(0+)) and w -> oo (+oo where Omega grows like
    w**2/(2 eta) or faster). Their maximum is split where two candidates cross; f is
    nondecreasing and lower semicontinuous, so each piece holds its right end (lo, hi].
    Raises :class:`NoClosedForm` when a root or a crossing is not found exactly.
    """
    cells = _cells(_rewritten(omega), _rewritten(eta_hat))
    cands = [c for lo, hi, om, eh in cells for c in _w_roots(om, eh, lo, hi)]
    cands += _kinks_in_w(cells) + _growth_candidate(cells[-1][2])
    pieces = envelope(cands, eta, "max")
    return from_branches(with_ends([(lo, hi, c.value) for lo, hi, c in pieces], eta, "right"), eta)


# ---------------------------------------------------------------- Omega from f


def stationary_w(f: sp.Expr) -> sp.Expr:
    """w(eta) = eta*sqrt(f'(eta)): the weight whose eta-trick minimiser is eta."""
    return eta * sp.sqrt(sp.diff(f, eta))


def _eta_roots(fe: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> list[Candidate]:
    """Stationary points of w**2/eta + f(eta) on (lo, hi): eta**2 f'(eta) = w**2 where it increases (minima)."""
    fp = tidy(sp.diff(fe, eta))
    if fp == 0:
        return []
    s = tidy(eta**2 * fp)
    out = []
    for a, b, s_lo, s_hi in _monotone_segments(s, eta, lo, hi):
        if numeric(s_lo) < -TIE:
            raise NoClosedForm(f"f decreases on ({a}, {b})")
        w_lo, w_hi = tidy(sp.sqrt(s_lo)), (sp.oo if s_hi == sp.oo else tidy(sp.sqrt(s_hi)))
        root = _root_in(s - w**2, eta, w, w_lo, w_hi, sp.Interval.open(a, b))
        value = tidy(w**2 / root + fe.subs(eta, root))
        out.append(Candidate(value, root, w_lo, w_hi, span=(a, b, fe, eta)))
    return out


def _fixed_etas(parts: list[tuple[sp.Expr, sp.Set]]) -> list[Candidate]:
    """eta fixed at each breakpoint b (the smaller one-sided value of f) and eta -> oo (value f(oo))."""
    out = []
    for (f_left, left), (f_right, _) in zip(parts, parts[1:], strict=False):
        b = left.sup
        sides = [v for v in ((None if _infinite(f_left) else one_sided(f_left, eta, b, "-")),
                             (None if _infinite(f_right) else one_sided(f_right, eta, b, "+"))) if v is not None]
        if sides:
            level = min(sides, key=numeric)
            out.append(Candidate(tidy(w**2 / b + level), b, sp.Integer(0), sp.oo, loc=b, level=level))
    last = parts[-1][0]
    if not _infinite(last):
        top = sp.limit(last, eta, sp.oo)
        if top != sp.oo:
            if not (top.is_number and mpmath.isfinite(numeric(top))):
                raise NoClosedForm(f"f(oo) = {top} is not a number")
            out.append(Candidate(top, sp.oo, sp.Integer(0), sp.oo, loc=sp.oo, level=top))
    return out


def _check_eta_to_zero(parts: list[tuple[sp.Expr, sp.Set]]) -> None:
    """w**2/eta + f(eta) -> +oo as eta -> 0+ for every w > 0 (else Omega is -oo somewhere)."""
    first = parts[0][0]
    if _infinite(first):
        return
    start = one_sided(first, eta, sp.Integer(0), "+")
    if numeric(start) == -mpmath.inf and sp.limit(eta * first, eta, 0, "+") != 0:
        raise NoClosedForm(f"f(eta) = {first} falls like -1/eta or faster at 0+")


def omega_from_f(f: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(Omega(w), eta_hat(w)) with Omega = 1/2 inf_eta [w**2/eta + f(eta)], comparing every candidate eta.

    The candidates: on each piece, every root of w**2 = eta**2 f'(eta) where eta**2 f' increases
    (minima), each breakpoint (lower one-sided value of f) and eta -> oo (f(oo), when finite);
    eta -> 0+ never holds the infimum for w > 0. Their minimum is split where two candidates
    cross; Omega is nondecreasing and upper semicontinuous, so each piece holds its left end [lo, hi).
    Raises :class:`NoClosedForm` when a root or a crossing is not found exactly.
    """
    parts = branches(_rewritten(f), eta)
    _check_eta_to_zero(parts)
    cands = [c for fe, where in parts if not _infinite(fe) for c in _eta_roots(fe, where.inf, where.sup)]
    cands += _fixed_etas(parts)
    pieces = envelope(cands, w, "min")
    omega = from_branches(with_ends([(lo, hi, tidy(c.value / 2)) for lo, hi, c in pieces], w, "left"), w)
    eta_hat = from_branches(with_ends([(lo, hi, c.arg) for lo, hi, c in pieces], w, "left"), w)
    return omega, eta_hat


def limit_at(expr: sp.Expr, point: sp.Expr) -> sp.Expr:
    """lim_{w -> point} expr, using the piece active there (point 0+ or oo)."""
    expr = _rewritten(expr)
    if point == sp.oo:
        return sp.limit(tail(expr, w), w, sp.oo)
    return sp.limit(head(expr, w), w, point, "+")
