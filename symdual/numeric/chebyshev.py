"""Adaptive piecewise Chebyshev interpolation with a measured error bound.

``fit_chebyshev(fun, lo, hi)`` interpolates the k functions returned by
``fun`` (shape ``(k, n)``) at Chebyshev points of the first kind on panels
of ``[lo, hi]``, bisecting every panel whose error exceeds ``tol`` (so the
panels shrink only near singularities just outside the interval).  The
error of a panel is measured on a check grid: the angular midpoints between
consecutive nodes, where the interpolation error peaks.  The error is
|table - fun|/(floor + |fun|): absolute for ``floor = None``, relative for
``floor = 0``, mixed otherwise.  The largest measured error is stored as
``error``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

Array = np.ndarray
_CHUNK = 1 << 17


def _first_kind_points(n: int) -> Array:
    """The n Chebyshev points cos(pi*(j + 1/2)/n) on [-1, 1], increasing."""
    return np.cos(np.pi * (np.arange(n)[::-1] + 0.5) / n)


def _check_points(n: int) -> Array:
    """cos(pi*j/n), j = 1..n-1: the angular midpoints between the n nodes."""
    return np.cos(np.pi * np.arange(n - 1, 0, -1) / n)


def _values_to_coefficients(n: int) -> Array:
    """Matrix M with c = M @ y for values y at the n first-kind points (increasing order)."""
    j = np.arange(n)[::-1] + 0.5
    k = np.arange(n)[:, None]
    m = (2.0 / n) * np.cos(np.pi * k * j[None, :] / n)
    m[0] *= 0.5
    return m


@dataclass(frozen=True)
class PiecewiseChebyshev:
    """k functions as Chebyshev series of one degree on panels [edges[i], edges[i+1]].

    ``coefs`` has shape (panels, degree + 1, k); ``error`` is the measured
    maximum error (see the module docstring).
    """

    edges: Array
    coefs: Array
    error: float

    @property
    def panels(self) -> int:
        return self.coefs.shape[0]

    @property
    def degree(self) -> int:
        return self.coefs.shape[1] - 1

    def __call__(self, x: Array, which: tuple[int, ...] | None = None) -> Array:
        """Values of functions ``which`` (default all) at x (clipped), shape (len(which), x.size)."""
        which = tuple(range(self.coefs.shape[2])) if which is None else which
        x = np.clip(np.asarray(x, dtype=float).ravel(), self.edges[0], self.edges[-1])
        out = np.empty((len(which), x.size))
        for start in range(0, x.size, _CHUNK):
            stop = start + _CHUNK
            panel, s2 = self._locate(x[start:stop])
            for row, k in enumerate(which):
                out[row, start:stop] = self._clenshaw(self._columns[k], panel, s2)
        return out

    @cached_property
    def _columns(self) -> list[Array]:
        """Per function, the coefficients as contiguous rows (degree + 1, panels)."""
        return [np.ascontiguousarray(self.coefs[:, :, k].T) for k in range(self.coefs.shape[2])]

    def _locate(self, x: Array) -> tuple[Array, Array]:
        """Piece index of each x and 2*s, s in [-1, 1] the position inside the panel."""
        panel = np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, self.panels - 1)
        left, right = self.edges[panel], self.edges[panel + 1]
        return panel, 2.0 * (2.0 * x - left - right) / (right - left)

    @staticmethod
    def _clenshaw(columns: Array, panel: Array, s2: Array) -> Array:
        """sum_j c_j T_j(s) by b_j = c_j + 2s b_{j+1} - b_{j+2}, value c_0 + s b_1 - b_2."""
        if columns.shape[0] == 1:  # degree 0: the constant c_0
            return np.take(columns[0], panel).astype(float)
        b1, b2, t = np.take(columns[-1], panel), np.zeros(panel.size), np.empty(panel.size)
        for j in range(columns.shape[0] - 2, 0, -1):
            np.multiply(s2, b1, out=t)
            t -= b2
            t += np.take(columns[j], panel)
            b1, b2, t = t, b1, b2
        return 0.5 * s2 * b1 - b2 + np.take(columns[0], panel)


def _fit_panels(fun: Callable[[Array], Array], edges: Array, degree: int, floor: float | None) -> tuple[Array, Array]:
    """Coefficients (panels, degree + 1, k) on the given edges and each panel's measured error."""
    n = degree + 1
    half, mid = 0.5 * np.diff(edges), 0.5 * (edges[:-1] + edges[1:])
    x_nodes = (mid[:, None] + half[:, None] * _first_kind_points(n)).ravel()
    x_check = (mid[:, None] + half[:, None] * _check_points(n)).ravel()
    y = np.asarray(fun(np.concatenate([x_nodes, x_check])), dtype=float)
    y_nodes = y[:, : x_nodes.size].reshape(y.shape[0], edges.size - 1, n)
    coefs = np.einsum("ij,kpj->pik", _values_to_coefficients(n), y_nodes)
    exact = y[:, x_nodes.size :]
    deviation = np.abs(PiecewiseChebyshev(edges, coefs, 0.0)(x_check) - exact)
    error = deviation if floor is None else deviation / (floor + np.abs(exact))
    return coefs, error.reshape(y.shape[0], edges.size - 1, n - 1).max(axis=(0, 2))


