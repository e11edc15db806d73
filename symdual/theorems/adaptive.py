"""Adaptive dropout solves the penalised problem (docs/conventions.md).

For ``F(w) = 1/2*||y - Xw||**2 + lam*sum_j Omega(|w_j|)`` with the eta-trick
weight ``eta_hat`` (``Omega'(w) = w/eta_hat(w)``), three procedures must meet
at one stationary point:

* IRLS / deterministic adaptive dropout:
  ``eta_j <- eta_hat(|w_j|); w <- argmin 1/2||y - Xw||**2 + lam/2*sum_j w_j**2/eta_j``
  (eta_j = 0 pins w_j = 0, eta_j = inf leaves w_j unpenalised);
* a direct solver of ``F`` that only knows ``Omega'`` (proximal gradient);
* stochastic training with real inverted Bernoulli masks,
  ``q_j = eta_j/(eta_j + lam)`` recomputed from the current w.

With unit-norm columns the masked loss has expected gradient grad F
(docs/theorems.md: E_m 1/2||y - X(m*w)||**2 = 1/2||y - Xw||**2 + 1/2 sum_j (lam/eta_j) w_j**2).
Stationarity of F:
``x_j^T(Xw - y) + lam*sign(w_j)*Omega'(|w_j|) = 0`` for w_j != 0 and
``|x_j^T(Xw - y)| <= lam*Omega'(0+)`` for w_j = 0.

Callables act elementwise on magnitudes ``a >= 0``; ``omega_prime(0)`` must
return the right limit Omega'(0+) and ``eta_hat`` may return ``inf``.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .check import Check, NotConverged

ArrayFn = Callable[[np.ndarray], np.ndarray]

IRLS_MAX_ITER = 5000
"""Iteration cap of IRLS in :func:`check_adaptive` (the catalog's rules converge in under 200)."""
PROX_MAX_ITER = 5000
"""Iteration cap of the proximal-gradient reference in :func:`check_adaptive` (catalog: under 100)."""
SOLVER_BUDGET_S = 30.0
"""Wall-clock budget, in seconds, of each solver in :func:`check_adaptive`."""


def _stop(name: str, it: int, max_iter: int, start: float, budget_s: float | None, strict: bool) -> bool:
    """Whether a solver at iteration ``it`` must stop; with ``strict``, stopping unconverged raises NotConverged."""
    over_time = budget_s is not None and time.perf_counter() - start > budget_s
    if not (over_time or it >= max_iter):
        return False
    if strict:
        why = f"its {budget_s:g} s budget ran out after {it} iterations" if over_time else f"{it} iterations"
        raise NotConverged(f"the reference solver ({name}) did not converge in {why}")
    return True


def sparse_regression(n: int, d: int, k: int, seed: int,
                      noise: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n x d, unit-norm columns), y = X w_true + noise, w_true k-sparse with |entries| in [1, 2]."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=0)
    w_true = np.zeros(d)
    support = rng.choice(d, k, replace=False)
    w_true[support] = rng.uniform(1.0, 2.0, k) * rng.choice([-1.0, 1.0], k)
    return X, X @ w_true + noise * rng.standard_normal(n), w_true


def _safe_eta(eta_hat: ArrayFn, a: np.ndarray) -> np.ndarray:
    """eta_hat(a) with eta = 0 where a = 0 (the IRLS weight vanishes at 0 for sparse penalties)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a == 0, 0.0, eta_hat(a))


def weighted_ridge(G: np.ndarray, b: np.ndarray, eta: np.ndarray, lam: float) -> np.ndarray:
    """argmin 1/2 w^T G w - b^T w + lam/2 sum_j w_j**2/eta_j.

    eta_j = 0 pins w_j = 0 (column removed), eta_j = inf leaves w_j free; the
    rest is solved in v = w/sqrt(eta), which stays well conditioned as eta -> 0.
    """
    free = np.flatnonzero(np.isinf(eta))
    pen = np.flatnonzero(np.isfinite(eta) & (eta > 0))
    idx = np.concatenate([free, pen])
    scale = np.concatenate([np.ones(free.size), np.sqrt(eta[pen])])
    A = G[np.ix_(idx, idx)] * np.outer(scale, scale)
    A[free.size:, free.size:] += lam * np.eye(pen.size)
    w = np.zeros_like(b)
    if idx.size:
        w[idx] = scale * np.linalg.solve(A, scale * b[idx])
    return w


def irls(X: np.ndarray, y: np.ndarray, eta_hat: ArrayFn, lam: float, w0: np.ndarray, *,
         tol: float = 1e-12, max_iter: int = 5000, zero_tol: float = 1e-10, budget_s: float | None = None,
         strict: bool = False) -> tuple[np.ndarray, int]:
    """Deterministic adaptive dropout (IRLS / majorise-minimise) from ``w0``.

    Entries below ``zero_tol * max|w|`` are set to 0 (then eta = 0 pins them).
    Returns the fixed point and the number of iterations; it stops after
    ``max_iter`` iterations or ``budget_s`` seconds, raising NotConverged then if ``strict``.
    """
    G, b = X.T @ X, X.T @ y
    w, start = w0.astype(float).copy(), time.perf_counter()
    for it in range(1, max_iter + 1):
        a = np.abs(w)
        a[a <= zero_tol * a.max(initial=0.0)] = 0.0
        w_new = weighted_ridge(G, b, _safe_eta(eta_hat, a), lam)
        if np.max(np.abs(w_new - w)) <= tol * (1 + np.max(np.abs(w_new))):
            return w_new, it
        w = w_new
        if _stop("IRLS", it, max_iter, start, budget_s, strict):
            return w, it
    return w, max_iter


def weak_convexity(omega_prime: ArrayFn, upper: float, points: int = 4000) -> float:
    """max(0, -min Omega'') on (0, upper], estimated by finite differences on a log grid."""
    grid = np.geomspace(1e-9, upper, points)
    slope = np.diff(omega_prime(grid)) / np.diff(grid)
    return float(max(0.0, -slope.min()))


def prox_scalar(z: np.ndarray, omega_prime: ArrayFn, t: float, iters: int = 80) -> np.ndarray:
    """argmin_u 1/2(u - z)**2 + t*Omega(|u|) for t*rho < 1 (rho: weak convexity).

    u = 0 when |z| <= t*Omega'(0+), else sign(z)*u with u + t*Omega'(u) = |z|
    (a strictly increasing equation, solved by vectorised bisection on (0, |z|)).
    """
    a = np.abs(z)
    act = a > t * omega_prime(np.zeros(1))[0]
    lo, hi = np.zeros(act.sum()), a[act].copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        over = mid + t * omega_prime(mid) > a[act]
        hi, lo = np.where(over, mid, hi), np.where(over, lo, mid)
    u = np.zeros_like(z)
    u[act] = np.sign(z[act]) * 0.5 * (lo + hi)
    return u


def proximal_gradient(X: np.ndarray, y: np.ndarray, omega_prime: ArrayFn, lam: float, w0: np.ndarray, *,
                      tol: float = 1e-13, max_iter: int = 100_000, budget_s: float | None = None,
                      strict: bool = False) -> tuple[np.ndarray, int]:
    """Direct stationary-point solver of F by proximal gradient, using only Omega'.

    Step t = 0.9/max(L, 2*lam*rho) with L = ||X||_2**2, so the scalar prox is single-valued.
    It stops after ``max_iter`` steps or ``budget_s`` seconds, raising NotConverged then if ``strict``.
    """
    G, b = X.T @ X, X.T @ y
    rho = weak_convexity(omega_prime, 10 * np.max(np.abs(w0)) + 10)
    t = 0.9 / max(np.linalg.eigvalsh(G)[-1], 2 * lam * rho)
    w, start = w0.astype(float).copy(), time.perf_counter()
    for it in range(1, max_iter + 1):
        w_new = prox_scalar(w - t * (G @ w - b), omega_prime, t * lam)
        if np.max(np.abs(w_new - w)) <= tol * (1 + np.max(np.abs(w_new))):
            return w_new, it
        w = w_new
        if _stop("proximal gradient", it, max_iter, start, budget_s, strict):
            return w, it
    return w, max_iter


def kkt_residual(X: np.ndarray, y: np.ndarray, w: np.ndarray, omega_prime: ArrayFn, lam: float) -> float:
    """Largest violation of the stationarity conditions of F at w (0 at a stationary point)."""
    g = X.T @ (X @ w - y)
    nz = w != 0
    res = np.empty_like(w)
    res[nz] = np.abs(g[nz] + lam * np.sign(w[nz]) * omega_prime(np.abs(w[nz])))
    res[~nz] = np.maximum(0.0, np.abs(g[~nz]) - lam * omega_prime(np.zeros((~nz).sum())))
    return float(res.max(initial=0.0))


def adaptive_dropout_sgd(X: np.ndarray, y: np.ndarray, eta_hat: ArrayFn, lam: float, w0: np.ndarray, *,
                         seed: int = 0, steps: int = 3000, batch: int = 8, q_min: float = 0.05) -> np.ndarray:
    """Stochastic training with real inverted Bernoulli masks and adaptive keep probabilities.

    Each step draws ``batch`` masks m_j ~ Bernoulli(q_j)/q_j with
    q_j = eta_hat(|w_j|)/(eta_hat(|w_j|) + lam) and takes a gradient step on the
    average of 1/2||y - X(m*w)||**2 with step 1/(L (1 + t/500)); its expected
    gradient is grad F for unit-norm columns (E m_j = 1, Var m_j = lam/eta_j).
    A weight whose keep probability falls below ``q_min`` is pruned (always
    dropped: w_j = 0, the eta = 0 pinning of IRLS). Returns the average of the
    iterates over the second half.
    """
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    step0 = 1.0 / np.linalg.eigvalsh(X.T @ X)[-1]
    w, alive = w0.astype(float).copy(), np.ones(d, bool)
    total, count = np.zeros(d), 0
    for t in range(steps):
        with np.errstate(divide="ignore"):
            q = 1.0 / (1.0 + lam / _safe_eta(eta_hat, np.abs(w)))
        alive &= q >= q_min
        q[~alive] = 1.0
        masks = (rng.random((batch, d)) < q) / q * alive
        res = y[None, :] - (masks * w) @ X.T
        grad = -(masks * (res @ X)).mean(axis=0)
        w = (w - step0 / (1 + t / 500) * grad) * alive
        if t >= steps // 2:
            total += w
            count += 1
    return total / count


def _sgd_leg(X: np.ndarray, y: np.ndarray, eta_hat: ArrayFn, omega_prime: ArrayFn, lam: float,
             w_sgd: np.ndarray, w_direct: np.ndarray, kkt_tol: float, sgd_tol: float) -> tuple[bool, float, str]:
    """Whether the SGD limit is (within ``sgd_tol``, same support) a stationary point of F; error and a line.

    First against the direct solver's point; F is nonconvex for a concave-like penalty, so an SGD limit
    that misses it is polished by IRLS from the SGD limit, and the leg holds when that polished point is
    stationary (KKT residual <= ``kkt_tol``) and the SGD limit matches it.
    """
    err = np.linalg.norm(w_sgd - w_direct) / max(np.linalg.norm(w_direct), 1e-300)
    if err <= sgd_tol and np.array_equal(w_sgd != 0, w_direct != 0):
        return True, float(err), f"|w_sgd - w_direct|/|w_direct| = {err:.1e} (tol {sgd_tol:g}); support agrees"
    w_pol, _ = irls(X, y, eta_hat, lam, w_sgd, max_iter=IRLS_MAX_ITER, budget_s=SOLVER_BUDGET_S, strict=True)
    kkt = kkt_residual(X, y, w_pol, omega_prime, lam) / (1 + np.abs(X.T @ y).max())
    err_pol = np.linalg.norm(w_sgd - w_pol) / max(np.linalg.norm(w_pol), 1e-300)
    ok = bool(kkt <= kkt_tol and err_pol <= sgd_tol and np.array_equal(w_sgd != 0, w_pol != 0))
    line = (f"|w_sgd - w_direct|/|w_direct| = {err:.1e} (tol {sgd_tol:g}); IRLS polished from w_sgd (another "
            f"stationary point of the nonconvex F?): relative KKT residual {kkt:.1e} (tol {kkt_tol:g}), "
            f"|w_sgd - w_polished|/|w_polished| = {err_pol:.1e}; "
            + ("a stationary point" if ok else "NOT a stationary point"))
    return ok, float(err_pol if ok else max(err, err_pol)), line


def _pruned(w_sgd: np.ndarray, w_direct: np.ndarray) -> bool:
    """Whether the SGD limit lost weights of the stationary point (pruned at q < q_min: the absorbing zero)."""
    return bool(np.any((w_sgd == 0) & (w_direct != 0)))


def check_adaptive(eta_hat: ArrayFn, omega_prime: ArrayFn, lam: float, *, n: int, d: int, k: int, seed: int,
                   name: str, noise: float = 0.1, sgd_steps: int = 3000, kkt_tol: float = 1e-8,
                   match_tol: float = 1e-6, sgd_tol: float = 2e-2) -> Check:
    """IRLS fixed point = direct stationary point of F; the adaptive-dropout SGD limit is a stationary point.

    The solvers are capped (:data:`IRLS_MAX_ITER`, :data:`PROX_MAX_ITER`, :data:`SOLVER_BUDGET_S` each):
    one that does not converge raises :class:`NotConverged` (the check could not be carried out).
    """
    X, y, w_true = sparse_regression(n, d, k, seed, noise)
    w0 = np.linalg.lstsq(X, y, rcond=None)[0]
    w_irls, it_irls = irls(X, y, eta_hat, lam, w0, max_iter=IRLS_MAX_ITER, budget_s=SOLVER_BUDGET_S, strict=True)
    w_direct, it_direct = proximal_gradient(X, y, omega_prime, lam, w0, max_iter=PROX_MAX_ITER,
                                            budget_s=SOLVER_BUDGET_S, strict=True)
    w_sgd = adaptive_dropout_sgd(X, y, eta_hat, lam, w0, seed=seed, steps=sgd_steps)
    scale = 1 + np.abs(X.T @ y).max()
    kkt_irls = kkt_residual(X, y, w_irls, omega_prime, lam) / scale
    kkt_direct = kkt_residual(X, y, w_direct, omega_prime, lam) / scale
    dist = np.linalg.norm(w_irls - w_direct) / (1 + np.linalg.norm(w_direct))
    same_support = np.array_equal(w_irls != 0, w_direct != 0)
    sgd_ok, sgd_err, sgd_line = _sgd_leg(X, y, eta_hat, omega_prime, lam, w_sgd, w_direct, kkt_tol, sgd_tol)
    true_support = np.array_equal(w_direct != 0, w_true != 0)
    deterministic = kkt_irls <= kkt_tol and kkt_direct <= kkt_tol and dist <= match_tol and same_support
    inconclusive = deterministic and not sgd_ok
    detail = ("could not check the stochastic leg: IRLS and the direct solver agree on a stationary point, but "
              "dropout SGD with real masks did not reach one"
              + (" (it pruned a weight the stationary point keeps: keep probability below 0.05, an absorbing zero)"
                 if _pruned(w_sgd, w_direct) else "") if inconclusive else "")
    return Check(
        name=f"adaptive.{name}",
        statement="adaptive dropout (IRLS with eta_hat, and SGD with real masks q = eta/(eta+lam)) reaches "
        "the stationary point of 1/2||y - Xw||^2 + lam sum_j Omega(|w_j|)",
        hypotheses=f"{name}, lam = {lam:g}; X {n}x{d} unit-norm columns, w_true {k}-sparse, noise {noise:g}, "
        f"seed {seed}; all solvers start from least squares; Omega'(w) = w/eta_hat(w) assumed",
        passed=bool(deterministic and sgd_ok),
        checked=not inconclusive,
        detail=detail,
        numeric=[
            f"IRLS ({it_irls} ridge solves): relative KKT residual {kkt_irls:.1e} (tol {kkt_tol:g})",
            f"proximal gradient ({it_direct} steps): relative KKT residual {kkt_direct:.1e}",
            f"|w_irls - w_direct|/(1 + |w_direct|) = {dist:.1e} (tol {match_tol:g}); "
            f"supports {'agree' if same_support else 'DIFFER'} ({int((w_direct != 0).sum())} nonzeros)",
            f"dropout SGD ({sgd_steps} steps, real masks): {sgd_line}",
            f"true support {'recovered' if true_support else 'not recovered'} by the stationary point",
        ],
        worst_error=float(max(kkt_irls, kkt_direct, dist, sgd_err)),
    )
