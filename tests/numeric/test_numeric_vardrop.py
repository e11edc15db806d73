"""Variational dropout duals against mpmath at 40 digits, computed here independently.

Exact KL (lam = 1): f - f0 = eta*2F2(1,1;3/2,2;-eta/2) (mpmath.hyp2f2),
f = log(eta) + 2 E log|1 + z/sqrt(eta)| (mpmath.quad of the Gaussian expectation),
f' = D(x)/x with D(x) = sqrt(pi)/2 exp(-x**2) erfi(x), x = sqrt(eta/2).

Acceptance (w in [1e-6, 1e6]): relative error of eta_hat, Omega(w) - Omega(0)
and Omega' at most the claimed precision (<= 1e-12), with the reference made
by parametric inversion (pick eta, then w = eta*sqrt(f'(eta)) is the weight
whose stationary point it is) and the global minimum confirmed by
mpmath.findroot plus brute-force minimisation over a dense grid of eta.
"""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

from symdual.numeric import dawson, vardrop
from symdual.numeric.vardrop import vardrop_approx, vardrop_exact

DPS = 40
K1, K2, K3 = "0.63576", "1.87320", "1.48695"


# ------------------------------------------------------------ references
def f_hyp(eta):
    """f - f0 = eta*2F2(1, 1; 3/2, 2; -eta/2)."""
    return eta * mpmath.hyp2f2(1, 1, 1.5, 2, -eta / 2)


def f_expectation(eta):
    """log(eta) + 2 E log|1 + z/sqrt(eta)| by quadrature, split at the singularity z = -sqrt(eta)."""
    r = mpmath.sqrt(eta)

    def g(z):
        return mpmath.log(abs(r + z)) * mpmath.npdf(z)

    return mpmath.log(eta) + 2 * (mpmath.quad(g, [-mpmath.inf, -r, 0, mpmath.inf]) - mpmath.log(r))


def dawson_ratio(eta):
    """D(x)/x at x = sqrt(eta/2), Dawson's function through erfi."""
    x = mpmath.sqrt(eta / 2)
    return mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-x * x) * mpmath.erfi(x) / x


def F0():
    return -(mpmath.euler + mpmath.log(2))


def approx_f_fp(eta):
    k1, k2, k3 = map(mpmath.mpf, (K1, K2, K3))
    s = 1 / (1 + mpmath.exp(-(k3 * mpmath.log(eta) - k2)))
    f = 2 * (k1 * s + mpmath.log1p(eta) / 2)
    fp = 2 * (k1 * k3 * s * (1 - s) / eta + 1 / (2 * (1 + eta)))
    return f, fp


def asymptotic_f_fp(eta, terms=30):
    """f - f0 = log(eta) - f0 - sum_k (2k-1)!!/(k eta**k), f' = sum_k (2k-1)!!/eta**(k+1) (eta >= 300)."""
    f, fp, term = mpmath.log(eta) - F0(), 1 / eta, mpmath.mpf(1)
    for k in range(1, terms):
        term *= (2 * k - 1) / eta
        f -= term / k
        fp += term / eta
    return f, fp


def exact_f_fp(eta):
    """(f - f0, f'): hypergeometric below eta = 300, the asymptotic series above."""
    if eta > 300:
        return asymptotic_f_fp(eta)
    return f_hyp(eta), mpmath.hyp1f1(1, 1.5, -eta / 2)


def inverted(f_fp, etas):
    """(w, eta_hat, Omega - Omega(0), Omega') at the weights whose stationary points are ``etas``."""
    rows = []
    with mpmath.workdps(DPS):
        for eta in etas:
            f, fp = f_fp(eta)
            w = eta * mpmath.sqrt(fp)
            rows.append((w, eta, (w * w / eta + f) / 2, w / eta))
    return rows


def max_rel(num, rows):
    w = np.array([float(r[0]) for r in rows])
    got = num.evaluate(w)
    return max(float(abs((got[k][i] - r[k + 1]) / r[k + 1])) for i, r in enumerate(rows) for k in range(3))


