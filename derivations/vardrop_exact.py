"""Variational dropout with the exact KL of the log-uniform prior (Kingma et al. 2015).

docs/catalog.md: f(eta) = 2 KL(alpha = 1/eta)/lam = log(eta) + 2 E log|1 + z/sqrt(eta)| (lam = 1),
f'(eta) = D(sqrt(eta/2))/sqrt(eta/2), f(eta) - f(0+) = eta 2F2(1,1; 3/2,2; -eta/2);
Omega has no closed form (stationarity w**2 = eta**2 f'(eta)) and looks like LogSum.
Run: python derivations/vardrop_exact.py [lam]     (default lam = 1)
"""
import sys

import mpmath
import sympy as sp
from _walk import check, eta, finish, header, step, verdicts

import symdual as sd
from symdual.asymptotics import expansion_at_zero
from symdual.methods import vardrop as V

entry, values = header("vardrop_exact", **({"lam": sys.argv[1]} if len(sys.argv) > 1 else {}))
lam = values["lam"]

theta, alpha, x, z = sp.symbols("theta alpha x z", positive=True)
q = sp.exp(-(x - theta) ** 2 / (2 * alpha * theta**2)) / sp.sqrt(2 * sp.pi * alpha * theta**2)
entropy = sp.simplify(sp.integrate(sp.expand_log(-sp.log(q), force=True) * q, (x, -sp.oo, sp.oo)))
step("Entropy of q = N(theta, alpha theta**2) (SymPy integral).", entropy)
step("Cross-entropy with p(w) ~ 1/|w|: -E_q log p = E log|w| + C = log(theta) + E log|1 + sqrt(alpha) z| + C, "
     "so KL = -H(q) + log(theta) + E log|1 + sqrt(alpha) z| + C; the part without the expectation is",
     sp.expand(-entropy + sp.log(theta)), text="log(theta) cancels: KL = -log(alpha)/2 + E log|1 + sqrt(alpha) z| + C'")
step("alpha = 1/eta and f = 2 KL/lam: lam f(eta) = log(eta) + 2 E log|1 + z/sqrt(eta)| = 2 E log|sqrt(eta) + z| "
     "(up to the prior's constant).")
f0 = V.f_at_zero()
step("lam f(0+) = 2 E log|z| = d/ds E (z**2)**s at s = 0, E (z**2)**s = 2**s Gamma(s + 1/2)/Gamma(1/2) (exact).", f0)
step("Derivative: d/dx E log|x + z| = PV E 1/(x + z) = sqrt(2) D(x/sqrt 2) (Hilbert transform of the Gaussian), "
     "so lam f'(eta) = D(y)/y, y = sqrt(eta/2).", V.f_prime_dawson(lam))
f = V.f_exact(lam)
step("Integrating term by term: lam (f(eta) - f(0+)) = eta 2F2(1, 1; 3/2, 2; -eta/2); f as used by the catalog:", f)
check("closed form = the catalog's rule", sp.simplify(f - sd.catalog.expression(entry, values)) == 0,
      "symbolic (SymPy)")
check("f' = D(y)/y", bool(V.derivative_proof()), V.derivative_proof())
err_f, err_fp = V.expectation_check(dps=35)
check("f from the KL expectation", err_f < 1e-32,
      f"|log(eta) + 2E log|1 + z/sqrt(eta)| - f(0+) - eta 2F2| <= {err_f:.1e} at 5 etas in [0.01, 200] "
      "(mpmath tanh-sinh, 35 digits)")
check("f' against the expectation", err_fp < 1e-32,
      f"|E[z log|sqrt(eta) + z|]/sqrt(eta) - D(y)/y| <= {err_fp:.1e} at the same etas (Stein's lemma; 35 digits)")

step("f near 0+ (SymPy series of the 2F2).", sum(c * eta**e for c, e in expansion_at_zero(f, 4)))
A, B, terms = V.expansion_at_infinity(lam)
step("f near infinity from Gaussian moments of the expectation: A log(eta) + B + sum d eta**(-j).",
     A * sp.log(eta) + B + sum(d * eta**-j for d, j in terms))
step("Stationarity w**2 = eta**2 f'(eta): SymPy finds no closed-form root (the engine records the attempt); "
     "Omega and eta_hat are numeric (symdual.numeric.vardrop), with series:")
record = verdicts(entry, values)
for key in ("omega@0", "omega@oo", "eta_hat@0", "eta_hat@oo"):
    step(f"Series {key}.", record.series[key])
print("   provenance:", record.provenance["omega"], "|", record.provenance["series"])

with mpmath.workdps(30):
    lm = mpmath.mpf(sp.N(lam, 40))
    fl = lambda e: (f0 + e * mpmath.hyp2f2(1, 1, 1.5, 2, -e / 2)) / lm  # noqa: E731
    fpl = lambda e: mpmath.hyp1f1(1, 1.5, -e / 2) / lm  # f' = d/deta [eta 2F2] = 1F1(1; 3/2; -eta/2)  # noqa: E731

    def omega_ref(wv):  # 1/2 min_eta [w**2/eta + f(eta)]: Newton on the stationarity in t = log eta (f concave)
        t = mpmath.findroot(lambda t: -wv**2 * mpmath.exp(-t) + mpmath.exp(t) * fpl(mpmath.exp(t)),
                            mpmath.log(wv * mpmath.sqrt(lm) + wv**2 * lm))
        return (wv**2 / mpmath.exp(t) + fl(mpmath.exp(t))) / 2

    pts = [mpmath.mpf(v) for v in ("0.05", "0.4", "1", "2.5", "7", "30")]
    ref = [omega_ref(p) for p in pts]
got = record.evaluate("omega", [float(p) for p in pts])
rel = max(abs((got[i] - got[0]) - float(ref[i] - ref[0])) / abs(float(ref[i] - ref[0])) for i in range(1, 6))
check("Omega numerics", rel < 1e-10, f"engine vs mpmath minimisation (30 digits) at 6 points: max rel err of "
      f"Omega(w) - Omega(0.05) {rel:.1e}")
check("looks like LogSum",
      [record.properties[k].status in ("proved", "supported") for k in ("sparsity", "unbiased", "bounded")]
      == [True, True, False], "sparse (Omega'(0+) = 1/sqrt(lam)), unbiased, unbounded (Omega ~ log(w)/lam)")
finish()
