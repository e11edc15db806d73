"""Numerical eta-trick: Omega, eta_hat and Omega' from a dual f, in float64 and mpmath.

    Omega(w)   = 1/2 * inf_{eta>0} [ w**2/eta + f(eta) ],   Omega(0) = f(0+)/2
    eta_hat(w) = the minimising eta,   Omega'(w) = w/eta_hat(w) = sqrt(f'(eta_hat))

A dual is given as a :class:`DualCurve`: a parameter t runs over an interval,
``eta = exp(log_eta(t))`` increases with t, ``f = f0 + f_increment(t)``, and
the *stationarity* function is ``L(t) = log(eta**2 * df/deta)``.  With
``T = 2*log|w|`` the objective ``J(t) = w**2/eta + f - f0`` has
``sign J'(t) = sign(L(t) - T)``, so its local minima are exactly the upward
crossings of L through T, plus the limit t -> +inf (value ``f_sup``) when J
still decreases at the top of the interval.

Global minimum: the interval is scanned once on a grid (step 0.25 in t) for
the maximal runs on which L increases (wiggles below 1e-12 relative count as
rounding noise).  For each w every run that contains T gives one candidate,
refined in its grid cell by a bracketed root finder (safeguarded Newton from
a cubic-Hermite start when dL/dt is known, Illinois otherwise); the
candidates and the limit are compared and the smallest objective wins, so a
non-concave f whose infimum jumps, or is reached only as eta -> inf, is
handled.  The mpmath path refines the same brackets with ``mpmath.findroot``
and then checks the winner against the objective on the whole grid,
refining any grid point that beats it.  Structure of L finer than the grid
step is not seen.

Optionally a Chebyshev table in log w (built on first use, error measured
against the solver) serves a range of w, and w beyond a jump point
(:meth:`EtaTrickNumeric.critical_point`) gets the limit values directly.

Extremes: T is formed as ``2*log|w|`` (no overflow); when the root leaves the
scanned interval the value at its end is used (eta_hat = 0 or inf once the
interval reaches the float64 range).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple

import mpmath
import numpy as np

from .. import deadline
from .chebyshev import PiecewiseChebyshev, fit_chebyshev
from .roots import illinois_increasing, newton_increasing

Array = np.ndarray
MpFun = Callable[[mpmath.mpf], mpmath.mpf]
INTERIOR, LOWER_END, UPPER_LIMIT = 0, 1, 2
ETA, OMEGA, PRIME = 0, 1, 2
RUN_NOISE = 1e-12
"""Relative size of wiggles of L treated as rounding noise when finding its increasing runs."""
RESOLVED = 1e-8
"""f_sup - f counts as resolved in float64 above this (relative); the critical point is sought there."""
ALL_PARTS = (ETA, OMEGA, PRIME)


@dataclass(frozen=True)
class DualCurve:
    """A dual f as a curve t -> (eta, f): the input of :class:`EtaTrickNumeric`.

    float64 callables are vectorised; ``mp_*`` callables take and return mpf
    at the current mpmath precision.  ``f_sup`` is lim f - f0 at eta -> inf
    (``inf`` when f is unbounded).  ``stationarity_slope`` returns (L, dL/dt).
    ``omega_prime_inf`` is lim_{w->inf} Omega'(w) = sqrt(lim_{eta->inf} f'(eta)).
    """

    log_eta: Callable[[Array], Array]
    f_increment: Callable[[Array], Array]
    stationarity: Callable[[Array], Array]
    mp_log_eta: MpFun
    mp_f_increment: MpFun
    mp_stationarity: MpFun
    mp_f0: Callable[[], mpmath.mpf]
    f0: float
    f_sup: float
    t_range: tuple[float, float]
    stationarity_slope: Callable[[Array], tuple[Array, Array]] | None = None
    parameter: str = "log(eta)"
    omega_prime_inf: float = 0.0


class Evaluation(NamedTuple):
    """eta_hat(w), Omega(w) - Omega(0) and Omega'(w) (float64 arrays)."""

    eta_hat: Array
    omega_increment: Array
    omega_prime: Array


