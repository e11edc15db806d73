"""Chebyshev tables in torch for penalties without a closed form (variational dropout, HardConcrete, user rules).

A table covers |w| in [w_lo, w_hi] in x = log|w|: equal cells of width H, cell k cut into counts[k] equal pieces
(a power of two, more only where needed, e.g. next to HardConcrete's cap), so the piece of x is found by
arithmetic, k = floor((x - x_lo)/H), i = first[k] + floor(frac * counts[k]), never by a search; on each piece a
Chebyshev series evaluated by Clenshaw in torch ops:

* y(x) = log(eta_hat(w)/w), fitted to the engine's float64 eta_hat (``d.evaluate``); eta_hat = w exp(y) and
  Omega'(w) = w/eta_hat(w) = exp(-y): the backward of Omega comes from this eta_hat table;
* Omega(w) - Omega(0) = Omega(w_lo) + int_{x_lo}^x w**2/eta_hat dx (Gauss-Legendre sums of the engine's
  eta_hat, no cancellation: the integrand is >= 0), started from the series at 0+.

Beyond the table the series of the record take over (``d.series``: Omega and eta_hat at 0+ and at infinity,
checked against the engine's Omega' = w/eta_hat where they start); a capped penalty (``limits['w_critical']``,
HardConcrete) is constant with zero gradient and eta_hat = inf from the cap on; where no series is usable
beyond w_hi the table gives NaN there (no certified value).  The position inside a piece is computed as
2s = 4 log(|w| exp(-x_i))/h_i - 2 with exp(-x_i) tabulated, and y as y_i + (y - y_i) with exp(+-y_i)
tabulated, so float32 keeps its relative accuracy at any |x|.

:func:`fit_table` fits (cached in memory) and measures the max relative error of the very torch code
against mpmath; :func:`table_source` renders that code (only ``torch`` and ``math``, names ``_tab_*``) for a
generated module; :class:`TableModule` and :func:`table_functions` run the same text for direct use.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

import mpmath
import numpy as np
import sympy as sp
import torch

from ..errors import InputError
from ..numeric.chebyshev import EXPONENT_BIAS, MANTISSA_BITS, BinaryPieces, fit_binary
from ..rules import w as W

if TYPE_CHECKING:
    from ..record import Derivation

__all__ = ["Term", "Tail", "Grid", "ChebTable", "TableSource", "fit_table", "table_source", "table_functions",
           "TableModule", "series_terms"]

DEGREE = 8
TOL = 5e-14
"""float64 fit tolerance against the engine: relative error of Omega' = w/eta_hat and of eta_hat/w."""
ACCEPT = 1e-12
"""Where no grid of the ladder reaches TOL (the engine's float64 values carry noise of their own), the best grid
is kept if its measured error is at most this (the export's float64 target), else the table is refused."""
TOL32 = 1e-7
"""float32 fit tolerance against the float64 table: relative error of Omega, Omega' and eta_hat/w."""
_LADDER64 = ((4, 8), (4, 10), (5, 10), (6, 12), (7, 14))
"""(log2 pieces per binade, degree) tried in turn for float64."""
_LADDER32 = ((5, 3), (6, 3), (6, 4), (7, 4))
"""(log2 pieces per binade, degree) tried in turn for float32: cubics on 32 pieces per binade first."""
VALIDATE_DPS = 30
_LADDER_LO = tuple(10.0 ** -k for k in range(2, 31))
_LADDER_HI = tuple(10.0 ** k for k in range(1, 17))
_NO_TAIL_HI = (1e8, 1e6, 1e4, 1e3, 1e2)
_CACHE: dict[tuple, ChebTable] = {}


# ------------------------------------------------------------------ series as terms
@dataclass(frozen=True)
class Term:
    """coef * w**power * log(w)**logs * exp(-rate*w)."""

    coef: float
    power: float
    logs: int = 0
    rate: float = 0.0

    def derivative(self) -> tuple[Term, ...]:
        """d/dw: (power w**-1 + logs/(w log w) - rate) times the term."""
        out = []
        if self.power:
            out.append(Term(self.coef * self.power, self.power - 1, self.logs, self.rate))
        if self.logs:
            out.append(Term(self.coef * self.logs, self.power - 1, self.logs - 1, self.rate))
        if self.rate:
            out.append(Term(-self.coef * self.rate, self.power, self.logs, self.rate))
        return tuple(out)

    def over_w(self) -> Term:
        return Term(self.coef, self.power - 1, self.logs, self.rate)

    def numpy(self, w: np.ndarray) -> np.ndarray:
        lw = np.log(w)
        core = np.exp(self.power * lw - self.rate * w) if self.rate else w ** self.power
        return self.coef * core * lw ** self.logs

    def text(self, var: str, log_var: str) -> str:
        if self.rate:
            core = f"torch.exp({self.power!r} * {log_var} - {self.rate!r} * {var})"
        else:
            core = "1.0" if self.power == 0 else var if self.power == 1 else f"{var} ** {self.power!r}"
        logs = "" if not self.logs else f" * {log_var}" if self.logs == 1 else f" * {log_var} ** {self.logs}"
        return f"{self.coef!r} * {core}{logs}"


def series_terms(expr: sp.Expr | None) -> tuple[Term, ...] | None:
    """The w-dependent terms of a series c * w**a * log(w)**k * exp(-b*w) (numbers c, a, b; integer k >= 0);
    terms free of w are dropped (Omega is normalised or anchored); None if a term has another shape."""
    if expr is None:
        return None
    expr = sp.expand(expr.removeO() if hasattr(expr, "removeO") else expr)
    out = []
    for term in sp.Add.make_args(expr):
        coef, dep = term.as_independent(W, as_Add=False)
        if dep == 1:
            continue
        if not coef.is_number or dep.free_symbols != {W}:
            return None
        parsed = _monomial(dep)
        if parsed is None:
            return None
        value = complex(sp.N(coef, 20))
        if value.imag or not math.isfinite(value.real):
            return None
        out.append(Term(value.real, *parsed))
    return tuple(out)


