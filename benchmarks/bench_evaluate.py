"""Speed and memory of ``Derivation.evaluate`` in one run.

(a) time of ``evaluate("omega", x)`` against the bare NumPy expression of the same formula (the closed
    form lambdified with NumPy, no rewrite, no guards) on 10**6 points log-uniform in [1e-6, 1e6], for
    the catalog's closed forms (best of 5, after a warm-up call); ratio = evaluate / bare.
(b) tracemalloc peak of ``evaluate`` on 10**6 and 10**7 points as a multiple of the input size, for a
    closed form (logsum), a quadrature (keep_prob = 1 - exp(-w): no closed form of Omega) and a
    numeric dual (vardrop_exact, Chebyshev tables).

No pass/fail: the table is the result. Run: ``python benchmarks/bench_evaluate.py [--points 1000000]``.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
import sympy as sp

import symdual
from symdual import catalog
from symdual.rules import w as W


def best_time(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def speed_table(n: int) -> None:
    x = np.geomspace(1e-6, 1e6, n)
    print(f"(a) evaluate('omega') vs the bare NumPy expression, {n:.0e} points in [1e-6, 1e6]")
    print(f"{'name':<16} {'evaluate ms':>12} {'bare ms':>10} {'ratio':>7}  omega")
    for name in catalog.names():
        try:
            d = catalog.get(name)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and moves on
            print(f"{name:<16} (not built: {exc})")
            continue
        ev = getattr(d, "evaluators", {}).get("omega")
        if ev is None or ev.kind != "closed form":
            continue
        bare_fn = sp.lambdify(W, d.omega, modules="numpy")

        def bare(fn=bare_fn):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(x)

        ours, plain = best_time(lambda d=d: d.evaluate("omega", x)), best_time(bare)
        print(f"{name:<16} {1e3 * ours:>12.2f} {1e3 * plain:>10.2f} {ours / plain:>7.2f}  {d.omega}")


def peak_multiple(fn: Callable[[np.ndarray], object], n: int) -> float:
    x = np.geomspace(1e-6, 1e6, n)
    fn(x[:100])
    tracemalloc.start()
    fn(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / x.nbytes


def memory_table(sizes: list[int]) -> None:
    cases = {
        "closed form (logsum)": catalog.get("logsum"),
        "quadrature (1 - exp(-w))": symdual.derive(keep_prob="1 - exp(-w)"),
        "table (vardrop_exact)": catalog.get("vardrop_exact"),
    }
    print("\n(b) tracemalloc peak of evaluate('omega') / input bytes")
    print(f"{'case':<28} {'evaluator':<12} " + " ".join(f"{f'n={n:.0e}':>10}" for n in sizes))
    for label, d in cases.items():
        kind = d.evaluators["omega"].kind
        row = [peak_multiple(lambda x, d=d: d.evaluate("omega", x), n) for n in sizes]
        print(f"{label:<28} {kind:<12} " + " ".join(f"{m:>10.2f}" for m in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10**6)
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[10**6, 10**7])
    args = parser.parse_args()
    speed_table(args.points)
    memory_table(args.memory_sizes)


if __name__ == "__main__":
    main()
