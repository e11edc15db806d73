"""Assess the six properties of a derivation (docs/properties.md).

Symbolic first (each CAS step bounded in time, piecewise functions piece by
piece plus their jumps, never a distribution-valued derivative), then the
numeric evaluators on :data:`properties.GRID`, every counterexample confirmed
in mpmath at 30 and :data:`properties.MP_DPS` digits. A rule given as a dual f
has two properties by construction: Omega is an infimum of functions affine
in s = w**2 (subquadratic), and the argmin eta_hat is nondecreasing in w (the
objective s/eta + f(eta) has decreasing differences in (s, eta), Topkis).
By the duality theorem monotone and subquadratic imply each other
(g'(s) = 1/eta_hat(sqrt s)), so a proof or a counterexample of one is one of the other.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from . import properties as P
from .bounded import bounded
from .rules import w
from .verdict import Verdict, Witness, witness

Budget = Callable[[], float]
"""Seconds left for the next CAS call."""


def _run(fn: Callable, *args: Any, timeout: Budget) -> Any:
    left = timeout()
    if left <= 0:
        return None
    out = bounded(fn, *args, timeout=left)
    return out.value if out.ok else None


def _ev(d: Any, piece: str) -> Any:
    return d.evaluators.get(piece)


def _mp_fn(d: Any, piece: str) -> P.MpFn | None:
    ev = _ev(d, piece)
    return ev.mp if ev is not None else None


def assess(d: Any, timeout: Budget) -> dict[str, Verdict]:
    """All six verdicts of a derivation under construction (its pieces, limits, series, evaluators)."""
    by_construction = d.rule.kind == "dual"
    parts = _run(P.safe_branches, d.eta_hat, timeout=timeout)
    grid = P.grid_for(parts)
    mono = _monotone(d, grid, by_construction, timeout)
    if mono.status == "proved":  # subquadratic by the duality theorem: no scan for a counterexample
        mono, sub = _duality(mono, Verdict("unknown", "numeric", "implied by monotone"))
    else:
        mono, sub = _duality(mono, _subquadratic(d, grid, by_construction, timeout))
    return {
        "monotone": mono,
        "subquadratic": sub,
        "sparsity": _sparsity(d),
        "unbiased": _unbiased(d),
        "bounded": _bounded(d, timeout),
        "continuity": _continuity(d, timeout),
    }


# ---------------------------------------------------------------- monotone, subquadratic


def _monotone(d: Any, grid: np.ndarray, by_construction: bool, timeout: Budget) -> Verdict:
    if by_construction:
        return Verdict("proved", "by construction",
                       "eta_hat is the global argmin of s/eta + f(eta), nondecreasing in s = w**2 by "
                       "decreasing differences (Topkis); it may jump where u -> f(1/u) is not convex")
    if d.eta_hat is None:
        return Verdict("unknown", "symbolic", "eta_hat was not derived")
    parts = _run(P.safe_branches, d.eta_hat, timeout=timeout) or []
    if any(e.is_number and e.is_negative for e, _ in parts):
        return Verdict("refuted", "symbolic", f"eta_hat = {d.eta_hat} is negative (exact)")
    proof = _run(P.monotone_proof, d.eta_hat, timeout=timeout)
    return P.nondecreasing("eta_hat", _ev(d, "eta_hat"), _mp_fn(d, "eta_hat"), proof, grid)


def _subquadratic(d: Any, grid: np.ndarray, by_construction: bool, timeout: Budget) -> Verdict:
    if by_construction:
        return Verdict("proved", "by construction",
                       "Omega = 1/2 inf_eta [s/eta + f(eta)] is an infimum of functions affine in s = w**2, "
                       "hence concave in s")
    if d.omega is not None:
        res = _run(P.concavity_proof, d.omega, timeout=timeout)
        if res is not None:
            proof, strict = res
            if proof:
                if not strict:
                    proof += "; not strict: g is affine in s (Omega is quadratic), subquadratic only in the wide sense"
                return Verdict("proved", "symbolic", proof)
    if _ev(d, "omega") is not None:
        bad = P.concavity_counterexample(_ev(d, "omega"), _mp_fn(d, "omega"), grid)
        if bad is not None:
            return bad
    if _ev(d, "eta_hat") is not None:
        # g'(s) = 1/eta_hat(sqrt s): concave iff eta_hat nondecreasing
        mono = P.nondecreasing("eta_hat", _ev(d, "eta_hat"), _mp_fn(d, "eta_hat"), None, grid)
        if mono.status == "refuted":
            if mono.witness is None or len(mono.witness.points) != 2:  # eta_hat < 0: 1/eta_hat says nothing
                return Verdict("unknown", "numeric", "eta_hat is negative somewhere: " + mono.detail)
            return Verdict("refuted", mono.by, "g'(s) = 1/eta_hat(sqrt s) increases somewhere (s = w**2): "
                           + mono.detail, mono.witness)
        return Verdict(mono.status, mono.by, "g'(s) = 1/eta_hat(sqrt s) nonincreasing: " + mono.detail, mono.witness)
    return Verdict("unknown", "symbolic", "neither Omega nor eta_hat in closed form")


def _duality(mono: Verdict, sub: Verdict) -> tuple[Verdict, Verdict]:
    """eta_hat nondecreasing (and >= 0) <=> g(s) = 2 Omega(sqrt s) concave and nondecreasing
    (g'(s) = 1/eta_hat(sqrt s)): carry a proof, or a refutation of subquadratic, across."""
    if mono.status == "proved" and sub.status != "proved":
        sub = Verdict("proved", mono.by, "Omega is an eta-trick penalty (duality theorem: an infimum of functions "
                                         "affine in s = w**2), since eta_hat is nondecreasing: " + mono.detail)
    elif sub.status == "proved" and sub.by == "symbolic" and mono.status not in ("proved", "refuted"):
        mono = Verdict("proved", "symbolic", "eta_hat = 1/g'(w**2) with g'(s) >= 0 nonincreasing: " + sub.detail)
    if sub.status == "refuted" and mono.status not in ("proved", "refuted"):
        mono = Verdict("refuted", sub.by, "Omega is not subquadratic, so eta_hat is not nondecreasing (duality "
                                          "theorem): " + sub.detail, sub.witness)
    return mono, sub


# ---------------------------------------------------------------- limits


def _limit_or_numeric(d, key: str, piece: str, toward: str, holds, what: str, numeric_holds) -> Verdict:
    v = P.limit_verdict(d.limits.get(key), holds, what)
    if v is not None:
        return v
    if _ev(d, piece) is not None:
        a, b = P.numeric_limit(_ev(d, piece), toward)
        pts = ("1e-12", "1e-8") if toward == "0" else ("1e8", "1e12")
        evidence = witness(pts, (f"{a:.17g}", f"{b:.17g}"), "float64")
        text = f"values {a:.6g}, {b:.6g} at w = {', '.join(pts)} (float64)"
        if not numeric_holds(a, b):
            return Verdict("unknown", "numeric", f"{what} not established: {text}", evidence)
        return Verdict("supported", "numeric", f"{what}: {text}", evidence)
    return Verdict("unknown", "numeric", f"{what} not derived")


def _sparsity(d) -> Verdict:
    return _limit_or_numeric(d, "omega_prime@0", "omega_prime", "0", lambda v: bool(v > 0), "Omega'(0+)",
                             lambda a, b: a > 1e-3 and b > 1e-3)


def _unbiased(d) -> Verdict:
    return _limit_or_numeric(d, "omega_prime@oo", "omega_prime", "oo", lambda v: v == 0, "Omega'(oo)",
                             lambda a, b: abs(b) < 1e-6 and abs(b) <= abs(a))


def _positive_limit(value: sp.Expr | None) -> sp.Expr | None:
    """The limit if it is a number > 0 or +oo (an oscillating limit whose lower bound is > 0 counts), else None."""
    if isinstance(value, sp.AccumBounds):
        return value if value.min.is_positive else None
    if value is None or not value.is_number or value.has(sp.nan, sp.zoo, sp.Limit):
        return None
    return value if value == sp.oo or value.is_positive else None


def _series_limit(body: sp.Expr) -> sp.Expr:
    return sp.limit(body, w, sp.oo)


def _bounded(d, timeout: Budget) -> Verdict:
    v = P.limit_verdict(d.limits.get("omega@oo"), lambda v: v.is_finite, "Omega(oo)")
    if v is not None:
        return v
    slope = _positive_limit(d.limits.get("omega_prime@oo"))
    if slope is not None:
        return Verdict("refuted", "symbolic", f"Omega'(oo) = {slope} > 0 (exact limit): Omega(w) >= Omega(w0) + "
                                              "c (w - w0) for some c > 0 beyond some w0, unbounded")
    ser = d.series.get("omega@oo")
    if ser is not None:
        body = ser.removeO() if hasattr(ser, "removeO") else ser
        grows = _run(_series_limit, body, timeout=timeout)
        if grows is not None and grows.is_infinite:
            source = d.provenance["series"].how if "series" in d.provenance else "series"
            return Verdict("refuted", "symbolic", f"Omega(w) ~ {body} as w -> oo ({source}), unbounded")
    return _limit_or_numeric(d, "", "omega", "oo", None, "Omega(oo)",
                             lambda a, b: np.isfinite(b) and abs(b - a) < 1e-6 * max(1.0, abs(b)))


# ---------------------------------------------------------------- continuity


def _continuity(d: Any, timeout: Budget) -> Verdict:
    """The prox of lam Omega is continuous iff h(u) = u + lam Omega'(u) is strictly increasing on (0, oo)."""
    lam = d.lam
    at0 = d.limits.get("omega_prime@0")
    op = _ev(d, "omega_prime")
    if at0 is not None and at0 == sp.oo:
        return _infinite_at_zero(op, lam)
    pieces = _run(P.derivative_branches, d.omega, d.omega_prime, timeout=timeout)
    if pieces is not None:
        exact = _run(P.prox_proof, pieces, lam, timeout=timeout)
        if exact is not None:
            return exact
    if op is None:
        return Verdict("unknown", "numeric", "Omega' not available")
    grid = P.grid_for(pieces or _run(P.safe_branches, d.eta_hat, timeout=timeout))
    h_np, h_mp = _prox_fns(op, lam)
    h0 = None if at0 is None or at0.has(sp.AccumBounds, sp.nan) else lam * at0
    bad = P.prox_counterexample(h_np, h_mp, grid, h0)
    if bad is not None:
        return bad
    flat = P.flat_run(h_np, h_mp, grid)
    if flat is not None:
        return Verdict("unknown", "numeric", flat + ": a flat piece would make the prox jump")
    return Verdict("supported", "numeric", f"h(u) = u + lam Omega'(u) (lam = {lam}) shows no decrease confirmed at "
                                           f"{P.MP_DPS} digits on {P.GRID_TEXT} (+ breakpoints)",
                   Witness.on_grid(P.GRID_TEXT + " (+ breakpoints)"))


def _prox_fns(op: Any, lam: sp.Expr) -> tuple[Callable, P.MpFn]:
    lam_f = float(lam)

    def h_np(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return x + lam_f * np.asarray(op(x), dtype=float)

    def h_mp(x: mpmath.mpf, dps: int) -> mpmath.mpf:
        with mpmath.workdps(dps):
            return x + mpmath.mpf(sp.N(lam, dps + 5)) * op.mp(x, dps)

    return h_np, h_mp


def _infinite_at_zero(op: Any, lam: sp.Expr) -> Verdict:
    """Omega'(0+) = oo: h(0+) = oo exceeds h(1), so h is not increasing (the prox jumps at its threshold)."""
    evidence = None
    if op is not None:
        _, h_mp = _prox_fns(op, lam)
        v = P.at(h_mp, "1", P.MP_DPS)
        if v is not None and mpmath.isfinite(v):
            evidence = witness(["0+", "1"], ["oo", P.show(v, 17)], P.PRECISION)
    return Verdict("refuted", "symbolic", "h(u) = u + lam Omega'(u) -> oo as u -> 0+ (exact limit) but is finite "
                                          "further out, so it is not increasing: the prox jumps at its threshold",
                   evidence)
