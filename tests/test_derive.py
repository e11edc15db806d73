"""The derivation engine against docs/catalog.md, typed here independently.

Each closed form below is copied from the mathematics (not from symdual's
output) and compared at 40 digits, up to the additive constant of Omega
(symdual normalises Omega(0) = 0; the papers do not, e.g. LogSum).
"""
from __future__ import annotations

import re
from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp

import symdual as sd
from symdual import duality
from symdual.bounded import bounded
from symdual.errors import InputError
from symdual.rules import eta, w

POINTS = [sp.Rational(1, 100), sp.Rational(3, 10), sp.Rational(7, 10), 1, sp.Rational(5, 2), 7, 40]
E = sp.E


def sigmoid(x):
    return 1 / (1 + sp.exp(-x))


def mcp_omega(a, lam_):
    b = a * lam_
    return sp.Piecewise((w - w**2 / (2 * b), w <= b), (b / 2, True))


def scad_omega(a, lam_):
    """Fan & Li's SCAD divided by lam."""
    pen = sp.Piecewise((lam_ * w, w <= lam_), ((2 * a * lam_ * w - w**2 - lam_**2) / (2 * (a - 1)), w <= a * lam_),
                       (lam_**2 * (a + 1) / 2, True))
    return pen / lam_


A, LAM = sp.Integer(3), sp.Rational(3, 2)
B_MCP = sp.Rational(1, 2) * sp.sqrt(2)  # a = 1/2, lam = sqrt 2 (Figure 1)

# name -> (derive kwargs, expected Omega (w), expected f (eta) or None)
CASES = {
    "l1": (dict(eta_hat=w), w, eta),
    "lp_half": (dict(eta_hat=w ** sp.Rational(3, 2)), 2 * sp.sqrt(w), 3 * eta ** sp.Rational(1, 3)),
    "logsum": (dict(eta_hat=w * (w + 2)), sp.log(w + 2),
               2 * sp.log((sp.sqrt(4 + 4 * eta) + 2) / 2) - (sp.sqrt(4 + 4 * eta) - 2) ** 2 / (4 * eta)),
    "log2sum": (dict(eta_hat=(w**2 + 2) / 2), sp.log(w**2 + 2), None),
    "mcp": (dict(eta_hat=sp.Piecewise((B_MCP * w / (B_MCP - w), w < B_MCP), (sp.oo, True))),
            mcp_omega(sp.Rational(1, 2), sp.sqrt(2)), B_MCP * eta / (eta + B_MCP)),
    "scad": (dict(eta_hat=sp.Piecewise((w, w <= LAM), (w * (A - 1) * LAM / (A * LAM - w), w < A * LAM), (sp.oo, True))),
             scad_omega(A, LAM), None),
    "standout": (dict(keep_prob=sigmoid(w - 1)), E * (1 - (w + 1) * sp.exp(-w)), None),
    "plain_dropout": (dict(drop_rate=sp.Rational(1, 4)), w**2 / 6, None),
}


@cache
def derived(name: str) -> sd.Derivation:
    return sd.derive(**CASES[name][0])


def at40(expr, x, var=w):
    return sp.N(expr.subs(var, x), 40)


def assert_same_up_to_constant(got, want, points, var=w, tol=1e-12):
    x0 = points[0]
    for x in points[1:]:
        a = at40(got, x, var) - at40(got, x0, var)
        b = at40(want, x, var) - at40(want, x0, var)
        assert abs(a - b) <= tol * max(1, abs(b)), (var, x, a, b)


@pytest.mark.parametrize("name", list(CASES))
def test_closed_form_omega_matches_math(name):
    d = derived(name)
    assert d.provenance["omega"].method == "closed form"
    assert_same_up_to_constant(d.omega, CASES[name][1], POINTS)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[2] is not None])
def test_closed_form_dual_matches_math(name):
    d = derived(name)
    assert d.f_dual is not None
    etas = [sp.Rational(1, 10), sp.Rational(1, 3), 1, 2, 9, 50]
    assert_same_up_to_constant(d.f_dual, CASES[name][2], etas, var=eta)


