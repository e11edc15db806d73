"""Structured dropout (Pal et al.): exact regularisers, induced norms, prox, real-mask SGD, broken variants."""
import itertools

import numpy as np
import pytest
import sympy as sp

from symdual.theorems import structured as st

WRONG_CONSTANT = lambda th: th / (1 - th)  # noqa: E731


def _enumerated_penalty(U, V, Y, outcomes):
    """Numeric E||Y - U diag(m) V^T||^2 - ||Y - UV^T||^2 by summing over a list of (mask, prob)."""
    total = sum(p * np.sum((Y - (U * m) @ V.T) ** 2) for m, p in outcomes)
    return total - np.sum((Y - U @ V.T) ** 2)


def test_dropout_and_dropblock_regularisers_numerically():
    rng = np.random.default_rng(0)
    U, V, Y = rng.standard_normal((3, 6)), rng.standard_normal((4, 6)), rng.standard_normal((3, 4))
    theta = 0.7
    c = (1 - theta) / theta
    for r in (1, 2, 3, 6):
        outcomes = []
        for kept in itertools.product((0, 1), repeat=6 // r):
            b = np.repeat(np.array(kept, float), r)
            outcomes.append((b / theta, theta ** sum(kept) * (1 - theta) ** (6 // r - sum(kept))))
        claimed = c * st.block_penalty(U, V, r)
        assert _enumerated_penalty(U, V, Y, outcomes) == pytest.approx(claimed, rel=1e-12)
    assert st.block_penalty(U, V, 1) == pytest.approx(np.sum(np.sum(U**2, 0) * np.sum(V**2, 0)), rel=1e-12)


def test_dropconnect_regulariser_numerically():
    rng = np.random.default_rng(1)
    U, V, Y = rng.standard_normal((2, 3)), rng.standard_normal((3, 3)), rng.standard_normal((2, 3))
    theta = 0.4
    total = 0.0
    for kept in itertools.product((0, 1), repeat=6):
        M = np.array(kept, float).reshape(2, 3)
        p = theta ** M.sum() * (1 - theta) ** (6 - M.sum())
        total += p * np.sum((Y - (U * M / theta) @ V.T) ** 2)
    penalty = total - np.sum((Y - U @ V.T) ** 2)
    assert penalty == pytest.approx((1 - theta) / theta * st.block_penalty(U, V, 1), rel=1e-12)


@pytest.mark.parametrize("check", [st.check_dropout_exact, st.check_dropconnect_exact, st.check_dropblock_exact])
def test_exact_regularisers_hold_and_wrong_constant_detected(check):
    assert check().passed
    broken = check(constant=WRONG_CONSTANT)
    assert not broken.passed
    assert any("NONZERO" in line for line in broken.proved)


def test_dropblock_exact_other_block_size():
    assert st.check_dropblock_exact(2, 2, 6, 3).passed


def test_dropblock_wrong_block_multiple_detected():
    assert not st.check_dropblock_exact(constant=lambda th: 2 * (1 - th) / th).passed


def test_general_masks_hold_and_ignoring_correlations_detected():
    assert st.check_general_masks().passed
    diag_only = lambda C, m: sp.diag(*[C[k, k] / m[k] ** 2 for k in range(C.shape[0])])  # noqa: E731
    assert not st.check_general_masks(weight=diag_only).passed


def test_general_masks_law_is_a_distribution():
    law = st.correlated_masks(3, 0)
    assert sum(p for _, p in law) == 1 and all(p > 0 for _, p in law)


@pytest.mark.parametrize("x, k, value", [((3, 1, 1, 1), 2, 18), ((1, 1, 1, 1), 2, 8), ((5, 1, 0), 2, 26),
                                         ((2, -2, 1), 1, 25), ((2, -2, 1), 3, 9), ((4, 3, 0.5, 0.5), 3, 26)])
def test_ksupport_hand_values(x, k, value):
    assert st.ksupport_sq(np.array(x, float), k) == pytest.approx(value, rel=1e-14)


def test_ksupport_duality_inequality():
    """<w, x> <= ||x||_(k) * ||w||_(k)^*, with ||w||_(k)^* the l2 norm of the k largest |w_i|."""
    rng = np.random.default_rng(2)
    for _ in range(200):
        x, w = rng.standard_normal(7), rng.standard_normal(7)
        k = int(rng.integers(1, 8))
        dual = np.sqrt(np.sum(np.sort(w**2)[::-1][:k]))
        assert w @ x <= np.sqrt(st.ksupport_sq(x, k)) * dual + 1e-12


def test_spectral_ksupport_limits():
    Z = np.random.default_rng(3).standard_normal((5, 4))
    s = np.linalg.svd(Z, compute_uv=False)
    assert st.spectral_ksupport_sq(Z, 1) == pytest.approx(s.sum() ** 2, rel=1e-13)
    assert st.spectral_ksupport_sq(Z, 4) == pytest.approx(np.sum(Z**2), rel=1e-13)


def test_ksupport_check_and_broken_prox_detected():
    assert st.check_ksupport().passed
    assert not st.check_ksupport(prox=lambda z, k, lam: st.prox_ksupport_sq(z, k, 2 * lam)).passed


def test_matrix_prox_is_a_minimiser():
    """No random perturbation of Z* lowers ||Y - Z||^2 + lam ||Z||_(r)^2."""
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((5, 5))
    lam = 0.5  # (1-theta)/theta * r/d with theta = 1/2, r = 2, d = 4
    Zs = st.dropblock_minimiser(Y, 4, 2, 0.5)
    f = lambda Z: np.sum((Y - Z) ** 2) + lam * st.spectral_ksupport_sq(Z, 2)  # noqa: E731
    for scale in (1e-1, 1e-3):
        for _ in range(50):
            assert f(Zs) <= f(Zs + scale * rng.standard_normal((5, 5))) + 1e-12


def test_equalised_factors():
    Z = np.random.default_rng(5).standard_normal((4, 6))
    U, V = st.equalised_factors(Z, 7)
    nuclear = np.linalg.svd(Z, compute_uv=False).sum()
    assert np.allclose(U @ V.T, Z, atol=1e-12)
    assert np.allclose(np.sum(U**2, 0), nuclear / 7, rtol=1e-10)
    assert np.allclose(U.T @ U, V.T @ V, atol=1e-10)
    assert st.block_penalty(U, V, 1) == pytest.approx(nuclear**2 / 7, rel=1e-10)


def test_min_block_penalty_limits():
    Z = np.random.default_rng(6).standard_normal((3, 4))
    assert st.min_block_penalty(Z, 4, 4)[0] == pytest.approx(np.sum(Z**2), rel=1e-8)
    value, U, V = st.min_block_penalty(Z, 4, 1)
    assert value == pytest.approx(np.linalg.svd(Z, compute_uv=False).sum() ** 2 / 4, rel=1e-8)
    assert np.allclose(U @ V.T, Z, atol=1e-8)
    with pytest.raises(ValueError):
        st.min_block_penalty(Z, 2, 1)


def test_dropout_induced_and_wrong_multiple_detected():
    assert st.check_dropout_induced(count=2).passed
    assert not st.check_dropout_induced(count=2, multiple=lambda d, r: 1 / (d + 1)).passed


def test_dropblock_induced_and_wrong_multiple_detected():
    check = st.check_dropblock_induced(count=2)
    assert check.passed and check.worst_error < 1e-6
    assert not st.check_dropblock_induced(count=2, multiple=lambda d, r: 1 / d).passed
    assert not st.check_dropblock_induced(count=2, multiple=lambda d, r: 1 / r).passed


def test_dropblock_gap_counterexample():
    check = st.check_dropblock_gap()
    assert check.passed
    assert "verified" in check.proved[0]
    value = st.min_block_penalty(np.diag([3.0, 1, 1, 1]), 4, 2, restarts=20)[0]
    assert value == pytest.approx(10, rel=1e-6)
    assert st.block_multiple(4, 2) * st.ksupport_sq(np.array([3.0, 1, 1, 1]), 2) == pytest.approx(9)


def test_dropblock_gap_absent_when_bound_is_attained():
    """diag(3,1,1) (rank 3 < d = 4) attains the bound, so the gap check must fail there."""
    assert not st.check_dropblock_gap(singular_values=(3, 1, 1), restarts=10).passed


def test_dropblock_sgd_converges_and_wrong_multiple_detected():
    check = st.check_dropblock_sgd(steps=4000)
    assert check.passed and check.worst_error < 3e-2
    assert not st.check_dropblock_sgd(steps=4000, multiple=lambda d, r: 1.0).passed


def test_checks_all_pass():
    results = st.checks(quick=True)
    assert len(results) == 9 and all(c.passed for c in results)
