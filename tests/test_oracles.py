"""The oracles against exact identities, so that a test leaning on them leans on something checked."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
from oracles import brute_force_prox, eta_trick_min, eta_trick_newton, grid_eta_trick, monte_carlo_dropout

import symdual as sd


@pytest.mark.parametrize("z, step", [(2.5, 1.0), (-0.3, 0.5), (0.7, 0.7), (10.0, 3.0)])
def test_brute_force_prox_of_the_l1_norm_is_soft_thresholding(z, step):
    # a grid minimum of a smooth objective is good to about sqrt(machine epsilon) in u
    assert brute_force_prox(np.abs, z, step) == pytest.approx(np.sign(z) * max(abs(z) - step, 0.0), abs=1e-7)


def test_monte_carlo_dropout_gives_the_tikhonov_identity():
    """E ||y - X(m*w/q)||**2 = ||y - Xw||**2 + sum_j (1 - q_j)/q_j w_j**2 ||x_j||**2, within 4 standard errors."""
    rng = np.random.default_rng(3)
    X, w, y = rng.standard_normal((7, 4)), rng.standard_normal(4), rng.standard_normal(7)
    keep = np.array([0.9, 0.5, 0.3, 0.75])
    mean, se = monte_carlo_dropout(X, y, w, keep, samples=200_000)
    exact = np.sum((y - X @ w) ** 2) + np.sum((1 - keep) / keep * w**2 * np.sum(X**2, axis=0))
    assert abs(mean - exact) < 4 * se


def test_eta_trick_minimum_of_the_l1_dual_is_the_absolute_value():
    """f(eta) = eta: 1/2 min_eta [w**2/eta + eta] = |w| exactly."""
    for w in ("0.01", "0.7", "3"):
        with mpmath.workdps(30):
            assert abs(eta_trick_min(lambda e: e, w) - mpmath.mpf(w)) < mpmath.mpf(10) ** -25
            assert abs(eta_trick_newton(lambda e: e, lambda e: 1, w) - mpmath.mpf(w)) < mpmath.mpf(10) ** -25
    log_eta = np.linspace(-10, 10, 200001)
    j, at = grid_eta_trick(np.exp(log_eta), log_eta, 0.7)
    assert j / 2 == pytest.approx(0.7, rel=1e-8) and at == pytest.approx(0.7, rel=1e-3)


def test_the_catalog_l1_matches_the_oracle(catalog_record):
    d = catalog_record("l1")
    assert d.evaluate("omega", 0.7) == pytest.approx(float(eta_trick_min(lambda e: e, "0.7")), rel=1e-14)
    assert sd.catalog.entry("l1").citation
