"""Variational dropout (Kingma 2015, Molchanov 2017): the eta-trick dual of the KL term.

Gaussian noise of variance alpha = 1/eta on each weight (the paper's
parameterisation, docs/catalog.md) and f(eta) = 2*KL(alpha = 1/eta)/lam:

* exact KL, log-uniform prior (lam = 1), see :mod:`symdual.numeric.dawson`::

      f(eta) = log(eta) + 2*E log|1 + z/sqrt(eta)| = f0 + eta * 2F2(1, 1; 3/2, 2; -eta/2),
      f'(eta) = D(sqrt(eta/2))/sqrt(eta/2),   f0 = f(0+) = -(euler_gamma + log 2);

* approximate KL (Molchanov's k1, k2, k3)::

      f(eta) = (2/lam) * (k1*sigmoid(k3*log(eta) - k2) + 1/2*log(1 + eta)),   f(0+) = 0.

The two are normalised differently (constants do not change Omega - Omega(0)):
exact f(0+) = -(euler_gamma + log 2) and f - log(eta) -> 0 as eta -> inf
(f = log(eta) - 1/eta - 3/(2 eta**2) - ...); approximate f(0+) = 0 and
f - log(eta) -> 2*k1 = 1.27152, close to the exact rise euler_gamma + log 2 = 1.27036.

lam enters only as f -> f/lam, hence Omega_lam(w) = Omega_1(sqrt(lam)*w)/lam and
eta_hat_lam(w) = eta_hat_1(sqrt(lam)*w).  Both duals are unbounded (Omega grows
like log|w|).  The approximate f is not concave (f'' > 0 near 0 since k3 > 1),
but eta**2 f'(eta) is increasing, so the infimum has no jump; the global scan of
:class:`~symdual.numeric.eta_trick.EtaTrickNumeric` checks this for every lam.
"""
from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
from scipy.special import expit, log_expit

from ..constants import MOLCHANOV_K
from . import dawson
from .eta_trick import DualCurve, EtaTrickNumeric, mp_sigmoid, to_mpf

Array = np.ndarray
_MP_K = MOLCHANOV_K
K1, K2, K3 = (float(k) for k in MOLCHANOV_K)
"""Molchanov et al. (2017) constants of the approximate KL."""
LOG_ETA_RANGE = (-760.0, 1450.0)
"""Covers eta_hat(w) for every positive float64 w (eta_hat ~ w near 0, ~ w**2 at infinity)."""
TABLE_RANGE = (1e-8, 1e8)
"""|w| served by the Chebyshev table (built on first use); the solver elsewhere."""

EXACT_PRECISION = 1e-14
EXACT_CERTIFICATE = (
    "measured 6.7e-15 vs mpmath 40 digits (2F2 and 1F1; eta_hat, Omega - Omega(0), Omega') at 2001 "
    "weights w(eta) = eta*sqrt(f'(eta)), eta log-spaced over w in [8.9e-7, 1.06e6], lam = 1"
)
APPROX_PRECISION = 1e-14
APPROX_CERTIFICATE = (
    "measured 6.1e-15 vs mpmath 40 digits (eta_hat, Omega - Omega(0), Omega') at 2001 weights "
    "w(eta) = eta*sqrt(f'(eta)), eta log-spaced over w in [8.9e-7, 1.06e6], lam = 1"
)


def _check_lam(lam: float) -> float:
    lam = float(lam)
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a positive finite number, got {lam!r}")
    return lam


def _scaled_curve(
    increment: Callable[[Array], Array],
    stationarity_slope: Callable[[Array], tuple[Array, Array]],
    mp_increment: Callable[[mpmath.mpf], mpmath.mpf],
    mp_stationarity: Callable[[mpmath.mpf], mpmath.mpf],
    mp_f0: Callable[[], mpmath.mpf],
    lam: float,
) -> DualCurve:
    """The curve t = log(eta) of f/lam, from the pieces of f (lam = 1)."""
    log_lam = float(np.log(lam))

    def slope(tau: Array) -> tuple[Array, Array]:
        value, d = stationarity_slope(tau)
        return value - log_lam, d

    return DualCurve(
        log_eta=lambda tau: np.asarray(tau, dtype=float),
        f_increment=lambda tau: increment(tau) / lam,
        stationarity=lambda tau: slope(tau)[0],
        stationarity_slope=slope,
        mp_log_eta=lambda tau: tau,
        mp_f_increment=lambda tau: mp_increment(tau) / to_mpf(lam),
        mp_stationarity=lambda tau: mp_stationarity(tau) - mpmath.log(to_mpf(lam)),
        mp_f0=lambda: mp_f0() / to_mpf(lam),
        f0=float(mp_f0()) / lam,
        f_sup=float("inf"),
        t_range=LOG_ETA_RANGE,
    )


# ----------------------------------------------------------------- exact KL
def kl_exact_f(eta: Array, lam: float = 1.0) -> Array:
    """f(eta) = (f0 + eta*2F2(1,1;3/2,2;-eta/2))/lam (float64)."""
    return dawson.f(eta) / _check_lam(lam)


