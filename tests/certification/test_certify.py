"""The certification stage: wrong closed forms are caught, right ones pass (references typed here, mpmath)."""
from __future__ import annotations

import mpmath
import pytest
import sympy as sp

import symdual as sd
from symdual import certify as C
from symdual.rules import eta, w

HALF = sp.Rational(1, 2)


@pytest.mark.parametrize("omega, eta_hat", [
    (sp.log(1 + w / 2), w * (2 + w)),                      # LogSum(2): Omega' = 1/(2 + w)
    (w**3 / 3, 1 / w),                                     # keep prob 1/(1+w): eta_hat = 1/w
    (sp.Piecewise((w, w < 2), (2, True)), sp.Piecewise((w, w < 2), (sp.oo, True))),  # capped l1
    (sp.sqrt(1 + w**2) - 1, sp.sqrt(1 + w**2)),            # hyperbolic penalty
])
def test_integral_check_passes_true_closed_forms(omega, eta_hat):
    cert = C.omega_from_integral(omega, eta_hat)
    assert cert.ok, cert.summary
    assert cert.points >= 33 and cert.max_error < C.TOL


@pytest.mark.parametrize("omega, eta_hat", [
    (sp.log(1 + w / 2) + 1, w * (2 + w)),                  # not normalised: Omega(0) = 1
    (sp.log(1 + w / 2) * (1 + w * 1e-12), w * (2 + w)),     # off by 1e-12 relative at w = 1
    (sp.Piecewise((w, w < 2), (w, True)), sp.Piecewise((w, w < 2), (sp.oo, True))),  # cap forgotten
    (w**3 / 3 + sp.Heaviside(w - 3) / 10**6, 1 / w),        # a small jump at w = 3
])
def test_integral_check_catches_wrong_closed_forms(omega, eta_hat):
    cert = C.omega_from_integral(omega, eta_hat)
    assert not cert.ok
    assert "instead of" in cert.failure


def test_dual_check_catches_the_flat_piece():
    """f = eta on (0, 1), 1 beyond: Omega = min(w, 1/2) (the flat piece wins as eta -> oo); Omega = w is wrong."""
    f = sp.Piecewise((eta, eta < 1), (1, True))
    assert not C.omega_from_dual(w, w, f).ok
    good = C.omega_from_dual(sp.Min(w, HALF), sp.Piecewise((w, w < HALF), (sp.oo, True)), f)
    assert good.ok, good.summary


def test_dual_check_of_f_compares_every_candidate():
    """eta_hat = w below 2 and oo beyond: Omega = min(w, 2), f = eta below 2 and 4 - 4/eta beyond."""
    omega, eh = sp.Piecewise((w, w < 2), (2, True)), sp.Piecewise((w, w < 2), (sp.oo, True))
    assert C.dual_from_omega(sp.Piecewise((eta, eta < 2), (4 - 4 / eta, True)), omega, eh).ok
    assert not C.dual_from_omega(sp.Piecewise((eta, eta < 2), (sp.oo, True)), omega, eh).ok
    assert not C.dual_from_omega(eta, omega, eh).ok                   # f = eta beyond 2 is below the sup


def test_derivative_check():
    assert C.derivative(sp.Heaviside(HALF - w), sp.Min(w, HALF)).ok
    assert not C.derivative(sp.Heaviside(1 - w), sp.Min(w, HALF)).ok
    assert C.eta_hat_from_derivative(w * (2 + w), sp.log(1 + w / 2)).ok
    assert not C.eta_hat_from_derivative(w * (1 + w), sp.log(1 + w / 2)).ok


def test_nan_never_certifies():
    assert not C.omega_from_integral(sp.nan * w, w).ok
    assert not C.dual_from_omega(sp.oo * sp.Heaviside(eta - 2) + eta, sp.Piecewise((w, w < 2), (2, True)),
                                 sp.Piecewise((w, w < 2), (sp.oo, True))).ok


def _omega_ref_dual(f, x: float) -> mpmath.mpf:
    """1/2 inf over a dense log grid of eta (and eta = 1e40 for eta -> oo) of x^2/eta + f(eta), 30 digits."""
    fn = sp.lambdify(eta, f, "mpmath")
    with mpmath.workdps(30):
        grid = [mpmath.mpf(10) ** (k / 200) for k in range(-1600, 1601)] + [mpmath.mpf(10) ** 40]
        return min((mpmath.mpf(x) ** 2 / e + fn(e)) / 2 for e in grid)


def test_derive_discards_the_wrong_closed_form_of_a_flat_dual():
    """Defect: derive(dual=eta below 1, 1 beyond) gave Omega = w labelled exact; truth min(w, 1/2)."""
    f = sp.Piecewise((eta, eta < 1), (1, True))
    d = sd.derive(dual="Piecewise((eta, eta < 1), (1, True))")
    for x in (0.3, 0.7, 1.0, 3.0):
        truth = min(x, 0.5)
        assert abs(float(_omega_ref_dual(f, x)) - truth) <= 1e-4 * truth  # grid step 10**(1/200) in eta
        assert d.evaluate("omega", x) == pytest.approx(truth, rel=1e-12)
    assert d.provenance["omega"].method != "closed form" or "certified" in d.provenance["omega"].precision


def test_derive_never_labels_a_wrong_dual_exact():
    """Defect: eta_hat = w below 2, oo beyond gave f = +oo beyond eta = 2 (truth 4 - 4/eta)."""
    d = sd.derive(eta_hat="Piecewise((w, w < 2), (oo, True))")
    if d.f_dual is not None:
        assert "certified" in d.provenance["f_dual"].precision
        for e in (2.5, 10.0, 1e3):
            assert d.evaluate("f_dual", e) == pytest.approx(4 - 4 / e, rel=1e-12)
    else:
        assert d.provenance["f_dual"].method == "not derived"


@pytest.mark.parametrize("kwargs", [dict(penalty="log(1+w/2)"), dict(keep_prob="1/(1+w)"), dict(dual="2*sqrt(eta)"),
                                    dict(eta_hat="w*(3+w)", lam=2)])
def test_closed_forms_of_derive_are_certified(kwargs):
    d = sd.derive(**kwargs)
    for piece, p in d.provenance.items():
        derived = piece in ("omega", "eta_hat", "f_dual") and not p.how.startswith("exact conversion")
        if p.method == "closed form" and derived:
            assert "certified" in p.precision, (piece, p)
