"""MCP (Zhang 2010) given as its penalty divided by lam; knee b = a*lam.

Expected (docs/catalog.md): Omega = |w| - w**2/(2b) for |w| <= b, b/2 beyond;
eta_hat = b|w|/(b - |w|) (oo beyond b); f = b eta/(eta + b).  lam*Omega is
Zhang's lam|w| - w**2/(2a) (his gamma = a).
Run: python derivations/mcp.py [a lam]     (default a = 1/2, lam = sqrt(2), Figure 1)
"""
import sys

import mpmath
import sympy as sp
from _walk import check, eta, finish, header, mp_max_rel, step, verdicts, w, walk_rule

from symdual.piecewise import branches

args = dict(zip(("a", "lam"), sys.argv[1:3], strict=False))
entry, values = header("mcp", **args)
a, lam = values["a"], values["lam"]
b = a * lam
out = walk_rule(entry, values)

step("Checks against the papers' closed forms.")
inner = [e for e, _ in branches(out["eta_hat"], w) if e != sp.oo]
check("eta_hat = b w/(b - w) below b", sp.simplify(inner[0] - b * w / (b - w)) == 0, "symbolic (SymPy)")
check("f = b eta/(eta + b)", sp.simplify(out["f"] - b * eta / (eta + b)) == 0, "symbolic (SymPy)")
check("lam*Omega = Zhang's penalty below the knee",
      sp.simplify(lam * branches(out["omega"], w)[0][0] - (lam * w - w**2 / (2 * a))) == 0,
      "symbolic (SymPy)")
record = verdicts(entry, values)
bm = mpmath.mpf(sp.N(b, 50))
ref = lambda x: x - x**2 / (2 * bm) if x <= bm else bm / 2  # noqa: E731
err = mp_max_rel(lambda x: record.evaluate("omega", x), ref, (0.05, 0.3, float(bm) * 0.99, 1.7, 4, 20), 0.2)
check("Omega numerics", err < 1e-12,
      f"float64 evaluator vs mpmath piecewise MCP at 6 points (across the knee): {err:.1e}")
finish()
