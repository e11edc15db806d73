"""Run a computer-algebra call in a contained child process: bounded in time and memory, never orphaned.

SymPy's ``integrate``, ``solve``, ``limit`` and ``series`` can run for minutes, eat gigabytes and have
no timeout; signals only work in the main thread. :func:`bounded` runs ``fn(*args)`` in a child made
with ``os.fork`` (no :mod:`multiprocessing`) and returns a typed outcome: :class:`Derived`,
:class:`TimedOut` or :class:`Failed`. What the layer guarantees, on Linux:

* Time: the child is killed (SIGKILL) when the budget runs out, and always reaped before
  :func:`bounded` returns or raises (``finally``: KeyboardInterrupt and SystemExit included).
* Memory: the child may map at most its size at start + a cap (``RLIMIT_AS``); the cap is
  :data:`DEFAULT_MEMORY_MB` MiB unless SYMDUAL_MEMORY_MB says otherwise (:func:`memory_cap_mb`).
  Going over it gives ``Failed("out of memory ...")``; a child killed by a signal (the kernel's OOM
  killer, a crash) gives ``Failed`` with the signal's name. The parent is never affected.
* No orphans: the child asks the kernel for SIGKILL when the thread that forked it dies
  (``prctl(PR_SET_PDEATHSIG)``), so even a SIGKILL of the parent takes the child with it; a child that
  finds itself orphaned already exits. The CLI turns SIGTERM/SIGHUP into SystemExit, so the
  ``finally`` above runs there too.
* Anywhere: calls from any thread and from daemonic :mod:`multiprocessing` pool workers work (a bare
  fork has no "daemonic processes may not have children" rule). Where ``os.fork`` does not exist,
  the call runs in a daemon thread of this process under a signal-free budget: the result is still
  typed, but a call that runs over is abandoned, not stopped, and memory is not capped.
* Threads: the child is a fork, so a parent with other busy threads pays only the GIL hand-offs of
  the few waits here (measured: no effect on the child's own speed; spawn/forkserver start-up costs
  far more per call and re-imports ``__main__``). A lock held by another thread at fork time can at
  worst hang the child, and the time budget turns that into :class:`TimedOut`.

* Sessions: inside ``with session():`` (each derivation opens one) an identical call is answered
  once, and the other calls run one after the other in a single warm worker, a forked child that keeps
  SymPy's cache and the modules it imported from call to call (a fresh child per call repeats that
  work: 2 to 2.5 times the CPU time on the catalog). Each call in it has the guarantees above: the
  budget (the worker is killed, the next call forks a new one), the memory cap above the worker's
  size at the call's start, no orphans. See :class:`Session`.
* Lazy imports: what a child imports is lost with it, so the modules SymPy and SciPy import on
  first use (:data:`PRELOAD`) are imported in the parent before its first child.

Elsewhere (no ``prctl``, no ``RLIMIT_AS``), the limits that the platform lacks are skipped silently.
"""
from __future__ import annotations

import contextvars
import ctypes
import functools
import importlib
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import deadline

try:
    import resource
except ImportError:  # not POSIX
    resource = None  # type: ignore[assignment]

DEFAULT_TIMEOUT = 4.0
"""Default budget per CAS call, in seconds (unless SYMDUAL_TIMEOUT says otherwise)."""
MAX_TIMEOUT = 3600.0
DEFAULT_MEMORY_MB = 2048.0
"""Default memory cap per CAS call, in MiB above the child's size at start (unless SYMDUAL_MEMORY_MB says otherwise)."""
MAX_MEMORY_MB = float(1 << 22)
"""Largest cap SYMDUAL_MEMORY_MB may ask for (4 TiB)."""

PRELOAD = (
    "sympy.physics.units", "sympy.combinatorics", "sympy.tensor.tensor", "sympy.sets.handlers.functions",
    "sympy.sets.handlers.issubset", "sympy.sets.setexpr", "sympy.integrals.manualintegrate",
    "sympy.integrals.heurisch", "sympy.integrals.risch", "sympy.polys.polymatrix", "scipy.special",
)
"""Modules that SymPy and SciPy import on first use (``simplify`` imports sympy.physics.units, 0.16 s;
``integrate`` the Risch and manual integrators; ``as_set`` the set handlers): imported once in the
parent before its first child, since what a child imports is lost with it."""

