"""Gaussian (multiplicative N(1, sigma**2)) dropout with constant variance.

Expected (docs/conventions.md): same second moment as dropout with r = sigma**2, so
eta = lam/sigma**2 and Omega = sigma**2 w**2/(2 lam): ridge, not sparse.
Run: python derivations/gaussian_dropout.py [variance lam]     (default 1, 1)
"""
import sys

import mpmath
import numpy as np
import sympy as sp
from _walk import check, finish, header, mp_max_rel, step, verdicts, w, walk_rule

entry, values = header("gaussian_dropout", **dict(zip(("variance", "lam"), sys.argv[1:3], strict=False)))
var, lam = values["variance"], values["lam"]
out = walk_rule(entry, values)

step("Checks against the papers' closed forms.")
check("eta = lam/sigma**2", sp.simplify(out["eta_hat"] - lam / var) == 0, "symbolic (SymPy)")
check("Omega = sigma**2 w**2/(2 lam)", sp.simplify(out["omega"] - var * w**2 / (2 * lam)) == 0, "symbolic (SymPy)")
rng = np.random.default_rng(0)
wv, s2 = 1.3, float(var)
noise = 1 + np.sqrt(s2) * rng.standard_normal(2_000_000)
excess = np.mean(0.5 * (noise * wv - 0.4) ** 2) - 0.5 * (wv - 0.4) ** 2
check("ridge weight r = sigma**2 (Monte Carlo)", abs(excess - 0.5 * s2 * wv**2) < 5e-3,
      f"2e6 Gaussian multipliers: excess loss {excess:.5f} vs sigma**2 w**2/2 = {0.5 * s2 * wv**2:.5f}")
record = verdicts(entry, values)
c = mpmath.mpf(sp.N(var / lam, 50))
err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: c * x**2 / 2, (0.01, 0.3, 1.7, 4, 20, 300), 1.0)
check("Omega numerics", err < 1e-12, f"float64 evaluator vs mpmath at 6 points: {err:.1e}")
finish()
