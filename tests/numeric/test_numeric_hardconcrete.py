"""HardConcrete gates: exact moments, the dual curve, the critical point, accuracy.

The references are written here: E[s], E[s**2] by mpmath.quad over u in
(0, 1) split at the clip points of the gate (40 digits), Monte Carlo with
gates sampled by the definition, derivatives by mpmath.diff, and brute-force
minimisation of w**2/eta(a) + f(a) over a grid of log a.
"""
from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from symdual.numeric import hardconcrete
from symdual.numeric.gates import HardConcrete

DPS = 40
DEFAULT = (Fraction(2, 3), "-0.1", "1.1")


# -------------------------------------------------------------- references
def sig(x):
    return 1 / (1 + mpmath.exp(-x))


def params(beta=DEFAULT[0], gamma=DEFAULT[1], zeta=DEFAULT[2]):
    b = mpmath.mpf(beta.numerator) / beta.denominator if isinstance(beta, Fraction) else mpmath.mpf(beta)
    return b, mpmath.mpf(gamma), mpmath.mpf(zeta)


def moments_u(t, beta=DEFAULT[0], gamma=DEFAULT[1], zeta=DEFAULT[2]):
    """E[s], E[s**2] at log a = t: quadrature over u between the clip points, plus P(s = 1)."""
    b, g, z = params(beta, gamma, zeta)

    def gate(u):
        return sig((mpmath.log(u) - mpmath.log(1 - u) + t) / b) * (z - g) + g

    u0 = sig(b * mpmath.log(-g / z) - t)  # gate = 0 below
    u1 = sig(b * mpmath.log((1 - g) / (z - 1)) - t)  # gate = 1 above
    m1 = mpmath.quad(gate, [u0, u1]) + (1 - u1)
    m2 = mpmath.quad(lambda u: gate(u) ** 2, [u0, u1]) + (1 - u1)
    return m1, m2


def eta_ref(t, lam=1):
    m1, m2 = moments_u(t)
    return 1 / (lam * (m2 / m1**2 - 1))


def f_ref(t):
    b, g, z = params()
    return sig(t - b * mpmath.log(-g / z))


def inverted(t):
    """(w, eta_hat, Omega - Omega(0), Omega') for the weight whose stationary point is log a = t."""
    eta = eta_ref(t)
    f = f_ref(t)
    w = mpmath.sqrt(eta**2 * f * (1 - f) / mpmath.diff(eta_ref, t))
    return w, eta, (w * w / eta + f) / 2, w / eta


@pytest.fixture(scope="module")
def hc():
    return hardconcrete()


@pytest.fixture(scope="module")
def critical():
    """w_c**2 = max_a (1 - f(a))*eta(a), by mpmath.findroot on its derivative."""
    with mpmath.workdps(DPS):
        def g(t):
            return (1 - f_ref(t)) * eta_ref(t)

        t_c = mpmath.findroot(lambda t: mpmath.diff(g, t), mpmath.mpf("0.38"))
        return mpmath.sqrt(g(t_c)), eta_ref(t_c), t_c


# ---------------------------------------------------------------- moments
@pytest.mark.parametrize("t", ["-20", "-5", "-1", "0", "0.3", "2", "8", "20"])
def test_moments_against_quadrature(t):
    gate = HardConcrete()
    m1, m2 = gate.moments(float(t))
    with mpmath.workdps(DPS):
        r1, r2 = moments_u(mpmath.mpf(t))
        assert abs(m1 / r1 - 1) < 1e-14 and abs(m2 / r2 - 1) < 1e-14
        p1, p2 = gate.mp_moments(t)
        assert abs(p1 / r1 - 1) < mpmath.mpf(10) ** -35 and abs(p2 / r2 - 1) < mpmath.mpf(10) ** -35


@pytest.mark.parametrize("beta, gamma, zeta", [(0.5, "-0.2", "1.2"), (2.0, "-0.05", "1.3")])
def test_moments_other_parameters(beta, gamma, zeta):
    gate = HardConcrete(beta, float(gamma), float(zeta))
    with mpmath.workdps(30):
        for t in ("-6", "0.7", "5"):
            r1, r2 = moments_u(mpmath.mpf(t), beta, gamma, zeta)
            m1, m2 = gate.moments(float(t))
            assert abs(m1 / r1 - 1) < 1e-14 and abs(m2 / r2 - 1) < 1e-14


