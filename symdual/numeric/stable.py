"""Stable float64 forms of SymPy closed forms, for evaluation only.

:func:`stable_form` rewrites an expression into an equal one whose float64
evaluation neither cancels nor overflows where the true value is finite:

    log(1 + u) -> log1p(u),  log(c + u) -> log(c) + log1p(u/c)   (c > 0)
    exp(u) - 1 -> expm1(u),  1/expm1(u) -> exp(-u)/(1 - exp(-u)) (u > 1),  log(1 + exp(u)) -> softplus(u)
    1/(1 + exp(u)) -> sigmoid(-u), sigmoid(x) through exp(-|x|)
    1 -+ tanh(u) -> 2 sigmoid(-+2u),  1 - tanh(u)**2 -> 4 sigmoid(2u) sigmoid(-2u) (= sech(u)**2)
    c + sum k_i s_i -> sum k_i (s_i - L_i) when c + sum k_i L_i = 0, for terms s_i saturating at L_i as x -> oo
        (tanh(u) - 1 = -2 sigmoid(-2u), sigmoid(u) - 1 = -sigmoid(-u), erf(u) - 1 = -erfc(u), expm1(u) + 1 = exp(u)):
        the mixture 1 - tanh(w)/2 - sigmoid(w)/2 becomes sigmoid(-2w) + sigmoid(-w)/2 (no cancellation at large w)
    1/(c + k exp(u)) -> sigmoid(-u - log(k/c))/c (c, k > 0),  sinh(u)/cosh(u) -> tanh(u)
    log(cosh(u)) -> logcosh(u) = |u| + log1p(exp(-2|u|)) - log 2 (log1p(2 sinh(u/2)**2) for |u| < 1)
    exp(-u**2) erfi(u) -> 2/sqrt(pi) dawsn(u)

:func:`numpy_function` lambdifies the result with these functions, SciPy
(only when the expression needs it) and NumPy. What still overflows is left to
the caller's mpmath fallback (:class:`symdual.numeric.evaluators.ClosedForm`).
"""
from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
import sympy as sp

from .. import deadline

Array = np.ndarray

log1p = sp.Function("sd_log1p")
expm1 = sp.Function("sd_expm1")
softplus = sp.Function("sd_softplus")
sigmoid = sp.Function("sd_sigmoid")
logcosh = sp.Function("sd_logcosh")
dawsn = sp.Function("sd_dawsn")
inv_expm1 = sp.Function("sd_inv_expm1")


