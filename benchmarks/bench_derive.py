"""Cold derivation time of each catalog closed form, with the certification's share and a same-run baseline.

Run: python benchmarks/bench_derive.py [NAME ...]
Each rule is derived in a fresh Python process (``import symdual`` done, nothing else: no SymPy cache, no
module that SymPy imports lazily), so "cold s" is what a user's first ``sd.catalog.get(name)`` costs.
Columns: wall seconds of the derivation (target: under 2 s); CPU seconds of the process and its CAS
children together (the machine may be shared: CPU time is the steadier number); "certify s", the wall
seconds of the certification calls within it (symdual.certify: every closed form checked against its
definition at 30 digits); "warm s", the same derivation again in that process; "cold/base", the ratio to
a baseline measured in the same run: one bare ``sympy.integrate`` of l1's w/eta_hat in a fresh process
(the cheapest CAS call a derivation can make), so rows compare across machines.
"""
from __future__ import annotations

import json
import subprocess
import sys

NAMES = ("l1", "lp", "logsum", "log2sum", "mcp", "scad", "plain_dropout", "gaussian_dropout", "standout")
TARGET_S = 2.0

CHILD = r'''
import json, resource, sys, time

def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

if sys.argv[1] == "--baseline":
    import sympy as sp
    w = sp.Symbol("w", positive=True)
    c0, t = cpu(), time.perf_counter()
    sp.integrate(w / w, (w, 0, w))
    print(json.dumps({"wall": time.perf_counter() - t, "cpu": cpu() - c0}))
    raise SystemExit
import symdual as sd
from symdual import certify, derivation

spent = []
real = derivation.bounded

def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    try:
        return real(fn, *args, **kwargs)
    finally:
        if getattr(fn, "__module__", "") == certify.__name__:
            spent.append(time.perf_counter() - start)

derivation.bounded = timed
c0, t = cpu(), time.perf_counter()
d = sd.catalog.get(sys.argv[1])
wall, used = time.perf_counter() - t, cpu() - c0
t = time.perf_counter()
sd.catalog.get(sys.argv[1])
print(json.dumps({"wall": wall, "cpu": used, "certify": sum(spent), "warm": time.perf_counter() - t,
                  "omega": d.provenance["omega"].method}))
'''


def measure(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(names: tuple[str, ...] = NAMES) -> None:
    base = min((measure("--baseline") for _ in range(3)), key=lambda r: r["wall"])
    print(f"baseline: sympy.integrate of l1's Omega' in a fresh process = {base['wall'] * 1e3:.1f} ms "
          f"(cpu {base['cpu'] * 1e3:.1f} ms)\n")
    print(f"{'rule':<18}{'cold s':>8}{'cpu s':>8}{'certify s':>11}{'warm s':>8}{'cold/base':>11}  "
          f"{'< 2 s':<6} Omega provenance")
    total = cpu = 0.0
    for name in names:
        r = measure(name)
        total += r["wall"]
        cpu += r["cpu"]
        print(f"{name:<18}{r['wall']:>8.2f}{r['cpu']:>8.2f}{r['certify']:>11.2f}{r['warm']:>8.2f}"
              f"{r['wall'] / base['wall']:>11.0f}  {'yes' if r['wall'] < TARGET_S else 'NO':<6} {r['omega']}")
    print(f"\nall rules together (cold): {total:.2f} s wall, {cpu:.2f} s cpu")


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or NAMES)
