"""The result of one theorem check: hypotheses, what was proved, what was measured.

A check ends in one of three states: PASS (every step held), FAIL (a step of
the theorem was contradicted) or UNCHECKED (the check could not be carried
out, e.g. a reference solver did not converge or the rule's expression could
not be evaluated; ``detail`` says why in plain words). A theorem module
signals the third state by raising :class:`NotChecked`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, UNCHECKED = "PASS", "FAIL", "UNCHECKED"
_FIELDS = ("name", "status", "statement", "hypotheses", "passed", "proved", "numeric", "worst_error", "detail")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NON_FINITE = ("inf", "-inf", "nan")


class NotChecked(Exception):
    """The check could not be carried out (numerical trouble, not a violated theorem); the message says why."""


class NotConverged(NotChecked):
    """A reference solver stopped at its iteration cap or time budget before converging."""


def plain_text(value: Any, what: str) -> str:
    """``value`` if it is a string without control characters (tab and newline aside), else ValueError."""
    if not isinstance(value, str) or _CONTROL.search(value):
        raise ValueError(f"{what} is not plain text")
    return value


def _number(x: object) -> float | str | None:
    """A JSON-safe number: a Python float, or "inf"/"-inf"/"nan" for non-finite values (None stays None)."""
    if x is None:
        return None
    v = float(x)  # numpy and mpmath scalars included
    return v if math.isfinite(v) else str(v)


@dataclass
class Check:
    """One verified statement.

    ``proved`` lists the steps established symbolically (exact identities);
    ``numeric`` lists the numerical checks, each with its grid and error;
    ``worst_error`` is the largest error of those numerical checks (None when
    everything was exact); ``passed`` is False when any step failed, and when
    the check could not be carried out (``checked`` False; then ``detail`` says why).
    """

    name: str
    statement: str
    hypotheses: str
    passed: bool
    proved: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    worst_error: float | None = None
    detail: str = ""
    checked: bool = True

    @classmethod
    def unchecked(cls, name: str, reason: str) -> Check:
        """The result of a check that could not be carried out, with the reason in plain words."""
        return cls(name, "(not checked)", "-", passed=False, detail=reason, checked=False)

    @property
    def status(self) -> str:
        """PASS, FAIL or UNCHECKED."""
        return UNCHECKED if not self.checked else PASS if self.passed else FAIL

    def as_dict(self) -> dict:
        """A JSON-safe dict (plain bools, floats and strings; non-finite errors as "inf"/"nan")."""
        return {
            "name": str(self.name),
            "status": self.status,
            "statement": str(self.statement),
            "hypotheses": str(self.hypotheses),
            "passed": bool(self.passed),
            "proved": [str(p) for p in self.proved],
            "numeric": [str(n) for n in self.numeric],
            "worst_error": _number(self.worst_error),
            "detail": str(self.detail),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Check:
        """The inverse of :meth:`as_dict`, strict (ValueError on any other shape: e.g. a cache file is not
        trusted): exactly its keys, plain text, a status that agrees with ``passed``."""
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise ValueError("not a check")
        status, passed, error = data["status"], data["passed"], data["worst_error"]
        if status not in (PASS, FAIL, UNCHECKED) or not isinstance(passed, bool) or passed != (status == PASS):
            raise ValueError("a status that does not agree with 'passed'")
        lists = [data["proved"], data["numeric"]]
        if not all(isinstance(items, list) for items in lists):
            raise ValueError("steps that are not lists")
        if not (error is None or error in _NON_FINITE or (isinstance(error, float) and math.isfinite(error))):
            raise ValueError("a worst error that is not a number")
        return cls(plain_text(data["name"], "the name"), plain_text(data["statement"], "the statement"),
                   plain_text(data["hypotheses"], "the hypotheses"), passed,
                   proved=[plain_text(p, "a step") for p in data["proved"]],
                   numeric=[plain_text(n, "a step") for n in data["numeric"]],
                   worst_error=float(error) if error is not None else None,
                   detail=plain_text(data["detail"], "the detail"), checked=status != UNCHECKED)
