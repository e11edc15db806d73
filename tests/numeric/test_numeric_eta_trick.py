"""Generic eta-trick numerics: closed-form duals, non-concave duals with jumps, bad inputs.

References are independent of the library: closed forms from the papers
(docs/catalog.md), and brute-force minimisation of w**2/eta + f(eta) over a dense
grid of eta written here.
"""
from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import grid_eta_trick

from symdual.numeric import (
    EtaTrickNumeric,
    from_dual,
    from_parametric,
    from_sympy_dual,
    hardconcrete,
    vardrop_approx,
    vardrop_exact,
)

ETA = sp.Symbol("eta", positive=True)
W = np.geomspace(1e-6, 1e6, 97)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b) / np.abs(b))


# ---------------------------------------------------------------- closed forms
def test_l1_from_sympy():
    num = from_sympy_dual(ETA, ETA)
    e = num.evaluate(W)
    assert rel(e.eta_hat, W) < 1e-14
    assert rel(e.omega_increment, W) < 1e-14
    assert np.max(np.abs(e.omega_prime - 1)) < 1e-14


def test_lp_from_sympy():
    p = sp.Rational(1, 2)
    q = p / (2 - p)
    num = from_sympy_dual(ETA**q / q, ETA)
    e = num.evaluate(W)
    assert rel(e.eta_hat, W ** float(2 - p)) < 1e-13
    assert rel(e.omega_increment, W ** float(p) / float(p)) < 1e-13
    assert rel(e.omega_prime, W ** float(p - 1)) < 1e-13


def test_mcp_bounded_without_jump():
    b = 2.0
    num = from_sympy_dual(b * ETA / (ETA + b), ETA)
    w = np.linspace(0.01, 1.99, 50)
    e = num.evaluate(w)
    assert rel(e.eta_hat, b * w / (b - w)) < 1e-12
    assert rel(e.omega_increment, w - w**2 / (2 * b)) < 1e-13
    beyond = num.evaluate([2.5, 10.0, np.inf])
    assert np.all(np.isinf(beyond.eta_hat))
    assert np.all(beyond.omega_increment == b / 2)
    assert np.all(beyond.omega_prime == 0)
    assert num.critical_point() is None  # sup (b - f)*eta = b**2 only as eta -> inf: no jump


def test_logsum_from_dual_with_accurate_derivative():
    eps = 2.0

    def f(eta):
        r = np.sqrt(eps**2 + 4 * eta)
        return 2 * np.log((r + eps) / 2) - ((r - eps) / 2) ** 2 / eta

    def f_prime(eta):
        return 4 / (np.sqrt(eps**2 + 4 * eta) + eps) ** 2

    def mp_f(eta):
        r = mpmath.sqrt(eps**2 + 4 * eta)
        return 2 * mpmath.log((r + eps) / 2) - ((r - eps) / 2) ** 2 / eta

    def mp_f_prime(eta):
        return 4 / (mpmath.sqrt(eps**2 + 4 * eta) + eps) ** 2

    num = from_dual(f, f_prime, mp_f, mp_f_prime, f0=2 * np.log(eps))
    e = num.evaluate(W)
    assert rel(e.eta_hat, W * (W + eps)) < 1e-13
    assert rel(num.omega(W), np.log(W + eps)) < 1e-14
    # the increment is f(eta) - f0 formed from the given f: relative accuracy only away from 0
    large = W > 1e-2
    assert rel(e.omega_increment[large], np.log1p(W[large] / eps)) < 1e-13
    with mpmath.workdps(40):
        ref = mpmath.log(mpmath.mpf("0.3") + 2)
        assert abs(num.omega_mp("0.3") - ref) < mpmath.mpf(10) ** -35


# ------------------------------------------------- non-concave duals and jumps
@pytest.fixture(scope="module")
def s_shaped():
    """f = eta**2/(1 + eta**2): bounded, not concave; jump at w = 1/sqrt(2) (eta_c = 1)."""
    return from_sympy_dual(ETA**2 / (1 + ETA**2), ETA)


