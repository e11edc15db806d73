"""Plain (inverted) dropout with a constant drop rate p.

Expected (docs/conventions.md and docs/catalog.md): eta = lam (1 - p)/p constant, Omega = w**2/(2 eta): ridge,
not sparse; f = 0 up to eta, +oo beyond (an indicator).
Run: python derivations/plain_dropout.py [p lam]     (default p = 1/2, lam = 1)
"""
import sys

import mpmath
import numpy as np
import sympy as sp
from _walk import check, finish, header, mp_max_rel, step, verdicts, w, walk_rule

entry, values = header("plain_dropout", **dict(zip(("p", "lam"), sys.argv[1:3], strict=False)))
p, lam = values["p"], values["lam"]
out = walk_rule(entry, values)

step("Checks against the papers' closed forms.")
eta_c = lam * (1 - p) / p
check("eta = lam (1-p)/p", sp.simplify(out["eta_hat"] - eta_c) == 0, "symbolic (SymPy)")
check("Omega = w**2/(2 eta)", sp.simplify(out["omega"] - w**2 / (2 * eta_c)) == 0, "symbolic (SymPy)")
# Monte Carlo with real masks: E_m 1/2 (x m w/q - y)**2 - 1/2 (x w - y)**2 = 1/2 r w**2 (x**2 = 1)
rng = np.random.default_rng(0)
q, wv = float(1 - p), 1.3
m = rng.random(2_000_000) < q
excess = np.mean(0.5 * (m * wv / q - 0.4) ** 2) - 0.5 * (wv - 0.4) ** 2
r = float(p / (1 - p))
check("ridge weight r = p/(1-p) (Monte Carlo)", abs(excess - 0.5 * r * wv**2) < 5e-3,
      f"2e6 Bernoulli masks: excess loss {excess:.5f} vs r w**2/2 = {0.5 * r * wv**2:.5f}")
record = verdicts(entry, values)
e = mpmath.mpf(sp.N(eta_c, 50))
err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: x**2 / (2 * e), (0.01, 0.3, 1.7, 4, 20, 300), 1.0)
check("Omega numerics", err < 1e-12, f"float64 evaluator vs mpmath w**2/(2 eta) at 6 points: {err:.1e}")
finish()
