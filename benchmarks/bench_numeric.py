"""Speed, accuracy and memory of symdual.numeric against a per-point baseline, in one run.

For each penalty without closed form (variational dropout, exact and
approximate KL; HardConcrete), Omega(w) - Omega(0) is evaluated at w
log-uniform in [1e-6, 1e6]:

* ours: ``EtaTrickNumeric.omega_increment`` on 10**5 and 10**6 points (best of
  3, after one warm-up call that builds the lazy tables; build time shown);
* baseline: ``scipy.optimize.minimize_scalar(method="bounded")`` per point on
  the eta-trick objective w**2/eta + f in log eta (in log a for HardConcrete,
  whose f is implicit in eta), on [-40, 40] (log a in [-40, 30]), with the
  library's own float64 f; timed on a subsample and extrapolated linearly to
  10**5 points (the table says so);
* errors: max relative error of Omega - Omega(0) against the mpmath path at
  40 digits on a log-spaced subsample (HardConcrete beyond w_critical:
  Omega - Omega(0) = 1/2 exactly);
* peak memory: tracemalloc peak of the 10**6-point call (input excluded).

Run: ``python benchmarks/bench_numeric.py [--baseline-points 2000] [--ref-points 100]``.
"""
from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from collections.abc import Callable

import mpmath
import numpy as np
from scipy.optimize import minimize_scalar

from symdual.numeric import dawson, hardconcrete, vardrop_approx, vardrop_exact
from symdual.numeric.gates import HardConcrete
from symdual.numeric.vardrop import _approx_increment

Objective = Callable[[float, float], float]


def exact_objective(t: float, w2: float) -> float:
    return w2 * np.exp(-t) + float(dawson.f_increment(np.array([t]))[0])


def approx_objective(t: float, w2: float) -> float:
    return w2 * np.exp(-t) + float(_approx_increment(np.array([t]))[0])


_GATE = HardConcrete()


def hardconcrete_objective(t: float, w2: float) -> float:
    tau = _GATE.log_eta(np.array([t]))[0][0]
    return w2 * np.exp(-tau) + float(_GATE.f(t))


def baseline(
    objective: Objective, w: np.ndarray, bounds: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Per-point bounded minimisation: (Omega - Omega(0), argmin, seconds, mean objective calls per point)."""
    omega, argmin = np.empty(w.size), np.empty(w.size)
    calls = 0
    start = time.perf_counter()
    for i, x in enumerate(w):
        res = minimize_scalar(objective, bounds=bounds, args=(x * x,), method="bounded")
        omega[i], argmin[i], calls = 0.5 * res.fun, res.x, calls + res.nfev
    return omega, argmin, time.perf_counter() - start, calls / w.size


def best_time(fun: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fun()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_memory(fun: Callable[[], object]) -> float:
    """tracemalloc peak (MB) of one call."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fun()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def max_rel_error(values: np.ndarray, reference: list[mpmath.mpf]) -> float:
    """Max relative error over the finite references."""
    return max(float(abs((v - r) / r)) for v, r in zip(values, reference, strict=False) if mpmath.isfinite(r))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-points", type=int, default=2000)
    parser.add_argument("--ref-points", type=int, default=100)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    w5 = np.exp(rng.uniform(np.log(1e-6), np.log(1e6), 10**5))
    w6 = np.exp(rng.uniform(np.log(1e-6), np.log(1e6), 10**6))
    w_base = w5[: args.baseline_points]
    w_ref = np.geomspace(1e-6, 1e6, args.ref_points)

    methods = [
        ("VarDrop exact KL", vardrop_exact, exact_objective, (-40.0, 40.0)),
        ("VarDrop approx KL", vardrop_approx, approx_objective, (-40.0, 40.0)),
        ("HardConcrete", hardconcrete, hardconcrete_objective, (-40.0, 30.0)),
    ]
    rows = []
    for name, factory, objective, bounds in methods:
        num = factory()
        build = best_time(lambda num=num: num.omega_increment(np.array([1.0])), repeat=1)
        t5 = best_time(lambda num=num: num.omega_increment(w5))
        t6 = best_time(lambda num=num: num.omega_increment(w6))
        mem = peak_memory(lambda num=num: num.omega_increment(w6))
        _, _, t_base, calls = baseline(objective, w_base, bounds)
        t_base5 = t_base * (w5.size / w_base.size)
        ref_omega = [num.omega_increment_mp(x, dps=40) for x in w_ref]
        ref_eta = [num.eta_hat_mp(x, dps=40) for x in w_ref]
        base_omega, base_t, _, _ = baseline(objective, w_ref, bounds)
        base_eta = np.exp(_GATE.log_eta(base_t)[0]) if factory is hardconcrete else np.exp(base_t)
        errors = (
            max_rel_error(base_omega, ref_omega),
            max_rel_error(base_eta, ref_eta),
            max_rel_error(num.omega_increment(w_ref), ref_omega),
            max_rel_error(num.eta_hat(w_ref), ref_eta),
        )
        rows.append((name, build, t5, t6, t_base5, t_base5 / t5, calls, *errors, mem, num.precision))

    print(f"symdual.numeric benchmark ({platform.processor() or platform.machine()}, numpy {np.__version__})")
    print(f"w log-uniform in [1e-6, 1e6]; baseline timed on {w_base.size} points, extrapolated linearly to 1e5;")
    print(f"errors: max rel err vs the mpmath path at 40 digits at {w_ref.size} log-spaced w\n")
    head = (
        f"{'method':<18} {'build s':>7} {'ours 1e5 s':>10} {'ours 1e6 s':>10} {'baseline 1e5 s*':>15} "
        f"{'speed-up':>9} {'calls/pt':>8} {'base err Om':>11} {'base err eta':>12} {'our err Om':>10} "
        f"{'our err eta':>11} {'claimed':>7} {'peak MB 1e6':>11}"
    )
    print(head)
    print("-" * len(head))
    for name, build, t5, t6, tb, ratio, calls, beo, bee, oeo, oee, mem, claim in rows:
        print(
            f"{name:<18} {build:7.3f} {t5:10.4f} {t6:10.3f} {tb:15.1f} {ratio:8.0f}x {calls:8.1f} "
            f"{beo:11.1e} {bee:12.1e} {oeo:10.1e} {oee:11.1e} {claim:7.0e} {mem:11.0f}"
        )
    print("\n* baseline: scipy.optimize.minimize_scalar(method='bounded') per point (default xatol = 1e-5),")
    print("  timed on the subsample and multiplied by 1e5 / subsample size.")
    print("  Om = Omega - Omega(0); eta = eta_hat (HardConcrete: finite references only, w < w_critical).")


if __name__ == "__main__":
    main()