@pytest.mark.parametrize("name", [n for n in CASES if n != "plain_dropout"])
def test_round_trip_eta_hat_omega_f_omega_eta_hat(name):
    """eta_hat -> Omega -> f -> Omega -> eta_hat, compared at 40 digits."""
    d = derived(name)
    out = bounded(duality.omega_from_f, d.f_dual, timeout=60)
    assert out.ok, out
    omega2, eta_hat2 = out.value
    assert_same_up_to_constant(omega2, d.omega, POINTS)
    for x in POINTS:
        a, b = at40(eta_hat2, x), at40(d.eta_hat, x)
        assert a == b or abs(a - b) <= 1e-12 * abs(b)


def test_plain_dropout_dual_is_indicator_and_roundtrips():
    d = derived("plain_dropout")
    assert d.f_dual.subs(eta, 2) == 0 and d.f_dual.subs(eta, 4) == sp.oo
    omega2, eta2 = duality.omega_from_f(d.f_dual)
    assert sp.simplify(omega2 - w**2 / 6) == 0 and eta2 == 3


def test_eta_hat_conversions_are_exact():
    lam_ = sp.Rational(5, 2)
    q = sigmoid(w - 1)
    d = sd.derive(keep_prob=q, lam=lam_)
    assert sp.simplify(d.eta_hat - lam_ * sp.exp(w - 1)) == 0  # docs/catalog.md: eta_hat = lam e**(|a|-c)
    assert sp.simplify(d.keep_prob - q) == 0
    assert_same_up_to_constant(d.omega, (E / lam_) * (1 - (w + 1) * sp.exp(-w)), POINTS)


# ---------------------------------------------------------------- verdicts