def _monomial(dep: sp.Expr) -> tuple[float, int, float] | None:
    power, logs, rate = 0.0, 0, 0.0
    for factor in sp.Mul.make_args(dep):
        base, exp = factor.as_base_exp()
        if base == W and exp.is_number and exp.is_real:
            power += float(exp)
        elif base == sp.log(W) and exp.is_Integer and exp > 0:
            logs += int(exp)
        elif base == sp.E:
            slope = sp.expand(exp / W)
            if not (slope.is_number and slope.is_real):
                return None
            rate -= float(slope)
        else:
            return None
    return power, logs, rate


def _sum(terms: tuple[Term, ...], w: np.ndarray) -> np.ndarray:
    return sum((t.numpy(w) for t in terms), np.zeros_like(w))


def _derivative(terms: tuple[Term, ...]) -> tuple[Term, ...]:
    return tuple(d for t in terms for d in t.derivative())


@dataclass(frozen=True)
class Tail:
    """What a table does beyond one end.

    kind: 'series' (``omega`` terms give Omega, plus a constant; eta_hat from ``eta``: eta_hat/w = sum if
    ``eta_form`` is 'ratio', Omega' = sum if 'slope'), 'cap' (Omega constant, Omega' = 0, eta_hat = inf),
    'linear' (0+ only, uncertified: eta_hat/w frozen at its value at w_lo) or 'none' (NaN).
    """

    kind: str
    omega: tuple[Term, ...] = ()
    eta: tuple[Term, ...] = ()
    eta_form: str = "ratio"
    text: str = ""


def _tails(d: Derivation, end: str) -> list[Tail]:
    """Candidate series tails at '0' or 'oo' from d.series, best first."""
    omega = series_terms(d.series.get(f"omega@{end}"))
    eta = series_terms(d.series.get(f"eta_hat@{end}"))
    if omega is None or (end == "0" and any(t.power <= 0 for t in omega)):
        return []
    text = f"Omega ~ {d.series.get(f'omega@{end}')}"
    out = []
    if eta:
        out.append(Tail("series", omega, tuple(t.over_w() for t in eta), "ratio",
                        text + f", eta_hat ~ {d.series.get(f'eta_hat@{end}')}"))
    if _derivative(omega):
        out.append(Tail("series", omega, _derivative(omega), "slope", text + " (eta_hat = w/Omega')"))
    return out


