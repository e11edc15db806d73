"""Verify the theorems of both papers, or those that apply to your rule (``symdual verify``).

    symdual verify                          # every check, readable report
    symdual verify --quick --json           # a faster subset, machine-readable
    symdual verify --only duality --eta-hat 'w*(w+2)'

Groups: ``tikhonov`` (dropout = Tikhonov), ``eta_trick`` (Omega = 1/2 inf_eta
[w**2/eta + f] for every catalog entry), ``duality`` (monotone rule =>
subquadratic penalty => majorise-minimise), ``adaptive`` (adaptive dropout
solves the penalised problem), ``structured`` (Pal et al.). With a rule
option only the checks that apply to that rule run.

Each check ends PASS, FAIL (the theorem, or a claim of the record, is
contradicted) or UNCHECKED (the check could not be carried out: a reference
solver did not converge, the rule's expression could not be evaluated, the
check's time budget ran out; the reason is given in words). Exit codes: 1 if
any check fails, else 3 if any could not be checked, else 0 (see EXIT_*).

The checks are run here; the command's options are in symdual.cli.verify.
``timeout`` (each function's keyword) is the budget in seconds of each CAS
call of the derivations made here (None: the default).

With ``use_cache`` (``symdual verify --quick`` by default) the checks that
depend only on symdual and the catalog (a theorem group, or the checks of one
catalog entry at its default parameters) are kept in the on-disk cache
(:mod:`symdual.cache`, namespace ``verify``) when every one of them passed, keyed
by symdual's version and source fingerprint, the libraries' versions, the
entry, its parameters, the groups, ``quick`` and ``timeout``; a later run
replays them (as numbers, statuses and text, validated by
:meth:`Check.from_dict`; anything odd is a miss) instead of deriving the entry again.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from .theorems.check import FAIL, PASS, UNCHECKED, Check, NotChecked, NotConverged, plain_text

__all__ = ["GROUPS", "Check", "NotChecked", "NotConverged", "Run", "Progress", "verify_all", "verify_rule",
           "exit_code", "report", "format_check", "classify"]

EXIT_OK, EXIT_FAIL, EXIT_UNCHECKED = 0, 1, 3
"""Exit codes of ``symdual verify``: all checks passed (skipped ones aside); a check failed; none failed but
some could not be carried out. Bad input exits with 2 (symdual.errors.InputError)."""
CHECK_BUDGET_S = 120.0
"""Default wall-clock budget of one check (or theorem group), in seconds; past it the check is UNCHECKED."""
NUMERICAL = {
    ZeroDivisionError: "division by zero",
    OverflowError: "numerical overflow",
    FloatingPointError: "floating-point error",
    RecursionError: "recursion too deep",
    MemoryError: "out of memory",
}
"""Numerical trouble a check may run into, in plain words (mpmath's NoConvergence and numpy's LinAlgError too)."""

GROUPS = ("tikhonov", "eta_trick", "duality", "adaptive", "structured")
QUICK_SGD_STEPS = 1000
"""Steps of the dropout-SGD leg of the adaptive check with --quick (3000 in the full run). Every rule of
ADAPTIVE_RULES passes at 1000 (relative distance to the stationary point 5e-3 at most, tolerance 2e-2); each
step evaluates eta_hat once, which is what the quick run's adaptive checks spend their time on."""
CACHE_NAMESPACE = "verify"
CACHE_VERSION = 1
"""Version of the cached value's layout (part of the key)."""
ADAPTIVE_RULES = {"l1": 1.0, "logsum": 1.0, "mcp": 1.0, "vardrop_exact": 0.5}
"""Sparse catalog rules on which adaptive dropout is run, with the regression's lam. The SGD leg of
the check is sensitive to lam (weights pruned at keep probability < 0.05 and the absorbing zero):
e.g. logsum(2) at lam = 0.5 and vardrop_exact at lam = 1 leave one marginal weight's support wrong."""


class CheckTimeout(NotChecked):
    """A check ran past its wall-clock budget."""


