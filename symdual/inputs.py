"""Reading a rule: exactly one kind given, parameters exact, symbols known, ranges valid.

Every failure is an :class:`InputError` with a one-line message naming what is wrong.
"""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping

import mpmath
import numpy as np
import sympy as sp
from sympy.logic.boolalg import Boolean

from .errors import InputError
from .numeric.evaluators import ClosedForm
from .parsing import ParseError, check_expression, parse_expr, safe_identifier, substitute
from .rules import Rule, as_exact, lam, variable_of, w


def given_rule(options: Mapping[str, object]) -> tuple[str, object]:
    chosen = [(k, v) for k, v in options.items() if v is not None]
    if len(chosen) != 1:
        names = ", ".join(options)
        raise InputError(f"give exactly one of {names} (got {len(chosen)})")
    return chosen[0]


def exact_params(params: Mapping[str, object] | None) -> dict[str, sp.Expr]:
    """Parameter values as exact, finite, real SymPy numbers; names are safe identifiers other than w, eta."""
    out = {}
    for name, value in (params or {}).items():
        try:
            safe_identifier(name)
        except InputError:
            raise InputError(f"invalid parameter name {name!r}") from None
        if name in ("w", "eta"):
            raise InputError(f"invalid parameter name {name!r}: it is a variable of the rule")
        try:
            v = as_exact(value)
        except (TypeError, ValueError) as exc:
            raise InputError(f"parameter {name}: {exc}") from None
        if not isinstance(v, sp.Expr) or v.free_symbols or not v.is_number:
            raise InputError(f"parameter {name} = {value!r} is not a number")
        out[name] = v
    return out


def _read(kind: str, expr: object, symbols: Mapping[str, sp.Symbol]) -> sp.Expr:
    """The rule as a whitelisted SymPy expression in the canonical symbols (text is parsed, SymPy walked)."""
    if isinstance(expr, str):
        try:
            return parse_expr(expr, symbols)
        except ParseError as exc:
            raise InputError(str(exc)) from None
    if isinstance(expr, sp.Basic):
        check_expression(expr)
        if not isinstance(expr, sp.Expr) or (isinstance(expr, Boolean) and not isinstance(expr, sp.Symbol)):
            raise InputError(f"a {kind} must be an expression, not the condition {expr}")
        return substitute(expr, {name: symbols[name] for name in symbols})
    if isinstance(expr, (numbers.Real, np.number)) and not isinstance(expr, (bool, np.bool_)):
        try:
            return as_exact(expr)
        except (TypeError, ValueError) as exc:
            raise InputError(f"the {kind}: {exc}") from None
    raise InputError(f"a rule must be a string or a SymPy expression, not {type(expr).__name__}")


def build_rule(kind: str, expr: object, lam_value: object = 1, params: Mapping[str, object] | None = None) -> Rule:
    """Parse/validate a rule: whitelisted, symbols known, every parameter valued, lam > 0, constants in range
    after substitution."""
    values = exact_params(params)
    lam_exact = values.pop("lam", None) or exact_params({"lam": lam_value})["lam"]
    if not bool(lam_exact > 0):
        raise InputError(f"lam must be positive, got {lam_exact}")
    var = variable_of(kind)
    symbols: dict[str, sp.Symbol] = {var.name: var, "lam": lam}
    symbols.update({name: sp.Symbol(name, positive=True) for name in values})
    parsed = _read(kind, expr, symbols)
    shown = _short(expr)
    if parsed.has(sp.zoo, sp.nan):
        bad = sp.zoo if parsed.has(sp.zoo) else sp.nan
        raise InputError(f"the {kind} {shown} is undefined (it evaluates to {bad}, e.g. a division by zero)")
    names = {s_.name for s_ in parsed.free_symbols}
    other = names - set(symbols)
    if other:
        other_var = {"w", "eta"} & other
        if other_var:
            raise InputError(f"a {kind} is a function of {var.name}, "
                             f"but the expression uses {', '.join(sorted(other_var))}")
        missing = ", ".join(sorted(other))
        raise InputError(f"missing parameter value for {missing}: give --param NAME=VALUE (params={{...}} in Python)")
    unused = sorted(set(values) - names)
    if unused:
        raise InputError(f"parameter {', '.join(unused)} is not used by the {kind} {shown} (a misspelt name?)")
    final = substitute(parsed, {**values, "lam": lam_exact})
    if final.has(sp.zoo, sp.nan):
        raise InputError(f"the {kind} {shown} is undefined at these parameter values (it evaluates to "
                         f"{sp.zoo if final.has(sp.zoo) else sp.nan})")
    check_expression(final, {var.name})
    return Rule(kind, final, lam_exact, values, source=str(expr))


def _short(expr: object) -> str:
    text = " ".join(str(expr).split())
    return text if len(text) <= 80 else text[:77] + "..."