@pytest.mark.parametrize("log_a", [-2.0, 0.0, 1.5])
def test_monte_carlo_moments(log_a):
    """Real sampled gates: sample means within 4 standard errors of the exact moments."""
    gate = HardConcrete()
    rng = np.random.default_rng(20240521)
    n = 1_000_000
    u = rng.random(n)
    beta, gamma, zeta = 2 / 3, -0.1, 1.1
    s = np.clip(1 / (1 + np.exp(-(np.log(u) - np.log1p(-u) + log_a) / beta)) * (zeta - gamma) + gamma, 0, 1)
    m1, m2 = gate.moments(log_a)
    for sample, exact in ((s, m1), (s * s, m2)):
        assert abs(sample.mean() - exact) < 4 * sample.std() / np.sqrt(n)
    assert abs(np.mean(s > 0) - gate.f(log_a)) < 4 * np.sqrt(gate.f(log_a) * (1 - gate.f(log_a)) / n)
    drawn = gate.sample_gates(log_a, n, rng)
    assert abs(drawn.mean() - m1) < 4 * drawn.std() / np.sqrt(n)


def test_eta_and_f_increase_in_a():
    gate = HardConcrete()
    t = np.linspace(-60, 30, 3601)
    log_eta, slope = gate.log_eta(t)
    assert np.all(np.diff(log_eta) > 0) and np.all(slope > 0.8)
    assert np.all(np.diff(gate.f(t)) > 0)
    with mpmath.workdps(20):
        for x in ("-10", "0.5", "6"):
            assert mpmath.diff(eta_ref, mpmath.mpf(x)) > 0


# ------------------------------------------------------- critical point
def test_critical_point(hc, critical):
    w_c, eta_c, t_c = critical
    point = hc.critical_point(DPS)
    with mpmath.workdps(DPS):
        assert abs(point.w - w_c) < mpmath.mpf(10) ** -30
        assert abs(point.eta / eta_c - 1) < mpmath.mpf(10) ** -15
        assert abs(hc.w_critical - w_c) < 1e-15
        # the sup is interior: it beats the limit a -> inf (about 0.256 < w_c**2 = 0.2862)
        assert (1 - f_ref(mpmath.mpf(25))) * eta_ref(mpmath.mpf(25)) < w_c**2 - mpmath.mpf("0.02")
    assert float(w_c) == pytest.approx(0.534989074777984, abs=1e-15)


def test_jump_at_critical_point(hc, critical):
    w_c, eta_c, _ = critical
    below, above = float(w_c) * (1 - 1e-9), float(w_c) * (1 + 1e-9)
    e = hc.evaluate([below, above, 1e6, np.inf])
    assert abs(e.eta_hat[0] / float(eta_c) - 1) < 1e-6
    assert abs(e.omega_prime[0] - float(w_c / eta_c)) < 1e-6 and e.omega_prime[0] > 0.2
    assert np.all(np.isinf(e.eta_hat[1:])) and np.all(e.omega_increment[1:] == 0.5)
    assert np.all(e.omega_prime[1:] == 0)
    assert abs(e.omega_increment[0] - 0.5) < 1e-9  # Omega is continuous at w_c


def test_local_minimum_beyond_critical_point_is_not_the_infimum(hc):
    """For w in (w_c, 0.542) a stationary point still exists, with objective above the limit 1."""
    w = mpmath.mpf("0.538")
    with mpmath.workdps(20):
        def stationary(t):
            return eta_ref(t) ** 2 * f_ref(t) * (1 - f_ref(t)) / mpmath.diff(eta_ref, t) - w**2

        t = mpmath.findroot(stationary, (mpmath.mpf("0.4"), mpmath.mpf("0.9")), solver="anderson")
        assert w**2 / eta_ref(t) + f_ref(t) > 1
    assert np.isinf(hc.eta_hat(float(w))) and hc.omega_increment(float(w)) == 0.5


