"""HardConcrete "L0 regularisation" (Louizos, Welling & Kingma 2018) as a parametric eta-trick dual.

f(a) = P(s > 0), eta(a) = 1/(lam r(a)), r = E[s**2]/E[s]**2 - 1 for the clipped gate s;
no closed form: the numeric engine and the series at 0+ and oo are the methods named here
(:mod:`symdual.methods.hardconcrete`).
"""
from __future__ import annotations

import sympy as sp

from ..constants import HARD_CONCRETE
from .entry import Entry, Param, lam_param, positive

ENTRY = Entry(
    name="hardconcrete", title="HardConcrete L0 gates", citation="Louizos, Welling & Kingma 2018",
    family="adaptive dropout", kind="engine", rule=None,
    rule_text="s = clip(sigmoid((L + log a)/beta)(zeta - gamma) + gamma, 0, 1); f = P(s > 0), eta = 1/(lam r(a))",
    rule_latex=(r"s = \min\big(1, \max\big(0, \sigma\big(\tfrac{L + \log a}{\beta}\big)"
                r"(\zeta - \gamma) + \gamma\big)\big);"
                r"\ f = P(s > 0),\ \eta = \frac{1}{\lambda\, r(a)}"),
    params=(positive("beta", sp.Rational(HARD_CONCRETE["beta"]), "temperature beta > 0"),
            Param("gamma", sp.Rational(HARD_CONCRETE["gamma"]), "gamma < 0", lambda v: v < 0, "lower stretch"),
            Param("zeta", sp.Rational(HARD_CONCRETE["zeta"]), "zeta > 1", lambda v: v > 1, "upper stretch"),
            lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=True,
                            continuity=None),
    lam_mapping=("eta(a) = 1/(lam r(a)), f = P(s > 0), as docs/catalog.md writes them (Figure 1: lam = 1); "
                 "lam*Omega matches Louizos's objective with lam/2 on the L0 term only at lam = 1"),
    numeric="symdual.methods.hardconcrete:engine", supplement="symdual.methods.hardconcrete:series",
    notes=("E[s] and E[s**2] are integrals over the logistic noise between the clip breakpoints, computed by "
           "quadrature (never sampled).",
           "Looks like MCP (bounded) but capped: eta_hat jumps to oo at a critical |w|, where Omega' drops to 0."),
)
