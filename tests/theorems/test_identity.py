"""The eta-trick identity check: holds for derived records, fails for tampered ones."""
from __future__ import annotations

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdual as sd
from symdual.theorems.identity import Dual, Reference, check_eta_trick

RULES = {
    "l1": dict(eta_hat="w"),
    "logsum": dict(eta_hat="w*(w+eps)", params={"eps": 2}),
    "mcp": dict(eta_hat="Piecewise((b*w/(b-w), w < b), (oo, True))", params={"b": 2}),
    "standout": dict(keep_prob="1/(1+exp(c-w))", params={"c": 1}),
    "plain_dropout": dict(drop_rate="p", params={"p": 0.25}),
}


@pytest.fixture(scope="module")
def records() -> dict:
    return {name: sd.derive(**kw) for name, kw in RULES.items()}


def _mp(d, piece: str):
    return lambda x: d.evaluate_mp(piece, x, mpmath.mp.dps)


@pytest.mark.parametrize("name", list(RULES))
def test_identity_holds(records, name):
    c = check_eta_trick(records[name])
    assert c.passed, c.detail
    assert c.worst_error < 1e-10
    assert any("Omega(w) - Omega" in line for line in c.numeric)


def test_capped_and_constant_duals_are_handled(records):
    mcp = check_eta_trick(records["mcp"])
    assert "flat" in mcp.numeric[-1]  # beyond the cap b = 2 the infimum is at eta -> oo
    assert any("f(oo)" in step for step in mcp.proved)
    dropout = check_eta_trick(records["plain_dropout"])  # f = 0 on (0, 3], oo beyond
    assert dropout.passed and dropout.worst_error < 1e-20


@pytest.mark.parametrize("name", ["l1", "logsum", "mcp", "standout", "plain_dropout"])
def test_tampered_penalty_fails(records, name):
    d = records[name]
    c = check_eta_trick(d, omega=lambda x: 1.01 * d.evaluate_mp("omega", x, mpmath.mp.dps), quick=True)
    assert not c.passed
    assert "Omega(" in c.detail


def test_tampered_eta_hat_fails(records):
    d = records["logsum"]
    c = check_eta_trick(d, eta_hat=lambda x: (1 + 1e-6) * _mp(d, "eta_hat")(x), quick=True)
    assert not c.passed and "eta_hat(" in c.detail
    assert 5e-7 < c.worst_error < 2e-6


def test_wrong_dual_fails(records):
    d = records["l1"]
    c = check_eta_trick(d, f=lambda e: 1.001 * e, quick=True)  # f = 1.001 eta is the dual of sqrt(1.001)|w|
    assert not c.passed


def test_finite_eta_hat_beyond_the_cap_fails(records):
    d = records["mcp"]
    capped = lambda x: min(_mp(d, "eta_hat")(x), mpmath.mpf(10) ** 30)  # noqa: E731
    c = check_eta_trick(d, eta_hat=capped, quick=True)
    assert not c.passed and "outside" in c.detail


def test_non_monotone_rule_is_not_an_eta_trick_penalty():
    d = sd.derive(eta_hat="w/(1+w**2)")  # decreasing beyond w = 1: Omega = w + w**3/3 is not subquadratic
    c = check_eta_trick(d)
    assert not c.passed
    assert c.detail.startswith("not an eta-trick penalty") and "eta_hat(" in c.detail


def test_record_without_closed_form_dual_uses_the_conjugate():
    d = sd.derive(eta_hat="w*exp(sqrt(w))")
    assert d.f_dual is None and d.properties["monotone"].status == "proved"
    c = check_eta_trick(d, quick=True)
    assert c.passed, c.detail
    assert "numeric conjugate" in c.hypotheses
    wrong = check_eta_trick(d, eta_hat=lambda x: (1 + 1e-6) * _mp(d, "eta_hat")(x), quick=True)
    assert not wrong.passed


def test_numeric_penalty_without_dual_is_checked_in_float64():
    d = sd.derive(eta_hat="w*(1+log(1+w))")  # Omega by quadrature, no f
    assert d.provenance["omega"].method == "numeric"
    c = check_eta_trick(d, quick=True)
    assert c.passed, c.detail
    assert "Omega: float64" in c.hypotheses and "tolerance 1e-06" in c.numeric[-1]


def test_reference_minimum_known_cases():
    ref = Reference(Dual(lambda e: e))  # l1: min_eta w**2/eta + eta = 2w at eta = w
    m = ref.minimum(3)
    assert abs(m.eta - 3) < 1e-17 and abs(m.value - 6) < 1e-30
    ridge = Reference(Dual(lambda e: mpmath.mpf(0) if e <= 3 else mpmath.inf, breakpoints=(3.0,)))
    m = ridge.minimum(1)
    with mpmath.workdps(40):
        assert m.eta == 3 and abs(m.value - mpmath.mpf(1) / 3) < 1e-35
    capped = Reference(Dual(lambda e: 2 * e / (e + 2), at_inf=mpmath.mpf(2)))
    m = capped.minimum(5)  # w > b = 2: infimum 2 approached as eta -> oo
    assert m.eta is None and mpmath.isinf(m.hi) and m.value == 2


@settings(max_examples=12, deadline=None)
@given(p=st.floats(0.2, 1.8), x=st.floats(1e-2, 1e2))
def test_reference_recovers_lp(p, x):
    """f = eta**q/q, q = p/(2 - p): Omega = w**p/p, eta_hat = w**(2 - p) (docs/catalog.md)."""
    with mpmath.workdps(40):
        pp, q = mpmath.mpf(p), mpmath.mpf(p) / (2 - mpmath.mpf(p))
        m = Reference(Dual(lambda e: e**q / q), scan=(-40, 40, 200)).minimum(x)
        assert abs(m.value / 2 - mpmath.mpf(x) ** pp / pp) <= 1e-25 * mpmath.mpf(x) ** pp
        assert abs(m.eta / mpmath.mpf(x) ** (2 - pp) - 1) < 1e-12