EXPECTED = {  # docs/properties.md and the list, by hand
    "l1": dict(sparsity="proved", unbiased="refuted", bounded="refuted", subquadratic="proved", monotone="proved"),
    "lp_half": dict(sparsity="proved", unbiased="proved", bounded="refuted", continuity="refuted"),
    "logsum": dict(sparsity="proved", unbiased="proved", bounded="refuted"),
    "mcp": dict(sparsity="proved", unbiased="proved", bounded="proved", continuity="refuted"),
    "scad": dict(sparsity="proved", unbiased="proved", bounded="proved", continuity="proved"),
    "standout": dict(sparsity="refuted", unbiased="proved", bounded="proved", subquadratic="proved"),
    "plain_dropout": dict(sparsity="refuted", unbiased="refuted", bounded="refuted", subquadratic="proved"),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_verdicts(name):
    d = derived(name)
    for prop, status in EXPECTED[name].items():
        assert d.properties[prop].status == status, (prop, d.properties[prop])


def test_lp_has_infinite_slope_at_zero():
    assert derived("lp_half").limits["omega_prime@0"] == sp.oo


def test_l1_slope_at_infinity_is_one():
    assert derived("l1").limits["omega_prime@oo"] == 1


def test_plain_dropout_is_subquadratic_only_in_the_wide_sense():
    d = derived("plain_dropout")
    v = d.properties["subquadratic"]
    assert (v.status, v.by, v.witness) == ("proved", "symbolic", None)
    s_ = sp.Symbol("s", positive=True)  # g(s) = 2 Omega(sqrt s) is affine: concave, not strictly
    assert sp.simplify(sp.diff(2 * d.omega.subs(w, sp.sqrt(s_)), s_, 2)) == 0


def test_non_monotone_rule_refuted_with_a_true_counterexample():
    rule = w * (2 + sp.sin(w))
    d = sd.derive(eta_hat=rule)
    mono, sub = d.properties["monotone"], d.properties["subquadratic"]
    assert mono.status == "refuted" and sub.status == "refuted"
    assert mono.by == "numeric" and "30 digits" in mono.witness.precision
    (a, b), (va, _) = mono.witness.points, mono.witness.values
    assert float(a) < float(b)
    with mpmath.workdps(50):  # independent re-evaluation of the counterexample, at 50 digits
        def f(x):
            return x * (2 + mpmath.sin(x))

        assert f(mpmath.mpf(a)) > f(mpmath.mpf(b))
        assert abs(f(mpmath.mpf(a)) - mpmath.mpf(va)) < 1e-6 * abs(f(mpmath.mpf(a)))
    assert d.f_dual is None and d.provenance["f_dual"].method == "not derived"


# ---------------------------------------------------------------- reverse direction


def test_penalty_log1p_w2_gives_its_dropout_rule():
    d = sd.derive(penalty=sp.log(1 + w**2))
    assert sp.simplify(d.eta_hat - (1 + w**2) / 2) == 0
    assert sp.simplify(d.drop_rate - 1 / ((1 + w**2) / 2 + 1)) == 0
    assert d.properties["subquadratic"].status == "proved"


def test_penalty_w_cubed_has_no_dropout_rule():
    d = sd.derive(penalty=w**3)
    assert d.properties["subquadratic"].status == "refuted"
    assert any("No dropout rule yields this penalty" in n for n in d.notes)


def test_dual_given_gives_penalty():
    d = sd.derive(dual=2 * sp.sqrt(eta))  # f = eta**q/q with q = 1/2 -> l_p with p = 2/3
    p = sp.Rational(2, 3)
    assert_same_up_to_constant(d.omega, w**p / p, POINTS)
    assert d.properties["subquadratic"].status == "proved"


# ---------------------------------------------------------------- fallback to numerics

HARD = w * sp.exp(w**2) * (1 + w) ** sp.Rational(1, 3)


def test_integral_beyond_budget_falls_back_to_accurate_numerics():
    d = sd.derive(eta_hat=HARD, timeout=1)
    assert d.omega is None and d.provenance["omega"].method == "numeric"
    assert "omega@0" in d.series
    xs = np.array([1e-4, 0.05, 0.4, 1.0, 1.7, 3.0])
    got = d.evaluate("omega", xs)
    with mpmath.workdps(30):
        g = lambda t: 1 / (mpmath.exp(t**2) * mpmath.cbrt(1 + t))  # noqa: E731
        for x, v in zip(xs, got, strict=False):
            ref = mpmath.quad(g, [0, x])
            assert abs(v - ref) <= 1e-10 * abs(ref)
    # the series at 0+ agrees with the quadrature where it is accurate
    ser = sp.lambdify(w, d.series["omega@0"].removeO())
    assert abs(ser(1e-3) - d.evaluate("omega", [1e-3])[0]) < 1e-11


def test_evaluate_is_elementwise_robust():
    d = derived("logsum")
    x = np.array([0.0, -2.0, np.nan, np.inf, 1e-30, 1e30], dtype=np.float32)
    v = d.evaluate("omega", x)
    assert v.dtype == np.float64
    assert v[0] == 0 and np.isnan(v[2]) and v[3] == np.inf
    assert v[1] == pytest.approx(np.log(2.0), rel=1e-15)  # log((2+2)/2), |w| used
    big = d.evaluate("omega", np.array([1e-300, 1e300]))
    assert np.all(np.isfinite(big)) and big[1] == pytest.approx(np.log(1e300 / 2), rel=1e-14)


def test_user_dual_without_closed_form_is_certified_and_exact_at_the_ends():
    d = sd.derive(dual="log(1 + eta) + sqrt(eta)")
    assert d.omega is None and d.provenance["omega"].method == "numeric"
    claimed = float(re.search(r"max relative error ([0-9.e+-]+)", d.provenance["omega"].precision).group(1))
    assert claimed < 1e-10
    f = lambda e: mpmath.log(1 + e) + mpmath.sqrt(e)  # noqa: E731
    with mpmath.workdps(30):
        for x in (0.01, 0.3, 2.0, 40.0):
            x = mpmath.mpf(x)

            def obj(u, x=x):
                return (x**2 / mpmath.exp(u) + f(mpmath.exp(u))) / 2

            u0 = min((mpmath.mpf(k) / 20 for k in range(-400, 400)), key=obj)
            ref = obj(mpmath.findroot(lambda u, obj=obj: mpmath.diff(obj, u), u0))
            got = d.evaluate("omega", [float(x)])[0] - d.evaluate("omega", [0.0])[0]
            assert abs(got - ref) <= 1e-10 * max(1, abs(ref))  # Omega(0) = f(0+)/2 = 0
    assert d.limits["omega_prime@0"] == sp.oo and d.limits["omega_prime@oo"] == 0  # sqrt(f'(0+)), sqrt(f'(oo))
    assert d.properties["sparsity"].status == "proved" and d.properties["bounded"].status == "refuted"


@pytest.mark.parametrize("name", ["logsum", "standout", "log2sum", "lp_half"])
def test_closed_form_keeps_relative_accuracy_at_tiny_w(name):
    """log(1 + w/2) at w = 1e-9 loses 8 digits in float64; the certified series at 0+ must not."""
    d = derived(name)
    expected = CASES[name][1]
    xs = [1e-12, 1e-9, 1e-6, 1e-3, 1e-2, 0.2]
    got = d.evaluate("omega", np.array(xs))
    for x, v in zip(xs, got, strict=False):
        ref = at40(expected, sp.Float(x, 40)) - at40(expected, 0)  # the papers' form, normalised here
        assert abs(v - ref) <= 1e-14 * abs(ref), (x, v, ref)


@pytest.mark.parametrize("rule", ["w/0", "0**-1 + w", "gamma(-1) + w", "log(w, 1)"])
def test_an_undefined_rule_is_one_clear_error(rule):
    with pytest.raises(InputError, match="undefined") as err:
        sd.derive(eta_hat=rule)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kwargs, leading", [
    ({"keep_prob": "1/(1+w)"}, w**3 / 3),  # eta_hat = 1/w, Omega' = w**2
    ({"eta_hat": "1/(w**2*(1 + w))"}, w**4 / 4),  # Omega' = w**3 (1 + w)
])
def test_a_series_keeps_its_leading_term(kwargs, leading):
    """The series at 0+ is never only an O-term: its first term is the true leading term of Omega."""
    d = sd.derive(**kwargs)
    body = d.series["omega@0"].removeO()
    assert body != 0
    first = min(sp.Add.make_args(sp.expand(body)), key=lambda t: sp.degree(t, w))
    assert sp.simplify(first - leading) == 0
    assert sp.limit(sp.integrate(d.omega_prime, (w, 0, w)) / leading, w, 0) == 1  # independent: Omega/leading -> 1


