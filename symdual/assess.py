"""Assess the six properties of a derivation (docs/properties.md).

Symbolic first (each CAS step bounded in time), then the numeric evaluators
on :data:`properties.GRID` with counterexamples confirmed in mpmath. A rule
given as a dual f has two properties by construction: Omega is an infimum
of functions affine in s = w**2 (subquadratic), and the argmin eta_hat is
nondecreasing in w (the objective s/eta + f(eta) has decreasing differences
in (s, eta), Topkis).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from . import properties as P
from .bounded import bounded
from .piecewise import branches
from .rules import w
from .verdict import Verdict, Witness, witness

Budget = Callable[[], float]
"""Seconds left for the next CAS call."""


def _run(fn: Callable, *args: Any, timeout: Budget) -> Any:
    out = bounded(fn, *args, timeout=timeout())
    return out.value if out.ok else None


def _ev(d: Any, piece: str) -> Any:
    return d.evaluators.get(piece)


def _mp_fn(d: Any, piece: str) -> Callable | None:
    ev = _ev(d, piece)
    return (lambda x: ev.mp(x, 30)) if ev is not None else None


def assess(d: Any, timeout: Budget) -> dict[str, Verdict]:
    """All six verdicts of a derivation under construction (its pieces, limits, series, evaluators)."""
    by_construction = d.rule.kind == "dual"
    parts = branches(d.eta_hat, w) if d.eta_hat is not None else None
    grid = P.grid_for(parts)
    return {
        "monotone": _monotone(d, grid, by_construction, timeout),
        "subquadratic": _subquadratic(d, grid, by_construction, timeout),
        "sparsity": _sparsity(d),
        "unbiased": _unbiased(d),
        "bounded": _bounded(d),
        "continuity": _continuity(d, grid, timeout),
    }


def _monotone(d: Any, grid: np.ndarray, by_construction: bool, timeout: Budget) -> Verdict:
    if by_construction:
        return Verdict("proved", "by construction",
                       "eta_hat is the global argmin of s/eta + f(eta), nondecreasing in s = w**2 by "
                       "decreasing differences (Topkis); it may jump where u -> f(1/u) is not convex")
    if d.eta_hat is None:
        return Verdict("unknown", "symbolic", "eta_hat was not derived")
    if any(e.is_number and e.is_negative for e, _ in branches(d.eta_hat, w)):
        return Verdict("refuted", "symbolic", f"eta_hat = {d.eta_hat} is negative")
    proof = _run(P.monotone_proof, d.eta_hat, timeout=timeout)
    ev = _ev(d, "eta_hat")
    return P.nondecreasing("eta_hat", ev, _mp_fn(d, "eta_hat"), proof, grid)


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
            return Verdict("refuted", mono.by, "g'(s) = 1/eta_hat(sqrt s) increases somewhere: " + mono.detail,
                           mono.witness)
        return Verdict(mono.status, mono.by, "g'(s) = 1/eta_hat(sqrt s) nonincreasing: " + mono.detail, mono.witness)
    return Verdict("unknown", "symbolic", "neither Omega nor eta_hat in closed form")


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


def _bounded(d) -> Verdict:
    v = P.limit_verdict(d.limits.get("omega@oo"), lambda v: v.is_finite, "Omega(oo)")
    if v is not None:
        return v
    ser = d.series.get("omega@oo")
    if ser is not None:
        body = ser.removeO() if hasattr(ser, "removeO") else ser
        grows = sp.limit(body, w, sp.oo)
        if grows.is_infinite:
            source = d.provenance["series"].how if "series" in d.provenance else "series"
            return Verdict("refuted", "symbolic", f"Omega(w) ~ {body} as w -> oo ({source}), unbounded")
    return _limit_or_numeric(d, "", "omega", "oo", None, "Omega(oo)",
                             lambda a, b: np.isfinite(b) and abs(b - a) < 1e-6 * max(1.0, abs(b)))


def _continuity(d: Any, grid: np.ndarray, timeout: Budget) -> Verdict:
    """min_w [w + lam Omega'(w)] at w = 0+: proved via h' = 1 + lam Omega'' >= 0, else grid."""
    lam_value = d.lam
    at0 = d.limits.get("omega_prime@0")
    if at0 is not None and at0.is_infinite:
        return Verdict("refuted", "symbolic", "w + lam Omega'(w) -> oo as w -> 0+, so its minimum is not at 0 "
                                  "(thresholding jumps)")
    if d.omega_prime is not None:
        proof = _run(_continuity_proof, d.omega_prime, lam_value, timeout=timeout)
        if proof:
            return Verdict("proved", "symbolic", proof)
    op = _ev(d, "omega_prime")
    if op is None:
        return Verdict("unknown", "numeric", "Omega' not available")
    with np.errstate(all="ignore"):
        h = grid + float(lam_value) * op(grid)
    h0 = float(lam_value) * (float(at0) if at0 is not None and at0.is_finite else op(np.array([1e-300]))[0])
    below = np.nonzero(h < h0 - 1e-9 * max(1.0, abs(h0)))[0]
    if len(below):
        i = below[np.argmin(h[below])]
        return Verdict("refuted", "numeric", f"w + lam Omega'(w) = {h[i]:.8g} at w = {grid[i]:.6g} is below its "
                                             f"value {h0:.8g} at 0+ (float64, lam = {lam_value})",
                       witness([f"{grid[i]:.17g}", "0+"], [f"{h[i]:.17g}", f"{h0:.17g}"], "float64"))
    return Verdict("supported", "numeric", f"w + lam Omega'(w) >= its value at 0+ on {P.GRID_TEXT}",
                   Witness.on_grid(P.GRID_TEXT))


def _continuity_proof(omega_prime: sp.Expr, lam_value: sp.Expr) -> str | None:
    parts = branches(omega_prime, w)
    for e, where in parts:
        if not P.sign_proof(1 + lam_value * sp.diff(e, w), w, where):
            return None
    for (e1, d1), (e2, _) in zip(parts, parts[1:], strict=False):
        b = d1.sup
        if not (sp.limit(e2, w, b, "+") - sp.limit(e1, w, b, "-")).is_nonnegative:
            return None
    return "d/dw [w + lam Omega'(w)] = 1 + lam Omega''(w) >= 0 on each piece, no downward jump (SymPy)"
