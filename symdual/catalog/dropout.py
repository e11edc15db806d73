"""Adaptive and plain dropout given by their rates (docs/catalog.md).

    plain dropout      drop rate p constant       eta = lam (1 - p)/p      Omega = w**2/(2 eta)
    Gaussian dropout   variance sigma**2 constant eta = lam/sigma**2       Omega = sigma**2 w**2/(2 lam)
    Standout           keep prob q = sigmoid(|a| - c)  eta_hat = lam e**(|a| - c)
                       Omega = (e**c/lam) (1 - (1 + |a|) e**(-|a|))

Standout (Ba & Frey 2013) acts on activations a; the catalog uses w for the
variable.  Its f is 0 on (0, lam e**(-c)] (eta_hat(0+) = lam e**(-c) > 0).
"""
from __future__ import annotations

import sympy as sp

from .entry import Entry, Param, lam_param, positive

PLAIN = Entry(
    name="plain_dropout", title="Dropout (constant rate)", citation="Srivastava et al. 2014", family="adaptive dropout",
    kind="drop_rate", rule="p", rule_text="p(w) = p (constant)",
    params=(Param("p", sp.Rational(1, 2), "0 < p < 1", lambda v: 0 < v < 1, "drop rate"), lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=False, unbiased=False, bounded=False,
                            continuity=True),
    notes=("Ridge: Omega = p w**2/(2 lam (1 - p)); subquadratic only in the wide sense (g affine in s).",),
)

GAUSSIAN = Entry(
    name="gaussian_dropout", title="Gaussian dropout (constant variance)",
    citation="Srivastava et al. 2014; Wang & Manning 2013",
    family="adaptive dropout", kind="variance", rule="variance", rule_text="sigma**2(w) = variance (constant)",
    params=(positive("variance", 1, "multiplicative noise N(1, variance)"), lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=False, unbiased=False, bounded=False,
                            continuity=True),
    notes=("Same second moment as dropout with r = p/(1 - p) = variance: ridge with eta = lam/variance.",),
)

STANDOUT = Entry(
    name="standout", title="Standout (adaptive dropout)", citation="Ba & Frey 2013", family="adaptive dropout",
    kind="keep_prob", rule="sigmoid(w - c)", rule_text="q(w) = sigmoid(|w| - c)",
    params=(Param("c", 0, "c real", lambda v: v.is_extended_real, "offset of the keep probability (our default 0)"),
            lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=False, unbiased=True, bounded=True,
                            continuity=True),
    notes=("Acts on activations a in Ba & Frey; written in w here.",
           "Quadratic near 0 (Omega'(0+) = 0): shrinks small values hard without an exact zero.",
           "The papers give no value of c for Figure 1; the default c = 0 is ours."),
)

ENTRIES = (PLAIN, GAUSSIAN, STANDOUT)
