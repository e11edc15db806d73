"""LogSum(eps) (Candes, Wakin & Boyd 2008) from eta_hat(w) = |w|(|w| + eps).

Expected (docs/catalog.md): Omega = log(|w| + eps) (up to a constant),
f(eta) = 2 log((sqrt(eps**2 + 4 eta) + eps)/2) - (sqrt(eps**2 + 4 eta) - eps)**2/(4 eta).
Run: python derivations/logsum.py [eps]     (default eps = 2)
"""
import sys

import mpmath
import sympy as sp
from _walk import check, eta, finish, header, mp_max_rel, same_up_to_constant, step, verdicts, w, walk_rule

entry, values = header("logsum", **({"eps": sys.argv[1]} if len(sys.argv) > 1 else {}))
eps = values["eps"]
out = walk_rule(entry, values)

step("Checks against the papers' closed forms.")
check("Omega = log(w + eps) + C", same_up_to_constant(out["omega"], sp.log(w + eps)),
      "d/dw of the difference simplifies to 0 (SymPy); the engine's C = -log(eps) makes Omega(0) = 0")
root = sp.sqrt(eps**2 + 4 * eta)
f_math = 2 * sp.log((root + eps) / 2) - (root - eps) ** 2 / (4 * eta)
check("f = the papers' f + C", same_up_to_constant(out["f"], f_math, eta),
      f"d/deta of the difference simplifies to 0 (SymPy); C = {sp.simplify(out['f'] - f_math)}")
record = verdicts(entry, values)
e = mpmath.mpf(sp.Rational(eps).p) / sp.Rational(eps).q
err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: mpmath.log(x + e), (0.01, 0.3, 1.7, 4, 20, 300), 1.0)
check("Omega numerics", err < 1e-12, f"float64 evaluator vs mpmath log(w + eps) at 6 points: max rel err {err:.1e}")
finish()
