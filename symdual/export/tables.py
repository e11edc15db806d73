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
from ..numeric.chebyshev import fit_cells, fit_integral
from ..rules import w as W

if TYPE_CHECKING:
    from ..record import Derivation

__all__ = ["Term", "Tail", "ChebTable", "TableSource", "fit_table", "table_source", "table_functions",
           "TableModule", "series_terms"]

DEGREE = 12
TOL = 5e-14
"""Fit tolerance against the engine: |y - y_table| (absolute) and relative error of w**2/eta_hat."""
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
class ChebTable:
    """Omega and eta_hat of one derivation on pieces of x = log|w| (see the module docstring).

    ``omega`` (degree + 2, panels) and ``log_ratio`` (degree + 1, panels): Chebyshev coefficients per piece,
    rows by degree; ``counts``: pieces per cell (cells of width ``cell`` from ``x_lo``); ``edges``: the piece
    edges in x; ``errors``: measured max relative error of the torch code vs mpmath, keys 'omega/float64',
    'omega/float32', 'eta_hat/float64', 'eta_hat/float32'.
    """

    title: str
    piece: str
    w_lo: float
    w_hi: float
    x_lo: float
    cell: float
    counts: np.ndarray = field(repr=False)
    edges: np.ndarray = field(repr=False)
    omega: np.ndarray = field(repr=False)
    log_ratio: np.ndarray = field(repr=False)
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
        return self.log_ratio.shape[1]

    @property
    def degree(self) -> int:
        return self.log_ratio.shape[0] - 1

    @property
    def grid(self) -> np.ndarray:
        """[first piece of each cell, pieces of each cell, exp(-x_i) at the left edge of each piece, 4/h_i]."""
        first = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        ref = self.log_ratio_ref
        return np.concatenate([first, self.counts, np.exp(-self.edges[:-1]), 4.0 / np.diff(self.edges),
                               np.exp(ref), np.exp(-ref)]).astype(float)

    @property
    def log_ratio_ref(self) -> np.ndarray:
        """y_i: the float32-rounded mean of y on each piece, subtracted from its table (see ``ratio_table``)."""
        return self.log_ratio[0].astype(np.float32).astype(float)

    @property
    def ratio_table(self) -> np.ndarray:
        """The coefficients of y - y_i per piece (rows by degree)."""
        out = self.log_ratio.copy()
        out[0] -= self.log_ratio_ref
        return out


def _key(d: Derivation, degree: int, tol: float, n_validate: int) -> tuple:
    rule = d.rule
    params = tuple(sorted((str(k), str(v)) for k, v in d.params.items()))
    return (d.name, rule.kind, str(rule.expr), str(d.lam), params, degree, tol, n_validate)


