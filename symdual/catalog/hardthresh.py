"""HardThresh: keep the k largest weights (magnitude pruning, IHT), a non-separable eta-trick.

Omega is the indicator of k-sparse vectors; its record is built by :mod:`symdual.methods.hardthresh`.
"""
from __future__ import annotations

from .entry import Entry, Param, lam_param

ENTRY = Entry(
    name="hardthresh", title="HardThresh (keep the k largest)",
    citation="Blumensath & Davies 2009 (IHT); Han et al. 2015",
    family="non-separable", kind="non-separable", rule=None,
    rule_text="q_j = 1 for the k largest |w_j|, 0 otherwise",
    rule_latex=r"q_j = 1 \text{ for the } k \text{ largest } |w_j|,\ 0 \text{ otherwise}",
    params=(Param("k", 16, "integer k >= 0", lambda v: v.is_integer and v >= 0, "number of weights kept"),
            lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=True,
                            continuity=False),
    lam_mapping="lam has no effect: the penalty is an indicator (lam*Omega = Omega)",
    build="symdual.methods.hardthresh:record",
    notes=("Non-separable: Omega depends on the whole vector through ||w||_0.",
           "'bounded' holds on the domain of the indicator (0 there), which is +oo elsewhere."),
)
