"""The six properties of an eta-trick penalty (docs/properties.md), each a :class:`Verdict`.

    monotone      eta_hat nondecreasing on (0, oo)
    subquadratic  g(s) = 2 Omega(sqrt s) concave on s > 0   (g'(s) = 1/eta_hat(sqrt s))
    sparsity      Omega'(0+) > 0
    unbiased      Omega'(w) -> 0 as w -> oo
    bounded       Omega(oo) < oo
    continuity    w + lam Omega'(w) attains its minimum over w >= 0 at 0+ (Fan & Li 2001)

A verdict is "proved" (symbolic, under a time budget), "supported" (checked
on a stated grid at a stated precision), "refuted" (with a counterexample)
or "unknown". Symbolic steps are taken from a :class:`Symbolic` facade so
that each one runs bounded in time.
"""
from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
import sympy as sp

from .piecewise import branches
from .rules import s, w
from .verdict import Verdict, Witness, witness

NAMES = ("monotone", "subquadratic", "sparsity", "unbiased", "bounded", "continuity")
GRID = np.geomspace(1e-8, 1e8, 1601)
GRID_TEXT = "1601 log-spaced points in [1e-8, 1e8], float64"


def _mp_compare(fn: Callable, a: float, b: float, dps: int = 30) -> tuple[mpmath.mpf, mpmath.mpf]:
    with mpmath.workdps(dps):
        return fn(mpmath.mpf(a)), fn(mpmath.mpf(b))


def _fmt(x: object) -> str:
    return mpmath.nstr(x, 8) if isinstance(x, mpmath.mpf) else f"{float(x):.6g}"


def grid_for(expr_pieces: list[tuple[sp.Expr, sp.Set]] | None) -> np.ndarray:
    """The global grid plus points hugging each breakpoint of a piecewise rule."""
    extra = []
    for _, where in expr_pieces or []:
        for edge in (where.inf, where.sup):
            if edge not in (0, sp.oo):
                e = float(edge)
                extra += [e * (1 - 1e-6), e * (1 - 1e-3), e * (1 + 1e-3), e * (1 + 1e-6)]
                extra += list(np.linspace(e * 0.01, e, 60)[1:-1])
    return np.unique(np.concatenate([GRID, np.asarray(extra, dtype=float)]))


def nondecreasing(name: str, fn_np: Callable, fn_mp: Callable, proof: str | None,
                  grid: np.ndarray) -> Verdict:
    """'name' nondecreasing on (0, oo): symbolic proof, else grid scan + mpmath counterexample."""
    if proof:
        return Verdict("proved", "symbolic", proof)
    vals = fn_np(grid)
    negative = np.nonzero(vals < 0)[0]
    if len(negative):
        i = negative[0]
        return Verdict("refuted", "numeric",
                       f"{name}({_fmt(grid[i])}) = {_fmt(vals[i])} < 0 (float64): no keep probability gives it",
                       witness([_fmt(grid[i])], [_fmt(vals[i])], "float64"))
    with np.errstate(invalid="ignore"):
        drops = np.nonzero(np.diff(vals) < -1e-12 * np.maximum(np.abs(vals[:-1]), 1e-300))[0]
    for i in drops:
        a, b = grid[i], grid[i + 1]
        va, vb = _mp_compare(fn_mp, a, b)
        if va > vb:
            return Verdict("refuted", "numeric",
                           f"{name}({_fmt(a)}) = {_fmt(va)} > {name}({_fmt(b)}) = {_fmt(vb)} (mpmath, 30 digits)",
                           witness([_fmt(a), _fmt(b)], [_fmt(va), _fmt(vb)], "mpmath, 30 digits"))
    if np.isnan(vals).all():
        return Verdict("unknown", "numeric", f"{name} could not be evaluated on the grid")
    return Verdict("supported", "numeric", f"{name} nondecreasing on {GRID_TEXT} (+ breakpoints)",
                   Witness.on_grid(GRID_TEXT + " (+ breakpoints)"))


def sign_proof(derivative: sp.Expr, x: sp.Symbol, where: sp.Set) -> bool:
    """True if ``derivative >= 0`` on ``where`` is proved (assumptions, else solveset).

    A bounded interval (a, b) is mapped onto (0, oo) by x = a + (b - a) y/(1 + y),
    y > 0, so that the positivity of y carries the domain into the assumptions.
    """
    y = sp.Symbol("y", positive=True)
    lo, hi = where.inf, where.sup
    if hi == sp.oo:
        sub = lo + y
    else:
        sub = lo + (hi - lo) * y / (1 + y)
    expr = derivative.subs(x, sub) if (lo != 0 or hi != sp.oo) else derivative
    for form in (expr, sp.factor(expr), sp.together(expr)):
        if form.is_nonnegative:
            return True
    try:  # the inequality derivative < 0 has no solution on the domain
        return sp.solveset(derivative < 0, x, domain=where) is sp.EmptySet
    except (NotImplementedError, ValueError, TypeError):
        return False


