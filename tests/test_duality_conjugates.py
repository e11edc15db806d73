"""The eta-trick conjugations compare every candidate: stationary points of each piece, kinks, flat pieces,
non-convex pieces and the limits at 0+ and oo.

Each case is checked against an independent brute force written here in mpmath (30 digits):

    Omega(w) = 1/2 inf_eta [w**2/eta + f(eta)]    over a log grid of eta in [1e-8, 1e8], f's breakpoints
                                                   (both one-sided values) and eta -> oo, refined by golden section
    f(eta)   = sup_w [2 Omega(w) - w**2/eta]       over a log grid of w in [1e-8, 1e8], the kinks and w -> 0+,
                                                   refined by golden section; +oo when it still grows at w = 1e16

and symdual's values (``evaluate``, float64) must agree to 1e-10 relative.
"""
from __future__ import annotations

from collections.abc import Callable

import mpmath
import pytest
import sympy as sp

import symdual as sd
from symdual import duality
from symdual.bounded import bounded
from symdual.errors import NoClosedForm
from symdual.parsing import parse_expr
from symdual.rules import eta, w

mp = mpmath.mpf
DPS = 30
TOL = 1e-10
GRID = 1601  # 100 points a decade over [1e-8, 1e8]
W_POINTS = [0.01, 0.1, 0.3, 0.5, 0.7, 0.75, 0.8, 0.9, 1.0, 1.5, 2.0, 2.5, 2.9, 3.0, 4.0, 5.0, 8.0, 30.0]
ETA_POINTS = [0.01, 0.1, 0.3, 0.5, 0.9, 0.99, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.5, 7.0, 20.0, 100.0]
TIMEOUT = 30  # CAS budget per call: the closed forms below need a few seconds each on a loaded machine


def _log_grid() -> list[mpmath.mpf]:
    return [mpmath.mpf(10) ** (mp(-8) + mp(16) * k / (GRID - 1)) for k in range(GRID)]


