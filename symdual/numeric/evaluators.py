"""Evaluators (the ``Evaluator`` protocol of :mod:`symdual.record`): lambdified
closed forms, quadrature of Omega', and pieces of a numeric eta-trick engine.

Every evaluator maps an array of weights (or etas) to a float64 array,
element by element: |w| is used for negative w, NaN stays NaN, w = 0 and
w = +-inf take the symbolic limits, float16/32 input is accepted.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from .. import deadline
from ..bounded import bounded
from ..parsing import check_expression
from .stable import mpmath_function, numpy_function

Array = np.ndarray
FALLBACK_DPS = 30
"""Digits (plus log10 x) of the mpmath recomputation of the points where the float64 path is not finite."""
FLOAT_TOL = 1e-15
"""A closed form whose float64 path is this close to mpmath on (1e-12, 0.1) needs no series at 0+."""
_MP_MODULES = ["mpmath", {"Heaviside": lambda x, h=0.5: mpmath.mpf(h) if x == 0 else (1 if x > 0 else 0)}]


RECOMPUTE_TIMEOUT = 30.0
"""Seconds for recomputing float64 values in mpmath (in a bounded child process)."""
MAX_DPS = 1280
"""Most digits the adaptive mpmath evaluation doubles up to."""
INTERPOLATE_ABOVE = 2000
"""Above this many points in the intervals of lost significance, they are interpolated (see ``_interpolate``)."""
GUARD_TOL = 1e-14
"""A float64 value further than this (relative) from mpmath at a probe point is a loss of significance."""
GUARD_PROBES = np.concatenate([[1e-300, 1e-200, 1e-100, 1e-50, 1e-30, 1e-20, 1e-16], 10.0 ** (np.arange(-48, 49) / 4),
                               [1e16, 1e20, 1e30, 1e50, 1e100, 1e200, 1e300]])
"""Where the float64 path is compared with mpmath: 4 points a decade on [1e-12, 1e12], sparser out to 1e+-300."""
GUARD_TIMEOUT = 5.0
"""Seconds for the probe of :data:`GUARD_PROBES` (in a bounded child process); the probes of [1e-12, 1e12] run
first, and what was probed when 80% of it is spent counts (an mpmath hyper at -1e300 can take minutes)."""
_MP_ERRORS = (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError, mpmath.libmp.NoConvergence)


def as_magnitudes(x: object) -> Array:
    """|x| as a float64 array (any float dtype or Python number accepted)."""
    return np.abs(np.asarray(x, dtype=np.float64))


@dataclass
class ClosedForm:
    """Vectorised evaluation of a closed form ``expr(x)`` on x >= 0.

    ``at_zero`` and ``at_inf`` are the exact limits, used at x = 0 and x = oo
    (where the formula itself may read 0/0 or inf*0). The float64 path is the
    stable rewrite of :func:`symdual.numeric.stable.stable_form`. Two guards keep
    a finite true value from becoming inf, NaN or a number with lost digits:

    * the points where the float64 path is not finite are recomputed in mpmath
      (an overflow inside the formula; where mpmath cannot evaluate either, a
      float64 +-inf stands, e.g. c/0 where a keep probability is exactly 1);
    * loss of significance: on first use the float64 path is compared with mpmath
      at :data:`GUARD_PROBES`; where it is off by more than :data:`GUARD_TOL`
      (1 - tanh(w)**2 at w = 10, a closed form that cancels near 0), every point
      between the neighbouring probes is recomputed in mpmath.

    mpmath values are adaptive: the stable rewrite at d + 10 digits and at twice
    that, doubled until two agree to d digits (up to :data:`MAX_DPS`).
    """

    expr: sp.Expr
    x: sp.Symbol
    at_zero: sp.Expr | None = None
    at_inf: sp.Expr | None = None
    near_zero: SmallArgument | None = None
    kind = "closed form"

    def __post_init__(self) -> None:
        self.expr = sp.unpolarify(self.expr).replace(sp.exp_polar, sp.exp)  # integrals' polar numbers
        check_expression(self.expr, strict=False)  # known functions and identifiers only reach lambdify
        self._mp = sp.lambdify(self.x, self.expr, modules=_MP_MODULES)
        self._mp_stable: Callable | None = None
        self._np = self._float_path()
        self._limits = {"0": as_float(self.at_zero), "oo": as_float(self.at_inf)}
        self._suspect: tuple[Array, Array] | None = None
        self._infinite = _infinite_branches(self.expr, self.x)

    def _float_path(self) -> Callable[[Array], Array]:
        """The stable NumPy/SciPy function; the plain lambdified one; else mpmath point by point."""
        for make in (lambda: numpy_function(self.expr, self.x),
                     lambda: sp.lambdify(self.x, self.expr, modules=["scipy", "numpy"])):
            try:
                fn = make()
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fn(np.array([0.5, 2.0]))
                return fn
            except (NameError, TypeError, AttributeError, ValueError, ImportError):
                continue
        return np.vectorize(self._mp_point, otypes=[np.float64])

    def __call__(self, x: object) -> Array:
        mag, out = self.unguarded(x)
        lo, hi = self.suspect()
        if lo.size and out.size:
            inside = np.zeros(mag.shape, dtype=bool)
            for a, b in zip(lo, hi, strict=True):
                inside |= (mag > a) & (mag < b)
            if inside.any():
                if np.count_nonzero(inside) > INTERPOLATE_ABOVE:
                    inside &= ~self._interpolate(mag, out, inside)
                self._recompute(mag, out, inside, converged_only=True)
        return out

    def _interpolate(self, mag: Array, out: Array, inside: Array) -> Array:
        """Many points where float64 loses significance: on panels of 1/8 decade in log10 x, a degree-24
        Chebyshev interpolant of the converged mpmath values replaces them, where it agrees with mpmath to
        GUARD_TOL/4 at 8 points of the panel between the nodes (else those points are recomputed one by one).
        Returns the mask of the points so replaced."""
        done = np.zeros(mag.shape, dtype=bool)
        t = np.log10(mag[inside])
        width, nodes = 0.125, np.cos(np.pi * (np.arange(25) + 0.5) / 25)
        test = np.linspace(-0.95, 0.95, 8)
        panels = np.unique(np.floor(t / width))
        centres = (panels[:, None] + 0.5 + 0.5 * np.concatenate([nodes, test])[None, :]) * width
        values = self._mp_points_in_time(10.0 ** centres.ravel())
        if values is None:
            return done
        values = values.reshape(centres.shape)
        idx = np.flatnonzero(inside)
        for k, panel in enumerate(panels):
            fit, check = values[k, :25], values[k, 25:]
            if not (np.all(np.isfinite(fit)) and np.all(np.isfinite(check))):
                continue
            coef = np.polynomial.chebyshev.chebfit(nodes, fit, 24)
            err = np.abs(np.polynomial.chebyshev.chebval(test, coef) - check)
            if np.any(err > 0.25 * GUARD_TOL * np.abs(check)):
                continue
            here = np.floor(t / width) == panel
            out[idx[here]] = np.polynomial.chebyshev.chebval(2 * (t[here] / width - panel) - 1, coef)
            done[idx[here]] = True
        return done

    def _mp_points_in_time(self, points: Array) -> Array | None:
        """Converged mpmath values at ``points`` (NaN where not converged) in a bounded child; None if cut."""
        result = bounded(self._mp_points, points, True,
                         timeout=max(min(deadline.remaining(), RECOMPUTE_TIMEOUT), 0.0))
        return result.value if result.ok else None

    def unguarded(self, x: object, recompute: bool = True) -> tuple[Array, Array]:
        """(|x|, values) by the float64 path, its series at 0+, the limits and (``recompute``) the recomputation
        of non-finite values: everything but the loss-of-significance guard."""
        mag = np.asarray(x, dtype=np.float64)
        lo, hi = (mag.min(), mag.max()) if mag.size else (1.0, 1.0)
        if not lo >= 0:  # negative entries or NaN: |x| (NaN stays NaN)
            mag = np.abs(mag)
            lo, hi = mag.min(), mag.max()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(self._np(mag), dtype=np.float64)
            if out.shape != mag.shape:  # a constant
                out = np.broadcast_to(out, mag.shape).copy()
            elif np.shares_memory(out, mag) or np.shares_memory(out, np.asarray(x)):
                out = out.copy()  # the identity: never write into the caller's array
            if self.near_zero is not None and lo < self.near_zero.below:
                small = (mag > 0) & (mag < self.near_zero.below)
                if small.any():
                    out[small] = self.near_zero.series(mag[small])
            if recompute and out.size and not np.isfinite(out.sum()):
                self._recompute(mag, out, ~np.isfinite(out))
        if out.size and not (lo > 0 and hi < np.inf):  # zeros, infinities or NaN present
            for where, limit in ((mag == 0, self._limits["0"]), (np.isinf(mag), self._limits["oo"])):
                if limit is not None:
                    out[where] = limit
            out[np.isnan(mag)] = np.nan
        return mag, out

    def suspect(self) -> tuple[Array, Array]:
        """Open intervals (lo, hi) of x where the float64 path loses significance (computed on first use)."""
        if self._suspect is None:
            budget = max(min(deadline.remaining(), GUARD_TIMEOUT), 0.0)
            done = bounded(self._probe, timeout=budget) if budget > 0 else None
            self._suspect = done.value if done is not None and done.ok else (np.zeros(0), np.zeros(0))
        return self._suspect

    def _probe(self) -> tuple[Array, Array]:
        """The neighbourhoods of the probes where float64 and mpmath (converged) disagree beyond GUARD_TOL."""
        _, floats = self.unguarded(GUARD_PROBES, recompute=False)
        bad = np.zeros(GUARD_PROBES.size, dtype=bool)
        inner = (GUARD_PROBES >= 1e-12) & (GUARD_PROBES <= 1e12)
        order = np.concatenate([np.flatnonzero(inner), np.flatnonzero(~inner)])
        with deadline.within(0.8 * GUARD_TIMEOUT):
            for i in order:
                try:
                    bad[i] = self._loses_significance(GUARD_PROBES[i], floats[i])
                except deadline.OutOfTime:
                    break
        idx = np.flatnonzero(bad)
        lo = np.where(idx > 0, GUARD_PROBES[np.maximum(idx - 1, 0)], 0.0)
        hi = np.where(idx < GUARD_PROBES.size - 1, GUARD_PROBES[np.minimum(idx + 1, GUARD_PROBES.size - 1)], np.inf)
        return _merged_intervals(lo, hi)

    def _loses_significance(self, x: float, fv: float) -> bool:
        """The float64 value fv at x is off the converged mpmath value by more than GUARD_TOL (relative)."""
        ref, converged = self._mp_value(mpmath.mpf(x), 20)
        if ref is None or not converged or not mpmath.isfinite(ref):
            return False
        if not np.isfinite(fv):  # recomputed anyway (an overflow inside the formula)
            return False
        if abs(ref) > np.finfo(float).max:
            return True
        if abs(ref) >= np.finfo(float).tiny:
            return not abs(mpmath.mpf(float(fv)) - ref) <= GUARD_TOL * abs(ref)
        return not abs(fv) <= 2 * np.finfo(float).tiny

    def _recompute(self, mag: Array, out: Array, where: Array, converged_only: bool = False) -> None:
        """The values at ``where`` (finite x > 0), again in mpmath (each distinct x once). ``converged_only``:
        replace only values whose adaptive mpmath evaluation converged (a finite float64 value stays otherwise);
        a float64 +-inf stands where mpmath does not evaluate."""
        where = where & np.isfinite(mag) & (mag > 0)
        if where.any() and self._infinite is not None:
            where &= ~self._infinite(mag)  # exactly +-oo there: nothing to recompute
        if not where.any():
            return
        points, inverse = np.unique(mag[where], return_inverse=True)
        done = bounded(self._mp_points, points, converged_only,
                       timeout=max(min(deadline.remaining(), RECOMPUTE_TIMEOUT), 0.0))
        if not done.ok:  # one mpmath call can run for ever (gamma(gamma(1e8))): the float64 values stay
            return
        new = done.value[inverse]
        old = out[where]
        keep = np.isnan(new) & (np.isinf(old) | converged_only)
        out[where] = np.where(keep, old, new)

    def _mp_points(self, points: Array, converged_only: bool = False) -> Array:
        out = np.empty(points.size)
        for i, v in enumerate(points):
            if converged_only:
                value, converged = self._mp_value(mpmath.mpf(v), FALLBACK_DPS - 10)
                out[i] = float(value) if value is not None and converged else np.nan
            else:
                out[i] = self._mp_point(v)
        return out

    def _mp_point(self, v: float) -> float:
        """float(expr(v)) via mpmath at FALLBACK_DPS digits (plus log10 v), adaptive where that does not
        evaluate; where mpmath fails (a pole, 0/0), the limit from below.
        Checks the derivation's deadline (:mod:`symdual.deadline`) at every point."""
        deadline.check("mpmath evaluation point by point")
        x = mpmath.mpf(v)
        if x == 0 and self._limits["0"] is not None:
            return self._limits["0"]
        with mpmath.workdps(FALLBACK_DPS + _digits_of(x)):
            value = self._mp_once(+x)
        if value is None or value == 0:  # 1/(1 - tanh(w)**2) reads 1/0, (1 - cos w)/w**2 reads 0 at 30 digits
            value, _ = self._mp_value(x, FALLBACK_DPS - 10)
        if value is not None:
            return float(value)
        with mpmath.workdps(FALLBACK_DPS + _digits_of(x)):
            return self._limit_below(x)

    def _mp_value(self, x: mpmath.mpf, dps: int) -> tuple[mpmath.mpf | None, bool]:
        """(expr(x), converged): the stable path at dps + 10 (+ log10 x) digits and at twice that, doubled
        until two values agree to ``dps`` digits; the last value and False if none do by MAX_DPS digits;
        (None, False) where it does not evaluate at all (a value 0 at all precisions is rechecked at the
        digits x itself asks for, 1 - cos(x) at x = 1e-60)."""
        work, prev = dps + 10 + _digits_of(x), None
        tol = mpmath.mpf(10) ** -dps
        while work <= MAX_DPS:
            deadline.check("adaptive mpmath evaluation")
            with mpmath.workdps(work):
                value = self._mp_once(+x)
            if value is not None and prev is not None:
                if value == prev == 0:
                    deep = dps + 10 + 2 * _decades(x)
                    with mpmath.workdps(min(MAX_DPS, max(2 * work, deep))):
                        final = self._mp_once(+x)
                    return (final, True) if final is not None else (value, True)
                if abs(value - prev) <= tol * abs(value):
                    return value, True
            if value is None and prev is None and work > max(4 * (dps + 10), 2 * _decades(x) + dps):
                return None, False  # a pole (or a function mpmath lacks) at every precision tried
            prev = value if value is not None else prev
            work *= 2
        return prev, False

    def _mp_once(self, x: mpmath.mpf) -> mpmath.mpf | None:
        """expr(x) at the working precision: the stable rewrite, else the formula; None if neither evaluates."""
        for fn in self._mp_paths():
            try:
                value = _real(fn(x), keep=True)
            except _MP_ERRORS:
                continue
            if not mpmath.isnan(value):
                return value
        return None

    def _mp_paths(self) -> tuple[Callable, ...]:
        """The stable rewrite in mpmath (no cancellation of 1 - tanh(w) at large w), then the formula."""
        if self._mp_stable is None:
            try:
                self._mp_stable = mpmath_function(self.expr, self.x, _MP_MODULES[1])
            except (NameError, TypeError, AttributeError, ValueError):
                self._mp_stable = self._mp
        return (self._mp_stable, self._mp)

    def _limit_below(self, x: mpmath.mpf) -> float:
        """The limit at x from below: the values at x (1 - 2**-60) and x (1 - 2**-80) decide between a
        finite limit and +-oo; NaN where neither evaluates."""
        try:
            near, nearer = (_real(self._mp(x * (1 - mpmath.mpf(2) ** -k)), keep=True) for k in (60, 80))
        except _MP_ERRORS:
            return np.nan
        if mpmath.isnan(near) or mpmath.isnan(nearer):
            return np.nan
        if abs(nearer) > 2**16 * max(abs(near), 1):
            return float(mpmath.sign(nearer) * mpmath.inf)
        return float(nearer)

    def mp(self, x: object, dps: int = 40) -> mpmath.mpf:
        """The same value in mpmath to ``dps`` digits (within the derivation's deadline, if one is set):
        the stable path at dps + 10 digits, adaptive precision where the float64 path loses significance."""
        deadline.check("an mpmath evaluation")
        with mpmath.workdps(dps):
            x = abs(mpmath.mpf(x))
            if x == 0 and self.at_zero is not None:
                return mpmath.mpf(sp.N(self.at_zero, dps + 5))
            if mpmath.isinf(x) and self.at_inf is not None:
                return mpmath.mpf(sp.N(self.at_inf, dps + 5))
            if not self._is_suspect(x):
                with mpmath.workdps(dps + 10 + _digits_of(x)):
                    value = self._mp_once(+x)
                if value is not None:
                    return +value
            value, _ = self._mp_value(x, dps)
            return +value if value is not None else self._mp(x)

    def _is_suspect(self, x: mpmath.mpf) -> bool:
        lo, hi = self.suspect()
        if not lo.size:
            return False
        v = float(x)
        return any(a < v < b for a, b in zip(lo, hi, strict=True))


