"""A catalog entry: a method of either paper as declarative data (docs/catalog.md).

An :class:`Entry` names the method, cites it, lists its parameters with the
paper's defaults and their valid ranges, gives the rule (its kind and
expression), the lam mapping, and the properties the literature expects.
Where the engine needs a method-specific computation (a numeric dual, a
series, a non-separable record) the entry names it by its dotted name
``"package.module:function"``; the entry itself computes nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..rules import as_exact

PROPERTY_NAMES = ("monotone", "subquadratic", "sparsity", "unbiased", "bounded", "continuity")
HOLDS = ("proved", "supported")
METHOD_PREFIX = "symdual.methods."


@dataclass(frozen=True)
class Param:
    """One parameter: its default and the condition a value must meet."""

    name: str
    default: Any
    requirement: str = ""
    check: Callable[[Any], bool] | None = None
    doc: str = ""
    exact: bool = True
    """Convert the value to an exact SymPy number (False: use ``convert``, e.g. for an array)."""
    convert: Callable[[Any], Any] | None = None

    def validate(self, value: Any) -> Any:
        if not self.exact and self.convert is not None:
            try:
                value = self.convert(value)
            except (TypeError, ValueError) as exc:
                raise InputError(f"parameter {self.name}: {exc}") from None
        if self.exact:
            try:
                value = as_exact(value)
            except (TypeError, ValueError) as exc:
                raise InputError(f"parameter {self.name}: {exc}") from None
            if not value.is_number or not value.is_extended_real:
                raise InputError(f"parameter {self.name} must be a real number, got {value}")
        if self.check is not None:
            try:
                ok = bool(self.check(value))
            except (TypeError, ValueError) as exc:
                raise InputError(f"invalid {self.name} = {_show(value)}: {exc}") from None
            if not ok:
                raise InputError(f"invalid {self.name} = {_show(value)}: need {self.requirement}")
        return value


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) < 60 else text[:57] + "..."


def positive(name: str, default: Any, doc: str = "") -> Param:
    return Param(name, default, f"{name} > 0", lambda v: v > 0, doc)


LAM_DOC = "penalty strength lam > 0: the objective is loss + lam*sum_j Omega(w_j)"


def lam_param(default: Any = 1) -> Param:
    return positive("lam", default, LAM_DOC)


Expected = Callable[[Mapping[str, Any]], Mapping[str, bool | None]]


@dataclass(frozen=True)
class Entry:
    """A catalog method, as data.

    ``kind`` is a rule kind of :func:`symdual.derive` ("eta_hat", "keep_prob",
    "drop_rate", "variance", "penalty", "dual"), "engine" (a dual known only
    numerically) or "non-separable" (a vector penalty with its own record).
    ``rule`` is the rule as text for the engine's whitelisted parser (None for
    "engine" and "non-separable"). ``expected(params)`` maps property names to
    True (holds), False (fails) or None (not asserted).
    ``numeric``: dotted name of ``f(values) -> engine`` (a numeric eta-trick engine);
    ``supplement``: of ``f(values, engine) -> Supplement`` (series, limits, notes);
    ``build``: of ``f(entry, values) -> VectorPenalty`` (non-separable entries).
    """

    name: str
    title: str
    citation: str
    family: str
    kind: str
    rule: str | None
    rule_text: str
    params: tuple[Param, ...]
    expected: Expected
    lam_mapping: str = "r = lam/eta (docs/conventions.md)"
    rule_latex: str = ""
    """LaTeX of ``rule_text`` where the rule is no SymPy expression (engine and non-separable entries)."""
    notes: tuple[str, ...] = ()
    numeric: str | None = None
    supplement: str | None = None
    build: str | None = None

    def __post_init__(self) -> None:
        for dotted in (self.numeric, self.supplement, self.build):
            if dotted is not None and (not dotted.startswith(METHOD_PREFIX) or dotted.count(":") != 1):
                raise ValueError(f"{self.name}: {dotted!r} is not a 'symdual.methods.MODULE:FUNCTION' name")

    # -------------------------------------------------------------- params
    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated by ``overrides``, every value validated."""
        overrides = dict(overrides or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise InputError(f"{self.name} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters are: {', '.join(known)}")
        out = {}
        for p in self.params:
            out[p.name] = p.validate(overrides.get(p.name, p.default))
        return out

    def expected_for(self, params: Mapping[str, Any] | None = None) -> dict[str, bool | None]:
        """Expected truth of each property at these parameters (None: not asserted)."""
        values = self.resolve(params)
        exp = dict(self.expected(values))
        bad = set(exp) - set(PROPERTY_NAMES)
        if bad:
            raise ValueError(f"{self.name}: unknown property names {bad}")
        return {k: exp.get(k) for k in PROPERTY_NAMES}


def agrees(status: str, expected: bool | None) -> bool:
    """Does a verdict status match an expectation (None matches anything)?"""
    if expected is None:
        return True
    return status in HOLDS if expected else status == "refuted"
