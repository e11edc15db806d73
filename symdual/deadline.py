"""One time budget for a whole derivation, for the work done in this process (numerics, certification, display).

CAS calls run in a bounded child process (:mod:`symdual.bounded`); everything
else in a derivation (point-by-point mpmath evaluation, verdict scans,
simplification for display) checks the same deadline cooperatively, without
signals, so it works in any thread:

    with within(seconds):
        ...
        check("the verdict scans")   # raises OutOfTime past the deadline
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("symdual_deadline", default=None)


class OutOfTime(Exception):
    """The derivation's time budget ran out during ``what``."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: cut by the time budget")
        self.what = what


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the body under a deadline ``seconds`` from now (a tighter enclosing deadline is kept)."""
    end = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float:
    """Seconds left (inf when no deadline is set)."""
    end = _DEADLINE.get()
    return float("inf") if end is None else end - time.monotonic()


def check(what: str) -> None:
    """Raise :class:`OutOfTime` if the deadline has passed."""
    if remaining() <= 0:
        raise OutOfTime(what)
