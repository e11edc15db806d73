"""Classical sparsity penalties (docs/catalog.md).

    l1            eta_hat = w                 Omega = w
    l_p           eta_hat = w**(2-p)          Omega = w**p/p
    LogSum(eps)   eta_hat = w*(w + eps)       Omega = log(w + eps) - log(eps)
    Log2Sum(eps)  eta_hat = (w**2 + eps)/2    Omega = log(w**2 + eps) - log(eps)
    MCP(a, lam)   Omega = w - w**2/(2*a*lam) up to a*lam, a*lam/2 beyond (Zhang 2010, / lam)
    SCAD(a, lam)  Omega = Fan & Li's penalty / lam: linear, quadratic, constant

Every Omega is normalised to Omega(0) = 0 (the engine integrates Omega' from
0); the papers' log(w + eps) and log(w**2 + eps) differ from it by a constant.
For MCP and SCAD lam sets the knees (a*lam), so lam*Omega is the classical
penalty of Zhang and of Fan and Li.
"""
from __future__ import annotations

import sympy as sp

from .entry import Entry, Param, lam_param, positive

L1 = Entry(
    name="l1", title="l1 (lasso)", citation="Tibshirani 1996", family="classical",
    kind="eta_hat", rule="w", rule_text="eta_hat(w) = |w|",
    params=(lam_param(),),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=False, bounded=False,
                            continuity=True),
)

LP = Entry(
    name="lp", title="l_p quasi-norm, 0 < p < 2", citation="Frank & Friedman 1993 (bridge); Chartrand 2007",
    family="classical", kind="eta_hat", rule="w**(2 - p)", rule_text="eta_hat(w) = |w|**(2 - p)",
    params=(Param("p", sp.Rational(1, 2), "0 < p < 2", lambda v: 0 < v < 2, "exponent"), lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=bool(p["p"] <= 1),
                            unbiased=bool(p["p"] < 1), bounded=False, continuity=bool(p["p"] >= 1)),
    notes=("Omega = |w|**p/p: Omega'(0+) = oo for p < 1 (sparse, thresholding jumps), 1 for p = 1, "
           "0 for p > 1 (not sparse).",),
)

LOGSUM = Entry(
    name="logsum", title="LogSum", citation="Candes, Wakin & Boyd 2008", family="classical",
    kind="eta_hat", rule="w*(w+eps)", rule_text="eta_hat(w) = |w|(|w| + eps)",
    params=(positive("eps", 2, "smoothing eps > 0 (Figure 1: eps = 2)"), lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=False,
                            continuity=bool(p["eps"] ** 2 >= p["lam"])),
    notes=("The papers write Omega = log(|w| + eps); the engine normalises Omega(0) = 0, i.e. log(1 + |w|/eps), "
           "and f changes by the constant 2 log(eps) accordingly.",
           "Thresholding is continuous iff eps**2 >= lam (1 + lam Omega'' >= 0 at 0+).",
           "Figure 1 plots 2*Omega (lam = 1)."),
)

LOG2SUM = Entry(
    name="log2sum", title="Log2Sum", citation="LeJeune, Javadi & Baraniuk 2021 (Table 2)", family="classical",
    kind="eta_hat", rule="(w**2 + eps)/2", rule_text="eta_hat(w) = (w**2 + eps)/2",
    params=(positive("eps", 1, "smoothing eps > 0"), lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=False, unbiased=True, bounded=False,
                            continuity=True),
    notes=("The papers write Omega = log(w**2 + eps); the engine normalises Omega(0) = 0.",
           "Omega'(0+) = 0: not sparsity-inducing although unbiased."),
)

MCP = Entry(
    name="mcp", title="MCP (minimax concave penalty)", citation="Zhang 2010", family="classical",
    kind="penalty", rule="Piecewise((w - w**2/(2*a*lam), w <= a*lam), (a*lam/2, True))",
    rule_text="Omega(w) = |w| - w**2/(2 a lam) for |w| <= a lam, a lam/2 beyond",
    params=(positive("a", sp.Rational(1, 2), "concavity a > 0 (Zhang's gamma; Figure 1: a = 1/2)"),
            lam_param(sp.sqrt(2))),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=True,
                            continuity=bool(p["a"] > 1)),
    lam_mapping="lam sets the knee b = a*lam; lam*Omega = Zhang's lam|w| - w**2/(2a) (a = his gamma)",
    notes=("Defaults a = 1/2, lam = sqrt(2) as in Figure 1 (plotted as sqrt(2)*Omega, i.e. lam*Omega).",
           "Thresholding is continuous iff a > 1 (w + lam Omega'(w) = lam + w(1 - 1/a) on [0, a lam])."),
)

SCAD = Entry(
    name="scad", title="SCAD", citation="Fan & Li 2001", family="classical",
    kind="penalty",
    rule="Piecewise((w, w <= lam), ((2*a*lam*w - w**2 - lam**2)/(2*(a - 1)*lam), w <= a*lam), ((a + 1)*lam/2, True))",
    rule_text="Omega(w) = Fan-Li SCAD / lam: |w| to lam, quadratic to a lam, (a+1) lam/2 beyond",
    params=(Param("a", sp.Rational(37, 10), "a > 2", lambda v: v > 2, "knee ratio a > 2 (Fan & Li: 3.7)"),
            lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=True,
                            continuity=True),
    lam_mapping="lam sets the knees lam and a*lam; lam*Omega is Fan and Li's penalty",
    notes=("eta_hat = |w| up to lam, (a-1) lam |w|/(a lam - |w|) up to a lam, infinite beyond; "
           "f(eta) = eta for eta <= lam.",),
)

ENTRIES = (L1, LP, LOGSUM, LOG2SUM, MCP, SCAD)
