""":func:`derive`: from a rule to Omega, f, eta_hat, their series and verdicts.

    rule -> eta_hat (exact conversion) -> Omega (integral) -> f (conjugate)
    penalty Omega -> eta_hat = w/Omega' -> f
    dual f -> (Omega, eta_hat) from w**2 = eta**2 f'(eta)

``derive`` is a short pipeline of named stages over a mutable draft, frozen
into a :class:`~symdual.record.Derivation` at the end:

    main pieces -> limits -> evaluators -> series -> supplement -> verdicts -> dual f

Every CAS step runs under the derivation's :class:`Budget`, in one
:func:`symdual.bounded.session` (identical calls answered once, the others in
one warm child process); when one fails, the draft falls back to series and
numerics, and ``provenance`` says how each piece was obtained and to what precision.
"""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from . import certify, deadline, duality
from .asymptotics import integrated_series, series_at
from .bounded import MAX_TIMEOUT, TimedOut, bounded, default_timeout, session
from .errors import DivergentPenalty, InputError
from .inputs import build_rule, check_eta_hat, check_range, exact_params, given_rule
from .numeric.evaluators import ClosedForm, EnginePiece, Quadrature, as_float, small_argument
from .record import Derivation, Evaluator, Provenance, Supplement
from .rules import Rule, eta, to_eta_hat, w
from .verdict import Verdict

TOTAL_BUDGET_FACTOR = 4
"""All CAS calls of one derivation share a deadline of this many per-call budgets."""
SMALL_ARGUMENT_TERMS = 12
"""Order of the series at 0+ that replaces a closed-form Omega at tiny |w| (where certified)."""
STEP_NAMES = {
    "omega_from_eta_hat": "Omega as the integral of w/eta_hat", "simplest": "a simpler form",
    "series_at": "a series of Omega", "integrated_series": "a series of Omega from Omega'",
    "limit_at": "a limit", "_limit_in_eta": "a limit of f", "eta_hat_from_omega": "eta_hat = w/Omega'",
    "f_from_omega": "the dual f", "omega_from_f": "Omega from the dual f", "tidy": "a tidier form",
    "omega_integrand": "a tidy form of Omega' = w/eta_hat",
}
"""What each CAS step derives, for the notes of a step that failed (no SymPy internals)."""
PIECE_NAMES = {"omega": "Omega", "eta_hat": "eta_hat", "omega_prime": "Omega'", "f_dual": "the dual f"}
VERDICT_NAMES = ("monotone", "subquadratic", "sparsity", "unbiased", "bounded", "continuity")
CERTIFY_POINTS = 41
"""A user dual's numeric Omega is certified against mpmath (30 digits) at this many w in [1e-6, 1e6]."""


@dataclass(frozen=True)
class Budget:
    """Time for CAS calls: ``per_call`` seconds each, all of them before ``deadline`` (time.monotonic)."""

    per_call: float
    deadline: float

    @classmethod
    def start(cls, per_call: float | None) -> Budget:
        try:
            per = default_timeout() if per_call is None else float(per_call)
        except (TypeError, ValueError):
            raise InputError(f"timeout must be a number of seconds, got {per_call!r}") from None
        if not 0 < per <= MAX_TIMEOUT:  # also refuses nan
            raise InputError(f"timeout must be in (0, {MAX_TIMEOUT:g}] seconds, got {per_call!r}")
        return cls(per, time.monotonic() + TOTAL_BUDGET_FACTOR * per)

    def remaining(self) -> float:
        return min(self.per_call, self.deadline - time.monotonic())

    def in_process(self) -> float:
        """Seconds for the work done in this process: up to the CAS deadline plus as long again."""
        return self.deadline + TOTAL_BUDGET_FACTOR * self.per_call - time.monotonic()