def _infinite_branches(expr: sp.Expr, x: sp.Symbol) -> Callable[[Array], Array] | None:
    """For a Piecewise whose value is +-oo on some branches, the mask of x where such a branch is the one taken
    (the first whose condition holds); None otherwise, or if the conditions do not evaluate in NumPy."""
    if not isinstance(expr, sp.Piecewise) or not any(e in (sp.oo, -sp.oo) for e, _ in expr.args):
        return None
    try:
        conds = [sp.lambdify(x, c, modules="numpy") for _, c in expr.args]
        infinite = [e in (sp.oo, -sp.oo) for e, _ in expr.args]
        probe = np.array([0.5, 2.0])
        for cond in conds:
            np.broadcast_to(np.asarray(cond(probe), dtype=bool), probe.shape)
    except Exception:  # noqa: BLE001 - a condition NumPy cannot evaluate: recompute as before
        return None

    def mask(mag: Array) -> Array:
        taken = np.zeros(mag.shape, dtype=bool)
        hit = np.zeros(mag.shape, dtype=bool)
        with np.errstate(all="ignore"):
            for cond, inf in zip(conds, infinite, strict=True):
                now = np.broadcast_to(np.asarray(cond(mag), dtype=bool), mag.shape) & ~taken
                if inf:
                    hit |= now
                taken |= now
        return hit

    return mask


