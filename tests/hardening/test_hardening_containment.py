"""The containment layer symdual.bounded: memory cap, no orphans, threads and pool workers, CLI signals.

Independent references: exact SymPy identities (int w dw = w**2/2, Omega = w**3/3 for q = 1/(1+w), i.e.
eta_hat = 1/w and Omega' = w/eta_hat = w**2), the kernel's own view of processes (/proc), exit codes.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sympy as sp

import symdual
from symdual import bounded as B
from symdual.bounded import Derived, Failed, TimedOut, bounded
from symdual.rules import w as W  # the symbol the derivations use

HERE = Path(__file__).parent
SLEEPER = HERE / "hardening_sleeper.py"
ROOT = HERE.parent.parent
w = sp.Symbol("w", positive=True)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux /proc and prctl")

# A rule whose CAS steps keep SymPy busy for many seconds (each call up to --timeout 30).
SLOW_RULE = "w*exp(w**3)*(1+sin(w)**2)"


# ---------------------------------------------------------------- helpers (module level: picklable)


def _allocate(nbytes: int) -> int:
    return len(bytearray(nbytes))


def _kill_myself() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _integrate_w() -> sp.Expr:
    return sp.integrate(w, w)


def _omega_of_penalty(penalty: str) -> sp.Expr:
    return symdual.derive(penalty=penalty).omega


def _bounded_in_worker(_: int) -> tuple[str, object]:
    out = bounded(_integrate_w, timeout=30)
    return type(out).__name__, out.value if out.ok else out.reason


def _descendants(pid: int) -> set[int]:
    """All live descendants of ``pid``, from /proc/<pid>/task/*/children."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            todo += [k for k in kids if k not in found]
            found.update(kids)
    return {p for p in found if _alive(p)}


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_until(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _popen(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen, kids: set[int]) -> None:
    """Tidy up after a test, whatever happened."""
    for pid in [proc.pid, *kids]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.communicate(timeout=30)


# ---------------------------------------------------------------- 1. memory


def test_memory_cap_fails_cleanly_and_parent_is_unaffected():
    before = resource.getrlimit(resource.RLIMIT_AS)
    out = bounded(_allocate, 4 << 30, timeout=60)
    assert isinstance(out, Failed)
    assert out.error.startswith("out of memory") and isinstance(out.exception, MemoryError)
    assert resource.getrlimit(resource.RLIMIT_AS) == before  # the cap lives in the child only
    assert _allocate(64 << 20) == 64 << 20  # the parent still allocates freely
    again = bounded(_integrate_w, timeout=30)
    assert isinstance(again, Derived) and sp.simplify(again.value - w**2 / 2) == 0


def test_memory_cap_follows_the_environment(monkeypatch):
    monkeypatch.setenv("SYMDUAL_MEMORY_MB", "64")
    assert B.memory_cap_mb() == 64.0
    small = bounded(_allocate, 256 << 20, timeout=60)
    assert isinstance(small, Failed) and "64 MiB" in small.error
    monkeypatch.setenv("SYMDUAL_MEMORY_MB", "1024")
    assert bounded(_allocate, 256 << 20, timeout=60) == Derived(256 << 20, pytest.approx(0, abs=60))


@pytest.mark.parametrize("text", ["", "junk", "-5", "0", "nan", "inf", "1e30"])
def test_memory_cap_junk_gives_default(monkeypatch, text):
    monkeypatch.setenv("SYMDUAL_MEMORY_MB", text)
    assert B.memory_cap_mb() == B.DEFAULT_MEMORY_MB == 2048.0


def test_child_killed_by_a_signal_is_a_plain_failure():
    out = bounded(_kill_myself, timeout=30)
    assert isinstance(out, Failed) and "SIGKILL" in out.error
    assert bounded(_allocate, 10, timeout=30).value == 10


def test_timeout_still_stops_the_child():
    out = bounded(time.sleep, 30, timeout=0.5)
    assert isinstance(out, TimedOut) and out.seconds < 30


# ---------------------------------------------------------------- 2. no orphans


def _sleeper_with_child() -> tuple[subprocess.Popen, int]:
    proc = _popen([str(SLEEPER)])
    parent = proc.stdout.readline().split()
    child = proc.stdout.readline().split()
    assert parent == ["parent", str(proc.pid)] and child[0] == "child", (parent, child)
    pid = int(child[1])
    assert pid in _descendants(proc.pid)  # the kernel agrees: it is the parent's child
    return proc, pid


@linux_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_child_dies_with_its_parent(sig):
    proc, child = _sleeper_with_child()
    try:
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=10) == -sig
        assert _wait_until(lambda: not _alive(child), 5), f"child {child} outlived its parent"
    finally:
        _stop(proc, {child})


def _cli_with_child() -> tuple[subprocess.Popen, set[int]]:
    proc = _popen(["-m", "symdual", "derive", "--timeout", "30", "--eta-hat", SLOW_RULE])
    assert _wait_until(lambda: bool(_descendants(proc.pid)) or proc.poll() is not None, 60)
    kids = _descendants(proc.pid)
    assert kids and proc.poll() is None, "the CLI finished before a CAS child was seen"
    return proc, kids


@linux_only
def test_cli_sigterm_exits_cleanly_and_kills_the_child():
    proc, kids = _cli_with_child()
    try:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM  # SystemExit(143), not death by signal
        assert _wait_until(lambda: not any(_alive(k) for k in kids), 5), kids
    finally:
        _stop(proc, kids)


@linux_only
def test_cli_sigkill_leaves_no_child():
    proc, kids = _cli_with_child()
    try:
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert _wait_until(lambda: not any(_alive(k) for k in kids), 5), kids
    finally:
        _stop(proc, kids)


def test_cli_signal_handlers_are_restored_and_thread_safe():
    from symdual.cli import main

    before = signal.getsignal(signal.SIGTERM)
    assert main(["derive", "--penalty", "w**2/2", "--json"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(main(["derive", "--penalty", "w**2/2", "--json"])))
    worker.start()
    worker.join(120)
    assert codes == [0]


# ---------------------------------------------------------------- 3. threads and pool workers


def test_bounded_and_derive_from_a_thread():
    results: dict[str, object] = {}

    def job() -> None:
        results["bounded"] = bounded(_integrate_w, timeout=30)
        results["omega"] = symdual.derive(penalty="w**2/2").omega

    worker = threading.Thread(target=job)
    worker.start()
    worker.join(120)
    out = results["bounded"]
    assert isinstance(out, Derived) and sp.simplify(out.value - w**2 / 2) == 0
    assert sp.simplify(results["omega"] - W**2 / 2) == 0
    assert symdual.derive(penalty="w**2/2").omega == results["omega"]


def test_bounded_and_derive_from_a_pool_worker():
    with mp.get_context("fork").Pool(1) as pool:  # daemonic workers
        kind, value = pool.apply(_bounded_in_worker, (0,))
        omega = pool.apply(_omega_of_penalty, ("w**2/2",))
    assert kind == "Derived" and sp.simplify(value - w**2 / 2) == 0
    assert sp.simplify(omega - W**2 / 2) == 0
    assert omega == symdual.derive(penalty="w**2/2").omega


def test_concurrent_calls_from_threads_each_get_their_own_answer():
    """Children forked by sibling threads inherit each other's pipes; answers must still arrive promptly."""
    results: dict[int, object] = {}

    def job(k: int) -> None:
        results[k] = bounded(time.sleep, 20, timeout=3) if k == 0 else bounded(_allocate, k, timeout=30)

    workers = [threading.Thread(target=job, args=(k,)) for k in range(5)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    assert isinstance(results[0], TimedOut)
    assert {k: results[k].value for k in range(1, 5)} == {1: 1, 2: 2, 3: 3, 4: 4}


# ---------------------------------------------------------------- 4. a parent with a busy thread


def test_derive_is_right_with_a_busy_thread():
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        d = symdual.derive(keep_prob="1/(1+w)")
    finally:
        stop.set()
        spinner.join()
    assert sp.simplify(d.eta_hat - 1 / W) == 0  # q = eta/(eta + 1) = 1/(1 + w)  =>  eta_hat = 1/w
    assert sp.simplify(d.omega - W**3 / 3) == 0  # Omega' = w/eta_hat = w**2


def test_fallback_without_fork(monkeypatch):
    monkeypatch.delattr(os, "fork")
    out = bounded(_integrate_w, timeout=30)
    assert isinstance(out, Derived) and sp.simplify(out.value - w**2 / 2) == 0
    assert isinstance(bounded(time.sleep, 5, timeout=0.2), TimedOut)
    failed = bounded(_allocate, -1, timeout=5)
    assert isinstance(failed, Failed) and "ValueError" in failed.error