@dataclass
class _Draft:
    """The record under construction (stages write here; :meth:`freeze` makes the Derivation)."""

    rule: Rule
    name: str
    budget: Budget
    eta_hat: sp.Expr | None = None
    omega: sp.Expr | None = None
    f_dual: sp.Expr | None = None
    omega_prime: sp.Expr | None = None
    series: dict[str, sp.Expr] = field(default_factory=dict)
    properties: dict[str, Verdict] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    limits: dict[str, sp.Expr | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    evaluators: dict[str, Evaluator] = field(default_factory=dict)

    @property
    def lam(self) -> sp.Expr:
        return self.rule.lam

    def cas(self, fn: Callable, *args: Any) -> Any:
        """Run a CAS step within the budget; re-raise input errors; None on failure (noted)."""
        out = bounded(fn, *args, timeout=self.budget.remaining())
        if out.ok:
            return out.value
        exc = getattr(out, "exception", None)
        if isinstance(exc, InputError):
            raise exc
        what = STEP_NAMES.get(getattr(fn, "__name__", ""), "a CAS step")
        why = out.reason if isinstance(out, TimedOut) else "SymPy found no result"
        note = f"{what}: not derived ({why})"
        if note not in self.notes:
            self.notes.append(note)
        return None

    def certified(self, piece: str, check: Callable[..., certify.Certificate], *exprs: sp.Expr) -> bool:
        """Check a closed-form piece against its definition (:mod:`symdual.certify`), within the budget.

        Passed: its provenance says so. Failed: a note with the failing point, and False (the caller discards it).
        Out of time: it is kept, its precision saying it is not certified."""
        out = bounded(check, *exprs, timeout=self.budget.remaining())
        cert = out.value if out.ok else None
        p = self.provenance.get(piece)
        if cert is None:
            why = out.reason if isinstance(out, TimedOut) else "the check could not run"
            if p is not None:
                self.provenance[piece] = Provenance(p.method, p.how, f"not certified ({why})")
            return True
        if cert.ok:
            if p is not None:
                self.provenance[piece] = Provenance(p.method, p.how, f"exact; {cert.summary}")
            return True
        self.notes.append(f"the closed form SymPy gave for {PIECE_NAMES[piece]} {cert.summary}; discarded")
        return False

    def freeze(self) -> Derivation:
        """The record: every field of :class:`Derivation`, taken from the draft (the record freezes them)."""
        return Derivation(**{f.name: getattr(self, f.name) for f in fields(Derivation)})


# ---------------------------------------------------------------- derive


def derive(
    eta_hat: object = None,
    *,
    keep_prob: object = None,
    drop_rate: object = None,
    ratio: object = None,
    variance: object = None,
    penalty: object = None,
    dual: object = None,
    lam: object = 1,
    params: Mapping[str, object] | None = None,
    timeout: float | None = None,
    name: str = "",
    engine: Any = None,
    supplement: Callable[[Any], Supplement] | None = None,
) -> Derivation:
    """Derive eta_hat, Omega and f (and the properties) from one rule.

    Give exactly one of: ``eta_hat``, ``keep_prob``, ``drop_rate``, ``ratio``,
    ``variance`` (functions of w), ``penalty`` (Omega(w)) or ``dual`` (f(eta)),
    as a string or a SymPy expression; ``params`` maps parameter names to
    values; ``timeout`` is the budget of each CAS call in seconds (all of
    them together get ``TOTAL_BUDGET_FACTOR`` times that); ``engine``
    (with ``dual``) is a numeric eta-trick engine from :mod:`symdual.numeric`
    used when Omega has no closed form; ``supplement(engine)`` adds what a
    method knows beyond the engine (series, limits, notes).
    """
    kind, expr = given_rule({"eta_hat": eta_hat, "keep_prob": keep_prob, "drop_rate": drop_rate, "ratio": ratio,
                             "variance": variance, "penalty": penalty, "dual": dual})
    rule = build_rule(kind, expr, lam, params)
    budget = Budget.start(timeout)
    with session():
        _checked_range(rule, budget)
        draft = _Draft(rule, name, budget)
        with deadline.within(draft.budget.in_process()):
            _stage(draft, "the closed forms", {"dual": _from_dual, "penalty": _from_penalty}.get(kind, _from_rule),
                   engine)
            return _finish(draft, engine, supplement)


def _checked_range(rule: Rule, budget: Budget) -> None:
    """check_range in a bounded child: its mpmath values can be astronomically slow (gamma(gamma(gamma(w))))."""
    out = bounded(check_range, rule, timeout=TOTAL_BUDGET_FACTOR * budget.per_call)
    if out.ok:
        return
    exc = getattr(out, "exception", None)
    if isinstance(exc, InputError):
        raise exc
    why = out.reason if isinstance(out, TimedOut) else "it could not be evaluated"
    raise InputError(f"the {rule.kind} {rule.source} could not be checked for its range "
                     f"(real, positive, in range) on sample points: {why}")


def from_engine(engine: Any, *, name: str, lam: object = 1, params: Mapping[str, object] | None = None,
                f_dual: sp.Expr | None = None, timeout: float | None = None,
                supplement: Callable[[Any], Supplement] | None = None) -> Derivation:
    """A record for a dual known only numerically (e.g. HardConcrete, parametric in a)."""
    values = exact_params(params)
    lam_exact = exact_params({"lam": lam})["lam"]
    rule = Rule("dual", f_dual if f_dual is not None else sp.Function("f")(eta), lam_exact, values, source=name)
    draft = _Draft(rule, name, Budget.start(timeout), f_dual=f_dual)
    if f_dual is not None:
        draft.provenance["f_dual"] = Provenance("given", "the dual as given")
    with session(), deadline.within(draft.budget.in_process()):
        _attach_engine(draft, engine)
        return _finish(draft, engine, supplement)


def _finish(d: _Draft, engine: Any, supplement: Callable[[Any], Supplement] | None) -> Derivation:
    """The stages after the main pieces, in order (each one cut, with a note, when the budget runs out)."""
    _stage(d, "the limits", _limits)
    _stage(d, "the numeric evaluators", _evaluators)
    _stage(d, "the series", _series)
    if supplement is not None:
        _supplement(d, supplement(engine))
    _stage(d, "the verdicts", _verdicts)
    for name in VERDICT_NAMES:
        d.properties.setdefault(name, Verdict("unknown", "numeric", "not assessed: cut by the time budget"))
    _stage(d, "the dual f", _dual)
    return d.freeze()


def _stage(d: _Draft, what: str, stage: Callable[..., None], *args: Any) -> None:
    """Run one stage; past the derivation's budget, keep what it derived and note what was cut."""
    try:
        stage(d, *args)
    except deadline.OutOfTime as exc:
        d.notes.append(f"{what}: cut by the time budget ({exc.what})")


def resolve(dotted: str) -> Callable:
    """The function named ``"package.module:function"`` (a catalog entry's method)."""
    module, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module), attr)