def test_an_unused_parameter_is_refused_with_its_name():
    with pytest.raises(InputError, match="parameter esp is not used") as err:
        sd.derive(eta_hat="w*(w+eps)", params={"eps": 2, "esp": 3})
    assert "\n" not in str(err.value)


def test_a_failed_cas_step_is_noted_in_words_not_sympy_internals():
    d = sd.derive(eta_hat="w*exp(w**2)*(1+w)**(1/3)", timeout=1)
    step_notes = [n for n in d.notes if "not derived" in n]
    assert any(n.startswith("Omega as the integral of w/eta_hat: not derived (timed out") for n in step_notes)
    for n in step_notes:
        assert "Error" not in n and "_eval" not in n and "Traceback" not in n, n


@pytest.mark.parametrize("dual, needle", [("1/eta", "nondecreasing"), ("-eta", "nondecreasing"),
                                          ("exp(-eta)", "nondecreasing"), ("sin(eta)", "nondecreasing"),
                                          ("oo", "+oo for every eta")])
def test_a_dual_that_is_not_nondecreasing_is_one_clear_error(dual, needle):
    with pytest.raises(InputError, match=re.escape(needle)) as err:
        sd.derive(dual=dual)
    assert "\n" not in str(err.value)


def test_a_dual_with_an_infinite_piece_is_accepted():
    """f = 0 up to eta = 3, +oo beyond (a constraint on eta): Omega = w**2/6, plain dropout's ridge."""
    d = sd.derive(dual="Piecewise((0, eta <= 3), (oo, True))")
    assert d.evaluate("omega", 1.5) == pytest.approx(1.5**2 / 6, rel=1e-14)


@pytest.mark.parametrize("timeout", [float("nan"), -1, 0, 1e9, "abc"])
def test_a_bad_budget_is_refused_in_the_api_too(timeout):
    with pytest.raises(InputError, match="timeout"):
        sd.derive(eta_hat="w", timeout=timeout)