def fit_table(d: Derivation, piece: str = "omega", *, degree: int = DEGREE, tol: float = TOL,
              n_validate: int = 16) -> ChebTable:
    """The table of Omega and eta_hat of ``d`` (one fit serves both pieces; cached in memory by rule).

    Fitted to ``d.evaluate('eta_hat')`` to ``tol``; validated (``errors``) by running the generated torch code
    in float64 and float32 against ``d.evaluate_mp`` at ``n_validate`` points over both tails and the table.
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


def _fit(d: Derivation, degree: int, tol: float) -> ChebTable:
    eta_of = _engine_eta(d)
    low, w_lo = _choose_low(d, eta_of, tol)
    cap = d.limits.get("w_critical")
    if cap is not None:
        highs = [(Tail("cap", text=f"capped at w_critical = {float(cap):.17g}"), float(cap))]
    else:
        highs = _choose_high(d, eta_of, tol)

    def log_ratio(x: np.ndarray) -> np.ndarray:
        w = np.exp(x)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return np.log(eta_of(w) / w)[None, :]

    def slope_dx(x: np.ndarray) -> np.ndarray:  # dOmega/dx = w Omega'(w) = w**2/eta_hat
        w = np.exp(x)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.nan_to_num(w / (eta_of(w) / w), nan=0.0)

    last: Exception | None = None
    for high, w_hi in highs:
        x_lo, x_hi = math.log(w_lo), math.log(w_hi)
        try:
            fit = fit_cells(log_ratio, x_lo, x_hi, (1.0,), degree=degree, tol=tol)  # |dy| <= tol (1 + |y|)
        except ValueError as exc:
            last = exc
            continue
        omega_lo = float(_sum(low.omega, np.array([w_lo]))[0]) if low.kind == "series" \
            else float(d.evaluate("omega", w_lo))
        big, at_edges, omega_error = fit_integral(slope_dx, fit.edges, degree + 2, omega_lo)
        return ChebTable(title=d.title(), piece="omega", w_lo=w_lo, w_hi=w_hi, x_lo=x_lo,
                         cell=(x_hi - x_lo) / fit.counts.size, counts=fit.counts, edges=fit.edges,
                         omega=np.ascontiguousarray(big.T), log_ratio=np.ascontiguousarray(fit.coefs[:, :, 0].T),
                         omega_lo=omega_lo, omega_hi=float(at_edges[-1]), low=low, high=high,
                         fit_error=max(fit.error, omega_error), fit_seconds=0.0)
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
def _tab_take(t, i):
    """t[i] for a 1-D t and an index tensor i of any shape (index_select: batched under vmap)."""
    return torch.index_select(t, 0, i.reshape(-1)).reshape(i.shape)


def _tab_clenshaw(c, i, s2):
    """sum_j c[j, i] T_j(s) by Clenshaw: b_j = c_j + 2s b_{j+1} - b_{j+2}, value c_0 + s b_1 - b_2 (s2 = 2s)."""
    b2 = _tab_take(c[-1], i)
    b1 = _tab_take(c[-2], i) + s2 * b2
    for j in range(c.shape[0] - 3, 0, -1):
        b1, b2 = _tab_take(c[j], i) + s2 * b1 - b2, b1
    return _tab_take(c[0], i) + 0.5 * s2 * b1 - b2


def _tab_compute(w, b64, b32):
    """w and a table buffer in the compute dtype: float64 stays, anything else is computed in float32."""
    if w.dtype == torch.float64:
        return w, b64.to(torch.float64)
    return w.to(torch.float32), b32.to(torch.float32)
'''

_PER_TABLE = '''
def _tab_{t}locate(a, grid):
    """Piece i of a in [w_lo, w_hi] by arithmetic: cell k = floor(t), t = (log a - x_lo)/H, then
    i = first[k] + floor((t - k) count[k]); and 2s = 4 log(a exp(-x_i))/h_i - 2 (accurate in float32).
    grid = [first piece, pieces of each cell; exp(-x_i), 4/h_i, exp(y_i), exp(-y_i) of each piece]."""
    t = torch.nan_to_num(torch.clamp((torch.log(a) - {x_lo!r}) * {inv_cell!r}, 0.0, {n_cells!r}))
    k = torch.clamp(torch.floor(t), max={last_cell!r})
    kl = k.long()
    count = _tab_take(grid, kl + {n_cells_int})
    i = (_tab_take(grid, kl) + torch.minimum(torch.floor((t - k) * count), count - 1.0)).long()
    return i, _tab_take(grid, i + {off_h}) * torch.log(a * _tab_take(grid, i + {off_e})) - 2.0


def _tab_{t}omega_abs(a, c, grid):
    """Omega(a) - Omega(0), a = |w|: {low_doc}; the table on [{w_lo!r}, {w_hi!r}]; {high_doc}."""
    i, s2 = _tab_{t}locate(torch.clamp(a, {w_lo!r}, {w_hi!r}), grid)
    mid = _tab_clenshaw(c, i, s2)
    w0 = torch.clamp(a, torch.finfo(a.dtype).tiny, {w_lo!r})
    lw0 = torch.log(w0)
    w1 = torch.clamp(a, min={w_hi!r})
    lw1 = torch.log(w1)
    out = torch.where(a < {w_lo!r}, {omega_low}, torch.where(a {hi_cmp} {w_hi!r}, mid, {omega_high}))
    return torch.where(a == 0, 0.0, out)


def _tab_{t}omega_prime_abs(a, c, grid):
    """Omega'(a) = a/eta_hat(a) = exp(-(y - y_i)) exp(-y_i), y = log(eta_hat/a) from the table; series beyond."""
    i, s2 = _tab_{t}locate(torch.clamp(a, {w_lo!r}, {w_hi!r}), grid)
    mid = torch.exp(-_tab_clenshaw(c, i, s2)) * _tab_take(grid, i + {off_ninv})
    w0 = torch.clamp(a, torch.finfo(a.dtype).tiny, {w_lo!r})
    lw0 = torch.log(w0)
    w1 = torch.clamp(a, min={w_hi!r})
    lw1 = torch.log(w1)
    return torch.where(a < {w_lo!r}, {slope_low}, torch.where(a {hi_cmp} {w_hi!r}, mid, {slope_high}))


def _tab_{t}eta_abs(a, c, grid):
    """eta_hat(a) = a exp(y - y_i) exp(y_i), y = log(eta_hat/a) from the table (y - y_i tabulated, y_i a
    reference per piece: float32 keeps its relative accuracy); the series beyond it."""
    a_mid = torch.clamp(a, {w_lo!r}, {w_hi!r})
    i, s2 = _tab_{t}locate(a_mid, grid)
    mid = a_mid * torch.exp(_tab_clenshaw(c, i, s2)) * _tab_take(grid, i + {off_ref})
    w0 = torch.clamp(a, torch.finfo(a.dtype).tiny, {w_lo!r})
    lw0 = torch.log(w0)
    w1 = torch.clamp(a, min={w_hi!r})
    lw1 = torch.log(w1)
    return torch.where(a < {w_lo!r}, {eta_low}, torch.where(a {hi_cmp} {w_hi!r}, mid, {eta_high}))