def _golden_min(g: Callable[[mpmath.mpf], mpmath.mpf], a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
    """min of g over [a, b] (unimodal in log x), golden section in log x."""
    la, lb = mpmath.log(a), mpmath.log(b)
    r = (mpmath.sqrt(5) - 1) / 2
    c, d = lb - r * (lb - la), la + r * (lb - la)
    gc, gd = g(mpmath.exp(c)), g(mpmath.exp(d))
    for _ in range(120):
        if gc <= gd:
            lb, d, gd = d, c, gc
            c = lb - r * (lb - la)
            gc = g(mpmath.exp(c))
        else:
            la, c, gc = c, d, gd
            d = la + r * (lb - la)
            gd = g(mpmath.exp(d))
    return min(gc, gd)


def _grid_min(g: Callable[[mpmath.mpf], mpmath.mpf], extra: list[mpmath.mpf]) -> mpmath.mpf:
    """min of g over the log grid (refined around its best point) and the extra candidate values."""
    xs = _log_grid()
    values = [g(x) for x in xs]
    i = min(range(len(xs)), key=values.__getitem__)
    refined = _golden_min(g, xs[max(i - 1, 0)], xs[min(i + 1, len(xs) - 1)])
    return min([values[i], refined, *extra])


def brute_omega(f: Callable[[mpmath.mpf], mpmath.mpf], breakpoints: list[float], f_oo: mpmath.mpf,
                wv: float) -> mpmath.mpf:
    """1/2 inf_eta [w**2/eta + f(eta)]: grid, golden section, both sides of each breakpoint and eta -> oo."""
    with mpmath.workdps(DPS):
        x = mp(wv)

        def obj(e: mpmath.mpf) -> mpmath.mpf:
            return x**2 / e + f(e)

        extra = [f_oo]
        for b in breakpoints:
            for side in (1 - mp(10) ** -25, 1 + mp(10) ** -25):
                extra.append(obj(mp(b) * side))
        return _grid_min(obj, extra) / 2


def brute_f(omega: Callable[[mpmath.mpf], mpmath.mpf], kinks: list[float], ev: float) -> mpmath.mpf:
    """sup_w [2 Omega(w) - w**2/eta]: grid, golden section, kinks, w -> 0+ and +oo if it grows without bound."""
    with mpmath.workdps(DPS):
        e = mp(ev)

        def neg(x: mpmath.mpf) -> mpmath.mpf:
            return -(2 * omega(x) - x**2 / e)

        far = [-neg(mp(10) ** k) for k in (12, 14, 16)]
        if far[0] < far[1] < far[2] and far[2] > 1e6:
            return mpmath.inf
        extra = [-2 * omega(mp(0))] + [neg(mp(k)) for k in kinks]  # w -> 0+: the hand penalties are continuous
        return -_grid_min(neg, extra)


def assert_close(got: float, want: mpmath.mpf, where: str) -> None:
    if mpmath.isinf(want):
        assert got == float(want), (where, got, want)
        return
    assert abs(got - float(want)) <= TOL * max(abs(float(want)), 1e-300), (where, got, float(want))


# ---------------------------------------------------------------- duals: Omega against the brute-force inf

def _pw(*pieces: tuple[Callable[[mpmath.mpf], mpmath.mpf], float]) -> Callable[[mpmath.mpf], mpmath.mpf]:
    """f(eta) = the first piece whose bound test ``eta < bound`` (or ``<=`` for a negative bound) holds."""
    def f(x: mpmath.mpf) -> mpmath.mpf:
        for fn, bound in pieces:
            if bound is None or (x < bound if bound > 0 else x <= -bound):
                return fn(x)
        raise AssertionError("no piece")
    return f


DUALS = {
    # the issue: a flat piece beyond eta = 1; Omega = min(w, 1/2)
    "flat": ("Piecewise((eta, eta < 1), (1, True))", _pw((lambda x: x, 1), (lambda x: mp(1), None)), [1], mp(1), True),
    # a kink with a jump of f (lower semicontinuous): eta_hat sticks at the kink for 1 <= w <= 1 + sqrt 2
    "jump": ("Piecewise((eta, eta <= 1), (2 + eta, True))", _pw((lambda x: x, -1), (lambda x: 2 + x, None)), [1],
             mpmath.inf, True),
    # the same jump, f not lower semicontinuous at 1 (f(1) = 3): the infimum is the limit eta -> 1-, not attained
    "jump_open": ("Piecewise((eta, eta < 1), (2 + eta, True))", _pw((lambda x: x, 1), (lambda x: 2 + x, None)), [1],
                  mpmath.inf, False),
    # a convex kink of f: eta_hat = 4 on [2 sqrt 2, 4]
    "kink": ("Piecewise((2*sqrt(eta), eta < 4), (eta, True))",
             _pw((lambda x: 2 * mpmath.sqrt(x), 4), (lambda x: x, None)), [4], mpmath.inf, True),
    # a non-convex piece (eta**2 f' rises, falls back to 0), then flat: two stationary roots, a jump of eta_hat to oo
    "nonconvex_flat": ("Piecewise(((eta - 2)**3/3 + 8/3, eta < 2), (8/3, True))",
                       _pw((lambda x: (x - 2) ** 3 / 3 + mp(8) / 3, 2), (lambda x: mp(8) / 3, None)), [2], mp(8) / 3,
                       True),
    # a smooth non-convex dual: the minimiser jumps from the first to the third root of eta**2 f' = w**2
    "nonconvex": ("(eta - 2)**3/3 + 8/3", lambda x: (x - 2) ** 3 / 3 + mp(8) / 3, [], mpmath.inf, True),
    # bounded: the eta -> oo candidate f(oo) = 1 takes over at w = 1
    "bounded": ("eta/(1 + eta)", lambda x: x / (1 + x), [], mp(1), True),
    # a constraint on eta: f = 0 up to 3, +oo beyond
    # the crossing of the root candidate with f(oo) is transcendental: no closed form, the numeric route
    "transcendental": ("Piecewise((log(1 + eta), eta < 1), (log(2), True))",
                       _pw((lambda x: mpmath.log1p(x), 1), (lambda x: mpmath.log(2), None)), [1], mpmath.log(2), False),
    "indicator": ("Piecewise((0, eta <= 3), (oo, True))", _pw((lambda x: mp(0), -3), (lambda x: mpmath.inf, None)), [3],
                  mpmath.inf, True),
}


@pytest.fixture(scope="module")
def dual_records() -> dict[str, sd.Derivation]:
    return {name: sd.derive(dual=case[0], timeout=TIMEOUT) for name, case in DUALS.items()}




@pytest.mark.parametrize("name", list(DUALS))
def test_omega_from_a_dual_is_the_infimum_over_every_candidate(name, dual_records):
    text, f, bps, f_oo, closed = DUALS[name]
    d = dual_records[name]
    got = d.evaluate("omega", W_POINTS)
    for x, g in zip(W_POINTS, got, strict=True):
        assert_close(float(g), brute_omega(f, bps, f_oo, x), f"{name}: Omega({x})")
    if closed:
        assert d.provenance["omega"].method == "closed form", d.provenance["omega"]


def test_the_issue_dual_with_a_flat_piece():
    """f = eta below 1, 1 beyond: Omega(w) = min(w, 1/2) (it was w at w = 0.7 and 1)."""
    d = sd.derive(dual="Piecewise((eta, eta < 1), (1, True))", timeout=TIMEOUT)
    assert list(d.evaluate("omega", [0.3, 0.7, 1.0])) == pytest.approx([0.3, 0.5, 0.5], rel=1e-14)
    assert d.evaluate("eta_hat", 0.3) == pytest.approx(0.3, rel=1e-14) and d.evaluate("eta_hat", 0.7) == float("inf")
    assert sp.simplify(d.omega - sp.Piecewise((w, w < sp.Rational(1, 2)), (sp.Rational(1, 2), True))) == 0


@pytest.mark.parametrize("text", [DUALS["jump"][0], DUALS["jump_open"][0]])
def test_the_jump_kink_closed_form(text):
    """Omega = w, (w**2 + 1)/2, w + 1 with boundaries 1 and 1 + sqrt 2, by hand (f(1) = 1 or 3: the lower counts)."""
    omega, eta_hat = duality.omega_from_f(parse_expr(text, {"eta": eta}))
    want = sp.Piecewise((w, w < 1), ((w**2 + 1) / 2, w < 1 + sp.sqrt(2)), (w + 1, True))
    for x in [sp.Rational(1, 2), 1, 2, sp.Rational(24, 10), sp.Rational(25, 10), 5]:
        assert sp.N(omega.subs(w, x) - want.subs(w, x), 40) == 0, x
    assert eta_hat.subs(w, 2) == 1


def test_the_nonconvex_piece_keeps_the_better_root_and_switches_at_the_exact_crossing():
    """f = (eta-2)**3/3 + 8/3: roots eta = 1 - sqrt(1-w) and 1 + sqrt(1+w) tie at w = sqrt(3)/2 (unradicalised)."""
    omega, eta_hat = duality.omega_from_f(parse_expr("(eta - 2)**3/3 + 8/3", {"eta": eta}))
    assert sp.N(eta_hat.subs(w, sp.Rational(8, 10)) - (1 - sp.sqrt(sp.Rational(2, 10))), 30) == 0
    assert sp.N(eta_hat.subs(w, sp.Rational(9, 10)) - (1 + sp.sqrt(sp.Rational(19, 10))), 30) == 0
    cut = sp.sqrt(3) / 2
    left = omega.subs(w, cut - sp.Rational(1, 10**12))
    right = omega.subs(w, cut + sp.Rational(1, 10**12))
    assert abs(sp.N(left - right, 30)) < 1e-11  # Omega is continuous where eta_hat jumps


# ---------------------------------------------------------------- rules and penalties: f against the brute-force sup

B = mpmath.sqrt(2) / 2  # MCP, a = 1/2, lam = sqrt 2
A, LAM = mp(3), mp(3) / 2  # SCAD


def _scad(x: mpmath.mpf) -> mpmath.mpf:
    if x <= LAM:
        return x
    if x < A * LAM:
        return LAM + (A * LAM * (x - LAM) - (x**2 - LAM**2) / 2) / ((A - 1) * LAM)
    return LAM * (A + 1) / 2


PRIMALS = {
    # the issue: eta_hat jumps to oo at w = 2: f = eta below 2, 4 - 4/eta beyond (it was +oo)
    "capped_l1": (dict(eta_hat="Piecewise((w, w < 2), (oo, True))"), lambda x: min(x, mp(2)), [2]),
    # the issue: Omega grows like w**2/2: f = eta/(1 - eta) below 1, +oo from 1 on (f(1) was -inf)
    "quadratic_growth": (dict(penalty="w + w**2/2"), lambda x: x + x**2 / 2, []),
    "mcp": (dict(eta_hat="Piecewise((w*sqrt(2)/(sqrt(2) - 2*w), w < sqrt(2)/2), (oo, True))"),
            lambda x: x - x**2 / (2 * B) if x <= B else B / 2, [float(B)]),
    "scad": (dict(eta_hat="Piecewise((w, w <= 3/2), (w*3/(9/2 - w), w < 9/2), (oo, True))"), _scad, [1.5, 4.5]),
    # Huber: eta_hat constant 1 on [0, 1) (a ridge piece), then l1
    "huber": (dict(eta_hat="Piecewise((1, w < 1), (w, True))"), lambda x: x**2 / 2 if x < 1 else x - mp(1) / 2, [1]),
    # Min rewritten as pieces; its kink holds the sup beyond eta = 1
    "min": (dict(penalty="Min(w, 1)"), lambda x: min(x, mp(1)), [1]),
    # lam != 1: eta_hat = lam (1 + w), Omega = (w - log(1 + w))/lam, f = 0 up to eta = lam
    "ratio_lam": (dict(ratio="1/(1 + w)", lam="1/2"), lambda x: 2 * (x - mpmath.log1p(x)), []),
    # lam != 1: Standout, eta_hat = lam e**(w - 1), f = 0 up to eta = lam/e
    "standout_lam": (dict(keep_prob="sigmoid(w - 1)", lam="5/2"),
                     lambda x: (mpmath.e / mp(2.5)) * (1 - (x + 1) * mpmath.exp(-x)), []),
}


@pytest.fixture(scope="module")
def primal_records() -> dict[str, sd.Derivation]:
    return {name: sd.derive(**case[0], timeout=TIMEOUT) for name, case in PRIMALS.items()}


@pytest.mark.parametrize("name", list(PRIMALS))
def test_dual_f_is_the_supremum_over_every_candidate(name, primal_records):
    _, omega, kinks = PRIMALS[name]
    d = primal_records[name]
    out = bounded(duality.f_from_omega, d.omega, d.eta_hat, timeout=120)
    assert out.ok, out
    f = out.value
    for e in ETA_POINTS:
        want = brute_f(omega, kinks, e)
        got = sp.N(f.subs(eta, sp.nsimplify(e)), DPS)
        assert_close(float(got), want, f"{name}: f({e})")


@pytest.mark.parametrize("name", list(PRIMALS))
def test_the_record_has_the_closed_form_dual(name, primal_records):
    _, omega, kinks = PRIMALS[name]
    d = primal_records[name]
    assert d.f_dual is not None and d.provenance["f_dual"].method == "closed form", d.provenance.get("f_dual")
    got = d.evaluate("f_dual", ETA_POINTS)
    for e, g in zip(ETA_POINTS, got, strict=True):
        assert_close(float(g), brute_f(omega, kinks, e), f"{name}: f({e})")


@pytest.mark.parametrize("name", list(PRIMALS))
def test_omega_of_the_rule_matches_the_hand_penalty(name, primal_records):
    _, omega, _ = PRIMALS[name]
    d = primal_records[name]
    got = d.evaluate("omega", W_POINTS)
    for x, g in zip(W_POINTS, got, strict=True):
        with mpmath.workdps(DPS):
            assert_close(float(g), omega(mp(x)), f"{name}: Omega({x})")


def test_the_issue_capped_l1_dual():
    d = sd.derive(eta_hat="Piecewise((w, w < 2), (oo, True))", timeout=TIMEOUT)
    want = sp.Piecewise((eta, eta <= 2), (4 - 4 / eta, True))
    for e in [sp.Rational(1, 2), 2, 3, 10]:
        assert d.f_dual.subs(eta, e) == want.subs(eta, e)


def test_the_issue_quadratic_growth_dual_is_plus_infinity_from_eta_1():
    d = sd.derive(penalty="w + w**2/2", timeout=TIMEOUT)
    assert list(d.evaluate("f_dual", [0.5, 1.0, 2.0])) == [pytest.approx(1.0, rel=1e-14), float("inf"), float("inf")]
    assert d.f_dual.subs(eta, 1) == sp.oo
    assert sp.simplify(d.f_dual.subs(eta, sp.Rational(1, 3)) - sp.Rational(1, 2)) == 0


# ---------------------------------------------------------------- never a guess

def test_a_crossing_that_cannot_be_solved_exactly_raises_instead_of_guessing():
    """log(1 + eta) up to 1, then flat: the root candidate meets f(oo) = log 2 at a transcendental w."""
    with pytest.raises(NoClosedForm):
        duality.omega_from_f(parse_expr(DUALS["transcendental"][0], {"eta": eta}))


def test_f_decreasing_near_zero_faster_than_one_over_eta_is_refused():
    """w**2/eta + f(eta) -> -oo as eta -> 0+ for w < 1 when f = -1/eta + eta: no closed form claimed."""
    with pytest.raises(NoClosedForm):
        duality.omega_from_f(eta - 1 / eta)