@dataclass(frozen=True)
class CriticalPoint:
    """Where the infimum jumps to the limit eta -> inf (bounded f).

    For |w| > w the infimum is reached only as eta -> inf; at w the finite
    minimiser is eta (so Omega'(w-) = w/eta, Omega'(w+) = 0).  mpf values.
    """

    w: mpmath.mpf
    eta: mpmath.mpf
    t: mpmath.mpf


@dataclass(frozen=True)
class _Scan:
    """The curve on a grid of t, the runs on which L increases and L's running maximum on them."""

    t: Array
    log_eta: Array
    f_increment: Array
    stationarity: Array
    slope: Array | None
    runs: tuple[tuple[int, int], ...]
    envelope: Array


@dataclass(frozen=True)
class _Table:
    """Chebyshev tables in v = log w on [w_lo, w_hi) of the two O(1) functions

        log(eta_hat) - v - log(1 + w)   and   log(Omega - Omega(0)) - v + log(1 + w)

    (eta_hat ~ w, Omega ~ w near 0; eta_hat ~ w**2, Omega ~ log w for log-type penalties).
    """

    cheb: PiecewiseChebyshev
    w_lo: float
    w_hi: float

    @staticmethod
    def values(v: Array, evaluation: Evaluation) -> Array:
        """The tabulated functions from an evaluation at w = e**v."""
        shift = np.logaddexp(0.0, v)
        return np.stack([np.log(evaluation.eta_hat) - v - shift, np.log(evaluation.omega_increment) - v + shift])

    def evaluate(self, v: Array, parts: tuple[int, ...]) -> dict[int, Array]:
        """The requested parts (indices into :class:`Evaluation`) at v = log w."""
        rows = tuple(sorted({1 if p == OMEGA else 0 for p in parts}))
        g = dict(zip(rows, self.cheb(v, rows), strict=False))
        shift = np.logaddexp(0.0, v)
        out = {}
        if OMEGA in parts:
            out[OMEGA] = np.exp(g[1] + v - shift)
        if ETA in parts:
            out[ETA] = np.exp(g[0] + v + shift)
        if PRIME in parts:
            out[PRIME] = np.exp(-g[0] - shift)
        return out


def _increasing_runs(values: Array, noise: float) -> tuple[tuple[int, int], ...]:
    """Maximal index ranges (inclusive) on which ``values`` increases, up to rounding noise.

    Strictly increasing ranges separated by a dip of at most ``noise`` are
    merged, and ranges that rise by at most ``noise`` are dropped.
    """
    up = np.concatenate([[False], values[1:] > values[:-1], [False]])
    raw = list(zip(np.flatnonzero(~up[:-1] & up[1:]), np.flatnonzero(up[:-1] & ~up[1:]), strict=False))
    runs: list[tuple[int, int]] = []
    for a, b in raw:
        if runs and values[runs[-1][1]] - values[a] <= noise:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    return tuple((int(a), int(b)) for a, b in runs if values[b] - values[a] > noise)


def _envelope(values: Array, runs: tuple[tuple[int, int], ...]) -> Array:
    """``values`` with each run replaced by its running maximum (nondecreasing, for searchsorted)."""
    out = values.copy()
    for a, b in runs:
        out[a : b + 1] = np.maximum.accumulate(values[a : b + 1])
    return out


