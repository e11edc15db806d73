"""ARD / sparse Bayesian learning (Tipping 2001; Wipf & Nagarajan 2008): a non-separable eta-trick.

    Omega(w) = 1/2 min_{eta >= 0} [ sum_j w_j**2/eta_j + log det(tau I + X diag(eta) X^T) ]

The solver (convex in log eta) and the record are in :mod:`symdual.methods.ard`.
"""
from __future__ import annotations

from .entry import Entry, Param, lam_param, positive

ENTRY = Entry(
    name="ard", title="ARD / sparse Bayesian learning", citation="Tipping 2001; Wipf & Nagarajan 2008",
    family="non-separable", kind="non-separable", rule=None,
    rule_text="f(eta) = log det(tau I + X diag(eta) X^T)",
    rule_latex=r"f(\eta) = \log\det(\tau I + X \operatorname{diag}(\eta) X^\top)",
    params=(positive("tau", 1, "noise variance tau > 0"),
            Param("X", None, "a finite 2-D array", None, "design matrix (default None: Gaussian 16 x 32, "
                  "unit-norm columns, seed 0)", exact=False),
            lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=False,
                            continuity=None),
    lam_mapping="f does not scale with lam; lam*Omega is the SBL objective's penalty at lam = 1",
    build="symdual.methods.ard:record",
    notes=("Non-separable: the log det couples the eta_j through X.",
           "With X = I it separates: Omega = sum_j 1/2 [w_j**2/eta_j + log(tau + eta_j)], "
           "eta_j = (w_j**2 + sqrt(w_j**4 + 4 tau w_j**2))/2."),
)
