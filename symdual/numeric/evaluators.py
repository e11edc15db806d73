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

Array = np.ndarray
_MP_MODULES = ["mpmath", {"Heaviside": lambda x, h=0.5: mpmath.mpf(h) if x == 0 else (1 if x > 0 else 0)}]


def as_magnitudes(x: object) -> Array:
    """|x| as a float64 array (any float dtype or Python number accepted)."""
    return np.abs(np.asarray(x, dtype=np.float64))


@dataclass
class ClosedForm:
    """Vectorised evaluation of a closed form ``expr(x)`` on x >= 0.

    ``at_zero`` and ``at_inf`` are the exact limits, used at x = 0 and x = oo
    (where the formula itself may read 0/0 or inf*0).
    """

    expr: sp.Expr
    x: sp.Symbol
    at_zero: sp.Expr | None = None
    at_inf: sp.Expr | None = None
    near_zero: SmallArgument | None = None
    kind = "closed form"

    def __post_init__(self) -> None:
        self.expr = sp.unpolarify(self.expr).replace(sp.exp_polar, sp.exp)  # integrals' polar numbers
        self._mp = sp.lambdify(self.x, self.expr, modules=_MP_MODULES)
        self._np = sp.lambdify(self.x, self.expr, modules="numpy")
        try:  # NumPy has no printer for some functions (hyper, ...): use mpmath point by point
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._np(np.array([0.5, 2.0]))
        except (NameError, TypeError, AttributeError):
            self._np = np.vectorize(lambda v: float(self._mp(mpmath.mpf(v))), otypes=[np.float64])

    def __call__(self, x: object) -> Array:
        mag = as_magnitudes(x)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(self._np(mag), dtype=np.float64) * np.ones_like(mag)
        if self.near_zero is not None:
            small = (mag > 0) & (mag < self.near_zero.below)
            if small.any():
                out[small] = self.near_zero.series(mag[small])
        for where, limit in ((mag == 0, self.at_zero), (np.isinf(mag), self.at_inf)):
            if limit is not None and where.any():
                out[where] = float(limit)
        out[np.isnan(mag)] = np.nan
        return out

    def mp(self, x: object, dps: int = 40) -> mpmath.mpf:
        """The same value in mpmath at ``dps`` digits."""
        with mpmath.workdps(dps):
            x = abs(mpmath.mpf(x))
            if x == 0 and self.at_zero is not None:
                return mpmath.mpf(sp.N(self.at_zero, dps + 5))
            if mpmath.isinf(x) and self.at_inf is not None:
                return mpmath.mpf(sp.N(self.at_inf, dps + 5))
            return self._mp(x)


@dataclass
class SmallArgument:
    """The series at 0+ used for 0 < x < ``below``, where the closed form cancels
    (log(1 + w/2) at w = 1e-9 loses 8 digits) and the series is exact to float64."""

    expr: sp.Expr
    x: sp.Symbol
    below: float
    how: str
    series: Callable[[Array], Array] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.series = sp.lambdify(self.x, self.expr, modules="numpy")


def small_argument(closed: ClosedForm, series: sp.Expr, tol: float = 1e-17) -> SmallArgument | None:
    """Certify a truncated series at 0+ against the closed form in mpmath (50 digits):
    ``below`` is the largest grid point up to which every relative error is < ``tol``."""
    body = series.removeO() if hasattr(series, "removeO") else series
    if body.has(sp.log) or not body.free_symbols <= {closed.x}:
        return None
    series_mp = sp.lambdify(closed.x, body, modules=_MP_MODULES)
    grid = np.geomspace(1e-12, 1e-1, 45)
    below = 0.0
    with mpmath.workdps(50):
        for x in grid:
            exact = closed.mp(x, 50)
            if exact == 0 or abs(series_mp(mpmath.mpf(x)) - exact) > tol * abs(exact):
                break
            below = float(x)
    if below == 0.0:
        return None
    return SmallArgument(body, closed.x, below,
                         f"series at 0+ below {below:.3g} (truncation error < {tol:g} vs mpmath 50 digits)")


_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)


def _gauss(g: Callable[[Array], Array], a: Array, b: Array) -> Array:
    """Gauss-Legendre (24 nodes) of g over each [a_i, b_i]."""
    mid, half = (a + b) / 2, (b - a) / 2
    t = mid[:, None] + half[:, None] * _GL_X[None, :]
    with np.errstate(all="ignore"):
        vals = g(t.ravel()).reshape(t.shape)
    return half * (vals @ _GL_W)


@dataclass
class Quadrature:
    """Omega(w) = integral_0^w g(t) dt for all w at once (g = Omega' = t/eta_hat(t)).

    Cumulative Gauss-Legendre on a geometric partition of (0, max w]: every
    panel [t, 2**(1/4) t] is integrated with 24 nodes; the innermost panel
    [0, w_min 2**-60] uses t = u**2 to absorb integrable singularities.
    Accuracy is that of a 24-point rule on dyadic panels for an integrand
    analytic off 0 (about 1e-14 relative); ``mp`` gives mpmath's tanh-sinh.
    """

    g: Callable[[Array], Array]
    g_mp: Callable[[mpmath.mpf], mpmath.mpf]
    at_inf: float | None = None
    kind = "quadrature"

    def __call__(self, w: object) -> Array:
        mag = as_magnitudes(w)
        out = np.full(mag.shape, np.nan)
        finite = np.isfinite(mag) & (mag > 0)
        out[mag == 0] = 0.0
        out[np.isinf(mag)] = np.inf if self.at_inf is None else self.at_inf
        if finite.any():
            out[finite] = self._cumulative(mag[finite])
        return out

    def _cumulative(self, x: Array) -> Array:
        order = np.argsort(x)
        xs = x[order]
        lo = xs[0] * 2.0**-60
        u = _gauss(lambda v: 2 * v * self.g(v * v), np.zeros(1), np.array([np.sqrt(lo)]))[0]
        octaves = 61 + int(np.ceil(np.log2(xs[-1] / xs[0])))
        knots = np.unique(np.concatenate([lo * 2.0 ** (np.arange(4 * octaves + 1) / 4), xs]))
        knots = knots[knots <= xs[-1]]
        panel = _gauss(self.g, knots[:-1], knots[1:])
        cum = np.concatenate([[u], u + np.cumsum(panel)])
        out = np.empty_like(xs)
        out[:] = cum[np.searchsorted(knots, xs)]
        result = np.empty_like(x)
        result[order] = out
        return result

    def mp(self, w: object, dps: int = 40) -> mpmath.mpf:
        with mpmath.workdps(dps):
            w = abs(mpmath.mpf(w))
            if w == 0:
                return mpmath.mpf(0)
            return mpmath.quad(self.g_mp, [0] + [w * mpmath.mpf(2) ** -k for k in range(40, -1, -1)])


@dataclass(frozen=True)
class EnginePiece:
    """One piece of a numeric eta-trick engine: its float64 path, and an mpmath path
    (the engine's own, else ``fallback_mp``, e.g. a closed form f evaluated in mpmath)."""

    fn: Callable[[Array], Array]
    fn_mp: Callable[..., mpmath.mpf] | None = None
    kind: str = "solver"

    def __call__(self, x: object) -> Array:
        return np.asarray(self.fn(x), dtype=np.float64)

    def mp(self, x: object, dps: int = 40) -> mpmath.mpf:
        if self.fn_mp is None:
            raise ValueError("this numeric piece has no mpmath path")
        return self.fn_mp(x, dps=dps)