def _numerical_words(exc: BaseException) -> str | None:
    """Plain words for numerical trouble (None: not numerical)."""
    import mpmath
    import numpy as np

    if isinstance(exc, mpmath.libmp.NoConvergence):
        return "an mpmath routine did not converge"
    if isinstance(exc, np.linalg.LinAlgError):
        return "a linear system is singular or ill-conditioned"
    return next((words for kind, words in NUMERICAL.items() if isinstance(exc, kind)), None)


def classify(what: str, exc: Exception) -> Check:
    """The Check of a check that raised: AssertionError -> FAIL (a violated step); NotChecked and numerical
    trouble -> UNCHECKED with the reason in words; anything else -> UNCHECKED as an error of the check itself."""
    message = str(exc).strip()
    kind = type(exc).__name__
    if isinstance(exc, AssertionError):
        return Check(what, "the check's assertions hold", "-", passed=False,
                     detail=f"assertion failed: {message or 'no message'}")
    if isinstance(exc, NotChecked):
        return Check.unchecked(what, f"could not check: {message or kind}")
    words = _numerical_words(exc)
    if words is not None:
        return Check.unchecked(what, f"could not check: {message} ({kind})" if message else
                               f"could not check: {words} ({kind}, no message)")
    return Check.unchecked(what, f"could not check: the check itself raised {kind}"
                                 f"{': ' + message if message else ' (no message)'}")


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Raise CheckTimeout inside the block after ``seconds`` (SIGALRM; a no-op off the main thread or without it)."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def ring(signum, frame):  # noqa: ARG001 - signal handler signature
        raise CheckTimeout(f"the check did not finish within its {seconds:g} s budget")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Progress:
    """Progress on a stream (stderr): one line per finished check, or a live line on a terminal."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.counts = {PASS: 0, FAIL: 0, UNCHECKED: 0}

    def _tally(self) -> str:
        return ", ".join(f"{n} {k.lower()}" for k, n in self.counts.items() if n)

    def start(self, what: str) -> None:
        if self.live:
            tally = self._tally()
            self.stream.write(f"\r\033[Kverify: {tally + '; ' if tally else ''}running {what} ...")
            self.stream.flush()

    def done(self, what: str, checks: list[Check], seconds: float, cached: bool = False) -> None:
        for c in checks:
            self.counts[c.status] += 1
        if self.live:
            return
        states = ", ".join(f"{c.status} {c.name}" for c in checks) or f"no check ({what} skipped)"
        self.stream.write(f"verify: {states} ({'from the cache' if cached else f'{seconds:.1f} s'})\n")
        self.stream.flush()

    def note(self, line: str) -> None:
        """A line of its own (not on a terminal, where the live line moves on instead)."""
        if not self.live:
            self.stream.write(f"verify: {line}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()


@dataclass
class Run:
    """The checks of one run, the lines about what was skipped, and where progress goes (None: nowhere).

    ``budget`` is each check's wall-clock budget in seconds (None: unbounded).
    """

    checks: list[Check] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    progress: Progress | None = None
    budget: float | None = None
    cached: int = 0
    """How many of ``checks`` were replayed from the on-disk cache."""

    def attempt(self, what: str, fn: Callable[[], Check | list[Check]]) -> None:
        """Run a check (or a group) under the budget; an exception becomes a FAIL or UNCHECKED check (classify)."""
        if self.progress is not None:
            self.progress.start(what)
        start = time.perf_counter()
        try:
            with time_budget(self.budget):
                out = fn()
            out = out if isinstance(out, list) else [out]
        except Exception as exc:  # noqa: BLE001 - classified: FAIL or UNCHECKED, never a crash
            out = [classify(what, exc)]
        self.checks += out
        if self.progress is not None:
            self.progress.done(what, out, time.perf_counter() - start)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.checks)

    def replay(self, what: str, checks: list[Check], skipped: list[str]) -> None:
        """Checks (and skipped lines) read back from the cache, reported as such."""
        if self.progress is not None:
            self.progress.start(what)
        self.checks += checks
        self.skipped += [line for line in skipped if line not in self.skipped]
        self.cached += len(checks)
        if self.progress is not None:
            self.progress.done(what, checks, 0.0, cached=True)


class _Cached:
    """The on-disk cache of checks that depend only on symdual and the catalog (see the module docstring)."""

    def __init__(self, use: bool, quick: bool, timeout: float | None) -> None:
        from . import cache

        self.cache = cache
        self.use = use and cache.prepare() is None
        self.parts = (CACHE_VERSION, _version(), _scipy_version(), bool(quick),
                      None if timeout is None else float(timeout))

    def key(self, *what: object) -> str:
        return self.cache.key("verify", *self.parts, *what)

    def load(self, key: str) -> tuple[list[Check], list[str]] | None:
        if not self.use:
            return None
        value = self.cache.load(CACHE_NAMESPACE, key, validate=_cached_reason)
        return None if value is None else ([Check.from_dict(c) for c in value["checks"]], list(value["skipped"]))

    def store(self, key: str, checks: list[Check], skipped: list[str]) -> None:
        """Keep the checks when there are some and every one passed (a failure or UNCHECKED is recomputed)."""
        if self.use and checks and all(c.status == PASS for c in checks):
            self.cache.store(CACHE_NAMESPACE, key, {"symdual": _version(), "checks": [c.as_dict() for c in checks],
                                                    "skipped": list(skipped)})

    def run(self, run: Run, what: str, key_parts: tuple, body: Callable[[], None]) -> None:
        """Replay ``what`` from the cache, or run ``body`` (which adds to ``run``) and keep what it added."""
        key = self.key(what, *key_parts) if self.use else ""
        hit = self.load(key)
        if hit is not None:
            run.replay(what, *hit)
            return
        first, skipped_before = len(run.checks), list(run.skipped)
        body()
        if self.use:
            self.store(key, run.checks[first:], [s for s in run.skipped if s not in skipped_before])


def _version() -> str:
    from . import __version__

    return __version__


def _scipy_version() -> str:
    """SciPy's version (the structured checks use it; the cache's fingerprint has SymPy's, NumPy's, mpmath's)."""
    try:
        import scipy
    except ImportError:
        return ""
    return scipy.__version__


