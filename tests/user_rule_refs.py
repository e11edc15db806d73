"""Independent mpmath references for the held-out rule battery (tests/test_user_rules.py).

Nothing here imports symdual: every value is computed from a definition.

* :func:`quad_omega`  Omega(w) = integral_0^w t/eta_hat(t) dt (mpmath.quad, split at breakpoints and decades)
* :func:`eta_trick`   Omega(w) = 1/2 inf_eta [w**2/eta + f(eta)]: dense scan in t = log(eta), golden-section
                      refinement, and the eta -> oo candidate f(oo); returns the value and the argmin
* :func:`dual_sup`    f(eta) = sup_w [2 Omega(w) - w**2/eta] over w = 0, every upward crossing of
                      eta_hat(w) = eta (the stationary maxima, found by bisection in log w) and w -> oo
* :func:`rel_err`     relative error as float64 can show it (0, oo, overflow and underflow compared exactly)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import mpmath
from mpmath import mpf

MpFn = Callable[[mpf], mpf]
DPS = 30
INF = mpmath.inf


def mp(x: object) -> mpf:
    """x as an mpmath number (strings and floats exactly as written)."""
    return mpf(x) if not isinstance(x, mpf) else x


def integrand(eta_hat: MpFn) -> MpFn:
    """t/eta_hat(t), 0 where eta_hat = oo (no dropout: Omega' = 0)."""
    def fn(t: mpf) -> mpf:
        e = eta_hat(t)
        return mpf(0) if e == INF else t / e
    return fn


def _splits(w: mpf, breaks: Sequence[object]) -> list[mpf]:
    """0, the breakpoints below w (numbers, or callables evaluated at the working precision), decades and
    quarter steps up to 10 below w, then w."""
    inner = {b() if callable(b) else mp(b) for b in breaks} | {mpf(10) ** k for k in range(-30, 40)}
    inner |= {mpf(k) / 4 for k in range(1, 40)}
    return [mpf(0)] + sorted(x for x in inner if 0 < x < w) + [w]


def quad_omega(eta_hat: MpFn, w: object, breaks: Sequence[object] = (), dps: int = DPS) -> mpf:
    """Omega(w) = integral_0^w t/eta_hat(t) dt at ``dps`` digits (Omega(0) = 0)."""
    with mpmath.workdps(dps + 10):
        w = mp(w)
        if w == 0:
            return mpf(0)
        return mpmath.quad(integrand(eta_hat), _splits(w, breaks))


def _golden(fn: MpFn, a: mpf, b: mpf, iters: int) -> tuple[mpf, mpf]:
    """min of fn on [a, b] by golden section: (value, argmin)."""
    g = (mpmath.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = fn(c), fn(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = fn(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = fn(d)
    return (fc, c) if fc < fd else (fd, d)


def eta_trick(f: MpFn, w: object, f_inf: object, f_zero: object = 0, lo: float = -80, hi: float = 80,
              step: float = 0.1, dps: int = DPS) -> tuple[mpf, mpf]:
    """(Omega(w), eta_hat(w)): Omega = 1/2 inf_eta [w**2/eta + f(eta)] - f(0+)/2, by a scan of t = log(eta) on
    [lo, hi], golden section (120 steps) around the best point, and the candidate eta -> oo (value f(oo)).
    ``f_inf`` and ``f_zero`` are numbers or callables evaluated at the working precision."""
    with mpmath.workdps(dps + 10):
        w = mp(w)
        f_inf, f_zero = (v() if callable(v) else mp(v) for v in (f_inf, f_zero))
        if w == 0:
            return mpf(0), mpf(0)

        def objective(t: mpf) -> mpf:
            e = mpmath.exp(t)
            return w**2 / e + f(e)

        n = int(round((hi - lo) / step))
        ts = [mpf(lo) + (mpf(hi) - lo) * i / n for i in range(n + 1)]
        vals = [objective(t) for t in ts]
        i = min(range(n + 1), key=vals.__getitem__)
        best, arg = _golden(objective, ts[max(i - 1, 0)], ts[min(i + 1, n)], 120)
        if vals[i] < best:
            best, arg = vals[i], ts[i]
        if f_inf < best:
            return (f_inf - f_zero) / 2, INF
        return (best - f_zero) / 2, mpmath.exp(arg)


def _bisect_log(pred: Callable[[mpf], bool], a: mpf, b: mpf, iters: int = 140) -> mpf:
    """The point in [a, b] where pred switches from True (at a) to False (at b), bisecting log w."""
    la, lb = mpmath.log(a), mpmath.log(b)
    for _ in range(iters):
        m = (la + lb) / 2
        if pred(mpmath.exp(m)):
            la = m
        else:
            lb = m
    return mpmath.exp((la + lb) / 2)


def dual_sup(omega: MpFn, eta_hat: MpFn, eta: object, lo: int = -20, hi: int = 20, per_decade: int = 20,
             dps: int = DPS) -> mpf:
    """f(eta) = sup_{w >= 0} [2 Omega(w) - w**2/eta], Omega(0) = 0.

    d/dw [2 Omega - w**2/eta] = 2 w (1/eta_hat(w) - 1/eta): the maxima sit where eta_hat crosses eta upwards
    (a jump to oo included); if eta_hat stays below eta at w = 10**hi the supremum is +oo.
    """
    with mpmath.workdps(dps + 10):
        e = mp(eta)
        ws = [mpf(10) ** (mpf(k) / per_decade) for k in range(lo * per_decade, hi * per_decade + 1)]
        below = [eta_hat(x) < e for x in ws]
        if below[-1]:
            return INF
        best = mpf(0)
        for i in range(len(ws) - 1):
            if below[i] and not below[i + 1]:
                x = _bisect_log(lambda v: eta_hat(v) < e, ws[i], ws[i + 1])
                best = max(best, 2 * omega(x) - x**2 / e)
        return best


DBL_MAX = mpf("1.7976931348623157e308")
DBL_TINY = mpf("2.2250738585072014e-308")


def rel_err(got: float, want: mpf) -> float:
    """|got - want|/|want| as float64 can show it: 0 and oo compared exactly, a true value beyond DBL_MAX must
    come out as +-inf, one below the normal range (|want| < 2.2e-308) as a float below it (0 or subnormal)."""
    if want in (INF, -INF) or abs(want) > DBL_MAX:
        return 0.0 if got == (float("inf") if want > 0 else float("-inf")) else float("inf")
    if want == 0:
        return 0.0 if got == 0 else float("inf")
    if got != got or got in (float("inf"), float("-inf")):
        return float("inf")
    if abs(want) < DBL_TINY:
        return 0.0 if abs(got) < DBL_TINY and got * want >= 0 else float("inf")
    return float(abs((mpf(got) - want) / want))
