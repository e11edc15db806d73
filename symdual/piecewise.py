"""Piecewise expressions in w >= 0 as explicit branches with their domains.

Rules such as MCP and SCAD are piecewise; every transform maps over the
branches, and every result is returned as branches with explicit intervals.
(A "piece" elsewhere in symdual is an evaluable part of a record: omega, eta_hat, f_dual, omega_prime.)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp
from sympy.polys.polyerrors import BasePolynomialError
from sympy.solvers.solvers import unrad

from .errors import NoClosedForm

HALF_LINE = sp.Interval(0, sp.oo)


def branches(expr: sp.Expr, x: sp.Symbol, domain: sp.Set = HALF_LINE) -> list[tuple[sp.Expr, sp.Set]]:
    """``[(expression, interval), ...]`` covering ``domain``, in order of x."""
    folded = sp.piecewise_fold(expr)
    if not isinstance(folded, sp.Piecewise):
        return [(folded, domain)]
    out = []
    for piece, where in folded.as_expr_set_pairs(domain):
        for part in (where.args if isinstance(where, sp.Union) else (where,)):
            if part.measure != 0:  # drop single points
                out.append((piece, part))
    return sorted(out, key=lambda ps: ps[1].inf)


def from_branches(parts: list[tuple[sp.Expr, sp.Set]], x: sp.Symbol) -> sp.Expr:
    """Rebuild one expression; a single piece comes back unwrapped."""
    if len(parts) == 1:
        return parts[0][0]
    args = [(e, interval.as_relational(x)) for e, interval in parts[:-1]]
    args.append((parts[-1][0], True))
    return sp.Piecewise(*args)


def head(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """The piece active just right of 0."""
    return branches(expr, x)[0][0]


def tail(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """The piece active as x -> oo."""
    return branches(expr, x)[-1][0]


def is_piecewise(expr: sp.Expr) -> bool:
    return isinstance(sp.piecewise_fold(expr), sp.Piecewise)


# ---------------------------------------------------------------- envelopes of candidates

DPS = 30
"""Digits of the numeric comparisons between exact candidates."""
TIE = mpmath.mpf(10) ** -25
"""Relative difference below which two exact values count as equal (at ``DPS`` digits)."""
IDENTICAL = "identical"
"""What :func:`interior_roots` returns for an expression that vanishes on the whole interval."""
GRID = 12
"""Sub-intervals of the monotone-bound proof that two candidates do not cross."""
_JUMPS = (sp.Piecewise, sp.Heaviside, sp.sign, sp.floor, sp.ceiling, sp.frac, sp.Min, sp.Max)


@dataclass(frozen=True)
class Candidate:
    """One candidate for an optimum over a second variable, valid for x in (lo, hi).

    ``value`` is the objective there (a function of x, or +-oo), ``arg`` the optimising point.
    A fixed candidate sits at ``loc`` with the function's value ``level`` there; a root candidate
    has ``span = (a, b, formula, var)``: it is at least as good as the formula's objective at every
    location in [a, b] (one-sided values at the ends), so it dominates the fixed candidates there.
    """

    value: sp.Expr
    arg: sp.Expr
    lo: sp.Expr
    hi: sp.Expr
    loc: sp.Expr | None = None
    level: sp.Expr | None = None
    span: tuple | None = None


@lru_cache(maxsize=4096)
def numeric(expr: sp.Expr) -> mpmath.mpf:
    """A real number (or +-oo) at ``DPS`` digits; :class:`NoClosedForm` if it is not one."""
    if expr in (sp.oo, -sp.oo):
        return mpmath.inf if expr == sp.oo else -mpmath.inf
    value = sp.N(expr, DPS)
    if value.free_symbols or value.has(sp.nan, sp.zoo):
        raise NoClosedForm(f"{expr} is not a number")
    re, im = value.as_real_imag()
    if not (re.is_Number and im.is_Number) or abs(im) > 10 ** -(DPS - 5) * (1 + abs(re)):
        raise NoClosedForm(f"{expr} is not a real number")
    with mpmath.workdps(DPS):
        return mpmath.mpf(str(re))


@lru_cache(maxsize=1024)
def one_sided(expr: sp.Expr, x: sp.Symbol, point: sp.Expr, side: str) -> sp.Expr:
    """lim expr as x -> point from ``side`` ('+' or '-'): substitution where finite and continuous, else a limit."""
    if point != sp.oo and not expr.has(*_JUMPS):
        value = expr.subs(x, point)
        if not value.free_symbols and value.is_finite is True:
            return value
    return sp.limit(expr, x, sp.oo) if point == sp.oo else sp.limit(expr, x, point, side)


def sample_point(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """An exact point strictly inside (lo, hi), hi possibly oo."""
    return lo + 1 if hi == sp.oo else (lo + hi) / 2


def interior_roots(expr: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> list[sp.Expr] | str:
    """A finite superset of the zeros of ``expr`` in (lo, hi) (exact), or :data:`IDENTICAL`.

    ``solveset`` first, then the real roots of the numerator when it is a polynomial;
    :class:`NoClosedForm` when neither gives a complete answer.
    """
    if expr == 0:
        return IDENTICAL
    found = _radical_roots(expr, x)
    if found is None:
        found = _set_elements(sp.solveset(expr, x, sp.Interval.open(lo, hi)))
    if found is None:
        found = _polynomial_roots(expr, x)
    if found == IDENTICAL or found is None:
        probes = [sample_point(lo, hi), lo + (sample_point(lo, hi) - lo) / 3]
        if all(abs(numeric(expr.subs(x, p))) < TIE for p in probes) and sp.simplify(expr) == 0:
            return IDENTICAL
        raise NoClosedForm(f"the zeros of {expr} in ({lo}, {hi}) are not known")
    a, b = numeric(lo), numeric(hi)
    inside = []
    for r in found:
        try:
            v = numeric(r)
        except NoClosedForm:
            continue  # not a real number: not a zero in the interval
        if a < v < b:
            inside.append(r)
    return sorted(inside, key=numeric)


def _set_elements(solutions: sp.Set) -> list[sp.Expr] | str | None:
    """The elements of a solveset answer when it is finite (a superset is fine), IDENTICAL, or None."""
    if solutions is sp.S.EmptySet:
        return []
    if isinstance(solutions, sp.FiniteSet):
        return list(solutions)
    if isinstance(solutions, sp.Interval):
        return IDENTICAL
    if isinstance(solutions, (sp.Intersection, sp.Complement)):
        first = solutions.args if isinstance(solutions, sp.Intersection) else solutions.args[:1]
        for part in first:
            got = _set_elements(part)
            if isinstance(got, list):
                return got
        return None
    if isinstance(solutions, sp.Union):
        out: list[sp.Expr] = []
        for part in solutions.args:
            got = _set_elements(part)
            if not isinstance(got, list):
                return None
            out += got
        return out
    return None


def _radical_roots(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr] | None:
    """A superset of the real zeros of an expression with radicals of x: the roots of its unradicalised polynomial."""
    if not any(p.base.has(x) and not p.exp.is_integer for p in expr.atoms(sp.Pow)):
        return None
    try:
        out = unrad(sp.numer(sp.together(expr)), x)
    except (NotImplementedError, ValueError, TypeError, BasePolynomialError):
        return None
    if out is None or out[1]:
        return None
    roots = _polynomial_roots(out[0], x)
    return roots if isinstance(roots, list) else None


def _polynomial_roots(expr: sp.Expr, x: sp.Symbol) -> list[sp.Expr] | str | None:
    """The real roots of the numerator of ``expr`` if it is a nonzero polynomial in x."""
    numerator = sp.numer(sp.together(expr))
    if numerator == 0:
        return IDENTICAL
    if not numerator.is_polynomial(x):
        return None
    try:
        return list(sp.Poly(numerator, x).real_roots())
    except (BasePolynomialError, NotImplementedError, ValueError):
        return None


def envelope(cands: list[Candidate], x: sp.Symbol, sense: str) -> list[tuple[sp.Expr, sp.Expr, Candidate]]:
    """The pointwise ``sense`` ('min' or 'max') of the candidates over x in (0, oo), as (lo, hi, candidate).

    Every candidate's value must be nondecreasing in x. Candidates are compared on each interval
    between their validity ends: dominated ones are dropped, the others split where they cross.
    """
    events = _sorted_unique([sp.Integer(0), sp.oo] + [c.lo for c in cands] + [c.hi for c in cands])
    out: list[tuple[sp.Expr, sp.Expr, Candidate]] = []
    for a, b in zip(events, events[1:], strict=False):
        na, nb = numeric(a), numeric(b)
        active = [c for c in cands if _at_most(numeric(c.lo), na) and _at_most(nb, numeric(c.hi))]
        active = _undominated(active, sense)
        if not active:
            raise NoClosedForm(f"no candidate on ({a}, {b})")
        out += _best_on(active, x, a, b, sense)
    return _merged(out)


def _sorted_unique(points: list[sp.Expr]) -> list[sp.Expr]:
    out: list[tuple[mpmath.mpf, sp.Expr]] = []
    for p in sorted(points, key=lambda e: (numeric(e), sp.count_ops(e))):
        v = numeric(p)
        if not out or not _close(out[-1][0], v):
            out.append((v, p))
    return [p for _, p in out]


def _close(u: mpmath.mpf, v: mpmath.mpf) -> bool:
    if mpmath.isinf(u) or mpmath.isinf(v):
        return u == v
    return abs(u - v) <= TIE * (1 + abs(u) + abs(v))


def _at_most(u: mpmath.mpf, v: mpmath.mpf) -> bool:
    return u <= v or _close(u, v)


def _better(u: mpmath.mpf, v: mpmath.mpf, sense: str) -> bool:
    """u strictly better than v (beyond a tie)."""
    if _close(u, v):
        return False
    return u < v if sense == "min" else u > v


def _dominates(root: Candidate, fixed: Candidate, sense: str) -> bool:
    """``root`` is at least as good as ``fixed`` wherever both are valid (by quasi-convexity of the objective)."""
    if root.span is None or fixed.loc is None or fixed.level is None:
        return False
    a, b, formula, var = root.span
    loc, na, nb = numeric(fixed.loc), numeric(a), numeric(b)
    if not (na <= loc <= nb or _close(loc, na) or _close(loc, nb)):
        return False
    side = "+" if _close(loc, na) else "-"
    there = numeric(one_sided(formula, var, fixed.loc, side))
    level = numeric(fixed.level)
    if _close(level, there):
        return True
    return level > there if sense == "min" else level < there


def _undominated(active: list[Candidate], sense: str) -> list[Candidate]:
    return [c for c in active if not any(r is not c and _dominates(r, c, sense) for r in active)]


def _value_at(c: Candidate, x: sp.Symbol, point: sp.Expr) -> mpmath.mpf:
    return numeric(c.value if c.value in (sp.oo, -sp.oo) else c.value.subs(x, point))


def _best_on(active: list[Candidate], x: sp.Symbol, lo: sp.Expr, hi: sp.Expr,
             sense: str) -> list[tuple[sp.Expr, sp.Expr, Candidate]]:
    """Split (lo, hi) where the best candidate at a sample point crosses another; recurse without it where beaten."""
    if len(active) == 1:
        return [(lo, hi, active[0])]
    q = sample_point(lo, hi)
    values = [_value_at(c, x, q) for c in active]
    best = active[max(range(len(active)), key=lambda i: values[i] if sense == "max" else -values[i])]
    cuts: list[sp.Expr] = []
    for c in active:
        if c is not best:
            cuts += _crossings(best, c, x, lo, hi)
    out: list[tuple[sp.Expr, sp.Expr, Candidate]] = []
    bounds = [lo, *_sorted_unique(cuts), hi] if cuts else [lo, hi]
    for a, b in zip(bounds, bounds[1:], strict=False):
        p = sample_point(a, b)
        vb = _value_at(best, x, p)
        if any(_better(_value_at(c, x, p), vb, sense) for c in active if c is not best):
            out += _best_on([c for c in active if c is not best], x, a, b, sense)
        else:
            out.append((a, b, best))
    return out


def _crossings(u: Candidate, v: Candidate, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> list[sp.Expr]:
    """Points in (lo, hi) where u - v may change sign: none if they are proved ordered, else the exact zeros."""
    if u.value in (sp.oo, -sp.oo) or v.value in (sp.oo, -sp.oo) or _ordered(u.value, v.value, x, lo, hi):
        return []
    roots = interior_roots(u.value - v.value, x, lo, hi)
    return [] if roots == IDENTICAL else list(roots)


def _grid(lo: sp.Expr, hi: sp.Expr) -> list[sp.Expr]:
    if hi == sp.oo:
        step = lo if numeric(lo) > 1 / 16 else sp.Rational(1, 16)
        return [lo] + [lo + step * sp.Integer(2) ** k for k in range(GRID)] + [sp.oo]
    return [lo + (hi - lo) * sp.Rational(k, GRID) for k in range(GRID + 1)]


def _ordered(u: sp.Expr, v: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> bool:
    """u <= v or v <= u on all of (lo, hi), proved from monotonicity: on [p, p'], u(p') <= v(p) suffices.

    The lower one is needed at every point but ``lo``, the upper one at every point but ``hi``
    (one-sided limits at the ends are taken only when needed).
    """
    grid = _grid(lo, hi)
    try:
        inner_u = [numeric(u.subs(x, p)) for p in grid[1:-1]]
        inner_v = [numeric(v.subs(x, p)) for p in grid[1:-1]]
        for low, high, lows, highs in ((u, v, inner_u, inner_v), (v, u, inner_v, inner_u)):
            if not all(lows[k + 1] <= highs[k] for k in range(len(lows) - 1)):
                continue
            if lows[0] <= _end_value(high, x, lo, "+") and _end_value(low, x, hi, "-") <= highs[-1]:
                return True
    except (NoClosedForm, NotImplementedError, ValueError, TypeError):
        return False
    return False


def _end_value(e: sp.Expr, x: sp.Symbol, p: sp.Expr, side: str) -> mpmath.mpf:
    return numeric(e if not e.has(x) else one_sided(e, x, p, side))


def _merged(pieces: list[tuple[sp.Expr, sp.Expr, Candidate]]) -> list[tuple[sp.Expr, sp.Expr, Candidate]]:
    out: list[tuple[sp.Expr, sp.Expr, Candidate]] = []
    for lo, hi, c in pieces:
        if out and (out[-1][2] is c or (out[-1][2].value == c.value and out[-1][2].arg == c.arg)):
            out[-1] = (out[-1][0], hi, out[-1][2])
        else:
            out.append((lo, hi, c))
    return out


def with_ends(pieces: list[tuple[sp.Expr, sp.Expr, sp.Expr]], x: sp.Symbol, hold: str) -> list[tuple[sp.Expr, sp.Set]]:
    """Branches for :func:`from_branches` from (lo, hi, expr) pieces of a one-sided continuous function.

    ``hold='right'``: the value at each inner boundary is the left limit (lower semicontinuous and
    nondecreasing, as f); ``'left'``: the right limit (as Omega). Where the piece that should hold a
    boundary is undefined there (a pole), the neighbour holds it if it has that value, else a point branch.
    """
    own_side, natural, swapped = ("-", "prev", "next") if hold == "right" else ("+", "next", "prev")
    ends = [hi for _, hi, _ in pieces[:-1]]
    holder: list[str] = []  # per inner boundary: the piece that holds it, 'prev', 'next' or 'point'
    extra: dict[int, tuple[sp.Expr, sp.Set]] = {}
    for i, b in enumerate(ends):
        mine, other = (pieces[i][2], pieces[i + 1][2]) if natural == "prev" else (pieces[i + 1][2], pieces[i][2])
        target = one_sided(mine, x, b, own_side)
        if _takes(mine, x, b, target):
            holder.append(natural)
        elif _takes(other, x, b, target):
            holder.append(swapped)
        else:
            holder.append("point")
            extra[i] = (target, sp.FiniteSet(b))
    out: list[tuple[sp.Expr, sp.Set]] = []
    for i, (lo, hi, e) in enumerate(pieces):
        left_open = (i == 0 and hold == "right") or (i > 0 and holder[i - 1] != "next")
        right_open = hi == sp.oo or (i < len(ends) and holder[i] != "prev")
        out.append((e, sp.Interval(lo, hi, left_open, right_open)))
        if i in extra:
            out.append(extra[i])
    return out


def _takes(expr: sp.Expr, x: sp.Symbol, point: sp.Expr, target: sp.Expr) -> bool:
    """expr, evaluated at point, is the number ``target`` (+oo only as the constant oo)."""
    if target in (sp.oo, -sp.oo):
        return expr == target
    value = expr.subs(x, point)
    if value.free_symbols or value.is_finite is not True:
        return False
    try:
        return _close(numeric(value), numeric(target))
    except NoClosedForm:
        return False