'''

_FUNCTION = '''
class _tab_Omega(torch.autograd.Function):
    """Omega(|w|) - Omega(0) from the table; backward Omega'(w) = sign(w) |w|/eta_hat(|w|) from the eta_hat table.

    Written in torch ops with setup_context and generate_vmap_rule: torch.compile traces it without a graph
    break, and torch.func.grad / vmap apply.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(w, c_omega, c_ratio, {grids}):
        return _tab_{o}omega_abs(torch.abs(w), c_omega, {grid_o})

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], inputs[2], inputs[-1])

    @staticmethod
    def backward(ctx, grad):
        w, c_ratio, grid = ctx.saved_tensors
        slope = _tab_{e}omega_prime_abs(torch.abs(w), c_ratio, grid)
        return grad * torch.sign(w) * slope, None, None, {nones}


def _tab_omega(w, c64, c32, r64, r32, {grid_args}):
    """Omega(|w|) - Omega(0) elementwise in w's dtype (float32 arithmetic for float16/bfloat16)."""
    x, c = _tab_compute(w, c64, c32)
    _, r = _tab_compute(w, r64, r32)
    {grid_compute}
    out = _tab_Omega.apply(x, c, r, {grid_vars})
    return out.to(w.dtype) if w.is_floating_point() else out


def _tab_eta_hat(w, r64, r32, u64, u32):
    """eta_hat(|w|) elementwise in w's dtype (float32 arithmetic for float16/bfloat16)."""
    x, r = _tab_compute(w, r64, r32)
    _, u = _tab_compute(w, u64, u32)
    out = _tab_{e}eta_abs(torch.abs(x), r, u)
    return out.to(w.dtype) if w.is_floating_point() else out
