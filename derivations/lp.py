"""l_p quasi-norm (0 < p < 2) from eta_hat(w) = |w|**(2 - p).

Expected (docs/catalog.md): Omega = |w|**p/p, f(eta) = eta**q/q with q = p/(2 - p).
Run: python derivations/lp.py [p]     (default p = 1/2)
"""
import sys

import mpmath
import sympy as sp
from _walk import check, eta, finish, header, mp_max_rel, step, verdicts, w, walk_rule

entry, values = header("lp", **({"p": sys.argv[1]} if len(sys.argv) > 1 else {}))
p = values["p"]
out = walk_rule(entry, values)

step("Checks against the papers' closed forms.")
q = p / (2 - p)
check("Omega = w**p/p", sp.simplify(out["omega"] - w**p / p) == 0, "symbolic (SymPy)")
check("f = eta**q/q, q = p/(2-p)", sp.simplify(out["f"] - eta**q / q) == 0, f"symbolic (SymPy), q = {q}")
record = verdicts(entry, values)
pf = mpmath.mpf(sp.Rational(p).p) / sp.Rational(p).q
err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: x**pf / pf, (0.01, 0.3, 1.7, 4, 20, 300), 1.0)
check("Omega numerics", err < 1e-12, f"float64 evaluator vs mpmath w**p/p at 6 points: max rel err {err:.1e}")
finish()
