"""Piecewise expressions in w >= 0 as explicit branches with their domains.

Rules such as MCP and SCAD are piecewise; every transform maps over the
branches, and every result is returned as branches with explicit intervals.
(A "piece" elsewhere in symdual is an evaluable part of a record: omega, eta_hat, f_dual, omega_prime.)
"""
from __future__ import annotations

import sympy as sp

HALF_LINE = sp.Interval(0, sp.oo)


def branches(expr: sp.Expr, x: sp.Symbol, domain: sp.Set = HALF_LINE) -> list[tuple[sp.Expr, sp.Set]]:
    """``[(expression, interval), ...]`` covering ``domain``, in order of x."""
    folded = sp.piecewise_fold(expr)
    if not isinstance(folded, sp.Piecewise):
        return [(folded, domain)]
    out = []
    for piece, where in folded.as_expr_set_pairs(domain):
        for part in (where.args if isinstance(where, sp.Union) else (where,)):
            if part.measure != 0:  # drop single points
                out.append((piece, part))
    return sorted(out, key=lambda ps: ps[1].inf)


def from_branches(parts: list[tuple[sp.Expr, sp.Set]], x: sp.Symbol) -> sp.Expr:
    """Rebuild one expression; a single piece comes back unwrapped."""
    if len(parts) == 1:
        return parts[0][0]
    args = [(e, interval.as_relational(x)) for e, interval in parts[:-1]]
    args.append((parts[-1][0], True))
    return sp.Piecewise(*args)


def head(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """The piece active just right of 0."""
    return branches(expr, x)[0][0]


def tail(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """The piece active as x -> oo."""
    return branches(expr, x)[-1][0]


def is_piecewise(expr: sp.Expr) -> bool:
    return isinstance(sp.piecewise_fold(expr), sp.Piecewise)