_GRID = np.geomspace(1e-6, 1e6, 241)
_REAL_POINTS = np.geomspace(1e-6, 1e6, 13)
MP_DPS = (30, 100)
"""Precisions (digits) of the mpmath checks: a division by zero at the first is retried at the second."""
_MP_MODULES = ["mpmath", {"Heaviside": lambda x, h=0.5: mpmath.mpf(h) if x == 0 else (1 if x > 0 else 0)}]


def _float_values(expr: sp.Expr, var: sp.Symbol, grid: np.ndarray) -> np.ndarray | None:
    """float64 values on ``grid`` (None where NumPy cannot evaluate the expression, or gives complex values)."""
    try:
        fn = sp.lambdify(var, expr, modules="numpy")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = np.asarray(fn(grid))
            if raw.dtype.kind not in "fiub":
                return None
            return raw.astype(np.float64) * np.ones_like(grid)
    except Exception:  # noqa: BLE001 - a function NumPy has no printer for, or a domain error: mpmath decides
        return None


def _mp_function(expr: sp.Expr, var: sp.Symbol) -> Callable[[mpmath.mpf], object]:
    check_expression(expr, {var.name}, strict=False)
    return sp.lambdify(var, expr, modules=_MP_MODULES)


def _mp_value(fn: Callable[[mpmath.mpf], object], x: float) -> mpmath.mpf | mpmath.mpc | None:
    """The value at x in mpmath (30 digits, 100 after a division by zero); None where it is undefined."""
    for dps in MP_DPS:
        with mpmath.workdps(dps):
            try:
                value = fn(mpmath.mpf(x))
            except ZeroDivisionError:
                continue
            except (ValueError, TypeError, OverflowError, ArithmeticError):
                return None
            try:
                return mpmath.mpmathify(value)
            except (TypeError, ValueError):
                return None
    return None


def _not_real(value: object) -> bool:
    if not isinstance(value, mpmath.mpc):
        return False
    return bool(abs(value.imag) > mpmath.mpf(10) ** -20 * max(1, abs(value.real)))


def _real(value: mpmath.mpf | mpmath.mpc) -> mpmath.mpf:
    return value.real if isinstance(value, mpmath.mpc) else value


def check_real(rule: Rule) -> None:
    """The rule is defined and real-valued: at 13 points of (0, oo) its mpmath value exists and has no imaginary
    part (else InputError naming the point); SymPy's principal roots make e.g. (-8)**(1/3) complex."""
    var = variable_of(rule.kind)
    fn = _mp_function(rule.expr, var)
    for x in _REAL_POINTS:
        _defined_real(rule, var.name, float(x), _mp_value(fn, float(x)))


def _defined_real(rule: Rule, var: str, x: float, value: object) -> None:
    """InputError unless the rule's mpmath ``value`` at ``var = x`` is defined and real."""
    if value is None:
        raise InputError(f"the {rule.kind} {_short(rule.expr)} is undefined at {var} = {x:.4g} "
                         "(a pole or a division by zero)")
    if _not_real(value):
        raise InputError(f"the {rule.kind} {_short(rule.expr)} is not real-valued: at {var} = {x:.4g} "
                         f"it is {mpmath.nstr(value, 6)} (complex values are not supported)")


def _judge(rule: Rule, ok: Callable[[mpmath.mpf], bool], vals: np.ndarray | None,
           fail: Callable[[float, object], str]) -> None:
    """InputError ``fail(x, value)`` at the first grid point where ``ok`` fails in mpmath; the float64 ``vals``
    only pick the points to check (all of them if None), so float64 underflow or overflow decides nothing."""
    if vals is None:
        points = range(len(_GRID))
    else:
        with np.errstate(invalid="ignore"):
            points = [i for i in range(len(_GRID)) if not (np.isfinite(vals[i]) and ok(mpmath.mpf(vals[i])))]
    if not points:
        return
    fn = _mp_function(rule.expr, variable_of(rule.kind))
    for i in points:
        x = float(_GRID[i])
        value = _mp_value(fn, x)
        _defined_real(rule, variable_of(rule.kind).name, x, value)
        if not ok(_real(value)):
            raise InputError(fail(x, _real(value)))


def check_range(rule: Rule) -> None:
    """Real values; rates in [0, 1] and eta_hat, r, sigma**2 >= 0 on a grid of w, judged in mpmath (else
    InputError naming the first failing point)."""
    check_real(rule)
    if rule.kind == "dual":
        _check_dual(rule)
        return
    if rule.kind == "penalty":
        return
    high = mpmath.mpf(1) if rule.kind in ("drop_rate", "keep_prob") else mpmath.inf
    interval = "[0, 1]" if high == 1 else "[0, oo)"

    def ok(v: mpmath.mpf) -> bool:
        return bool(0 <= v <= high)

    def fail(x: float, v: object) -> str:
        return f"{rule.kind} {_short(rule.expr)} is outside {interval} at w = {x:.4g} (value {mpmath.nstr(v, 6)})"

    vals = _float_values(rule.expr, w, _GRID)
    _judge(rule, ok, vals, fail)