def test_s_shaped_critical_point_exact(s_shaped):
    point = s_shaped.critical_point(40)
    with mpmath.workdps(40):
        assert abs(point.w - 1 / mpmath.sqrt(2)) < mpmath.mpf(10) ** -35
        assert abs(point.eta - 1) < mpmath.mpf(10) ** -35
    e = s_shaped.evaluate([0.7071067, 0.7071068, 0.75, 0.8])
    assert np.isfinite(e.eta_hat[0]) and abs(e.eta_hat[0] - 1) < 1e-3
    # (0.7071, 0.806): a stationary point still exists, but the limit eta -> inf is lower.
    assert np.all(np.isinf(e.eta_hat[1:])) and np.all(e.omega_increment[1:] == 0.5)
    assert np.all(e.omega_prime[1:] == 0)


def test_local_minimum_is_not_reported(s_shaped):
    w = 0.78
    with mpmath.workdps(30):
        # the stationary point eta**2 f'(eta) = w**2 on the increasing branch (eta < sqrt 3)
        eta = mpmath.findroot(lambda x: 2 * x**3 / (1 + x**2) ** 2 - w**2, (1.0, 1.7), solver="anderson")
        local = w**2 / eta + eta**2 / (1 + eta**2)
    assert local > 1  # it is a local minimum only
    assert np.isinf(s_shaped.eta_hat(w))
    assert s_shaped.omega_increment_mp(w, dps=30) == mpmath.mpf(1) / 2


def test_two_bump_dual_matches_brute_force():
    """f with two S-shaped bumps: L has two increasing runs and the argmin jumps between them."""
    f_expr = ETA**2 / (1 + ETA**2) + ETA**2 / (10**4 + ETA**2)
    num = from_sympy_dual(f_expr, ETA)
    assert len(num._scan.runs) == 2
    log_eta = np.linspace(-12, 14, 400_001)
    eta = np.exp(log_eta)
    f_values = eta**2 / (1 + eta**2) + eta**2 / (1e4 + eta**2)
    w = np.geomspace(0.01, 6.9, 60)
    got = num.evaluate(w)
    jumps = 0
    for i, x in enumerate(w):
        j, eta_bf = grid_eta_trick(f_values, log_eta, x)
        assert 2 * got.omega_increment[i] <= j + 1e-12
        assert abs(2 * got.omega_increment[i] - j) < 1e-9
        assert abs(np.log(got.eta_hat[i] / eta_bf)) < 1e-3
        jumps += i > 0 and got.eta_hat[i] > 5 * got.eta_hat[i - 1]
    assert jumps == 1


def test_mp_path_at_40_digits(s_shaped):
    with mpmath.workdps(40):
        ref_eta = mpmath.findroot(lambda x: 2 * x**3 / (1 + x**2) ** 2 - mpmath.mpf("0.25"), 0.6)
        assert abs(s_shaped.eta_hat_mp("0.5") - ref_eta) < mpmath.mpf(10) ** -35
        assert abs(s_shaped.omega_prime_mp("0.5") - mpmath.mpf("0.5") / ref_eta) < mpmath.mpf(10) ** -35
        ref_omega = (mpmath.mpf("0.25") / ref_eta + ref_eta**2 / (1 + ref_eta**2)) / 2
        assert abs(s_shaped.omega_mp("0.5") - ref_omega) < mpmath.mpf(10) ** -35


# ------------------------------------------------------------- parametric
def test_parametric_curve_l1():
    """eta = a**2, f = a**2 is l1 in disguise: Omega = |w|, eta_hat = |w|."""
    num = from_parametric(
        lambda a: a**2, lambda a: a**2, lambda a: 2 * a, lambda a: 2 * a,
        lambda a: a**2, lambda a: a**2, lambda a: 2 * a, lambda a: 2 * a,
        f0=0.0, f_sup=np.inf, log_a_range=(-350.0, 350.0),
    )
    e = num.evaluate(W)
    assert rel(e.eta_hat, W) < 1e-13
    assert rel(e.omega_increment, W) < 1e-13
    assert rel(num.f_dual([0.5, 2.0]), [0.5, 2.0]) < 1e-13
    assert abs(num.omega_mp("0.25", dps=30) - mpmath.mpf("0.25")) < mpmath.mpf(10) ** -25


# ------------------------------------------------------------ bad inputs
@pytest.fixture(scope="module", params=["vardrop_exact", "vardrop_approx", "hardconcrete", "sympy_mcp"])
def numeric(request) -> EtaTrickNumeric:
    if request.param == "sympy_mcp":
        return from_sympy_dual(2 * ETA / (ETA + 2), ETA)
    return {"vardrop_exact": vardrop_exact, "vardrop_approx": vardrop_approx, "hardconcrete": hardconcrete}[
        request.param
    ]()


