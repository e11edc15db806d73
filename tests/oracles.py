"""Independent references for the tests: each computes its answer from the definition, with
none of the code it checks (no symdual import), so a test comparing against it can fail.

* :func:`eta_trick_min` -- Omega(w) = 1/2 min_eta [w**2/eta + f(eta)] by a dense log-grid scan and
  golden-section refinement in mpmath: no stationarity equation, so it finds the global minimum of
  non-convex objectives and the flat pieces where eta_hat jumps.
* :func:`eta_trick_newton` -- the same minimum for a concave f, by Newton on the stationarity
  condition in log eta (mpmath findroot).
* :func:`grid_eta_trick` -- the same minimum over a given float64 grid of eta (brute force).
* :func:`monte_carlo_dropout` -- E_m ||y - X (m*w)/q||**2 over real Bernoulli masks m ~ B(q).
* :func:`brute_force_prox` -- argmin_u (u - z)**2/2 + step * Omega(u) over a dense grid, refined.
* :class:`Penalty` (:func:`l1`, :func:`logsum`, :func:`mcp`) -- eta_hat and Omega' typed by hand from
  the closed forms, for the checks of adaptive dropout.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

ArrayFn = Callable[[np.ndarray], np.ndarray]


def eta_trick_newton(f, f_prime, w, dps=30):
    """1/2 min_eta [w**2/eta + f(eta)] for a concave f: Newton on the stationarity in t = log(eta) (mpmath)."""
    with mpmath.workdps(dps):
        w = mpmath.mpf(w)
        t = mpmath.findroot(lambda t: -w**2 * mpmath.exp(-t) + mpmath.exp(t) * f_prime(mpmath.exp(t)),
                            mpmath.log(w + w**2))
        return (w**2 / mpmath.exp(t) + f(mpmath.exp(t))) / 2


def scan_then_golden(J, lo, hi, n, iters):
    """min of J over [lo, hi]: an n-point scan, then golden section around the best point (mpmath)."""
    ts = [mpmath.mpf(lo) + (hi - lo) * mpmath.mpf(i) / (n - 1) for i in range(n)]
    vals = [J(t) for t in ts]
    i = min(range(n), key=lambda k: vals[k])
    a, b = ts[max(i - 1, 0)], ts[min(i + 1, n - 1)]
    g = (mpmath.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = J(c), J(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = J(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = J(d)
    return min(fc, fd, vals[i])


def eta_trick_min(f, w, lo=-40, hi=40, n=801, dps=30):
    """1/2 min_eta [w**2/eta + f(eta)] by a log-grid scan then golden-section refinement (mpmath)."""
    with mpmath.workdps(dps):
        w = mpmath.mpf(w)
        return scan_then_golden(lambda t: w**2 / mpmath.exp(t) + f(mpmath.exp(t)), lo, hi, n, 80) / 2


def grid_eta_trick(f_values: np.ndarray, log_eta: np.ndarray, w: float) -> tuple[float, float]:
    """min over the grid of w**2/eta + f and its argmin eta."""
    j = np.exp(2 * np.log(w) - log_eta) + f_values
    i = int(np.argmin(j))
    return float(j[i]), float(np.exp(log_eta[i]))


def monte_carlo_dropout(X: np.ndarray, y: np.ndarray, w: np.ndarray, keep: np.ndarray, samples: int,
                        seed: int = 0) -> tuple[float, float]:
    """Mean and standard error of ||y - X (m*w/keep)||**2 over ``samples`` Bernoulli(keep) masks m."""
    rng = np.random.default_rng(seed)
    masks = rng.random((samples, w.size)) < keep
    residual = y[None, :] - (masks * (w / keep)[None, :]) @ X.T
    losses = np.sum(residual**2, axis=1)
    return float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(samples))


def brute_force_prox(omega: Callable[[np.ndarray], np.ndarray], z: float, step: float, half_width: float | None = None,
                     n: int = 200001) -> float:
    """argmin_u (u - z)**2/2 + step * Omega(u): a dense grid around z, then finer grids around the best point.

    Good to about sqrt(machine epsilon) * |z| in u where the objective is smooth at the minimum (a grid
    cannot see differences below the objective's rounding), exactly at kinks such as u = 0."""
    r = half_width if half_width is not None else abs(z) + 1.0
    lo, hi = z - r, z + r
    for _ in range(3):
        u = np.linspace(lo, hi, n)
        obj = (u - z) ** 2 / 2 + step * omega(u)
        i = int(np.argmin(obj))
        h = (hi - lo) / (n - 1)
        lo, hi = u[max(i - 2, 0)], u[min(i + 2, n - 1)]
        if h < 1e-15 * max(1.0, abs(z)):
            break
    return float(u[i])


@dataclass(frozen=True)
class Penalty:
    """A penalty given by its IRLS weight and derivative, both functions of |w|."""

    name: str
    eta_hat: ArrayFn
    omega_prime: ArrayFn


def l1() -> Penalty:
    """Omega = |w|: eta_hat = |w|, Omega' = 1."""
    return Penalty("l1", lambda a: np.asarray(a, float).copy(), lambda a: np.ones_like(np.asarray(a, float)))


def logsum(eps: float) -> Penalty:
    """Omega = log(|w| + eps): eta_hat = |w|(|w| + eps), Omega' = 1/(|w| + eps)."""
    return Penalty(f"logsum({eps:g})", lambda a: a * (a + eps), lambda a: 1.0 / (a + eps))


def mcp(b: float) -> Penalty:
    """MCP with b = a*lam: Omega' = (1 - |w|/b)_+, eta_hat = b|w|/(b - |w|) (inf for |w| >= b)."""

    def eta_hat(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, float)
        with np.errstate(divide="ignore"):
            return np.where(a < b, b * a / np.maximum(b - a, 0.0), np.inf)

    return Penalty(f"mcp({b:g})", eta_hat, lambda a: np.maximum(1.0 - np.asarray(a, float) / b, 0.0))
