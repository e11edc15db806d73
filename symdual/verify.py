"""Verify the theorems of both papers, or those that apply to your rule (``symdual verify``).

    symdual verify                          # every check, readable report
    symdual verify --quick --json           # a faster subset, machine-readable
    symdual verify --only duality --eta-hat 'w*(w+2)'

Groups: ``tikhonov`` (dropout = Tikhonov), ``eta_trick`` (Omega = 1/2 inf_eta
[w**2/eta + f] for every catalog entry), ``duality`` (monotone rule =>
subquadratic penalty => majorise-minimise), ``adaptive`` (adaptive dropout
solves the penalised problem), ``structured`` (Pal et al.). With a rule
option only the checks that apply to that rule run. Exit code 1 if any
check fails.

The checks are run here; the command's options are in symdual.cli.verify.
``timeout`` (each function's keyword) is the budget in seconds of each CAS
call of the derivations made here (None: the default).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .theorems.check import Check

GROUPS = ("tikhonov", "eta_trick", "duality", "adaptive", "structured")
ADAPTIVE_RULES = {"l1": 1.0, "logsum": 1.0, "mcp": 1.0, "vardrop_exact": 0.5}
"""Sparse catalog rules on which adaptive dropout is run, with the regression's lam. The SGD leg of
the check is sensitive to lam (weights pruned at keep probability < 0.05 and the absorbing zero):
e.g. logsum(2) at lam = 0.5 and vardrop_exact at lam = 1 leave one marginal weight's support wrong."""


@dataclass
class Run:
    """The checks of one run, and the lines about what was skipped."""

    checks: list[Check] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def attempt(self, what: str, fn: Callable[[], Check | list[Check]]) -> None:
        """Run a check (or a group), turning an unexpected error into a failed check."""
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - reported as a failed check
            self.checks.append(Check(what, "the check ran to completion", "-", passed=False,
                                     detail=f"error: {type(exc).__name__}: {exc}"))
            return
        self.checks += out if isinstance(out, list) else [out]


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
        n=100, d=50, k=5, seed=0, name=label, sgd_steps=1500 if quick else 3000)))


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


def _group(run: Run, name: str, quick: bool) -> None:
    run.attempt(name, _from_module(run, name, lambda mod: mod.checks(quick=quick)))


def verify_all(groups: tuple[str, ...], quick: bool = False, timeout: float | None = None) -> Run:
    """Every check of the chosen groups: the papers' theorems and every catalog entry (derived under ``timeout``)."""
    run = Run()
    if "tikhonov" in groups:
        _group(run, "tikhonov", quick)
    if {"eta_trick", "duality", "adaptive"} & set(groups):
        _catalog(run, groups, quick, timeout)
    if "structured" in groups:
        _group(run, "structured", quick)
    return run


def _catalog(run: Run, groups: tuple[str, ...], quick: bool, timeout: float | None) -> None:
    try:
        from . import catalog
    except ModuleNotFoundError:
        run.skipped.append("catalog: symdual.catalog not available (eta_trick, duality, adaptive skipped)")
        return
    for name in catalog.names():
        try:
            d = catalog.derive(name, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - a broken entry is a failed check, not a crash
            run.checks.append(Check(f"catalog.{name}", "the catalog entry derives", "-", passed=False,
                                    detail=f"error: {type(exc).__name__}: {exc}"))
            continue
        if not getattr(d, "separable", True):
            if "eta_trick" in groups:
                run.attempt(f"eta_trick.{name}", lambda name=name, d=d: _nonseparable_check(name, d))
            continue
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


def verify_rule(d, groups: tuple[str, ...], quick: bool = False, timeout: float | None = None) -> Run:
    """The checks that apply to one user rule (its record ``d``): eta-trick, duality, adaptive dropout if sparse.

    ``d`` is derived by the caller (under its budget); ``timeout`` is passed on to :func:`scalar_checks`.
    """
    run = Run()
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
    """PASS/FAIL line, then the statement, hypotheses, proved and numeric steps, indented."""
    lines = [f"{'PASS' if c.passed else 'FAIL'}  {c.name}", f"      statement:  {c.statement}",
             f"      hypotheses: {c.hypotheses}"]
    lines += [f"      proved:     {p}" for p in c.proved]
    lines += [f"      numeric:    {n}" for n in c.numeric]
    if c.worst_error is not None:
        lines.append(f"      worst error: {c.worst_error:.2e}")
    if c.detail:
        lines.append(f"      {'detail' if c.passed else 'FAILED'}: {c.detail}")
    return "\n".join(lines)


def report(run: Run, seconds: float) -> str:
    failed = [c for c in run.checks if not c.passed]
    body = [format_check(c) for c in run.checks]
    body += [f"SKIP  {s}" for s in run.skipped]
    summary = f"verify: {len(run.checks) - len(failed)} passed, {len(failed)} failed"
    if run.skipped:
        summary += f", {len(run.skipped)} skipped"
    summary += f" ({seconds:.0f} s)"
    if failed:
        summary += "\nfailed: " + ", ".join(c.name for c in failed)
    return "\n\n".join(body + [summary])
