"""Build :class:`~symdual.numeric.eta_trick.EtaTrickNumeric` from a user's dual f.

Three ways to give f:
  * ``from_dual``: float64 and mpmath callables of eta for f and f' (f'' optional);
  * ``from_sympy_dual``: a SymPy expression in eta (lambdified for numpy and mpmath);
  * ``from_parametric``: a curve a -> (eta(a), f(a)) with a > 0 and eta increasing in a,
    given with the a-derivatives (the curve is used in t = log a).

Limits: f0 = f(0+) and f_sup = lim_{eta->inf} f are taken as given; otherwise
f0 is estimated as f(1e-100) and f_sup as f(1e200) (inf when f still grows
between 1e100 and 1e200), both with mpmath at 40 digits; for unbounded f,
lim Omega'(w) as w -> inf is estimated as sqrt(f'(1e200)).
"""
from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
import sympy as sp

from ..parsing import check_expression
from .eta_trick import DualCurve, EtaTrickNumeric
from .stable import numpy_function

Array = np.ndarray
FloatFun = Callable[[Array], Array]
MpFun = Callable[[mpmath.mpf], mpmath.mpf]
LOG_ETA_RANGE = (-700.0, 700.0)


def _quiet(fun: FloatFun) -> FloatFun:
    """fun on float64 arrays with floating-point warnings silenced (NaN/inf are handled by the caller)."""
    def wrapped(x: Array) -> Array:
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(fun(x), dtype=float), np.shape(x)).copy()

    return wrapped


def _estimate_f0(mp_f: MpFun) -> float:
    with mpmath.workdps(40):
        return float(mp_f(mpmath.mpf("1e-100")))


def _estimate_f_sup(mp_f: MpFun) -> float:
    with mpmath.workdps(40):
        a, b = mp_f(mpmath.mpf("1e100")), mp_f(mpmath.mpf("1e200"))
        return float(b) if abs(b - a) <= mpmath.mpf("1e-12") * (1 + abs(b)) else float("inf")