def _np_sigmoid(x: Array) -> Array:
    """1/(1 + exp(-x)) through e = exp(-|x|): 1/(1 + e) for x >= 0, e/(1 + e) below (no overflow)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _np_softplus(x: Array) -> Array:
    """log(1 + exp(x)) = logaddexp(0, x)."""
    return np.logaddexp(0.0, x)


def _np_logcosh(x: Array) -> Array:
    """log(cosh x): log1p(2 sinh(x/2)**2) for |x| < 1, |x| + log1p(exp(-2|x|)) - log 2 above."""
    a = np.abs(x)
    small = np.log1p(2.0 * np.sinh(np.minimum(a, 1.0) / 2) ** 2)
    large = a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)
    return np.where(a < 1.0, small, large)


def _np_inv_expm1(x: Array) -> Array:
    """1/(exp(x) - 1): exp(-x)/(1 - exp(-x)) for x > 1 (no overflow of exp(x) where the value is representable)."""
    e = np.exp(-np.maximum(x, 1.0))
    return np.where(x > 1.0, e / -np.expm1(-np.maximum(x, 1.0)), 1.0 / np.expm1(np.minimum(x, 1.0)))


def _np_dawsn(x: Array) -> Array:
    from scipy.special import dawsn as scipy_dawsn

    return scipy_dawsn(x)


NUMPY_FUNCTIONS: dict[str, Callable[[Array], Array]] = {
    "sd_log1p": np.log1p, "sd_expm1": np.expm1, "sd_softplus": _np_softplus, "sd_sigmoid": _np_sigmoid,
    "sd_logcosh": _np_logcosh, "sd_dawsn": _np_dawsn, "sd_inv_expm1": _np_inv_expm1,
}
"""The float64 implementations of the rewritten functions."""

SCIPY_FUNCTIONS = (sp.gamma, sp.loggamma, sp.erf, sp.erfc, sp.erfi, sp.hyper, sp.uppergamma, sp.lowergamma,
                   sp.besseli, sp.besselj, sp.besselk, sp.expint, sp.Ei, sp.polylog, sp.zeta, sp.digamma, sp.beta)
"""Functions NumPy lacks: their presence makes :func:`numpy_function` load SciPy."""


# ------------------------------------------------------------------ rewrite rules


def _exp_arg(e: sp.Expr) -> sp.Expr | None:
    """u when e = exp(u), else None."""
    return e.args[0] if isinstance(e, sp.exp) else None


def _rewrite_log(node: sp.log) -> sp.Expr:
    """log(1 + exp(u)) -> softplus(u); log(cosh u) -> logcosh(u); log(c + u) -> log(c) + log1p(u/c)."""
    if len(node.args) != 1:
        return node
    arg = node.args[0]
    if isinstance(arg, sp.cosh):
        return logcosh(arg.args[0])
    if not isinstance(arg, sp.Add):
        return node
    c, rest = arg.as_coeff_Add()
    if not (c.is_number and c.is_positive) or rest == 0:
        return node
    u = _exp_arg(rest)
    if c == 1 and u is not None:
        return softplus(u)
    return (sp.log(c) if c != 1 else sp.Integer(0)) + log1p(rest / c)


def _rewrite_add(node: sp.Add) -> sp.Expr:
    """k exp(u) - k -> k expm1(u); k tanh(u) -+ k -> -+2k sigmoid(-+2u); k - k tanh(u)**2 -> 4k sigmoid(2u)
    sigmoid(-2u); a constant that cancels the limits of saturating terms at oo is folded into them."""
    c, rest = node.as_coeff_Add()
    if c == 0:
        return node
    for term in sp.Add.make_args(rest):
        k, core = term.as_coeff_Mul()
        others = node.func(*(a for a in sp.Add.make_args(rest) if a is not term))
        u = _exp_arg(core)
        if u is not None and k == -c:
            return others + k * expm1(u)
        if isinstance(core, sp.tanh) and k in (c, -c):
            v = core.args[0]
            return others + (2 * k * sigmoid(2 * v) if k == c else -2 * k * sigmoid(-2 * v))
        if isinstance(core, sp.Pow) and isinstance(core.base, sp.tanh) and core.exp == 2 and k == -c:
            v = core.base.args[0]
            return others + 4 * c * sigmoid(2 * v) * sigmoid(-2 * v)
    return _fold_saturation(node, c, rest)


def _fold_saturation(node: sp.Add, c: sp.Expr, rest: sp.Expr) -> sp.Expr:
    """c + sum k_i s_i with c + sum k_i L_i = 0 (L_i = lim s_i as the variable -> oo): sum k_i (s_i - L_i),
    each s_i - L_i in a form that is small without cancellation (module docstring)."""
    total, changed, out = c, False, []
    for term in sp.Add.make_args(rest):
        k, core = term.as_coeff_Mul()
        sat = _saturation(core)
        if sat is None:
            out.append(term)
            continue
        limit, excess = sat
        total += k * limit
        out.append(k * excess)
        changed = True
    if not changed or sp.expand(total) != 0:
        return node
    return sp.Add(*out)


def _saturation(core: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(L, s - L) for a term s with a nonzero limit L as its variable -> oo, s - L written without cancellation."""
    if isinstance(core, sp.tanh):
        v = core.args[0]
        side = _sign_at_infinity(v)
        return None if side == 0 else (sp.Integer(side), -2 * side * sigmoid(-2 * side * v))
    if isinstance(core, sp.erf):
        v = core.args[0]
        side = _sign_at_infinity(v)
        return None if side == 0 else (sp.Integer(side), -side * sp.erfc(side * v))
    if core.func == sigmoid and _sign_at_infinity(core.args[0]) > 0:
        return sp.Integer(1), -sigmoid(-core.args[0])
    if core.func == expm1 and _sign_at_infinity(core.args[0]) < 0:
        return sp.Integer(-1), sp.exp(core.args[0])
    return None


def _sign_at_infinity(u: sp.Expr) -> int:
    """+1 or -1 when u -> +-oo as its only variable -> oo (a polynomial's leading coefficient, else u at
    1e20 and 1e40 growing with one sign); 0 otherwise (or when u has no single variable)."""
    symbols = u.free_symbols
    if len(symbols) != 1:
        return 0
    (x,) = symbols
    try:
        if u.is_polynomial(x):
            poly = sp.Poly(u, x)
            return 0 if poly.degree() < 1 else int(sp.sign(poly.LC()))
        a, b = (sp.N(u.subs(x, sp.Integer(10) ** e), 20) for e in (20, 40))
    except (TypeError, ValueError, ArithmeticError, sp.PolynomialError):
        return 0
    if not (a.is_real and b.is_real and a.is_finite and b.is_finite):
        return 0
    if abs(b) > 2 * abs(a) > 20 and sp.sign(a) == sp.sign(b):
        return int(sp.sign(b))
    return 0