# -------------------------------------------------------------- accuracy
def test_accuracy_w_1e_minus6_to_critical(hc):
    with mpmath.workdps(DPS):
        rows = [inverted(mpmath.mpf(t)) for t in np.linspace(-15.2, 0.378, 22)]
    w = np.array([float(r[0]) for r in rows])
    assert w.min() < 1e-6 and w.max() < hc.w_critical
    got = hc.evaluate(w)
    err = max(float(abs((got[k][i] - r[k + 1]) / r[k + 1])) for i, r in enumerate(rows) for k in range(3))
    assert err <= hc.precision <= 1e-12
    beyond = hc.evaluate(np.geomspace(0.54, 1e6, 20))
    assert np.all(np.isinf(beyond.eta_hat)) and np.all(beyond.omega_increment == 0.5)


def test_brute_force_over_log_a(hc):
    t = np.linspace(-20, 25, 301)
    with mpmath.workdps(16):
        eta = np.array([float(eta_ref(mpmath.mpf(x))) for x in t])
    f = 1 / (1 + np.exp(-(t - 2 / 3 * np.log(0.1 / 1.1))))
    for w in [1e-6, 1e-3, 0.05, 0.3, 0.5, 0.53, 0.536, 0.6, 10.0, 1e6]:
        j_grid = (w * w / eta + f).min()
        j = 2 * hc.omega_increment(w)
        assert j <= j_grid + 1e-14
        if np.isfinite(hc.eta_hat(w)):
            assert j_grid - j < 2e-3 * j  # the grid (step 0.15 in log a) comes close to the minimum
        else:
            assert j == 1.0 and j_grid > 1.0  # no finite a beats the limit a -> inf


def test_mp_path(hc):
    with mpmath.workdps(DPS):
        w, eta, increment, prime = inverted(mpmath.mpf("-1.5"))
        tol = mpmath.mpf(10) ** -30
        assert abs(hc.eta_hat_mp(w) / eta - 1) < tol
        assert abs(hc.omega_mp(w) - increment) < tol  # f(0+) = 0
        assert abs(hc.omega_prime_mp(w) / prime - 1) < tol
        assert hc.eta_hat_mp("0.6") == mpmath.inf and hc.omega_mp("0.6") == mpmath.mpf(1) / 2


def test_lam_rescales_eta():
    """eta_lam = eta_1/lam:  eta_hat_lam(w) = eta_hat_1(sqrt(lam) w)/lam, Omega_lam(w) = Omega_1(sqrt(lam) w)."""
    one, lam = hardconcrete(), 2.5
    scaled = hardconcrete(lam=lam)
    w = np.geomspace(1e-5, 0.3, 25)
    x = np.sqrt(lam) * w
    assert np.max(np.abs(scaled.eta_hat(w) * lam / one.eta_hat(x) - 1)) < 1e-13
    assert np.max(np.abs(scaled.omega(w) / one.omega(x) - 1)) < 1e-13
    assert abs(scaled.w_critical * np.sqrt(lam) / one.w_critical - 1) < 1e-14


def test_other_parameters_jump_and_mp_path():
    num = hardconcrete(beta=2.0, gamma=-0.05, zeta=1.3)
    assert 0 < num.w_critical < np.inf
    assert num.certified(1e-4, 0.99 * num.w_critical, n=6, dps=30).precision < 1e-13


def test_parameters_without_jump():
    """beta = 1/2, gamma = -0.2, zeta = 1.2: eta**2 df/deta increases to its limit, so eta_hat -> inf continuously."""
    num = hardconcrete(beta=Fraction(1, 2), gamma=-0.2, zeta=1.2)
    assert num.critical_point() is None and num.w_critical == np.inf
    w = np.linspace(0.5, 0.7039, 200)
    e = num.evaluate(w)
    assert np.all(np.diff(e.eta_hat[np.isfinite(e.eta_hat)]) > 0)
    assert np.isinf(e.eta_hat[-1]) and np.all(np.diff(e.omega_increment) >= 0)
    assert num.certified(1e-4, 0.7, n=6, dps=30).precision < 1e-13


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beta": 0}, "beta > 0"),
        ({"beta": -1.0}, "beta > 0"),
        ({"gamma": 0.1}, "gamma < 0"),
        ({"zeta": 1.0}, "zeta > 1"),
        ({"lam": 0}, "lam > 0"),
        ({"beta": float("nan")}, "beta > 0"),
        ({"zeta": "2"}, "zeta > 1"),
        ({"gamma": True}, "gamma < 0"),
    ],
)
def test_parameter_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HardConcrete(**kwargs)
    with pytest.raises(ValueError, match=message):
        hardconcrete(**kwargs)
