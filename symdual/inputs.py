"""Reading a rule: exactly one kind given, parameters exact, symbols known, ranges valid.

Every failure is an :class:`InputError` with a one-line message naming what is wrong.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from .errors import InputError
from .numeric.evaluators import ClosedForm
from .rules import Rule, as_exact, lam, variable_of, w


def given_rule(options: Mapping[str, object]) -> tuple[str, object]:
    chosen = [(k, v) for k, v in options.items() if v is not None]
    if len(chosen) != 1:
        names = ", ".join(options)
        raise InputError(f"give exactly one of {names} (got {len(chosen)})")
    return chosen[0]


def exact_params(params: Mapping[str, object] | None) -> dict[str, sp.Expr]:
    out = {}
    for name, value in (params or {}).items():
        if not str(name).isidentifier() or name in ("w", "eta"):
            raise InputError(f"invalid parameter name {name!r}")
        try:
            v = as_exact(value)
        except (TypeError, ValueError) as exc:
            raise InputError(f"parameter {name}: {exc}") from None
        if v.free_symbols:
            raise InputError(f"parameter {name} = {v} is not a number")
        out[name] = v
    return out


def build_rule(kind: str, expr: object, lam_value: object = 1, params: Mapping[str, object] | None = None) -> Rule:
    """Parse/validate a rule: symbols known, every parameter valued, lam > 0."""
    values = exact_params(params)
    lam_exact = values.pop("lam", None) or exact_params({"lam": lam_value})["lam"]
    if not bool(lam_exact > 0):
        raise InputError(f"lam must be positive, got {lam_exact}")
    var = variable_of(kind)
    symbols: dict[str, sp.Symbol] = {var.name: var, "lam": lam}
    symbols.update({name: sp.Symbol(name, positive=True) for name in values})
    if isinstance(expr, str):
        from .parsing import ParseError, parse_expr

        try:
            parsed = parse_expr(expr, symbols)
        except ParseError as exc:
            raise InputError(str(exc)) from None
    elif isinstance(expr, (int, float)):
        parsed = as_exact(expr)
    elif isinstance(expr, sp.Basic):
        parsed = expr.subs({s_: symbols[s_.name] for s_ in expr.free_symbols if s_.name in symbols})
    else:
        raise InputError(f"a rule must be a string or a SymPy expression, not {type(expr).__name__}")
    if parsed.has(sp.zoo, sp.nan):
        raise InputError(f"the {kind} {expr} is undefined (it evaluates to {sp.zoo if parsed.has(sp.zoo) else sp.nan}, "
                         "e.g. a division by zero)")
    other = {s_.name for s_ in parsed.free_symbols} - set(symbols)
    if other:
        other_var = {"w", "eta"} & other
        if other_var:
            raise InputError(f"a {kind} is a function of {var.name}, "
                             f"but the expression uses {', '.join(sorted(other_var))}")
        missing = ", ".join(sorted(other))
        raise InputError(f"missing parameter value for {missing}: give --param NAME=VALUE (params={{...}} in Python)")
    unused = sorted(set(values) - {s_.name for s_ in parsed.free_symbols})
    if unused:
        raise InputError(f"parameter {', '.join(unused)} is not used by the {kind} {expr} (a misspelt name?)")
    subs = {symbols[k]: v for k, v in values.items()}
    subs[lam] = lam_exact
    return Rule(kind, parsed.subs(subs), lam_exact, values, source=str(expr))


_GRID = np.geomspace(1e-6, 1e6, 241)


def check_range(rule: Rule) -> None:
    """Rates in [0, 1] and eta_hat, r, sigma**2 >= 0 on a grid of w (else InputError)."""
    if rule.kind == "dual":
        _check_dual(rule)
        return
    if rule.kind == "penalty":
        return
    bounds = {"drop_rate": (0, 1), "keep_prob": (0, 1)}.get(rule.kind, (0, np.inf))
    f = ClosedForm(rule.expr, w)
    vals = f(_GRID)
    bad = np.nonzero((vals < bounds[0]) | (vals > bounds[1]) | np.isnan(vals))[0]
    if len(bad):
        i = bad[0]
        interval = "[0, 1]" if bounds[1] == 1 else "[0, oo)"
        raise InputError(f"{rule.kind} {rule.expr} is outside {interval} at w = {_GRID[i]:.4g} (value {vals[i]:.6g})")


def check_eta_hat(eta_hat: sp.Expr, rule: Rule) -> None:
    """eta_hat must be a positive function (oo allowed: no dropout there)."""
    if eta_hat.has(sp.zoo, sp.nan) or eta_hat == sp.oo:
        raise InputError(f"{rule.kind} {rule.expr} gives eta_hat = {eta_hat}: no dropout at all, the penalty is 0")
    vals = ClosedForm(eta_hat, w)(_GRID)
    bad = np.nonzero(~(vals > 0))[0]
    if len(bad):
        i = bad[0]
        raise InputError(f"{rule.kind} {rule.expr} gives eta_hat = {eta_hat} = {vals[i]:.6g} at w = {_GRID[i]:.4g}; "
                         "eta_hat must be positive (a drop rate of 1 drops the weight for good)")


def _check_dual(rule: Rule) -> None:
    """A dual f must be real and nondecreasing in eta, +oo allowed (else w**2 = eta**2 f'(eta) has no root and the
    infimum runs off to eta -> 0 or oo): checked on a grid of eta, one line naming the first failure."""
    f = ClosedForm(rule.expr, variable_of("dual"))
    try:
        vals = f(_GRID)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):  # complex or undefined values
        raise InputError(f"the dual f = {rule.expr} is not real-valued for eta > 0") from None
    bad = np.nonzero(np.isnan(vals) | (vals == -np.inf))[0]
    if len(bad):
        i = bad[0]
        raise InputError(f"the dual f = {rule.expr} is undefined at eta = {_GRID[i]:.4g} (value {vals[i]:.6g})")
    if np.all(vals == np.inf):
        raise InputError(f"the dual f = {rule.expr} is +oo for every eta: no penalty is finite")
    with np.errstate(invalid="ignore"):  # +oo - +oo where f is +oo (a constraint on eta): no decrease there
        drops = np.nonzero(np.diff(vals) < -1e-12 * np.maximum(np.abs(vals[:-1]), 1.0))[0]
    if len(drops):
        i = drops[0]
        raise InputError(f"a dual f must be nondecreasing in eta, but f = {rule.expr} decreases: "
                         f"f({_GRID[i]:.4g}) = {vals[i]:.8g} > f({_GRID[i + 1]:.4g}) = {vals[i + 1]:.8g}")
