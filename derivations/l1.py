"""l1 (lasso) from its eta-trick weight eta_hat(w) = |w|.

Expected (docs/catalog.md): Omega = |w|, f(eta) = eta; sparse, biased, unbounded.
Run: python derivations/l1.py
"""
import sympy as sp
from _walk import check, eta, finish, header, mp_max_rel, step, verdicts, w, walk_rule

entry, values = header("l1")
out = walk_rule(entry, values)

step("Checks against the papers' closed forms.")
check("Omega = |w|", sp.simplify(out["omega"] - w) == 0, "symbolic (SymPy)")
check("f(eta) = eta", sp.simplify(out["f"] - eta) == 0, "symbolic (SymPy)")
record = verdicts(entry, values)
err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: x, (0.01, 0.3, 1.7, 4, 20, 300), 1.0)
check("Omega numerics", err < 1e-12, f"float64 evaluator vs mpmath |w| at 6 points: max rel err {err:.1e}")
finish()