_POSITIVE_ETA: dict[str, Callable[[mpmath.mpf], bool]] = {
    "eta_hat": lambda v: v > 0,
    "keep_prob": lambda v: v > 0,
    "drop_rate": lambda v: v < 1,
    "ratio": lambda v: v < mpmath.inf,
    "variance": lambda v: v < mpmath.inf,
}
"""eta_hat > 0 (+oo allowed) in terms of the rule: eta = lam q/(1-q) = lam (1-p)/p = lam/r, with the rule
already in range; judging the rule avoids the cancellation 1 - q of the converted eta_hat."""


def check_eta_hat(eta_hat: sp.Expr, rule: Rule) -> None:
    """eta_hat must be a positive function (oo allowed: no dropout there), judged in mpmath on the rule."""
    if eta_hat.has(sp.zoo, sp.nan) or eta_hat == sp.oo:
        raise InputError(f"{rule.kind} {_short(rule.expr)} gives eta_hat = {_short(eta_hat)}: no dropout at all, "
                         "the penalty is 0")
    ok = _POSITIVE_ETA[rule.kind]

    def fail(x: float, v: mpmath.mpf) -> str:
        value = _eta_value(rule, v)
        return (f"{rule.kind} {_short(rule.expr)} gives eta_hat = {_short(eta_hat)} = {mpmath.nstr(value, 6)} "
                f"at w = {x:.4g}; eta_hat must be positive (a drop rate of 1 drops the weight for good)")

    _judge(rule, ok, _float_values(rule.expr, w, _GRID), fail)


def _eta_value(rule: Rule, v: mpmath.mpf) -> mpmath.mpf:
    """eta_hat from the rule's value v (to_eta_hat in mpmath)."""
    lam_mp = mpmath.mpf(sp.N(rule.lam, 30))
    with mpmath.workdps(30):
        try:
            return {"eta_hat": lambda: v, "keep_prob": lambda: lam_mp * v / (1 - v),
                    "drop_rate": lambda: lam_mp * (1 - v) / v}.get(rule.kind, lambda: lam_mp / v)()
        except ZeroDivisionError:
            return mpmath.inf


def _check_dual(rule: Rule) -> None:
    """A dual f must be real and nondecreasing in eta, +oo allowed (else w**2 = eta**2 f'(eta) has no root and the
    infimum runs off to eta -> 0 or oo): checked on a grid of eta, one line naming the first failure."""
    f = ClosedForm(rule.expr, variable_of("dual"))
    try:
        vals = f.unguarded(_GRID)[1]  # a decrease beyond 1e-12 relative: no need of the loss-of-significance guard
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
    _check_dual_at_zero(rule)


DIVERGENCE_EXPONENTS = (20, 40, 80, 160, 320)
"""f is evaluated at eta = 10**-k for these k (mpmath) to tell f(0+) = -oo from a finite limit."""
DIVERGENCE_RATIO = 0.9
"""f(0+) = -oo when the drops of f between successive etas 10**-k do not shrink below this ratio."""


def _check_dual_at_zero(rule: Rule) -> None:
    """InputError if f(0+) = -oo: then Omega(0+) = f(0+)/2 = -oo and no normalisation Omega(0) = 0 exists.

    The drops D_j = f(10**-k_j) - f(10**-k_(j+1)) over doubling k shrink geometrically for a finite limit
    (f - f(0+) ~ c eta**q, or 1/log(1/eta): ratio 1/2) and do not shrink for log(eta) (ratio 2) or
    -log(log(1/eta)) (ratio 1); judged on the last two drops, in mpmath at 30 digits."""
    fn = _mp_function(rule.expr, variable_of("dual"))
    values = []
    for k in DIVERGENCE_EXPONENTS:
        value = _mp_value(fn, 10.0 ** -k) if k < 300 else _mp_tiny(fn, k)
        if value is None or _not_real(value):
            return
        values.append(_real(value))
    if any(mpmath.isinf(v) for v in values):
        if values[-1] == -mpmath.inf:
            raise _divergent_dual(rule, DIVERGENCE_EXPONENTS[-1], values[-1])
        return
    drops = [a - b for a, b in zip(values, values[1:], strict=False)]
    if drops[-2] > mpmath.mpf(10) ** -12 * (1 + abs(values[0])) and drops[-1] >= DIVERGENCE_RATIO * drops[-2]:
        raise _divergent_dual(rule, DIVERGENCE_EXPONENTS[-1], values[-1])


def _mp_tiny(fn: Callable[[mpmath.mpf], object], k: int) -> mpmath.mpf | mpmath.mpc | None:
    """The value at 10**-k for k beyond float64's range (mpmath has no underflow)."""
    with mpmath.workdps(MP_DPS[0]):
        try:
            return mpmath.mpmathify(fn(mpmath.mpf(10) ** -k))
        except (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError):
            return None


def _divergent_dual(rule: Rule, k: int, value: mpmath.mpf) -> InputError:
    return InputError(f"the penalty diverges at w = 0: the dual f = {_short(rule.expr)} tends to -oo as eta -> 0+ "
                      f"(f(1e-{k}) = {mpmath.nstr(value, 6)}), so Omega(0+) = f(0+)/2 = -oo")
