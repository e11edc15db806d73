"""Derivation time of each rule of issue 2, cold (new process state) and warm.

Run: python benchmarks/bench_derive.py
Prints one row per rule: seconds for the full derivation (eta_hat, Omega, f,
series, six verdicts), the provenance of Omega, and the ratio to a baseline
measured in the same run: one bare ``sympy.integrate`` of l1's w/eta_hat
(the cheapest CAS call a derivation can make, fork overhead excluded).
"Warm" repeats the derivation in the same process (SymPy's own cache warm;
symdual keeps no derivation cache of its own, the table has a disk cache).
"certify s" is the cost of the certification stage within it: the checks of
every closed form against its definition at 30 digits (symdual.certify),
re-run here on the derived pieces.
"""
from __future__ import annotations

import time

import sympy as sp

import symdual as sd
from symdual import certify
from symdual.rules import w

RULES = {
    "l1": dict(eta_hat="w"),
    "lp (p=1/2)": dict(eta_hat="w**(3/2)"),
    "LogSum(2)": dict(eta_hat="w*(w+eps)", params={"eps": 2}),
    "Log2Sum(2)": dict(eta_hat="(w**2+eps)/2", params={"eps": 2}),
    "MCP(b=1/2)": dict(eta_hat="Piecewise((b*w/(b-w), w < b), (oo, True))", params={"b": sp.Rational(1, 2)}),
    "SCAD(a=3,lam=1)": dict(eta_hat="Piecewise((w, w <= 1), (2*w/(3-w), w < 3), (oo, True))"),
    "Standout(c=1)": dict(keep_prob="sigmoid(w - c)", params={"c": 1}),
    "plain dropout(p=1/4)": dict(drop_rate="1/4"),
    "no closed form (timeout=1)": dict(eta_hat="w*exp(w**2)*(1+w)**(1/3)", timeout=1),
}


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def certification_seconds(d) -> float:
    """Seconds of the checks the certification stage ran on ``d``'s closed forms."""
    closed = {k for k, p in d.provenance.items() if p.method == "closed form" and "certified" in p.precision}
    checks = []
    if "omega" in closed and d.rule.kind == "dual":
        checks.append(lambda: certify.omega_from_dual(d.omega, d.eta_hat, d.f_dual))
    elif "omega" in closed:
        checks.append(lambda: certify.omega_from_integral(d.omega, d.eta_hat))
    if "f_dual" in closed:
        checks.append(lambda: certify.dual_from_omega(d.f_dual, d.omega, d.eta_hat))
    return sum(timed(c) for c in checks)


def main() -> None:
    base = min(timed(lambda: sp.integrate(w / w, (w, 0, w))) for _ in range(5))
    print(f"baseline: sympy.integrate of l1's Omega' = {base * 1e3:.2f} ms\n")
    print(f"{'rule':<28}{'cold s':>9}{'warm s':>9}{'certify s':>11}{'cold/base':>11}  Omega provenance")
    total = 0.0
    for name, kwargs in RULES.items():
        rec = {}
        cold = timed(lambda rec=rec, kwargs=kwargs: rec.setdefault("d", sd.derive(**kwargs)))
        warm = timed(lambda kwargs=kwargs: sd.derive(**kwargs))
        total += cold
        cert = certification_seconds(rec["d"])
        print(f"{name:<28}{cold:>9.2f}{warm:>9.2f}{cert:>11.2f}{cold / base:>11.0f}  "
              f"{rec['d'].provenance['omega'].method}")
    print(f"\nall rules together (cold): {total:.2f} s")


if __name__ == "__main__":
    main()
