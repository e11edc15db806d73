"""HardThresh: keep the k largest weights (magnitude pruning, IHT), a non-separable eta-trick.

Keep probability 1 for the k largest |w_j|, 0 for the others, i.e.
eta_j = oo (r = lam/eta = 0) for the kept and eta_j = 0 for the dropped.
With f(eta) = 0 if ||eta||_0 <= k else +oo (eta in [0, oo]**n, 0/0 = 0),

    Omega(w) = 1/2 inf_eta [sum_j w_j**2/eta_j + f(eta)] = 0 if ||w||_0 <= k else +oo,

the indicator of k-sparse vectors (docs/catalog.md).
"""
from __future__ import annotations

import numpy as np

from ..record import Provenance, VectorPenalty
from ..verdict import Verdict, witness

CITATION = "Blumensath & Davies 2009"


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


def verdicts(k: int) -> dict[str, Verdict]:
    """Five properties of the indicator of k-sparse vectors, as that literature states them; continuity
    refuted by a computed counterexample (hard thresholding jumps)."""
    eps = 1e-9
    a, b = np.array([1.0 + eps, 1.0]), np.array([1.0, 1.0 + eps])  # sized by the example, not by k
    jump = float(np.linalg.norm(project(a, 1) - project(b, 1)))
    lit = f" ({CITATION})"
    return {
        "monotone": Verdict("proved", "literature", "raising |w_j| (others fixed) can only move j into the top k: "
                                                    "its keep probability, hence eta_j, is nondecreasing" + lit),
        "subquadratic": Verdict("proved", "literature", "Omega(sqrt s) = inf_eta [sum s_j/eta_j + f(eta)]/2 is an "
                                                        "infimum of functions affine in s" + lit),
        "sparsity": Verdict("proved", "literature", f"Omega = +oo unless ||w||_0 <= {k}: every minimiser of "
                                                    f"loss + lam Omega is {k}-sparse" + lit),
        "unbiased": Verdict("proved", "literature", "Omega = 0 on k-sparse vectors: kept weights are not shrunk" + lit),
        "bounded": Verdict("proved", "literature", "Omega = 0 on its domain (k-sparse vectors), +oo off it" + lit),
        "continuity": Verdict("refuted", "numeric", f"hard thresholding is discontinuous: H_1 maps (1+1e-9, 1) and "
                                                    f"(1, 1+1e-9) to vectors {jump:.6g} apart (float64)",
                              witness(["(1+1e-9, 1)", "(1, 1+1e-9)"], [f"{jump:.17g}"], "float64")),
    }


def record(entry: object, values: dict) -> VectorPenalty:
    """The record of HardThresh(k) for a catalog entry."""
    k = int(values["k"])
    return VectorPenalty(
        name=entry.name, title=entry.title, rule_text=entry.rule_text,
        eta_hat_text="oo on the k largest |w_j|, 0 elsewhere", omega_text="0 if ||w||_0 <= k, else +oo",
        f_text="0 if ||eta||_0 <= k, else +oo",
        omega=lambda w: omega(w, k), eta_hat=lambda w: eta_hat(w, k), f_dual=lambda e: f_dual(e, k),
        params={"k": k, "lam": values["lam"]}, properties=verdicts(k),
        provenance={"omega": Provenance("closed form", "eta-trick objective at eta_hat = (oo on the top k, 0 "
                                                       "elsewhere); exact")},
        series={"omega on k'-sparse unit vectors": f"0 for k' <= {k}, +oo for k' > {k}"},
        notes=tuple(entry.notes),
        latex={"rule": entry.rule_latex,
               "eta_hat": r"\hat\eta_j = \infty \text{ on the } k \text{ largest } |w_j|,\ 0 \text{ elsewhere}",
               "omega": r"0 \text{ if } \|w\|_0 \le k,\ +\infty \text{ otherwise}"},
    )
