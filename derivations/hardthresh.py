"""HardThresh (magnitude pruning / IHT): keep the k largest weights, a non-separable eta-trick.

docs/catalog.md: keep probability 1 for the top k, 0 otherwise; the effective penalty is the
indicator of ||w||_0 <= k.  With eta_j = oo for kept and 0 for dropped weights (r = lam/eta),
f(eta) = 0 if ||eta||_0 <= k else oo, and Omega(w) = 1/2 inf_eta [sum w_j**2/eta_j + f(eta)].
Run: python derivations/hardthresh.py [k]     (default k = 16)
"""
import itertools
import sys

import numpy as np
from _walk import check, finish, header, step, verdicts

from symdual.methods import hardthresh as HT

entry, values = header("hardthresh", **({"k": sys.argv[1]} if len(sys.argv) > 1 else {}))
k = int(values["k"])
step("Rule: q_j = 1 on the k largest |w_j| (r_j = 0, eta_j = oo), q_j = 0 elsewhere (r_j = oo, eta_j = 0).")
step("Dual: f(eta) = 0 if at most k of the eta_j are nonzero, else oo (only such eta are ever chosen).")
step("Eta-trick: with 0/0 = 0, sum_j w_j**2/eta_j + f(eta) = 0 iff every nonzero w_j has eta_j = oo and at most k "
     "eta_j are nonzero, so Omega(w) = 0 if ||w||_0 <= k, else oo: the indicator of k-sparse vectors.")

n, small_k = 6, 2
rng = np.random.default_rng(0)
worst_ok = True
for _ in range(200):  # brute force over all supports of eta in R^6 with k = 2
    w = rng.standard_normal(n) * (rng.random(n) < 0.5)
    best = np.inf
    for size in range(small_k + 1):
        for supp in itertools.combinations(range(n), size):
            eta = np.zeros(n)
            eta[list(supp)] = np.inf
            with np.errstate(divide="ignore", invalid="ignore"):
                best = min(best, 0.5 * float(np.sum(np.where(w == 0, 0.0, w**2 / eta))))
    worst_ok &= best == HT.omega(w, small_k)
check("Omega = brute-force infimum over all eta", worst_ok, "200 random w in R^6 with k = 2, all supports of eta")
record = verdicts(entry, values)
unit = [np.r_[np.ones(j) / np.sqrt(j), np.zeros(32 - j)] if j else np.zeros(32) for j in range(33)]
vals = [record.evaluate("omega", v) for v in unit]
check("Figure 1 (right): unit-norm j-sparse vectors in R^32",
      all(v == (0 if j <= k else np.inf) for j, v in enumerate(vals)),
      f"Omega = 0 for j <= {k}, oo beyond")
finish()