# ---------------------------------------------------------------- main pieces


def _from_rule(d: _Draft, engine: Any = None) -> None:
    rule = d.rule
    raw = to_eta_hat(rule.kind, rule.expr, rule.lam)
    d.eta_hat = d.cas(duality.tidy, raw) or raw
    check_eta_hat(d.eta_hat, rule)
    how = "given" if rule.kind == "eta_hat" else f"exact conversion from {rule.kind.replace('_', ' ')}"
    d.provenance["eta_hat"] = Provenance("given" if rule.kind == "eta_hat" else "closed form", how)
    d.omega_prime = d.cas(duality.omega_integrand, d.eta_hat) or w / d.eta_hat
    d.provenance["omega_prime"] = Provenance("closed form", "w/eta_hat(w) (envelope theorem)")
    omega = d.cas(duality.omega_from_eta_hat, d.eta_hat)
    if omega is not None:
        omega = d.cas(duality.simplest, omega) or omega
        d.provenance["omega"] = Provenance("closed form", "integral_0^w t/eta_hat(t) dt, normalised Omega(0) = 0")
        if d.certified("omega", certify.omega_from_integral, omega, d.eta_hat):
            d.omega = omega
            return
        del d.provenance["omega"]
    at_zero = d.cas(integrated_series, d.omega_prime, sp.Integer(0), 3)
    if at_zero is not None:
        _check_integrable_at_zero(at_zero)
        d.series["omega@0"] = at_zero
    d.provenance["omega"] = Provenance(
        "numeric", "no certified closed form within the CAS budget: cumulative Gauss-Legendre quadrature of "
        "w/eta_hat; mpmath tanh-sinh path", "about 1e-14 relative (24-point rule on panels of ratio 2**(1/4))")


