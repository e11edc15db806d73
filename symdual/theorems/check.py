"""The result of one theorem check: hypotheses, what was proved, what was measured.

A check ends in one of three states: PASS (every step held), FAIL (a step of
the theorem was contradicted) or UNCHECKED (the check could not be carried
out, e.g. a reference solver did not converge or the rule's expression could
not be evaluated; ``detail`` says why in plain words). A theorem module
signals the third state by raising :class:`NotChecked`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

PASS, FAIL, UNCHECKED = "PASS", "FAIL", "UNCHECKED"


class NotChecked(Exception):
    """The check could not be carried out (numerical trouble, not a violated theorem); the message says why."""


class NotConverged(NotChecked):
    """A reference solver stopped at its iteration cap or time budget before converging."""


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