def test_special_inputs_elementwise(numeric):
    w = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-300, -1e-300, 1e300, 5e-324, 1.7e308, 0.3, -0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = numeric.evaluate(w)
        omega = numeric.omega(w)
    for part in e:
        assert part.dtype == np.float64 and part.shape == w.shape
        assert np.isnan(part[0]) and not np.isnan(part[1:]).any()
    assert e.omega_increment[1] == 0 and e.omega_increment[2] == 0
    assert omega[1] == numeric.curve.f0 / 2
    assert e.eta_hat[1] == 0 and e.omega_prime[1] > 0  # Omega'(0+) > 0: all four are sparsity-inducing
    for a, b in [(5, 6), (10, 11)]:  # negative w uses |w|
        assert all(part[a] == part[b] for part in e)
    assert np.isinf(e.eta_hat[3]) and e.omega_prime[3] == 0
    assert e.omega_increment[3] == numeric.curve.f_sup / 2
    assert 0 < e.omega_increment[5] < 1e-299  # tiny w: Omega ~ Omega'(0+) |w|
    assert np.isfinite(e.omega_increment[7])


def test_float32_scalar_and_shapes(numeric):
    x32 = np.array([[0.25, 2.0], [3.0, 0.5]], dtype=np.float32)
    got = numeric.eta_hat(x32)
    assert got.dtype == np.float64 and got.shape == (2, 2)
    assert np.array_equal(got, numeric.eta_hat(x32.astype(np.float64)))
    scalar = numeric.omega(0.25)
    assert np.ndim(scalar) == 0 and float(scalar) == float(numeric.omega([0.25])[0])
    assert numeric.omega_prime([]).shape == (0,)


def test_f_dual_inputs(numeric):
    out = numeric.f_dual([np.nan, -1.0, 0.0, np.inf, 1.0])
    assert np.isnan(out[0]) and np.isnan(out[1])
    assert out[2] == numeric.curve.f0
    assert out[3] == numeric.curve.f0 + numeric.curve.f_sup
    assert np.isfinite(out[4])


def test_describe_and_precision():
    for num in (vardrop_exact(), vardrop_approx(), hardconcrete()):
        assert num.precision <= 1e-12
        text = num.describe()
        assert "max rel err" in text and "mpmath 40 digits" in text
    assert np.isnan(from_sympy_dual(ETA, ETA).precision)


def test_certified_measures_error():
    num = from_sympy_dual(ETA, ETA).certified(1e-3, 1e3, n=12, dps=30)
    assert num.precision < 1e-14 and "12 log-spaced" in num.certificate


def test_sympy_rejects_extra_symbols():
    with pytest.raises(ValueError, match="free symbols"):
        from_sympy_dual(ETA + sp.Symbol("c"), ETA)


# ------------------------------------------------------- property-based
@settings(max_examples=60, deadline=None)
@given(
    w=st.floats(1e-4, 1e4),
    lam=st.floats(0.05, 20.0),
)
def test_vardrop_lam_scaling_identity(w, lam):
    """f_lam = f_1/lam  =>  Omega_lam(w) = Omega_1(sqrt(lam) w)/lam, eta_hat_lam(w) = eta_hat_1(sqrt(lam) w)."""
    one, scaled = _approx_one(), _approx(lam)
    x = np.sqrt(lam) * w
    assert abs(scaled.omega_increment(w) - one.omega_increment(x) / lam) <= 1e-13 * one.omega_increment(x) / lam
    assert abs(scaled.eta_hat(w) / one.eta_hat(x) - 1) < 1e-13


@settings(max_examples=60, deadline=None)
@given(w=st.floats(1e-3, 1e3))
def test_envelope_theorem(w):
    """Omega'(w) = w/eta_hat(w) equals the derivative of Omega (central difference)."""
    num = _exact_one()
    h = 1e-5 * w
    fd = (num.omega_increment(w + h) - num.omega_increment(w - h)) / (2 * h)
    assert abs(fd - num.omega_prime(w)) < 1e-8 * max(1.0, float(num.omega_prime(w)))


_CACHE: dict = {}


def _approx(lam: float) -> EtaTrickNumeric:
    return vardrop_approx(lam)


def _approx_one() -> EtaTrickNumeric:
    return _CACHE.setdefault("approx", vardrop_approx())


def _exact_one() -> EtaTrickNumeric:
    return _CACHE.setdefault("exact", vardrop_exact())
