"""The derivation record and :func:`derive`: from a rule to Omega, f, eta_hat.

    rule -> eta_hat (exact conversion) -> Omega (integral) -> f (conjugate)
    penalty Omega -> eta_hat = w/Omega' -> f
    dual f -> (Omega, eta_hat) from w**2 = eta**2 f'(eta)

Every CAS step runs under a time budget; when one fails, the record falls
back to series and numerics, and ``provenance`` says how each piece was
obtained and to what precision.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import mpmath
import numpy as np
import sympy as sp

from . import duality
from .asymptotics import integrated_series, series_at
from .bounded import bounded, deadline, default_timeout
from .errors import DivergentPenalty, InputError
from .evaluators import ClosedForm, Quadrature, small_argument
from .inputs import build_rule, check_eta_hat, check_range, exact_params, given_rule
from .pieces import from_pieces, pieces
from .properties import Verdict
from .rules import Rule, eta, from_eta_hat, to_eta_hat, w

PIECES = ("omega", "eta_hat", "f_dual", "omega_prime")
TOTAL_BUDGET_FACTOR = 4
SMALL_ARGUMENT_TERMS = 12
"""Order of the series at 0+ that replaces a closed-form Omega at tiny |w| (where certified)."""
CERTIFY_POINTS = 41
"""A user dual's numeric Omega is certified against mpmath (30 digits) at this many w in [1e-6, 1e6]."""
"""All CAS calls of one derivation share a deadline of this many per-call budgets."""


@dataclass(frozen=True)
class Provenance:
    """How a piece was obtained: method is 'given', 'closed form', 'series',
    'numeric', 'supplied' (by a catalog entry) or 'not derived'."""

    method: str
    how: str
    precision: str = "exact"

    def as_dict(self) -> dict:
        return {"method": self.method, "how": self.how, "precision": self.precision}

    def __str__(self) -> str:
        return f"{self.method} ({self.how}; {self.precision})"


