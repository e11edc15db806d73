"""The records a derivation produces: :class:`Derivation` (a scalar penalty),
:class:`VectorPenalty` (a non-separable one), :class:`Provenance`, and the
:class:`Evaluator` protocol through which every number is computed.

A record is immutable once :func:`symdual.derive` returns it: later stages
(tables, figures, verify, export) read it and never patch it.  Its pieces
are evaluated only through :meth:`Derivation.evaluate` (float64, element by
element) and :meth:`Derivation.evaluate_mp` (mpmath at any precision).
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import mpmath
import numpy as np
import sympy as sp

from .errors import InputError
from .verdict import Verdict

DISPLAY_TIMEOUT = 1.0
"""Seconds for simplifying a derived rule (drop rate, keep probability) for display."""
PIECES = ("omega", "eta_hat", "f_dual", "omega_prime")
"""The evaluable pieces: Omega, eta_hat and Omega' at w, f at eta."""
EVALUATOR_KINDS = ("closed form", "quadrature", "table", "solver")


@runtime_checkable
class Evaluator(Protocol):
    """How one piece is computed.

    ``kind``: 'closed form' (a lambdified formula, stable rewrites, exact limits),
    'quadrature' (Omega = integral of Omega'), 'table' (certified interpolation),
    'solver' (the eta-trick minimum solved point by point).
    ``__call__(x)``: float64 values for a float64 array x >= 0, element by element.
    ``mp(x, dps)``: the value at one point in mpmath at ``dps`` digits.
    """

    kind: str

    def __call__(self, x: np.ndarray) -> np.ndarray: ...

    def mp(self, x: object, dps: int = 40) -> mpmath.mpf: ...


@dataclass(frozen=True)
class Provenance:
    """How a piece was obtained: method is 'given', 'closed form', 'series',
    'numeric', 'supplied' (by a method of the catalog) or 'not derived'."""

    method: str
    how: str
    precision: str = "exact"

    def as_dict(self) -> dict:
        return {"method": self.method, "how": self.how, "precision": self.precision}

    def __str__(self) -> str:
        return f"{self.method} ({self.how}; {self.precision})" if self.precision else f"{self.method} ({self.how})"


@dataclass(frozen=True)
class Supplement:
    """What a method of the catalog knows beyond the engine (series, limits, notes), with provenance."""

    series: Mapping[str, Any] = field(default_factory=dict)
    limits: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    provenance: Provenance | None = None


MAX_DPS = 10000
"""Largest precision (decimal digits) accepted by :meth:`Derivation.evaluate_mp`."""


def _real_scalar(x: object) -> float | None:
    """A scalar of a real number type (Fraction, Decimal, SymPy number, huge int) as a float; None otherwise."""
    if isinstance(x, sp.Basic):
        if not (x.is_number and x.is_extended_real):
            raise InputError(f"expected a real number, got {_shown(x)}")
        return float(x)
    if isinstance(x, (numbers.Real, Decimal)) and not isinstance(x, (np.generic, bool)):
        try:
            return float(x)
        except OverflowError:
            raise InputError(f"{_shown(x)} is outside the float64 range") from None
    return None


def _shown(x: object) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def real_array(x: object) -> np.ndarray:
    """x as a float64 array; InputError for complex, datetime, string, None or other non-real input.

    Accepted: bool/int/float arrays and lists, NumPy scalars of a real dtype, Python and SymPy real numbers.
    """
    if x is None or isinstance(x, (str, bytes)):
        raise InputError(f"expected real numbers, got {type(x).__name__} {_shown(x)}")
    scalar = _real_scalar(x)
    if scalar is not None:
        return np.asarray(scalar, dtype=np.float64)
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise InputError(f"expected real numbers, got {_shown(x)} ({exc})") from None
    if a.dtype.kind not in "fiub":
        raise InputError(f"expected real numbers (bool, int or float), got {a.dtype} input")
    with np.errstate(over="ignore"):  # a longdouble beyond float64 is inf, as in NumPy
        return a.astype(np.float64, copy=False)