def _inverse_hermite(target: Array, t0: Array, t1: Array, g0: Array, g1: Array, d0: Array, d1: Array) -> Array:
    """t with g(t) = target by cubic Hermite interpolation of the inverse function on [t0, t1].

    Falls back to linear interpolation where the slopes are not positive and finite.
    """
    with np.errstate(all="ignore"):
        dg = g1 - g0
        u = np.clip((target - g0) / dg, 0.0, 1.0)
        linear = t0 + u * (t1 - t0)
        m0, m1 = dg / d0, dg / d1
        h00, h10 = (1 + 2 * u) * (1 - u) ** 2, u * (1 - u) ** 2
        h01, h11 = u * u * (3 - 2 * u), u * u * (u - 1)
        cubic = h00 * t0 + h10 * m0 + h01 * t1 + h11 * m1
        ok = (d0 > 0) & (d1 > 0) & np.isfinite(cubic) & (cubic >= t0) & (cubic <= t1)
        return np.where(ok, cubic, np.where(np.isfinite(linear), linear, 0.5 * (t0 + t1)))


def _as_magnitude(w: object) -> tuple[Array, tuple[int, ...]]:
    """|w| as a flat float64 array, and the input's shape."""
    a = np.asarray(w)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        a = a.astype(float)
    return np.abs(a.astype(float, copy=False)).ravel(), a.shape