def _is_log_of_w(b: sp.Basic) -> bool:
    """log(c*w**q) with q > 0: infinite at 0+ (log(2), log(2 + w) are finite)."""
    if not isinstance(b, sp.log):
        return False
    base, q = b.args[0].as_independent(w, as_Add=False)[1].as_base_exp()
    return base == w and bool(q.is_positive)


def _check_integrable_at_zero(at_zero: sp.Expr) -> None:
    """Omega(0+) is infinite iff a term c*w**p*log(w)**k of its series at 0+ has p < 0, or p = 0 and k > 0."""
    for t in sp.Add.make_args(sp.expand(at_zero.removeO())):
        if not t.has(w):
            continue
        powers = t.as_powers_dict()
        p = powers.get(w, sp.Integer(0))
        has_log = any(_is_log_of_w(b) for b in powers)
        if p.is_number and (p < 0 or (p == 0 and has_log)):
            raise DivergentPenalty(f"the penalty diverges at w = 0: Omega(w) ~ {at_zero.removeO()} as w -> 0+")


def _from_penalty(d: _Draft, engine: Any = None) -> None:
    d.omega = d.rule.expr
    d.provenance["omega"] = Provenance("given", "the penalty as given")
    d.omega_prime = sp.diff(d.omega, w)
    d.provenance["omega_prime"] = Provenance("closed form", "derivative of the penalty")
    if not d.certified("omega_prime", certify.derivative, d.omega_prime, d.omega):
        d.omega_prime = None
        d.provenance["omega_prime"] = Provenance("not derived", "SymPy's derivative failed certification", "")
        return
    eh = d.cas(duality.eta_hat_from_omega, d.omega)
    if eh is not None:
        d.provenance["eta_hat"] = Provenance("closed form", "eta_hat = w/Omega'(w) (envelope theorem)")
        if d.certified("eta_hat", certify.eta_hat_from_derivative, eh, d.omega):
            d.eta_hat = eh
        else:
            del d.provenance["eta_hat"]


def _from_dual(d: _Draft, engine: Any = None) -> None:
    d.f_dual = d.rule.expr
    d.provenance["f_dual"] = Provenance("given", "the dual as given")
    out = d.cas(duality.omega_from_f, d.f_dual) if engine is None else None
    how = "stationarity w**2 = eta**2 f'(eta) solved for eta"
    if out is not None:
        d.provenance["omega"] = Provenance("closed form", "Omega = (w**2/eta_hat + f(eta_hat))/2, " + how)
        if not d.certified("omega", certify.omega_from_dual, out[0], out[1], d.f_dual):
            del d.provenance["omega"]
            out = None
    if out is not None:
        d.omega, d.eta_hat = out
        _normalise(d)
        d.omega_prime = d.cas(duality.omega_integrand, d.eta_hat) or w / d.eta_hat
        exact = d.provenance["omega"].precision
        d.provenance.update(eta_hat=Provenance("closed form", how, exact),
                            omega_prime=Provenance("closed form", "w/eta_hat(w)", exact))
        return
    if engine is None:
        from .numeric import from_sympy_dual

        engine = from_sympy_dual(d.f_dual, eta).certified(1e-6, 1e6, n=CERTIFY_POINTS, dps=30)
    _attach_engine(d, engine)


