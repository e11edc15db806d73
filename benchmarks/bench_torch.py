"""Forward+backward time of the exported torch penalties against hand-written torch, in one run.

For each case and size n, w = 2 * randn(n) (float32, requires_grad) and one timed call is
``w.grad = None; penalty(w).backward()``. Cases (lam = the catalog's):

    logsum(eps=2)         exported penalty_module  vs  lam * log1p(|w|/eps).sum()
    mcp(a=1/2, lam=sqrt2) exported penalty_module  vs  lam * where(|w| <= b, |w| - w**2/(2b), b/2).sum(), b = a*lam
    vardrop_exact         exported (Chebyshev table, autograd.Function)  vs  the exported LogSum

each eager and under torch.compile (inductor, compile time excluded), the variants interleaved within each
repeat (so drift hits all alike); the median of the repeats is reported. Targets (issue 11): closed forms at
most 1.1x the hand-written eager time, the table-based penalty at most 2x LogSum. On CUDA also the achieved
bandwidth, 12 bytes per float32 parameter (w read by the forward and the backward, the gradient written).
On CPU one thread (torch.set_num_threads(1)). No pass/fail: the table is the result.

Run: ``python benchmarks/bench_torch.py [--quick] [--sizes 1e6 1e7] [--device cuda] [--peak-gbs 4800]``.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch

import symdual as sd
from symdual.export import torch as sdt

Fn = Callable[[torch.Tensor], torch.Tensor]
TARGET = {"logsum": 1.1, "mcp": 1.1, "vardrop_exact": 2.0}
BYTES_PER_PARAM = 12


def hand_logsum(eps: float, lam: float) -> Fn:
    def penalty(w: torch.Tensor) -> torch.Tensor:
        return lam * torch.log1p(w.abs() / eps).sum()
    return penalty


def hand_mcp(b: float, lam: float) -> Fn:
    def penalty(w: torch.Tensor) -> torch.Tensor:
        a = w.abs()
        return lam * torch.where(a <= b, a - a * a / (2 * b), b / 2).sum()
    return penalty


def cases() -> dict[str, tuple[Fn, Fn]]:
    """name -> (exported penalty, baseline of the same formula)."""
    logsum, mcp, vardrop = (sd.catalog.derive(name, timeout=30) for name in ("logsum", "mcp", "vardrop_exact"))
    exported_logsum = sdt.penalty_module(logsum)
    b = float(mcp.params["a"] * mcp.lam)
    return {
        "logsum": (exported_logsum, hand_logsum(float(logsum.params["eps"]), float(logsum.lam))),
        "mcp": (sdt.penalty_module(mcp), hand_mcp(b, float(mcp.lam))),
        "vardrop_exact": (sdt.penalty_module(vardrop), exported_logsum),
    }


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_time(fn: Fn, w: torch.Tensor) -> float:
    """Seconds of one forward+backward."""
    sync(w.device)
    t0 = time.perf_counter()
    w.grad = None
    fn(w).backward()
    sync(w.device)
    return time.perf_counter() - t0


def measure(variants: dict[str, Fn], w: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median seconds per variant, the variants interleaved in every repeat (after two warm-up calls each,
    which also compile the compiled ones)."""
    for fn in variants.values():
        step_time(fn, w)
        step_time(fn, w)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, fn in variants.items():
            times[k].append(step_time(fn, w))
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", nargs="+", type=float, default=None,
                        help="parameter counts (default 1e6 1e7, and 1e8 on CUDA)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per variant (default 15)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (5)")
    parser.add_argument("--no-compile", action="store_true", help="eager only")
    parser.add_argument("--peak-gbs", type=float, default=None,
                        help="the device's memory bandwidth in GB/s, to print the fraction reached")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    sizes = [int(n) for n in (args.sizes or ([1e6, 1e7, 1e8] if device.type == "cuda" else [1e6, 1e7]))]
    repeats = args.repeats or (5 if args.quick else 15)
    built = cases()
    for exported, _ in built.values():
        if isinstance(exported, torch.nn.Module):
            exported.to(device)
    print(f"torch {torch.__version__}, device {device}"
          f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ', 1 thread'}, "
          f"float32, median of {repeats} interleaved repeats, forward+backward")
    cuda = device.type == "cuda"
    head = (f"{'case':<14} {'n':>6} {'exported':>9} {'baseline':>9} {'ratio':>6} {'target':>6}"
            + ("" if args.no_compile else f" {'compiled':>9} {'baseline':>9} {'ratio':>6}")
            + (f" {'GB/s':>7}" if cuda and not args.no_compile else "") + "   (ms; baseline: hand-written, "
            "vardrop_exact: exported LogSum)")
    print(head)
    for n in sizes:
        gen = torch.Generator(device=device).manual_seed(0)
        w = (2 * torch.randn(n, generator=gen, device=device)).requires_grad_()
        for name, (exported, baseline) in built.items():
            variants = {"exported": exported, "baseline": baseline}
            if not args.no_compile:
                torch._dynamo.reset()
                variants["c_exported"] = torch.compile(exported, dynamic=False)
                variants["c_baseline"] = torch.compile(baseline, dynamic=False)
            t = measure(variants, w, repeats)
            line = (f"{name:<14} {f'1e{round(math.log10(n))}':>6} {1e3 * t['exported']:>9.3f} "
                    f"{1e3 * t['baseline']:>9.3f} {t['exported'] / t['baseline']:>6.2f} {TARGET[name]:>6.1f}")
            if not args.no_compile:
                line += (f" {1e3 * t['c_exported']:>9.3f} {1e3 * t['c_baseline']:>9.3f} "
                         f"{t['c_exported'] / t['c_baseline']:>6.2f}")
                if cuda:
                    gbs = BYTES_PER_PARAM * n / t["c_exported"] / 1e9
                    line += f" {gbs:>7.0f}" + ("" if args.peak_gbs is None else f" ({gbs / args.peak_gbs:.0%})")
            print(line, flush=True)
        del w


if __name__ == "__main__":
    main()
