"""Typed verdicts: what is claimed about a property, how, and on what evidence.

    Verdict(status, by, detail, witness)

``status``  proved | supported | refuted | unknown
``by``      symbolic | numeric | by construction | literature (``detail`` names the citation)
``witness`` the points, values and precision behind a refutation (a counterexample)
            or a support (the grid that was checked); None for proofs.

"proved" is a symbolic proof or an exact construction valid on the whole
domain, never a spot check; "refuted" carries a counterexample confirmed in
high precision (see docs/properties.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("proved", "supported", "refuted", "unknown")
BY = ("symbolic", "numeric", "by construction", "literature")
HOLDS = ("proved", "supported")
MARKS = {
    "word": {"proved": "proved", "supported": "supported", "refuted": "REFUTED", "unknown": "unknown"},
    "symbol": {"proved": "✓", "supported": "(✓)", "refuted": "✗", "unknown": "?"},
    "latex": {"proved": r"\checkmark", "supported": r"(\checkmark)", "refuted": r"$\times$", "unknown": "?"},
}
"""How each status is printed: as a word in summaries (refutations stand out), as a symbol in tables."""
MARK = MARKS["word"]


@dataclass(frozen=True)
class Witness:
    """Evidence for a verdict: ``points`` (w, eta or s), the ``values`` there, and their ``precision``."""

    points: tuple[str, ...]
    values: tuple[str, ...]
    precision: str
    grid: str = ""
    """For a supporting check: the grid that was scanned."""

    def as_dict(self) -> dict[str, Any]:
        return {"points": list(self.points), "values": list(self.values), "precision": self.precision,
                "grid": self.grid}

    @classmethod
    def on_grid(cls, grid: str, precision: str = "float64") -> Witness:
        return cls((), (), precision, grid)


def _text(x: object) -> str:
    return x if isinstance(x, str) else str(x)


def witness(points: tuple | list, values: tuple | list, precision: str) -> Witness:
    """A counterexample's points and values, each kept as printed text (enough digits to show it)."""
    return Witness(tuple(map(_text, points)), tuple(map(_text, values)), precision)


@dataclass(frozen=True)
class Verdict:
    """One property's verdict: ``status`` obtained ``by`` a method, explained in ``detail``."""

    status: str
    by: str
    detail: str
    witness: Witness | None = field(default=None)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict status {self.status!r} is not one of {STATUSES}")
        if self.by not in BY:
            raise ValueError(f"verdict method {self.by!r} is not one of {BY}")
        if self.status == "proved" and self.by == "numeric":
            raise ValueError("a numeric check cannot prove: use 'supported'")

    @property
    def holds(self) -> bool:
        """Proved or supported."""
        return self.status in HOLDS

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "by": self.by, "detail": self.detail,
                "witness": None if self.witness is None else self.witness.as_dict()}
