"""Assess the six properties of a derivation (MATH.md section 2).

Symbolic first (each CAS step bounded in time), then the numeric evaluators
on :data:`properties.GRID` with counterexamples confirmed in mpmath. A rule
given as a dual f has two properties by construction: Omega is an infimum
of functions affine in s = w**2 (subquadratic), and the argmin eta_hat is
nondecreasing in w (the objective s/eta + f(eta) has decreasing differences
in (s, eta), Topkis).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from . import properties as P
from .bounded import bounded
from .pieces import pieces
from .rules import w

if TYPE_CHECKING:
    from .derivation import Derivation

Verdict = P.Verdict


def _run(fn, *args, timeout=None):
    out = bounded(fn, *args, timeout=timeout)
    return out.value if out.ok else None


def _mp_fn(d: "Derivation", piece: str):
    ev = d.numeric.get(piece)
    return (lambda x: ev.mp(x, 30)) if ev is not None and hasattr(ev, "mp") else None


def assess(d: "Derivation", timeout: float | None = None) -> dict[str, Verdict]:
    """All six verdicts of a derivation."""
    by_construction = d.rule.kind == "dual"
    parts = pieces(d.eta_hat, w) if d.eta_hat is not None else None
    grid = P._grid_for(parts)
    out = {
        "monotone": _monotone(d, grid, by_construction, timeout),
        "subquadratic": _subquadratic(d, grid, by_construction, timeout),
    }
    out["sparsity"] = _sparsity(d)
    out["unbiased"] = _unbiased(d)
    out["bounded"] = _bounded(d)
    out["continuity"] = _continuity(d, grid, timeout)
    if out["monotone"].status == "refuted" and d.rule.kind == "penalty":
        d.notes.append("No dropout rule yields this penalty: its eta_hat = w/Omega'(w) is not nondecreasing, "
                       "so Omega is not subquadratic (not an eta-trick penalty).")
    elif out["subquadratic"].status == "refuted" and d.rule.kind == "penalty":
        d.notes.append("No dropout rule yields this penalty: it is not subquadratic (g(s) = 2 Omega(sqrt s) is not "
                       "concave), and every eta-trick penalty is.")
    return out


def _monotone(d, grid, by_construction, timeout) -> Verdict:
    if by_construction:
        return Verdict("proved", "eta_hat is the global argmin of s/eta + f(eta), nondecreasing in s = w**2 by "
                                 "decreasing differences (Topkis); it may jump where f is not concave")
    if d.eta_hat is None:
        return Verdict("unknown", "eta_hat was not derived")
    if any(e.is_number and e.is_negative for e, _ in pieces(d.eta_hat, w)):
        return Verdict("refuted", f"eta_hat = {d.eta_hat} is negative")
    proof = _run(P.monotone_proof, d.eta_hat, timeout=timeout)
    ev = d.numeric["eta_hat"]
    return P.nondecreasing("eta_hat", ev, _mp_fn(d, "eta_hat"), proof, grid)


def _subquadratic(d, grid, by_construction, timeout) -> Verdict:
    if by_construction:
        return Verdict("proved", "Omega = 1/2 inf_eta [s/eta + f(eta)] is an infimum of functions affine in s = w**2, "
                                 "hence concave in s")
    if d.omega is not None:
        res = _run(P.concavity_proof, d.omega, timeout=timeout)
        if res is not None:
            proof, strict = res
            if proof:
                if not strict:
                    proof += "; not strict: g is affine in s (Omega is quadratic), subquadratic only in the wide sense"
                return Verdict("proved", proof)
    if "omega" in d.numeric:
        mp = _mp_fn(d, "omega")
        if mp is not None:
            bad = P.concavity_counterexample(d.numeric["omega"], mp, grid)
            if bad:
                return Verdict("refuted", bad)
    if d.eta_hat is not None:
        # g'(s) = 1/eta_hat(sqrt s): concave iff eta_hat nondecreasing
        mono = P.nondecreasing("eta_hat", d.numeric["eta_hat"], _mp_fn(d, "eta_hat"), None, grid)
        if mono.status == "refuted":
            return Verdict("refuted", "g'(s) = 1/eta_hat(sqrt s) increases somewhere: " + mono.detail)
        return Verdict(mono.status, "g'(s) = 1/eta_hat(sqrt s) nonincreasing: " + mono.detail)
    return Verdict("unknown", "neither Omega nor eta_hat in closed form")


def _limit_or_numeric(d, key: str, piece: str, toward: str, holds, what: str, numeric_holds) -> Verdict:
    v = P.limit_verdict(d.limits.get(key), holds, what)
    if v is not None:
        return v
    if piece in d.numeric:
        a, b = P.numeric_limit(d.numeric[piece], toward)
        pts = "1e-12, 1e-8" if toward == "0" else "1e8, 1e12"
        status = "supported" if numeric_holds(a, b) else "refuted"
        if status == "refuted":
            return Verdict("unknown", f"{what} not established: values {a:.6g}, {b:.6g} at w = {pts} (float64)")
        return Verdict(status, f"{what}: values {a:.6g}, {b:.6g} at w = {pts} (float64)")
    return Verdict("unknown", f"{what} not derived")


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
            return Verdict("refuted", f"Omega(w) ~ {body} as w -> oo ({source}), unbounded")
    return _limit_or_numeric(d, "", "omega", "oo", None, "Omega(oo)",
                             lambda a, b: np.isfinite(b) and abs(b - a) < 1e-6 * max(1.0, abs(b)))


def _continuity(d, grid, timeout) -> Verdict:
    """min_w [w + lam Omega'(w)] at w = 0+: proved via h' = 1 + lam Omega'' >= 0, else grid."""
    lam_value = d.lam
    at0 = d.limits.get("omega_prime@0")
    if at0 is not None and at0.is_infinite:
        return Verdict("refuted", "w + lam Omega'(w) -> oo as w -> 0+, so its minimum is not at 0 "
                                  "(thresholding jumps)")
    if d.omega_prime is not None:
        proof = _run(_continuity_proof, d.omega_prime, lam_value, timeout=timeout)
        if proof:
            return Verdict("proved", proof)
    if "omega_prime" not in d.numeric:
        return Verdict("unknown", "Omega' not available")
    op = d.numeric["omega_prime"]
    h = grid + float(lam_value) * op(grid)
    h0 = float(lam_value) * (float(at0) if at0 is not None and at0.is_finite else op(np.array([1e-300]))[0])
    below = np.nonzero(h < h0 - 1e-9 * max(1.0, abs(h0)))[0]
    if len(below):
        i = below[np.argmin(h[below])]
        return Verdict("refuted", f"w + lam Omega'(w) = {h[i]:.8g} at w = {grid[i]:.6g} is below its value "
                                  f"{h0:.8g} at 0+ (float64, lam = {lam_value})")
    return Verdict("supported", f"w + lam Omega'(w) >= its value at 0+ on {P.GRID_TEXT}")


def _continuity_proof(omega_prime: sp.Expr, lam_value: sp.Expr) -> str | None:
    parts = pieces(omega_prime, w)
    for e, where in parts:
        if not P.sign_proof(1 + lam_value * sp.diff(e, w), w, where):
            return None
    for (e1, d1), (e2, _) in zip(parts, parts[1:]):
        b = d1.sup
        if not (sp.limit(e2, w, b, "+") - sp.limit(e1, w, b, "-")).is_nonnegative:
            return None
    return "d/dw [w + lam Omega'(w)] = 1 + lam Omega''(w) >= 0 on each piece, no downward jump (SymPy)"
