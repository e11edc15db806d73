"""The eta-trick identity, checked against an independent high-precision minimisation.

    Omega(w)   = 1/2 inf_{eta>0} F_w(eta),   F_w(eta) = w**2/eta + f(eta)
    eta_hat(w) = argmin_eta F_w(eta)

For each w of a grid the reference minimises F_w with mpmath alone, from f:
a dense log-spaced scan of eta (f evaluated once per record), the breakpoints
of f, and the limit eta -> oo (where F_w -> f(oo)); then Brent minimisation
in log eta around the lowest scan minimum. The record's Omega is compared up to
its constant, through Omega(w) - Omega(w0) with w0 the smallest grid point, and
its eta_hat directly. Where F_w is flat to the working precision (the infimum
approached as eta -> oo, as for MCP past its cap) the argmin is only
bracketed, and eta_hat must lie in the bracket. A record without a dual f is
checked against the numeric conjugate of its Omega (Omega = Omega**).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from ..bounded import bounded
from ..piecewise import branches, tail
from ..rules import eta, w
from .check import Check, NotChecked

MpFn = Callable[[mpmath.mpf], mpmath.mpf]

TOL_EXACT = 1e-10
"""Tolerance (relative) when Omega, eta_hat and f are closed forms."""
TOL_NUMERIC = 1e-8
"""Tolerance (relative) when a piece is computed numerically."""
SCAN = (-40, 40, 400)
"""The eta scan: 400 log-spaced points in [1e-40, 1e40]."""
GUARD = 10
"""Extra working digits of the reference."""
MAX_DPS = 400
"""The most digits a refinement may use."""
RETRY_DPS = 8
"""A piece whose evaluation divides by zero is retried at up to this many times the working digits."""

STATEMENT = "Omega(w) = 1/2 inf_eta [w**2/eta + f(eta)] (up to a constant), attained at eta = eta_hat(w)"


# ---------------------------------------------------------------- the record's pieces


def is_exact(d, piece: str) -> bool:
    """True when the record's piece is a closed form (not a numeric fallback)."""
    prov = d.provenance.get(piece)
    return prov is None or prov.method != "numeric"


def record_fn(d, piece: str, dps: int, mp_numeric: bool = True) -> tuple[MpFn, str]:
    """An mpmath evaluator of a record's piece and its precision.

    Closed forms, f, and (if ``mp_numeric``) numeric pieces with an mpmath
    path run at the working precision (``dps`` digits or more); other
    numeric pieces run in float64.
    """
    shift = 2 * _omega_offset(d) if piece == "f_dual" else 0
    if is_exact(d, piece) or piece == "f_dual" or mp_numeric:
        try:
            d.evaluate_mp(piece, 1, dps)
            return (lambda x: _evaluate_mp(d, piece, x) - shift), f"mpmath, {dps} digits"
        except (ValueError, TypeError):
            pass
    return (lambda x: mpmath.mpf(float(d.evaluate(piece, np.array([float(x)]))[0])) - shift), "float64"


def _omega_offset(d) -> mpmath.mpf:
    """The constant subtracted from Omega so that Omega(0) = 0 (f is then read as f - 2 * it)."""
    offset = d.limits.get("omega_offset")
    return mpmath.mpf(0) if offset is None else mpmath.mpf(sp.N(offset, mpmath.mp.dps + 5))


def _evaluate_mp(d, piece: str, x: mpmath.mpf) -> mpmath.mpf:
    """d's piece at x in mpmath.

    A division by zero (an expression that cancels, e.g. 1 - tanh(w) at large w) is retried at doubled
    digits until two successive values agree to the working precision, up to RETRY_DPS times it; failing
    that, ZeroDivisionError says where, in words.
    """
    try:
        return d.evaluate_mp(piece, x, mpmath.mp.dps)
    except ZeroDivisionError:
        pass
    target, dps, prev = mpmath.mp.dps, 2 * mpmath.mp.dps, None
    while dps <= RETRY_DPS * target:
        try:
            with mpmath.workdps(dps):
                value = d.evaluate_mp(piece, x, dps)
        except ZeroDivisionError:
            value = None
        if value is not None and prev is not None and abs(value - prev) <= abs(value) * mpmath.mpf(10) ** -target:
            return +value  # rounded to the working precision
        prev, dps = value, 2 * dps
    raise ZeroDivisionError(f"{piece} of the rule divides by zero at w = {mpmath.nstr(x, 6)} (its expression cancels "
                            f"there, and {dps // 2} digits do not resolve it)")