def _normalise(d: _Draft) -> None:
    """Omega - Omega(0+), so that Omega(0) = 0 as for every record (the constant f(0+)/2 in limits)."""
    at_zero = d.cas(duality.limit_at, d.omega, sp.Integer(0))
    if at_zero is None or not (at_zero.is_number and at_zero.is_finite) or at_zero == 0:
        return
    d.omega = d.omega - at_zero
    d.limits["omega_offset"] = at_zero
    d.notes.append(f"Omega is normalised to Omega(0) = 0: 1/2 inf_eta [w**2/eta + f(eta)] at w = 0+ is {at_zero}, "
                   "subtracted (limits['omega_offset'])")


def _attach_engine(d: _Draft, engine: Any) -> None:
    """A numeric eta-trick engine (``symdual.numeric``) evaluates the pieces it has; its float64 path
    is preferred to a lambdified closed form, and a closed form gives the mpmath path it lacks."""
    precision = f"max relative error {engine.precision:.1e} (float64); mpmath path at any dps"
    how = engine.describe()
    if how.startswith("numeric (") and "): " in how:  # "numeric (NAME): rest" -> "NAME: rest"
        cut = how.index("): ")
        how = how[len("numeric ("):cut] + how[cut + 1:]
    kind = getattr(engine, "evaluator_kind", "solver")
    offset = _omega_offset(engine)
    if offset:
        d.limits["omega_offset"] = sp.Float(mpmath.nstr(offset, 30), 30)
        d.notes.append(f"Omega is normalised to Omega(0) = 0: the dual's own Omega(0+) = f(0+)/2 = "
                       f"{mpmath.nstr(offset, 16)} is subtracted (limits['omega_offset'])")
    for piece in ("omega", "eta_hat", "omega_prime", "f_dual"):
        if not hasattr(engine, piece):
            continue
        fn_mp = getattr(engine, piece + "_mp", None)
        expr = getattr(d, piece)
        if fn_mp is None and expr is not None:
            closed = ClosedForm(expr, eta if piece == "f_dual" else w)
            fn_mp = closed.mp
        fn = getattr(engine, piece)
        if piece == "omega" and offset:
            fn, fn_mp = _shifted(fn, fn_mp, offset)
        d.evaluators[piece] = EnginePiece(fn, fn_mp, kind)
        if expr is None:
            d.provenance[piece] = Provenance("numeric", how, precision)


def _omega_offset(engine: Any) -> mpmath.mpf:
    """The engine's Omega(0+) at 30 digits (0 when it is normalised already or has no mpmath path)."""
    omega_mp = getattr(engine, "omega_mp", None)
    if omega_mp is None:
        return mpmath.mpf(0)
    with mpmath.workdps(30):
        try:
            value = mpmath.mpf(omega_mp(0, dps=30))
        except (ValueError, ZeroDivisionError, TypeError, ArithmeticError):
            return mpmath.mpf(0)
    return value if mpmath.isfinite(value) and abs(value) > mpmath.mpf(10) ** -25 else mpmath.mpf(0)


def _shifted(fn: Callable, fn_mp: Callable | None, offset: mpmath.mpf) -> tuple[Callable, Callable | None]:
    """Omega - Omega(0+), in float64 and mpmath."""
    shift = float(offset)

    def omega(x: object) -> np.ndarray:
        return np.asarray(fn(x), dtype=np.float64) - shift

    def omega_mp(x: object, dps: int = 40) -> mpmath.mpf:
        with mpmath.workdps(dps):
            return fn_mp(x, dps=dps) - offset

    return omega, (omega_mp if fn_mp is not None else None)


# ---------------------------------------------------------------- limits


