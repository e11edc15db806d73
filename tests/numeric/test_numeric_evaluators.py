"""Evaluators: stable float64 closed forms, quadrature independent of the other points, limits at poles,
every parser function, memory. References are mpmath at 30 digits of formulas typed by hand."""
from __future__ import annotations

import tracemalloc
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import symdual
from symdual.numeric.evaluators import ClosedForm, EnginePiece, Quadrature, small_argument
from symdual.parsing import FUNCTIONS, parse_expr

mpmath.mp.dps = 30
W = sp.Symbol("w", positive=True)
ETA = sp.Symbol("eta", positive=True)
GRID = [1e-300, 1e-12, 1e-6, 0.3, 1.0, 2.5, 20.0, 400.0, 710.0, 1000.0, 1e6, 1e12, 1e300]


def _ref(fn, x: float) -> float:
    """float of an mpmath reference at 80 digits (plus log10 x, so that 1 - x keeps its 1: cancellation in the
    hand-typed formula costs at most 50 of them); complex -> NaN."""
    with mpmath.workdps(80 + max(0, int(np.log10(x)))):
        v = fn(mpmath.mpf(x))
        if isinstance(v, mpmath.mpc):
            return float(v.real) if abs(v.imag) <= 1e-25 * max(abs(v.real), 1) else np.nan
        return float(v)


def _assert_close(got: np.ndarray, want: list[float], rtol: float = 1e-13) -> None:
    for i, (g, r) in enumerate(zip(np.asarray(got, dtype=float).ravel(), want, strict=True)):
        x = f"point {i}"
        if np.isnan(r):
            assert np.isnan(g), (x, g, r)
        elif np.isinf(r) or r == 0:
            assert g == r or (r == 0 and abs(g) < 1e-300), (x, g, r)
        else:
            assert abs(g - r) <= rtol * abs(r), (x, g, r, abs(g - r) / abs(r))


