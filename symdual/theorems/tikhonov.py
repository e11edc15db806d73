"""Dropout equals Tikhonov regularisation (docs/conventions.md).

Inverted dropout on linear regression keeps coordinate j with probability
``q_j = 1 - p_j`` and scales it by ``1/q_j`` (so E m_j = 1, E m_j**2 = 1/q_j)::

    E_m 1/2*||y - X(m*w)||**2 = 1/2*||y - Xw||**2 + 1/2*sum_j r_j ||x_j||**2 w_j**2,
    r_j = (1 - q_j)/q_j = p_j/(1 - p_j),

and multiplicative Gaussian noise m_j ~ N(1, sigma_j**2) gives the same with
``r_j = sigma_j**2``. With unit-norm columns this is the papers' ridge term
1/2*sum_j r_j w_j**2, r = lam/eta.

The expectation helpers here (:func:`expect_over_outcomes`,
:func:`expect_independent`) are exact for any polynomial in the mask
variables and are shared with :mod:`symdual.theorems.structured`.
"""
from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp
from sympy.polys.polyerrors import BasePolynomialError

from .. import rules
from .check import Check

Outcome = tuple[tuple[sp.Expr, ...], sp.Expr]
"""One mask value (m_1, ..., m_d) and its probability."""
Ratio = Callable[[sp.Expr], sp.Expr]


def drop_to_keep_ratio(p: sp.Expr) -> sp.Expr:
    """The Tikhonov weight of inverted Bernoulli dropout with drop rate p: p/(1-p)."""
    return p / (1 - p)


def gaussian_ratio(variance: sp.Expr) -> sp.Expr:
    """The Tikhonov weight of N(1, sigma**2) multiplicative noise: sigma**2."""
    return variance


def bernoulli_outcomes(keep: Sequence[sp.Expr]) -> list[Outcome]:
    """All 2**d inverted-dropout masks m_j in {0, 1/q_j}, independent, P(m_j = 1/q_j) = q_j."""
    outcomes = []
    for kept in itertools.product((0, 1), repeat=len(keep)):
        values = tuple(sp.Integer(0) if b == 0 else 1 / q for b, q in zip(kept, keep, strict=False))
        prob = sp.Mul(*[q if b else 1 - q for b, q in zip(kept, keep, strict=False)])
        outcomes.append((values, prob))
    return outcomes


def _monomials(expr: sp.Expr, masks: Sequence[sp.Symbol]) -> list[tuple[tuple[int, ...], sp.Expr]]:
    return sp.Poly(sp.expand(expr), *masks).terms()


def expect_over_outcomes(expr: sp.Expr, masks: Sequence[sp.Symbol], outcomes: Sequence[Outcome]) -> sp.Expr:
    """Exact E[expr] for a polynomial in ``masks`` whose joint law is the finite list ``outcomes``.

    Each monomial prod m_j**a_j is averaged over every outcome (no sampling).
    """
    total = sp.Integer(0)
    for powers, coeff in _monomials(expr, masks):
        moment = sum(prob * sp.Mul(*[v**a for v, a in zip(values, powers, strict=False)]) for values, prob in outcomes)
        total += coeff * moment
    return total


def expect_independent(expr: sp.Expr, masks: Sequence[sp.Symbol], moment: Callable[[int, int], sp.Expr]) -> sp.Expr:
    """Exact E[expr] for a polynomial in independent ``masks`` with E[m_j**k] = moment(j, k)."""
    return sum(
        (coeff * sp.Mul(*[moment(j, a) for j, a in enumerate(powers)]) for powers, coeff in _monomials(expr, masks)),
        sp.Integer(0),
    )


def gaussian_moment(sigma: sp.Expr, k: int) -> sp.Expr:
    """E[(1 + sigma*z)**k], z ~ N(0, 1): sum_i C(k, i) sigma**i E z**i with E z**(2l) = (2l-1)!!."""
    return sum(
        (sp.binomial(k, i) * sigma**i * sp.factorial2(i - 1) for i in range(0, k + 1, 2)),
        sp.Integer(0),
    )


def _regression_symbols(n: int, d: int) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix]:
    X = sp.Matrix(n, d, lambda i, j: sp.Symbol(f"x_{i}_{j}", real=True))
    y = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"y_{i}", real=True))
    wv = sp.Matrix(d, 1, lambda j, _: sp.Symbol(f"w_{j}", real=True))
    return X, y, wv


def dropout_loss(X: sp.Matrix, y: sp.Matrix, wv: sp.Matrix, m: Sequence[sp.Expr]) -> sp.Expr:
    """1/2*||y - X(m*w)||**2."""
    res = y - X * sp.Matrix([mj * wj for mj, wj in zip(m, wv, strict=False)])
    return (res.T * res)[0, 0] / 2


