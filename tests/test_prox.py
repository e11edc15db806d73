"""symdual.prox: each prox against a brute-force grid argmin of its own objective (written here), the
closed-form thresholding rules (soft, firm, hard, SCAD) at exact points, a quadratic root against mpmath,
certification, bounded CAS calls, and bad input."""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdual as sd
from symdual import prox as sdprox
from symdual.errors import InputError

TIMEOUT = 30.0  # per CAS call of the derivations below: generous, the machine may be loaded


@functools.cache
def record(name: str):
    """A catalog method or one of the user rules below, derived once."""
    users = {"user_cubic": dict(eta_hat="w*(w+1)**2"), "user_log": dict(penalty="log(1+w**2)"),
             "user_capped": dict(penalty="Min(w, 1)")}
    if name in users:
        return sd.derive(**users[name], timeout=TIMEOUT)
    return sd.catalog.derive(name, {}, timeout=TIMEOUT)


SQ2 = math.sqrt(2.0)
OMEGA = {  # Omega typed by hand from the definitions (catalog defaults), None: the record's evaluator
    "l1": lambda u: u,
    "mcp": lambda u: np.where(u <= SQ2 / 2, u - u**2 / SQ2, SQ2 / 4),  # a = 1/2, lam = sqrt 2: b = sqrt(2)/2
    "scad": lambda u: np.where(u <= 1, u, np.where(u <= 3.7, (7.4 * u - u**2 - 1) / 5.4, 4.7 / 2)),
    "logsum": lambda u: np.log1p(u / 2),
    "lp": lambda u: 2 * np.sqrt(u),
    "standout": lambda u: -np.expm1(-u) - u * np.exp(-u),
    "user_cubic": lambda u: u / (1 + u),  # integral of t/(t (t + 1)**2)
    "user_log": lambda u: np.log1p(u**2),
    "user_capped": lambda u: np.minimum(u, 1.0),
    "vardrop_exact": None,
}


