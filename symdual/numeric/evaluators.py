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
"""Seconds for recomputing non-finite float64 values in mpmath (in a bounded child process)."""


def as_magnitudes(x: object) -> Array:
    """|x| as a float64 array (any float dtype or Python number accepted)."""
    return np.abs(np.asarray(x, dtype=np.float64))


@dataclass
class ClosedForm:
    """Vectorised evaluation of a closed form ``expr(x)`` on x >= 0.

    ``at_zero`` and ``at_inf`` are the exact limits, used at x = 0 and x = oo
    (where the formula itself may read 0/0 or inf*0). The float64 path is the
    stable rewrite of :func:`symdual.numeric.stable.stable_form`; the points where
    it is not finite are recomputed in mpmath (:data:`FALLBACK_DPS` digits; at a
    point mpmath cannot evaluate, the limit from below), so overflow inside the
    formula never turns a finite value into inf or NaN.
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
            if out.size and not np.isfinite(out.sum()):
                self._recompute(mag, out, ~np.isfinite(out))
        if out.size and not (lo > 0 and hi < np.inf):  # zeros, infinities or NaN present
            for where, limit in ((mag == 0, self._limits["0"]), (np.isinf(mag), self._limits["oo"])):
                if limit is not None:
                    out[where] = limit
            out[np.isnan(mag)] = np.nan
        return out

    def _recompute(self, mag: Array, out: Array, bad: Array) -> None:
        """The non-finite float64 values at finite x > 0, again in mpmath (each distinct x once)."""
        bad &= np.isfinite(mag) & (mag > 0)
        if not bad.any():
            return
        points, inverse = np.unique(mag[bad], return_inverse=True)
        done = bounded(self._mp_points, points, timeout=max(min(deadline.remaining(), RECOMPUTE_TIMEOUT), 0.0))
        if done.ok:  # else (one mpmath call can run for ever: gamma(gamma(1e8))) the float64 values stay
            out[bad] = done.value[inverse]

    def _mp_points(self, points: Array) -> Array:
        return np.array([self._mp_point(v) for v in points], dtype=np.float64)

    def _mp_point(self, v: float) -> float:
        """float(expr(v)) via mpmath at FALLBACK_DPS digits; where mpmath fails (a pole, 0/0), the limit
        from below. Digits grow with log10(v): 1 - w keeps its 1 at w = 1e300. Checks the derivation's
        deadline (:mod:`symdual.deadline`) at every point."""
        deadline.check("mpmath evaluation point by point")
        with mpmath.workdps(FALLBACK_DPS + (int(np.log10(v)) if 1 < v < np.inf else 0)):
            x = mpmath.mpf(v)
            if x == 0 and self._limits["0"] is not None:
                return self._limits["0"]
            for fn in self._mp_paths():
                try:
                    value = _real(fn(x), keep=True)
                except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                    continue
                if not mpmath.isnan(value):
                    return float(value)
            return self._limit_below(x)

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
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            return np.nan
        if mpmath.isnan(near) or mpmath.isnan(nearer):
            return np.nan
        if abs(nearer) > 2**16 * max(abs(near), 1):
            return float(mpmath.sign(nearer) * mpmath.inf)
        return float(nearer)

    def mp(self, x: object, dps: int = 40) -> mpmath.mpf:
        """The same value in mpmath at ``dps`` digits (within the derivation's deadline, if one is set)."""
        deadline.check("an mpmath evaluation")
        with mpmath.workdps(dps):
            x = abs(mpmath.mpf(x))
            if x == 0 and self.at_zero is not None:
                return mpmath.mpf(sp.N(self.at_zero, dps + 5))
            if mpmath.isinf(x) and self.at_inf is not None:
                return mpmath.mpf(sp.N(self.at_inf, dps + 5))
            return self._mp(x)


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
    floats = closed(grid)
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
