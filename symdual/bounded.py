"""Run a computer-algebra call under a wall-clock budget that really stops it.

SymPy's ``integrate``, ``solve``, ``limit`` and ``series`` can run for minutes
and have no timeout; signals only work in the main thread. Each call here runs
in a forked child process that is killed when the budget runs out, and the
outcome is typed: :class:`Derived`, :class:`TimedOut` or :class:`Failed`.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 4.0
"""Default budget per CAS call, in seconds (unless SYMDUAL_TIMEOUT says otherwise)."""
MAX_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Derived:
    value: Any
    seconds: float
    ok = True


@dataclass(frozen=True)
class TimedOut:
    seconds: float
    ok = False

    @property
    def reason(self) -> str:
        return f"timed out after {self.seconds:.1f} s"


@dataclass(frozen=True)
class Failed:
    error: str
    seconds: float
    exception: BaseException | None = None
    ok = False

    @property
    def reason(self) -> str:
        return f"failed: {self.error}"


Outcome = Derived | TimedOut | Failed


def default_timeout() -> float:
    """SYMDUAL_TIMEOUT if it is a number in (0, MAX_TIMEOUT], else DEFAULT_TIMEOUT."""
    text = os.environ.get("SYMDUAL_TIMEOUT", "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if 0 < value <= MAX_TIMEOUT else DEFAULT_TIMEOUT


def _child(conn: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        try:
            conn.send(("error", (last, exc)))
        except Exception:  # the exception itself may not pickle
            conn.send(("error", (last, None)))
    finally:
        conn.close()


def bounded(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Outcome:
    """Call ``fn(*args)`` in a child process; kill it after ``timeout`` seconds."""
    budget = default_timeout() if timeout is None else timeout
    if budget <= 0:
        return TimedOut(0.0)
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    start = time.perf_counter()
    proc = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(budget):
            proc.kill()
            return TimedOut(time.perf_counter() - start)
        try:
            status, payload = recv.recv()
        except (EOFError, OSError):
            return Failed("the child process died", time.perf_counter() - start)
    finally:
        recv.close()
        proc.join(timeout=1)
        if proc.is_alive():
            proc.kill()
            proc.join()
    elapsed = time.perf_counter() - start
    if status == "ok":
        return Derived(payload, elapsed)
    return Failed(payload[0], elapsed, payload[1])