def _close(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    with np.errstate(invalid="ignore", over="ignore"):
        ok = (a == b) | (np.abs(a - b) <= tol * np.abs(b))
    return bool(np.all(ok))


def _tail_holds(tail: Tail, eta_of: Callable, points: np.ndarray, tol: float) -> bool:
    """The tail's Omega' (derivative of its Omega series) and eta_hat match the engine's at the points."""
    eta = eta_of(points)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        slope = points / eta
        if not np.all(np.isfinite(eta) | np.isinf(eta)) or np.any(np.isnan(slope)):
            return False
        ok = _close(_sum(_derivative(tail.omega), points), slope, tol)
        mine = _sum(tail.eta, points)
        return ok and _close(mine, eta / points if tail.eta_form == "ratio" else slope, tol)


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Grid:
    """One dtype's table: ``coefs`` (3, pieces, K) rows Omega(a) - Omega(0), Omega'(a), eta_hat(a)/a as power
    series in the local u of each piece (see :class:`symdual.numeric.chebyshev.BinaryPieces`): ``main`` pieces
    first (binades e_lo <= e < e_hi of a, from piece ``offset`` of the bits' index on), then, for a capped penalty,
    ``near`` pieces in delta = cap - a (binades of delta below ``delta_max``), then one piece for a >= cap."""

    dtype: str
    split: int
    e_lo: int
    e_hi: int
    coefs: np.ndarray = field(repr=False)
    cap: float | None = None
    delta_max: float = 0.0
    near_e_lo: int = 0
    near_e_hi: int = 0
    error: float = 0.0

    @property
    def bits(self) -> int:
        return MANTISSA_BITS[self.dtype]

    @property
    def shift(self) -> int:
        return self.bits - self.split

    @property
    def main_pieces(self) -> int:
        return (self.e_hi - self.e_lo) << self.split

    @property
    def offset(self) -> int:
        """Bits index (bits >> shift) of the first main piece."""
        return (self.e_lo + EXPONENT_BIAS[self.dtype]) << self.split

    @property
    def near_offset(self) -> int:
        return (self.near_e_lo + EXPONENT_BIAS[self.dtype]) << self.split

    @property
    def near_pieces(self) -> int:
        return (self.near_e_hi - self.near_e_lo) << self.split

    @property
    def degree(self) -> int:
        return self.coefs.shape[2] - 1


@dataclass(frozen=True)
class ChebTable:
    """Omega, Omega' and eta_hat of one derivation as piecewise polynomials on binary grids (module docstring).

    ``f64``: the table on [w_lo, w_hi) (powers of two; up to the cap for a capped penalty), the series beyond;
    ``f32``: every float32 (no tails: the series and the cap are tabulated too).  ``errors``: measured max
    relative error of the torch code vs mpmath, keys 'omega/float64', 'omega/float32', 'eta_hat/float64',
    'eta_hat/float32'.
    """

    title: str
    piece: str
    w_lo: float
    w_hi: float
    f64: Grid = field(repr=False)
    f32: Grid = field(repr=False)
    omega_lo: float
    omega_hi: float
    low: Tail
    high: Tail
    fit_error: float
    fit_seconds: float
    errors: Mapping[str, float] = field(default_factory=dict)
    validation: str = ""

    @property
    def panels(self) -> int:
        return self.f64.coefs.shape[1]

    @property
    def degree(self) -> int:
        """Degree of the float64 Omega' and eta_hat/a pieces (Omega: one more)."""
        return self.f64.degree - 1

    def same_fit(self, other: ChebTable) -> bool:
        return self.title == other.title and np.array_equal(self.f64.coefs, other.f64.coefs, equal_nan=True)


def _key(d: Derivation, degree: int, tol: float, n_validate: int) -> tuple:
    rule = d.rule
    params = tuple(sorted((str(k), str(v)) for k, v in d.params.items()))
    return (d.name, rule.kind, str(rule.expr), str(d.lam), params, degree, tol, n_validate)


def fit_table(d: Derivation, piece: str = "omega", *, degree: int = DEGREE, tol: float = TOL,
              n_validate: int = 16) -> ChebTable:
    """The table of Omega and eta_hat of ``d`` (one fit serves both pieces; cached in memory by rule).

    Omega' and eta_hat/w fitted to ``d.evaluate('eta_hat')`` to relative ``tol`` in float64 (pieces of degree
    ``degree`` or more), Omega their exact antiderivative; the float32 table fitted to that to ``TOL32``;
    validated (``errors``) by running the generated torch code in float64 and float32 against ``d.evaluate_mp``
    at ``n_validate`` points over both tails and the table.
    """
    if piece not in ("omega", "eta_hat"):
        raise InputError(f"a table is fitted for 'omega' or 'eta_hat', not {piece!r}")
    if not getattr(d, "separable", True):
        raise InputError(f"{getattr(d, 'name', d)} is non-separable: no table of a scalar penalty")
    if not d.can_evaluate("eta_hat"):
        raise InputError(f"no table for {d.title()}: eta_hat cannot be evaluated")
    if degree < 3:
        raise InputError(f"table degree must be at least 3, got {degree}")
    key = _key(d, degree, tol, n_validate)
    if key not in _CACHE:
        start = time.perf_counter()
        table = _fit(d, degree, tol)
        table = dataclasses.replace(table, fit_seconds=time.perf_counter() - start)
        _CACHE[key] = _validate(d, table, n_validate)
    return dataclasses.replace(_CACHE[key], piece=piece)


def _engine_eta(d: Derivation) -> Callable[[np.ndarray], np.ndarray]:
    return lambda w: np.asarray(d.evaluate("eta_hat", np.asarray(w, dtype=float)), dtype=float)


def _binade(x: float, up: bool) -> int:
    """The exponent of the power of two at or below (``up``: at or above) x > 0."""
    m, e = math.frexp(x)  # x = m 2**e, m in [1/2, 1)
    return e if up and m != 0.5 else e - 1


def _fit(d: Derivation, degree: int, tol: float) -> ChebTable:
    eta_of = _engine_eta(d)
    low, w_lo = _choose_low(d, eta_of, tol)
    cap = d.limits.get("w_critical")
    if cap is not None:
        highs = [(Tail("cap", text=f"capped at w_critical = {float(cap):.17g}"), float(cap))]
    else:
        highs = _choose_high(d, eta_of, tol)

    def slope_ratio(w: np.ndarray) -> np.ndarray:
        eta = eta_of(w)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return np.stack([w / eta, eta / w])

    e_lo = _binade(w_lo, up=False)
    omega_lo = float(_sum(low.omega, np.array([2.0 ** e_lo]))[0]) if low.kind == "series" \
        else float(d.evaluate("omega", 2.0 ** e_lo))
    last = "no fit"
    for high, w_hi in highs:
        cap_value = w_hi if high.kind == "cap" else None
        e_hi = _binade(w_hi, up=high.kind != "none")
        best = None
        for split, deg in _LADDER64:
            deg = max(deg, degree)
            grid = _grid64(slope_ratio, e_lo, e_hi, split, deg, omega_lo, cap_value)
            best = grid if best is None or grid.error < best.error else best
            if grid.error <= tol:
                break
        else:
            if best is None or not best.error <= ACCEPT:
                last = f"error {grid.error:.1e} > {ACCEPT:g} at {1 << split} pieces per binade of degree {deg}"
                continue
            grid = best  # the engine's own float64 noise floors the fit: the measured error goes into the doc
        low_end, high_end = 2.0 ** e_lo, (cap_value if cap_value is not None else 2.0 ** e_hi)
        omega_hi = _cap_value(grid) if cap_value is not None else float(grid.coefs[0, -1].sum())  # u = 1
        table = ChebTable(title=d.title(), piece="omega", w_lo=low_end, w_hi=high_end, f64=grid, f32=grid,
                          omega_lo=omega_lo, omega_hi=omega_hi, low=low, high=high, fit_error=grid.error,
                          fit_seconds=0.0)
        return dataclasses.replace(table, f32=_grid32(table))
    raise InputError(f"no Chebyshev table for {d.title()}: {last}")


def _choose_low(d: Derivation, eta_of: Callable, tol: float) -> tuple[Tail, float]:
    """The largest w_lo of 1e-2, 1e-3, ..., 1e-30 below which a series tail matches the engine; else 'linear'."""
    tails = _tails(d, "0")
    for w_lo in _LADDER_LO:
        for tail in tails:
            if _tail_holds(tail, eta_of, w_lo * np.array([1.0, 0.1, 0.01]), tol):
                return tail, w_lo
    return Tail("linear", text="uncertified: eta_hat/w frozen at its value at w_lo (no usable series at 0+)"), 1e-30


def _choose_high(d: Derivation, eta_of: Callable, tol: float) -> list[tuple[Tail, float]]:
    """The smallest w_hi of 10, 100, ..., 1e16 beyond which a series tail matches the engine; else NaN tails."""
    tails = _tails(d, "oo")
    for w_hi in _LADDER_HI:
        for tail in tails:
            if _tail_holds(tail, eta_of, w_hi * np.array([1.0, 10.0, 100.0]), tol):
                return [(tail, w_hi)]
    none = Tail("none", text="no certified tail: NaN")
    return [(none, w_hi) for w_hi in _NO_TAIL_HI]


def _antiderivative(slope: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per piece, the powers of u of width * int_0^u slope (constant term 0) and its value at u = 1."""
    k = np.arange(1, slope.shape[1] + 1)
    rise = np.concatenate([np.zeros((slope.shape[0], 1)), width[:, None] * slope / k], axis=1)
    return rise, rise.sum(axis=1)


def _running(start: float, steps: np.ndarray) -> np.ndarray:
    """start + cumulative sums of steps, compensated (Neumaier): start, start + s0, ..."""
    out = np.empty(steps.size + 1)
    total, carry = start, 0.0
    out[0] = start
    for n, s in enumerate(steps.tolist()):
        t = total + s
        carry += (total - t) + s if abs(total) >= abs(s) else (s - t) + total
        total = t
        out[n + 1] = total + carry
    return out


def _grid64(slope_ratio: Callable, e_lo: int, e_hi: int, split: int, degree: int, omega_lo: float,
            cap: float | None) -> Grid:
    """The float64 grid: Omega' and eta_hat/a fitted, Omega their antiderivative from omega_lo at 2**e_lo."""
    near_hi = _binade(cap, up=False) - 2 if cap is not None else 0
    delta_max = 2.0 ** near_hi if cap is not None else 0.0
    main = fit_binary(slope_ratio, e_lo, e_hi, split, degree, (0.0, 0.0),
                      stop=None if cap is None else cap - delta_max)
    width = np.diff(main.edges())
    rise, total = _antiderivative(main.coefs[0], width)
    live = ~np.isnan(total)
    if cap is not None:  # the piece holding the stop ends there
        stop = cap - delta_max
        last = int(np.flatnonzero(live)[-1])
        total[last] = float(np.polyval(rise[last][::-1], (stop - main.edges()[last]) / width[last]))
    starts = _running(omega_lo, np.where(live, total, 0.0))
    omega = rise.copy()
    omega[:, 0] = starts[:-1]
    coefs = [np.stack([omega, _pad(main.coefs[0]), _pad(main.coefs[1])])]
    error = float(main.error.max())
    near_lo = near_hi
    if cap is not None:
        near_lo = _binade(cap, up=False) - MANTISSA_BITS["float64"] - 1
        near = fit_binary(lambda delta: slope_ratio(cap - delta), near_lo, near_hi, split, degree, (0.0, 0.0))
        width_d = np.diff(near.edges())
        rise_d, total_d = _antiderivative(near.coefs[0], width_d)
        # Omega(cap - delta) = Omega(cap - right end) + (total - rise(u)): from delta_max down to 0
        ends = _running(float(starts[-1]), total_d[::-1])[::-1]  # Omega at the left end (in delta) of each piece
        omega_d = -rise_d
        omega_d[:, 0] = ends[:-1]
        coefs.append(np.stack([omega_d, _pad(near.coefs[0]), _pad(near.coefs[1])]))
        coefs.append(_cap_piece(float(ends[0]), degree + 2))
        error = max(error, float(near.error.max()))
    return Grid("float64", split, e_lo, e_hi, np.concatenate(coefs, axis=1), cap, delta_max, near_lo, near_hi, error)


def _pad(coefs: np.ndarray) -> np.ndarray:
    """One more power (coefficient 0), the width of Omega's rows."""
    return np.concatenate([coefs, np.zeros((coefs.shape[0], 1))], axis=1)


def _cap_piece(omega_hi: float, n: int) -> np.ndarray:
    """Omega = omega_hi, Omega' = 0, eta_hat/a = inf: the piece every a >= cap is sent to."""
    out = np.zeros((3, 1, n))
    out[0, 0, 0], out[2, 0, 0] = omega_hi, math.inf
    return out


def _cap_value(grid: Grid) -> float:
    return float(grid.coefs[0, -1, 0])


def _eval64(grid: Grid, a: np.ndarray) -> np.ndarray:
    """The float64 grid at a in [2**e_lo, 2**e_hi) (below the cap): (3, a.size), by the torch code's arithmetic."""
    a = np.asarray(a, dtype=float)
    pieces = BinaryPieces(grid.e_lo, grid.e_hi, grid.split, grid.coefs[:, : grid.main_pieces], np.zeros(3))
    if grid.cap is None:
        return pieces(a)
    out = pieces(np.minimum(a, grid.cap - grid.delta_max))
    near = (grid.cap - a < grid.delta_max) & (a < grid.cap)
    if near.any():
        end = grid.main_pieces + grid.near_pieces
        delta = BinaryPieces(grid.near_e_lo, grid.near_e_hi, grid.split, grid.coefs[:, grid.main_pieces:end],
                             np.zeros(3))
        out[:, near] = delta(np.maximum(grid.cap - a[near], 2.0 ** grid.near_e_lo))
    out[:, a >= grid.cap] = grid.coefs[:, -1, :1]
    return out


def _reference(table: ChebTable, a: np.ndarray) -> np.ndarray:
    """(Omega - Omega(0), Omega', eta_hat/a) at a > 0 in float64: the series below w_lo, the float64 table, the
    series (or the cap, or NaN) beyond: what the float32 table is fitted to."""
    a = np.asarray(a, dtype=float)
    out = np.full((3, a.size), np.nan)
    below, inside = a < table.w_lo, (a >= table.w_lo) & (a < table.w_hi)
    beyond = a >= table.w_hi
    with np.errstate(all="ignore"):
        if below.any():
            out[:, below] = _tail_values(table, table.low, a[below], 0.0)
        if inside.any():
            out[:, inside] = _eval64(table.f64, a[inside])
        if beyond.any() and table.high.kind == "cap":
            out[:, beyond] = table.f64.coefs[:, -1, :1]
        elif beyond.any() and table.high.kind == "series":
            constant = table.omega_hi - float(_sum(table.high.omega, np.array([table.w_hi]))[0])
            out[:, beyond] = _tail_values(table, table.high, a[beyond], constant)
    return out


def _tail_values(table: ChebTable, tail: Tail, a: np.ndarray, constant: float) -> np.ndarray:
    if tail.kind == "linear":
        slope = table.omega_lo / table.w_lo
        return np.stack([slope * a, np.full_like(a, slope), np.full_like(a, 1.0 / slope)])
    s = _sum(tail.eta, a)
    slope = s if tail.eta_form == "slope" else 1.0 / s
    return np.stack([constant + _sum(tail.omega, a), slope, 1.0 / slope])


def _grid32(table: ChebTable) -> Grid:
    """The float32 grid over every float32 (bits index from 0): subnormals (block 0) linear in Omega', normal
    binades fitted to :func:`_reference`, inf/NaN (block 255) NaN; near the cap a delta grid as in float64."""
    cap = None if table.f64.cap is None else float(np.float32(table.f64.cap))
    if cap is not None and cap > table.f64.cap:
        cap = float(np.nextafter(np.float32(cap), np.float32(0)))  # the float32 cap at or below the true one
    f32_max = float(np.finfo(np.float32).max)

    def fun(a: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.clip(_reference(table, a), -f32_max, f32_max)  # inf (eta_hat/a at the cap) stays finite

    for split, deg in _LADDER32:
        near_hi = _binade(cap, up=False) - 2 if cap is not None else 0
        delta_max = 2.0 ** near_hi if cap is not None else 0.0
        main = fit_binary(fun, -126, 128, split, deg, (0.0, 0.0, 0.0), stop=None if cap is None else cap - delta_max)
        error = float(main.error.max())
        s = 1 << split
        tiny = fun(np.array([2.0 ** -126]))[:, 0]
        sub = np.zeros((3, s, deg + 1))
        v1 = 2.0 ** -126 / s
        sub[0, 0, 2], sub[1, 0, 1] = tiny[1] * v1 / 2, tiny[1]  # Omega = s0 v**2/(2 v1), Omega' = s0 v/v1
        sub[0, 1:, 0], sub[0, 1:, 1] = tiny[1] * v1 * (np.arange(1, s) - 0.5), tiny[1] * v1
        sub[1, 1:, 0] = tiny[1]
        sub[2, :, 0] = tiny[2]
        parts = [sub, main.coefs, np.full((3, s, deg + 1), np.nan)]
        near_lo = near_hi
        if cap is not None:
            near_lo = _binade(cap, up=False) - MANTISSA_BITS["float32"] - 1
            near = fit_binary(lambda delta: fun(cap - delta), near_lo, near_hi, split, deg, (0.0, 0.0, 0.0))
            error = max(error, float(near.error.max()))
            parts += [near.coefs, _cap_piece(table.omega_hi, deg + 1)]
        if error <= TOL32:
            break
    coefs = np.concatenate(parts, axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        over = np.any(np.isinf(coefs.astype(np.float32)) & ~np.isinf(coefs), axis=2)  # overflows in float32
    if over.any():  # the true values overflow there too: constant +-inf
        sign = np.sign(coefs[:, :, 0])[over]
        coefs[over] = 0.0
        coefs[over, 0] = np.where(sign < 0, -math.inf, math.inf)
    return Grid("float32", split, -127, 129, coefs, cap, delta_max, near_lo, near_hi, error)


# ------------------------------------------------------------------ validation
def _mp_values(d: Derivation, piece: str, points: np.ndarray) -> np.ndarray:
    out = np.full(points.size, np.nan)
    for k, x in enumerate(points):
        try:
            out[k] = float(d.evaluate_mp(piece, float(x), dps=VALIDATE_DPS))
        except (ArithmeticError, ValueError, mpmath.libmp.NoConvergence):
            pass  # the reference fails there: the point is skipped and counted
    return out


def _relative(values: np.ndarray, ref: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(ref == 0, np.abs(values), np.abs(values - ref) / np.abs(ref))
    return np.where(values == ref, 0.0, err)


def _validate(d: Derivation, table: ChebTable, n: int) -> ChebTable:
    hi_end = {"cap": table.w_hi * (1 - 1e-6), "none": table.w_hi}.get(table.high.kind, table.w_hi * 100)
    points = np.geomspace(table.w_lo / 100, hi_end, n).astype(np.float32).astype(float)  # exact in both dtypes
    if table.high.kind == "cap":
        beyond = (table.w_hi * np.array([1.5, 10.0])).astype(np.float32).astype(float)
        points = np.concatenate([points[points < table.w_hi], beyond])
    start = time.perf_counter()
    omega_fn, eta_fn = table_functions(table)
    errors = {}
    skipped = 0
    for piece, fn in (("omega", omega_fn), ("eta_hat", eta_fn)):
        ref = _mp_values(d, piece, points)
        keep = ~np.isnan(ref)
        skipped += int(np.sum(~keep))
        for dtype in (torch.float64, torch.float32):
            with torch.no_grad():
                values = fn(torch.tensor(points[keep], dtype=dtype)).double().numpy()
            big = torch.finfo(dtype).max
            exact = np.where(np.abs(ref[keep]) > big, np.sign(ref[keep]) * np.inf, ref[keep])  # overflows rightly
            errors[f"{piece}/{str(dtype)[6:]}"] = float(np.max(_relative(values, exact), initial=0.0))
    text = (f"mpmath ({VALIDATE_DPS} digits) at {points.size} points log-spaced on [{points[0]:.3g}, {points[-1]:.3g}]"
            + (f" ({skipped} reference values failed, skipped)" if skipped else "")
            + f"; {time.perf_counter() - start:.1f} s")
    return dataclasses.replace(table, errors=errors, validation=text)


# ------------------------------------------------------------------ torch source
@dataclass(frozen=True)
class TableSource:
    """Code to paste into a generated module: top-level definitions (``torch``, ``math``; names ``_tab_*``),
    buffers (name -> Python expression building the tensor), the call expressions in ``w`` and
    ``self.<buffer>`` giving Omega(|w|) - Omega(0) and eta_hat(|w|) in w's dtype, and the measured error."""

    code: str
    buffers: dict[str, str]
    omega_call: str
    eta_hat_call: str
    doc: str


_COMMON = '''
def _tab_horner(c, i, u):
    """sum_j c[j][i] u**j by Horner (c: (degree + 1, pieces), one gather per power; index_select batches under
    vmap)."""
    acc = torch.index_select(c[-1], 0, i)
    for j in range(c.shape[0] - 2, -1, -1):
        acc = torch.addcmul(torch.index_select(c[j], 0, i), acc, u)
    return acc


def _tab_compute(w, b64, b32):
    """w and a table buffer in the compute dtype: float64 stays, anything else is computed in float32."""
    if w.dtype == torch.float64:
        return w, b64.to(torch.float64)
    return w.to(torch.float32), b32.to(torch.float32)
'''

_LOCATE = '''
def _tab_{t}locate{bits}(a):
    """Piece i and local u in [0, 1) of a = |w| >= 0 ({dtype}) from its bits, exact integer arithmetic: binade
    and top {split} mantissa bits give i, the other mantissa bits u{more}."""
    b = a.view(torch.{itype})
    i = {index}
    u = (b & {mask}).to(torch.{dtype}) * {scale!r}{near}
    return i, u
'''

_NEAR = '''
    d = {cap!r} - a  # exact (Sterbenz) where it is used, below delta_max = {delta_max!r}
    bd = torch.clamp(d, min=0.0).view(torch.{itype})
    near = d < {delta_max!r}
    i = torch.where(near, torch.clamp((bd >> {shift}) - {near_offset}, 0, {near_last}) + {near_base}, i)
    u = torch.where(near, (bd & {mask}).to(torch.{dtype}) * {scale!r}, u)
    i = torch.where(a >= {cap!r}, {cap_piece}, i)'''

_PER_TABLE = '''
def _tab_{t}omega_slope(a, c, s):
    """(Omega(a) - Omega(0), Omega'(a)) at a = |w| (1-D): the tables; {ends_doc}"""
    if a.dtype != torch.float64:
        i, u = _tab_{t}locate32(a)
        return _tab_horner(c, i, u), _tab_horner(s, i, u)
    i, u = _tab_{t}locate64(a)
    w0 = torch.clamp(a, {tiny64!r}, {w_lo!r})
    lw0 = torch.log(w0)
    w1 = torch.clamp(a, min={w_hi!r})
    lw1 = torch.log(w1)
    omega = torch.where(a < {w_lo!r}, {omega_low}, {omega_mid})
    slope = torch.where(a < {w_lo!r}, {slope_low}, {slope_mid})
    return torch.where(a == 0, 0.0, omega), slope


def _tab_{t}omega_only(a, c):
    """Omega(a) - Omega(0) at a = |w| (1-D), without Omega' (no gradient wanted)."""
    if a.dtype != torch.float64:
        i, u = _tab_{t}locate32(a)
        return _tab_horner(c, i, u)
    i, u = _tab_{t}locate64(a)
    w0 = torch.clamp(a, {tiny64!r}, {w_lo!r})
    lw0 = torch.log(w0)
    w1 = torch.clamp(a, min={w_hi!r})
    lw1 = torch.log(w1)
    return torch.where(a == 0, 0.0, torch.where(a < {w_lo!r}, {omega_low}, {omega_mid}))


def _tab_{t}eta_abs(a, r):
    """eta_hat(a) = a (eta_hat/a)(a) at a = |w| (1-D) from the table of eta_hat/a; the series beyond it."""
    if a.dtype != torch.float64:
        i, u = _tab_{t}locate32(a)
        return a * _tab_horner(r, i, u)
    i, u = _tab_{t}locate64(a)
    w0 = torch.clamp(a, {tiny64!r}, {w_lo!r})
    lw0 = torch.log(w0)
    w1 = torch.clamp(a, min={w_hi!r})
    lw1 = torch.log(w1)
    return torch.where(a < {w_lo!r}, {eta_low}, {eta_mid})
'''

_FUNCTION = '''
class _tab_Omega(torch.autograd.Function):
    """Omega(|w|) - Omega(0) from the table, w 1-D; the forward also evaluates Omega'(|w|) sign(w) (same pieces)
    and saves it: backward is one product.

    Written in torch ops with setup_context and generate_vmap_rule: torch.compile traces it without a graph
    break, and torch.func.grad / vmap apply.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(w, c_omega, c_slope):
        value, slope = _tab_{o}omega_slope(torch.abs(w), c_omega, c_slope)
        return value, (torch.copysign(slope, w) if w.dtype != torch.float64 else torch.sign(w) * slope)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(output[1])

    @staticmethod
    def backward(ctx, grad, _):
        (slope,) = ctx.saved_tensors
        return grad * slope, None, None


def _tab_omega(w, c64, c32, s64, s32):
    """Omega(|w|) - Omega(0) elementwise in w's dtype (float32 arithmetic for float16/bfloat16)."""
    x, c = _tab_compute(w, c64, c32)
    _, s = _tab_compute(w, s64, s32)
    flat = x.reshape(-1)
    if torch.is_grad_enabled() and flat.requires_grad:
        out = _tab_Omega.apply(flat, c, s)[0]
    else:
        out = _tab_{o}omega_only(torch.abs(flat), c)
    out = out.reshape(x.shape)
    return out.to(w.dtype) if w.is_floating_point() else out


def _tab_eta_hat(w, r64, r32):
    """eta_hat(|w|) elementwise in w's dtype (float32 arithmetic for float16/bfloat16)."""
    x, r = _tab_compute(w, r64, r32)
    out = _tab_{e}eta_abs(torch.abs(x.reshape(-1)), r).reshape(x.shape)
    return out.to(w.dtype) if w.is_floating_point() else out
'''


def _expr(terms: tuple[Term, ...], var: str) -> str:
    log_var = "l" + var
    return "(" + " + ".join(t.text(var, log_var) for t in terms) + ")" if terms else "0.0"


def _ends(t: ChebTable) -> dict[str, str]:
    """The float64 torch expressions of Omega, Omega' and eta_hat: below w_lo (in w0) the low tail, else the
    table (``mid``, with the series beyond w_hi in w1)."""
    low, high = t.low, t.high
    if low.kind == "series":
        s = _expr(low.eta, "w0")
        ends = {"omega_low": _expr(low.omega, "w0"),
                "slope_low": s if low.eta_form == "slope" else f"1.0 / {s}",
                "eta_low": f"w0 / {s}" if low.eta_form == "slope" else f"a * {s}",
                "low_doc": "the series " + low.text + f" below {t.w_lo!r}"}
    else:  # linear: eta_hat/w frozen at w_lo
        slope = t.omega_lo / t.w_lo
        ends = {"omega_low": f"{slope!r} * w0", "slope_low": f"{slope!r} * torch.ones_like(w0)",
                "eta_low": f"{1.0 / slope!r} * a", "low_doc": f"below {t.w_lo!r} {low.text}"}
    mid = {"omega_mid": "_tab_horner(c, i, u)", "slope_mid": "_tab_horner(s, i, u)",
           "eta_mid": "a * _tab_horner(r, i, u)"}
    if high.kind == "series":
        constant = t.omega_hi - float(_sum(high.omega, np.array([t.w_hi]))[0])
        s = _expr(high.eta, "w1")
        beyond = {"omega_mid": f"({constant!r} + {_expr(high.omega, 'w1')})",
                  "slope_mid": s if high.eta_form == "slope" else f"1.0 / {s}",
                  "eta_mid": f"w1 / {s}" if high.eta_form == "slope" else f"w1 * {s}"}
        high_doc = f"from {t.w_hi!r} on the series " + high.text
    elif high.kind == "cap":
        beyond = {}
        high_doc = f"from the cap {t.w_hi!r} on: constant {t.omega_hi!r}, Omega' = 0, eta_hat = inf"
    else:
        beyond = {"omega_mid": "math.nan", "slope_mid": "math.nan", "eta_mid": "math.nan"}
        high_doc = f"from {t.w_hi!r} on NaN (no certified tail)"
    for key, expr in beyond.items():
        mid[key] = f"torch.where(a < {t.w_hi!r}, {mid[key]}, {expr})"
    ends.update(mid, ends_doc=f"float64: {ends['low_doc']}, {high_doc}; float32: every float tabulated.")
    return ends


def _float32_text(x: float) -> str:
    """The shortest text that gives the float32 value x back through float64 and torch's float32 rounding."""
    with np.errstate(over="ignore"):
        v = np.float32(x)
    if not np.isfinite(v):
        return "math.nan" if np.isnan(v) else "math.inf" if v > 0 else "-math.inf"
    text = str(v)
    if np.float32(float(text)) != v:
        text = repr(float(v))
    return text


def _float64_text(x: float) -> str:
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(float(x))


def _literal(a: np.ndarray, dtype: str) -> str:
    """A tensor literal with exact round trip (float32 values are the float64 ones rounded once)."""
    text = _float32_text if dtype == "float32" else _float64_text

    def row(v: np.ndarray) -> str:
        return "[" + ", ".join(text(float(x)) for x in v) + "]"

    body = row(a) if a.ndim == 1 else "[" + ", ".join(row(r) for r in a) + "]"
    return f"torch.tensor({body}, dtype=torch.{dtype})"


def _locate_code(g: Grid, tag: str) -> str:
    bits = 32 if g.dtype == "float32" else 64
    itype = "int32" if bits == 32 else "int64"
    mask, scale = (1 << g.shift) - 1, 2.0 ** -g.shift
    if bits == 32:
        index = f"b >> {g.shift}"
    else:
        index = f"torch.clamp((b >> {g.shift}) - {g.offset}, 0, {g.main_pieces - 1})"
    more = ""
    near = ""
    if g.cap is not None:
        more = (f"; within {g.delta_max!r} below the cap {g.cap!r} the same on delta = cap - a (pieces "
                f"{g.main_pieces} on), from the cap on piece {g.coefs.shape[1] - 1} (Omega constant, Omega' 0, "
                "eta_hat inf)")
        near = _NEAR.format(cap=g.cap, delta_max=g.delta_max, itype=itype, shift=g.shift,
                            near_offset=g.near_offset, near_last=g.near_pieces - 1, near_base=g.main_pieces,
                            mask=mask, dtype=g.dtype, scale=scale, cap_piece=g.coefs.shape[1] - 1)
    return _LOCATE.format(t=tag, bits=bits, dtype=g.dtype, split=g.split, more=more, itype=itype, index=index,
                          mask=mask, scale=scale, near=near)


def _table_code(t: ChebTable, tag: str) -> str:
    return (_locate_code(t.f32, tag) + _locate_code(t.f64, tag)
            + _PER_TABLE.format(t=tag, w_lo=t.w_lo, w_hi=t.w_hi, tiny64=float(np.finfo(np.float64).tiny),
                                **_ends(t)))


def _describe(t: ChebTable) -> str:
    err = t.errors
    measured = ", ".join(f"{k} {v:.1e}" for k, v in err.items()) if err else "not measured"
    jump = ""
    if t.high.kind == "cap":
        below = _eval64(t.f64, np.array([np.nextafter(t.w_hi, 0.0)]))[1, 0]
        jump = f" Omega' jumps from {below:.6g} to 0 at the cap."
    g64, g32 = t.f64, t.f32
    cap = (f" (the last {1 << (g64.near_e_hi - g64.near_e_lo)}x finer: pieces in delta = cap - |w| over "
           f"{g64.near_e_hi - g64.near_e_lo} binades of delta below {g64.delta_max:.4g})") if g64.cap else ""
    return (f"{t.title}: piecewise polynomials on binary grids (the piece from the bits of |w|: binade and top "
            f"mantissa bits, no search, no log). float64: |w| in [{t.w_lo:.3g}, {t.w_hi:.6g}), "
            f"{1 << g64.split} pieces per binade{cap}, Omega' and eta_hat/|w| of degree {g64.degree - 1} fitted at "
            f"Chebyshev points to the engine's eta_hat (max error {t.fit_error:.1e} on the check grid), Omega "
            f"their antiderivative (degree {g64.degree}); below: {t.low.text or t.low.kind}; beyond: "
            f"{t.high.text or t.high.kind}. float32 (also float16/bfloat16): every float32 tabulated, "
            f"{1 << g32.split} pieces per binade of degree {g32.degree} fitted to the float64 table and the "
            f"series (max error {g32.error:.1e}), subnormals with Omega' linear from 0, inf/NaN -> NaN.{jump} "
            f"The forward evaluates Omega and Omega'(w) = w/eta_hat(w) on the same pieces; backward is one "
            f"product. Max relative error vs {t.validation}: {measured}. Fit {t.fit_seconds:.2f} s.")


def table_source(table_omega: ChebTable, table_eta: ChebTable | None = None) -> TableSource:
    """The torch code of a table: Omega (and Omega') from ``table_omega``, eta_hat from ``table_eta``
    (default: the eta_hat/w table fitted with ``table_omega``, the same pieces)."""
    same = table_eta is None or table_eta.same_fit(table_omega)
    eta_table = table_omega if same else table_eta
    o, e = ("", "") if same else ("o_", "e_")
    code = _COMMON + _table_code(table_omega, o) + ("" if same else _table_code(eta_table, e))
    code += _FUNCTION.format(o=o, e=e)
    buffers: dict[str, str] = {}
    for grid_o, grid_e, bits in ((table_omega.f64, eta_table.f64, "64"), (table_omega.f32, eta_table.f32, "32")):
        buffers[f"_tab_omega{bits}"] = _literal(grid_o.coefs[0].T, grid_o.dtype)
        buffers[f"_tab_slope{bits}"] = _literal(grid_o.coefs[1].T, grid_o.dtype)
        buffers[f"_tab_ratio{bits}"] = _literal(grid_e.coefs[2].T, grid_e.dtype)
    omega_call = ("_tab_omega(w, self._tab_omega64, self._tab_omega32, self._tab_slope64, self._tab_slope32)")
    eta_call = "_tab_eta_hat(w, self._tab_ratio64, self._tab_ratio32)"
    doc = _describe(table_omega) + ("" if same else " eta_hat: " + _describe(eta_table))
    return TableSource(code=code.lstrip("\n"), buffers=buffers, omega_call=omega_call, eta_hat_call=eta_call,
                       doc=doc)


# ------------------------------------------------------------------ direct use
def _namespace(source: TableSource) -> dict:
    """The globals of a module running ``source.code``: a real module in ``sys.modules`` (one per text), so
    torch.compile can resolve the names it traces."""
    name = "symdual_table_" + hashlib.sha256(source.code.encode()).hexdigest()[:16]
    if name not in sys.modules:
        module = types.ModuleType(name, "Chebyshev table code generated by symdual.export.tables")
        module.__dict__.update(torch=torch, math=math)
        exec(compile(source.code, f"<{name}>", "exec"), module.__dict__)  # our own generated text, no user input
        sys.modules[name] = module
    return sys.modules[name].__dict__


def _tensors(source: TableSource, namespace: dict) -> dict[str, torch.Tensor]:
    return {name: eval(expr, namespace) for name, expr in source.buffers.items()}  # literals we generated


def _as_table(obj: Derivation | ChebTable) -> ChebTable:
    return obj if isinstance(obj, ChebTable) else fit_table(obj)


def table_functions(obj: Derivation | ChebTable) -> tuple[Callable[[torch.Tensor], torch.Tensor],
                                                            Callable[[torch.Tensor], torch.Tensor]]:
    """(omega, eta_hat): tensor -> tensor, Omega(|w|) - Omega(0) (differentiable) and eta_hat(|w|), by running
    exactly the code of :func:`table_source`."""
    source = table_source(_as_table(obj))
    namespace = _namespace(source)
    holder = SimpleNamespace(**_tensors(source, namespace))
    omega = eval("lambda self, w: " + source.omega_call, namespace)
    eta = eval("lambda self, w: " + source.eta_hat_call, namespace)
    return (lambda w: omega(holder, w)), (lambda w: eta(holder, w))


class TableModule(torch.nn.Module):
    """``forward(w)`` = Omega(|w|) - Omega(0) elementwise, ``eta_hat(w)``, with the tables as buffers
    (float64 and float32), by running exactly the code of :func:`table_source` (``self.doc`` its error)."""

    def __init__(self, obj: Derivation | ChebTable) -> None:
        super().__init__()
        source = table_source(_as_table(obj))
        namespace = _namespace(source)
        for name, tensor in _tensors(source, namespace).items():
            self.register_buffer(name, tensor)
        self._omega = eval("lambda self, w: " + source.omega_call, namespace)
        self._eta = eval("lambda self, w: " + source.eta_hat_call, namespace)
        self.doc = source.doc

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self._omega(self, w)

    def eta_hat(self, w: torch.Tensor) -> torch.Tensor:
        return self._eta(self, w)