_PR_SET_PDEATHSIG = 1
_HEADER = struct.Struct("!Q")
_POLL_SLICE = 0.25
"""Seconds between checks that the child is still alive while waiting for its answer."""


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


def _env_number(name: str, default: float, largest: float) -> float:
    """The environment variable ``name`` if it is a number in (0, largest], else ``default``."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if 0 < value <= largest else default


def default_timeout() -> float:
    """SYMDUAL_TIMEOUT if it is a number in (0, MAX_TIMEOUT], else DEFAULT_TIMEOUT."""
    return _env_number("SYMDUAL_TIMEOUT", DEFAULT_TIMEOUT, MAX_TIMEOUT)


def memory_cap_mb() -> float:
    """SYMDUAL_MEMORY_MB if it is a number in (0, MAX_MEMORY_MB], else DEFAULT_MEMORY_MB."""
    return _env_number("SYMDUAL_MEMORY_MB", DEFAULT_MEMORY_MB, MAX_MEMORY_MB)


# ---------------------------------------------------------------- the child's side


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, else None (looked up in the parent, so the child only calls it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # the C library is linked into Python
    except (OSError, AttributeError):
        return None


def _die_with_parent(parent: int) -> None:
    """PR_SET_PDEATHSIG = SIGKILL; exit at once if the parent is already gone."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _mapped_bytes() -> int | None:
    """This process's virtual size (the first field of /proc/self/statm, in pages), or None."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _cap_memory(cap_bytes: int, ceiling: int | None = None) -> None:
    """RLIMIT_AS soft limit = size now + cap, never above ``ceiling`` (default: the soft limit in force) nor
    the hard limit. A worker passes the soft limit it started with, so each call may grow by the full cap."""
    size = _mapped_bytes()
    if resource is None or size is None or not hasattr(resource, "RLIMIT_AS"):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    top = soft if ceiling is None else ceiling
    limit = size + cap_bytes
    if top != resource.RLIM_INFINITY:
        limit = min(limit, top)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def _quiet_signals() -> None:
    """Default actions for SIGTERM/SIGHUP (not the parent's Python handlers); SIGINT is left to the parent."""
    for name, action in (("SIGTERM", signal.SIG_DFL), ("SIGHUP", signal.SIG_DFL), ("SIGINT", signal.SIG_IGN)):
        if hasattr(signal, name):
            try:
                signal.signal(getattr(signal, name), action)
            except (ValueError, OSError):
                pass


def _last_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _answer(fn: Callable[..., Any], args: tuple, cap_mb: float) -> bytes:
    """The pickled ("ok", value) or ("error", (line, exception)) message for ``fn(*args)``."""
    try:
        message: tuple = ("ok", fn(*args))
    except MemoryError as exc:
        message = ("error", (f"out of memory (more than {cap_mb:.0f} MiB)", exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        message = ("error", (_last_line(exc), exc))
    try:
        return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # the value or the exception does not pickle
        line = message[1][0] if message[0] == "error" else f"the result could not be sent ({_last_line(exc)})"
        return pickle.dumps(("error", (line, None)), pickle.HIGHEST_PROTOCOL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _child(fn: Callable[..., Any], args: tuple, fds: tuple[int, int], parent: int, cap_mb: float) -> None:
    """Body of the forked child: contain, compute, answer, and leave with os._exit (never return)."""
    code = 1
    try:
        os.close(fds[0])
        _die_with_parent(parent)
        _quiet_signals()
        _cap_memory(int(cap_mb * (1 << 20)))
        _write_all(fds[1], _answer(fn, args, cap_mb))
        code = 0
    except BaseException:  # noqa: BLE001 - a child must never unwind into the parent's stack
        pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


# ---------------------------------------------------------------- the parent's side


def _flush_std_streams() -> None:
    """Flush stdout/stderr so that the child does not inherit (and repeat) buffered output."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


@functools.cache
def _preload() -> None:
    """Import :data:`PRELOAD` and lambdify once for NumPy and SciPy (``from numpy import *`` loads numpy.f2py,
    numpy.testing, ...: 0.1 s) in this process, so that no child pays for them again."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        import sympy

        x = sympy.Symbol("x")
        sympy.lambdify(x, x, modules=["scipy", "numpy"])
        sympy.lambdify(x, x, modules="mpmath")
    except ImportError:
        pass


def _start(fn: Callable[..., Any], args: tuple, cap_mb: float) -> tuple[int, int]:
    """Fork the child; (its pid, the read end of its answer pipe)."""
    _prctl()
    _preload()
    _flush_std_streams()
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:
        _child(fn, args, (read_fd, write_fd), parent, cap_mb)
    os.close(write_fd)
    return pid, read_fd


def _exited(pid: int) -> int | None:
    """The wait status if the child has ended (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 0
    return status if done == pid else None


def _read_answer(fd: int, pid: int, deadline: float) -> tuple[bytes | None, int | None]:
    """Read the length-prefixed answer until complete, EOF, the child's end, or the deadline.

    Returns (message or None, wait status if the child was reaped here or None)."""
    buf = bytearray()
    status: int | None = None
    while True:
        need = _HEADER.size + (_HEADER.unpack_from(buf)[0] if len(buf) >= _HEADER.size else 0)
        if len(buf) >= _HEADER.size and len(buf) >= need:
            return bytes(buf[_HEADER.size:need]), status
        left = deadline - time.perf_counter()
        if left <= 0 or (status is not None and not select.select([fd], [], [], 0)[0]):
            return None, status
        if select.select([fd], [], [], min(left, _POLL_SLICE))[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None, status if status is not None else _wait(pid)
            buf += chunk
        elif status is None:
            status = _exited(pid)  # then drain what the pipe still holds


def _wait(pid: int) -> int | None:
    """Blocking wait for a child that closed its pipe (it is exiting), None if already reaped."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _death(status: int | None) -> str:
    """A plain reason for a child that ended without answering."""
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = " (out of memory?)" if sig == signal.SIGKILL else ""
        return f"the child process was killed by {name}{hint}"
    if status is not None and os.WIFEXITED(status):
        return f"the child process exited with code {os.WEXITSTATUS(status)} without an answer"
    return "the child process died"


def _outcome(message: bytes, elapsed: float) -> Outcome:
    status, payload = pickle.loads(message)
    if status == "ok":
        return Derived(payload, elapsed)
    return Failed(payload[0], elapsed, payload[1])


def _forked(fn: Callable[..., Any], args: tuple, budget: float, cap_mb: float) -> Outcome:
    _preload()  # before the clock starts: the imports are not the call's
    start = time.perf_counter()
    try:
        pid, fd = _start(fn, args, cap_mb)
    except OSError as exc:
        return Failed(f"could not start a child process ({exc.strerror or exc})", time.perf_counter() - start, exc)
    reaped = False
    try:
        message, status = _read_answer(fd, pid, start + budget)
        reaped = status is not None
    finally:
        os.close(fd)
        if not reaped:
            _kill_and_reap(pid)
    elapsed = time.perf_counter() - start
    if message is not None:
        return _outcome(message, elapsed)
    return TimedOut(elapsed) if status is None else Failed(_death(status), elapsed)


def _threaded(fn: Callable[..., Any], args: tuple, budget: float) -> Outcome:
    """In-process fallback without fork: a daemon thread, waited for at most ``budget`` seconds."""
    start = time.perf_counter()
    box: list[tuple[str, Any]] = []

    def target() -> None:
        try:
            box.append(("ok", fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box.append(("error", exc))

    worker = threading.Thread(target=target, name="symdual-bounded", daemon=True)
    worker.start()
    worker.join(budget)
    elapsed = time.perf_counter() - start
    if not box:
        return TimedOut(elapsed)
    kind, value = box[0]
    return Derived(value, elapsed) if kind == "ok" else Failed(_last_line(value), elapsed, value)


# ---------------------------------------------------------------- sessions: a memo and a warm worker


def _state() -> tuple:
    """What a fresh child inherits and a worker must be told: mpmath's precision, NumPy's error handling,
    the warning filters and the seconds left of the derivation's deadline (:mod:`symdual.deadline`)."""
    mp, np = sys.modules.get("mpmath"), sys.modules.get("numpy")
    return (mp.mp.prec if mp is not None else None, np.geterr() if np is not None else None,
            list(warnings.filters), deadline.remaining())


def _with_state(state: tuple, fn: Callable[..., Any], args: tuple, cap_mb: float) -> bytes:
    """:func:`_answer` under the parent's ``state``, in an empty context (as a fresh child would see it)."""
    prec, errors, filters, left = state

    def run() -> bytes:
        mp, np = sys.modules.get("mpmath"), sys.modules.get("numpy")
        if prec is not None and mp is not None:
            mp.mp.prec = prec
        if errors is not None and np is not None:
            np.seterr(**errors)
        with warnings.catch_warnings():
            warnings.filters[:] = filters
            if left == float("inf"):
                return _answer(fn, args, cap_mb)
            with deadline.within(left):
                return _answer(fn, args, cap_mb)

    return contextvars.Context().run(run)


def _read_message(fd: int) -> bytes | None:
    """One length-prefixed message (blocking), or None at end of file."""
    buf = bytearray()
    while len(buf) < _HEADER.size or len(buf) < _HEADER.size + _HEADER.unpack_from(buf)[0]:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        buf += chunk
    return bytes(buf[_HEADER.size:])


def _serve(fds: tuple[int, int, int, int], parent: int) -> None:
    """Body of a worker: answer requests until the parent closes its pipe, then os._exit (never return)."""
    request_read, request_write, answer_read, answer_write = fds
    code = 1
    try:
        os.close(request_write)
        os.close(answer_read)
        _die_with_parent(parent)
        _quiet_signals()
        ceiling = resource.getrlimit(resource.RLIMIT_AS)[0] if resource is not None and hasattr(
            resource, "RLIMIT_AS") else None
        while True:
            data = _read_message(request_read)
            if data is None:
                code = 0
                break
            try:
                call, state = pickle.loads(data)
                fn, args, cap_mb = pickle.loads(call)
            except Exception as exc:  # noqa: BLE001 - e.g. a function defined after the fork: the parent forks
                _write_all(answer_write, pickle.dumps(("refused", _last_line(exc)), pickle.HIGHEST_PROTOCOL))
                continue
            _cap_memory(int(cap_mb * (1 << 20)), ceiling)
            _write_all(answer_write, _with_state(state, fn, args, cap_mb))
            _flush_std_streams()
    except BaseException:  # noqa: BLE001 - a worker must never unwind into the parent's stack
        pass
    finally:
        _flush_std_streams()
        os._exit(code)


@dataclass
class _Worker:
    pid: int
    request: int
    answer: int

    @classmethod
    def start(cls) -> _Worker:
        _prctl()
        _preload()
        _flush_std_streams()
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        fds = (request_read, request_write, answer_read, answer_write)
        parent = os.getpid()
        try:
            pid = os.fork()
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        if pid == 0:
            _serve(fds, parent)
        os.close(request_read)
        os.close(answer_write)
        return cls(pid, request_write, answer_read)

    def stop(self, reaped: bool = False) -> None:
        for fd in (self.request, self.answer):
            try:
                os.close(fd)
            except OSError:
                pass
        if not reaped:
            _kill_and_reap(self.pid)


def _damaging(exc: BaseException | None) -> bool:
    """An error after which a worker's state is not to be trusted (out of memory, SystemExit, ...)."""
    return isinstance(exc, MemoryError) or (exc is not None and not isinstance(exc, Exception))


class Session:
    """The CAS calls of one derivation: identical calls answered once, the others by one warm worker.

    A fresh child per call starts from the parent's caches and loses what it learnt (SymPy's cache,
    the modules it imported); a worker keeps them from call to call. It is a forked child like any
    other: killed when a call runs over its budget (the next call forks a new one), capped at
    :func:`memory_cap_mb` above its size at the start of each call, dead with its parent, and told the
    parent's state with each call (:func:`_state`). A call that does not pickle (a closure, a bound
    method of an object holding lambdified code) gets a fresh child as before.

    Memo: the answer of an identical call (same function, pickled arguments, memory cap, mpmath precision
    and NumPy error handling) is replayed, unpickled afresh; a call that timed out is not tried again
    with a budget no larger.
    """

    def __init__(self) -> None:
        self.owner = (os.getpid(), threading.get_ident())
        self.memo: dict[bytes, tuple[bytes | TimedOut, float]] = {}
        self.hits = 0
        self._worker: _Worker | None = None

    def owns(self) -> bool:
        return self.owner == (os.getpid(), threading.get_ident())

    def call(self, fn: Callable[..., Any], args: tuple, budget: float, cap_mb: float) -> Outcome:
        try:
            state = _state()
            call = pickle.dumps((fn, args, cap_mb), pickle.HIGHEST_PROTOCOL)
            request = pickle.dumps((call, state), pickle.HIGHEST_PROTOCOL)
            key = call + pickle.dumps(state[:2], pickle.HIGHEST_PROTOCOL)  # precision and NumPy errors
        except Exception:  # noqa: BLE001 - not picklable: a fresh child, no memo
            return _forked(fn, args, budget, cap_mb)
        known = self.memo.get(key)
        if known is not None:
            answer, limit = known
            if isinstance(answer, bytes):
                self.hits += 1
                return _outcome(answer, 0.0)
            if budget <= limit:
                self.hits += 1
                return answer
        start = time.perf_counter()
        message, out = self._ask(request, budget)
        if message is None and out is None:
            return _forked(fn, args, budget, cap_mb)
        if message is not None:
            status, payload = pickle.loads(message)
            if status == "refused":
                return _forked(fn, args, budget, cap_mb)
            out = _outcome(message, time.perf_counter() - start)
            self.memo[key] = (message, budget)
            if status == "error" and _damaging(payload[1]):
                self._stop()  # a fresh worker for the next call
        elif isinstance(out, TimedOut):
            self.memo[key] = (out, budget)
        return out

    def _ask(self, request: bytes, budget: float) -> tuple[bytes | None, Outcome | None]:
        """(the worker's answer, None), (None, the TimedOut or Failed outcome), or (None, None): no worker
        took the request (found dead twice), so a fresh child is to take it."""
        _preload()  # before the clock starts: the imports are not the call's
        start = time.perf_counter()
        for _ in range(2):
            try:
                if self._worker is None:
                    self._worker = _Worker.start()
            except OSError as exc:
                return None, Failed(f"could not start a child process ({exc.strerror or exc})",
                                    time.perf_counter() - start, exc)
            worker = self._worker
            try:
                _write_all(worker.request, request)
            except OSError:  # found dead before the call (killed from outside): a new one
                self._stop()
                continue
            message, status = _read_answer(worker.answer, worker.pid, start + budget)
            if message is not None:
                return message, None
            self._worker = None
            worker.stop(reaped=status is not None)
            elapsed = time.perf_counter() - start
            return None, (TimedOut(elapsed) if status is None else Failed(_death(status), elapsed))
        return None, None

    def _stop(self) -> None:
        if self._worker is not None:
            worker, self._worker = self._worker, None
            worker.stop()

    def close(self) -> None:
        self._stop()


_SESSION: contextvars.ContextVar[Session | None] = contextvars.ContextVar("symdual_cas_session", default=None)


@contextmanager
def session() -> Iterator[Session]:
    """Run the CAS calls of the body in one :class:`Session` (inside another session: that one)."""
    outer = _SESSION.get()
    if outer is not None and outer.owns():
        yield outer
        return
    current = Session()
    token = _SESSION.set(current)
    try:
        yield current
    finally:
        _SESSION.reset(token)
        current.close()


def bounded(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Outcome:
    """Call ``fn(*args)`` in a contained child; kill it after ``timeout`` s (default: :func:`default_timeout`).

    The child may grow by :func:`memory_cap_mb` MiB and dies with its parent; see the module docstring."""
    budget = default_timeout() if timeout is None else timeout
    if budget <= 0:
        return TimedOut(0.0)
    if not hasattr(os, "fork"):
        return _threaded(fn, args, budget)
    current = _SESSION.get()
    if current is not None and current.owns():
        return current.call(fn, args, budget, memory_cap_mb())
    return _forked(fn, args, budget, memory_cap_mb())