def breakpoints(expr: sp.Expr | None, x: sp.Symbol) -> list[float]:
    """Finite, positive edges of the pieces of a piecewise expression."""
    if expr is None:
        return []
    edges = {float(e) for _, where in branches(expr, x) for e in (where.inf, where.sup)}
    return sorted(e for e in edges if 0 < e < float("inf"))


def record_breakpoints(d) -> list[float]:
    """Where eta_hat changes piece or jumps: its pieces' edges and the record's critical |w| (capped duals)."""
    critical = d.limits.get("w_critical")
    return sorted(set(breakpoints(d.eta_hat, w) + ([float(critical)] if critical is not None else [])))


def default_grid(d, n: int = 16) -> list[float]:
    """n log-spaced w in [1e-3, 1e3], plus w = b(1 -+ 1e-2) around each breakpoint b of eta_hat."""
    extra = [b * (1 + t) for b in record_breakpoints(d) for t in (-1e-2, 1e-2)]
    return sorted(set(np.geomspace(1e-3, 1e3, n).tolist() + extra))


# ---------------------------------------------------------------- f and the reference minimum


@dataclass(frozen=True)
class Dual:
    """f(eta) as the reference uses it: values, breakpoints, limit at oo, and its digits (None: any)."""

    f: MpFn
    breakpoints: tuple[float, ...] = ()
    at_inf: mpmath.mpf | None = None
    exact: bool = True
    digits: int | None = None

    @classmethod
    def of(cls, d, dps: int) -> Dual:
        """The dual of a record: closed form, or numeric (float64 when it has no mpmath path)."""
        f, precision = record_fn(d, "f_dual", dps)
        if d.f_dual is None:
            return cls(f, (), None, exact=False, digits=15 if precision == "float64" else None)
        tail_piece = tail(d.f_dual, eta)
        out = bounded(sp.limit, tail_piece, eta, sp.oo, timeout=5)
        limit = out.value if out.ok else None
        at_inf = None
        if limit is not None and (limit.is_finite or limit == sp.oo):
            with mpmath.workdps(dps):
                at_inf = mpmath.inf if limit == sp.oo else mpmath.mpf(sp.N(limit, dps)) - 2 * _omega_offset(d)
        return cls(f, tuple(breakpoints(d.f_dual, eta)), at_inf, exact=True)


