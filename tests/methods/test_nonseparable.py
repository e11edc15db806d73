"""Non-separable eta-trick checks (HardThresh, ARD) pass, and detect broken variants."""
from __future__ import annotations

import numpy as np

import symdual as sd
from symdual.methods import ard, hardthresh
from symdual.theorems.nonseparable import check_ard, check_hardthresh


def test_hardthresh_identity_and_projection():
    for k in (1, 2, 3):
        assert check_hardthresh(lambda v, k=k: hardthresh.omega(v, k),
                                lambda v, k=k: hardthresh.eta_hat(v, k), k).passed


def test_hardthresh_wrong_k_detected():
    wrong_omega = check_hardthresh(lambda v: hardthresh.omega(v, 3), lambda v: hardthresh.eta_hat(v, 2), 2)
    assert not wrong_omega.passed and "brute force" in wrong_omega.detail
    wrong_mask = check_hardthresh(lambda v: hardthresh.omega(v, 2), lambda v: hardthresh.eta_hat(v, 3), 2)
    assert not wrong_mask.passed and "top-2 projection" in wrong_mask.detail


def test_ard_against_direct_minimisation_and_broken_variant():
    rec = sd.catalog.get("ard")
    X, tau = np.asarray(rec.params["X"], dtype=float), float(rec.params["tau"])
    assert check_ard(lambda v: ard.omega(v, X, tau), X, tau, trials=2).passed
    broken = check_ard(lambda v: 1.001 * ard.omega(v, X, tau), X, tau, trials=2)
    assert not broken.passed and broken.worst_error > 1e-4
