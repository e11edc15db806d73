"""Direct tests of ``symdual.numeric.chebyshev`` against independent references.

References: ``numpy.polynomial.chebyshev`` (chebpts1/chebpts2 for the nodes,
chebval for the series, chebinterpolate / Chebyshev.interpolate / chebfit for
the interpolation coefficients) and mpmath at 30 digits for the functions
tabulated: log1p, atan, exp(-x) sin(x), exp(-x) and Dawson's function
D(x) = sqrt(pi)/2 exp(-x**2) erfi(x) (the table is fitted to
``scipy.special.dawsn``, the reference is mpmath's erfi).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.polynomial import chebyshev as npc

from symdual.numeric import chebyshev as ch
from symdual.numeric.chebyshev import PiecewiseChebyshev, fit_chebyshev

EPS = np.finfo(float).eps
DPS = 30
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------- references
def mp_dawson(x):
    return mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-x * x) * mpmath.erfi(x)


def mp_values(mp_fun, x: np.ndarray) -> np.ndarray:
    """mp_fun at each float x, evaluated at 30 digits and rounded once."""
    with mpmath.workdps(DPS):
        return np.array([float(mp_fun(mpmath.mpf(float(v)))) for v in x])


def reference_eval(table: PiecewiseChebyshev, x: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """numpy's chebval of each function's series on the given panel, at the mapped s in [-1, 1]."""
    left, right = table.edges[panel], table.edges[panel + 1]
    s = (2 * x - left - right) / (right - left)
    out = np.empty((table.coefs.shape[2], x.size))
    for k in range(table.coefs.shape[2]):
        for p in np.unique(panel):
            on = panel == p
            out[k, on] = npc.chebval(s[on], table.coefs[p, :, k])
    return out


def clenshaw_tolerance(table: PiecewiseChebyshev, panel: np.ndarray) -> np.ndarray:
    """Rounding bound for two Clenshaw orderings: a few (degree + 1) eps sum |c| per function and panel."""
    return 4 * (table.degree + 1) * EPS * np.abs(table.coefs).sum(axis=1)[panel].T


def dense_grid(table: PiecewiseChebyshev, lo: float, hi: float, n: int = 1500) -> np.ndarray:
    """A uniform grid plus every edge and both floating-point neighbours of the interior edges."""
    inner = table.edges[1:-1]
    return np.unique(
        np.concatenate([np.linspace(lo, hi, n), table.edges, np.nextafter(inner, -np.inf), np.nextafter(inner, np.inf)])
    )


# Functions the module was not built around; (numpy function, mpmath function, interval, floor).
TABLES = {
    "log1p": (np.log1p, mpmath.log1p, (-0.9, 3.0), None),
    "atan": (np.arctan, mpmath.atan, (-5.0, 5.0), None),
    "exp(-x) sin(x)": (lambda x: np.exp(-x) * np.sin(x), lambda x: mpmath.exp(-x) * mpmath.sin(x), (0.0, 20.0), None),
    "dawson": (scipy.special.dawsn, mp_dawson, (0.0, 10.0), None),
    "exp(-x) relative": (lambda x: np.exp(-x), lambda x: mpmath.exp(-x), (0.0, 40.0), 0.0),
    "dawson relative": (scipy.special.dawsn, mp_dawson, (1.0, 30.0), 0.0),
    "log1p mixed": (np.log1p, mpmath.log1p, (-0.99, 50.0), 1.0),
}


# ------------------------------------------------------- nodes and matrix
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 17, 25, 40])
def test_first_kind_points_are_numpy_chebpts1(n):
    pts = ch._first_kind_points(n)
    assert np.all(np.diff(pts) > 0)
    np.testing.assert_allclose(pts, npc.chebpts1(n), rtol=0, atol=2 * EPS)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 17, 25, 40])
def test_check_points_are_interior_chebpts2(n):
    """cos(pi j/n), j = 1..n-1: the interior second-kind points of n + 1, increasing and interlacing the nodes."""
    pts = ch._check_points(n)
    np.testing.assert_allclose(pts, npc.chebpts2(n + 1)[1:-1], rtol=0, atol=2 * EPS)
    nodes = npc.chebpts1(n)
    assert np.all((nodes[:-1] < pts) & (pts < nodes[1:]))


@pytest.mark.parametrize("n", [1, 2, 4, 9, 17, 25, 33])
def test_values_to_coefficients_is_interpolation(n):
    """M @ y equals numpy's degree n-1 fit through the n first-kind points (interpolation) for random data."""
    rng = np.random.default_rng(n)
    y = rng.normal(size=(n, 3))
    coefs = ch._values_to_coefficients(n) @ y
    fit = npc.chebfit(npc.chebpts1(n), y, n - 1)
    np.testing.assert_allclose(coefs, fit, rtol=0, atol=8 * n * EPS * np.abs(y).max())
    # and the series takes the values back at the nodes
    np.testing.assert_allclose(npc.chebval(npc.chebpts1(n), coefs).T, y, rtol=0, atol=8 * n * EPS * np.abs(y).max())


