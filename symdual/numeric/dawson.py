"""The exact variational-dropout dual through Dawson's function D, in float64 and mpmath.

For the log-uniform prior (lam = 1), with x = sqrt(eta/2) and z ~ N(0, 1)::

    f(eta) = log(eta) + 2*E log|1 + z/sqrt(eta)| = 2*E log|sqrt(eta) + z|
    f(eta) - f0 = 4*int_0^x D(u) du = eta * 2F2(1, 1; 3/2, 2; -eta/2)
    f'(eta)     = D(x)/x = 1F1(1; 3/2; -eta/2)
    f0 = f(0+)  = 2*E log|z| = -(euler_gamma + log 2)

Three float64 regimes for the increment f - f0 and for f':
  * eta <= 2 (resp. 1/2): the Taylor series
        f - f0 = sum_n (-1)**n eta**(n+1)/((2n+1)!! (n+1)),   f' = sum_n (-eta)**n/(2n+1)!!;
  * eta >= 100: the asymptotic series (u = 1/eta, terms below 1e-19 at eta = 100)
        f = log(eta) - sum_k (2k-1)!! u**k/k,   eta*f' = sum_k (2k-1)!! u**k  (k >= 0);
  * in between: a piecewise Chebyshev interpolant of 4*int_0^x D in x, fitted
    once (lazily) to mpmath values at 30 digits; f' = scipy.special.dawsn(x)/x.
Everything is written in tau = log(eta), so eta far beyond the float64 range
(eta_hat ~ w**2 for huge w) is handled without overflow.
"""
from __future__ import annotations

from functools import lru_cache

import mpmath
import numpy as np
from scipy.special import dawsn

from .chebyshev import PiecewiseChebyshev, fit_chebyshev

Array = np.ndarray
ETA_SERIES_F = 2.0
ETA_SERIES_FPRIME = 0.5
ETA_ASYMPTOTIC = 100.0
_N_TAYLOR, _N_ASYMPTOTIC = 28, 34
F0 = -(float(mpmath.euler) + float(mpmath.log(2)))
"""f(0+) = -(euler_gamma + log 2)."""


def _double_factorials(n: int) -> Array:
    """(2k-1)!! for k = 0..n-1 (with (-1)!! = 1)."""
    return np.concatenate([[1.0], np.cumprod(np.arange(1, 2 * n - 2, 2, dtype=float))])


_DF = _double_factorials(_N_ASYMPTOTIC + 1)
_TAYLOR_F = np.array([(-1.0) ** n / (_DF[n + 1] * (n + 1)) for n in range(_N_TAYLOR)])
_TAYLOR_FPRIME = np.array([(-1.0) ** n / _DF[n + 1] for n in range(_N_TAYLOR)])
_ASYM_F = np.array([_DF[k] / k for k in range(1, _N_ASYMPTOTIC + 1)])
_ASYM_FPRIME = _DF[:_N_ASYMPTOTIC]


def _horner(coefs: Array, x: Array) -> Array:
    """sum_k coefs[k] * x**k."""
    out = np.zeros_like(x)
    for c in coefs[::-1]:
        out = out * x + c
    return out


def _horner_with_slope(coefs: Array, x: Array) -> tuple[Array, Array]:
    """(p(x), x*p'(x)) for p = sum_k coefs[k] x**k."""
    k = np.arange(coefs.size)
    return _horner(coefs, x), _horner(coefs * k, x)


@lru_cache(maxsize=1)
def _middle_table() -> PiecewiseChebyshev:
    """4*int_0^x D(u) du = 2 x**2 * 2F2(1,1;3/2,2;-x**2) on x in [1, sqrt(50)], from mpmath at 30 digits."""

    def fun(x: Array) -> Array:
        with mpmath.workdps(30):
            values = [2 * mpmath.mpf(v) ** 2 * mpmath.hyp2f2(1, 1, 1.5, 2, -mpmath.mpf(v) ** 2) for v in x]
        return np.array([[float(v) for v in values]])

    return fit_chebyshev(fun, 1.0, float(np.sqrt(ETA_ASYMPTOTIC / 2)), degree=16, tol=2e-15, floor=0.0)


def f_increment(tau: Array) -> Array:
    """f(eta) - f0 at eta = exp(tau) (float64, vectorised)."""
    tau = np.asarray(tau, dtype=float)
    out = np.empty_like(tau)
    small = tau <= np.log(ETA_SERIES_F)
    large = tau >= np.log(ETA_ASYMPTOTIC)
    middle = ~small & ~large
    eta = np.exp(tau[small])
    out[small] = eta * _horner(_TAYLOR_F, eta)
    u = np.exp(-tau[large])
    out[large] = tau[large] - F0 - u * _horner(_ASYM_F, u)
    out[middle] = _middle_table()(np.sqrt(0.5 * np.exp(tau[middle])))[0]
    return out


