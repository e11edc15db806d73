"""SCAD (Fan & Li 2001) given as its penalty divided by lam; knees lam and a*lam.

Fan & Li: p(w) = lam|w| (|w| <= lam), (2 a lam |w| - w**2 - lam**2)/(2(a-1)) (<= a lam),
(a+1) lam**2/2 beyond; Omega = p/lam.  we derive eta_hat and f piecewise.
By hand: eta_hat = w | (a-1) lam w/(a lam - w) | oo, and f(eta) = eta for eta <= lam,
f(eta) = 2 Omega(w*) - w*/eta with w* = a lam eta/(eta + (a-1) lam) beyond.
Run: python derivations/scad.py [a lam]     (default a = 3.7, lam = 1)
"""
import sys

import mpmath
import sympy as sp
from _walk import check, eta, finish, header, mp_max_rel, step, verdicts, w, walk_rule

from symdual.piecewise import branches

args = dict(zip(("a", "lam"), sys.argv[1:3], strict=False))
entry, values = header("scad", **args)
a, lam = values["a"], values["lam"]
out = walk_rule(entry, values)

step("Checks against the hand derivation.")
parts = [e for e, _ in branches(out["eta_hat"], w)]
check("eta_hat pieces", sp.simplify(parts[0] - w) == 0
      and sp.simplify(parts[1] - (a - 1) * lam * w / (a * lam - w)) == 0
      and parts[2] == sp.oo, "symbolic (SymPy)")
fparts = branches(out["f"], eta)
w_star = a * lam * eta / (eta + (a - 1) * lam)
om_mid = (2 * a * lam * w - w**2 - lam**2) / (2 * (a - 1) * lam)
f_mid = 2 * om_mid.subs(w, w_star) - w_star**2 / eta
check("f = eta up to lam, then 2 Omega(w*) - w*^2/eta", sp.simplify(fparts[0][0] - eta) == 0
      and sp.simplify(fparts[1][0] - f_mid) == 0 and fparts[0][1].sup == lam, "symbolic (SymPy)")
check("f(oo) = 2 Omega(oo) = (a+1) lam", sp.limit(fparts[-1][0], eta, sp.oo) == (a + 1) * lam, "exact limit")
record = verdicts(entry, values)
am, lm = (mpmath.mpf(sp.N(x, 50)) for x in (a, lam))


def fan_li(x):
    if x <= lm:
        return lm * x
    if x <= am * lm:
        return (2 * am * lm * x - x**2 - lm**2) / (2 * (am - 1))
    return (am + 1) * lm**2 / 2


err = mp_max_rel(lambda x: record.evaluate("omega", x), lambda x: fan_li(x) / lm,
                 (0.05, 0.5, 1.5, 2.5, 3.6, 20), 0.2)
check("Omega numerics", err < 1e-12,
      f"float64 evaluator vs mpmath Fan-Li/lam at 6 points (all three pieces): {err:.1e}")
finish()