def _cached_reason(value: object) -> str | None:
    """Why a cached value is not a list of checks written by this version of symdual (None: it is)."""
    if not isinstance(value, dict) or set(value) != {"symdual", "checks", "skipped"}:
        return "not a verify entry"
    if value["symdual"] != _version():
        return "written by another version of symdual"
    if not isinstance(value["checks"], list) or not value["checks"]:
        return "no checks"
    if not isinstance(value["skipped"], list):
        return "skipped lines that are not a list"
    try:
        checks = [Check.from_dict(c) for c in value["checks"]]
        for line in value["skipped"]:
            plain_text(line, "a skipped line")
    except ValueError as exc:
        return str(exc)
    if not all(c.status == PASS for c in checks):
        return "a check that did not pass (only passing checks are kept)"
    return None


def exit_code(run: Run) -> int:
    """EXIT_FAIL if a check failed, else EXIT_UNCHECKED if one could not be carried out, else EXIT_OK."""
    if run.count(FAIL):
        return EXIT_FAIL
    return EXIT_UNCHECKED if run.count(UNCHECKED) else EXIT_OK


def _theorem_module(name: str):
    """The module symdual.theorems.<name> of a theorem group, imported when first needed."""
    if name == "tikhonov":
        from .theorems import tikhonov as mod
    elif name == "structured":
        from .theorems import structured as mod
    elif name == "adaptive":
        from .theorems import adaptive as mod
    else:
        raise ValueError(f"no theorem module {name!r}")
    return mod


def _from_module(run: Run, name: str, call: Callable) -> Callable[[], list[Check]]:
    """A thunk running ``call(module)``; a module that is not available (None) gives no check and a line."""
    def go() -> list[Check]:
        mod = _theorem_module(name)
        if mod is None:
            line = f"{name}: symdual.theorems.{name} not available"
            run.skipped += [] if line in run.skipped else [line]
            return []
        out = call(mod)
        return out if isinstance(out, list) else [out]

    return go


def _sparse(d) -> bool:
    v = d.properties.get("sparsity")
    return v is not None and v.status in ("proved", "supported")