def _quiet(fn, *args):
    """fn(*args), failing on any warning (internal numerics must be silent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


# ------------------------------------------------------------------ quadrature: keep_prob = 1 - exp(-w)


@pytest.fixture(scope="module")
def one_minus_exp():
    return symdual.derive(keep_prob="1 - exp(-w)")


def _bose(w: mpmath.mpf) -> mpmath.mpf:
    """integral_0^w t/(exp(t) - 1) dt (eta_hat = exp(w) - 1), by mpmath.quad."""
    if w > 200:
        return mpmath.pi**2 / 6 - mpmath.quad(lambda t: t / mpmath.expm1(t), [w, mpmath.inf])
    return w * mpmath.quad(lambda s: w * s / mpmath.expm1(w * s), [0, 1])  # t = w s: scale-free nodes


def test_quadrature_of_one_minus_exp_is_finite_and_exact(one_minus_exp):
    """Was inf everywhere: t/(exp(t) - 1) was evaluated at t < 2**-53 (0/0); Omega(1) = 0.7775046,
    Omega(oo) = pi**2/6."""
    d = one_minus_exp
    xs = np.array(GRID + [np.inf])
    got = _quiet(d.evaluate, "omega", xs)
    want = [_ref(_bose, x) for x in GRID] + [float(mpmath.pi**2 / 6)]
    assert abs(got[4] - 0.77750463411224827) < 1e-15
    _assert_close(got[:-1], want[:-1], rtol=2e-14)
    assert abs(got[-1] - want[-1]) <= 2e-14 * want[-1]


def test_quadrature_value_does_not_depend_on_the_other_points(one_minus_exp):
    alone = one_minus_exp.evaluate("omega", np.array([1.0]))[0]
    mixed = one_minus_exp.evaluate("omega", np.array([1e-300, 1.0, 1e300, 3.0]))[1]
    shuffled = one_minus_exp.evaluate("omega", np.array([7.0, 1e-200, 1.0]))[2]
    assert alone == mixed == shuffled


def test_quadrature_negative_nan_zero(one_minus_exp):
    got = one_minus_exp.evaluate("omega", np.array([-1.0, np.nan, 0.0, -np.inf]))
    assert got[0] == one_minus_exp.evaluate("omega", 1.0)
    assert np.isnan(got[1]) and got[2] == 0.0
    assert abs(got[3] - np.pi**2 / 6) < 1e-14


def test_quadrature_memory_is_linear_with_small_constant(one_minus_exp):
    """Was 103x the input (all 24 nodes of every point at once): now chunked, at most 10x."""
    x = np.geomspace(1e-3, 1e3, 200_000)
    one_minus_exp.evaluate("omega", x[:10])
    tracemalloc.start()
    one_minus_exp.evaluate("omega", x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 10 * x.nbytes, peak / x.nbytes


def test_quadrature_singular_integrand_and_tiny_points():
    """g = t**-1/2 / 2: Omega = sqrt(w), including w below the first knot (2**-1000) and at 1e300."""
    g = ClosedForm(1 / (2 * sp.sqrt(W)), W, sp.oo, sp.Integer(0))
    q = Quadrature(g, g.mp)
    xs = np.array([1e-305, 1e-300, 1e-250, 1e-6, 2.0, 1e300])
    _assert_close(q(xs), list(np.sqrt(xs)), rtol=1e-13)
    assert q(np.array([np.inf]))[0] == np.inf


# ------------------------------------------------------------------ closed forms: overflow and cancellation


def test_sigmoid_rule_has_finite_limit_at_large_w():
    """keep_prob = sigmoid(w - 1): Omega = e (1 - (1 + w) exp(-w)) was inf at 710 and NaN at 1000."""
    d = symdual.derive(keep_prob="sigmoid(w - 1)")
    omega = _quiet(d.evaluate, "omega", np.array(GRID))
    _assert_close(omega, [_ref(lambda w: mpmath.e * (1 - (1 + w) * mpmath.exp(-w)), x) for x in GRID])
    eta = d.evaluate("eta_hat", np.array(GRID))
    _assert_close(eta, [_ref(lambda w: mpmath.exp(w - 1), x) for x in GRID])
    assert np.isfinite(eta[GRID.index(710.0)])  # e**709 = 8.2e307 is representable


def test_tanh_rule_eta_hat_does_not_overflow():
    """keep_prob = tanh(w): eta_hat = tanh/(1 - tanh) = (exp(2w) - 1)/2 was inf at w = 20 (1.18e17)."""
    d = symdual.derive(keep_prob="tanh(w)")
    eta = _quiet(d.evaluate, "eta_hat", np.array(GRID))
    _assert_close(eta, [_ref(lambda w: mpmath.expm1(2 * w) / 2, x) for x in GRID])
    assert abs(eta[GRID.index(20.0)] / 1.1769263341850e17 - 1) < 1e-13


def test_log_cosh_penalty_at_large_and_small_w():
    """penalty = log(cosh(w)) overflowed at 711: log cosh w = w + log1p(exp(-2w)) - log 2; eta_hat = w/tanh w."""
    d = symdual.derive(penalty="log(cosh(w))")
    xs = np.array(GRID)
    _assert_close(_quiet(d.evaluate, "omega", xs), [_ref(lambda w: mpmath.log(mpmath.cosh(w)), x) for x in GRID])
    _assert_close(d.evaluate("eta_hat", xs), [_ref(lambda w: w / mpmath.tanh(w), x) for x in GRID])
    _assert_close(d.evaluate("omega_prime", xs), [_ref(mpmath.tanh, x) for x in GRID])


def test_pole_of_a_dual_is_plus_infinity_from_below():
    """f(eta) = eta/(1 - eta) (penalty w + w**2/2) read -inf at eta = 1 as -eta/(eta - 1): the limit from
    below is +oo."""
    for f in (-ETA / (ETA - 1), ETA / (1 - ETA)):
        got = _quiet(ClosedForm(f, ETA), np.array([0.5, 1.0]))
        assert got[0] == 1.0 and got[1] == np.inf


def test_removable_singularity_takes_the_limit():
    """sin(w)/w - 1 + ... : at a point where the formula reads 0/0 the limit from below is used."""
    got = ClosedForm((W - 1) / (W**2 - 1), W)(np.array([1.0, 3.0]))
    assert got[0] == 0.5 and got[1] == 0.25


def test_min_heaviside_gamma_evaluate():
    """lambdify had no NumPy name for Min, Heaviside, gamma (NameError)."""
    d = symdual.derive(eta_hat="Min(w, 1)")
    xs = np.array([0.25, 1.0, 3.0])
    _assert_close(d.evaluate("omega", xs), [0.25, 1.0, 5.0], rtol=1e-15)  # w, then (w**2 + 1)/2
    d = symdual.derive(eta_hat="1 + Heaviside(w - 1)")
    _assert_close(d.evaluate("omega", xs), [0.03125, 0.5, 2.5], rtol=1e-13)  # w**2/2, then 1/2 + (w**2 - 1)/4
    g = ClosedForm(sp.gamma(W + 1), W)
    _assert_close(g(np.array([1e-12, 0.5, 10.0, 200.0])),
                  [_ref(lambda v: mpmath.gamma(v + 1), x) for x in (1e-12, 0.5, 10.0)] + [np.inf])


def test_keep_probability_one_is_plus_infinity():
    """eta_hat = q/(1 - q) with q = min(1, sqrt w) (and a truncated q = 1/3, then 1) read NaN beyond the cap:
    mpmath's 1/0 replaced the float64 +inf (truth: no dropout, eta_hat = +oo)."""
    xs = np.array([0.25, 1.0, 2.5, 1e3, 1e300])
    capped = ClosedForm(sp.Min(1, sp.sqrt(W)) / (1 - sp.Min(1, sp.sqrt(W))), W)
    _assert_close(_quiet(capped, xs), [1.0] + [np.inf] * 4, rtol=1e-15)
    step = sp.Piecewise((sp.Rational(1, 3), W < 2), (1, True))
    _assert_close(_quiet(ClosedForm(2 * step / (1 - step), W), xs), [1.0, 1.0] + [np.inf] * 3, rtol=1e-15)