def fit_chebyshev(
    fun: Callable[[Array], Array],
    lo: float,
    hi: float,
    degree: int = 24,
    tol: float = 1e-14,
    width: float = 1.0,
    floor: float | None = None,
    max_panels: int = 4096,
) -> PiecewiseChebyshev:
    """Interpolate ``fun`` (x -> array (k, x.size)) on [lo, hi] to measured error <= tol.

    Starts from equal panels no wider than ``width`` and bisects failing panels.
    """
    edges = np.linspace(lo, hi, max(1, int(np.ceil((hi - lo) / width))) + 1)
    while edges.size - 1 <= max_panels:
        coefs, error = _fit_panels(fun, edges, degree, floor)
        bad = np.flatnonzero(error > tol)
        if bad.size == 0:
            return PiecewiseChebyshev(edges, coefs, float(error.max()))
        edges = np.sort(np.concatenate([edges, 0.5 * (edges[bad] + edges[bad + 1])]))
    raise ValueError(f"no Chebyshev fit within {tol:g} on [{lo:g}, {hi:g}] with {max_panels} panels of degree {degree}")



@dataclass(frozen=True)
class CellChebyshev(PiecewiseChebyshev):
    """A :class:`PiecewiseChebyshev` on equal cells of [lo, hi], cell k split into ``counts[k]`` equal panels
    (a power of two): the panel of x is found by arithmetic, cell = floor((x - lo)/H), then
    start[cell] + floor(frac * counts[cell]), with no search."""

    counts: Array = None  # type: ignore[assignment]


def fit_cells(
    fun: Callable[[Array], Array],
    lo: float,
    hi: float,
    floors: tuple[float | None, ...],
    degree: int = 12,
    tol: float = 5e-14,
    width: float = 1.0,
    max_count: int = 1024,
) -> CellChebyshev:
    """Interpolate the k = len(floors) functions of ``fun`` (x -> array (k, x.size)) on [lo, hi] to error <= tol.

    [lo, hi] is cut into ceil((hi - lo)/width) equal cells; each cell's panel count doubles (1, 2, 4, ...,
    ``max_count``) until all its panels meet ``tol`` on the check grid, function i measured as
    |table - fun|/(floors[i] + |fun|) (absolute for None, relative for 0).  Only failing cells are refitted.
    """
    cells = max(1, int(np.ceil((hi - lo) / width)))
    size = (hi - lo) / cells
    counts = np.ones(cells, dtype=int)
    pieces: dict[int, tuple[Array, Array, float]] = {}
    todo = np.arange(cells)
    while todo.size:
        if counts[todo].max() > max_count:
            raise ValueError(f"no Chebyshev fit within {tol:g} on [{lo:g}, {hi:g}] with {max_count} panels of "
                             f"degree {degree} per cell of width {size:g}; raise the degree or narrow the interval")
        edges = [lo + size * (k + np.arange(counts[k] + 1) / counts[k]) for k in todo]
        coefs, errors = _fit_panel_list(fun, edges, degree, floors)
        failed = []
        for k, e, c, err in zip(todo, edges, coefs, errors, strict=True):
            if err <= tol:
                pieces[int(k)] = (e, c, err)
            else:
                counts[k] *= 2
                failed.append(k)
        todo = np.array(failed, dtype=int)
    edges = np.concatenate([pieces[0][0]] + [pieces[k][0][1:] for k in range(1, cells)])
    edges[-1] = hi
    coefs = np.concatenate([pieces[k][1] for k in range(cells)])
    return CellChebyshev(edges, coefs, max(p[2] for p in pieces.values()), counts)