'''


def _expr(terms: tuple[Term, ...], var: str) -> str:
    log_var = "l" + var
    return "(" + " + ".join(t.text(var, log_var) for t in terms) + ")" if terms else "0.0"


def _ends(t: ChebTable) -> dict[str, str]:
    """The torch expressions of Omega, Omega' and eta_hat below w_lo (in w0) and beyond w_hi (in w1)."""
    low, high = t.low, t.high
    if low.kind == "series":
        s = _expr(low.eta, "w0")
        ends = {"omega_low": _expr(low.omega, "w0"),
                "slope_low": s if low.eta_form == "slope" else f"1.0 / {s}",
                "eta_low": f"w0 / {s}" if low.eta_form == "slope" else f"a * {s}",
                "low_doc": "the series " + low.text + f" below {t.w_lo!r}"}
    else:  # linear: eta_hat/w frozen at w_lo
        ratio = math.exp(float(np.sum(t.log_ratio[:, 0] * (-1.0) ** np.arange(t.degree + 1))))
        ends = {"omega_low": f"{t.omega_lo / t.w_lo!r} * w0", "slope_low": f"{1.0 / ratio!r} * torch.ones_like(w0)",
                "eta_low": f"{ratio!r} * w0", "low_doc": f"below {t.w_lo!r} {low.text}"}
    if high.kind == "series":
        constant = t.omega_hi - float(_sum(high.omega, np.array([t.w_hi]))[0])
        s = _expr(high.eta, "w1")
        ends.update(omega_high=f"({constant!r} + {_expr(high.omega, 'w1')})",
                    slope_high=s if high.eta_form == "slope" else f"1.0 / {s}",
                    eta_high=f"w1 / {s}" if high.eta_form == "slope" else f"w1 * {s}",
                    high_doc=f"beyond {t.w_hi!r} the series " + high.text, hi_cmp="<=")
    elif high.kind == "cap":
        ends.update(omega_high=f"{t.omega_hi!r}", slope_high="0.0", eta_high="math.inf", hi_cmp="<",
                    high_doc=f"from the cap {t.w_hi!r} on: constant {t.omega_hi!r}, Omega' = 0, eta_hat = inf")
    else:
        ends.update(omega_high="math.nan", slope_high="math.nan", eta_high="math.nan", hi_cmp="<=",
                    high_doc=f"beyond {t.w_hi!r} NaN (no certified tail)")
    return ends


def _literal(a: np.ndarray, dtype: str) -> str:
    """A tensor literal with exact round trip (float32 values are the float64 ones rounded once)."""
    if dtype == "float32":
        a = a.astype(np.float32).astype(np.float64)

    def row(v: np.ndarray) -> str:
        return "[" + ", ".join(repr(float(x)) for x in v) + "]"

    body = row(a) if a.ndim == 1 else "[" + ", ".join(row(r) for r in a) + "]"
    return f"torch.tensor({body}, dtype=torch.{dtype})"


def _table_code(t: ChebTable, tag: str) -> str:
    cells = t.counts.size
    return _PER_TABLE.format(t=tag, x_lo=t.x_lo, inv_cell=1.0 / t.cell, n_cells=float(cells), n_cells_int=cells,
                             last_cell=float(cells - 1), off_e=2 * cells, off_h=2 * cells + t.panels,
                             off_ref=2 * cells + 2 * t.panels, off_ninv=2 * cells + 3 * t.panels,
                             w_lo=t.w_lo, w_hi=t.w_hi, **_ends(t))


def _describe(t: ChebTable) -> str:
    err = t.errors
    measured = ", ".join(f"{k} {v:.1e}" for k, v in err.items()) if err else "not measured"
    jump = ""
    if t.high.kind == "cap":
        slope = math.exp(-float(np.sum(t.log_ratio[:, -1])))
        jump = f" Omega' jumps from {slope:.6g} to 0 at the cap."
    return (f"{t.title}: Chebyshev table in x = log|w|, {t.counts.size} equal cells (width {t.cell:.4g}) split "
            f"into {t.panels} equal pieces ({int(t.counts.min())} to {int(t.counts.max())} per cell) of degree "
            f"{t.degree} (Omega: {t.degree + 1}) on |w| in [{t.w_lo:.3g}, {t.w_hi:.6g}], fitted to the engine's "
            f"eta_hat (max error {t.fit_error:.1e} on the check grid), Omega = integral of w/eta_hat; "
            f"below: {t.low.text or t.low.kind}; beyond: {t.high.text or t.high.kind}.{jump} "
            f"Backward Omega'(w) = w/eta_hat(w) from the eta_hat table. Max relative error vs {t.validation}: "
            f"{measured}. Fit {t.fit_seconds:.2f} s.")


def table_source(table_omega: ChebTable, table_eta: ChebTable | None = None) -> TableSource:
    """The torch code of a table: Omega from ``table_omega``, eta_hat and Omega's backward from ``table_eta``
    (default: the eta_hat table fitted with ``table_omega``, the same pieces)."""
    same = table_eta is None or (table_eta.title == table_omega.title and table_eta.panels == table_omega.panels
                                 and np.array_equal(table_eta.log_ratio, table_omega.log_ratio))
    eta_table = table_omega if same else table_eta
    o, e = ("", "") if same else ("o_", "e_")
    code = _COMMON + _table_code(table_omega, o) + ("" if same else _table_code(eta_table, e))
    if same:
        parts = dict(grids="grid", grid_o="grid", nones="None", grid_args="g64, g32",
                     grid_compute="_, g = _tab_compute(w, g64, g32)", grid_vars="g")
    else:
        parts = dict(grids="grid_omega, grid_ratio", grid_o="grid_omega", nones="None, None",
                     grid_args="g64, g32, u64, u32", grid_vars="g, u",
                     grid_compute="_, g = _tab_compute(w, g64, g32)\n    _, u = _tab_compute(w, u64, u32)")
    code += _FUNCTION.format(o=o, e=e, **parts)
    buffers: dict[str, str] = {}
    for dtype, bits in (("float64", "64"), ("float32", "32")):
        buffers[f"_tab_{o}omega{bits}"] = _literal(table_omega.omega, dtype)
        buffers[f"_tab_{o}grid{bits}"] = _literal(table_omega.grid, dtype)
        buffers[f"_tab_{e}ratio{bits}"] = _literal(eta_table.ratio_table, dtype)
        if not same:
            buffers[f"_tab_{e}grid{bits}"] = _literal(eta_table.grid, dtype)
    if same:
        omega_call = ("_tab_omega(w, self._tab_omega64, self._tab_omega32, self._tab_ratio64, self._tab_ratio32, "
                      "self._tab_grid64, self._tab_grid32)")
        eta_call = "_tab_eta_hat(w, self._tab_ratio64, self._tab_ratio32, self._tab_grid64, self._tab_grid32)"
    else:
        omega_call = ("_tab_omega(w, self._tab_o_omega64, self._tab_o_omega32, self._tab_e_ratio64, "
                      "self._tab_e_ratio32, self._tab_o_grid64, self._tab_o_grid32, self._tab_e_grid64, "
                      "self._tab_e_grid32)")
        eta_call = ("_tab_eta_hat(w, self._tab_e_ratio64, self._tab_e_ratio32, self._tab_e_grid64, "
                    "self._tab_e_grid32)")
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