def tikhonov_loss(X: sp.Matrix, y: sp.Matrix, wv: sp.Matrix, r: Sequence[sp.Expr]) -> sp.Expr:
    """1/2*||y - Xw||**2 + 1/2*sum_j r_j ||x_j||**2 w_j**2."""
    res = y - X * wv
    col2 = [(X[:, j].T * X[:, j])[0, 0] for j in range(X.shape[1])]
    return (res.T * res)[0, 0] / 2 + sum(rj * c * wj**2 for rj, c, wj in zip(r, col2, wv, strict=False)) / 2


def is_identically_zero(expr: sp.Expr, params: Sequence[sp.Symbol]) -> bool:
    """Exact test that ``expr`` vanishes identically.

    ``expr`` is read as a polynomial in its other free symbols with coefficients in the field of
    rational functions of ``params`` (fast and canonical); anything else falls back to cancel().
    """
    expr = sp.expand(expr)
    gens = sorted(expr.free_symbols - set(params), key=str)
    if gens:
        try:
            return sp.Poly(expr, *gens, domain=sp.QQ.frac_field(*params)).is_zero
        except BasePolynomialError:
            pass
    return sp.expand(sp.cancel(sp.together(expr))) == 0


def check_bernoulli_exact(n: int = 3, d: int = 2, ratio: Ratio = drop_to_keep_ratio) -> Check:
    """Exact expectation over all 2**d inverted Bernoulli masks equals the Tikhonov loss.

    ``ratio`` maps the drop rate p to the claimed weight r (true: p/(1-p)).
    """
    X, y, wv = _regression_symbols(n, d)
    q = [sp.Symbol(f"q_{j}", positive=True) for j in range(d)]
    masks = [sp.Symbol(f"m_{j}") for j in range(d)]
    r = [ratio(1 - qj) for qj in q]
    expected = expect_over_outcomes(dropout_loss(X, y, wv, masks), masks, bernoulli_outcomes(q))
    exact_ok = is_identically_zero(expected - tikhonov_loss(X, y, wv, r), q)
    qs, lam = sp.Symbol("q", positive=True), rules.lam
    eta_q = rules.to_eta_hat("keep_prob", qs)
    eta_p = rules.to_eta_hat("drop_rate", 1 - qs)
    link_ok = all(is_identically_zero(ratio(1 - qs) - lam / eta, [qs, lam]) for eta in (eta_q, eta_p))
    return Check(
        name="tikhonov.bernoulli_exact",
        statement="E_m 1/2||y - X(m*w)||^2 = 1/2||y - Xw||^2 + 1/2 sum_j r_j ||x_j||^2 w_j^2, r_j = p_j/(1-p_j)",
        hypotheses=f"inverted dropout m_j in {{0, 1/q_j}} independent, P(m_j = 1/q_j) = q_j = 1 - p_j in (0, 1); "
        f"symbolic X ({n}x{d}), y, w, q",
        passed=exact_ok and link_ok,
        proved=[
            f"sum over all {2**d} masks of P(mask)*loss minus the Tikhonov loss cancels to "
            f"{'0' if exact_ok else 'a NONZERO expression'}",
            f"r(p) = lam/eta with eta = rules.to_eta_hat('keep_prob', q) and ('drop_rate', p): "
            f"{'identical' if link_ok else 'MISMATCH'}",
        ],
    )


@functools.cache
def _gaussian_moments_by_integration() -> bool:
    """E m = 1 and E m**2 = 1 + sigma**2 for m = 1 + sigma*z, by integrating against the N(0,1) density."""
    z, s = sp.Symbol("z", real=True), sp.Symbol("sigma", positive=True)
    density = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    return all(
        sp.simplify(sp.integrate(sp.expand((1 + s * z) ** k) * density, (z, -sp.oo, sp.oo)) - gaussian_moment(s, k))
        == 0
        for k in (1, 2)
    )