@pytest.mark.parametrize(
    "fun, lo, hi, degree",
    [
        (np.exp, 0.0, 1.0, 24),
        (np.arctan, -0.5, 1.0, 40),
        (np.log1p, 0.0, 1.0, 30),
        (lambda x: np.exp(-x) * np.sin(x), 0.0, 3.0, 30),
    ],
    ids=["exp", "atan", "log1p", "exp(-x)sin(x)"],
)
def test_single_piece_fit_equals_numpy_interpolate(fun, lo, hi, degree):
    table = fit_chebyshev(lambda x: fun(x)[None], lo, hi, degree=degree, tol=1e-13, width=hi - lo)
    assert table.panels == 1 and table.degree == degree
    ref = npc.Chebyshev.interpolate(fun, degree, domain=[lo, hi]).coef
    scale = np.abs(fun(np.linspace(lo, hi, 101))).max()
    np.testing.assert_allclose(table.coefs[0, :, 0], ref, rtol=0, atol=4 * (degree + 1) * EPS * scale)


# ------------------------------------------------------------ evaluation
@st.composite
def random_table(draw):
    panels = draw(st.integers(1, 6))
    degree = draw(st.integers(1, 30))
    k = draw(st.integers(1, 3))
    lo = draw(st.floats(-50, 50))
    widths = draw(st.lists(st.floats(1e-3, 10.0), min_size=panels, max_size=panels))
    edges = lo + np.concatenate([[0.0], np.cumsum(widths)])
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    decay = draw(st.floats(0.0, 1.0))  # 0: all coefficients O(1); 1: geometric decay like a smooth function
    coefs = rng.normal(size=(panels, degree + 1, k)) * (0.5 ** (decay * np.arange(degree + 1)))[None, :, None]
    panel = rng.integers(0, panels, size=200)
    u = rng.uniform(0.0, 1.0, size=200)
    u[:4] = [0.0, 1.0, 0.5, 1e-12]  # the ends of panels, where s = -1 and s = 1
    x = edges[panel] + u * (edges[panel + 1] - edges[panel])
    x = np.clip(x, edges[panel], edges[panel + 1])
    return PiecewiseChebyshev(edges, coefs, 0.0), x, panel


@PROPERTY
@given(random_table())
def test_property_clenshaw_equals_numpy_chebval(case):
    table, x, panel = case
    # Where x is an interior edge, the table uses the panel on its right; the reference must do the same.
    panel = np.clip(np.searchsorted(table.edges, x, side="right") - 1, 0, table.panels - 1)
    got = table(x)
    ref = reference_eval(table, x, panel)
    assert got.shape == ref.shape
    assert np.all(np.abs(got - ref) <= clenshaw_tolerance(table, panel))


@pytest.mark.parametrize("degree", [1, 2, 3, 7, 24, 60])
def test_clenshaw_equals_chebval_to_rounding(degree):
    """Unit-size coefficients on one panel [-1, 1]: the table is numpy's chebval to ~1e-15."""
    rng = np.random.default_rng(degree)
    coefs = rng.uniform(-1, 1, size=(1, degree + 1, 2)) / (1 + np.arange(degree + 1))[None, :, None] ** 2
    table = PiecewiseChebyshev(np.array([-1.0, 1.0]), coefs, 0.0)
    s = np.concatenate([np.linspace(-1, 1, 2001), npc.chebpts1(degree + 1)])
    ref = np.vstack([npc.chebval(s, coefs[0, :, k]) for k in range(2)])
    assert np.max(np.abs(table(s) - ref)) <= 1e-15 * max(1.0, np.abs(ref).max())


def test_degree_zero_series_is_constant():
    """A single coefficient c0 is the constant c0 (a regression: it once gave c0*(1 + s))."""
    table = PiecewiseChebyshev(np.array([0.0, 1.0]), np.array([[[2.0]]]), 0.0)
    x = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(table(x), reference_eval(table, x, np.zeros(3, dtype=int)), rtol=1e-15)