def _can(d, piece: str) -> bool:
    """Whether the record can evaluate ``piece`` (``can_evaluate``, or the older ``numeric`` set)."""
    return d.can_evaluate(piece) if hasattr(d, "can_evaluate") else piece in d.numeric


def _adaptive(run: Run, d, label: str, lam: float, quick: bool) -> None:
    """Adaptive dropout on a sparse regression with the record's eta_hat and Omega'."""
    if not (_can(d, "eta_hat") and _can(d, "omega_prime")):
        run.skipped.append(f"adaptive.{label}: eta_hat or Omega' not available")
        return
    run.attempt(f"adaptive.{label}", _from_module(run, "adaptive", lambda mod: mod.check_adaptive(
        lambda a: d.evaluate("eta_hat", a), lambda a: d.evaluate("omega_prime", a), lam,
        n=100, d=50, k=5, seed=0, name=label, sgd_steps=QUICK_SGD_STEPS if quick else 3000)))


def scalar_checks(run: Run, d, label: str, groups: tuple[str, ...], quick: bool,
                  claimed: bool | None = None, timeout: float | None = None) -> None:
    """The eta-trick identity and the duality certificates of one scalar record (those in ``groups``).

    The record is already derived: ``timeout`` is accepted for a uniform signature; the checks of
    symdual.theorems keep their own budgets.
    """
    from .theorems.certificates import check_duality
    from .theorems.identity import check_eta_trick

    if "eta_trick" in groups:
        run.attempt(f"eta_trick.{label}", lambda: check_eta_trick(d, quick=quick, label=label))
    if "duality" in groups:
        run.attempt(f"duality.{label}", lambda: check_duality(d, quick=quick, label=label, claimed_monotone=claimed))


def _group(run: Run, name: str, quick: bool, cached: _Cached) -> None:
    cached.run(run, name, (), lambda: run.attempt(name, _from_module(run, name, lambda mod: mod.checks(quick=quick))))


def verify_all(groups: tuple[str, ...], quick: bool = False, timeout: float | None = None, *,
               progress: Progress | None = None, budget: float | None = None, use_cache: bool = False) -> Run:
    """Every check of the chosen groups: the papers' theorems and every catalog entry (derived under ``timeout``).

    ``progress`` reports each check as it finishes; ``budget`` bounds each check (seconds); ``use_cache``
    replays (and keeps) the checks that depend only on symdual and the catalog (module docstring).
    """
    run = Run(progress=progress, budget=budget)
    cached = _Cached(use_cache, quick, timeout)
    if "tikhonov" in groups:
        _group(run, "tikhonov", quick, cached)
    if {"eta_trick", "duality", "adaptive"} & set(groups):
        _catalog(run, groups, quick, timeout, cached)
    if "structured" in groups:
        _group(run, "structured", quick, cached)
    return run


def _catalog(run: Run, groups: tuple[str, ...], quick: bool, timeout: float | None, cached: _Cached) -> None:
    try:
        from . import catalog
    except ModuleNotFoundError:
        run.skipped.append("catalog: symdual.catalog not available (eta_trick, duality, adaptive skipped)")
        return
    scalar = tuple(g for g in GROUPS if g in groups and g in ("eta_trick", "duality", "adaptive"))
    for name in catalog.names():
        params = sorted((k, repr(v)) for k, v in catalog.entry(name).resolve().items()) if cached.use else ()
        cached.run(run, f"catalog.{name}", (tuple(params), scalar),
                   lambda name=name: _entry_checks(run, catalog, name, groups, quick, timeout))


