"""Certification: a closed form is called exact only after it agrees with its definition at 30 digits.

Each check evaluates the claimed closed form and an independent reference in
mpmath (``DPS`` digits) on a log grid of [1e-8, 1e8] plus every breakpoint:

    Omega(w)  = integral_0^w t/eta_hat(t) dt                    (rule given as eta_hat, p, q, r or sigma^2)
    Omega'(w) = d/dw Omega(w)  (central difference, step 1e-20 w, 50 more digits) (penalty given)
    Omega(w)  = 1/2 [w^2/eta_hat(w) + f(eta_hat(w))] <= 1/2 [w^2/eta + f(eta)] for every eta on a grid
              (eta up to 1e32, the eta -> oo candidate, and f's breakpoints)   (dual given)
    f(eta)    = 2 Omega(w) - w^2/eta at eta = eta_hat(w); f(eta) >= 2 Omega(w) - w^2/eta for every w on a
              grid, and f(eta) <= its largest value found (grid, breakpoints, golden section in log w; to 1e-12)
              (f = +oo only where 2 Omega(w) - w^2/eta grows past 1e6 on the grid)   (f derived)

A point that disagrees at 30 digits is re-evaluated at 60 before it counts
(cancellation in the closed form, not in the mathematics). Every check
returns a :class:`Certificate`: passed, or the first failing point with both
values. Checks are pure functions of SymPy expressions, so they can run in a
bounded child process.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import mpmath
import numpy as np
import sympy as sp

from .parsing import check_expression
from .piecewise import branches
from .rules import eta, w

DPS = 30
"""Digits of the certification."""
TOL = 1e-15
"""Largest relative disagreement accepted (absolute below 1e-40)."""
LO, HI = 1e-8, 1e8
W_GRID = np.geomspace(LO, HI, 33)
ETA_GRID = np.concatenate([np.geomspace(LO, HI, 49), [1e12, 1e16, 1e24, 1e32]])
BOUND_W = np.geomspace(1e-30, 1e12, 85)
"""w grid of the upper-bound check of f (its sup runs over all w)."""
BOUND_ETA = np.geomspace(LO, HI, 13)
UNBOUNDED = 1e6
SUP_TOL = 1e-12
"""f(eta) may exceed the largest 2 Omega(w) - w^2/eta found (grid + golden section) by this much, relative."""
GOLDEN_STEPS = 60
_MP_EXTRA = {"Heaviside": lambda x, h=0.5: mpmath.mpf(h) if x == 0 else mpmath.mpf(1 if x > 0 else 0),
             "DiracDelta": lambda x: mpmath.mpf(0)}


@dataclass(frozen=True)
class Certificate:
    """The outcome of one check: ``ok``, the number of points, the largest relative error, and the first failure."""

    ok: bool
    what: str
    points: int
    max_error: float
    failure: str = ""

    @property
    def summary(self) -> str:
        if self.ok:
            return (f"certified: agrees with {self.what} at {DPS} digits to {self.max_error:.1e} relative "
                    f"on {self.points} points in [{LO:g}, {HI:g}] and breakpoints")
        return f"failed certification against {self.what}: {self.failure}"


def mp_function(expr: sp.Expr, x: sp.Symbol) -> Callable[[mpmath.mpf], mpmath.mpf]:
    """``expr(x)`` evaluated by mpmath (Piecewise, Min/Max, Heaviside included)."""
    check_expression(expr, strict=False)
    fn = sp.lambdify(x, expr, modules=[_MP_EXTRA, "mpmath"])

    def value(v: mpmath.mpf) -> mpmath.mpf:
        out = fn(v)
        if isinstance(out, mpmath.mpc):
            if abs(out.imag) > mpmath.mpf(10) ** (-mpmath.mp.dps + 5) * (1 + abs(out.real)):
                raise ValueError(f"complex value {mpmath.nstr(out, 8)}")
            out = out.real
        return mpmath.mpf(out)

    return value


def breakpoints(expr: sp.Expr | None, x: sp.Symbol) -> list[float]:
    """Finite positive boundaries of the pieces of ``expr`` (Min, Max, Abs, Heaviside as Piecewise)."""
    if expr is None:
        return []
    try:
        rewritten = expr.rewrite(sp.Piecewise) if expr.has(sp.Min, sp.Max, sp.Abs, sp.Heaviside, sp.sign) else expr
        parts = branches(rewritten, x)
    except Exception:  # noqa: BLE001 - no breakpoints known: the grid alone
        return []
    out = set()
    for _, where in parts:
        for end in (where.inf, where.sup):
            if end.is_number and end.is_finite and end > 0:
                out.add(float(end))
    return sorted(out)


def _near(points: Iterable[float], rel: float = 1e-6) -> list[float]:
    """Each point and its neighbours at relative distance ``rel`` (both one-sided values of a kink)."""
    return [q for p in points for q in (p * (1 - rel), p, p * (1 + rel))]


def _rel(a: mpmath.mpf, b: mpmath.mpf, scale: mpmath.mpf = 0) -> mpmath.mpf:
    if mpmath.isnan(a) or mpmath.isnan(b):
        return mpmath.inf
    if mpmath.isinf(a) or mpmath.isinf(b):
        return mpmath.mpf(0) if a == b else mpmath.inf
    return abs(a - b) / max(abs(b), abs(scale), mpmath.mpf(10) ** -40)


def _show(v: mpmath.mpf) -> str:
    return mpmath.nstr(v, 20)


class _Tally:
    """Points checked and the largest error; the first failure stops the check."""

    def __init__(self, what: str) -> None:
        self.what, self.points, self.worst = what, 0, 0.0

    def equal(self, claimed: Callable[[], mpmath.mpf], reference: Callable[[], mpmath.mpf], where: str,
              scale: Callable[[], mpmath.mpf] | None = None) -> str:
        """'' if claimed == reference to TOL relative to max(|reference|, scale) (re-checked at twice the
        digits), else the failure. ``scale``: the size of the terms a reference cancels."""
        size = scale or (lambda: mpmath.mpf(0))
        err = _rel(claimed(), reference(), size())
        if err > TOL:
            with mpmath.workdps(2 * DPS):
                c, r = claimed(), reference()
                err = _rel(c, r, size())
                if err > TOL:
                    return f"at {where}: {_show(c)} instead of {_show(r)}"
        self.points += 1
        self.worst = max(self.worst, float(err))
        return ""

    def at_most(self, claimed: Callable[[], mpmath.mpf], bound: Callable[[], mpmath.mpf], where: str,
                scale: Callable[[], mpmath.mpf] | None = None) -> str:
        """'' if claimed <= bound (to TOL relative to max(|bound|, scale), re-checked at twice the digits)."""
        size = scale or (lambda: mpmath.mpf(0))
        for dps in (DPS, 2 * DPS):
            with mpmath.workdps(dps):
                c, b = claimed(), bound()
                if mpmath.isnan(c) or mpmath.isnan(b):
                    return f"at {where}: not a number"
                if c <= b + TOL * max(abs(b), abs(size())) + mpmath.mpf(10) ** -40:
                    return ""
        return f"at {where}: {_show(c)} exceeds {_show(b)}"

    def result(self, failure: str) -> Certificate:
        return Certificate(not failure, self.what, self.points, self.worst, failure)


def _checked(what: str, body: Callable[[_Tally], str]) -> Certificate:
    tally = _Tally(what)
    with mpmath.workdps(DPS):
        try:
            failure = body(tally)
        except (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError) as exc:
            failure = f"it does not evaluate in mpmath ({type(exc).__name__}: {exc})"
    return tally.result(failure)


def omega_from_integral(omega: sp.Expr, eta_hat: sp.Expr) -> Certificate:
    """Omega(w) = integral_0^w t/eta_hat(t) dt on the grid (cumulative tanh-sinh, split at breakpoints).

    From the first interval on which the quadrature does not converge (its error estimate above
    10**(5 - DPS) relative: an oscillating integrand such as 2 t (1 + sin(t)**2) over hundreds of periods),
    the remaining points are checked by the derivative, Omega'(w) = w/eta_hat(w), and the breakpoints
    beyond by continuity, Omega(b-) = Omega(b+)."""
    om, g = mp_function(omega, w), mp_function(w / eta_hat, w)
    cuts = sorted(set(breakpoints(eta_hat, w)) | set(breakpoints(omega, w)))
    points = sorted(set(W_GRID.tolist()) | {c for c in _near(cuts) if LO <= c <= HI})

    def body(t: _Tally) -> str:
        total, a = mpmath.mpf(0), mpmath.mpf(0)
        for i, x in enumerate(points):
            b = mpmath.mpf(x)
            with mpmath.workdps(DPS + 10):
                inner = [a] + [mpmath.mpf(c) for c in cuts if a < c < b] + [b]
                if a == 0:  # an integrable singularity at 0 (w**-3/4): geometric panels down to 2**-60 b
                    inner = [mpmath.mpf(0)] + [inner[1] * mpmath.mpf(2) ** -k for k in range(60, 0, -1)] + inner[1:]
                step, err = mpmath.quad(g, inner, error=True)
                if err > mpmath.mpf(10) ** (5 - DPS) * (abs(total + step) + mpmath.mpf(10) ** -40):
                    t.what += f" (by its derivative and continuity from w = {float(a):.6g}, where the quadrature " \
                              "does not converge)"
                    return _by_derivative(t, om, g, points[i:], [c for c in cuts if c > a])
                total += step
            failure = t.equal(lambda b=b: om(b), lambda v=total: v, f"w = {x:.17g}")
            if failure:
                return failure
            a = b
        return ""

    return _checked("the integral of w/eta_hat", body)


def _by_derivative(t: _Tally, om: Callable, g: Callable, points: list[float], cuts: list[float]) -> str:
    """Omega'(x) = g(x) at the points away from the cuts (central difference at 50 more digits), and
    Omega continuous at each cut (one-sided values 1e-25 relative apart)."""
    for x in points:
        if any(abs(x - c) <= 1e-4 * c for c in cuts):
            continue

        def slope(x: float = x) -> mpmath.mpf:
            with mpmath.workdps(mpmath.mp.dps + 50):
                h = mpmath.mpf(x) * mpmath.mpf(10) ** -20
                return (om(mpmath.mpf(x) + h) - om(mpmath.mpf(x) - h)) / (2 * h)

        failure = t.equal(slope, lambda x=x: g(mpmath.mpf(x)), f"w = {x:.17g} (Omega' against w/eta_hat)")
        if failure:
            return failure
    for c in cuts:
        def side(sign: int, c: float = c) -> mpmath.mpf:
            with mpmath.workdps(mpmath.mp.dps + 30):
                return om(mpmath.mpf(c) * (1 + sign * mpmath.mpf(10) ** -25))

        failure = t.equal(lambda: side(-1), lambda: side(1), f"w = {c:.17g} (Omega continuous)")
        if failure:
            return failure
    return ""


def derivative(omega_prime: sp.Expr, omega: sp.Expr) -> Certificate:
    """Omega'(w) = d/dw Omega(w) (central difference of the mpmath Omega, step 1e-20 w), away from kinks."""
    om, op = mp_function(omega, w), mp_function(omega_prime, w)
    cuts = breakpoints(omega, w) + breakpoints(omega_prime, w)
    points = [x for x in W_GRID if all(abs(x - c) > 1e-4 * c for c in cuts)]
    points += [c * s for c in cuts for s in (1 - 1e-3, 1 + 1e-3)]

    def body(t: _Tally) -> str:
        for x in points:
            def ref(x: float = x) -> mpmath.mpf:
                with mpmath.workdps(mpmath.mp.dps + 50):
                    h = mpmath.mpf(x) * mpmath.mpf(10) ** -20
                    return (om(mpmath.mpf(x) + h) - om(mpmath.mpf(x) - h)) / (2 * h)
            failure = t.equal(lambda x=x: op(mpmath.mpf(x)), ref, f"w = {x:.17g}")
            if failure:
                return failure
        return ""

    return _checked("the derivative of Omega", body)


