"""Time `symdual table`: cold (empty cache) against warm (every row cached), as separate processes.

    python benchmarks/bench_table.py [--warm-runs 5] [--method NAME ...]

Baseline in the same run: `python -c "import symdual"` (the import every
command pays).  Prints one table with the times and the ratios; the warm
runs must report every row from the cache (else the source changed between
runs and the numbers are flagged).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--method", action="append", default=[])
    args = parser.parse_args()
    table = [sys.executable, "-m", "symdual", "table"] + [a for m in args.method for a in ("--method", m)]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, SYMDUAL_CACHE_DIR=cache)
        imports = [timed([sys.executable, "-c", "import symdual"], env)[0] for _ in range(args.warm_runs)]
        cold, cold_out = timed(table, env)
        warm_runs = [timed(table, env) for _ in range(args.warm_runs)]
    warm = [t for t, _ in warm_runs]
    footers = [out.strip().splitlines()[-1] for _, out in warm_runs]
    rows = len([line for line in cold_out.splitlines() if " | " in line]) - 1
    all_hits = all(f" {rows} of {rows} rows from the cache" in f for f in footers)
    base, w = statistics.median(imports), statistics.median(warm)
    print(f"symdual table ({rows} rows), {args.warm_runs} warm runs, python {sys.version.split()[0]}")
    print(f"{'run':<28}{'seconds':>10}{'x import':>10}")
    print(f"{'import symdual (baseline)':<28}{base:>10.3f}{1:>10.2f}")
    print(f"{'cold (empty cache)':<28}{cold:>10.3f}{cold / base:>10.2f}")
    print(f"{'warm (median)':<28}{w:>10.3f}{w / base:>10.2f}")
    print(f"{'warm (min .. max)':<28}{min(warm):>5.3f}..{max(warm):.3f}")
    print(f"cold / warm = {cold / w:.1f}x; warm under 2 s: {'yes' if w < 2 else 'NO'}")
    if not all_hits:
        print("WARNING: a warm run derived rows (the source changed during the benchmark?):", footers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