def brute_force_prox(omega, z: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """argmin_{u in [0, z]} 1/2 (u - z)**2 + tau*Omega(u) and the minimum, for each z: a dense linear and
    geometric grid, then golden section between the best point's neighbours."""
    def h(u):
        return 0.5 * (u - z[:, None]) ** 2 + tau * omega(u)

    unit = np.unique(np.concatenate([np.linspace(0, 1, 4001), np.logspace(-12, 0, 601)]))
    grid = z[:, None] * unit[None, :]
    values = h(grid)
    i = np.argmin(values, axis=1)
    rows = np.arange(z.size)
    a, b = grid[rows, np.maximum(i - 1, 0)], grid[rows, np.minimum(i + 1, unit.size - 1)]
    g = (math.sqrt(5) - 1) / 2
    for _ in range(90):
        c, d = b - g * (b - a), a + g * (b - a)
        hc, hd = h(c[:, None])[:, 0], h(d[:, None])[:, 0]
        b, a = np.where(hc <= hd, d, b), np.where(hc <= hd, a, c)
    u = 0.5 * (a + b)
    hu = h(u[:, None])[:, 0]
    better = hu < values[rows, i]
    return np.where(better, u, grid[rows, i]), np.where(better, hu, values[rows, i])


def objective(name: str, u: np.ndarray, z: np.ndarray, tau: float) -> np.ndarray:
    omega = OMEGA[name] or (lambda x: record(name).evaluate("omega", x))
    return 0.5 * (u - z) ** 2 + tau * omega(u)


BRUTE = ["l1", "mcp", "scad", "logsum", "lp", "standout", "vardrop_exact", "user_cubic", "user_log", "user_capped"]
ZS = np.unique(np.concatenate([np.geomspace(1e-3, 20, 23), np.linspace(0.05, 6, 24)]))


@pytest.mark.parametrize("method", ["auto", "numeric"])
@pytest.mark.parametrize("name", BRUTE)
def test_prox_is_the_brute_force_argmin(name, method):
    d = record(name)
    lam = float(d.lam)
    omega = OMEGA[name] or (lambda x: d.evaluate("omega", x))
    for step in (0.3 / lam, 1.7 / lam):
        tau = step * lam
        u = sdprox.prox(d, ZS, step, method=method)
        u_bf, h_bf = brute_force_prox(omega, ZS, tau)
        h = objective(name, u, ZS, tau)
        assert np.all((u >= 0) & (u <= ZS * (1 + 1e-14))), (name, step)
        assert np.all(h <= h_bf + 1e-11 * (1 + ZS**2)), (name, step, np.max(h - h_bf))
        close = np.abs(u - u_bf) <= 1e-6 * (1 + ZS)
        tie = np.abs(h - h_bf) <= 1e-11 * (1 + ZS**2)
        assert np.all(close | tie)
        assert np.mean(close) >= 0.9, (name, step)  # a tie of two minima is rare: mostly the same argmin
        neg = sdprox.prox(d, -ZS, step, method=method)
        np.testing.assert_array_equal(neg, -u)  # odd


SYMBOLIC = ["l1", "mcp", "scad", "logsum", "plain_dropout", "user_capped"]
NUMERIC = {"lp": "degree 3", "standout": "not algebraic", "user_cubic": "degree 3", "user_log": "degree 3"}


@pytest.mark.parametrize("name", SYMBOLIC)
def test_symbolic_rules_are_certified_and_printable(name):
    rule = sdprox.prox_expression(record(name))
    assert rule is not None and rule.expr is not None, rule
    assert rule.how.startswith("symbolic") and "certified" in rule.how
    assert rule.expr.free_symbols <= {sdprox.Z, sdprox.STEP}
    functions = {type(f) for f in rule.expr.atoms(sp.Function)}
    assert functions <= {sp.Piecewise, sp.Max, sp.Min, sp.log}, functions
    roots = [c for c in rule.candidates if c.origin.startswith("root")]
    assert roots and any(c.origin == "u = 0" for c in rule.candidates)


@pytest.mark.parametrize("name", sorted(NUMERIC))
def test_unsolvable_stationarity_falls_back_with_a_reason(name):
    rule = sdprox.prox_expression(record(name))
    assert rule is not None and rule.expr is None and NUMERIC[name] in rule.how
    with pytest.raises(InputError, match="no certified symbolic prox"):
        sdprox.prox(record(name), 1.0, 1.0, method="symbolic")


def test_no_closed_form_no_rule():
    assert sdprox.prox_expression(record("vardrop_exact")) is None


def _at(rule, z, step):
    return rule.expr.subs({sdprox.Z: z, sdprox.STEP: step})


RATIONALS = [sp.Rational(n, 8) for n in range(0, 60)]


def test_l1_is_the_soft_threshold_exactly():
    rule = sdprox.prox_expression(record("l1"))
    for step in (sp.Rational(1, 3), sp.Integer(1), sp.Rational(5, 2)):
        for z in RATIONALS:
            assert _at(rule, z, step) == sp.Max(z - step, 0)
    rng = np.random.default_rng(0)
    z, step = rng.normal(size=1000) * 3, rng.uniform(0.01, 2, size=1000)
    np.testing.assert_array_equal(sdprox.prox(record("l1"), z, step), np.sign(z) * np.maximum(np.abs(z) - step, 0))


def test_mcp_is_firm_then_hard_thresholding_exactly():
    """MCP(a = 1/2, lam = sqrt 2), b = a lam: firm threshold for tau = step lam < b (Zhang 2010),
    hard threshold at sqrt(tau b) for tau > b."""
    rule = sdprox.prox_expression(record("mcp"))
    lam, b = sp.sqrt(2), sp.sqrt(2) / 2
    for step in (sp.Rational(1, 5), sp.Rational(2, 5)):
        tau = lam * step
        for z in RATIONALS:
            firm = 0 if z <= tau else (z - tau) / (1 - tau / b) if z <= b else z
            assert sp.simplify(_at(rule, z, step) - firm) == 0, (z, step)
    for step in (sp.Rational(3, 4), sp.Integer(2)):
        tau = lam * step
        for z in RATIONALS:
            if z != sp.sqrt(tau * b):
                assert _at(rule, z, step) == (z if z > sp.sqrt(tau * b) else 0), (z, step)


def test_scad_is_fan_and_lis_rule_exactly():
    """SCAD(a = 3.7, lam = 1) with step 1: soft threshold to 2, ((a-1) z - a)/(a - 2) to a, z beyond."""
    rule = sdprox.prox_expression(record("scad"))
    a = sp.Rational(37, 10)
    for z in RATIONALS:
        fan_li = sp.Max(z - 1, 0) if z <= 2 else ((a - 1) * z - a) / (a - 2) if z <= a else z
        assert _at(rule, z, sp.Integer(1)) == fan_li, z


def test_logsum_root_has_its_digits_near_the_threshold():
    """LogSum(eps = 2): u = ((z - eps) + sqrt((z + eps)**2 - 4 tau))/2 just above the threshold z = tau/eps,
    where the plain formula cancels; reference in mpmath at 40 digits."""
    d = record("logsum")
    tau = 0.5
    for offset in (1e-12, 1e-9, 1e-6, 1e-3):
        z = tau / 2 + offset
        with mpmath.workdps(40):
            zm = mpmath.mpf(z)
            exact = ((zm - 2) + mpmath.sqrt((zm + 2) ** 2 - 4 * mpmath.mpf(tau))) / 2
        u = sdprox.prox(d, z, tau, method="symbolic")
        assert abs(u - float(exact)) <= 1e-12 * float(exact), (offset, u, exact)
        u = sdprox.prox(d, z, tau, method="numeric")  # a root of phi(u) = z: exact to the rounding of phi
        assert abs(u - float(exact)) <= 4 * np.finfo(float).eps * z, (offset, u, exact)


def test_a_wrong_rule_is_discarded():
    d = record("l1")
    wrong = sp.Piecewise((sdprox.Z - sdprox.STEP / 2, sdprox.Z > sdprox.STEP / 2), (0, True))
    rule = sdprox._certified(d, wrong, (), 1.0, "")
    assert rule.expr is None and rule.how.startswith("symbolic prox discarded")


def test_cas_calls_are_bounded(monkeypatch):
    monkeypatch.setenv("SYMDUAL_TIMEOUT", "0.000001")
    d = record("logsum")
    rule = sdprox.prox_expression(d, lam=0.625)  # a lam not cached yet
    assert rule is not None and rule.expr is None and "timed out" in rule.how
    u = sdprox.prox(d, 3.0, 1.0, lam=0.625)  # the numeric route serves
    z, tau = 3.0, 0.625
    assert u == pytest.approx(((z - 2) + math.sqrt((z + 2) ** 2 - 4 * tau)) / 2, rel=1e-13)


def test_shapes_scalars_and_special_values():
    d = record("logsum")
    out = sdprox.prox(d, 1.5, 0.5)
    assert isinstance(out, np.floating) and np.ndim(out) == 0
    z = np.array([[0.0, -0.0, 1.0], [np.inf, -np.inf, np.nan]])
    u = sdprox.prox(d, z, np.array([0.5, 1.0, 2.0]))
    assert u.shape == (2, 3)
    assert u[0, 0] == 0 and u[0, 1] == 0 and u[1, 0] == np.inf and u[1, 1] == -np.inf and np.isnan(u[1, 2])
    assert u[0, 2] == pytest.approx(sdprox.prox(d, 1.0, 2.0))


@pytest.mark.parametrize("bad", [dict(step=0.0), dict(step=-1.0), dict(step=np.nan), dict(step=np.inf),
                                 dict(lam=0), dict(lam=-2), dict(lam=float("inf")), dict(lam="x"), dict(lam=True),
                                 dict(method="newton"), dict(z="abc"), dict(z=1j)])
def test_bad_input_is_one_line(bad):
    args = dict(z=1.0, step=1.0) | bad
    with pytest.raises(InputError) as info:
        sdprox.prox(record("l1"), **args)
    assert "\n" not in str(info.value)


def test_non_separable_is_refused():
    d = sd.catalog.get("hardthresh")
    with pytest.raises(InputError, match="non-separable"):
        sdprox.prox(d, 1.0, 1.0)
    with pytest.raises(InputError, match="non-separable"):
        sdprox.prox_expression(d)


@settings(max_examples=40, deadline=None)
@given(z=st.floats(-50, 50), step=st.floats(0.01, 10), name=st.sampled_from(["mcp", "scad", "logsum", "user_log"]))
def test_no_point_beats_the_prox(z, step, name):
    """The prox's objective is no larger than at 0, at z, or at 64 points spread over [0, |z|]."""
    d = record(name)
    tau = step * float(d.lam)
    u = sdprox.prox(d, z, step)
    a = abs(z)
    others = np.concatenate([[0.0, a], np.linspace(0, a, 64)])
    h_u = objective(name, np.array(abs(u)), a, tau)
    assert np.sign(u) in (0.0, np.sign(z))
    assert np.all(h_u <= objective(name, others, a, tau) + 1e-12 * (1 + a**2))