def conjugate(omega: MpFn, dps: int, digits: int | None = None,
              scan: tuple[int, int, int] = (-40, 40, 200)) -> Dual:
    """f(eta) = sup_v [2 Omega(v) - v**2/eta], the concave conjugate in v**2, from Omega alone.

    For a record with no dual f: a scan of v (Omega evaluated once), v = 0,
    and Brent refinement around the best scan point; the eta-trick check
    then tests the biconjugate identity Omega = Omega** and eta_hat.
    ``digits`` is Omega's precision (None: the working precision).
    """
    lo, hi, n = scan
    with mpmath.workdps(dps):
        vs = [mpmath.mpf(0)] + [mpmath.mpf(10) ** (lo + mpmath.mpf(hi - lo) * k / (n - 1)) for k in range(n)]
        twice = [2 * omega(v) for v in vs]
    bad = next((v for v, t in zip(vs, twice, strict=False) if not mpmath.isfinite(t)), None)
    if bad is not None:
        raise NotChecked(f"Omega({mpmath.nstr(bad, 6)}) evaluates to {mpmath.nstr(omega(bad), 6)}, so the numeric "
                         "conjugate f(eta) = sup_v [2 Omega(v) - v**2/eta] cannot be formed")

    def f(x: mpmath.mpf) -> mpmath.mpf:
        vals = [t - v**2 / x for v, t in zip(vs, twice, strict=False)]
        k = max(range(len(vals)), key=vals.__getitem__)
        if k == 0 or k == len(vals) - 1:
            return vals[k]
        G = lambda v: -(2 * omega(v) - v**2 / x)  # noqa: E731
        a = mpmath.log(vs[k - 1]) if k > 1 else mpmath.log(vs[1]) - 1
        u = _brent(G, a, mpmath.log(vs[k + 1]), mpmath.mpf(10) ** (-((digits or mpmath.mp.dps) // 2)))
        return max(vals[k], -G(mpmath.exp(u)))

    return Dual(f, digits=digits)


@dataclass(frozen=True)
class Minimum:
    """inf_eta F_w = value; the argmin is ``eta`` when resolved, else somewhere in [lo, hi] (hi may be oo).

    A minimum is unresolved where F_w is flat to the working precision
    (e.g. a capped penalty beyond its cap: the infimum is approached as eta -> oo).
    """

    value: mpmath.mpf
    lo: mpmath.mpf
    hi: mpmath.mpf
    eta: mpmath.mpf | None = None


def _brent(F: Callable[[mpmath.mpf], mpmath.mpf], a: mpmath.mpf, b: mpmath.mpf, tol: mpmath.mpf) -> mpmath.mpf:
    """Brent's minimiser (parabolic steps, golden-section fallback) of F(exp(u)) for u in [a, b]; the argmin u."""
    golden = (3 - mpmath.sqrt(5)) / 2
    x = v = y = a + golden * (b - a)
    fx = fv = fy = F(mpmath.exp(x))
    d = e = mpmath.mpf(0)
    for _ in range(500):
        m = (a + b) / 2
        if abs(x - m) <= 2 * tol - (b - a) / 2:
            break
        parabolic = False
        if abs(e) > tol:
            r, q = (x - y) * (fx - fv), (x - v) * (fx - fy)
            p, q = (x - v) * q - (x - y) * r, 2 * (q - r)
            p, q = (-p, q) if q > 0 else (p, -q)
            if abs(p) < abs(q * e / 2) and q * (a - x) < p < q * (b - x):
                e, d, parabolic = d, p / q, True
                if x + d - a < 2 * tol or b - x - d < 2 * tol:
                    d = tol if m > x else -tol
        if not parabolic:
            e = (a - x) if x >= m else (b - x)
            d = golden * e
        u = x + (d if abs(d) >= tol else (tol if d > 0 else -tol))
        fu = F(mpmath.exp(u))
        if fu <= fx:
            a, b = (x, b) if u >= x else (a, x)
            v, fv, y, fy, x, fx = y, fy, x, fx, u, fu
        else:
            a, b = (u, b) if u < x else (a, u)
            if fu <= fy or y == x:
                v, fv, y, fy = y, fy, u, fu
            elif fu <= fv or v == x or v == y:
                v, fv = u, fu
    return x


class Reference:
    """inf_eta [w**2/eta + f(eta)] by scan plus refinement, at ``dps`` + GUARD digits.

    The scan (f evaluated once) holds log-spaced eta and f's breakpoints; the
    limit eta -> oo is a candidate too. Scan values within 10**-dps (relative)
    of the lowest are indistinguishable: if they are at most three adjacent
    points inside the scan, Brent minimisation (with as many extra digits
    as F_w's flatness there costs) resolves the argmin to about 10**-(dps/2);
    otherwise the argmin is only bracketed.
    """

    def __init__(self, dual: Dual, dps: int = 30, scan: tuple[int, int, int] = SCAN):
        self.dual, self.digits, self.dps = dual, min(dps, dual.digits or dps), dps + GUARD
        lo, hi, n = scan
        with mpmath.workdps(self.dps):
            grid = [mpmath.mpf(10) ** (lo + mpmath.mpf(hi - lo) * k / (n - 1)) for k in range(n)]
            edges = [mpmath.mpf(b) for b in dual.breakpoints if 10.0**lo < b < 10.0**hi]
            self.etas = sorted(grid + edges)
            self.fs = [self._f(e) for e in self.etas]

    @property
    def top(self) -> mpmath.mpf:
        return self.etas[-1]

    def _f(self, x: mpmath.mpf) -> mpmath.mpf:
        try:
            v = self.dual.f(x)
        except (ZeroDivisionError, OverflowError, ValueError):
            return mpmath.inf
        return mpmath.inf if v is None or mpmath.isnan(v) else mpmath.mpf(v)

    def minimum(self, w_value: object) -> Minimum:
        """The global minimum of F_w over the scan and eta -> oo, refined where resolved."""
        with mpmath.workdps(self.dps):
            w2 = mpmath.mpf(w_value) ** 2
            vals = [w2 / e + fe for e, fe in zip(self.etas, self.fs, strict=False)]
            n = len(vals)
            k = min(range(n), key=vals.__getitem__)
            best = vals[k]
            if best == mpmath.inf:
                raise NotChecked(f"the reference minimisation cannot start at w = {mpmath.nstr(w_value, 6)}: "
                                 "w**2/eta + f(eta) evaluates to infinity on the whole eta scan")
            at_inf = self.dual.at_inf if self.dual.at_inf is not None else mpmath.inf
            noise = mpmath.mpf(10) ** (-self.digits) * max(abs(best), abs(at_inf) if at_inf < mpmath.inf else 0)
            if at_inf < best - noise:  # F_w > f(oo) on the whole scan: inf as eta -> oo
                return Minimum(at_inf, self.top, mpmath.inf)
            band = [j for j in range(n) if vals[j] <= best + noise]
            first, last = band[0], band[-1]
            value = min(best, at_inf)
            if last == n - 1 or at_inf <= best + noise:
                return Minimum(value, self.etas[max(first - 1, 0)], mpmath.inf)
            lo, hi = self.etas[max(first - 1, 0)], self.etas[last + 1]
            if last - first > 2:
                return Minimum(value, lo, hi)
            refined = self._refine(w2, lo, hi, vals[max(first - 1, 0)], vals[last + 1], best)
            if refined.value < best:
                return refined
            return Minimum(best, lo, hi, self.etas[k])

    def _refine(self, w2: mpmath.mpf, lo: mpmath.mpf, hi: mpmath.mpf,
                f_lo: mpmath.mpf, f_hi: mpmath.mpf, best: mpmath.mpf) -> Minimum:
        """Brent's method on [lo, hi] with the digits F_w's flatness there costs."""
        rise = min(f_lo, f_hi) - best
        lost = max(0, int(-mpmath.log10(rise / (abs(best) or 1)))) if rise > 0 else 0
        with mpmath.workdps(min(self.dps + lost, MAX_DPS)):
            F = lambda x: w2 / x + self._f(x)  # noqa: E731
            u = _brent(F, mpmath.log(lo), mpmath.log(hi), mpmath.mpf(10) ** (-(self.digits // 2 + 2)))
            x = mpmath.exp(u)
            return Minimum(F(x), lo, hi, x)


# ---------------------------------------------------------------- the check


def _rel(a: mpmath.mpf, b: mpmath.mpf, scale: mpmath.mpf) -> float:
    return float(abs(a - b) / scale) if scale else (0.0 if a == b else float("inf"))


def _fmt(x: object) -> str:
    return mpmath.nstr(mpmath.mpf(x), 10) if not mpmath.isinf(x) else "oo"


def _omega_errors(grid: list[float], mins: list[Minimum], om_vals: list[mpmath.mpf], precise: bool,
                  tol: float) -> tuple[float, list[str]]:
    """Worst relative error of Omega(w) - Omega(w0) against the reference (w0 = grid[0]).

    Relative to the increment itself when Omega is evaluated in mpmath,
    relative to the penalty's size when it is float64.
    """
    worst, bad = 0.0, []
    base_ref, base = mins[0].value / 2, om_vals[0]
    for x, m, o in zip(grid[1:], mins[1:], om_vals[1:], strict=False):
        delta = m.value / 2 - base_ref
        scale = abs(delta) if precise else max(abs(m.value) / 2, abs(base_ref), abs(delta))
        e = _rel(o - base, delta, scale)
        worst = max(worst, e)
        if e > tol:
            bad.append(f"Omega({x:.6g}) - Omega({grid[0]:.3g}) = {_fmt(o - base)}, reference {_fmt(delta)}")
    return worst, bad


def _eta_hat_errors(grid: list[float], mins: list[Minimum], etas: list[mpmath.mpf],
                    tol: float) -> tuple[float, int, list[str]]:
    """Worst relative error of eta_hat where the argmin is resolved; elsewhere eta_hat must lie in its bracket."""
    worst, bracketed, bad = 0.0, 0, []
    for x, m, mine in zip(grid, mins, etas, strict=False):
        if m.eta is not None:
            e = _rel(mine, m.eta, abs(m.eta))
            worst = max(worst, e)
            if e > tol:
                bad.append(f"eta_hat({x:.6g}) = {_fmt(mine)}, reference argmin {_fmt(m.eta)}")
            continue
        bracketed += 1
        if not m.lo * (1 - tol) <= mine <= m.hi * (1 + tol):
            bad.append(f"eta_hat({x:.6g}) = {_fmt(mine)}, outside [{_fmt(m.lo)}, {_fmt(m.hi)}] where "
                       "w**2/eta + f(eta) is within 10**-dps of its infimum")
    return worst, bracketed, bad


def _refuted(d) -> list[str]:
    return [f"{k}: {d.properties[k].detail}" for k in ("monotone", "subquadratic")
            if k in d.properties and d.properties[k].status == "refuted"]


def not_eta_trick(d, label: str = "") -> Check:
    """The failed check of a record with no dual f (e.g. a non-monotone rule)."""
    prov = d.provenance.get("f_dual")
    why = prov.how if prov is not None else "f was not derived"
    refuted = _refuted(d)
    detail = ("not an eta-trick penalty: " + "; ".join(refuted)) if refuted else f"no dual f to check against: {why}"
    return Check(f"eta_trick.{label or d.title()}", STATEMENT, "a dual f with Omega = 1/2 inf_eta [w**2/eta + f]",
                 passed=False, detail=detail)


def check_eta_trick(d, grid: list[float] | None = None, dps: int = 30, *, omega: MpFn | None = None,
                    eta_hat: MpFn | None = None, f: MpFn | None = None, quick: bool = False,
                    label: str = "") -> Check:
    """Check Omega(w) - Omega(w0) and eta_hat(w) of ``d`` against the reference minimisation over eta.

    ``omega``, ``eta_hat`` and ``f`` replace the record's evaluators (mpmath
    callables), e.g. to show that a tampered penalty or a wrong dual fails;
    ``label`` names the check (default: the record's title).
    The tolerance is 1e-10 (relative) for closed forms, 1e-8 for numeric pieces;
    1e-6 for eta_hat when f is known in float64 only.
    """
    conjugated = f is None and not d.can_evaluate("f_dual")
    if conjugated and _refuted(d):
        return not_eta_trick(d, label)
    om, om_prec = (omega, "given") if omega is not None else record_fn(d, "omega", dps, mp_numeric=not conjugated)
    eh, eh_prec = (eta_hat, "given") if eta_hat is not None else record_fn(d, "eta_hat", dps)
    grid = grid or default_grid(d, 8 if quick or conjugated else 16)
    if conjugated:
        dual = conjugate(om, dps + GUARD, 15 if om_prec == "float64" else None)
        f_text = "sup_v [2 Omega(v) - v**2/eta] (no dual f: numeric conjugate of Omega, so Omega = Omega** is checked)"
    else:
        dual = Dual(f) if f is not None else Dual.of(d, dps + GUARD)
        f_text = ("f (given)" if f is not None else str(d.f_dual) if d.f_dual is not None else
                  f"f (numeric, {'float64' if dual.digits else 'mpmath'})")
    n_scan = SCAN[2] // 2 if quick or conjugated else SCAN[2]
    ref = Reference(dual, dps, scan=(SCAN[0], SCAN[1], n_scan))
    exact = dual.exact and is_exact(d, "omega") and is_exact(d, "eta_hat")
    tol = TOL_EXACT if exact else TOL_NUMERIC
    tol_eta = max(tol, 10.0 ** (1 - ref.digits // 2))  # the argmin of an objective known to k digits: k/2
    with mpmath.workdps(dps + GUARD):
        mins = [ref.minimum(x) for x in grid]
        om_vals = [mpmath.mpf(om(x)) for x in grid]
        precise = om_prec != "float64" and dual.digits is None
        om_err, om_bad = _omega_errors(grid, mins, om_vals, precise, tol)
        eh_err, bracketed, eh_bad = _eta_hat_errors(grid, mins, [mpmath.mpf(eh(x)) for x in grid], tol_eta)
    problems = om_bad + eh_bad
    hyp = (f"f(eta) = {f_text}; Omega: {om_prec}, eta_hat: {eh_prec}; w >= 0 (Omega even)")
    scan = f"{len(ref.etas)} log-spaced eta in [1e{SCAN[0]}, 1e{SCAN[1]}]"
    numeric = [
        f"reference: global min of w**2/eta + f(eta) over {scan}, f's breakpoints and eta -> oo, Brent "
        f"refinement at {ref.dps} digits; {len(grid)} w in [{grid[0]:.3g}, {grid[-1]:.3g}]",
        f"Omega(w) - Omega({grid[0]:.3g}): worst relative error {om_err:.2e} (tolerance {tol:.0e})",
        f"eta_hat(w) = argmin: worst relative error {eh_err:.2e} (tolerance {tol_eta:.0e}"
        + (", f known to 15 digits resolves the argmin to about 1e-8)" if tol_eta > tol else ")")
        + (f"; at {bracketed} w the minimum is flat to {ref.digits} digits (e.g. approached as eta -> oo) and "
           "eta_hat is checked to lie in the bracket of minimisers" if bracketed else ""),
    ]
    proved = symbolic_identity(d) if f is None and omega is None and eta_hat is None else []
    return Check(f"eta_trick.{label or d.title()}", STATEMENT, hyp, passed=not problems, proved=proved, numeric=numeric,
                 worst_error=max(om_err, eh_err), detail="; ".join(problems[:3]))


# ---------------------------------------------------------------- symbolic part


def _identity_steps(omega: sp.Expr, eta_hat: sp.Expr, f: sp.Expr) -> list[str]:
    """Per piece of eta_hat: 2 Omega(w) - w**2/eta_hat - f(eta_hat) == 0 (SymPy)."""
    out = []
    f_parts, om_parts = branches(f, eta), branches(omega, w)
    for e, where in branches(eta_hat, w):
        lo, hi = where.inf, where.sup
        probe = lo + 1 if hi == sp.oo else (lo + hi) / 2
        om = next(o for o, dom in om_parts if dom.contains(probe))
        if e in (sp.oo, sp.zoo):
            gap = 2 * om - sp.limit(tail(f, eta), eta, sp.oo)
            text = "2 Omega(w) = f(oo)"
        else:
            at = e.subs(w, probe)
            fe = next(fp for fp, dom in f_parts if dom.contains(at))
            gap = 2 * om - w**2 / e - fe.subs(eta, e)
            text = "2 Omega(w) = w**2/eta_hat + f(eta_hat)"
        if not _is_zero(gap):
            return []
        out.append(f"{text} on w in {where} (SymPy, exact)")
    return out


def _is_zero(expr: sp.Expr) -> bool:
    """expr == 0 after factoring radicands (sqrt(w**2 + 2w + 1) -> w + 1 for w > 0) and simplifying."""
    expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Rational and not e.exp.is_integer,
                        lambda e: sp.Pow(sp.factor(e.base), e.exp))
    return sp.simplify(expr) == 0


def symbolic_identity(d, timeout: float = 4.0) -> list[str]:
    """The value identity at eta = eta_hat, proved piece by piece when SymPy can (bounded)."""
    if d.omega is None or d.eta_hat is None or d.f_dual is None:
        return []
    out = bounded(_identity_steps, d.omega, d.eta_hat, d.f_dual, timeout=timeout)
    return out.value if out.ok else []