def check_gaussian_exact(n: int = 3, d: int = 2, ratio: Ratio = gaussian_ratio) -> Check:
    """Exact expectation under independent N(1, sigma_j**2) masks equals the Tikhonov loss.

    ``ratio`` maps the variance sigma**2 to the claimed weight r (true: sigma**2).
    """
    X, y, wv = _regression_symbols(n, d)
    sig = [sp.Symbol(f"sigma_{j}", positive=True) for j in range(d)]
    masks = [sp.Symbol(f"m_{j}") for j in range(d)]
    expected = expect_independent(dropout_loss(X, y, wv, masks), masks, lambda j, k: gaussian_moment(sig[j], k))
    exact_ok = is_identically_zero(expected - tikhonov_loss(X, y, wv, [ratio(s**2) for s in sig]), sig)
    s = sp.Symbol("sigma", positive=True)
    moments_ok = _gaussian_moments_by_integration()
    link_ok = is_identically_zero(ratio(s**2) - rules.lam / rules.to_eta_hat("variance", s**2), [s, rules.lam])
    return Check(
        name="tikhonov.gaussian_exact",
        statement="E_m 1/2||y - X(m*w)||^2 = 1/2||y - Xw||^2 + 1/2 sum_j sigma_j^2 ||x_j||^2 w_j^2",
        hypotheses=f"m_j = 1 + sigma_j z_j, z_j iid N(0, 1); symbolic X ({n}x{d}), y, w, sigma",
        passed=exact_ok and moments_ok and link_ok,
        proved=[
            f"E m = 1 and E m^2 = 1 + sigma^2 by integration against the N(0,1) density: "
            f"{'verified' if moments_ok else 'FAILED'}",
            f"expanding the loss in the masks and replacing each monomial by its exact moment, "
            f"minus the Tikhonov loss, cancels to {'0' if exact_ok else 'a NONZERO expression'}",
            f"r = sigma^2 = lam/eta with eta = rules.to_eta_hat('variance', sigma^2): "
            f"{'identical' if link_ok else 'MISMATCH'}",
        ],
    )


def _mc_losses(X: np.ndarray, y: np.ndarray, w: np.ndarray, draw: Callable[[int], np.ndarray],
               samples: int, chunk: int = 50_000) -> np.ndarray:
    out = []
    for start in range(0, samples, chunk):
        masks = draw(min(chunk, samples - start))
        res = y[None, :] - (masks * w[None, :]) @ X.T
        out.append(0.5 * np.einsum("ij,ij->i", res, res))
    return np.concatenate(out)


def check_monte_carlo(kind: str = "bernoulli", n: int = 10, d: int = 5, samples: int = 200_000, seed: int = 0,
                      ratio: Ratio | None = None, z_max: float = 4.0) -> Check:
    """Monte Carlo mean of the loss with real sampled masks vs the exact Tikhonov loss.

    ``kind`` is "bernoulli" (drop rates p_j, ``ratio`` of p, default p/(1-p)) or
    "gaussian" (variances sigma_j**2, ``ratio`` of sigma**2, default sigma**2).
    Passes when |z| = |mean - exact| / standard error < ``z_max``.
    """
    if kind not in ("bernoulli", "gaussian"):
        raise ValueError(f"kind must be 'bernoulli' or 'gaussian', not {kind!r}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    y = X @ w + 0.5 * rng.standard_normal(n)
    level = np.linspace(0.1, 0.5, d)
    if kind == "bernoulli":
        ratio = ratio or drop_to_keep_ratio
        q = 1 - level

        def draw(k: int) -> np.ndarray:
            return (rng.random((k, d)) < q) / q
    else:
        ratio = ratio or gaussian_ratio
        sigma = np.sqrt(level)

        def draw(k: int) -> np.ndarray:
            return 1 + sigma * rng.standard_normal((k, d))
    r = np.array([float(ratio(sp.Float(v))) for v in level])
    losses = _mc_losses(X, y, w, draw, samples)
    exact = 0.5 * np.sum((y - X @ w) ** 2) + 0.5 * np.sum(r * np.sum(X**2, axis=0) * w**2)
    se = losses.std(ddof=1) / np.sqrt(samples)
    zscore = (losses.mean() - exact) / se
    rel = abs(losses.mean() - exact) / exact
    label = "p_j" if kind == "bernoulli" else "sigma_j^2"
    return Check(
        name=f"tikhonov.monte_carlo_{kind}",
        statement="Monte Carlo mean of 1/2||y - X(m*w)||^2 with real masks matches the exact Tikhonov loss",
        hypotheses=f"{kind} masks, {label} = {np.round(level, 3).tolist()}; random X ({n}x{d}), y, w; seed {seed}",
        passed=bool(abs(zscore) < z_max),
        numeric=[
            f"{samples} sampled masks: mean {losses.mean():.6g}, exact {exact:.6g}, standard error {se:.3g}, "
            f"z = {zscore:.2f} (pass |z| < {z_max})"
        ],
        worst_error=float(rel),
        detail=f"relative error {rel:.2e}",
    )


def checks(quick: bool = False) -> list[Check]:
    """The default dropout-equals-Tikhonov checks."""
    samples = 50_000 if quick else 200_000
    return [
        check_bernoulli_exact(3, 2),
        check_gaussian_exact(3, 2),
        check_monte_carlo("bernoulli", samples=samples),
        check_monte_carlo("gaussian", samples=samples),
    ]
