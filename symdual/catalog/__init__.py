"""The catalog: every method of both papers as a declarative entry (docs/catalog.md).

    import symdual as sd
    sd.catalog.names()                         # ['l1', 'lp', 'logsum', ...]
    d = sd.catalog.get("mcp", a=0.5, lam=2**0.5)   # a symdual.Derivation
    sd.catalog.entry("mcp").citation, sd.catalog.entry("mcp").defaults

The entries are data (:mod:`symdual.catalog.entry`); :func:`get` hands one to
the engine. Separable methods give a :class:`symdual.Derivation`; the
non-separable ones (``hardthresh``, ``ard``) a :class:`symdual.record.VectorPenalty`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..errors import InputError
from . import ard, classical, dropout, hardconcrete, hardthresh, vardrop
from .entry import PROPERTY_NAMES, Entry, Param, agrees

_ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (*classical.ENTRIES, *dropout.ENTRIES, *vardrop.ENTRIES, hardconcrete.ENTRY, hardthresh.ENTRY, ard.ENTRY)
}

__all__ = ["Entry", "Param", "PROPERTY_NAMES", "agrees", "derive", "entries", "entry", "expression", "get", "names"]


def names() -> list[str]:
    """The catalog's method names, in the order of docs/catalog.md."""
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
    return derive(entry(name), params)


def derive(method: Entry | str, params: Mapping[str, Any] | None = None, timeout: float | None = None) -> Any:
    """The record of a method at these parameters (validated), through :func:`symdual.derive`."""
    from ..derivation import derive as derive_rule
    from ..derivation import from_engine, resolve

    e = entry(method) if isinstance(method, str) else method
    values = e.resolve(params)
    if e.build is not None:
        return resolve(e.build)(e, values)
    engine = resolve(e.numeric)(values) if e.numeric is not None else None
    supplement = None
    if e.supplement is not None:
        supplied = resolve(e.supplement)

        def supplement(eng: Any) -> Any:
            return supplied(values, eng)

    rest = {p.name: values[p.name] for p in e.params if p.name != "lam"}
    if e.kind == "engine":
        return from_engine(engine, name=e.name, lam=values["lam"], params=rest, timeout=timeout,
                           supplement=supplement)
    return derive_rule(**{e.kind: e.rule}, lam=values["lam"], params=rest, timeout=timeout, engine=engine,
                       supplement=supplement)


def expression(method: Entry | str, params: Mapping[str, Any] | None = None) -> sp.Expr:
    """The rule of a method as a SymPy expression in w (or eta), its parameters substituted."""
    from ..inputs import build_rule

    e = entry(method) if isinstance(method, str) else method
    values = e.resolve(params)
    rest = {p.name: values[p.name] for p in e.params if p.exact and p.name != "lam"}
    return build_rule(e.kind, e.rule, values["lam"], rest).expr