@dataclass
class Derivation:
    """One derivation through the flow: expressions, series, evaluators, verdicts."""

    rule: Rule
    eta_hat: sp.Expr | None = None
    omega: sp.Expr | None = None
    f_dual: sp.Expr | None = None
    omega_prime: sp.Expr | None = None
    series: dict[str, sp.Expr] = field(default_factory=dict)
    properties: dict[str, Verdict] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    limits: dict[str, sp.Expr | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    numeric: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def lam(self) -> sp.Expr:
        return self.rule.lam

    @property
    def drop_rate(self) -> sp.Expr | None:
        """p(w) = lam/(eta_hat + lam), the dropout rule implementing Omega."""
        return None if self.eta_hat is None else _rate("drop_rate", self.eta_hat, self.lam)

    @property
    def keep_prob(self) -> sp.Expr | None:
        return None if self.eta_hat is None else _rate("keep_prob", self.eta_hat, self.lam)

    def evaluate(self, piece: str, x: object) -> np.ndarray:
        """float64 values of 'omega', 'eta_hat', 'omega_prime' (at w) or 'f_dual' (at eta)."""
        return self._evaluator(piece)(x)

    def evaluate_mp(self, piece: str, x: object, dps: int = 40) -> mpmath.mpf:
        """The same piece at one point, in mpmath at ``dps`` digits."""
        ev = self._evaluator(piece)
        if hasattr(ev, "mp"):
            return ev.mp(x, dps)
        raise ValueError(f"no mpmath path for {piece!r} of {self.title()}")

    def _evaluator(self, piece: str) -> Callable:
        if piece not in PIECES:
            raise InputError(f"unknown piece {piece!r}; expected one of {', '.join(PIECES)}")
        if piece not in self.numeric:
            raise InputError(f"{piece} of {self.title()} is not available: {self.provenance.get(piece, 'not derived')}")
        return self.numeric[piece]

    def title(self) -> str:
        return self.name or f"{self.rule.kind} = {self.rule.expr}"

    def as_dict(self) -> dict:
        """The JSON schema of ``symdual derive --json``."""
        text = lambda e: None if e is None else str(e)  # noqa: E731
        return {
            "name": self.name or None,
            "rule": {"kind": self.rule.kind, "expr": str(self.rule.expr), "lam": str(self.lam),
                     "params": {k: str(v) for k, v in self.rule.params.items()}},
            "omega": text(self.omega),
            "f_dual": text(self.f_dual),
            "eta_hat": text(self.eta_hat),
            "omega_prime": text(self.omega_prime),
            "drop_rate": text(self.drop_rate),
            "series": {k: str(v) for k, v in self.series.items()},
            "properties": {k: v.as_dict() for k, v in self.properties.items()},
            "provenance": {k: v.as_dict() for k, v in self.provenance.items()},
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        from .report import summary

        return summary(self)

    def _repr_latex_(self) -> str:
        from .report import latex_summary

        return latex_summary(self)


def _rate(kind: str, eta_hat: sp.Expr, lam_value: sp.Expr) -> sp.Expr:
    out = []
    for e, where in pieces(eta_hat, w):
        if e in (sp.oo, sp.zoo):
            out.append((sp.Integer(0) if kind == "drop_rate" else sp.Integer(1), where))
        else:
            out.append((duality.tidy(from_eta_hat(kind, e, lam_value)), where))
    return from_pieces(out, w)


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
) -> Derivation:
    """Derive eta_hat, Omega and f (and the properties) from one rule.

    Give exactly one of: ``eta_hat``, ``keep_prob``, ``drop_rate``, ``ratio``,
    ``variance`` (functions of w), ``penalty`` (Omega(w)) or ``dual`` (f(eta)),
    as a string or a SymPy expression; ``params`` maps parameter names to
    values; ``timeout`` is the budget of each CAS call in seconds (all of
    them together get ``TOTAL_BUDGET_FACTOR`` times that); ``engine``
    (with ``dual``) is a numeric eta-trick engine from :mod:`symdual.numeric`
    used when Omega has no closed form.
    """
    kind, expr = given_rule({"eta_hat": eta_hat, "keep_prob": keep_prob, "drop_rate": drop_rate, "ratio": ratio,
                         "variance": variance, "penalty": penalty, "dual": dual})
    rule = build_rule(kind, expr, lam, params)
    check_range(rule)
    d = Derivation(rule=rule, name=name)
    per_call = default_timeout() if timeout is None else timeout
    with deadline(TOTAL_BUDGET_FACTOR * per_call):
        if kind == "dual":
            _from_dual(d, timeout, engine)
        elif kind == "penalty":
            _from_penalty(d, timeout)
        else:
            _from_rule(d, timeout)
        finish(d, timeout)
    return d


def _cas(d: Derivation, fn: Callable, *args: Any, timeout: float | None = None) -> Any:
    """Run a CAS step bounded; re-raise input errors; None on failure (noted)."""
    out = bounded(fn, *args, timeout=timeout)
    if out.ok:
        return out.value
    exc = getattr(out, "exception", None)
    if isinstance(exc, InputError):
        raise exc
    d.notes.append(f"{getattr(fn, '__name__', 'CAS step')}: {out.reason.splitlines()[0]}")
    return None


def _from_rule(d: Derivation, timeout: float | None) -> None:
    rule = d.rule
    d.eta_hat = duality.tidy(to_eta_hat(rule.kind, rule.expr, rule.lam))
    check_eta_hat(d.eta_hat, rule)
    how = "given" if rule.kind == "eta_hat" else f"exact conversion from {rule.kind.replace('_', ' ')}"
    d.provenance["eta_hat"] = Provenance("given" if rule.kind == "eta_hat" else "closed form", how)
    _omega_from_eta_hat(d, timeout)


def _omega_from_eta_hat(d: Derivation, timeout: float | None) -> None:
    d.omega_prime = duality.omega_integrand(d.eta_hat)
    d.provenance["omega_prime"] = Provenance("closed form", "w/eta_hat(w) (envelope theorem)")
    omega = _cas(d, duality.omega_from_eta_hat, d.eta_hat, timeout=timeout)
    if omega is not None:
        d.omega = _cas(d, duality.simplest, omega, timeout=timeout) or omega
        d.provenance["omega"] = Provenance("closed form", "integral_0^w t/eta_hat(t) dt, normalised Omega(0) = 0")
        return
    at_zero = _cas(d, integrated_series, d.omega_prime, sp.Integer(0), 3, timeout=timeout)
    if at_zero is not None:
        if any(t.has(sp.log) or (t.as_base_exp()[1].is_number and t.as_base_exp()[1] <= 0 and t.has(w))
               for t in sp.Add.make_args(at_zero.removeO())):
            raise DivergentPenalty(f"the penalty diverges at w = 0: Omega(w) ~ {at_zero.removeO()} as w -> 0+")
        d.series["omega@0"] = at_zero
    d.provenance["omega"] = Provenance(
        "numeric", "no closed form within the CAS budget: cumulative Gauss-Legendre quadrature of w/eta_hat; "
        "mpmath tanh-sinh path", "about 1e-14 relative (24-point rule on panels of ratio 2**(1/4))")


def _from_penalty(d: Derivation, timeout: float | None) -> None:
    d.omega = d.rule.expr
    d.provenance["omega"] = Provenance("given", "the penalty as given")
    d.omega_prime = sp.diff(d.omega, w)
    d.provenance["omega_prime"] = Provenance("closed form", "derivative of the penalty")
    eh = _cas(d, duality.eta_hat_from_omega, d.omega, timeout=timeout)
    if eh is not None:
        d.eta_hat = eh
        d.provenance["eta_hat"] = Provenance("closed form", "eta_hat = w/Omega'(w) (envelope theorem)")


def _from_dual(d: Derivation, timeout: float | None, engine: Any = None) -> None:
    d.f_dual = d.rule.expr
    d.provenance["f_dual"] = Provenance("given", "the dual as given")
    out = _cas(d, duality.omega_from_f, d.f_dual, timeout=timeout)
    if out is not None:
        d.omega, d.eta_hat = out
        d.omega_prime = duality.omega_integrand(d.eta_hat)
        how = "stationarity w**2 = eta**2 f'(eta) solved for eta"
        d.provenance.update(omega=Provenance("closed form", "Omega = (w**2/eta_hat + f(eta_hat))/2, " + how),
                            eta_hat=Provenance("closed form", how),
                            omega_prime=Provenance("closed form", "w/eta_hat(w)"))
        return
    if engine is None:
        from .numeric import from_sympy_dual

        engine = from_sympy_dual(d.f_dual, eta).certified(1e-6, 1e6, n=CERTIFY_POINTS, dps=30)
    attach_numeric(d, engine)


def from_engine(engine: Any, *, name: str, lam: object = 1, params: Mapping[str, object] | None = None,
                f_dual: sp.Expr | None = None, timeout: float | None = None) -> Derivation:
    """A record for a dual known only numerically (e.g. HardConcrete, parametric in a)."""
    values = exact_params(params)
    lam_exact = exact_params({"lam": lam})["lam"]
    rule = Rule("dual", f_dual if f_dual is not None else sp.Function("f")(eta), lam_exact, values, source=name)
    d = Derivation(rule=rule, name=name, f_dual=f_dual)
    if f_dual is not None:
        d.provenance["f_dual"] = Provenance("given", "the dual as given")
    attach_numeric(d, engine)
    finish(d, timeout)
    return d


def attach_numeric(d: Derivation, engine: Any) -> None:
    """Use a numeric eta-trick engine (``symdual.numeric``) for the missing pieces."""
    precision = f"max relative error {engine.precision:.1e} (float64); mpmath path at any dps"
    how = engine.describe()
    if how.startswith("numeric (") and "): " in how:  # "numeric (NAME): rest" -> "NAME: rest"
        cut = how.index("): ")
        how = how[len("numeric ("):cut] + how[cut + 1:]
    for piece in ("omega", "eta_hat", "omega_prime", "f_dual"):
        if hasattr(engine, piece):  # the engine's float64 path beats a lambdified closed form
            d.numeric[piece] = _NumericPiece(getattr(engine, piece), getattr(engine, piece + "_mp", None))
            if getattr(d, piece) is None:
                d.provenance[piece] = Provenance("numeric", how, precision)


@dataclass
class _NumericPiece:
    fn: Callable
    fn_mp: Callable | None

    def __call__(self, x: object) -> np.ndarray:
        return np.asarray(self.fn(x), dtype=np.float64)

    def mp(self, x: object, dps: int = 40) -> mpmath.mpf:
        if self.fn_mp is None:
            raise ValueError("no mpmath path")
        return self.fn_mp(x, dps=dps)


def _certify_small_argument(d: Derivation, omega_fn: ClosedForm, timeout: float | None) -> None:
    """Evaluate Omega by its series at 0+ where that is exact to float64 (no cancellation)."""
    ser = _cas(d, series_at, omega_fn.expr, sp.Integer(0), SMALL_ARGUMENT_TERMS, timeout=timeout)
    if ser is not None:
        omega_fn.near_zero = small_argument(omega_fn, ser)
    if omega_fn.near_zero is not None and "omega" in d.provenance:
        p = d.provenance["omega"]
        d.provenance["omega"] = Provenance(p.method, p.how, f"{p.precision}; float64 path: {omega_fn.near_zero.how}")


def _limits_from_dual(d: Derivation, timeout: float | None) -> None:
    """Omega'(w) = sqrt(f'(eta_hat(w))) and eta_hat runs from 0+ to oo, so
    Omega'(0+) = sqrt(f'(0+)), Omega'(oo) = sqrt(f'(oo)), Omega(oo) = f(oo)/2 (oo if f is unbounded)."""
    fp = sp.diff(d.f_dual, eta)
    for key, expr, point, fn in (("omega_prime@0", fp, "0", sp.sqrt), ("omega_prime@oo", fp, "oo", sp.sqrt),
                                 ("omega@oo", d.f_dual, "oo", lambda v: v / 2)):
        if d.limits.get(key) is None:
            value = _cas(d, _limit_in_eta, expr, point, timeout=timeout)
            if value is not None and (value in (sp.oo, -sp.oo) or (value.is_number and value.is_finite)):
                d.limits[key] = fn(value)  # anything else (hyper(..., -oo), Limit, ...) is not a limit
    d.notes.append("limits from f: Omega'(0+) = sqrt(f'(0+)), Omega'(oo) = sqrt(f'(oo)), Omega(oo) = f(oo)/2 "
                   "(Omega'(w) = sqrt(f'(eta_hat(w))), eta_hat from 0+ to oo)")


def _limit_in_eta(expr: sp.Expr, point: str) -> sp.Expr:
    return sp.limit(expr, eta, 0, "+") if point == "0" else sp.limit(expr, eta, sp.oo)


def finish(d: Derivation, timeout: float | None = None) -> None:
    """Limits, f, series, evaluators and verdicts for a record with its main pieces."""
    from .assess import assess

    limit = lambda e, pt: None if e is None else _cas(d, duality.limit_at, e, pt, timeout=timeout)  # noqa: E731
    d.limits = {
        "omega_prime@0": limit(d.omega_prime, sp.Integer(0)),
        "omega_prime@oo": limit(d.omega_prime, sp.oo),
        "omega@0": limit(d.omega, sp.Integer(0)),
        "omega@oo": limit(d.omega, sp.oo),
        "eta_hat@0": limit(d.eta_hat, sp.Integer(0)),
    }
    if d.omega is None and isinstance(d.f_dual, sp.Expr) and not isinstance(d.f_dual, sp.core.function.AppliedUndef):
        _limits_from_dual(d, timeout)
    if d.eta_hat is not None and d.omega is not None and "omega" not in d.numeric:
        omega_fn = ClosedForm(d.omega, w, d.limits["omega@0"], d.limits["omega@oo"])
        try:
            evaluable = bool(np.all(np.isfinite(omega_fn(np.array([0.5, 2.0])))))
        except Exception:  # a special function neither NumPy nor mpmath can evaluate
            evaluable = False
        if evaluable:
            d.numeric["omega"] = omega_fn
            _certify_small_argument(d, omega_fn, timeout)
        else:
            d.notes.append("the closed form of Omega does not evaluate numerically; Omega is evaluated by quadrature")
    if d.omega_prime is not None and "omega" not in d.numeric:
        g = ClosedForm(d.omega_prime, w, d.limits["omega_prime@0"], d.limits["omega_prime@oo"])
        d.numeric["omega"] = Quadrature(g, g.mp)
    if d.eta_hat is not None and "eta_hat" not in d.numeric:
        d.numeric["eta_hat"] = ClosedForm(d.eta_hat, w, d.limits["eta_hat@0"], None)
    if d.omega_prime is not None and "omega_prime" not in d.numeric:
        d.numeric["omega_prime"] = ClosedForm(d.omega_prime, w, d.limits["omega_prime@0"], d.limits["omega_prime@oo"])
    d.properties = assess(d, timeout)
    if d.f_dual is None and d.omega is not None and d.eta_hat is not None and "f_dual" not in d.numeric:
        if d.properties["monotone"].status == "refuted":
            d.provenance["f_dual"] = Provenance("not derived", "eta_hat is not monotone: Omega is no eta-trick penalty")
        else:
            f = _cas(d, duality.f_from_omega, d.omega, d.eta_hat, timeout=timeout)
            if f is not None:
                d.f_dual = _cas(d, duality.simplest, f, timeout=timeout) or f
                d.provenance["f_dual"] = Provenance("closed form", "f(eta) = sup_w [2 Omega(w) - w**2/eta] (eta_hat inverted)")
            else:
                d.provenance["f_dual"] = Provenance("not derived", "eta_hat could not be inverted within the CAS budget")
    if d.f_dual is not None and "f_dual" not in d.numeric:
        d.numeric["f_dual"] = ClosedForm(d.f_dual, eta)
    for key, expr, point in (("omega@0", d.omega, 0), ("omega@oo", d.omega, sp.oo)):
        if key not in d.series and expr is not None:
            ser = _cas(d, series_at, expr, sp.Integer(point) if point == 0 else point, 3, timeout=timeout)
            if ser is not None:
                d.series[key] = ser
    if "omega@oo" not in d.series and d.omega is None and d.omega_prime is not None:
        ser = _cas(d, integrated_series, d.omega_prime, sp.oo, 3, timeout=timeout)
        if ser is not None:
            d.series["omega@oo"] = ser
    for key in list(d.series):
        d.provenance.setdefault("series", Provenance("series", "SymPy series/aseries (Omega) or Omega' integrated term by term"))