def _rewrite_pow(node: sp.Pow) -> sp.Expr:
    """(c + k exp(u))**-n -> (sigmoid(-u - log(k/c))/c)**n (c, k > 0); expm1(u)**-n -> inv_expm1(u)**n."""
    base, ex = node.args
    if ex.is_number and ex.is_negative and base.func == expm1:
        return inv_expm1(base.args[0]) ** (-ex)
    if ex.is_number and ex.is_negative and isinstance(base, sp.Add):
        c, rest = base.as_coeff_Add()
        k, core = rest.as_coeff_Mul()
        u = _exp_arg(core)
        if u is not None and c.is_positive and k.is_positive:
            shift = sp.Integer(0) if k == c else sp.log(k / c)
            return (sigmoid(-u - shift) / c) ** (-ex)
    return node


def _rewrite_mul(node: sp.Mul) -> sp.Expr:
    """sinh(u)**p cosh(u)**-p -> tanh(u)**p; exp(-u**2) erfi(u) -> 2/sqrt(pi) dawsn(u); exps combined."""
    powers = [f.as_base_exp() for f in node.args]
    for i, (b, p) in enumerate(powers):
        if isinstance(b, sp.sinh):
            for j, (b2, p2) in enumerate(powers):
                if isinstance(b2, sp.cosh) and b2.args == b.args and p2 == -p:
                    rest = [f for n, f in enumerate(node.args) if n not in (i, j)]
                    return sp.Mul(*rest) * sp.tanh(b.args[0]) ** p
        if isinstance(b, sp.erfi) and p == 1:
            u = b.args[0]
            for j, f in enumerate(node.args):
                if isinstance(f, sp.exp) and sp.expand(f.args[0] + u**2) == 0:
                    rest = [g for n, g in enumerate(node.args) if n not in (i, j)]
                    return sp.Mul(*rest) * 2 / sp.sqrt(sp.pi) * dawsn(u)
    exps = [f for f in node.args if isinstance(f, sp.exp)]
    if len(exps) > 1:  # exp(-1) exp(w) -> exp(w - 1): one overflow point instead of inf * small
        rest = [f for f in node.args if not isinstance(f, sp.exp)]
        return sp.Mul(*rest) * sp.exp(sp.Add(*(f.args[0] for f in exps)))
    return node


_RULES: dict[type, Callable[[sp.Expr], sp.Expr]] = {
    sp.log: _rewrite_log, sp.Add: _rewrite_add, sp.Pow: _rewrite_pow, sp.Mul: _rewrite_mul,
}


def _rewrite(node: sp.Basic) -> sp.Basic:
    """Bottom-up: rewrite the arguments, then the node by its rule (and the result again if it changed)."""
    if not node.args:
        return node
    deadline.check("the stable rewrite of a closed form")
    args = tuple(_rewrite(a) for a in node.args)
    new = node if args == node.args else node.func(*args)  # rebuilding Max(...) costs O(n**2) comparisons
    rule = next((r for t, r in _RULES.items() if isinstance(new, t)), None)
    if rule is None:
        return new
    out = rule(new)
    return new if out == new else _rewrite(out)


def stable_form(expr: sp.Expr) -> sp.Expr:
    """An expression equal to ``expr`` for real arguments, in the stable functions of this module."""
    try:
        return _rewrite(expr)
    except (TypeError, ValueError, AttributeError, RecursionError):  # an argument SymPy refuses to rebuild
        return expr


def needs_scipy(expr: sp.Expr) -> bool:
    """Whether ``expr`` contains a function that NumPy lacks."""
    return any(expr.has(f) for f in SCIPY_FUNCTIONS) or expr.has(dawsn)


MPMATH_FUNCTIONS: dict[str, Callable] = {
    "sd_log1p": mpmath.log1p, "sd_expm1": mpmath.expm1, "sd_softplus": lambda u: mpmath.log1p(mpmath.exp(u)),
    "sd_sigmoid": lambda u: 1 / (1 + mpmath.exp(-u)), "sd_logcosh": lambda u: mpmath.log(mpmath.cosh(u)),
    "sd_dawsn": lambda u: mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-u**2) * mpmath.erfi(u),
    "sd_inv_expm1": lambda u: 1 / mpmath.expm1(u),
}
"""The same functions in mpmath (no cancellation there: exp(-2w) is exact at any exponent)."""


def mpmath_function(expr: sp.Expr, x: sp.Symbol, extra: dict | None = None) -> Callable:
    """The mpmath function of ``stable_form(expr)`` (``extra``: more names for lambdify)."""
    return sp.lambdify(x, stable_form(expr), modules=[{**MPMATH_FUNCTIONS, **(extra or {})}, "mpmath"])


def numpy_function(expr: sp.Expr, x: sp.Symbol) -> Callable[[Array], Array]:
    """The float64 function of ``stable_form(expr)`` (this module's functions, SciPy if needed, NumPy)."""
    modules: list = [NUMPY_FUNCTIONS] + (["scipy"] if needs_scipy(expr) else []) + ["numpy"]
    return sp.lambdify(x, stable_form(expr), modules=modules)