def _decades(x: mpmath.mpf) -> int:
    """|log10 x| for a finite x != 0 (the digits a tiny or huge argument asks for); 0 at 0 and +-oo."""
    return int(abs(mpmath.log10(abs(x)))) if mpmath.isfinite(x) and x != 0 else 0


def _digits_of(x: mpmath.mpf) -> int:
    """Extra digits for an argument x > 1 (1 - w keeps its 1 at w = 1e300)."""
    return int(mpmath.log10(x)) if 10 < x < mpmath.inf else 0  # x may lie beyond the float64 range


def _merged_intervals(lo: Array, hi: Array) -> tuple[Array, Array]:
    """Overlapping open intervals merged, in order."""
    if lo.size == 0:
        return lo, hi
    order = np.argsort(lo)
    out_lo, out_hi = [float(lo[order[0]])], [float(hi[order[0]])]
    for a, b in zip(lo[order[1:]], hi[order[1:]], strict=True):
        if a < out_hi[-1]:
            out_hi[-1] = max(out_hi[-1], float(b))
        else:
            out_lo.append(float(a))
            out_hi.append(float(b))
    return np.array(out_lo), np.array(out_hi)


def as_float(limit: sp.Expr | None) -> float | None:
    """A limit as float; None when there is none (or it is not a number)."""
    try:
        return None if limit is None else float(limit)
    except (TypeError, ValueError):
        return None