# ----------------------------------------------------- representations of f
@pytest.mark.parametrize("eta", ["1e-3", "0.1", "1", "3", "10", "50", "200"])
def test_three_representations_agree(eta):
    with mpmath.workdps(DPS):
        eta = mpmath.mpf(eta)
        tol = mpmath.mpf(10) ** -32
        assert abs(F0() + f_hyp(eta) - f_expectation(eta)) < tol
        assert abs(mpmath.diff(lambda e: f_hyp(e), eta) - dawson_ratio(eta)) < tol
        assert abs(mpmath.hyp1f1(1, 1.5, -eta / 2) - dawson_ratio(eta)) < tol
        assert abs(vardrop.mp_kl_exact_f(eta) - f_expectation(eta)) < tol
        assert abs(vardrop.mp_kl_exact_f_prime(eta) - dawson_ratio(eta)) < tol


def test_f0_is_twice_expected_log_abs_normal():
    """f(0+) = 2 E log|z| = -(euler_gamma + log 2); and f - log(eta) -> 0 (no extra constant)."""
    with mpmath.workdps(DPS):
        two_e_log = 2 * mpmath.quad(lambda z: mpmath.log(abs(z)) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        assert abs(two_e_log - F0()) < mpmath.mpf(10) ** -35
        eta = mpmath.mpf(10) ** 6
        assert abs(F0() + f_hyp(eta) - mpmath.log(eta) + 1 / eta + mpmath.mpf(3) / (2 * eta**2)) < 1e-17


def test_float_f_and_f_prime_against_mpmath():
    etas = np.concatenate([np.geomspace(1e-12, 1e12, 241), [0.5, 2.0, 100.0, 1e300]])
    f = vardrop.kl_exact_f(etas)
    increment = dawson.f_increment(np.log(etas))
    fp = vardrop.kl_exact_f_prime(etas)
    with mpmath.workdps(30):
        for i, e in enumerate(etas):
            ref, ref_fp = exact_f_fp(mpmath.mpf(e))
            assert abs(f[i] - F0() - ref) < 2e-15 * max(1, abs(F0() + ref))  # f crosses 0: mixed error
            assert abs((increment[i] - ref) / ref) < 4e-15
            assert abs((fp[i] - ref_fp) / ref_fp) < 4e-15
    assert vardrop.kl_exact_f(0.0) == float(F0()) and vardrop.kl_exact_f_prime(0.0) == 1.0
    assert vardrop.kl_exact_f(2.0, lam=4) == vardrop.kl_exact_f(2.0) / 4


def test_exact_f_is_concave_and_stationarity_increasing():
    etas = np.geomspace(1e-6, 1e8, 2000)
    fp = vardrop.kl_exact_f_prime(etas)
    assert np.all(np.diff(fp) < 0)  # f' = D(x)/x decreasing: f concave
    assert np.all(np.diff(etas**2 * fp) > 0)  # eta**2 f' increasing: eta_hat continuous


# ------------------------------------------------------------- acceptance
@pytest.fixture(scope="module")
def exact():
    return vardrop_exact()


@pytest.fixture(scope="module")
def approx():
    return vardrop_approx()


def log_spaced_eta(n, lo=-6.05, hi=12.05):
    return [mpmath.mpf(10) ** mpmath.mpf(x) for x in np.linspace(lo, hi, n)]


def test_exact_accuracy_w_1e_minus6_to_1e6(exact):
    rows = inverted(exact_f_fp, log_spaced_eta(200))
    assert min(float(r[0]) for r in rows) < 1e-6 and max(float(r[0]) for r in rows) > 1e6
    err = max_rel(exact, rows)
    assert err <= exact.precision <= 1e-12


def test_approx_accuracy_w_1e_minus6_to_1e6(approx):
    rows = inverted(approx_f_fp, log_spaced_eta(200))
    err = max_rel(approx, rows)
    assert err <= approx.precision <= 1e-12


@pytest.mark.parametrize("lo, hi", [(-16.0, -6.05), (12.05, 30.0)])
def test_exact_tails_outside_table(exact, lo, hi):
    rows = inverted(exact_f_fp, log_spaced_eta(20, lo, hi))
    assert max_rel(exact, rows) <= 1e-13


def test_omega_difference_absolute(exact):
    """Omega(w) - Omega(w0) with w0 = 0 from ``omega`` (absolute; relative via omega_increment)."""
    w = np.geomspace(1e-6, 1e6, 50)
    diff = exact.omega(w) - exact.omega(0.0)
    assert np.max(np.abs(diff - exact.omega_increment(w)) / np.maximum(1.0, np.abs(diff))) < 1e-15


def test_global_minimum_findroot_and_brute_force(exact):
    """mpmath.findroot of eta**2 f'(eta) = w**2, confirmed by a brute-force scan of w**2/eta + f."""
    with mpmath.workdps(20):
        log_eta = np.linspace(-18, 32, 1501)
        f_grid = np.array([float(exact_f_fp(mpmath.exp(t))[0]) for t in log_eta])
    for w in [1e-6, 3e-3, 0.2, 1.0, 4.0, 70.0, 1e4, 1e6]:
        with mpmath.workdps(DPS):
            w_mp = mpmath.mpf(w)
            guess = max(w * (1 + w) * 0.9, 1e-300)
            eta = mpmath.findroot(lambda e, w_mp=w_mp: e * e * exact_f_fp(e)[1] - w_mp**2, guess)
            omega = (w_mp**2 / eta + exact_f_fp(eta)[0]) / 2
        j = np.exp(2 * np.log(w) - log_eta) + f_grid
        assert float(2 * omega) <= j.min() * (1 + 1e-12)
        assert abs(log_eta[j.argmin()] - float(mpmath.log(eta))) <= 0.05
        assert abs(exact.eta_hat(w) / float(eta) - 1) < 1e-13
        assert abs(exact.omega_increment(w) / float(omega) - 1) < 1e-13


def test_mp_path_at_40_and_60_digits(exact, approx):
    for dps in (40, 60):
        with mpmath.workdps(dps):
            eta = mpmath.mpf("7.5")
            w = eta * mpmath.sqrt(mpmath.hyp1f1(1, 1.5, -eta / 2))
            tol = mpmath.mpf(10) ** -(dps - 5)
            assert abs(exact.eta_hat_mp(w, dps) / eta - 1) < tol
            assert abs(exact.omega_mp(w, dps) - (w * w / eta + F0() + f_hyp(eta)) / 2) < tol
            assert abs(exact.omega_prime_mp(w, dps) - w / eta) < tol
    (w, eta, inc, prime), = inverted(approx_f_fp, [mpmath.mpf("0.02")])
    with mpmath.workdps(DPS):
        assert abs(approx.eta_hat_mp(w) / eta - 1) < mpmath.mpf(10) ** -35
        assert abs(approx.omega_increment_mp(w) / inc - 1) < mpmath.mpf(10) ** -35


# --------------------------------------------------------------- approx KL
def test_approx_f_not_concave_but_no_jump():
    """f'' > 0 near 0 (k3 > 1), yet eta**2 f' increases: the infimum does not jump."""
    with mpmath.workdps(30):
        def f(e):
            return approx_f_fp(e)[0]

        assert mpmath.diff(f, mpmath.mpf("1e-3"), 2) > 0
        assert mpmath.diff(f, mpmath.mpf(10), 2) < 0
        etas = [mpmath.mpf(10) ** mpmath.mpf(x) for x in np.linspace(-8, 8, 801)]
        s = [e * e * approx_f_fp(e)[1] for e in etas]
    assert all(b > a for a, b in zip(s, s[1:], strict=False))
    assert len(vardrop_approx(lam=0.3)._scan.runs) == 1


def test_approx_float_f_against_mpmath():
    etas = np.geomspace(1e-10, 1e10, 300)
    f, fp = vardrop.kl_approx_f(etas), vardrop.kl_approx_f_prime(etas)
    with mpmath.workdps(30):
        for i, e in enumerate(etas):
            rf, rfp = approx_f_fp(mpmath.mpf(e))
            assert abs((f[i] - rf) / rf) < 4e-15
            assert abs((fp[i] - rfp) / rfp) < 4e-15


def test_lam_validation():
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lam must be a positive"):
            vardrop_exact(bad)
