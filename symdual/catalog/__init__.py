"""The catalog: every method of both papers as a declarative entry run through the engine.

    import symdual as sd
    sd.catalog.names()                         # ['l1', 'lp', 'logsum', ...]
    d = sd.catalog.get("mcp", a=0.5, lam=2**0.5)   # a symdual.Derivation
    sd.catalog.entry("mcp").citation, sd.catalog.entry("mcp").defaults

Separable methods give a :class:`symdual.Derivation` (``get`` calls
:func:`symdual.derive` on the entry's rule); the non-separable ones
(``hardthresh``, ``ard``) give a :class:`~symdual.catalog.nonseparable.VectorPenalty`.
"""
from __future__ import annotations

from typing import Any

from ..errors import InputError
from . import ard, classical, dropout, hardconcrete, hardthresh, vardrop
from .entry import PROPERTY_NAMES, Entry, Param, agrees

_ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (*classical.ENTRIES, *dropout.ENTRIES, *vardrop.ENTRIES, hardconcrete.ENTRY, hardthresh.ENTRY, ard.ENTRY)
}

__all__ = ["Entry", "Param", "PROPERTY_NAMES", "agrees", "entries", "entry", "get", "names"]


def names() -> list[str]:
    """The catalog's method names, in the order of MATH.md section 3."""
    return list(_ENTRIES)


def entry(name: str) -> Entry:
    """The declarative entry of a method (InputError listing the known names if unknown)."""
    try:
        return _ENTRIES[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown method {name!r}; known methods: {', '.join(_ENTRIES)}") from None


def entries() -> list[Entry]:
    return list(_ENTRIES.values())


def get(name: str, /, **params: Any) -> Any:
    """The derivation of a method; keyword arguments override the entry's defaults.

    Unknown method or parameter, or a value out of range: :class:`symdual.InputError`.
    """
    return entry(name).derive(params)
