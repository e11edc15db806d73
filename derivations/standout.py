"""Standout (Ba & Frey 2013): keep probability q = sigmoid(|w| - c) (on activations; w here).

Expected (docs/catalog.md): eta_hat = lam e**(|w| - c), Omega = (e**c/lam)(1 - (1 + |w|) e**(-|w|));
bounded and unbiased but quadratic near 0 (Omega'(0+) = 0).  f is worked out here:
f = 0 on (0, lam e**(-c)], then f = 2 e**c/lam - ((1 + w*)**2 + 1)/eta with w* = log(eta/lam) + c.
Run: python derivations/standout.py [c lam]     (default c = 0, lam = 1)
"""
import sys

import mpmath
import sympy as sp
from _walk import check, eta, finish, header, mp_max_rel, step, verdicts, w, walk_rule

from symdual.piecewise import branches

entry, values = header("standout", **dict(zip(("c", "lam"), sys.argv[1:3], strict=False)))
c, lam = values["c"], values["lam"]
out = walk_rule(entry, values)

step("Checks against the papers' closed forms and the hand derivation of f.")
check("eta_hat = lam e**(w - c)", sp.simplify(out["eta_hat"] - lam * sp.exp(w - c)) == 0, "symbolic (SymPy)")
omega_math = sp.exp(c) / lam * (1 - (1 + w) * sp.exp(-w))
check("Omega = (e**c/lam)(1 - (1+w)e**(-w))", sp.simplify(out["omega"] - omega_math) == 0, "symbolic (SymPy)")
(f0, dom0), (f1, _) = branches(out["f"], eta)
w_star = sp.log(eta / lam) + c
check("f = 0 on (0, lam e**(-c)]", f0 == 0 and sp.simplify(dom0.sup - lam * sp.exp(-c)) == 0, "symbolic (SymPy)")
check("f beyond",
      sp.simplify(sp.expand_log(f1 - (2 * sp.exp(c) / lam - ((1 + w_star) ** 2 + 1) / eta), force=True)) == 0,
      "symbolic (SymPy)")
record = verdicts(entry, values)
cm, lm = (mpmath.mpf(sp.N(x, 50)) for x in (c, lam))
err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: mpmath.exp(cm) / lm * (1 - (1 + x) * mpmath.exp(-x)),
                 (0.01, 0.3, 1.7, 4, 20, 60), 1.0)
check("Omega numerics", err < 1e-12, f"float64 evaluator vs mpmath closed form at 6 points: {err:.1e}")
finish()
