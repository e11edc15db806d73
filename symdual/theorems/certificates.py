"""The duality theorem of LeJeune et al.: monotone rule => subquadratic penalty => MM.

    (i)   eta_hat nondecreasing on (0, oo)                       (hypothesis)
    (ii)  g(s) = 2 Omega(sqrt s) concave, g'(s) = 1/eta_hat(sqrt s)  (subquadratic)
    (iii) Q(w | w0) = 1/2 [w**2/eta_hat(w0) + f(eta_hat(w0))] >= Omega(w), = at w = w0,
          so one adaptive-dropout (IRLS) step on 1/2 (z - w)**2 + lam Omega(w),
          w1 = z eta/(eta + lam) with eta = eta_hat(w0), never increases it  (MM)

Without a dual f (a non-monotone rule) the majoriser is the tangent of g at
s0 = w0**2, Q(w | w0) = Omega(w0) + (w**2 - w0**2)/(2 eta_hat(w0)), equal to the
eta-trick form whenever f exists. For a rule whose eta_hat decreases, the
theorem does not apply; the check then reports where its conclusion breaks,
and fails only if the rule was claimed monotone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import numpy as np

from ..properties import Verdict
from .check import Check, NotChecked
from .identity import Dual, MpFn, is_exact, record_breakpoints, record_fn

TOL_EXACT = 1e-12
"""Relative tolerance of every certificate when Omega, eta_hat (and f) are closed forms."""
TOL_NUMERIC = 1e-8
"""Relative tolerance when a piece is computed numerically (float64)."""

STATEMENT = ("eta_hat nondecreasing => Omega subquadratic (g(s) = 2 Omega(sqrt s) concave, g'(s) = "
             "1/eta_hat(sqrt s)) => Q(w|w0) = 1/2 [w**2/eta_hat(w0) + f(eta_hat(w0))] majorises Omega, "
             "touching at w0, so adaptive dropout is majorise-minimise (objective never increases)")

TINY = mpmath.mpf(10) ** -300
ROUNDOFF = 1e-14
"""Relative error of a float64 numeric Omega (quadrature): a central difference of Omega is known only to
ROUNDOFF |Omega| / h, and the envelope certificate discounts that (e.g. Omega'(w) ~ 1e-64 where Omega is flat)."""

Majoriser = Callable[[mpmath.mpf, mpmath.mpf], mpmath.mpf]


@dataclass
class Certificate:
    """One numerical certificate: a short name, its description, worst relative error or violation, what broke."""

    name: str
    text: str
    worst: float = 0.0
    breaks: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.breaks

    def note(self, value: float, tol: float, message: Callable[[], str]) -> None:
        """Record one error or violation; past ``tol`` it breaks, the worst break first.

        A nan (inf - inf, 0/0: a piece that could not be evaluated) is no evidence either way: NotChecked.
        """
        if np.isnan(value):
            raise NotChecked(f"certificate '{self.name}' is not a number (a piece of the rule evaluates to inf or "
                             f"nan there): {message()}")
        if value > tol:
            self.breaks.insert(0 if value > self.worst else len(self.breaks), message())
        self.worst = max(self.worst, value)

    def line(self) -> str:
        return f"{self.name}: {self.text}: worst {self.worst:.2e}" + (
            "" if self.holds else f" -- BREAKS: {self.breaks[0]}")


@dataclass
class Pieces:
    """The mpmath evaluators a check uses: Omega, eta_hat, f (or None) and f(oo)."""

    omega: MpFn
    eta_hat: MpFn
    f: MpFn | None
    f_at_inf: mpmath.mpf | None
    precision: str
    tol: float


def _fmt(x: object) -> str:
    x = mpmath.mpf(x)
    return "oo" if mpmath.isinf(x) else mpmath.nstr(x, 10)


def _pieces(d, dps: int, omega: MpFn | None, eta_hat: MpFn | None, f: MpFn | None) -> Pieces:
    om, om_prec = (omega, "given") if omega is not None else record_fn(d, "omega", dps, mp_numeric=False)
    eh, eh_prec = (eta_hat, "given") if eta_hat is not None else record_fn(d, "eta_hat", dps, mp_numeric=False)
    at_inf = None
    if f is None and d.can_evaluate("f_dual"):
        dual = Dual.of(d, dps)
        f, at_inf = dual.f, dual.at_inf
    exact = "float64" not in (om_prec, eh_prec) and is_exact(d, "omega") and is_exact(d, "eta_hat")
    return Pieces(om, eh, f, at_inf, f"Omega: {om_prec}, eta_hat: {eh_prec}", TOL_EXACT if exact else TOL_NUMERIC)


def _rng_logs(rng: np.random.Generator, n: int, lo: float = -3, hi: float = 3) -> np.ndarray:
    return 10.0 ** rng.uniform(lo, hi, n)


# ---------------------------------------------------------------- (i) monotone


def monotone_counterexample(eta_hat: MpFn, grid: np.ndarray,
                            tol: float) -> tuple[float, float, mpmath.mpf, mpmath.mpf] | None:
    """The first grid pair a < b with eta_hat(a) > eta_hat(b) (beyond tol, relative), or None."""
    vals = [mpmath.mpf(eta_hat(x)) for x in grid]
    bad = next((x for x, v in zip(grid, vals, strict=False) if mpmath.isnan(v)), None)
    if bad is not None:
        raise NotChecked(f"eta_hat({float(bad):.6g}) evaluates to nan, so its monotonicity cannot be checked")
    for a, b, va, vb in zip(grid, grid[1:], vals, vals[1:], strict=False):
        if va > vb * (1 + tol) and not (mpmath.isinf(va) and mpmath.isinf(vb)):
            return float(a), float(b), va, vb
    return None


def _grid(d, n: int, lo: float = -4, hi: float = 4) -> np.ndarray:
    extra = [b * (1 + t) for b in record_breakpoints(d) for t in (-1e-6, -1e-3, 1e-3, 1e-6)]
    return np.unique(np.concatenate([np.geomspace(10.0**lo, 10.0**hi, n), extra]))


# ---------------------------------------------------------------- (ii) subquadratic


def concavity(p: Pieces, grid: np.ndarray) -> Certificate:
    """Midpoint test: g((s_i + s_j)/2) >= (g(s_i) + g(s_j))/2 for neighbours of s = w**2, g = 2 Omega(sqrt s)."""
    cert = Certificate("concave", f"g(s) = 2 Omega(sqrt s) midpoint-concave on {len(grid)} s = w**2, w in "
                       f"[{grid[0]:.0e}, {grid[-1]:.0e}]")
    g = [2 * p.omega(mpmath.mpf(x)) for x in grid]
    for a, b, ga, gb in zip(grid, grid[1:], g, g[1:], strict=False):
        sm = (mpmath.mpf(a) ** 2 + mpmath.mpf(b) ** 2) / 2
        gm = 2 * p.omega(mpmath.sqrt(sm))
        chord = (ga + gb) / 2
        v = float((chord - gm) / max(abs(gm), abs(chord), TINY))
        cert.note(v, p.tol, lambda gm=gm, chord=chord, a=a, b=b: (
            f"g((s0+s1)/2) = {_fmt(gm)} < (g(s0)+g(s1))/2 = {_fmt(chord)} at "
            f"s0 = {_fmt(mpmath.mpf(a)**2)}, s1 = {_fmt(mpmath.mpf(b)**2)}"))
    return cert


def _slope(omega: MpFn, x: mpmath.mpf, digits: int) -> mpmath.mpf:
    """Omega'(x) by mpmath.diff, doubling the precision (up to 400 digits) until two nonzero estimates agree."""
    prev = None
    while True:
        with mpmath.workdps(digits):
            slope = mpmath.diff(omega, x)
        if slope != 0 and prev is not None and abs(slope - prev) <= abs(slope) * mpmath.mpf(10) ** -20 or digits >= 400:
            return slope
        prev, digits = slope, min(2 * digits, 400)


def envelope(p: Pieces, points: np.ndarray, exact: bool) -> Certificate:
    """g'(s) = 1/eta_hat(sqrt s), i.e. Omega'(w) = w/eta_hat(w): mpmath.diff (or a float64 central difference,
    up to its resolution ROUNDOFF |Omega|/h)."""
    how = "mpmath.diff, precision raised until stable" if exact else "float64 central difference h = 1e-5 w"
    cert = Certificate("envelope", f"g'(s) = 1/eta_hat(sqrt s) at {len(points)} random w in [1e-3, 1e3] ({how})")
    tol = p.tol if exact else 1e-5
    for x in points:
        x = mpmath.mpf(x)
        noise = mpmath.mpf(0)
        if exact:
            slope = _slope(p.omega, x, mpmath.mp.dps)
        else:
            h = x * mpmath.mpf("1e-5")
            hi, lo = p.omega(x + h), p.omega(x - h)
            slope = (hi - lo) / (2 * h)
            noise = ROUNDOFF * max(abs(hi), abs(lo)) / h  # what the difference cannot resolve
        e_hat = p.eta_hat(x)
        target = 0 if mpmath.isinf(e_hat) else x / e_hat
        err = float(max(abs(slope - target) - noise, 0) / max(abs(target), abs(slope), TINY))
        cert.note(err, tol, lambda x=x, slope=slope, target=target: (
            f"Omega'({_fmt(x)}) = {_fmt(slope)} but w/eta_hat(w) = {_fmt(target)}"))
    return cert


# ---------------------------------------------------------------- (iii) majorise-minimise


def majoriser(p: Pieces) -> Majoriser:
    """Q(w|w0) = 1/2 [w**2/eta_hat(w0) + f(eta_hat(w0))]; the tangent form when f is missing."""
    def q(x: mpmath.mpf, x0: mpmath.mpf) -> mpmath.mpf:
        e = p.eta_hat(x0)
        if p.f is None or (mpmath.isinf(e) and p.f_at_inf is None):
            return p.omega(x0) + (0 if mpmath.isinf(e) else (x**2 - x0**2) / (2 * e))
        if mpmath.isinf(e):
            return p.f_at_inf / 2
        return (x**2 / e + p.f(e)) / 2

    return q


def _pairs(rng: np.random.Generator, n: int, focus: tuple[float, float] | None) -> list[tuple[float, float]]:
    """Half wide pairs (w, w0 log-uniform in [1e-3, 1e3]), half near ones w = w0 (1 + delta), |delta| <= 0.5;
    with ``focus`` (a monotonicity counterexample a < b), w0 also spans [a, b]."""
    wide = list(zip(_rng_logs(rng, n // 2), _rng_logs(rng, n // 2), strict=False))
    w0 = _rng_logs(rng, n - n // 2)
    delta = rng.uniform(-0.5, 0.5, n - n // 2)
    near = list(zip(w0 * (1 + delta), w0, strict=False))
    if focus is not None:
        a, b = focus
        for x0 in np.linspace(a, b, 9):
            near += [(x0 * (1 + t), x0) for t in (-0.3, -0.1, -0.03, -0.01, 0.01, 0.03, 0.1, 0.3)]
    return wide + near


def majorisation(p: Pieces, q: Majoriser, pairs: list[tuple[float, float]]) -> tuple[Certificate, Certificate]:
    """Q(w|w0) >= Omega(w) on ``pairs``, and Q(w0|w0) = Omega(w0)."""
    upper = Certificate("majorises", f"Q(w|w0) >= Omega(w) on {len(pairs)} pairs (w, w0)")
    touch = Certificate("touches", f"Q(w0|w0) = Omega(w0) at {len(pairs)} w0")
    for x, x0 in pairs:
        x, x0 = mpmath.mpf(x), mpmath.mpf(x0)
        om, qv = p.omega(x), q(x, x0)
        upper.note(float((om - qv) / max(abs(om), abs(qv), TINY)), p.tol,
                   lambda qv=qv, om=om, x=x, x0=x0: (
                       f"Q(w|w0) = {_fmt(qv)} < Omega(w) = {_fmt(om)} at w = {_fmt(x)}, w0 = {_fmt(x0)}"))
        om0, q0 = p.omega(x0), q(x0, x0)
        touch.note(float(abs(q0 - om0) / max(abs(om0), abs(q0), TINY)), p.tol,
                   lambda q0=q0, om0=om0, x0=x0: (
                       f"Q(w0|w0) = {_fmt(q0)} but Omega(w0) = {_fmt(om0)} at w0 = {_fmt(x0)}"))
    return upper, touch


def descent(p: Pieces, rng: np.random.Generator, n: int) -> Certificate:
    """One IRLS step w1 = z eta/(eta + lam), eta = eta_hat(|w0|), does not increase 1/2 (z - w)**2 + lam Omega(w)."""
    cert = Certificate("descent", f"one IRLS step does not increase 1/2 (z - w)**2 + lam Omega(w) "
                                  f"for {n} random (z, w0, lam)")
    z = _rng_logs(rng, n) * rng.choice([-1, 1], n)
    w0 = z * rng.uniform(0, 1.5, n)
    lams = _rng_logs(rng, n, -2, 2)
    for zi, xi, li in zip(z, w0, lams, strict=False):
        zi, xi, li = mpmath.mpf(zi), mpmath.mpf(xi), mpmath.mpf(li)
        e = p.eta_hat(abs(xi))
        x1 = zi if mpmath.isinf(e) else zi * e / (e + li)
        j0 = (zi - xi) ** 2 / 2 + li * p.omega(abs(xi))
        j1 = (zi - x1) ** 2 / 2 + li * p.omega(abs(x1))
        cert.note(float((j1 - j0) / max(abs(j0), abs(j1), TINY)), p.tol,
                  lambda j1=j1, j0=j0, zi=zi, xi=xi, li=li: (
                      f"J(w1) = {_fmt(j1)} > J(w0) = {_fmt(j0)} at z = {_fmt(zi)}, w0 = {_fmt(xi)}, "
                      f"lam = {_fmt(li)}"))
    return cert


# ---------------------------------------------------------------- the check


def check_duality(d, *, omega: MpFn | None = None, eta_hat: MpFn | None = None, f: MpFn | None = None,
                  majoriser_fn: Majoriser | None = None, claimed_monotone: bool | None = None, dps: int = 30,
                  seed: int = 0, quick: bool = False, label: str = "") -> Check:
    """Certificates (i)-(iii) of the duality theorem for ``d``.

    ``omega``, ``eta_hat``, ``f`` (mpmath callables) and ``majoriser_fn``
    (Q(w, w0)) replace the record's, e.g. to show that a wrong majoriser is
    caught. ``claimed_monotone`` defaults to the record's verdict (proved or
    supported); ``label`` names the check. Passes when the hypothesis holds
    and every certificate holds, or when the hypothesis fails for a rule not
    claimed monotone (the theorem does not apply; the detail then says where
    its conclusion breaks). The tolerance is 1e-12 (relative) for closed
    forms, 1e-8 for numeric pieces (1e-5 for the float64 envelope identity).
    """
    name = f"duality.{label or d.title()}"
    if eta_hat is None and not d.can_evaluate("eta_hat"):
        return Check(name, STATEMENT, "eta_hat(w)", passed=False, detail="eta_hat is not available for this record")
    rng = np.random.default_rng(seed)
    with mpmath.workdps(dps):
        p = _pieces(d, dps, omega, eta_hat, f)
        exact = p.tol == TOL_EXACT
        verdict = d.properties.get("monotone")
        claimed = claimed_monotone if claimed_monotone is not None else (
            verdict is not None and verdict.status in ("proved", "supported"))
        grid = _grid(d, 201 if quick else 401)
        bad = monotone_counterexample(p.eta_hat, grid, p.tol)
        mono = Certificate("monotone", f"eta_hat nondecreasing on {len(grid)} log-spaced w in [1e-4, 1e4] "
                                       "(+ breakpoints)")
        if bad is not None:
            a, b, va, vb = bad
            mono.breaks.append(f"eta_hat({a:.6g}) = {_fmt(va)} > eta_hat({b:.6g}) = {_fmt(vb)}")
        hypothesis = bad is None and (verdict is None or verdict.status != "refuted")
        n = 60 if quick else 200
        certs = [mono, concavity(p, _grid(d, 61 if quick else 121, -3, 3)),
                 envelope(p, _rng_logs(rng, 6 if quick else 12), exact)]
        q = majoriser_fn or majoriser(p)
        certs += [*majorisation(p, q, _pairs(rng, n, bad[:2] if bad else None)), descent(p, rng, n)]
    return _result(d, name, p, certs, verdict, claimed, hypothesis, majoriser_fn is not None)


def _result(d, name: str, p: Pieces, certs: list[Certificate], verdict: Verdict | None, claimed: bool,
            hypothesis: bool, custom_q: bool) -> Check:
    """The Check: passed iff the certificates hold under the hypothesis, or the hypothesis fails unclaimed."""
    mono, conclusions = certs[0], certs[1:]
    record = f"record: {verdict.status} ({verdict.detail})" if verdict is not None else "record: no verdict"
    form = "Q given" if custom_q else ("Q in the eta-trick form" if p.f is not None else
                                       "Q in the tangent form Omega(w0) + (w**2 - w0**2)/(2 eta_hat(w0)) (no f)")
    hyp = f"eta_hat nondecreasing on (0, oo) [{record}; claimed {'yes' if claimed else 'no'}]; {p.precision}; {form}"
    proved = [f"{k}: {d.properties[k].detail}" for k in ("monotone", "subquadratic")
              if k in d.properties and d.properties[k].status == "proved" and hypothesis]
    numeric = [c.line() for c in certs]
    worst = max(c.worst for c in certs[1:])
    broken = [c for c in conclusions if not c.holds]
    if hypothesis:
        passed = not broken
        detail = "; ".join(f"{c.name} breaks: {c.breaks[0]}" for c in broken)
    else:
        passed = not claimed
        where = "; ".join(f"{c.name} breaks: {c.breaks[0]}" for c in broken) or \
            "no break of the conclusion found on the samples"
        why = mono.breaks[0] if mono.breaks else verdict.detail
        detail = (f"hypothesis fails ({why}){' although the rule was claimed monotone' if claimed else ''}: "
                  f"the theorem does not apply; {where}")
    return Check(name, STATEMENT, hyp, passed=passed, proved=proved, numeric=numeric, worst_error=worst,
                 detail=detail)
