"""The eta-trick identity for the non-separable catalog entries (HardThresh, ARD).

    Omega(w) = 1/2 inf_{eta in [0, oo]^n} [ sum_j w_j**2/eta_j + f(eta) ]

HardThresh: f(eta) = 0 if at most k of the eta_j are nonzero, else +oo. The
infimum is checked by brute force over every support S, |S| <= k (eta = oo on
S, 0 elsewhere; 0/0 = 0), and its minimiser's keep mask is the top-k
projection H_k, itself checked against brute force over supports.
ARD: f(eta) = log det(tau I + X diag(eta) X^T). The catalog's Newton solution
is checked against a direct multi-start L-BFGS minimisation in log eta.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from .check import Check


def _hardthresh_brute(w: np.ndarray, k: int) -> float:
    """1/2 min over supports |S| <= k of sum_{j not in S} w_j**2/0 (0/0 = 0): 0 or oo."""
    n = len(w)
    for size in range(k + 1):
        for support in itertools.combinations(range(n), size):
            outside = np.delete(w, support)
            if np.all(outside == 0):
                return 0.0
    return float("inf")


def _project_brute(w: np.ndarray, k: int) -> np.ndarray:
    """argmin ||w - v|| over ||v||_0 <= k, by enumeration of supports of size k."""
    best, best_v = np.inf, None
    for support in itertools.combinations(range(len(w)), k):
        v = np.zeros_like(w)
        v[list(support)] = w[list(support)]
        err = np.sum((w - v) ** 2)
        if err < best - 1e-15:
            best, best_v = err, v
    return best_v


def check_hardthresh(omega: Callable, eta_hat: Callable, k: int, n: int = 8, trials: int = 60, seed: int = 0) -> Check:
    """Omega = indicator(||w||_0 <= k) and eta_hat's keep mask = H_k, against brute force."""
    rng = np.random.default_rng(seed)
    bad = []
    for _ in range(trials):
        nnz = int(rng.integers(0, n + 1))
        w = np.zeros(n)
        w[rng.choice(n, nnz, replace=False)] = rng.standard_normal(nnz)
        if omega(w) != _hardthresh_brute(w, k):
            bad.append(f"Omega({np.round(w, 3).tolist()}) = {omega(w)}, brute force {_hardthresh_brute(w, k)}")
        if 0 < k <= n:
            kept = np.where(np.isinf(eta_hat(w)), w, 0.0)
            if not np.array_equal(kept, _project_brute(w, k)):
                bad.append(f"keep mask of eta_hat({np.round(w, 3).tolist()}) is not the top-{k} projection")
    return Check(
        name="eta_trick.hardthresh",
        statement=f"Omega(w) = 1/2 inf_eta [sum w_j^2/eta_j + f(eta)] = 0 if ||w||_0 <= {k} "
                  "else oo; eta_hat keeps the k largest",
        hypotheses=f"f(eta) = 0 if ||eta||_0 <= {k} else oo; n = {n}",
        passed=not bad, numeric=[f"{trials} random vectors in R^{n} (random sparsity), brute force over all supports"],
        worst_error=None if not bad else float("inf"), detail="; ".join(bad[:3]) or "all agree exactly")


def _ard_direct(w: np.ndarray, X: np.ndarray, tau: float, starts: int, rng: np.random.Generator) -> float:
    """1/2 min over log eta (support of w) of sum w_j^2/eta_j + log det(tau I + X_S diag(eta) X_S^T)."""
    s = np.flatnonzero(w)
    Xs, w2, m = X[:, s], w[s] ** 2, X.shape[0]

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        e = np.exp(u)
        sigma = tau * np.eye(m) + (Xs * e) @ Xs.T
        K = Xs.T @ np.linalg.solve(sigma, Xs)
        return float(np.sum(w2 / e) + np.linalg.slogdet(sigma)[1]), -w2 / e + e * np.diag(K)

    best = np.inf
    for _ in range(starts):
        res = minimize(objective, rng.normal(0, 2, size=len(s)), jac=True, method="L-BFGS-B",
                       options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})
        best = min(best, res.fun)
    return 0.5 * best


def check_ard(omega: Callable, X: np.ndarray, tau: float, trials: int = 4, seed: int = 1, rtol: float = 1e-7) -> Check:
    """The catalog's ARD Omega equals a direct multi-start minimisation over eta."""
    rng = np.random.default_rng(seed)
    m, n = X.shape
    worst, lines = 0.0, []
    for t in range(trials):
        w = np.zeros(n)
        support = rng.choice(n, 3 + 2 * t, replace=False)
        w[support] = rng.standard_normal(len(support)) * 2
        base = 0.5 * m * np.log(tau)  # Omega(0): eta = 0 off the support
        ours, direct = omega(w) - base, _ard_direct(w, X, tau, 4, rng)
        err = abs(ours - direct) / max(1.0, abs(direct))
        worst = max(worst, err)
        lines.append(f"|supp w| = {len(support)}: Omega - Omega(0) = {ours:.12g}, direct {direct:.12g}")
    return Check(
        name="eta_trick.ard", statement="Omega(w) = 1/2 min_eta [sum w_j^2/eta_j + log det(tau I + X diag(eta) X^T)]",
        hypotheses=f"X {m} x {n}, tau = {tau}", passed=bool(worst <= rtol),
        numeric=[f"{trials} random sparse w, 4-start L-BFGS in log eta (float64); worst relative error {worst:.2e}"],
        worst_error=float(worst), detail="; ".join(lines))