def stationarity(tau: Array) -> tuple[Array, Array]:
    """L = log(eta**2 f'(eta)) = 2*tau + log f'(e**tau) and dL/dtau (float64)."""
    tau = np.asarray(tau, dtype=float)
    value, slope = np.empty_like(tau), np.empty_like(tau)
    small = tau <= np.log(ETA_SERIES_FPRIME)
    large = tau >= np.log(ETA_ASYMPTOTIC)
    middle = ~small & ~large
    eta = np.exp(tau[small])
    h, eta_h1 = _horner_with_slope(_TAYLOR_FPRIME, eta)
    value[small] = 2 * tau[small] + np.log(h)
    slope[small] = 2 + eta_h1 / h
    u = np.exp(-tau[large])
    g, u_g1 = _horner_with_slope(_ASYM_FPRIME, u)
    value[large] = tau[large] + np.log(g)
    slope[large] = 1 - u_g1 / g
    x = np.sqrt(0.5 * np.exp(tau[middle]))
    d = dawsn(x)
    value[middle] = 2 * tau[middle] + np.log(d / x)
    slope[middle] = 1.5 + x / (2 * d) - x * x
    return value, slope


def f(eta: Array) -> Array:
    """f(eta) = f0 + (f - f0); f(0) = f0 (float64)."""
    eta = np.asarray(eta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return F0 + np.where(eta == 0, 0.0, f_increment(np.log(eta)))


def f_prime(eta: Array) -> Array:
    """f'(eta) = D(sqrt(eta/2))/sqrt(eta/2); f'(0) = 1 (float64; NaN for eta < 0)."""
    eta = np.asarray(eta, dtype=float)
    out = np.full(eta.shape, np.nan)
    small = (eta >= 0) & (eta <= ETA_SERIES_FPRIME)
    large = eta >= ETA_ASYMPTOTIC
    middle = (eta > ETA_SERIES_FPRIME) & ~large
    out[small] = _horner(_TAYLOR_FPRIME, eta[small])
    with np.errstate(over="ignore"):
        u = 1.0 / eta[large]
    out[large] = u * _horner(_ASYM_FPRIME, u)
    x = np.sqrt(0.5 * eta[middle])
    out[middle] = dawsn(x) / x
    return out


# ------------------------------------------------------------------ mpmath
def _mp_asymptotic_ok(eta: mpmath.mpf) -> bool:
    """The asymptotic series reaches below 10**-(dps+10) when eta > 5*(dps + 10)."""
    return eta > 5 * (mpmath.mp.dps + 10)


def _mp_asymptotic_sum(u: mpmath.mpf, weight) -> mpmath.mpf:
    """sum_{k>=1} (2k-1)!! u**k * weight(k), summed until the terms are negligible."""
    total, term, k = mpmath.mpf(0), mpmath.mpf(1), 1
    tiny = mpmath.eps * mpmath.mpf(2) ** -20
    while True:
        term *= (2 * k - 1) * u
        total += term * weight(k)
        if abs(term) < tiny:
            return total
        k += 1


def mp_f0() -> mpmath.mpf:
    """f(0+) = -(euler_gamma + log 2) at the working precision."""
    return -(mpmath.euler + mpmath.log(2))


def mp_f_increment(tau: mpmath.mpf) -> mpmath.mpf:
    """f - f0 at eta = exp(tau): eta*2F2(1,1;3/2,2;-eta/2), asymptotic series for large eta."""
    eta = mpmath.exp(tau)
    if _mp_asymptotic_ok(eta):
        return tau - mp_f0() - _mp_asymptotic_sum(1 / eta, lambda k: mpmath.mpf(1) / k)
    return eta * mpmath.hyp2f2(1, 1, 1.5, 2, -eta / 2)


def mp_stationarity(tau: mpmath.mpf) -> mpmath.mpf:
    """L = 2*tau + log 1F1(1; 3/2; -eta/2), asymptotic series for large eta."""
    eta = mpmath.exp(tau)
    if _mp_asymptotic_ok(eta):
        return tau + mpmath.log1p(_mp_asymptotic_sum(1 / eta, lambda k: 1))
    return 2 * tau + mpmath.log(mpmath.hyp1f1(1, 1.5, -eta / 2))


def mp_f(eta: mpmath.mpf) -> mpmath.mpf:
    """f(eta) at the working precision."""
    eta = mpmath.mpf(eta)
    return mp_f0() if eta == 0 else mp_f0() + mp_f_increment(mpmath.log(eta))


def mp_f_prime(eta: mpmath.mpf) -> mpmath.mpf:
    """f'(eta) = 1F1(1; 3/2; -eta/2) at the working precision."""
    eta = mpmath.mpf(eta)
    return mpmath.mpf(1) if eta == 0 else mpmath.exp(mp_stationarity(mpmath.log(eta))) / eta**2