class EtaTrickNumeric:
    """Omega, eta_hat, Omega' of the eta-trick for one dual, vectorised and at any precision.

    ``precision`` is the claimed maximum relative error of the float64 path
    (of eta_hat, Omega - Omega(0) and Omega'), measured against the mpmath
    path at 40 digits as stated in ``certificate``; NaN when uncertified.
    """

    def __init__(
        self,
        curve: DualCurve,
        *,
        precision: float = float("nan"),
        certificate: str = "uncertified",
        grid_step: float = 0.25,
        name: str = "dual",
        table_range: tuple[float, float | None] | None = None,
        table_tol: float = 1e-14,
        cap_at_critical: bool = False,
    ) -> None:
        if not grid_step > 0:
            raise ValueError("grid_step must be positive")
        self.curve = curve
        self.precision = precision
        self.certificate = certificate
        self.grid_step = grid_step
        self.name = name
        self._table_range = table_range
        self.table_tol = table_tol
        self.cap_at_critical = cap_at_critical

    # ------------------------------------------------------------------ scan
    @cached_property
    def _scan(self) -> _Scan:
        lo, hi = self.curve.t_range
        t = np.linspace(lo, hi, int(np.ceil((hi - lo) / self.grid_step)) + 1)
        with np.errstate(all="ignore"):
            if self.curve.stationarity_slope is None:
                stat, slope = self.curve.stationarity(t), None
            else:
                stat, slope = self.curve.stationarity_slope(t)
            stat = np.where(np.isnan(stat), -np.inf, stat)
            finite = stat[np.isfinite(stat)]
            noise = RUN_NOISE * (1.0 + (np.max(np.abs(finite)) if finite.size else 0.0))
            runs = _increasing_runs(stat, noise)
            return _Scan(t, self.curve.log_eta(t), self.curve.f_increment(t), stat, slope, runs, _envelope(stat, runs))

    # --------------------------------------------------------- float64 path
    def _refine(self, target: Array, cell: Array) -> Array:
        """Root of L(t) = target in grid cells [t[cell], t[cell + 1]]."""
        sc = self._scan
        lo, hi = sc.t[cell], sc.t[cell + 1]
        g_lo, g_hi = sc.stationarity[cell], sc.stationarity[cell + 1]
        if self.curve.stationarity_slope is None:
            return illinois_increasing(self.curve.stationarity, target, lo, hi, g_lo, g_hi)
        x0 = _inverse_hermite(target, lo, hi, g_lo, g_hi, sc.slope[cell], sc.slope[cell + 1])
        return newton_increasing(self.curve.stationarity_slope, target, lo, hi, x0)

    def _solve(self, target: Array) -> tuple[Array, Array, Array]:
        """(log eta_hat, objective J = 2*(Omega - Omega(0)), kind) for targets T = 2 log|w|.

        kind: INTERIOR (a stationary point), LOWER_END (root below the grid:
        log eta_hat is the grid's bottom) or UPPER_LIMIT (eta -> inf wins:
        log eta_hat = inf, J = f_sup).
        """
        sc = self._scan
        n = target.size
        best_tau, best_j = np.full(n, np.nan), np.full(n, np.inf)
        kind = np.full(n, INTERIOR, dtype=np.int8)
        for start, stop in self._scan.runs:
            k = np.searchsorted(sc.envelope[start : stop + 1], target, side="right") - 1
            inside = np.flatnonzero((k >= 0) & (k < stop - start))
            if inside.size:
                t_hat = self._refine(target[inside], start + k[inside])
                tau = self.curve.log_eta(t_hat)
                j = np.exp(target[inside] - tau) + self.curve.f_increment(t_hat)
                better = j < best_j[inside]
                best_tau[inside[better]], best_j[inside[better]] = tau[better], j[better]
            if start == 0:
                low = np.flatnonzero(k < 0)
                j = np.exp(target[low] - sc.log_eta[0]) + sc.f_increment[0]
                better = j < best_j[low]
                best_tau[low[better]], best_j[low[better]] = sc.log_eta[0], j[better]
                kind[low[better]] = LOWER_END
        limit = np.flatnonzero((target > sc.stationarity[-1]) & ~(best_j < self.curve.f_sup))
        best_tau[limit], best_j[limit], kind[limit] = np.inf, self.curve.f_sup, UPPER_LIMIT
        return best_tau, best_j, kind

    @cached_property
    def _zero(self) -> tuple[int, float]:
        """(grid index, eta_hat) of w -> 0+: the first grid point where L is finite (eta_hat = 0 if the bottom)."""
        sc = self._scan
        i = int(np.argmax(np.isfinite(sc.stationarity)))
        return i, 0.0 if i == 0 else float(np.exp(sc.log_eta[i]))

    def _grid_prime(self, i: int) -> float:
        """sqrt(f'(eta)) = exp(L/2 - log eta) at grid point i: Omega' where the root leaves the grid."""
        sc = self._scan
        with np.errstate(all="ignore"):
            return float(np.exp(0.5 * sc.stationarity[i] - sc.log_eta[i]))

    def _direct(self, w: Array) -> Evaluation:
        """Evaluation by solving the stationarity equation (w >= 0, not NaN; call under errstate)."""
        target = 2.0 * np.log(w)
        tau, j, kind = self._solve(target)
        prime = np.exp(0.5 * target - tau)
        prime = np.where(kind == LOWER_END, self._grid_prime(0), prime)
        prime = np.where(kind == UPPER_LIMIT, self.curve.omega_prime_inf, prime)
        eta = np.exp(tau)
        zero = w == 0
        i0, eta0 = self._zero
        eta[zero], prime[zero], j[zero] = eta0, self._grid_prime(i0), 0.0
        return Evaluation(eta, 0.5 * j, prime)

    def evaluate(self, w: object) -> Evaluation:
        """eta_hat(|w|), Omega(|w|) - Omega(0), Omega'(|w|) as float64 arrays of w's shape.

        NaN gives NaN; w = 0 gives eta_hat(0+), 0 and Omega'(0+); |w| = inf
        gives the limits.  Inside the table range (if any) a Chebyshev table
        is used, elsewhere the stationarity equation is solved.
        """
        return Evaluation(*self._parts(w, ALL_PARTS))

    def _parts(self, w: object, parts: tuple[int, ...]) -> list[Array]:
        """The requested parts of :meth:`evaluate`, in the order asked."""
        x, shape = _as_magnitude(w)
        out = {p: np.full(x.size, np.nan) for p in parts}
        with np.errstate(all="ignore"):
            rest = np.flatnonzero(~np.isnan(x))
            if self.cap_at_critical:
                capped = x[rest] >= self.w_critical
                limit = (np.inf, 0.5 * self.curve.f_sup, self.curve.omega_prime_inf)
                for p in parts:
                    out[p][rest[capped]] = limit[p]
                rest = rest[~capped]
            if self._table is not None:
                xr = x[rest]
                inside = (xr >= self._table.w_lo) & (xr < self._table.w_hi)
                idx = rest[inside]
                for p, v in self._table.evaluate(np.log(x[idx]), parts).items():
                    out[p][idx] = v
                rest = rest[~inside]
            if rest.size:
                direct = self._direct(x[rest])
                for p in parts:
                    out[p][rest] = direct[p]
        return [out[p].reshape(shape) for p in parts]

    def eta_hat(self, w: object) -> Array:
        """The minimising eta for |w| (float64)."""
        return self._parts(w, (ETA,))[0]

    def omega_increment(self, w: object) -> Array:
        """Omega(|w|) - Omega(0), to full relative precision (float64)."""
        return self._parts(w, (OMEGA,))[0]

    def omega(self, w: object) -> Array:
        """Omega(|w|) = f(0+)/2 + Omega_increment(|w|) (float64)."""
        return 0.5 * self.curve.f0 + self._parts(w, (OMEGA,))[0]

    def omega_prime(self, w: object) -> Array:
        """Omega'(|w|) = |w|/eta_hat(|w|); at w = 0 the right limit Omega'(0+)."""
        return self._parts(w, (PRIME,))[0]

    def f_dual(self, eta: object) -> Array:
        """f(eta) (float64); eta < 0 or NaN gives NaN, eta = 0 gives f(0+), inf gives lim f."""
        e = np.asarray(eta, dtype=float)
        flat = e.ravel()
        out = np.full(flat.size, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.log(flat)
        sc = self._scan
        ok = ~np.isnan(tau)
        out[ok & (tau <= sc.log_eta[0])] = sc.f_increment[0]
        out[flat == 0] = 0.0
        out[ok & (tau >= sc.log_eta[-1])] = self.curve.f_sup
        mid = np.flatnonzero(ok & (tau > sc.log_eta[0]) & (tau < sc.log_eta[-1]))
        if mid.size:
            out[mid] = self.curve.f_increment(self._t_of_log_eta(tau[mid]))
        return (self.curve.f0 + out).reshape(e.shape)

    def _t_of_log_eta(self, tau: Array) -> Array:
        """Invert log_eta(t) = tau (log_eta increasing)."""
        sc = self._scan
        if self.curve.parameter == "log(eta)":
            return tau
        k = np.clip(np.searchsorted(sc.log_eta, tau, side="right") - 1, 0, sc.t.size - 2)
        return illinois_increasing(self.curve.log_eta, tau, sc.t[k], sc.t[k + 1], sc.log_eta[k], sc.log_eta[k + 1])

    # ---------------------------------------------------------- mpmath path
    def _objective_mp(self, t: mpmath.mpf, target: mpmath.mpf) -> mpmath.mpf:
        return mpmath.exp(target - self.curve.mp_log_eta(t)) + self.curve.mp_f_increment(t)

    def _candidates_mp(self, target: mpmath.mpf) -> list[tuple[mpmath.mpf, mpmath.mpf]]:
        """(objective, t) for each upward crossing of L through target, refined by findroot."""
        sc, c = self._scan, self.curve
        found = []
        for start, stop in sc.runs:
            k = int(np.searchsorted(sc.envelope[start : stop + 1], float(target), side="right")) - 1
            if not 0 <= k < stop - start:
                continue
            a, b = sc.t[max(start, start + k - 1)], sc.t[min(stop, start + k + 2)]
            a, b = mpmath.mpf(a), mpmath.mpf(b)
            if not c.mp_stationarity(a) <= target < c.mp_stationarity(b):
                continue
            t = mpmath.findroot(lambda s: c.mp_stationarity(s) - target, (a, b), solver="anderson")
            found.append((self._objective_mp(t, target), t))
        return found

    def _grid_check_mp(self, target: mpmath.mpf, best: mpmath.mpf) -> list[tuple[mpmath.mpf, mpmath.mpf]]:
        """The best grid point, if its objective beats ``best`` (a missed minimum), refined
        by golden section and polished by findroot."""
        sc = self._scan
        with np.errstate(all="ignore"):
            j = np.exp(float(target) - sc.log_eta) + sc.f_increment
        i = int(np.nanargmin(j))
        if not j[i] < float(best) - 1e-13 * max(1.0, abs(float(best))):
            return []
        lo, hi = mpmath.mpf(sc.t[max(i - 1, 0)]), mpmath.mpf(sc.t[min(i + 1, sc.t.size - 1)])
        t = _golden_min_mp(lambda s: self._objective_mp(s, target), lo, hi)
        polished = mpmath.findroot(lambda s: self.curve.mp_stationarity(s) - target, t, verify=False)
        if lo <= polished <= hi:
            t = polished
        return [(self._objective_mp(t, target), t)]

    def _solve_mp(self, w: object, dps: int) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
        """(eta_hat, Omega - Omega(0), Omega') at |w| with ``dps`` digits."""
        c, sc = self.curve, self._scan
        x = abs(mpmath.mpf(w))
        if mpmath.isnan(x):
            return mpmath.nan, mpmath.nan, mpmath.nan
        if x == 0:
            i, _ = self._zero
            eta0 = mpmath.mpf(0) if i == 0 else mpmath.exp(c.mp_log_eta(mpmath.mpf(sc.t[i])))
            return eta0, mpmath.mpf(0), self._grid_prime_mp(i)
        f_sup = mpmath.mpf(c.f_sup)
        if mpmath.isinf(x):
            return mpmath.inf, f_sup / 2, mpmath.mpf(self.curve.omega_prime_inf)
        target = 2 * mpmath.log(x)
        found = self._candidates_mp(target)
        if sc.runs and sc.runs[0][0] == 0 and float(target) < sc.stationarity[0]:
            t0 = mpmath.mpf(sc.t[0])
            found.append((self._objective_mp(t0, target), t0))
        t_top = mpmath.mpf(sc.t[-1])
        if c.mp_stationarity(t_top) < target:
            beyond = None if mpmath.isfinite(f_sup) else self._beyond_top_mp(target)
            found.append(beyond if beyond is not None else (f_sup, mpmath.inf))
        if not found:
            raise ArithmeticError(f"no candidate minimum for w = {w}: curve range too small")
        found += self._grid_check_mp(target, min(found)[0])
        j, t = min(found, key=lambda p: p[0])
        if mpmath.isinf(t):
            return mpmath.inf, j / 2, mpmath.mpf(self.curve.omega_prime_inf)
        tau = c.mp_log_eta(t)
        return mpmath.exp(tau), j / 2, mpmath.exp(target / 2 - tau)

    def _beyond_top_mp(self, target: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf] | None:
        """The root of L(t) = target above the scanned interval (mpmath has no overflow) when L still increases
        there, searched on doubling steps; None if none is found in 40 steps."""
        c, sc = self.curve, self._scan
        if not sc.runs or sc.runs[-1][1] != sc.t.size - 1:
            return None
        lo, step = mpmath.mpf(sc.t[-1]), mpmath.mpf(self.grid_step)
        for _ in range(40):
            hi = lo + step
            if c.mp_stationarity(hi) >= target:
                t = mpmath.findroot(lambda s: c.mp_stationarity(s) - target, (lo, hi), solver="anderson")
                return self._objective_mp(t, target), t
            lo, step = hi, 2 * step
        return None

    def _grid_prime_mp(self, i: int) -> mpmath.mpf:
        """exp(L/2 - log eta) at grid point i (mpmath): Omega' where the root leaves the grid."""
        t = mpmath.mpf(self._scan.t[i])
        return mpmath.exp(self.curve.mp_stationarity(t) / 2 - self.curve.mp_log_eta(t))

    def eta_hat_mp(self, w: object, dps: int = 40) -> mpmath.mpf:
        """eta_hat(|w|) with ``dps`` significant digits (mpmath)."""
        with mpmath.workdps(dps):
            return +self._solve_mp(w, dps)[0]

    def omega_increment_mp(self, w: object, dps: int = 40) -> mpmath.mpf:
        """Omega(|w|) - Omega(0) with ``dps`` digits (mpmath)."""
        with mpmath.workdps(dps):
            return +self._solve_mp(w, dps)[1]

    def omega_mp(self, w: object, dps: int = 40) -> mpmath.mpf:
        """Omega(|w|) = f(0+)/2 + (Omega(|w|) - Omega(0)) with ``dps`` digits (mpmath)."""
        with mpmath.workdps(dps):
            return self.curve.mp_f0() / 2 + self._solve_mp(w, dps)[1]

    def omega_prime_mp(self, w: object, dps: int = 40) -> mpmath.mpf:
        """Omega'(|w|) = |w|/eta_hat(|w|) with ``dps`` digits (mpmath)."""
        with mpmath.workdps(dps):
            return +self._solve_mp(w, dps)[2]

    # ------------------------------------------------------- critical point
    def critical_point(self, dps: int = 40) -> CriticalPoint | None:
        """The |w| beyond which the infimum is reached only as eta -> inf, or None.

        For bounded f, w_c**2 = sup_t (f_sup - f(t))*eta(t); the jump exists
        when this sup is attained at a finite t_c (tangency
        L(t_c) = log_eta(t_c) + log(f_sup - f(t_c))), not only in the limit.
        Found on the grid where f_sup - f is resolved to 8 digits, refined by
        ``mpmath.findroot``.
        """
        c, sc = self.curve, self._scan
        if not np.isfinite(c.f_sup):
            return None
        resolved = np.flatnonzero(c.f_sup - sc.f_increment > RESOLVED * (1 + abs(c.f_sup)))
        if resolved.size == 0:
            return None
        with np.errstate(all="ignore"):
            g = np.log(c.f_sup - sc.f_increment[resolved]) + sc.log_eta[resolved]
        g = np.where(np.isfinite(g), g, -np.inf)
        k = int(np.argmax(g))
        if k == g.size - 1 or not g[k] > g[-1] + RESOLVED * (1 + abs(g[-1])):
            return None
        i = int(resolved[k])
        with mpmath.workdps(dps):
            f_sup = mpmath.mpf(c.f_sup)

            def tangency(t: mpmath.mpf) -> mpmath.mpf:
                return c.mp_stationarity(t) - c.mp_log_eta(t) - mpmath.log(f_sup - c.mp_f_increment(t))

            a, b = mpmath.mpf(sc.t[max(i - 1, 0)]), mpmath.mpf(sc.t[i + 1])
            t = mpmath.findroot(tangency, (a, b), solver="anderson", verify=False)
            if not (a <= t <= b and abs(tangency(t)) < mpmath.eps ** 0.5):
                raise ArithmeticError(f"critical point: no tangency found in [{a}, {b}]")
            tau = c.mp_log_eta(t)
            w = mpmath.sqrt((f_sup - c.mp_f_increment(t)) * mpmath.exp(tau))
            return CriticalPoint(+w, mpmath.exp(tau), +t)

    def certified(self, w_lo: float = 1e-6, w_hi: float = 1e6, n: int = 200, dps: int = 40) -> EtaTrickNumeric:
        """A copy whose ``precision`` is measured: the max relative error of eta_hat,
        Omega - Omega(0) and Omega' against the mpmath path at ``dps`` digits on n
        log-spaced |w| in [w_lo, w_hi] (infinite or zero references must match exactly).
        """
        w = np.geomspace(w_lo, w_hi, n)
        got = self.evaluate(w)
        worst = 0.0
        for i, x in enumerate(w):
            deadline.check("the certification of the numeric eta-trick solver")
            with mpmath.workdps(dps):
                ref = self._solve_mp(x, dps)
                for value, exact in zip((got[0][i], got[1][i], got[2][i]), ref, strict=False):
                    if mpmath.isinf(exact) or exact == 0:
                        err = 0.0 if value == exact else float("inf")
                    else:
                        err = float(abs((value - exact) / exact))
                    worst = max(worst, err if err == err else float("inf"))
        copy = EtaTrickNumeric(
            self.curve,
            precision=worst,
            certificate=f"measured vs mpmath {dps} digits at {n} log-spaced w in [{w_lo:g}, {w_hi:g}]",
            grid_step=self.grid_step,
            name=self.name,
            table_range=self._table_range,
            table_tol=self.table_tol,
            cap_at_critical=self.cap_at_critical,
        )
        copy.__dict__.update({k: v for k, v in self.__dict__.items() if k in ("_scan", "_table", "w_critical")})
        return copy

    @cached_property
    def w_critical(self) -> float:
        """float64 |w| of :meth:`critical_point` (40 digits), inf when there is no jump."""
        point = self.critical_point(40)
        return float("inf") if point is None else float(point.w)

    # ------------------------------------------------------------ table
    @cached_property
    def _table(self) -> _Table | None:
        """The Chebyshev table on ``table_range`` built on first use; an upper end None means
        w_critical, and no table when there is no jump."""
        if self._table_range is None:
            return None
        w_lo, w_hi = self._table_range
        w_hi = self.w_critical if w_hi is None else w_hi
        if not np.isfinite(w_hi):
            return None

        def fun(v: Array) -> Array:
            with np.errstate(all="ignore"):
                return _Table.values(v, self._direct(np.exp(v)))

        cheb = fit_chebyshev(fun, float(np.log(w_lo)), float(np.log(w_hi)), degree=16, tol=self.table_tol, floor=1.0)
        return _Table(cheb, w_lo, w_hi)

    def describe(self) -> str:
        """One line: method, claimed precision and how it was certified."""
        method = "safeguarded Newton" if self.curve.stationarity_slope is not None else "Illinois regula falsi"
        lo, hi = self.curve.t_range
        text = (
            f"numeric ({self.name}): {method} in {self.curve.parameter} on [{lo:g}, {hi:g}] after a "
            f"global scan (step {self.grid_step:g}); max rel err {self.precision:.1e} ({self.certificate})"
        )
        if self._table is not None:
            c = self._table.cheb
            text += (
                f"; Chebyshev table in log w on [{self._table.w_lo:.3g}, {self._table.w_hi:.17g}): {c.panels} panels "
                f"of degree {c.degree}, measured error {c.error:.1e} (relative) vs the solver"
            )
        return text

    def __repr__(self) -> str:
        return f"EtaTrickNumeric({self.name!r}, precision={self.precision:.1e})"


def mp_sigmoid(x: mpmath.mpf) -> mpmath.mpf:
    """1/(1 + e**-x) at the working precision."""
    return 1 / (1 + mpmath.exp(-x))


def to_mpf(value: object) -> mpmath.mpf:
    """A parameter as mpf at the working precision: floats by their decimal repr, Fractions exactly."""
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    if isinstance(value, float):
        return mpmath.mpf(repr(value))
    return mpmath.mpf(value)


def _golden_min_mp(fun: MpFun, lo: mpmath.mpf, hi: mpmath.mpf) -> mpmath.mpf:
    """Golden-section minimiser of a unimodal fun on [lo, hi] to working precision."""
    r = (mpmath.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - r * (b - a), a + r * (b - a)
    fc, fd = fun(c), fun(d)
    tol = mpmath.eps ** 0.5 * (1 + abs(a) + abs(b))
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - r * (b - a)
            fc = fun(c)
        else:
            a, c, fc = c, d, fd
            d = a + r * (b - a)
            fd = fun(d)
    return (a + b) / 2