def _real(value: object, keep: bool = False) -> float | mpmath.mpf:
    """A real mpmath value as float (or kept as mpf); a genuinely complex one is NaN."""
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > mpmath.mpf(10) ** (-FALLBACK_DPS + 5) * max(abs(value.real), 1):
            return mpmath.nan if keep else np.nan
        value = value.real
    value = mpmath.mpf(value)
    return value if keep else float(value)


@dataclass
class SmallArgument:
    """The series at 0+ used for 0 < x < ``below``, where the closed form cancels
    (1 - (1 + w) exp(-w) at w = 1e-9 loses 18 digits) and the series is exact to float64."""

    expr: sp.Expr
    x: sp.Symbol
    below: float
    how: str
    series: Callable[[Array], Array] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:  # Horner: 12 multiply-adds instead of 12 powers
            body = sp.horner(self.expr, self.x) if self.expr.is_polynomial(self.x) else self.expr
        except (sp.PolynomialError, ValueError, TypeError):
            body = self.expr
        self.series = sp.lambdify(self.x, body, modules="numpy")


def small_argument(closed: ClosedForm, series: sp.Expr, tol: float = 1e-17,
                   float_tol: float = FLOAT_TOL) -> SmallArgument | None:
    """Certify a truncated series at 0+ against the closed form in mpmath (50 digits):
    ``below`` is the largest grid point up to which every relative error is < ``tol``.
    None when the series is not needed (the float64 closed form is within ``float_tol`` of
    mpmath on the whole grid, e.g. log1p(w/2)) or not exact at the smallest grid point."""
    body = series.removeO() if hasattr(series, "removeO") else series
    if body.has(sp.log) or not body.free_symbols <= {closed.x}:
        return None
    check_expression(body, strict=False)
    series_mp = sp.lambdify(closed.x, body, modules=_MP_MODULES)
    grid = np.geomspace(1e-12, 1e-1, 45)
    floats = closed.unguarded(grid)[1]  # the float64 path itself: does it cancel?
    below, cancels, contiguous = 0.0, False, True
    with mpmath.workdps(50):
        for x, fx in zip(grid, floats, strict=True):
            exact = closed.mp(x, 50)
            if exact == 0:
                break
            cancels = cancels or not abs(mpmath.mpf(float(fx)) - exact) <= float_tol * abs(exact)
            contiguous = contiguous and abs(series_mp(mpmath.mpf(x)) - exact) <= tol * abs(exact)
            below = float(x) if contiguous else below
    if below == 0.0 or not cancels:
        return None
    return SmallArgument(body, closed.x, below,
                         f"series at 0+ below {below:.3g} (truncation error < {tol:g} vs mpmath 50 digits)")


