"""Dropout = Tikhonov: exact expectations, Monte Carlo with real masks, broken variants detected."""
import itertools

import numpy as np
import pytest
import sympy as sp

from symdual.theorems import tikhonov as tk


def test_bernoulli_exact_holds():
    check = tk.check_bernoulli_exact(3, 2)
    assert check.passed
    assert "cancels to 0" in check.proved[0]


def test_bernoulli_exact_three_coordinates():
    assert tk.check_bernoulli_exact(2, 3).passed


@pytest.mark.parametrize("wrong", [lambda p: p, lambda p: p / (1 - p) ** 2, lambda p: 1 / (1 - p)])
def test_bernoulli_wrong_ratio_detected(wrong):
    check = tk.check_bernoulli_exact(3, 2, ratio=wrong)
    assert not check.passed
    assert "NONZERO" in check.proved[0]


def test_gaussian_exact_holds_and_wrong_variance_detected():
    assert tk.check_gaussian_exact(3, 2).passed
    assert not tk.check_gaussian_exact(3, 2, ratio=lambda v: 2 * v).passed
    assert not tk.check_gaussian_exact(3, 2, ratio=sp.sqrt).passed


def test_symbolic_expectation_matches_numeric_enumeration():
    """The symbolic E over masks, evaluated at numbers, equals a plain numpy sum over all 2^d masks."""
    n, d = 3, 3
    rng = np.random.default_rng(1)
    Xn, yn, wn = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)
    qn = np.array([0.3, 0.6, 0.9])
    X = sp.Matrix(n, d, lambda i, j: sp.Symbol(f"x{i}{j}"))
    y = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"y{i}"))
    w = sp.Matrix(d, 1, lambda j, _: sp.Symbol(f"w{j}"))
    q = [sp.Symbol(f"q{j}", positive=True) for j in range(d)]
    masks = [sp.Symbol(f"m{j}") for j in range(d)]
    expected = tk.expect_over_outcomes(tk.dropout_loss(X, y, w, masks), masks, tk.bernoulli_outcomes(q))
    subs = {**{X[i, j]: Xn[i, j] for i in range(n) for j in range(d)}, **{y[i]: yn[i] for i in range(n)},
            **{w[j]: wn[j] for j in range(d)}, **{q[j]: qn[j] for j in range(d)}}
    reference = 0.0
    for kept in itertools.product((0, 1), repeat=d):
        b = np.array(kept)
        prob = np.prod(np.where(b == 1, qn, 1 - qn))
        reference += prob * 0.5 * np.sum((yn - Xn @ (b / qn * wn)) ** 2)
    assert float(expected.subs(subs)) == pytest.approx(reference, rel=1e-12)
    ridge = 0.5 * np.sum((yn - Xn @ wn) ** 2) + 0.5 * np.sum((1 - qn) / qn * np.sum(Xn**2, 0) * wn**2)
    assert reference == pytest.approx(ridge, rel=1e-12)


def test_gaussian_moments_against_quadrature():
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    weights = weights / weights.sum()
    s = sp.Symbol("s", positive=True)
    for k in range(6):
        for sigma in (0.3, 1.7):
            quad = float(np.sum(weights * (1 + sigma * nodes) ** k))
            assert float(tk.gaussian_moment(s, k).subs(s, sigma)) == pytest.approx(quad, rel=1e-12)
    assert sp.expand(tk.gaussian_moment(s, 4) - (1 + 6 * s**2 + 3 * s**4)) == 0


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian"])
def test_monte_carlo_matches_exact(kind):
    check = tk.check_monte_carlo(kind, samples=100_000, seed=3)
    assert check.passed
    assert check.worst_error < 1e-2


@pytest.mark.parametrize("kind, wrong", [("bernoulli", lambda p: p), ("gaussian", sp.sqrt),
                                         ("gaussian", lambda v: 1.3 * v)])
def test_monte_carlo_detects_wrong_ratio(kind, wrong):
    check = tk.check_monte_carlo(kind, samples=100_000, seed=3, ratio=wrong)
    assert not check.passed
    z = float(check.numeric[0].split("z = ")[1].split()[0])
    assert abs(z) > 10


def test_monte_carlo_rejects_unknown_kind():
    with pytest.raises(ValueError):
        tk.check_monte_carlo("uniform")


def test_checks_all_pass():
    results = tk.checks(quick=True)
    assert len(results) == 4
    assert all(c.passed for c in results)