def eta_hat_from_derivative(eta_hat: sp.Expr, omega: sp.Expr) -> Certificate:
    """w/eta_hat(w) = Omega'(w) (so eta_hat = oo where Omega is flat)."""
    return replace(derivative(w / eta_hat, omega), what="eta_hat = w/Omega'(w)")


def omega_from_dual(omega: sp.Expr, eta_hat: sp.Expr, f: sp.Expr) -> Certificate:
    """Omega(w) is attained at eta_hat(w) and lies below 1/2 [w^2/eta + f(eta)] for every eta on the grid."""
    om, eh, fv = mp_function(omega, w), mp_function(eta_hat, w), mp_function(f, eta)
    etas = sorted(set(ETA_GRID.tolist()) | set(_near(breakpoints(f, eta))))
    points = sorted(set(W_GRID.tolist()) | {c for c in _near(breakpoints(omega, w) + breakpoints(eta_hat, w))
                                            if LO <= c <= HI})

    def objective(x: float, e: mpmath.mpf) -> mpmath.mpf:
        if mpmath.isinf(e):
            return fv(mpmath.mpf(10) ** 60) / 2
        return (mpmath.mpf(x) ** 2 / e + fv(e)) / 2

    def lsc_objective(x: float, e: mpmath.mpf) -> mpmath.mpf:
        """The objective with f's lower semicontinuous value at e (an infimum at a jump of f is not attained)."""
        if mpmath.isinf(e):
            return objective(x, e)
        near = mpmath.mpf(10) ** (5 - mpmath.mp.dps)
        return min(objective(x, e * s) for s in (1 - near, 1, 1 + near))

    def body(t: _Tally) -> str:
        for x in points:
            failure = t.equal(lambda x=x: om(mpmath.mpf(x)), lambda x=x: lsc_objective(x, eh(mpmath.mpf(x))),
                              f"w = {x:.17g} (Omega against the objective at eta_hat)")
            if failure:
                return failure
            for e in etas:
                failure = t.at_most(lambda x=x: om(mpmath.mpf(x)), lambda x=x, e=e: objective(x, mpmath.mpf(e)),
                                    f"w = {x:.17g}, eta = {e:.17g} (a smaller objective than at eta_hat)")
                if failure:
                    return failure
        return ""

    return _checked("1/2 inf_eta [w^2/eta + f(eta)]", body)