def _sinc2(w: mpmath.mpf) -> mpmath.mpf:
    """(1 - cos w)/w**2 = 2 sin(w/2)**2/w**2, without cancellation."""
    return 2 * mpmath.sin(w / 2) ** 2 / w**2


def test_loss_of_significance_is_recomputed():
    """(1 - cos w)/w**2 (no rewrite rule knows it) loses 4 digits at w = 1e-6 and reads 0/0 below 1e-8:
    the probe finds where float64 is off and those points are recomputed in mpmath, whatever else is in
    the array; log1p(w/2), exact in float64, is left alone."""
    closed = ClosedForm((1 - sp.cos(W)) / W**2, W)
    xs = np.array([1e-300, 1e-12, 1e-6, 1e-3, 0.5, 3.0])
    _assert_close(_quiet(closed, xs), [_ref(_sinc2, x) for x in xs], rtol=1e-13)
    assert closed(np.array([1e-6]))[0] == closed(xs)[2]
    assert closed.suspect()[0].size >= 1
    assert ClosedForm(sp.log(1 + W / 2), W).suspect()[0].size == 0


def test_dual_near_zero_does_not_cancel():
    """f of a capped LogSum, 2 log((s + 1)/2) - (s - 1)**2/(4 eta) with s = sqrt(1 + 4 eta), was 1.3e-10 off at
    eta = 1e-6 (the two terms cancel): reference 2 log((s + 1)/2) - 4 eta/(s + 1)**2."""
    s_ = sp.sqrt(4 * ETA + 1)
    closed = ClosedForm(2 * sp.log(s_ / 2 + sp.Rational(1, 2)) - (s_ - 1) ** 2 / (4 * ETA), ETA)

    def ref(e: mpmath.mpf) -> mpmath.mpf:
        r = mpmath.sqrt(1 + 4 * e)
        return 2 * mpmath.log((r + 1) / 2) - 4 * e / (r + 1) ** 2

    xs = np.array([1e-12, 1e-9, 1e-6, 1e-3, 1.0, 2.0])
    _assert_close(_quiet(closed, xs), [_ref(ref, x) for x in xs], rtol=1e-13)


def test_adaptive_mpmath_path():
    """mp() at 30 digits of (1 - cos w)/w**2 at w = 1e-20: the formula at 40 digits reads 0."""
    closed = ClosedForm((1 - sp.cos(W)) / W**2, W)
    with mpmath.workdps(40):
        want = _sinc2(mpmath.mpf("1e-20"))
        assert abs(closed.mp(1e-20, 30) - want) <= mpmath.mpf(10) ** -29 * want