def _limits(d: _Draft) -> None:
    """Exact limits of Omega, Omega' and eta_hat at 0+ and oo (from f when Omega is not in closed form)."""
    def limit(e: sp.Expr | None, point: sp.Expr) -> sp.Expr | None:
        return None if e is None else d.cas(duality.limit_at, e, point)

    d.limits.update({
        "omega_prime@0": limit(d.omega_prime, sp.Integer(0)),
        "omega_prime@oo": limit(d.omega_prime, sp.oo),
        "omega@0": limit(d.omega, sp.Integer(0)),
        "omega@oo": limit(d.omega, sp.oo),
        "eta_hat@0": limit(d.eta_hat, sp.Integer(0)),
    })
    if d.omega is None and isinstance(d.f_dual, sp.Expr) and not isinstance(d.f_dual, sp.core.function.AppliedUndef):
        _limits_from_dual(d)


def _limits_from_dual(d: _Draft) -> None:
    """Omega'(w) = sqrt(f'(eta_hat(w))) and eta_hat runs from 0+ to oo, so
    Omega'(0+) = sqrt(f'(0+)), Omega'(oo) = sqrt(f'(oo)), Omega(oo) = f(oo)/2 (oo if f is unbounded)."""
    fp = sp.diff(d.f_dual, eta)
    for key, expr, point, fn in (("omega_prime@0", fp, "0", sp.sqrt), ("omega_prime@oo", fp, "oo", sp.sqrt),
                                 ("omega@oo", d.f_dual, "oo", lambda v: v / 2)):
        if d.limits.get(key) is None:
            value = d.cas(_limit_in_eta, expr, point)
            if value is not None and (value in (sp.oo, -sp.oo) or (value.is_number and value.is_finite)):
                d.limits[key] = fn(value)  # anything else (hyper(..., -oo), Limit, ...) is not a limit
    d.notes.append("limits from f: Omega'(0+) = sqrt(f'(0+)), Omega'(oo) = sqrt(f'(oo)), Omega(oo) = f(oo)/2 "
                   "(Omega'(w) = sqrt(f'(eta_hat(w))), eta_hat from 0+ to oo)")


def _limit_in_eta(expr: sp.Expr, point: str) -> sp.Expr:
    return sp.limit(expr, eta, 0, "+") if point == "0" else sp.limit(expr, eta, sp.oo)


# ---------------------------------------------------------------- evaluators


def _evaluators(d: _Draft) -> None:
    """Closed forms where they evaluate, else quadrature of Omega' for Omega."""
    lim = d.limits.get
    if d.eta_hat is not None and d.omega is not None and "omega" not in d.evaluators:
        omega_fn = ClosedForm(d.omega, w, lim("omega@0"), lim("omega@oo"))
        if _evaluates(omega_fn):
            _certify_small_argument(d, omega_fn)
            d.evaluators["omega"] = omega_fn
        else:
            d.notes.append("the closed form of Omega does not evaluate numerically; Omega is evaluated by quadrature")
    if d.omega_prime is not None:
        prime = ClosedForm(d.omega_prime, w, lim("omega_prime@0"), lim("omega_prime@oo"))
        d.evaluators.setdefault("omega", Quadrature(prime, prime.mp, as_float(lim("omega@oo"))))
        d.evaluators.setdefault("omega_prime", prime)
    if d.eta_hat is not None:
        d.evaluators.setdefault("eta_hat", ClosedForm(d.eta_hat, w, lim("eta_hat@0"), None))


def _evaluates(fn: ClosedForm) -> bool:
    try:
        return bool(np.all(np.isfinite(fn(np.array([0.5, 2.0])))))
    except Exception:  # noqa: BLE001 - a special function neither NumPy nor mpmath can evaluate
        return False


def _certify_small_argument(d: _Draft, omega_fn: ClosedForm) -> None:
    """Evaluate Omega by its series at 0+ where that is exact to float64 (no cancellation)."""
    ser = d.cas(series_at, omega_fn.expr, sp.Integer(0), SMALL_ARGUMENT_TERMS)
    if ser is not None:
        omega_fn.near_zero = small_argument(omega_fn, ser)
    if omega_fn.near_zero is not None and "omega" in d.provenance:
        p = d.provenance["omega"]
        d.provenance["omega"] = Provenance(p.method, p.how, f"{p.precision}; float64 path: {omega_fn.near_zero.how}")


