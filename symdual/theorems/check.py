"""The result of one theorem check: hypotheses, what was proved, what was measured."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    """One verified statement.

    ``proved`` lists the steps established symbolically (exact identities);
    ``numeric`` lists the numerical checks, each with its grid and error;
    ``worst_error`` is the largest error of those numerical checks (None when
    everything was exact); ``passed`` is False when any step failed.
    """

    name: str
    statement: str
    hypotheses: str
    passed: bool
    proved: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    worst_error: float | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "statement": self.statement,
            "hypotheses": self.hypotheses,
            "passed": self.passed,
            "proved": list(self.proved),
            "numeric": list(self.numeric),
            "worst_error": self.worst_error,
            "detail": self.detail,
        }