def _fit_panel_list(fun: Callable[[Array], Array], edges: list[Array], degree: int,
                    floors: tuple[float | None, ...]) -> tuple[list[Array], list[float]]:
    """Per group of panels (one edges array each): coefficients (panels, degree + 1, k) and the largest error."""
    n = degree + 1
    all_edges = [(e[:-1], e[1:]) for e in edges]
    left = np.concatenate([a for a, _ in all_edges])
    right = np.concatenate([b for _, b in all_edges])
    half, mid = 0.5 * (right - left), 0.5 * (left + right)
    x_nodes = (mid[:, None] + half[:, None] * _first_kind_points(n)).ravel()
    x_check = (mid[:, None] + half[:, None] * _check_points(n)).ravel()
    y = np.asarray(fun(np.concatenate([x_nodes, x_check])), dtype=float)
    y_nodes = y[:, : x_nodes.size].reshape(y.shape[0], left.size, n)
    coefs = np.einsum("ij,kpj->pik", _values_to_coefficients(n), y_nodes)
    exact = y[:, x_nodes.size :].reshape(y.shape[0], left.size, n - 1)
    s = _check_points(n)
    with np.errstate(invalid="ignore", over="ignore"):
        approx = np.einsum("mj,pjk->kpm", np.cos(np.arange(n)[None, :] * np.arccos(s)[:, None]), coefs)
        deviation = np.abs(approx - exact)
        per_panel = np.zeros(left.size)
        for row, floor in enumerate(floors):
            err = deviation[row] if floor is None else deviation[row] / (floor + np.abs(exact[row]))
            per_panel = np.maximum(per_panel, np.where(np.isnan(err), np.inf, err).max(axis=1))
    out_c, out_e, start = [], [], 0
    for e in edges:
        stop = start + e.size - 1
        out_c.append(coefs[start:stop])
        out_e.append(float(per_panel[start:stop].max()))
        start = stop
    return out_c, out_e


def fit_integral(
    g: Callable[[Array], Array], edges: Array, points: int, start: float, order: int = 16
) -> tuple[Array, Array, float]:
    """Chebyshev series of F(x) = start + int_{edges[0]}^x g on the given panels, from Gauss-Legendre sums.

    F is computed at the ``points`` first-kind nodes and the angular midpoints of each panel by an
    ``order``-point Gauss-Legendre rule on every gap between consecutive points (no interpolation of g:
    a g spanning many orders of magnitude on a panel is integrated as accurately as a smooth one).
    Returns (coefficients (panels, points), F at the edges, max relative error |table - F|/|F| at the midpoints).
    """
    nodes, checks = _first_kind_points(points), _check_points(points)
    s = np.sort(np.concatenate([[-1.0], nodes, checks, [1.0]]))
    half, mid = 0.5 * np.diff(edges), 0.5 * (edges[:-1] + edges[1:])
    x = mid[:, None] + half[:, None] * s[None, :]
    t, weight = np.polynomial.legendre.leggauss(order)
    gap_mid, gap_half = 0.5 * (x[:, 1:] + x[:, :-1]), 0.5 * (x[:, 1:] - x[:, :-1])
    samples = g((gap_mid[:, :, None] + gap_half[:, :, None] * t).ravel()).reshape(gap_mid.shape + (order,))
    gaps = gap_half * (samples @ weight)
    within = np.concatenate([np.zeros((edges.size - 1, 1)), np.cumsum(gaps, axis=1)], axis=1)
    at_edges = start + np.concatenate([[0.0], np.cumsum(within[:, -1])])
    values = at_edges[:-1, None] + within
    is_node = np.isin(s, nodes)
    coefs = values[:, is_node] @ _values_to_coefficients(points).T
    check = np.isin(s, checks)
    approx = np.cos(np.arange(points)[None, :] * np.arccos(s[check])[:, None]) @ coefs.T
    exact = values[:, check].T
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.abs(approx - exact) / np.abs(exact)
    return coefs, at_edges, float(np.nanmax(np.where(exact == 0, np.abs(approx), err)))


# ------------------------------------------------------------------ tables on a binary grid
MANTISSA_BITS = {"float32": 23, "float64": 52}
EXPONENT_BIAS = {"float32": 127, "float64": 1023}


@dataclass(frozen=True)
class BinaryPieces:
    """k functions as power series in a local variable u on the pieces of a binary grid of v > 0.

    Binade [2**e, 2**(e+1)), e_lo <= e < e_hi, is cut into 2**split equal pieces; piece p = (e - e_lo) 2**split + j
    covers v = 2**e (1 + (j + u) 2**-split), 0 <= u < 1.  For a float of m mantissa bits and exponent bias B,
    p = (bits(v) >> (m - split)) - (e_lo + B) 2**split and u = (bits(v) & (2**(m - split) - 1)) 2**-(m - split):
    integer arithmetic on the bits, exact.  ``coefs`` (k, pieces, degree + 1): sum_j coefs[., p, j] u**j, fitted
    at Chebyshev points of each piece (converted once to powers of u); ``error``: max measured error per function
    on the angular midpoints between the nodes (the measure of ``fit_cells``: |table - fun|/(floor + |fun|)).
    """

    e_lo: int
    e_hi: int
    split: int
    coefs: Array
    error: Array

    @property
    def pieces(self) -> int:
        return self.coefs.shape[1]

    @property
    def degree(self) -> int:
        return self.coefs.shape[2] - 1

    def edges(self) -> Array:
        """Left end of every piece, then the right end of the grid: 2**e (1 + j 2**-split)."""
        e = np.repeat(np.arange(self.e_lo, self.e_hi), 1 << self.split).astype(float)
        j = np.tile(np.arange(1 << self.split), self.e_hi - self.e_lo)
        return np.append(np.ldexp(1.0 + j / (1 << self.split), e.astype(int)), 2.0 ** self.e_hi)

    def locate(self, v: Array) -> tuple[Array, Array]:
        """(piece, u) of each v in [2**e_lo, 2**e_hi) by the same arithmetic as the bits (frexp here)."""
        m, e = np.frexp(np.asarray(v, dtype=float))  # v = m 2**e, m in [1/2, 1)
        scaled = (2.0 * m - 1.0) * (1 << self.split)
        j = np.floor(scaled)
        return ((e - 1 - self.e_lo) << self.split) + j.astype(int), scaled - j

    def __call__(self, v: Array) -> Array:
        """Values (k, v.size) at v in the grid, Horner in u (float64)."""
        piece, u = self.locate(v)
        return horner(self.coefs[:, piece, :], u)