def test_evaluation_over_several_chunks():
    """More points than one evaluation chunk: every point still agrees with chebval on its panel."""
    rng = np.random.default_rng(7)
    edges = np.array([0.0, 0.3, 1.0, 2.5])
    coefs = rng.normal(size=(3, 9, 2)) * 0.5 ** np.arange(9)[None, :, None]
    table = PiecewiseChebyshev(edges, coefs, 0.0)
    n = 2 * ch._CHUNK + 17
    x = rng.uniform(0.0, 2.5, size=n)
    got = table(x.reshape(-1, 1))  # any shape: raveled
    assert got.shape == (2, n)
    panel = np.searchsorted(edges, x, side="right") - 1
    assert np.all(np.abs(got - reference_eval(table, x, panel)) <= clenshaw_tolerance(table, panel))


def test_which_selects_rows():
    fun = lambda x: np.vstack([np.log1p(x), np.arctan(x), scipy.special.dawsn(x)])  # noqa: E731
    table = fit_chebyshev(fun, 0.0, 4.0, degree=16)
    x = np.linspace(0.0, 4.0, 333)
    all_rows = table(x)
    assert all_rows.shape == (3, x.size)
    np.testing.assert_array_equal(table(x, which=(2, 0)), all_rows[[2, 0]])
    np.testing.assert_array_equal(table(x, which=(1,)), all_rows[[1]])


# ----------------------------------------------------- fitted accuracy
@pytest.mark.parametrize("degree, tol", [(16, 1e-14), (24, 1e-14), (10, 1e-10)])
@pytest.mark.parametrize("name", list(TABLES))
def test_table_accuracy_against_mpmath(name, degree, tol):
    """Error against 30-digit values on a dense grid (edges and their neighbours included) stays within tol
    and close to the stored measured error, in the error measure the floor selects."""
    fun, mp_fun, (lo, hi), floor = TABLES[name]
    table = fit_chebyshev(lambda x: fun(x)[None], lo, hi, degree=degree, tol=tol, floor=floor)
    assert table.error <= tol
    x = dense_grid(table, lo, hi)
    ref = mp_values(mp_fun, x)
    dev = np.abs(table(x)[0] - ref)
    err = dev if floor is None else dev / (floor + np.abs(ref))
    assert err.max() <= 1.25 * tol, (err.max(), tol)
    assert err.max() <= 1.5 * table.error + 8 * EPS, (err.max(), table.error)


@pytest.mark.parametrize("name", ["log1p", "atan", "dawson", "dawson relative", "log1p mixed"])
def test_stored_error_is_measured_on_the_check_grid(name):
    """Recompute the error at each panel's angular midpoints with numpy's chebval: it is the stored error."""
    fun, _, (lo, hi), floor = TABLES[name]
    table = fit_chebyshev(lambda x: fun(x)[None], lo, hi, degree=16, tol=1e-14, floor=floor)
    n = table.degree + 1
    mid, half = 0.5 * (table.edges[1:] + table.edges[:-1]), 0.5 * np.diff(table.edges)
    s = npc.chebpts2(n + 1)[1:-1]
    worst, slack = 0.0, 0.0
    for p in range(table.panels):
        x = mid[p] + half[p] * s
        exact = fun(x)
        scale = 1.0 if floor is None else floor + np.abs(exact)
        worst = max(worst, float(np.max(np.abs(npc.chebval(s, table.coefs[p, :, 0]) - exact) / scale)))
        # two Clenshaw orderings differ by rounding: a few n eps sum |c|, in the same error measure
        slack = max(slack, float(np.max(4 * n * EPS * np.abs(table.coefs[p, :, 0]).sum() / scale)))
    assert abs(worst - table.error) <= slack, (worst, table.error, slack)


def test_pieces_shrink_towards_a_singularity_just_outside():
    """log1p on [-0.999, 1] (singular at -1): bisection concentrates panels at the left end."""
    table = fit_chebyshev(lambda x: np.log1p(x)[None], -0.999, 1.0, degree=16, tol=1e-13)
    widths = np.diff(table.edges)
    assert table.panels > 2
    assert widths[0] < 1e-2 * widths[-1]
    assert widths[0] <= widths.min() * (1 + 1e-9)
    x = dense_grid(table, -0.999, 1.0, 3000)
    # next to the singularity an ulp of x moves log1p by eps*|x|/(1 + x): rounding the table cannot beat
    conditioning = 4 * EPS * (1 + np.abs(x)) / (1 + x)
    assert np.all(np.abs(table(x)[0] - mp_values(mpmath.log1p, x)) <= 1.25e-13 + conditioning)