_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
_K_LO, _K_HI = -4 * 1000, 4 * 1024 - 1
"""Quadrature knots 2**(k/4), k = _K_LO .. _K_HI: from 2**-1000 to 2**1023.75 (the same for every input)."""
_BLOCK = 256
"""Panels are integrated (and cached) in fixed blocks of this many."""
_CHUNK = 8192
"""Points per chunk of the partial-panel integrals (memory ~ 24 * 8 * _CHUNK bytes per temporary)."""


def _gauss(g: Callable[[Array], Array], a: Array, b: Array, guard: bool = False) -> Array:
    """Gauss-Legendre (24 nodes) of g over each [a_i, b_i]; row sums independent of the other rows.
    ``guard``: non-finite integrand values count 0 (a node that underflowed to t = 0)."""
    with np.errstate(all="ignore"):
        mid, half = a / 2 + b / 2, b / 2 - a / 2
        t = mid[:, None] + half[:, None] * _GL_X[None, :]
        vals = np.asarray(g(t.ravel()), dtype=np.float64).reshape(t.shape)
        if guard:
            vals[~np.isfinite(vals)] = 0.0
        vals *= _GL_W
        return half * vals.sum(axis=1)


@dataclass
class Quadrature:
    """Omega(w) = integral_0^w g(t) dt for all w at once (g = Omega' = t/eta_hat(t)).

    Gauss-Legendre (24 nodes) on the fixed geometric knots 2**(k/4) from 2**-1000 to
    2**1023.75 (panels cached in blocks), plus [0, 2**-1000] with t = u**2 (integrable
    singularities at 0, non-finite nodes counted 0) and the partial panel [knot, w]:
    the value at w does not depend on the other points of the array. Points are processed
    in chunks (memory linear in the input). Accuracy about 1e-14 relative for an integrand
    analytic off 0; ``mp`` gives mpmath's tanh-sinh. Omega(oo) is ``at_inf``, else the
    integral up to 2**1023.75 when g has decayed there (g(T) T below 1e-16 of it), else oo.
    """

    g: Callable[[Array], Array]
    g_mp: Callable[[mpmath.mpf], mpmath.mpf]
    at_inf: float | None = None
    kind = "quadrature"
    _blocks: dict[int, Array] = field(default_factory=dict, init=False, repr=False, compare=False)
    _inner: float | None = field(default=None, init=False, repr=False, compare=False)

    def __call__(self, w: object) -> Array:
        mag = as_magnitudes(w)
        out = np.full(mag.shape, np.nan)
        finite = np.isfinite(mag) & (mag > 0)
        out[mag == 0] = 0.0
        if np.isinf(mag).any():
            out[np.isinf(mag)] = self._at_inf()
        idx = np.flatnonzero(finite)
        for start in range(0, idx.size, _CHUNK):
            part = idx[start:start + _CHUNK]
            out[part] = self._values(mag[part])
        return out

    def _values(self, x: Array) -> Array:
        """Omega at finite x > 0: inner integral + cached panels below x + the partial panel [knot, x]."""
        tiny = x < 2.0**(_K_LO / 4)
        k = np.clip(np.floor(4 * np.log2(np.where(tiny, 1.0, x))).astype(np.int64), _K_LO, _K_HI)
        k[tiny] = _K_LO
        knot = np.exp2(k / 4)
        k -= knot > x  # exp2 rounding: the knot must not exceed x
        knot = np.where(tiny, 0.0, np.exp2(k / 4))
        out = self._partial(knot, x, tiny)
        below = ~tiny
        if below.any():
            out[below] += self._prefix(k[below] - _K_LO)
        return out

    def _partial(self, a: Array, b: Array, tiny: Array) -> Array:
        """integral_a^b g: plain Gauss on [knot, x]; t = u**2 on [0, x] for x below the first knot."""
        out = np.empty_like(b)
        if (~tiny).any():
            out[~tiny] = _gauss(self.g, a[~tiny], b[~tiny])
        if tiny.any():
            root = np.sqrt(b[tiny])
            out[tiny] = _gauss(lambda u: 2 * u * self.g(u * u), np.zeros_like(root), root, guard=True)
        return out

    def _prefix(self, n: Array) -> Array:
        """integral_0^(2**((_K_LO + n)/4)) g for panel counts n (cumulative sums of the cached blocks)."""
        if self._inner is None:
            self._inner = float(_gauss(lambda u: 2 * u * self.g(u * u), np.zeros(1), np.array([2.0**(_K_LO / 8)]),
                                       guard=True)[0])
        cum = self._cumulative(int(n.max()))
        return cum[n]

    def _cumulative(self, n_max: int) -> Array:
        """[inner, inner + p_0, inner + p_0 + p_1, ...] up to n_max panels (blocks computed on demand)."""
        blocks = [np.zeros(0)] + [self._block(b) for b in range(-(-n_max // _BLOCK))]
        panels = np.concatenate(blocks)[:max(n_max, 0)]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.concatenate([[self._inner], self._inner + np.cumsum(panels)])

    def _block(self, b: int) -> Array:
        if b not in self._blocks:
            k = np.arange(_K_LO + b * _BLOCK, min(_K_LO + (b + 1) * _BLOCK, _K_HI))
            self._blocks[b] = _gauss(self.g, np.exp2(k / 4), np.exp2((k + 1) / 4)) if k.size else np.zeros(0)
        return self._blocks[b]

    def _at_inf(self) -> float:
        if self.at_inf is not None:
            return float(self.at_inf)
        top = 2.0 ** (_K_HI / 4)
        total = float(self._values(np.array([top]))[0])
        with np.errstate(all="ignore"):
            tail = abs(float(np.asarray(self.g(np.array([top])))[0])) * top
        return total if np.isfinite(total) and tail <= 1e-16 * abs(total) else np.inf

    def mp(self, w: object, dps: int = 40) -> mpmath.mpf:
        with mpmath.workdps(dps):
            w = abs(mpmath.mpf(w))
            if w == 0:
                return mpmath.mpf(0)
            return mpmath.quad(self._g_mp_in_time, [0] + [w * mpmath.mpf(2) ** -k for k in range(40, -1, -1)])

    def _g_mp_in_time(self, t: mpmath.mpf) -> mpmath.mpf:
        """The integrand, checking the derivation's deadline (mpmath.quad has no budget of its own)."""
        deadline.check("an mpmath quadrature")
        return self.g_mp(t)


@dataclass(frozen=True)
class EnginePiece:
    """One piece of a numeric eta-trick engine: its float64 path, and an mpmath path
    (the engine's own, else ``fallback_mp``, e.g. a closed form f evaluated in mpmath).
    Where the float64 path is not finite at a finite x > 0 (an overflow inside the solver:
    f(eta) = eta**2 at eta = 8e199), the value is recomputed by the mpmath path."""

    fn: Callable[[Array], Array]
    fn_mp: Callable[..., mpmath.mpf] | None = None
    kind: str = "solver"

    def __call__(self, x: object) -> Array:
        out = np.asarray(self.fn(x), dtype=np.float64)
        if self.fn_mp is None or not out.size or np.isfinite(out.sum()):
            return out
        mag = np.broadcast_to(as_magnitudes(x), out.shape)
        where = ~np.isfinite(out) & np.isfinite(mag) & (mag > 0)
        if where.any():
            points, inverse = np.unique(mag[where], return_inverse=True)
            done = bounded(self._mp_points, points, timeout=max(min(deadline.remaining(), RECOMPUTE_TIMEOUT), 0.0))
            if done.ok:
                out = out.copy()
                old, new = out[where], done.value[inverse]
                out[where] = np.where(np.isnan(new), old, new)
        return out

    def _mp_points(self, points: Array) -> Array:
        values = []
        for v in points:
            try:
                values.append(float(self.fn_mp(float(v), dps=FALLBACK_DPS)))
            except (*_MP_ERRORS, deadline.OutOfTime):
                values.append(np.nan)
        return np.array(values, dtype=np.float64)

    def mp(self, x: object, dps: int = 40) -> mpmath.mpf:
        if self.fn_mp is None:
            raise ValueError("this numeric piece has no mpmath path")
        return self.fn_mp(x, dps=dps)
