"""Adaptive dropout vs the penalised problem: IRLS, direct solver, real-mask SGD, broken variants."""
import numpy as np
import oracles as oracle
import pytest

from symdual.theorems import adaptive as ad

PENALTIES = [oracle.l1(), oracle.logsum(1.0), oracle.mcp(3.0)]


@pytest.mark.parametrize("pen", PENALTIES, ids=lambda p: p.name)
def test_closed_forms_satisfy_envelope_relation(pen):
    """Omega'(w) = w/eta_hat(w) (docs/conventions.md)."""
    a = np.linspace(0.01, 2.9, 200)
    assert np.allclose(pen.omega_prime(a), a / pen.eta_hat(a), rtol=1e-12)


def test_mcp_beyond_b_is_unpenalised():
    pen = oracle.mcp(2.0)
    assert np.all(np.isinf(pen.eta_hat(np.array([2.0, 5.0]))))
    assert np.all(pen.omega_prime(np.array([2.0, 5.0])) == 0)


def test_weighted_ridge_matches_normal_equations():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 6))
    y = rng.standard_normal(30)
    G, b = X.T @ X, X.T @ y
    eta = np.array([0.5, 2.0, 0.0, np.inf, 1e-3, 3.0])
    w = ad.weighted_ridge(G, b, eta, 0.7)
    keep = eta > 0
    A = G[np.ix_(keep, keep)] + 0.7 * np.diag(np.where(np.isinf(eta[keep]), 0.0, 1 / eta[keep]))
    ref = np.zeros(6)
    ref[keep] = np.linalg.solve(A, b[keep])
    assert w[2] == 0
    assert np.allclose(w, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("pen, omega", [
    (oracle.logsum(0.8), lambda u: np.log(u + 0.8)),
    (oracle.mcp(1.5), lambda u: np.where(u <= 1.5, u - u**2 / 3.0, 0.75)),
    (oracle.l1(), lambda u: u),
])
def test_scalar_prox_against_grid_search(pen, omega):
    t = 0.3
    z = np.array([-2.5, -0.4, -0.1, 0.0, 0.2, 0.35, 1.0, 3.0])
    u = ad.prox_scalar(z, pen.omega_prime, t)
    grid = np.linspace(-4, 4, 400_001)
    for zi, ui in zip(z, u, strict=False):
        ref = grid[np.argmin(0.5 * (grid - zi) ** 2 + t * omega(np.abs(grid)))]
        assert ui == pytest.approx(ref, abs=1e-4)


def _lasso_cd(X, y, lam, sweeps=5000):
    """Independent reference: cyclic coordinate descent with soft thresholding, to convergence."""
    w = np.zeros(X.shape[1])
    col2 = np.sum(X**2, axis=0)
    r = y.copy()
    for _ in range(sweeps):
        old = w.copy()
        for j in range(X.shape[1]):
            rho = X[:, j] @ r + col2[j] * w[j]
            new = np.sign(rho) * max(abs(rho) - lam, 0.0) / col2[j]
            r += X[:, j] * (w[j] - new)
            w[j] = new
        if np.max(np.abs(w - old)) < 1e-15:
            break
    return w


def test_l1_irls_and_direct_solver_equal_lasso():
    X, y, _ = ad.sparse_regression(60, 20, 4, seed=5)
    w0 = np.linalg.lstsq(X, y, rcond=None)[0]
    ref = _lasso_cd(X, y, 0.5)
    w_irls, _ = ad.irls(X, y, oracle.l1().eta_hat, 0.5, w0)
    w_direct, _ = ad.proximal_gradient(X, y, oracle.l1().omega_prime, 0.5, w0)
    assert np.allclose(w_direct, ref, atol=1e-9)
    assert np.allclose(w_irls, ref, atol=1e-8)
    assert np.array_equal(w_irls != 0, ref != 0)


def test_kkt_residual_detects_non_stationary_point():
    X, y, _ = ad.sparse_regression(60, 20, 4, seed=5)
    ref = _lasso_cd(X, y, 0.5)
    op = oracle.l1().omega_prime
    assert ad.kkt_residual(X, y, ref, op, 0.5) < 1e-8
    assert ad.kkt_residual(X, y, 1.01 * ref, op, 0.5) > 1e-3
    assert ad.kkt_residual(X, y, np.zeros(20), op, 0.5) > 0.1


def test_masked_gradient_is_gradient_of_penalised_loss():
    """Monte Carlo over real inverted masks: E grad 1/2||y - X(m*w)||^2 = X^T(Xw - y) + lam w/eta."""
    X, y, _ = ad.sparse_regression(40, 5, 2, seed=2)
    rng = np.random.default_rng(0)
    w = np.array([1.2, -0.3, 0.05, 0.8, -1.5])
    lam, pen = 0.5, oracle.logsum(1.0)
    eta = pen.eta_hat(np.abs(w))
    q = eta / (eta + lam)
    masks = (rng.random((400_000, 5)) < q) / q
    grads = -(masks * ((y[None, :] - (masks * w) @ X.T) @ X))
    exact = X.T @ (X @ w - y) + lam * w / eta
    se = grads.std(axis=0) / np.sqrt(len(grads))
    assert np.all(np.abs(grads.mean(axis=0) - exact) < 4 * se)


@pytest.mark.parametrize("pen", PENALTIES, ids=lambda p: p.name)
def test_check_adaptive_passes(pen):
    check = ad.check_adaptive(pen.eta_hat, pen.omega_prime, 0.5, n=50, d=20, k=4, seed=0, name=pen.name,
                              sgd_steps=2000)
    assert check.passed, check.numeric
    assert check.worst_error < 2e-2
    assert "supports agree" in check.numeric[2]


@pytest.mark.parametrize("pen", PENALTIES, ids=lambda p: p.name)
def test_wrong_omega_prime_detected(pen):
    check = ad.check_adaptive(pen.eta_hat, lambda a: 2 * pen.omega_prime(a), 0.5, n=50, d=20, k=4, seed=0,
                              name=f"broken-{pen.name}", sgd_steps=500)
    assert not check.passed
    assert check.worst_error > 1e-2


def test_sgd_without_adaptation_misses_the_sparse_point():
    """Constant keep probability (plain dropout = ridge) does not reach the LogSum stationary point."""
    X, y, _ = ad.sparse_regression(50, 20, 4, seed=0)
    w0 = np.linalg.lstsq(X, y, rcond=None)[0]
    pen = oracle.logsum(1.0)
    w_direct, _ = ad.proximal_gradient(X, y, pen.omega_prime, 0.5, w0)
    w_adaptive = ad.adaptive_dropout_sgd(X, y, pen.eta_hat, 0.5, w0, steps=2000)
    w_plain = ad.adaptive_dropout_sgd(X, y, lambda a: np.full_like(a, 1.0), 0.5, w0, steps=2000)
    assert np.linalg.norm(w_adaptive - w_direct) < 0.02 * np.linalg.norm(w_direct)
    assert np.count_nonzero(w_plain) == 20
    assert np.linalg.norm(w_plain - w_direct) > 0.1 * np.linalg.norm(w_direct)


@pytest.mark.parametrize("pen, lam, n, d, k", [(oracle.l1(), 0.5, 50, 20, 4), (oracle.logsum(1.0), 0.5, 100, 50, 5)])
def test_adaptive_dropout_meets_the_direct_solver_on_hand_typed_penalties(pen, lam, n, d, k):
    c = ad.check_adaptive(pen.eta_hat, pen.omega_prime, lam, n=n, d=d, k=k, seed=1, name=pen.name, sgd_steps=1500)
    assert c.passed and c.worst_error < 1e-2, c
