"""HardConcrete L0 gates (Louizos, Welling & Kingma 2018) as a parametric eta-trick dual.

docs/catalog.md: s = clip(sigmoid((log u - log(1-u) + log a)/beta)(zeta-gamma) + gamma, 0, 1),
eta(a) = 1/(lam (E[s**2]/E[s]**2 - 1)), f = P(s > 0) = sigmoid(log a - beta log(-gamma/zeta));
the penalty looks like MCP (bounded) but eta_hat jumps to oo at a critical |w|.
Run: python derivations/hardconcrete.py     (beta = 2/3, gamma = -0.1, zeta = 1.1, lam = 1)
"""
import mpmath
import numpy as np
import sympy as sp
from _walk import check, finish, header, step, verdicts

from symdual.methods import hardconcrete as H
from symdual.numeric.gates import HardConcrete

entry, values = header("hardconcrete")
beta, gamma, zeta, lam = (values[k] for k in ("beta", "gamma", "zeta", "lam"))

t, a = sp.Symbol("t", real=True), sp.Symbol("a", positive=True)
sbar = (zeta - gamma) / (1 + sp.exp(-t / beta)) + gamma
step("Gate before clipping, t = L + log a (L logistic):", sbar)
t0 = sp.solve(sp.Eq(sbar, 0), t)[0]
t1 = sp.solve(sp.Eq(sbar, 1), t)[0]
step("Clip breakpoints: s = 0 for t <= t0, s = 1 for t >= t1 (SymPy solve).", text=f"t0 = {t0}, t1 = {t1}")
check("t0 = beta log(-gamma/zeta)", sp.simplify(sp.expand_log(t0 - beta * sp.log(-gamma / zeta))) == 0,
      "symbolic (SymPy)")
p_pos = 1 / (1 + sp.exp(-(sp.log(a) - t0)))
step("f(a) = P(s > 0) = P(L > t0 - log a) = sigmoid(log a - t0):", sp.simplify(p_pos))

gate = HardConcrete(float(beta), float(gamma), float(zeta), float(lam))
step("E[s] and E[s**2]: integrals of the gate against the logistic density between t0 and t1, plus the mass "
     "P(s = 1); float64 by Gauss-Legendre, mpmath by tanh-sinh (symdual.numeric.gates), never sampled.")
bm, gm, zm = (mpmath.mpf(sp.N(x, 40)) for x in (beta, gamma, zeta))


def moments_over_u(log_a):  # independent: quadrature over u in (0, 1) split at the clip breakpoints u0, u1
    s = lambda u: mpmath.sigmoid((mpmath.log(u) - mpmath.log(1 - u) + log_a) / bm) * (zm - gm) + gm  # noqa: E731
    u0 = mpmath.sigmoid(bm * mpmath.log(-gm / zm) - log_a)
    u1 = mpmath.sigmoid(bm * mpmath.log((1 - gm) / (zm - 1)) - log_a)
    return (mpmath.quad(s, [u0, u1]) + 1 - u1, mpmath.quad(lambda u: s(u) ** 2, [u0, u1]) + 1 - u1)


worst = 0.0
rng = np.random.default_rng(0)
with mpmath.workdps(30):
    for la in (-4.0, -1.0, 0.0, 1.5, 4.0):
        m1, m2 = gate.moments(np.array([la]))
        r1, r2 = moments_over_u(mpmath.mpf(la))
        worst = max(worst, abs(m1[0] / float(r1) - 1), abs(m2[0] / float(r2) - 1))
        mc = gate.sample_gates(la, 200_000, rng)
        print(f"    log a = {la:+.1f}: E[s] = {m1[0]:.15f}, E[s^2] = {m2[0]:.15f}   "
              f"(Monte Carlo, 2e5 gates, for scale only: {mc.mean():.4f}, {np.mean(mc**2):.4f})")
check("moments to double precision", worst < 1e-14,
      f"float64 Gauss-Legendre vs mpmath quadrature over u (30 digits) at 5 values of log a: max rel err {worst:.1e}")

step("The dual, parametric in a: eta(a) = 1/(lam r(a)), f(a) = P(s > 0).")
for la in (-6.0, -2.0, 0.0, 2.0, 6.0):
    log_eta, _ = gate.log_eta(np.array([la]))
    print(f"    log a = {la:+.1f}: eta = {np.exp(log_eta[0]):.10g}, f = {gate.f(np.array([la]))[0]:.10g}")
print()

record = verdicts(entry, values)
wc = record.limits["w_critical"]
step("Critical |w| (symdual.numeric: w_c**2 = sup_a (f(oo) - f(a)) eta(a), tangency solved in mpmath):",
     text=f"w_c = {wc}; eta_hat jumps to oo and Omega' to 0 there")
step("Series at 0+ (a -> 0: t - t0 ~ Exp(1) given s > 0; f ~ (lam m2/m1**2) eta) and at infinity (Omega = f(oo)/2):",
     text=f"{record.series['omega@0']}   |   {record.series['omega@oo']}")
m1, m2 = H.small_a_limit(beta, gamma, zeta)
print(f"    m1 = {mpmath.nstr(m1, 20)}, m2 = {mpmath.nstr(m2, 20)}\n")


def dual_point(la):  # (r(a), f(a)) from the moments over u, 20 digits
    with mpmath.workdps(20):
        m1_, m2_ = moments_over_u(la)
        return m2_ / m1_**2 - 1, mpmath.sigmoid(la - bm * mpmath.log(-gm / zm))


GRID = [mpmath.mpf(k) / 2 for k in range(-40, 25)]
GRID_VALUES = [dual_point(x) for x in GRID]


def omega_ref(wv):  # 1/2 min over log a (grid, then golden section) and the limit a -> oo (value 1/2)
    with mpmath.workdps(20):
        J = lambda la: (lambda r, f: wv**2 * lam * r + f)(*dual_point(la))  # noqa: E731
        vals = [wv**2 * lam * r + f for r, f in GRID_VALUES]
        i = min(range(len(GRID)), key=lambda k: vals[k])
        lo, hi = GRID[max(i - 1, 0)], GRID[min(i + 1, len(GRID) - 1)]
        g = (mpmath.sqrt(5) - 1) / 2
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
        fc, fd = J(c), J(d)
        for _ in range(30):
            if fc < fd:
                hi, d, fd = d, c, fc
                c = hi - g * (hi - lo)
                fc = J(c)
            else:
                lo, c, fc = c, d, fd
                d = lo + g * (hi - lo)
                fd = J(d)
        return min(fc, fd, vals[i], mpmath.mpf(1)) / 2


pts = (0.05, 0.2, 0.4, float(wc) * 0.99, float(wc) * 1.01, 2.0)
got = record.evaluate("omega", np.array(pts))
ref = [omega_ref(mpmath.mpf(x)) for x in pts]
err = max(abs(g - float(r)) / float(r) for g, r in zip(got, ref, strict=False))
check("Omega numerics", err < 1e-8, f"engine vs mpmath minimisation over a (moments over u, 20 digits) at 6 points "
      f"across the jump: max rel err {err:.1e}")
slope = H.slope_at_zero(beta, gamma, zeta, lam)
check("Omega'(0+)", abs(record.evaluate("omega_prime", np.array([1e-10]))[0] / float(slope) - 1) < 1e-8,
      f"engine at w = 1e-10 vs sqrt(lam m2/m1**2) = {mpmath.nstr(slope, 15)}")
check("looks like MCP",
      [record.properties[k].status in ("proved", "supported") for k in ("sparsity", "unbiased", "bounded")]
      == [True, True, True], "sparse, unbiased, bounded (Omega <= 1/2)")
finish()
