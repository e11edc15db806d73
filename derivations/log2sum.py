"""Log2Sum(eps) from eta_hat(w) = (w**2 + eps)/2.

Expected (docs/catalog.md): Omega = log(w**2 + eps) (up to a constant); not sparse (Omega'(0+) = 0).
Run: python derivations/log2sum.py [eps]     (default eps = 1)
"""
import sys

import mpmath
import sympy as sp
from _walk import check, eta, finish, header, mp_max_rel, same_up_to_constant, step, verdicts, w, walk_rule

entry, values = header("log2sum", **({"eps": sys.argv[1]} if len(sys.argv) > 1 else {}))
eps = values["eps"]
out = walk_rule(entry, values)

step("Checks against the papers' closed forms.")
check("Omega = log(w**2 + eps) + C", same_up_to_constant(out["omega"], sp.log(w**2 + eps)), "symbolic (SymPy)")
# f: sup_w [2 log(w**2 + eps) - w**2/eta]: w**2 = 2 eta - eps for eta > eps/2, else w = 0
f_hand = sp.Piecewise((2 * sp.log(eps), eta <= eps / 2), (2 * sp.log(2 * eta) - (2 * eta - eps) / eta, True))
check("f by hand (0 below eps/2)", all(sp.simplify(out["f"].subs(eta, x) - f_hand.subs(eta, x) + 2 * sp.log(eps)) == 0
                                       for x in (eps / 4, eps, 3 * eps, 10 * eps)),
      "engine's f equals the hand derivation minus 2 log(eps) at 4 exact points")
record = verdicts(entry, values)
e = mpmath.mpf(sp.Rational(eps).p) / sp.Rational(eps).q
err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: mpmath.log(x**2 + e),
                 (0.01, 0.3, 1.7, 4, 20, 300), 1.0)
check("Omega numerics", err < 1e-12, f"float64 evaluator vs mpmath log(w**2 + eps) at 6 points: max rel err {err:.1e}")
finish()