def _entry_checks(run: Run, catalog, name: str, groups: tuple[str, ...], quick: bool, timeout: float | None) -> None:
    """Derive one catalog entry and run its checks (a derivation that raises is a failed check); a
    non-separable entry has only the eta-trick check, so without that group it is not derived."""
    if catalog.entry(name).kind == "non-separable" and "eta_trick" not in groups:
        return
    try:
        d = catalog.derive(name, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a broken entry is a failed check, not a crash
        run.checks.append(Check(f"catalog.{name}", "the catalog entry derives", "-", passed=False,
                                detail=f"error: {type(exc).__name__}: {exc}"))
        return
    if not getattr(d, "separable", True):
        if "eta_trick" in groups:
            run.attempt(f"eta_trick.{name}", lambda: _nonseparable_check(name, d))
        return
    expected = catalog.entry(name).expected_for().get("monotone")
    scalar_checks(run, d, name, groups, quick, claimed=expected, timeout=timeout)
    if "adaptive" in groups and name in ADAPTIVE_RULES:
        _adaptive(run, d, name, ADAPTIVE_RULES[name], quick)


def _nonseparable_check(name: str, d) -> Check:
    """HardThresh by brute force over supports (k capped at 3 on R^8 so the check is not trivial);
    ARD against direct minimisation over eta."""
    import numpy as np

    from .theorems.nonseparable import check_ard, check_hardthresh

    if name == "hardthresh":
        k = int(d.params["k"])
        from .methods import hardthresh

        return check_hardthresh(lambda v: hardthresh.omega(v, min(k, 3)), lambda v: hardthresh.eta_hat(v, min(k, 3)),
                                min(k, 3))
    return check_ard(lambda v: d.omega(v), np.asarray(d.params["X"], dtype=float), float(d.params["tau"]))


def verify_rule(d, groups: tuple[str, ...], quick: bool = False, timeout: float | None = None, *,
                progress: Progress | None = None, budget: float | None = None) -> Run:
    """The checks that apply to one user rule (its record ``d``): eta-trick, duality, adaptive dropout if sparse.

    ``d`` is derived by the caller (under its budget); ``timeout`` is passed on to :func:`scalar_checks`;
    ``progress`` and ``budget`` as in :func:`verify_all`.
    """
    run = Run(progress=progress, budget=budget)
    label = d.title()
    for g in ("tikhonov", "structured"):
        if g in groups:
            run.skipped.append(f"{g}: a theorem about dropout itself, not about a rule (run without a rule option)")
    scalar_checks(run, d, label, groups, quick, timeout=timeout)
    if "adaptive" in groups:
        if _sparse(d):
            _adaptive(run, d, label, float(d.lam), quick)
        else:
            status = d.properties["sparsity"].status if "sparsity" in d.properties else "unknown"
            run.skipped.append(f"adaptive.{label}: applies to sparsity-inducing penalties (sparsity: {status})")
    return run


# ---------------------------------------------------------------- output


def format_check(c: Check) -> str:
    """PASS/FAIL line, then the statement, hypotheses, proved and numeric steps, indented; UNCHECKED and why."""
    if c.status == UNCHECKED and not (c.numeric or c.proved):
        return f"UNCHECKED  {c.name}\n      {c.detail}"
    lines = [f"{c.status}  {c.name}", f"      statement:  {c.statement}",
             f"      hypotheses: {c.hypotheses}"]
    lines += [f"      proved:     {p}" for p in c.proved]
    lines += [f"      numeric:    {n}" for n in c.numeric]
    if c.worst_error is not None:
        lines.append(f"      worst error: {c.worst_error:.2e}")
    if c.detail:
        label = {PASS: "detail", FAIL: "FAILED", UNCHECKED: "UNCHECKED"}[c.status]
        lines.append(f"      {label}: {c.detail}")
    return "\n".join(lines)


def report(run: Run, seconds: float) -> str:
    """Every check, the skipped lines, then 'verify: P passed, F failed[, U not checked][, S skipped] (T s)'."""
    failed = [c.name for c in run.checks if c.status == FAIL]
    unchecked = [c.name for c in run.checks if c.status == UNCHECKED]
    body = [format_check(c) for c in run.checks]
    body += [f"SKIP  {s}" for s in run.skipped]
    summary = f"verify: {run.count(PASS)} passed, {len(failed)} failed"
    if unchecked:
        summary += f", {len(unchecked)} not checked"
    if run.skipped:
        summary += f", {len(run.skipped)} skipped"
    if run.cached:
        summary += f"; {run.cached} replayed from the cache"
    summary += f" ({seconds:.0f} s)"
    if failed:
        summary += "\nfailed: " + ", ".join(failed)
    if unchecked:
        summary += "\nnot checked: " + ", ".join(unchecked)
    return "\n\n".join(body + [summary])