def horner(coefs: Array, u: Array) -> Array:
    """sum_j coefs[..., j] u**j by Horner (coefs (..., n, degree + 1), u (n,))."""
    acc = coefs[..., -1].copy()
    for j in range(coefs.shape[-1] - 2, -1, -1):
        acc = acc * u + coefs[..., j]
    return acc


def _to_powers(n: int) -> Array:
    """Matrix P with a = P @ c: Chebyshev coefficients c on u in [0, 1] to the coefficients a of powers of u."""
    out = np.zeros((n, n))
    for k in range(n):
        series = np.polynomial.Chebyshev.basis(k, domain=[0.0, 1.0]).convert(kind=np.polynomial.Polynomial)
        out[: series.coef.size, k] = series.coef
    return out


def fit_binary(fun: Callable[[Array], Array], e_lo: int, e_hi: int, split: int, degree: int,
               floors: tuple[float | None, ...], stop: float | None = None) -> BinaryPieces:
    """Interpolate the k = len(floors) functions of ``fun`` (v -> array (k, v.size)) on the pieces of the binary
    grid (see :class:`BinaryPieces`) at degree + 1 Chebyshev points each, measuring the error on the angular
    midpoints.  With ``stop``, only v < stop is fitted: the piece holding ``stop`` on [left, stop] (its powers of u
    still in the piece's u), pieces beyond it NaN."""
    n = degree + 1
    grid = BinaryPieces(e_lo, e_hi, split, np.zeros((len(floors), ((e_hi - e_lo) << split), n)), np.zeros(0))
    edges = grid.edges()
    left, width = edges[:-1], np.diff(edges)
    umax = np.ones(left.size)
    if stop is not None:
        umax = np.clip((stop - left) / width, 0.0, 1.0)
    live = umax > 0
    s_nodes, s_check = 0.5 * (_first_kind_points(n) + 1.0), 0.5 * (_check_points(n) + 1.0)  # in [0, 1]
    u_nodes, u_check = umax[live, None] * s_nodes, umax[live, None] * s_check
    v_nodes = left[live, None] + width[live, None] * u_nodes
    v_check = left[live, None] + width[live, None] * u_check
    y = np.asarray(fun(np.concatenate([v_nodes.ravel(), v_check.ravel()])), dtype=float)
    y_nodes = y[:, : v_nodes.size].reshape(y.shape[0], -1, n)
    exact = y[:, v_nodes.size:].reshape(y.shape[0], -1, n - 1)
    cheb = np.einsum("ij,kpj->kpi", _values_to_coefficients(n), y_nodes)  # Chebyshev in s = u/umax on [0, 1]
    powers = np.einsum("ij,kpj->kpi", _to_powers(n), cheb)
    powers = powers / umax[live, None] ** np.arange(n)  # powers of s = u/umax -> powers of u
    coefs = np.full((len(floors), left.size, n), np.nan)
    coefs[:, live] = powers
    approx = _horner_rows(powers, u_check)
    error = np.zeros(len(floors))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        deviation = np.abs(approx - exact)
        for row, floor in enumerate(floors):
            err = deviation[row] if floor is None else deviation[row] / (floor + np.abs(exact[row]))
            err = np.where(approx[row] == exact[row], 0.0, np.where(np.isnan(err), np.inf, err))
            error[row] = float(err.max(initial=0.0))
    return BinaryPieces(e_lo, e_hi, split, coefs, error)


def _horner_rows(coefs: Array, u: Array) -> Array:
    """coefs (k, p, n) at u (p, m): (k, p, m)."""
    acc = np.repeat(coefs[:, :, -1:], u.shape[1], axis=2)
    for j in range(coefs.shape[2] - 2, -1, -1):
        acc = acc * u[None] + coefs[:, :, j:j + 1]
    return acc