def real_point(x: object, dps: int) -> mpmath.mpf:
    """One real point as an mpmath number at ``dps`` digits (text is read at that precision:
    "0.1" is 0.1 to dps digits); InputError for anything else."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    with mpmath.workdps(dps):
        if isinstance(x, str):
            try:
                return mpmath.mpf(x.strip())
            except (ValueError, TypeError):
                raise InputError(f"expected a real number, got the text {_shown(x)}") from None
        if isinstance(x, mpmath.mpf):
            return +x
        if isinstance(x, sp.Basic):
            if not (x.is_number and x.is_extended_real):
                raise InputError(f"expected a real number, got {_shown(x)}")
            return mpmath.mpmathify(sp.N(x, dps + 5))
        if isinstance(x, (bool, np.bool_, numbers.Integral, np.integer)):
            return mpmath.mpf(int(x))
        if isinstance(x, numbers.Rational):
            return mpmath.mpf(int(x.numerator)) / int(x.denominator)
        if isinstance(x, Decimal):
            return mpmath.mpf(str(x))
        if isinstance(x, (float, np.floating)) or (isinstance(x, numbers.Real) and not isinstance(x, np.generic)):
            return mpmath.mpf(float(x))
    raise InputError(f"evaluate_mp takes one real number (a number or its text), got {type(x).__name__} {_shown(x)}"
                     + ("; use evaluate for arrays" if isinstance(x, (list, tuple, np.ndarray)) else ""))


def _check_dps(dps: object) -> int:
    if isinstance(dps, (bool, np.bool_)) or not isinstance(dps, (numbers.Integral, np.integer)):
        raise InputError(f"dps must be an integer number of digits, got {_shown(dps)}")
    if not 1 <= int(dps) <= MAX_DPS:
        raise InputError(f"dps must be in [1, {MAX_DPS}], got {int(dps)}")
    return int(dps)


def elementwise(fn: Callable[[np.ndarray], np.ndarray], x: object) -> np.ndarray | np.float64:
    """fn applied to x element by element as float64: scalar in, scalar out; any shape in, same shape out."""
    a = real_array(x)
    out = np.asarray(fn(a.reshape(-1)), dtype=np.float64).reshape(a.shape)
    return out[()] if a.ndim == 0 else out


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Derivation:
    """One rule through the flow: expressions, series, limits, verdicts, provenance, notes."""

    rule: Any
    eta_hat: sp.Expr | None = None
    omega: sp.Expr | None = None
    f_dual: sp.Expr | None = None
    omega_prime: sp.Expr | None = None
    series: Mapping[str, sp.Expr] = field(default_factory=dict)
    properties: Mapping[str, Verdict] = field(default_factory=dict)
    provenance: Mapping[str, Provenance] = field(default_factory=dict)
    limits: Mapping[str, sp.Expr | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    name: str = ""
    evaluators: Mapping[str, Evaluator] = field(default_factory=dict, repr=False, compare=False)

    separable = True

    def __post_init__(self) -> None:
        for key in ("series", "properties", "provenance", "limits", "evaluators"):
            object.__setattr__(self, key, _frozen(getattr(self, key)))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def lam(self) -> sp.Expr:
        return self.rule.lam

    @property
    def params(self) -> Mapping[str, sp.Expr]:
        return self.rule.params

    @property
    def drop_rate(self) -> sp.Expr | None:
        """p(w) = lam/(eta_hat + lam), the dropout rule implementing Omega."""
        return None if self.eta_hat is None else _rate("drop_rate", self.eta_hat, self.lam)

    @property
    def keep_prob(self) -> sp.Expr | None:
        """q(w) = eta_hat/(eta_hat + lam)."""
        return None if self.eta_hat is None else _rate("keep_prob", self.eta_hat, self.lam)

    def can_evaluate(self, piece: str) -> bool:
        """Whether :meth:`evaluate` has a path for ``piece``."""
        return piece in self.evaluators

    def evaluator_kind(self, piece: str) -> str | None:
        """'closed form', 'quadrature', 'table' or 'solver'; None if the piece cannot be evaluated."""
        ev = self.evaluators.get(piece)
        return None if ev is None else ev.kind

    def evaluate(self, piece: str, x: object) -> np.ndarray | np.float64:
        """float64 values of 'omega', 'eta_hat', 'omega_prime' (at w; even in w) or 'f_dual' (at eta),
        element by element: a scalar gives a scalar, an array (any float dtype) or list an array."""
        return elementwise(self._evaluator(piece), x)

    def evaluate_mp(self, piece: str, x: object, dps: int = 40) -> mpmath.mpf:
        """The same piece at one real point (a number, or its text read at ``dps`` digits), in mpmath at
        ``dps`` digits (1 <= dps <= MAX_DPS)."""
        evaluator = self._evaluator(piece)
        digits = _check_dps(dps)
        return evaluator.mp(real_point(x, digits), digits)

    def _evaluator(self, piece: str) -> Evaluator:
        if piece not in PIECES:
            raise InputError(f"unknown piece {piece!r}; expected one of {', '.join(PIECES)}")
        if piece not in self.evaluators:
            raise InputError(f"{piece} of {self.title()} is not available: {self.provenance.get(piece, 'not derived')}")
        return self.evaluators[piece]

    def title(self) -> str:
        return self.name or f"{self.rule.kind} = {self.rule.expr}"

    def as_dict(self) -> dict:
        """The JSON schema of ``symdual derive --json``."""
        def text(e: object) -> str | None:
            return None if e is None else str(e)

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
            "evaluators": {k: v.kind for k, v in self.evaluators.items()},
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        from .report import summary

        return summary(self)

    def _repr_latex_(self) -> str:
        from .report import latex_summary

        return latex_summary(self)


def _rate(kind: str, eta_hat: sp.Expr, lam_value: sp.Expr) -> sp.Expr:
    from .piecewise import branches, from_branches
    from .rules import from_eta_hat, w

    out = []
    for e, where in branches(eta_hat, w):
        if e in (sp.oo, sp.zoo):
            out.append((sp.Integer(0) if kind == "drop_rate" else sp.Integer(1), where))
        else:
            out.append((_tidy_for_display(from_eta_hat(kind, e, lam_value)), where))
    return from_branches(out, w)


@lru_cache(maxsize=256)
def _tidy_for_display(expr: sp.Expr) -> sp.Expr:
    """A tidier form for display, within DISPLAY_TIMEOUT seconds (else ``expr`` as it is)."""
    from .bounded import bounded
    from .duality import tidy

    out = bounded(tidy, expr, timeout=DISPLAY_TIMEOUT)
    return out.value if out.ok else expr


@dataclass(frozen=True)
class VectorPenalty:
    """A non-separable eta-trick penalty: Omega(w) = 1/2 inf_eta [sum_j w_j**2/eta_j + f(eta)], w a vector.

    Such a penalty is no function of a scalar w, so it is no :class:`Derivation`;
    its record carries the same kind of information: the rule, eta_hat and Omega
    as text, vector functions, verdicts, provenance and notes.
    """

    name: str
    title: str
    rule_text: str
    eta_hat_text: str
    omega_text: str
    f_text: str
    omega: Callable[[np.ndarray], float]
    eta_hat: Callable[[np.ndarray], np.ndarray]
    f_dual: Callable[[np.ndarray], float]
    params: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Verdict] = field(default_factory=dict)
    provenance: Mapping[str, Provenance] = field(default_factory=dict)
    series: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    latex: Mapping[str, str] = field(default_factory=dict)
    """LaTeX of the rule, eta_hat and Omega (keys "rule", "eta_hat", "omega")."""

    separable = False

    def __post_init__(self) -> None:
        for key in ("params", "properties", "provenance", "series", "latex"):
            object.__setattr__(self, key, _frozen(getattr(self, key)))
        object.__setattr__(self, "notes", tuple(self.notes))

    def evaluate(self, piece: str, w: object) -> np.ndarray:
        """'omega' or 'eta_hat' for one vector w (1-D) or a stack of them (last axis), float64."""
        fn = {"omega": self.omega, "eta_hat": self.eta_hat}.get(piece)
        if fn is None:
            raise InputError(f"unknown piece {piece!r} of the non-separable {self.name}; expected omega or eta_hat")
        a = real_array(w)
        if a.ndim == 1:
            return np.asarray(fn(a), dtype=np.float64)
        flat = a.reshape(-1, a.shape[-1])
        out = [np.asarray(fn(v), dtype=np.float64) for v in flat]
        return np.asarray(out).reshape(a.shape[:-1] + np.shape(out[0]))

    def __str__(self) -> str:
        from .report import vector_summary

        return vector_summary(self)