def _sup_in_log_w(g: Callable[[float], mpmath.mpf], ws: list[float]) -> mpmath.mpf:
    """max of g over the grid ``ws``, refined by golden section in log w around the best point."""
    values = [g(x) for x in ws]
    i = max(range(len(ws)), key=lambda k: values[k])
    a = mpmath.log(ws[max(i - 1, 0)])
    b = mpmath.log(ws[min(i + 1, len(ws) - 1)])
    r = (mpmath.sqrt(5) - 1) / 2
    c, e = b - r * (b - a), a + r * (b - a)
    gc, ge = g(mpmath.exp(c)), g(mpmath.exp(e))
    for _ in range(GOLDEN_STEPS):
        if gc >= ge:
            b, e, ge = e, c, gc
            c = b - r * (b - a)
            gc = g(mpmath.exp(c))
        else:
            a, c, gc = c, e, ge
            e = a + r * (b - a)
            ge = g(mpmath.exp(e))
    return max(values[i], gc, ge, mpmath.mpf(0))  # w -> 0 gives 0


def dual_from_omega(f: sp.Expr, omega: sp.Expr, eta_hat: sp.Expr) -> Certificate:
    """f(eta_hat(w)) = 2 Omega(w) - w^2/eta_hat(w), and f(eta) >= 2 Omega(w) - w^2/eta for every (w, eta) on grids."""
    om, eh, fv = mp_function(omega, w), mp_function(eta_hat, w), mp_function(f, eta)
    ws = sorted(set(BOUND_W.tolist()) | set(_near(breakpoints(omega, w) + breakpoints(eta_hat, w))))
    etas = sorted(set(BOUND_ETA.tolist()) | set(_near(breakpoints(f, eta))))

    def objective(x: float, e: mpmath.mpf) -> mpmath.mpf:
        return 2 * om(mpmath.mpf(x)) - mpmath.mpf(x) ** 2 / e

    def terms(x: float, e: mpmath.mpf) -> mpmath.mpf:
        """The size of the two terms the objective cancels."""
        return 2 * abs(om(mpmath.mpf(x))) + mpmath.mpf(x) ** 2 / e

    def body(t: _Tally) -> str:
        for x in W_GRID:
            e = eh(mpmath.mpf(x))
            if mpmath.isinf(e) or not e > 0:
                continue
            failure = t.equal(lambda e=e: fv(e), lambda x=x, e=e: objective(x, e),
                              f"eta = eta_hat({x:.17g}) = {_show(e)}", lambda x=x, e=e: terms(x, e))
            if failure:
                return failure
        for e in etas:
            claimed = fv(mpmath.mpf(e))
            if mpmath.isfinite(claimed):
                best = _sup_in_log_w(lambda x, e=e: objective(x, mpmath.mpf(e)), ws)
                if claimed > best + SUP_TOL * (1 + abs(best)):
                    return (f"at eta = {e:.17g}: {_show(claimed)}, above the largest 2 Omega(w) - w^2/eta found, "
                            f"{_show(best)}")
            if mpmath.isinf(claimed) and claimed > 0:
                top = objective(ws[-1], mpmath.mpf(e))
                if not top > UNBOUNDED:
                    return f"at eta = {e:.17g}: +oo, but 2 Omega(w) - w^2/eta is only {_show(top)} at w = {ws[-1]:g}"
                continue
            for x in ws:
                failure = t.at_most(lambda x=x, e=e: objective(x, mpmath.mpf(e)), lambda e=e: fv(mpmath.mpf(e)),
                                    f"eta = {e:.17g}, w = {x:.17g} (2 Omega(w) - w^2/eta above f)",
                                    lambda x=x, e=e: terms(x, mpmath.mpf(e)))
                if failure:
                    return failure
        return ""

    return _checked("sup_w [2 Omega(w) - w^2/eta]", body)