def kl_exact_f_prime(eta: Array, lam: float = 1.0) -> Array:
    """f'(eta) = D(sqrt(eta/2))/(sqrt(eta/2)*lam) (float64)."""
    return dawson.f_prime(eta) / _check_lam(lam)


def mp_kl_exact_f(eta: object, lam: object = 1) -> mpmath.mpf:
    """f(eta) at the working mpmath precision."""
    return dawson.mp_f(eta) / to_mpf(lam)


def mp_kl_exact_f_prime(eta: object, lam: object = 1) -> mpmath.mpf:
    """f'(eta) at the working mpmath precision."""
    return dawson.mp_f_prime(eta) / to_mpf(lam)


def vardrop_exact(lam: float = 1.0) -> EtaTrickNumeric:
    """Eta-trick numerics of variational dropout with the exact log-uniform KL."""
    lam = _check_lam(lam)
    curve = _scaled_curve(
        dawson.f_increment, dawson.stationarity, dawson.mp_f_increment, dawson.mp_stationarity, dawson.mp_f0, lam
    )
    return EtaTrickNumeric(
        curve, precision=EXACT_PRECISION, certificate=EXACT_CERTIFICATE, name=f"vardrop exact KL, lam={lam:g}",
        table_range=TABLE_RANGE,
    )


# ----------------------------------------------------------- approximate KL
def _approx_increment(tau: Array) -> Array:
    """2*k1*sigmoid(k3*tau - k2) + log(1 + e**tau) (lam = 1, f0 = 0)."""
    tau = np.asarray(tau, dtype=float)
    return 2 * K1 * np.exp(log_expit(K3 * tau - K2)) + np.logaddexp(0.0, tau)


def _approx_stationarity(tau: Array) -> tuple[Array, Array]:
    """L = tau + log(2 k1 k3 s(z) s(-z) + s(tau)), z = k3*tau - k2, s = sigmoid; and dL/dtau."""
    tau = np.asarray(tau, dtype=float)
    z = K3 * tau - K2
    log_a = np.log(2 * K1 * K3) + log_expit(z) + log_expit(-z)
    log_b = log_expit(tau)
    log_sum = np.logaddexp(log_a, log_b)
    a, b = np.exp(log_a - log_sum), np.exp(log_b - log_sum)
    s_z, s_t = np.exp(log_expit(z)), np.exp(log_expit(tau))
    return tau + log_sum, 1 + a * K3 * (1 - 2 * s_z) + b * (1 - s_t)


def _mp_approx_increment(tau: mpmath.mpf) -> mpmath.mpf:
    k1, k2, k3 = (mpmath.mpf(k) for k in _MP_K)
    return 2 * k1 * mp_sigmoid(k3 * tau - k2) + mpmath.log1p(mpmath.exp(tau))


def _mp_approx_stationarity(tau: mpmath.mpf) -> mpmath.mpf:
    k1, k2, k3 = (mpmath.mpf(k) for k in _MP_K)
    z = k3 * tau - k2
    return tau + mpmath.log(2 * k1 * k3 * mp_sigmoid(z) * mp_sigmoid(-z) + mp_sigmoid(tau))


def kl_approx_f(eta: Array, lam: float = 1.0) -> Array:
    """f(eta) = (2/lam)*(k1*sigmoid(k3*log(eta) - k2) + 1/2*log(1 + eta)) (float64)."""
    eta = np.asarray(eta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(eta == 0, 0.0, _approx_increment(np.log(eta))) / _check_lam(lam)


def kl_approx_f_prime(eta: Array, lam: float = 1.0) -> Array:
    """f'(eta) = (2/lam)*(k1*k3*s*(1 - s)/eta + 1/(2*(1 + eta))), s = sigmoid(k3*log(eta) - k2); f'(0) = 1/lam."""
    eta = np.asarray(eta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = K3 * np.log(eta) - K2
        fp = 2 * K1 * K3 * expit(z) * expit(-z) / eta + 1 / (1 + eta)
    return np.where(eta == 0, 1.0, fp) / _check_lam(lam)


def mp_kl_approx_f(eta: object, lam: object = 1) -> mpmath.mpf:
    """f(eta) at the working mpmath precision."""
    eta = mpmath.mpf(eta)
    return (0 if eta == 0 else _mp_approx_increment(mpmath.log(eta))) / to_mpf(lam)


def mp_kl_approx_f_prime(eta: object, lam: object = 1) -> mpmath.mpf:
    """f'(eta) at the working mpmath precision."""
    eta = mpmath.mpf(eta)
    if eta == 0:
        return 1 / to_mpf(lam)
    return mpmath.exp(_mp_approx_stationarity(mpmath.log(eta))) / eta**2 / to_mpf(lam)


def vardrop_approx(lam: float = 1.0) -> EtaTrickNumeric:
    """Eta-trick numerics of variational dropout with Molchanov's approximate KL."""
    lam = _check_lam(lam)
    curve = _scaled_curve(
        _approx_increment, _approx_stationarity, _mp_approx_increment, _mp_approx_stationarity,
        lambda: mpmath.mpf(0), lam,
    )
    return EtaTrickNumeric(
        curve, precision=APPROX_PRECISION, certificate=APPROX_CERTIFICATE, name=f"vardrop approx KL, lam={lam:g}",
        table_range=TABLE_RANGE,
    )
