"""ARD / sparse Bayesian learning (Tipping 2001; Wipf & Nagarajan 2008), a non-separable eta-trick.

docs/catalog.md: f(eta) = log det(tau I + X diag(eta) X^T), so
Omega(w) = 1/2 min_eta [sum_j w_j**2/eta_j + log det(tau I + X diag(eta) X^T)], evaluated numerically
(convex in u = log eta; see symdual/catalog/ard.py) and checked against direct minimisation.
Run: python derivations/ard.py
"""
import mpmath
import numpy as np
import sympy as sp
from _walk import check, finish, header, step, verdicts
from scipy.optimize import minimize

from symdual.methods import ard as A

entry, values = header("ard")
X, tau = A.as_design(values["X"]), float(values["tau"])
step(f"Design X: {X.shape[0]} x {X.shape[1]}, unit-norm columns (seed 0); tau = {tau:g}.")

u = sp.symbols("u1:4", real=True)
x = sp.Matrix(3, 2, [1, 2, 0, 1, 3, -1]).T  # a 2 x 3 example for the Cauchy-Binet step
det = sp.expand((sp.eye(2) + x * sp.diag(*[sp.exp(v) for v in u]) * x.T).det())
step("Cauchy-Binet (2 x 3 example): det(I + X diag(e**u) X^T) is a sum of exponentials of linear forms in u with "
     "nonnegative coefficients, so its log is convex (log-sum-exp): the objective is convex in u = log eta.", det)
coeffs_ok = all(c >= 0 for c in sp.Poly(det.subs({sp.exp(v): sp.Symbol(f"E{i}") for i, v in enumerate(u)}),
                                         *[sp.Symbol(f"E{i}") for i in range(3)]).coeffs())
check("nonnegative coefficients", coeffs_ok, "SymPy expansion")
step("Minimiser: 15 majorise-minimise steps eta_j = |w_j|/sqrt(x_j^T Sigma^-1 x_j), then damped Newton in u with "
     "the exact gradient -w_j**2/eta_j + eta_j K_jj and Hessian (K = X^T Sigma^-1 X).")

rng = np.random.default_rng(7)
worst = 0.0
for trial in range(6):
    w = rng.standard_normal(X.shape[1]) * (3 if trial % 2 else 0.3)
    sol = A.solve(w, X, tau)

    def J(v, w=w):
        e = np.exp(v)
        return 0.5 * float(np.sum(w**2 / e) + np.linalg.slogdet(tau * np.eye(X.shape[0]) + (X * e) @ X.T)[1])

    direct = minimize(J, np.zeros(X.shape[1]), method="BFGS", options={"gtol": 1e-11, "maxiter": 10000}).fun
    worst = max(worst, abs(sol.omega - direct) / abs(direct))
    print(f"    trial {trial}: Omega = {sol.omega:.15g} ({sol.iterations} Newton steps), "
          f"BFGS from eta = 1: {direct:.15g}")
check("Omega = direct minimisation", worst < 1e-9,
      f"6 random w in R^{X.shape[1]}: max rel diff vs scipy BFGS {worst:.1e}")

with mpmath.workdps(30):  # X = I separates: eta_j solves w**2/eta**2 = 1/(tau + eta)
    wv = [0.05, -0.3, 1.2, 9.0]
    ref = sum((mpmath.mpf(v)**2 / e + mpmath.log(tau + e)) / 2
              for v in wv
              for e in [(mpmath.mpf(v)**2 + mpmath.sqrt(mpmath.mpf(v)**4 + 4 * tau * mpmath.mpf(v)**2)) / 2])
got = A.omega(np.array(wv), np.eye(4), tau)
check("X = I closed form", abs(got - float(ref)) < 1e-13 * abs(float(ref)),
      f"{got:.16g} vs mpmath {mpmath.nstr(ref, 16)}")
record = verdicts(entry, values)
for key, text in record.series.items():
    print(f"    {key}: {text}")
finish()
