"""Variational dropout (Kingma et al. 2015; Molchanov et al. 2017) as an eta-trick dual f.

Gaussian noise of variance alpha = 1/eta on each weight, log-uniform prior;
f(eta) = 2 KL(alpha = 1/eta)/lam.  The mathematics (the 2F2 form of the exact
KL, its proofs and expansions) is in :mod:`symdual.methods.vardrop`; neither
Omega has a closed form, so the engine uses the numeric method named here.
"""
from __future__ import annotations

from ..constants import MOLCHANOV_K
from .entry import Entry, lam_param

_K1, _K2, _K3 = MOLCHANOV_K


def _expected(p):
    return dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=False, continuity=None)


LAM_MAPPING = ("alpha = 1/eta and f = 2 KL/lam: lam*Omega = 1/2 inf_eta [lam w**2/eta + 2 KL(1/eta)] "
               "(the convention r = lam/eta of docs/conventions.md holds at lam = 1)")

VARDROP_APPROX = Entry(
    name="vardrop_approx", title="Variational dropout (approximate KL)", citation="Molchanov, Ashukha & Vetrov 2017",
    family="adaptive dropout", kind="dual",
    rule=f"(2/lam)*({_K1}*eta**{_K3}/(eta**{_K3} + exp({_K2})) + log(1 + eta)/2)",
    rule_text="f(eta) = (2/lam)(k1 sigmoid(k3 log eta - k2) + log(1 + eta)/2)",
    params=(lam_param(),), expected=_expected, lam_mapping=LAM_MAPPING, numeric="symdual.methods.vardrop:approx_engine",
    supplement="symdual.methods.vardrop:approx_series",
    notes=(f"Molchanov's constants k1 = {_K1}, k2 = {_K2}, k3 = {_K3} (exact decimals).",
           "f'(0+) = 1/lam; f is not concave near 0 (the eta**k3 term, k3 > 1), but eta**2 f'(eta) increases, "
           "so u -> f(1/u) is convex and the stationary point is the minimum.",
           "Looks like LogSum: Omega ~ log(w)/lam at infinity, Omega'(0+) = 1/sqrt(lam)."),
)

VARDROP_EXACT = Entry(
    name="vardrop_exact", title="Variational dropout (exact KL)", citation="Kingma, Salimans & Welling 2015",
    family="adaptive dropout", kind="dual", rule="(eta*hyper([1, 1], [3/2, 2], -eta/2) - EulerGamma - log(2))/lam",
    rule_text="f(eta) = (log eta + 2 E log|1 + z/sqrt(eta)|)/lam, z ~ N(0,1)",
    params=(lam_param(),), expected=_expected, lam_mapping=LAM_MAPPING, numeric="symdual.methods.vardrop:exact_engine",
    supplement="symdual.methods.vardrop:exact_series",
    notes=("f(0+) = -(gamma + log 2)/lam (the KL up to its prior's constant), so Omega(0) = f(0+)/2; "
           "compare penalties as Omega(w) - Omega(0).",
           "f'(eta) = D(sqrt(eta/2))/sqrt(eta/2)/lam (proved termwise + hyperexpand; checked against the "
           "expectation integral at 35 digits in the derivation script vardrop_exact.py).",
           "Looks like LogSum: Omega ~ log(w)/lam at infinity, Omega'(0+) = 1/sqrt(lam)."),
)

ENTRIES = (VARDROP_APPROX, VARDROP_EXACT)
