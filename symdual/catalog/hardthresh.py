"""HardThresh: keep the k largest weights (magnitude pruning, IHT), a non-separable eta-trick.

Keep probability 1 for the k largest |w_j|, 0 for the others, i.e.
eta_j = oo (r = lam/eta = 0) for the kept and eta_j = 0 for the dropped.
With f(eta) = 0 if ||eta||_0 <= k else +oo (eta in [0, oo]**n, 0/0 = 0),

    Omega(w) = 1/2 inf_eta [sum_j w_j**2/eta_j + f(eta)] = 0 if ||w||_0 <= k else +oo,

the indicator of k-sparse vectors (MATH.md section 3).
"""
from __future__ import annotations

import numpy as np

from ..derivation import Provenance
from ..properties import Verdict
from .entry import Entry, Param, lam_param
from .nonseparable import VectorPenalty


def keep_mask(w: np.ndarray, k: int) -> np.ndarray:
    """True on the k largest |w_j| (ties to the lower index)."""
    w = np.asarray(w, dtype=np.float64)
    order = np.argsort(-np.abs(w), kind="stable")
    mask = np.zeros(w.shape, dtype=bool)
    mask[order[:k]] = True
    return mask


def eta_hat(w: np.ndarray, k: int) -> np.ndarray:
    """oo on the k largest |w_j| (keep probability 1), 0 elsewhere (keep probability 0)."""
    return np.where(keep_mask(w, k), np.inf, 0.0)


def omega(w: np.ndarray, k: int) -> float:
    """0 if ||w||_0 <= k, else +oo; computed as the eta-trick objective at eta_hat (0/0 = 0)."""
    w = np.asarray(w, dtype=np.float64)
    e = eta_hat(w, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w == 0, 0.0, w**2 / e)
    return 0.5 * float(np.sum(terms))


def f_dual(eta: np.ndarray, k: int) -> float:
    """0 if at most k of the eta_j are nonzero, else +oo."""
    return 0.0 if np.count_nonzero(np.asarray(eta)) <= k else float("inf")


def project(w: np.ndarray, k: int) -> np.ndarray:
    """Hard thresholding H_k(w): the prox of Omega (keep the k largest)."""
    return np.where(keep_mask(w, k), w, 0.0)


def _verdicts(k: int) -> dict[str, Verdict]:
    eps = 1e-9
    a, b = np.array([1.0 + eps, 1.0] + [0.0] * k), np.array([1.0, 1.0 + eps] + [0.0] * k)
    jump = float(np.linalg.norm(project(a, 1) - project(b, 1)))
    return {
        "monotone": Verdict("proved", "raising |w_j| (others fixed) can only move j into the top k: its keep "
                                      "probability, hence eta_j, is nondecreasing"),
        "subquadratic": Verdict("proved", "Omega(sqrt s) = inf_eta [sum s_j/eta_j + f(eta)]/2 is an infimum of "
                                          "functions affine in s (concave, extended-valued, on s >= 0)"),
        "sparsity": Verdict("proved", f"Omega = +oo unless ||w||_0 <= {k}: every minimiser of loss + lam Omega "
                                      f"is {k}-sparse"),
        "unbiased": Verdict("proved", "Omega = 0 on k-sparse vectors: kept weights are not shrunk"),
        "bounded": Verdict("proved", "Omega = 0 on its domain (k-sparse vectors), +oo off it (an indicator)"),
        "continuity": Verdict("refuted", f"hard thresholding is discontinuous: H_1 maps (1+1e-9, 1) and (1, 1+1e-9) "
                                         f"to vectors {jump:.6g} apart (float64)"),
    }


def build(entry: Entry, values: dict) -> VectorPenalty:
    k = int(values["k"])
    return VectorPenalty(
        name=entry.name, title=entry.title, rule_text=entry.rule_text,
        eta_hat_text="oo on the k largest |w_j|, 0 elsewhere", omega_text="0 if ||w||_0 <= k, else +oo",
        f_text="0 if ||eta||_0 <= k, else +oo",
        omega=lambda w: omega(w, k), eta_hat=lambda w: eta_hat(w, k), f_dual=lambda e: f_dual(e, k),
        params={"k": k, "lam": values["lam"]}, properties=_verdicts(k),
        provenance={"omega": Provenance("closed form", "eta-trick objective at eta_hat = (oo on the top k, 0 "
                                                       "elsewhere); exact")},
        series={"omega on k'-sparse unit vectors": f"0 for k' <= {k}, +oo for k' > {k}"},
        notes=list(entry.notes),
        latex={"rule": entry.rule_latex, "eta_hat": r"\hat\eta_j = \infty \text{ on the } k \text{ largest } |w_j|,\ 0 \text{ elsewhere}",
               "omega": r"0 \text{ if } \|w\|_0 \le k,\ +\infty \text{ otherwise}"},
    )


ENTRY = Entry(
    name="hardthresh", title="HardThresh (keep the k largest)", citation="Blumensath & Davies 2009 (IHT); Han et al. 2015",
    family="non-separable", kind="non-separable", rule=None,
    rule_text="q_j = 1 for the k largest |w_j|, 0 otherwise",
    rule_latex=r"q_j = 1 \text{ for the } k \text{ largest } |w_j|,\ 0 \text{ otherwise}",
    params=(Param("k", 16, "integer k >= 0", lambda v: v.is_integer and v >= 0, "number of weights kept"),
            lam_param()),
    expected=lambda p: dict(monotone=True, subquadratic=True, sparsity=True, unbiased=True, bounded=True,
                            continuity=False),
    lam_mapping="lam has no effect: the penalty is an indicator (lam*Omega = Omega)",
    build=build,
    notes=("Non-separable: Omega depends on the whole vector through ||w||_0.",
           "'bounded' holds on the domain of the indicator (0 there), which is +oo elsewhere."),
)