# ---------------------------------------------------------------- series, supplement


def _series(d: _Draft) -> None:
    """Leading terms of Omega at 0+ and oo: of the closed form, else of Omega' integrated term by term."""
    for key, point in (("omega@0", sp.Integer(0)), ("omega@oo", sp.oo)):
        if key not in d.series and d.omega is not None:
            ser = d.cas(series_at, d.omega, point, 3)
            if ser is not None:
                d.series[key] = ser
    if "omega@oo" not in d.series and d.omega is None and d.omega_prime is not None:
        ser = d.cas(integrated_series, d.omega_prime, sp.oo, 3)
        if ser is not None:
            d.series["omega@oo"] = ser
    if d.series:
        d.provenance.setdefault("series", Provenance("series", "SymPy series/aseries (Omega) or Omega' integrated "
                                                               "term by term"))


def _supplement(d: _Draft, extra: Supplement) -> None:
    """What a method of the catalog knows beyond the engine, with its provenance."""
    d.series.update(extra.series)
    d.limits.update(extra.limits)
    d.notes.extend(extra.notes)
    if extra.provenance is not None:
        d.provenance["series"] = extra.provenance


# ---------------------------------------------------------------- verdicts, dual


def _verdicts(d: _Draft) -> None:
    from .assess import assess

    d.properties = assess(d, d.budget.remaining)
    if d.rule.kind != "penalty":
        return
    if d.properties["monotone"].status == "refuted":
        d.notes.append("No dropout rule yields this penalty: its eta_hat = w/Omega'(w) is not nondecreasing, "
                       "so Omega is not subquadratic (not an eta-trick penalty).")
    elif d.properties["subquadratic"].status == "refuted":
        d.notes.append("No dropout rule yields this penalty: it is not subquadratic (g(s) = 2 Omega(sqrt s) is not "
                       "concave), and every eta-trick penalty is.")


NOT_MONOTONE = Provenance("not derived", "eta_hat is not monotone: Omega is no eta-trick penalty", "")
NO_CLOSED_FORM = Provenance("not derived", "Omega or eta_hat has no certified closed form", "")


def _dual(d: _Draft) -> None:
    """f(eta) = sup_w [2 Omega(w) - w**2/eta] by inverting eta_hat, unless eta_hat is not monotone."""
    if d.f_dual is None and d.omega is not None and d.eta_hat is not None and "f_dual" not in d.evaluators:
        if d.properties["monotone"].status == "refuted":
            d.provenance["f_dual"] = NOT_MONOTONE
        else:
            f = d.cas(duality.f_from_omega, d.omega, d.eta_hat)
            if f is not None:
                f = d.cas(duality.simplest, f) or f
                d.provenance["f_dual"] = Provenance("closed form",
                                                    "f(eta) = sup_w [2 Omega(w) - w**2/eta] (eta_hat inverted)")
                if d.certified("f_dual", certify.dual_from_omega, f, d.omega, d.eta_hat):
                    d.f_dual = f
                else:
                    d.provenance["f_dual"] = Provenance("not derived", "the closed form failed certification", "")
            else:
                d.provenance["f_dual"] = Provenance("not derived",
                                                    "eta_hat could not be inverted within the CAS budget")
    if d.f_dual is not None and "f_dual" not in d.evaluators:
        d.evaluators["f_dual"] = ClosedForm(d.f_dual, eta)
    if d.f_dual is None and "f_dual" not in d.evaluators:
        refuted = d.properties.get("monotone") is not None and d.properties["monotone"].status == "refuted"
        d.provenance.setdefault("f_dual", NOT_MONOTONE if refuted else NO_CLOSED_FORM)
