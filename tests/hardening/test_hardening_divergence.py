"""The divergence test at w = 0 reads powers and logs of w, not constants such as log(2)."""
from __future__ import annotations

import pytest
import sympy as sp

import symdual as sd
from symdual.derivation import _check_integrable_at_zero
from symdual.errors import DivergentPenalty, InputError
from symdual.rules import w


@pytest.mark.parametrize("series, diverges", [
    (w**2 * sp.log(2) + w**3, False), (w**2 * sp.log(w), False), (w**2 * sp.log(2 + w), False),
    (3 * sp.sqrt(w), False), (sp.log(w), True), (w + 1 / w, True), (-sp.log(w) ** 2, True),
    (sp.log(3) / w**2, True),
])
def test_divergence_rule(series, diverges):
    if diverges:
        with pytest.raises(DivergentPenalty):
            _check_integrable_at_zero(series + sp.O(w**4))
    else:
        _check_integrable_at_zero(series + sp.O(w**4))


def test_a_constant_log_is_no_divergence():
    """Omega' = 1/(log(2+w)(1+w**5)) is 1/log 2 at 0+: Omega(w) ~ w/log(2), finite (it was refused)."""
    d = sd.derive(eta_hat="w*log(2+w)*(1+w**5)", timeout=2)
    assert d.evaluate("omega", 1e-6) == pytest.approx(1e-6 / float(sp.log(2)), rel=1e-5)


def test_a_true_divergence_is_refused():
    """eta_hat = w**2: Omega' = 1/w, Omega = log w + C is infinite at 0+."""
    with pytest.raises(InputError, match="diverges"):
        sd.derive(eta_hat="w**2*(1+w)**(1/3)*exp(w**3)", timeout=1)
