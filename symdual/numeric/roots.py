"""Vectorised bracketed root finding for increasing functions.

Every element solves ``g(x) = target`` on its own bracket ``[lo, hi]`` with
``g(lo) <= target < g(hi)``; iterates never leave the bracket, so the result
is the root up to rounding, whatever the starting point.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray
_EPS = np.finfo(float).eps
_MAX_ITER = 100
NEWTON_FINAL_STEP = 1e-10


def _converged(x_new: Array, x_old: Array, lo: Array, hi: Array) -> Array:
    scale = 1.0 + np.abs(x_new)
    return (np.abs(x_new - x_old) <= 4 * _EPS * scale) | (hi - lo <= 4 * _EPS * scale)


def _at_rounding(residual: Array, value: Array) -> Array:
    """The residual is at the rounding level of the value: no iterate can do better."""
    return np.abs(residual) <= 2 * _EPS * (1.0 + np.abs(value))


def newton_increasing(
    value_and_slope: Callable[[Array], tuple[Array, Array]],
    target: Array,
    lo: Array,
    hi: Array,
    x0: Array,
) -> Array:
    """Safeguarded Newton: Newton steps, bisection whenever a step leaves the bracket.

    An element stops once a Newton step is below ``NEWTON_FINAL_STEP`` (relative):
    by quadratic convergence the stepped iterate is then exact to
    |g''/(2 g')| * 1e-20.
    """
    x, lo, hi = x0.astype(float), lo.astype(float), hi.astype(float)
    active = np.arange(x.size)
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        xa, la, ha = x[active], lo[active], hi[active]
        g, dg = value_and_slope(xa)
        r = g - target[active]
        below = r < 0
        la = np.where(below, xa, la)
        ha = np.where(below, ha, xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = xa - r / dg
        newton = (xn > la) & (xn < ha)
        at_root = _at_rounding(r, g)
        xn = np.where(newton, xn, np.where(at_root, xa, 0.5 * (la + ha)))
        small_step = newton & (np.abs(xn - xa) <= NEWTON_FINAL_STEP * (1.0 + np.abs(xa)))
        done = _converged(xn, xa, la, ha) | at_root | small_step
        x[active], lo[active], hi[active] = xn, la, ha
        active = active[~done]
    return x


def illinois_increasing(
    value: Callable[[Array], Array],
    target: Array,
    lo: Array,
    hi: Array,
    g_lo: Array,
    g_hi: Array,
) -> Array:
    """Illinois regula falsi on ``[lo, hi]`` given ``g(lo)`` and ``g(hi)`` (derivative-free)."""
    lo, hi = lo.astype(float), hi.astype(float)
    r_lo, r_hi = g_lo - target, g_hi - target
    side = np.zeros(lo.size, dtype=np.int8)
    at_lo = _at_rounding(r_lo, g_lo)
    x = np.where(at_lo, lo, np.nan)
    active = np.flatnonzero(~at_lo)
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        la, ha, rl, rh = lo[active], hi[active], r_lo[active], r_hi[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            xa = la - rl * (ha - la) / (rh - rl)
        xa = np.where((xa > la) & (xa < ha), xa, 0.5 * (la + ha))
        r = value(xa) - target[active]
        below = r < 0
        prev = side[active]
        rh = np.where(below & (prev == -1), 0.5 * rh, rh)
        rl = np.where(~below & (prev == 1), 0.5 * rl, rl)
        la, rl = np.where(below, xa, la), np.where(below, r, rl)
        ha, rh = np.where(below, ha, xa), np.where(below, rh, r)
        side[active] = np.where(below, -1, 1)
        done = _converged(xa, x[active], la, ha) | _at_rounding(r, r + target[active])
        x[active], lo[active], hi[active], r_lo[active], r_hi[active] = xa, la, ha, rl, rh
        active = active[~done]
    return x