def monotone_proof(eta_hat: sp.Expr) -> str | None:
    """A proof that eta_hat is nondecreasing, or None (pure CAS; run bounded)."""
    parts = branches(eta_hat, w)
    for e, where in parts:
        if e in (sp.oo, sp.zoo):
            continue
        if not sign_proof(e, w, where) or not sign_proof(sp.diff(e, w), w, where):
            return None  # eta_hat >= 0 too: a pole (w/(1 - w/2)) has a positive derivative
    for (e1, d1), (e2, _) in zip(parts, parts[1:], strict=False):  # no downward jump at breakpoints
        left = sp.limit(e1, w, d1.sup, "-")
        right = sp.oo if e2 in (sp.oo, sp.zoo) else sp.limit(e2, w, d1.sup, "+")
        if not (right == sp.oo or (right - left).is_nonnegative):
            return None
    names = ", ".join(f"eta_hat = {e} >= 0 and d/dw [{e}] >= 0 on {where}"
                      for e, where in parts if e not in (sp.oo, sp.zoo))
    jumps = " and no downward jump at the breakpoints" if len(parts) > 1 else ""
    return f"{names}{jumps} (SymPy assumptions, w > 0)"


def concavity_proof(omega: sp.Expr) -> tuple[str | None, bool]:
    """Prove g(s) = 2 Omega(sqrt s) concave and nondecreasing; also report if g is affine.

    Returns (proof or None, strictly_concave_somewhere).
    """
    parts = branches(omega, w)
    strict = False
    for e, where in parts:
        g = 2 * e.subs(w, sp.sqrt(s))
        g1, g2 = sp.diff(g, s), sp.diff(g, s, 2)
        dom = sp.Interval(where.inf**2, where.sup**2 if where.sup != sp.oo else sp.oo)
        if not sign_proof(-g2, s, dom) or not sign_proof(g1, s, dom):
            return None, strict
        strict = strict or sp.simplify(g2) != 0
    for (e1, d1), (e2, _) in zip(parts, parts[1:], strict=False):  # g' may only jump down
        b = d1.sup
        left = sp.limit(sp.diff(e1, w) / w, w, b, "-")
        right = sp.limit(sp.diff(e2, w) / w, w, b, "+")
        if not (left - right).is_nonnegative:
            return None, strict
    return "g''(s) <= 0 and g'(s) >= 0 on each piece, g' nonincreasing across breakpoints (SymPy assumptions)", strict


def concavity_counterexample(omega_np: Callable, omega_mp: Callable, grid: np.ndarray) -> Verdict | None:
    """A midpoint-concavity violation of g(s) = 2 Omega(sqrt s), confirmed in mpmath."""
    sgrid = grid**2
    with np.errstate(all="ignore"):  # inf - inf where Omega overflows: no counterexample there
        g = 2 * omega_np(np.sqrt(sgrid))
        mid = 2 * omega_np(np.sqrt((sgrid[:-2] + sgrid[2:]) / 2))
        bad = np.nonzero(mid < (g[:-2] + g[2:]) / 2 - 1e-9 * np.abs(mid))[0]
    for i in bad:
        s0, s1 = sgrid[i], sgrid[i + 2]
        with mpmath.workdps(30):
            a, b = mpmath.mpf(s0), mpmath.mpf(s1)
            gm = 2 * omega_mp(mpmath.sqrt((a + b) / 2))
            chord = omega_mp(mpmath.sqrt(a)) + omega_mp(mpmath.sqrt(b))
            if gm < chord:
                return Verdict("refuted", "numeric",
                               f"g(s) = 2 Omega(sqrt s) is not concave: g((s0+s1)/2) = {_fmt(gm)} < (g(s0)+g(s1))/2 "
                               f"= {_fmt(chord)} at s0 = {_fmt(a)}, s1 = {_fmt(b)} (mpmath, 30 digits)",
                               witness([_fmt(a), _fmt(b)], [_fmt(gm), _fmt(chord)], "mpmath, 30 digits"))
    return None


def limit_verdict(value: sp.Expr | None, holds: Callable[[sp.Expr], bool], what: str) -> Verdict | None:
    """A proved/refuted verdict from an exact limit, or None if the limit is unknown.

    An oscillating limit (AccumBounds [lo, hi]) refutes when the property fails at
    both ends and the bounds exclude 0 (so no subsequence can satisfy it).
    """
    if isinstance(value, sp.AccumBounds):
        lo, hi = value.min, value.max
        if not holds(lo) and not holds(hi) and (lo > 0 or hi < 0):
            return Verdict("refuted", "symbolic", f"{what} oscillates in [{lo}, {hi}] (exact limit bounds)")
        return None
    if value is None or value.has(sp.nan, sp.Limit):
        return None
    return Verdict("proved" if holds(value) else "refuted", "symbolic", f"{what} = {value} (exact limit)")


def numeric_limit(fn: Callable, toward: str) -> tuple[float, float]:
    """Values of fn at 1e-12, 1e-8 (toward 0) or 1e8, 1e12 (toward oo)."""
    pts = np.array([1e-12, 1e-8]) if toward == "0" else np.array([1e8, 1e12])
    v = fn(pts)
    return float(v[0]), float(v[1])