def _log_positive(x: Array) -> Array:
    """log x, with -inf where x <= 0 or x is NaN (J decreasing or undefined there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)


def from_dual(
    f: FloatFun,
    f_prime: FloatFun,
    mp_f: MpFun,
    mp_f_prime: MpFun,
    *,
    f_second: FloatFun | None = None,
    f0: float | None = None,
    f_sup: float | None = None,
    log_eta_range: tuple[float, float] = LOG_ETA_RANGE,
    name: str = "dual",
) -> EtaTrickNumeric:
    """Numerics for the dual f(eta) (vectorised float64 f, f', optional f''; mpmath f, f').

    Curve t = log(eta):  L(t) = 2t + log f'(e**t),  dL/dt = 2 + eta f''/f'.
    """
    f, f_prime = _quiet(f), _quiet(f_prime)
    f0_value = _estimate_f0(mp_f) if f0 is None else float(f0)
    sup = _estimate_f_sup(mp_f) - f0_value if f_sup is None else float(f_sup) - f0_value
    with mpmath.workdps(40):
        prime_inf = 0.0 if np.isfinite(sup) else float(mpmath.sqrt(mp_f_prime(mpmath.mpf("1e200"))))

    def stationarity(tau: Array) -> Array:
        return 2 * tau + _log_positive(f_prime(np.exp(tau)))

    slope = None
    if f_second is not None:
        f_second = _quiet(f_second)

        def slope(tau: Array) -> tuple[Array, Array]:
            eta = np.exp(tau)
            d1 = f_prime(eta)
            with np.errstate(all="ignore"):
                return 2 * tau + _log_positive(d1), 2 + eta * f_second(eta) / d1

    curve = DualCurve(
        log_eta=lambda tau: np.asarray(tau, dtype=float),
        f_increment=lambda tau: f(np.exp(tau)) - f0_value,
        stationarity=stationarity,
        stationarity_slope=slope,
        mp_log_eta=lambda tau: tau,
        mp_f_increment=lambda tau: mp_f(mpmath.exp(tau)) - mpmath.mpf(f0_value),
        mp_stationarity=lambda tau: 2 * tau + mpmath.log(mp_f_prime(mpmath.exp(tau))),
        mp_f0=lambda: mpmath.mpf(f0_value),
        f0=f0_value,
        f_sup=sup,
        t_range=log_eta_range,
        omega_prime_inf=prime_inf,
    )
    return EtaTrickNumeric(curve, name=name)


def from_sympy_dual(
    f_expr: sp.Expr,
    eta_symbol: sp.Symbol,
    *,
    f_sup: float | None = None,
    log_eta_range: tuple[float, float] = LOG_ETA_RANGE,
    name: str | None = None,
) -> EtaTrickNumeric:
    """Numerics for a SymPy dual f(eta): f, f', f'' lambdified for numpy and mpmath.

    The derivatives are put over a common denominator (``sympy.cancel``) so
    that, e.g., f = b*eta/(eta + b) gives f' = b**2/(eta + b)**2 without the
    cancellation of the raw quotient rule at large eta.  f0 = f(0+) is f_expr
    at eta = 0 when SymPy finds a finite value there, otherwise the numerical
    estimate of :func:`from_dual`.  The float64 path is as accurate as the
    lambdified expressions: ``precision`` is NaN until :meth:`certified`.
    """
    extra = f_expr.free_symbols - {eta_symbol}
    if extra:
        raise ValueError(f"f has free symbols other than {eta_symbol}: {sorted(map(str, extra))}")
    d1 = sp.cancel(sp.diff(f_expr, eta_symbol))
    d2 = sp.cancel(sp.diff(d1, eta_symbol))
    for e in (f_expr, d1, d2):
        check_expression(e, strict=False)  # known functions and identifiers only reach lambdify
    np_funs = [numpy_function(e, eta_symbol) for e in (f_expr, d1, d2)]  # SciPy's erf & co. are vectorised
    mp_funs = [sp.lambdify(eta_symbol, e, modules="mpmath") for e in (f_expr, d1)]
    at_zero = f_expr.subs(eta_symbol, 0)
    f0 = float(at_zero) if at_zero.is_number and at_zero.is_finite else None
    return from_dual(
        np_funs[0], np_funs[1], mp_funs[0], mp_funs[1],
        f_second=np_funs[2], f0=f0, f_sup=f_sup, log_eta_range=log_eta_range,
        name=name or f"f = {f_expr}",
    )


def from_parametric(
    eta: FloatFun,
    f: FloatFun,
    eta_prime: FloatFun,
    f_prime: FloatFun,
    mp_eta: MpFun,
    mp_f: MpFun,
    mp_eta_prime: MpFun,
    mp_f_prime: MpFun,
    *,
    f0: float,
    f_sup: float,
    log_a_range: tuple[float, float] = (-50.0, 50.0),
    name: str = "parametric dual",
) -> EtaTrickNumeric:
    """Numerics for a dual given as a curve a -> (eta(a), f(a)), a > 0, eta increasing.

    Curve t = log a:  log eta(e**t),  f - f0,  L(t) = log(eta**2 (df/da)/(deta/da)).
    ``f0`` = lim_{a->0} f, ``f_sup`` = lim_{a->inf} f (inf if unbounded).
    """
    eta, f, eta_prime, f_prime = map(_quiet, (eta, f, eta_prime, f_prime))

    def stationarity(t: Array) -> Array:
        a = np.exp(t)
        with np.errstate(all="ignore"):
            return 2 * np.log(eta(a)) + _log_positive(f_prime(a) / eta_prime(a))

    def mp_stationarity(t: mpmath.mpf) -> mpmath.mpf:
        a = mpmath.exp(t)
        return 2 * mpmath.log(mp_eta(a)) + mpmath.log(mp_f_prime(a) / mp_eta_prime(a))

    curve = DualCurve(
        log_eta=lambda t: np.log(eta(np.exp(t))),
        f_increment=lambda t: f(np.exp(t)) - f0,
        stationarity=stationarity,
        mp_log_eta=lambda t: mpmath.log(mp_eta(mpmath.exp(t))),
        mp_f_increment=lambda t: mp_f(mpmath.exp(t)) - mpmath.mpf(f0),
        mp_stationarity=mp_stationarity,
        mp_f0=lambda: mpmath.mpf(f0),
        f0=float(f0),
        f_sup=float(f_sup) - float(f0),
        t_range=log_a_range,
        parameter="log(a)",
    )
    return EtaTrickNumeric(curve, name=name)