@st.composite
def random_polynomial(draw):
    degree = draw(st.integers(1, 24))
    true_degree = draw(st.integers(0, degree))
    lo = draw(st.floats(-20, 20))
    span = draw(st.floats(0.1, 20))
    seed = draw(st.integers(0, 2**32 - 1))
    c = np.random.default_rng(seed).uniform(-1, 1, size=true_degree + 1)
    return degree, lo, lo + span, c


@PROPERTY
@given(random_polynomial())
def test_property_polynomials_are_reproduced(case):
    """A Chebyshev series of degree <= the table's degree on [lo, hi] is interpolated exactly (one panel):
    the coefficients are its own, up to rounding.  Rounding includes the noise of evaluating the series
    at a float x: x is known to ulp(x), i.e. to ~eps*(|lo| + |hi|)/(hi - lo) in the window variable,
    amplified by up to degree**2 (Markov's inequality)."""
    degree, lo, hi, c = case
    poly = npc.Chebyshev(c, domain=[lo, hi])
    table = fit_chebyshev(lambda x: poly(x)[None], lo, hi, degree=degree, tol=1e-9, width=hi - lo)
    assert table.panels == 1
    want = np.zeros(degree + 1)
    want[: c.size] = c
    noise = 4 * EPS * (abs(lo) + abs(hi) + (hi - lo)) / (hi - lo) * max(1, c.size - 1) ** 2
    atol = (8 * (degree + 1) * EPS + 2 * noise) * np.abs(c).sum()
    np.testing.assert_allclose(table.coefs[0, :, 0], want, rtol=0, atol=atol)


# ------------------------------------------------------ interval ends
@pytest.mark.parametrize("name", ["log1p", "atan", "exp(-x) sin(x)", "dawson", "dawson relative"])
def test_values_at_and_beyond_the_interval_ends(name):
    fun, mp_fun, (lo, hi), floor = TABLES[name]
    tol = 1e-14
    table = fit_chebyshev(lambda x: fun(x)[None], lo, hi, degree=20, tol=tol, floor=floor)
    assert table.edges[0] == lo and table.edges[-1] == hi
    ends = np.array([lo, hi])
    ref = mp_values(mp_fun, ends)
    dev = np.abs(table(ends)[0] - ref)
    err = dev if floor is None else dev / (floor + np.abs(ref))
    assert err.max() <= 1.25 * tol, err
    # clipped beyond the ends: the end values, exactly
    outside = np.array([lo - 1.0, lo - 1e-300, np.nextafter(lo, -np.inf), hi + 1e-9, hi + 100.0, np.inf, -np.inf])
    np.testing.assert_array_equal(table(outside)[0], table(np.array([lo, lo, lo, hi, hi, hi, lo]))[0])


@pytest.mark.parametrize("name", ["log1p mixed", "dawson relative", "atan"])
def test_continuity_across_interior_edges(name):
    """The left panel at s = 1 and the right panel at s = -1 agree at every interior edge (both to the function)."""
    fun, mp_fun, (lo, hi), floor = TABLES[name]
    tol = 1e-14
    table = fit_chebyshev(lambda x: fun(x)[None], lo, hi, degree=16, tol=tol, floor=floor)
    assert table.panels > 1
    inner = table.edges[1:-1]
    left = np.array([npc.chebval(1.0, table.coefs[p, :, 0]) for p in range(table.panels - 1)])
    right = np.array([npc.chebval(-1.0, table.coefs[p, :, 0]) for p in range(1, table.panels)])
    ref = mp_values(mp_fun, inner)
    scale = 1.0 if floor is None else floor + np.abs(ref)
    assert np.all(np.abs(left - ref) / scale <= 1.25 * tol)
    assert np.all(np.abs(right - ref) / scale <= 1.25 * tol)


def test_unreachable_tolerance_raises():
    """A jump cannot be fitted: after max_panels the fit gives up with ValueError."""
    with pytest.raises(ValueError, match="no Chebyshev fit"):
        fit_chebyshev(lambda x: np.sign(x - 0.3)[None], 0.0, 1.0, degree=8, tol=1e-10, max_panels=16)


def test_width_sets_the_initial_pieces():
    """Equal initial panels no wider than width: a function fitted at once keeps them."""
    table = fit_chebyshev(lambda x: np.arctan(x)[None], 0.0, 3.0, degree=40, tol=1e-13, width=0.7)
    np.testing.assert_allclose(table.edges, np.linspace(0.0, 3.0, 6), rtol=0, atol=4 * EPS)
