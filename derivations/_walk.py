"""Shared narration for the derivation scripts: numbered steps with SymPy text and LaTeX, and checks.

Each script in this folder walks one catalog method through the engine's
steps (symdual.rules, symdual.duality, symdual.asymptotics), prints every
intermediate result as text and LaTeX, runs the full pipeline
(symdual.catalog.get) for the verdicts, and checks the result against
the papers' closed forms (symbolically or with mpmath).  The exit code is 1 if a check fails.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import sympy as sp

import symdual as sd
from symdual import duality
from symdual.asymptotics import series_at
from symdual.catalog import agrees
from symdual.rules import eta, to_eta_hat, w

_state = {"step": 0, "checks": []}


def header(name: str, **params: Any) -> tuple[Any, dict]:
    """Print the entry (title, citation, rule, parameters, lam mapping); return (entry, resolved params)."""
    entry = sd.catalog.entry(name)
    values = entry.resolve(params)
    shown = {k: v for k, v in values.items() if not isinstance(v, np.ndarray)}
    print(f"# {entry.title}  [{entry.citation}]")
    print(f"catalog entry {entry.name!r}: {entry.kind} rule  {entry.rule_text}")
    print(f"parameters: {', '.join(f'{k} = {sp.sstr(v)}' for k, v in shown.items())}")
    print(f"lam mapping: {entry.lam_mapping}")
    print()
    return entry, values


def step(title: str, expr: Any = None, text: str | None = None) -> None:
    """Print one numbered step: its result as SymPy text and as LaTeX."""
    _state["step"] += 1
    print(f"Step {_state['step']}. {title}")
    if text is not None:
        print(f"    {text}")
    if expr is not None:
        print(f"    {sp.sstr(expr)}")
        print(f"    LaTeX: {sp.latex(expr)}")
    print()


def check(label: str, ok: bool, how: str) -> bool:
    """Record and print one check of the result."""
    _state["checks"].append((label, bool(ok)))
    print(f"  [{'ok' if ok else 'FAILED'}] {label}: {how}")
    return bool(ok)


def same_up_to_constant(a: sp.Expr, b: sp.Expr, x: sp.Symbol = w) -> bool:
    """a - b is constant in x (symbolically, on the piece active at x)."""
    diff = sp.simplify(sp.diff(a - b, x))
    return diff == 0


def mp_max_rel(values: Callable[[np.ndarray], np.ndarray], reference: Callable[[Any], Any],
               points: tuple, at: float) -> float:
    """max |(v(x) - v(at)) - (ref(x) - ref(at))| / max(|ref(x) - ref(at)|, |ref(x)|) over points (mpmath, 40 digits)."""
    got = values(np.array(list(points) + [at], dtype=float))
    worst = 0.0
    with mpmath.workdps(40):
        r0 = reference(mpmath.mpf(at))
        for x, g in zip(points, got[:-1], strict=False):
            r = reference(mpmath.mpf(x))
            want = r - r0
            worst = max(worst, abs(float((g - got[-1]) - want)) / max(abs(float(want)), abs(float(r)), 1e-300))
    return worst


def walk_rule(entry: Any, values: dict) -> dict[str, sp.Expr]:
    (
        "Steps of a rule in w (eta_hat, keep_prob, drop_rate, variance or penalty): "
        "eta_hat, Omega', Omega, f, limits, series."
    )
    lam_value = values["lam"]
    rule = sd.catalog.expression(entry, values)
    out: dict[str, sp.Expr] = {}
    if entry.kind == "penalty":
        step("The rule is the penalty Omega(w) itself (lam*Omega is the classical penalty).", rule)
        out["omega"] = rule
        out["eta_hat"] = duality.eta_hat_from_omega(rule)
        step("Envelope theorem: eta_hat(w) = w/Omega'(w) (oo where Omega' = 0).", out["eta_hat"])
    else:
        step(f"The rule as given ({entry.kind}).", rule)
        out["eta_hat"] = duality.tidy(to_eta_hat(entry.kind, rule, lam_value))
        if entry.kind != "eta_hat":
            step("Exact conversion to eta_hat (r = lam/eta, p = lam/(eta + lam), q = eta/(eta + lam), sigma**2 = r).",
                 out["eta_hat"])
        step("Omega'(w) = w/eta_hat(w) (envelope theorem).", duality.omega_integrand(out["eta_hat"]))
        out["omega"] = duality.omega_from_eta_hat(out["eta_hat"])
        step("Omega(w) = integral_0^w t/eta_hat(t) dt (normalised Omega(0) = 0).", out["omega"])
    out["f"] = duality.f_from_omega(out["omega"], out["eta_hat"])
    step("Concave conjugate in s = w**2: f(eta) = sup_w [2 Omega(w) - w**2/eta] (eta_hat inverted piece by piece).",
         out["f"])
    prime = duality.omega_integrand(out["eta_hat"])
    limits = {"Omega'(0+)": duality.limit_at(prime, sp.Integer(0)), "Omega'(oo)": duality.limit_at(prime, sp.oo),
              "Omega(oo)": duality.limit_at(out["omega"], sp.oo)}
    step("Limits that decide sparsity, unbiasedness and boundedness.",
         text=", ".join(f"{k} = {sp.sstr(v)}" for k, v in limits.items()))
    out.update(series0=series_at(out["omega"], sp.Integer(0), 3), series_oo=series_at(out["omega"], sp.oo, 3))
    step("Series of Omega at 0+.", out["series0"])
    step("Series of Omega at infinity.", out["series_oo"])
    return out


def verdicts(entry: Any, values: dict, record: Any = None) -> Any:
    """Run the full pipeline (symdual.catalog.get) and print its verdicts against the entry's expectations."""
    params = {k: v for k, v in values.items()}
    record = record if record is not None else sd.catalog.derive(entry, params)
    expected = entry.expected_for(params)
    step("The full pipeline (symdual.catalog.get): verdicts, each with how it was established.")
    for name, v in record.properties.items():
        want = expected.get(name)
        tag = "" if want is None else ("  (expected: holds)" if want else "  (expected: fails)")
        print(f"    {name:<13} {v.status:<10}{tag}  {v.detail}")
        if want is not None:
            check(f"verdict {name}", agrees(v.status, want), f"{v.status}, expected {'holds' if want else 'fails'}")
    print()
    return record


def finish() -> None:
    """Print the summary of the checks and exit 1 if any failed."""
    failed = [label for label, ok in _state["checks"] if not ok]
    print()
    print(f"Result: {len(_state['checks']) - len(failed)} of {len(_state['checks'])} checks passed"
          + (f"; FAILED: {', '.join(failed)}" if failed else "."))
    sys.exit(1 if failed else 0)


__all__ = [
    "check", "eta", "finish", "header", "mp_max_rel", "same_up_to_constant", "step", "verdicts", "walk_rule", "w",
]