def test_engine_piece_recomputes_overflow():
    """A solver whose float64 path overflows (f(eta) = eta**2 at eta = 8e199) takes its mpmath value there."""
    def fn(x: object) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            return np.where(x < 1e100, x, np.nan)

    piece = EnginePiece(fn, lambda x, dps=40: mpmath.mpf(x))
    _assert_close(piece(np.array([2.0, 1e200, 1e300])), [2.0, 1e200, 1e300], rtol=0)
    assert np.isnan(EnginePiece(fn)(np.array([1e200]))[0])


# every function of the parser's whitelist, against mpmath typed by hand
_WHITELIST = {
    "exp": ("exp(w)", mpmath.exp), "log": ("log(w, 2)", lambda w: mpmath.log(w) / mpmath.log(2)),
    "ln": ("ln(w)", mpmath.log), "sqrt": ("sqrt(w)", mpmath.sqrt), "cbrt": ("cbrt(w)", mpmath.cbrt),
    "Abs": ("Abs(w - 1)", lambda w: abs(w - 1)), "abs": ("abs(1 - w)", lambda w: abs(w - 1)),
    "sign": ("sign(w - 1)", lambda w: mpmath.sign(w - 1)),
    "sigmoid": ("sigmoid(w)", lambda w: 1 / (1 + mpmath.exp(-w))),
    "logit": ("logit(w)", lambda w: mpmath.log(w / (1 - w))),  # NaN (complex) for w > 1
    "softplus": ("softplus(w)", lambda w: mpmath.log(1 + mpmath.exp(w))),
    "tanh": ("tanh(w)", mpmath.tanh), "sinh": ("sinh(w)", mpmath.sinh), "cosh": ("cosh(w)", mpmath.cosh),
    "sin": ("sin(w)", mpmath.sin), "cos": ("cos(w)", mpmath.cos), "tan": ("tan(w)", mpmath.tan),
    "atan": ("atan(w)", mpmath.atan), "asinh": ("asinh(w)", mpmath.asinh), "erf": ("erf(w)", mpmath.erf),
    "erfc": ("erfc(w)", mpmath.erfc), "erfi": ("erfi(w)", mpmath.erfi),
    "dawson": ("dawson(w)", lambda w: mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-w**2) * mpmath.erfi(w)),
    "gamma": ("gamma(w)", mpmath.gamma), "loggamma": ("loggamma(w)", mpmath.loggamma),
    "Min": ("Min(w, 1)", lambda w: min(w, 1)), "Max": ("Max(w, 1)", lambda w: max(w, 1)),
    "min": ("min(w, 2)", lambda w: min(w, 2)), "max": ("max(w, 2)", lambda w: max(w, 2)),
    "Piecewise": ("Piecewise((w, w < 1), (1/w, True))", lambda w: w if w < 1 else 1 / w),
    "Heaviside": ("Heaviside(w - 1)", lambda w: mpmath.mpf(w > 1)),
    "hyper": ("hyper([1], [2], w)", lambda w: mpmath.hyp1f1(1, 2, w)),
}
_POINTS = [1e-12, 1e-6, 0.3, 2.5, 20.0, 700.0, 1e6, 1e12]


def test_whitelist_is_complete():
    assert set(_WHITELIST) == set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(_WHITELIST))
def test_every_parser_function_evaluates(name: str):
    text, ref = _WHITELIST[name]
    points = _POINTS[:-2] if name == "hyper" else _POINTS  # 1F1(1; 2; 1e6) = e**1e6/1e6: mpmath is slow there
    closed = ClosedForm(parse_expr(text, {"w": W}), W)
    got = _quiet(closed, np.array(points))
    want = []
    for x in points:
        try:
            want.append(_ref(ref, x))
        except OverflowError:
            want.append(np.inf)
    rtol = 1e-12 if name in ("tan", "sin", "cos") else 1e-13  # |f'| x / |f| ~ 1e12 amplifies the input's rounding
    _assert_close(got, want, rtol=rtol)


# ------------------------------------------------------------------ series at 0+ only where needed


