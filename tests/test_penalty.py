"""symdual.penalty.Penalty: skglm's verbs against hand computations, mpmath finite differences, the
eta-trick identity Omega' = w/eta_hat, and a coordinate-descent Lasso against its closed form."""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest

import symdual as sd
from symdual.errors import InputError
from symdual.penalty import Penalty

TIMEOUT = 30.0


@functools.cache
def record(name: str):
    if name == "user_log":
        return sd.derive(penalty="log(1+w**2)", timeout=TIMEOUT)
    return sd.catalog.derive(name, {}, timeout=TIMEOUT)


def test_value_is_the_sum_of_lam_omega():
    w = np.array([0.0, -0.5, 1.5, -4.0])
    pen = Penalty(record("logsum"), lam=0.3)
    expected = 0.3 * np.log1p(np.abs(w) / 2)  # Omega = log(1 + |w|/eps), eps = 2
    np.testing.assert_allclose(pen.value_elementwise(w), expected, rtol=1e-15, atol=0)
    assert pen.value(w) == pytest.approx(expected.sum(), rel=1e-15)
    assert isinstance(pen.value(w), float)
    assert Penalty(record("l1"), lam=2).value([[1.0, -2.0], [0.0, 3.0]]) == 12.0
    assert Penalty(record("l1")).lam == 1.0 and Penalty(record("mcp")).lam == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("name", ["logsum", "mcp", "scad", "standout", "lp", "vardrop_exact", "user_log"])
def test_derivative_against_mpmath_finite_differences(name):
    """lam sign(w) Omega'(|w|) against a central difference of Omega at 40 digits (step 1e-15 |w|)."""
    d = record(name)
    pen = Penalty(d, lam=0.7)
    for x in (0.05, 0.3, 0.9, 2.5, 7.0, -0.4, -3.0):
        a = abs(x)
        with mpmath.workdps(40):
            h = mpmath.mpf(a) * mpmath.mpf("1e-15")
            up, down = (d.evaluate_mp("omega", mpmath.mpf(a) + s * h, 40) for s in (1, -1))
            fd = (up - down) / (2 * h)
        expected = 0.7 * math.copysign(1.0, x) * float(fd)
        assert pen.derivative(x) == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, x)


@pytest.mark.parametrize("name", ["logsum", "mcp", "standout", "vardrop_exact"])
def test_eta_trick_identity_and_odd_derivative(name):
    """Omega'(w) = w/eta_hat(w) (the envelope theorem), derivative odd and 0 at w = 0."""
    pen = Penalty(record(name), lam=1.3)
    w = np.array([0.01, 0.2, 0.6, 1.0, 3.0])
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(pen.derivative(w), 1.3 * w / pen.eta_hat(w), rtol=1e-10)
    np.testing.assert_array_equal(pen.derivative(-w), -pen.derivative(w))
    np.testing.assert_array_equal(pen.eta_hat(-w), pen.eta_hat(w))
    assert pen.derivative(0.0) == 0.0 and np.ndim(pen.derivative(0.0)) == 0


def test_logsum_eta_hat_by_hand():
    pen = Penalty(record("logsum"))
    w = np.array([0.0, 0.5, -2.0])
    np.testing.assert_allclose(pen.eta_hat(w), np.abs(w) * (np.abs(w) + 2), rtol=1e-15)


