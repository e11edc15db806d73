"""Variational dropout with Molchanov's approximate KL (Molchanov, Ashukha & Vetrov 2017).

docs/catalog.md: f(eta) = (2/lam)(k1 sigmoid(k3 log eta - k2) + 1/2 log(1 + eta)),
k1 = 0.63576, k2 = 1.87320, k3 = 1.48695; alpha = 1/eta.  No closed-form Omega.
Run: python derivations/vardrop_approx.py [lam]     (default lam = 1)
"""
import sys

import mpmath
import numpy as np
import sympy as sp
from _walk import check, eta, finish, header, step, verdicts

import symdual as sd
from symdual.asymptotics import expansion_at_infinity, expansion_at_zero
from symdual.methods import vardrop as V

entry, values = header("vardrop_approx", **({"lam": sys.argv[1]} if len(sys.argv) > 1 else {}))
lam = values["lam"]
sig = lambda x: 1 / (1 + sp.exp(-x))  # noqa: E731
alpha = sp.Symbol("alpha", positive=True)
neg_kl = V.K1 * sig(V.K2 + V.K3 * sp.log(alpha)) - sp.log(1 + 1 / alpha) / 2 - V.K1
step("Molchanov's fit (eq. 14, C = -k1 so that KL -> 0 as alpha -> oo): -KL(alpha) =", neg_kl)
kl_eta = -neg_kl.subs(alpha, 1 / eta)
step("alpha = 1/eta; f = 2 KL/lam (f(0+) = 0):", 2 * kl_eta / lam)
check("f = the papers' (2/lam)(k1 sigmoid(k3 log eta - k2) + log(1 + eta)/2)",
      all(abs(sp.N((2 * kl_eta / lam - V.f_approx(lam)).subs(eta, e), 40)) < 1e-35
          for e in (sp.Rational(1, 7), 1, 5, 300)),
      "equal at 4 exact etas to 35 digits (SymPy N)")
f = sd.catalog.expression(entry, values)
check("the catalog's rule is this f", sp.simplify(f - V.f_approx(lam)) == 0, "symbolic (SymPy)")
fp = sp.diff(f, eta)
step("f'(eta); f is not concave near 0 (the eta**k3 term, k3 > 1, makes f'' > 0 there):", fp)
with mpmath.workdps(30):
    fpp = sp.lambdify(eta, sp.diff(f, eta, 2), "mpmath")
    check("f'' > 0 near 0", fpp(mpmath.mpf("1e-3")) > 0,
          f"f''(1e-3) = {mpmath.nstr(fpp(mpmath.mpf('1e-3')), 6)} (mpmath)")
    g = sp.lambdify(eta, eta**2 * fp, "mpmath")
    grid = [mpmath.mpf(10) ** (k / 10) for k in range(-80, 81)]
    vals = [g(e) for e in grid]
check("eta**2 f'(eta) increasing (so eta_hat has no jump)", all(b > a for a, b in zip(vals, vals[1:], strict=False)),
      "161 log-spaced etas in [1e-8, 1e8] (mpmath, 30 digits)")
step("f near 0+ (SymPy series): c eta + d eta**k3 + ...", sum(c * eta**e for c, e in expansion_at_zero(f, 3)))
A, B, terms = expansion_at_infinity(f, 3)
step("f near infinity (SymPy series): A log(eta) + B + sum d eta**(-k)",
     A * sp.log(eta) + B + sum(d * eta**-k for d, k in terms))
record = verdicts(entry, values)
for key in ("omega@0", "omega@oo", "eta_hat@0", "eta_hat@oo"):
    step(f"Series {key}.", record.series[key])
print("   provenance:", record.provenance["omega"], "|", record.provenance["series"])

fl = sp.lambdify(eta, f, "mpmath")
with mpmath.workdps(30):
    def omega_ref(wv):  # global minimum: scan log eta, then golden section around the best point
        J = lambda t: (wv**2 / mpmath.exp(t) + fl(mpmath.exp(t))) / 2  # noqa: E731
        ts = [mpmath.mpf(k) / 10 for k in range(-120, 121)]
        i = min(range(len(ts)), key=lambda k: J(ts[k]))
        return J(mpmath.findroot(lambda t: mpmath.diff(J, t), ts[i]))

    pts = [mpmath.mpf(v) for v in ("0.05", "0.4", "1", "2.5", "7", "30")]
    ref = [omega_ref(p) for p in pts]
got = record.evaluate("omega", np.array([float(p) for p in pts]))
rel = max(abs((got[i] - got[0]) - float(ref[i] - ref[0])) / abs(float(ref[i] - ref[0])) for i in range(1, 6))
check("Omega numerics", rel < 1e-10, f"engine vs mpmath global minimisation (30 digits) at 6 points: {rel:.1e}")
check("looks like LogSum",
      [record.properties[k].status in ("proved", "supported") for k in ("sparsity", "unbiased", "bounded")]
      == [True, True, False], "sparse, unbiased, unbounded")
finish()