def test_small_argument_skipped_where_log1p_is_exact():
    """log(1 + w/2) is exact with log1p: no 11-term series (was 11x slower than NumPy)."""
    closed = ClosedForm(sp.log(1 + W / 2), W, sp.Integer(0), sp.oo)
    assert small_argument(closed, sp.series(closed.expr, W, 0, 12)) is None
    xs = np.array([1e-12, 1e-8, 1e-3])
    _assert_close(closed(xs), [_ref(lambda w: mpmath.log1p(w / 2), x) for x in xs], rtol=4e-16)


def test_small_argument_kept_where_the_form_cancels():
    """1 - (1 + w) exp(-w) (standout) loses digits at small w: the series is certified and used."""
    closed = ClosedForm(1 - (1 + W) * sp.exp(-W), W, sp.Integer(0), sp.Integer(1))
    near = small_argument(closed, sp.series(closed.expr, W, 0, 12))
    assert near is not None and near.below >= 1e-3
    closed.near_zero = near
    xs = np.array([1e-12, 1e-6, 1e-3, 0.5])
    _assert_close(closed(xs), [_ref(lambda w: -mpmath.expm1(-w) - w * mpmath.exp(-w), x) for x in xs], rtol=1e-13)


# ------------------------------------------------------------------ hardthresh memory


def test_hardthresh_large_k_is_sized_by_the_data():
    """catalog.get('hardthresh', k=3e7) allocated 1.1 GB (a list of k zeros) before doing anything."""
    from symdual.methods import hardthresh

    tracemalloc.start()
    props = hardthresh.verdicts(30_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000, peak
    assert props["continuity"].status == "refuted"
    assert hardthresh.omega(np.array([3.0, 0.0, 1.0]), 30_000_000) == 0.0
    assert hardthresh.omega(np.array([3.0, 2.0, 1.0]), 2) == np.inf


def test_a_branch_that_is_exactly_infinite_is_not_recomputed(monkeypatch):
    """Beyond MCP's cap eta_hat is the branch oo itself: +inf is exact there, so no mpmath child is started
    (each one cost a fork per call in training loops); a finite branch that overflows is still recomputed."""
    from symdual.numeric import evaluators

    x = sp.Symbol("x", positive=True)
    closed = evaluators.ClosedForm(sp.Piecewise((sp.exp(x), x < 1000), (sp.oo, True)), x)
    calls = []
    real_bounded = evaluators.bounded
    monkeypatch.setattr(evaluators, "bounded", lambda fn, *a, **k: calls.append(fn) or real_bounded(fn, *a, **k))
    closed.suspect()
    calls.clear()
    assert np.array_equal(closed(np.array([2.0, 1e3, 5e3])), np.array([np.exp(2.0), np.inf, np.inf]))
    assert calls == []
    got = closed(np.array([800.0]))  # exp(800) overflows float64 inside the finite branch: recomputed (+inf)
    assert got[0] == np.inf and len(calls) == 1


def test_many_points_of_lost_significance_are_interpolated_to_mpmath_accuracy():
    """(1 - cos x)/x**2 cancels for small x; 20000 points there go through per-panel Chebyshev interpolants of
    converged mpmath values (checked against mpmath between the nodes), not 20000 mpmath calls: every value
    agrees with the cancellation-free 2 sin(x/2)**2/x**2 evaluated in mpmath to 1e-14 relative."""
    x = sp.Symbol("x", positive=True)
    closed = ClosedForm((1 - sp.cos(x)) / x**2, x)
    pts = np.geomspace(1e-7, 1e-1, 20000)
    got = closed(pts)
    with mpmath.workdps(40):
        want = np.array([float(2 * mpmath.sin(mpmath.mpf(p) / 2) ** 2 / mpmath.mpf(p) ** 2) for p in pts[::97]])
    assert np.max(np.abs(got[::97] / want - 1)) < 1e-14


def test_mp_at_an_argument_beyond_the_float64_range():
    """mpmath has no overflow: log(x) at x = 1e400 is 400 log(10) (the digit count of x once went through
    float(x) = inf and raised OverflowError, leaving verify's duality check of Standout unchecked)."""
    x = sp.Symbol("x", positive=True)
    with mpmath.workdps(40):
        got = ClosedForm(sp.log(x), x).mp(mpmath.mpf("1e400"), 30)
        assert abs(got - 400 * mpmath.log(10)) < mpmath.mpf(10) ** -25