def test_subdiff_distance_by_hand():
    w, grad = [0.0, 0.0, 1.5, -2.0, 0.0], [0.3, -0.9, 0.1, 0.7, 0.5]
    l1 = Penalty(record("l1"), lam=0.5)
    np.testing.assert_allclose(l1.subdiff_distance(w, grad, [0, 1, 2, 3]), [0.0, 0.4, 0.6, 0.2], atol=1e-15)
    np.testing.assert_allclose(l1.subdiff_distance(w, grad, [3, 1]), [0.2, 0.4], atol=1e-15)
    smooth = Penalty(record("standout"), lam=2.0)  # Omega'(0+) = 0: no kink, distance |grad + 0| at 0
    expected_2 = abs(0.1 + 2.0 * 1.5 * math.exp(-1.5))  # Omega' = w exp(-w)
    np.testing.assert_allclose(smooth.subdiff_distance(w, grad, [1, 2, 4]), [0.9, expected_2, 0.5], rtol=1e-14)
    mcp = Penalty(record("mcp"))  # lam = sqrt 2, Omega'(w) = 1 - w/b, b = sqrt(2)/2; Omega'(0+) = 1
    b = math.sqrt(2) / 2
    got = mcp.subdiff_distance([0.0, 1.5, -2.0, 0.0, 0.0], [-0.9, 0.1, 0.7, 1.2, 1.5], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(got, [0.0, 0.1, 0.7, 0.0, 1.5 - math.sqrt(2)], atol=1e-15)  # Omega' = 0 beyond b
    inside = mcp.subdiff_distance([0.3], [-0.2], [0])
    assert inside[0] == pytest.approx(abs(-0.2 + math.sqrt(2) * (1 - 0.3 / b)), rel=1e-14)
    lp = Penalty(record("lp"))  # Omega'(0+) = oo: every gradient is inside the subdifferential at 0
    assert lp.subdiff_distance([0.0], [1e6], [0])[0] == 0.0


def test_prox_1d_and_support():
    pen = Penalty(record("l1"), lam=0.5)
    assert pen.prox_1d(1.2, 2.0) == pytest.approx(0.2, abs=1e-15) and pen.prox_1d(-0.9, 2.0) == 0.0
    assert isinstance(pen.prox_1d(1.2, 2.0, j=3), float)
    np.testing.assert_allclose(pen.prox(np.array([-3.0, 0.2, 3.0]), 1.0), [-2.5, 0.0, 2.5], atol=1e-15)
    np.testing.assert_array_equal(pen.is_penalized(4), [True] * 4)
    np.testing.assert_array_equal(pen.generalized_support([0.0, -1.0, 2.0]), [False, True, True])


def _cd(pen: Penalty, X: np.ndarray, y: np.ndarray, sweeps: int) -> np.ndarray:
    """Cyclic coordinate descent for 1/2 ||y - X w||**2 + pen(w): w_j <- prox_{pen/L_j}(w_j - grad_j/L_j)."""
    w = np.zeros(X.shape[1])
    lips = (X**2).sum(axis=0)
    r = y.copy()
    for _ in range(sweeps):
        for j in range(X.shape[1]):
            old = w[j]
            w[j] = pen.prox_1d(old + X[:, j] @ r / lips[j], 1.0 / lips[j], j)
            r -= X[:, j] * (w[j] - old)
    return w


def test_coordinate_descent_lasso_orthogonal_design():
    """Orthonormal columns: the Lasso solution is the soft threshold of X^T y (and MCP's the firm one)."""
    rng = np.random.default_rng(3)
    X = np.linalg.qr(rng.normal(size=(40, 8)))[0]
    y = X @ np.array([3.0, -2.0, 0.0, 0.5, 0.0, 1.2, -0.1, 0.0]) + 0.05 * rng.normal(size=40)
    lam = 0.4
    w = _cd(Penalty(record("l1"), lam=lam), X, y, sweeps=3)
    c = X.T @ y
    np.testing.assert_allclose(w, np.sign(c) * np.maximum(np.abs(c) - lam, 0), atol=1e-12)
    mcp = Penalty(record("mcp"))  # lam = sqrt 2, b = sqrt(2)/2 < lam: hard threshold at sqrt(lam b) = 1
    w = _cd(mcp, X, y, sweeps=3)
    np.testing.assert_allclose(w, np.where(np.abs(c) > 1.0, c, 0.0), atol=1e-12)


def test_coordinate_descent_lasso_general_design_meets_kkt():
    """A correlated design: at the CD solution, the Lasso's optimality conditions hold (checked by hand)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 6)) + 0.5 * rng.normal(size=(30, 1))
    y = X @ np.array([1.5, 0.0, -1.0, 0.0, 0.0, 0.3]) + 0.1 * rng.normal(size=30)
    lam = 2.0
    pen = Penalty(record("l1"), lam=lam)
    w = _cd(pen, X, y, sweeps=400)
    grad = X.T @ (X @ w - y)
    for j in range(6):  # grad_j = -lam sign(w_j) where w_j != 0, |grad_j| <= lam where w_j = 0
        if w[j] != 0:
            assert grad[j] == pytest.approx(-lam * np.sign(w[j]), abs=1e-9)
        else:
            assert abs(grad[j]) <= lam + 1e-9
    assert np.count_nonzero(w) < 6
    assert np.max(pen.subdiff_distance(w, grad, np.arange(6))) <= 1e-9


@pytest.mark.parametrize("lam", [0, -1.0, float("inf"), float("nan"), "x", True, 1j])
def test_bad_lam_is_refused(lam):
    with pytest.raises(InputError) as info:
        Penalty(record("l1"), lam=lam)
    assert "\n" not in str(info.value)


def test_non_separable_and_bad_input():
    with pytest.raises(InputError, match="non-separable"):
        Penalty(sd.catalog.get("ard"))
    pen = Penalty(record("l1"))
    with pytest.raises(InputError):
        pen.value("abc")
    with pytest.raises(InputError):
        pen.derivative([1j])
    with pytest.raises(InputError, match="same length"):
        pen.subdiff_distance([0.0, 1.0], [1.0], [0])
