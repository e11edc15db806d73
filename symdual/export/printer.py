"""Torch code for SymPy expressions: elementwise functions of tensors, stable and NaN-free.

:func:`function_source` turns a univariate expression f(x) (x >= 0) into the text of a top-level
``def name(x):`` in torch ops; :class:`TorchPrinter` prints one expression. Lowering rules:

* constants are Python float literals (``repr``, exact round trip), multiplied in (never ``torch.sqrt(2)``);
* ``Max``/``Min`` fold into ``torch.maximum``/``torch.minimum`` (``clamp_min``/``clamp_max`` against a constant);
* a ``Piecewise`` becomes an ordered ``torch.where`` chain, NaN where no branch holds, and each branch is
  evaluated at a *guarded* input ``torch.where(region, x, s)`` with ``s`` inside the branch (the double
  where: the branch not taken sees a safe value, so no NaN or inf gradient leaks through ``0 * inf``);
* stable rewrites: log(A) with A(0) = 1 -> log1p(A - 1), cancelling surds rationalised
  (sqrt(A) - B -> (A - B**2)/(sqrt(A) + B)), then :func:`symdual.numeric.stable.stable_form`
  (log1p, expm1, softplus, sigmoid, logcosh);
* signs that cannot flip inside a branch: a polynomial factor vanishing at a finite end e of its branch is
  printed as ``(e - x)`` or ``(x - e)`` with e the literal of the branch's condition (``b*x/(b - x)`` for
  MCP's x/(1 - x/b)), exact in floating point, so a pole at the end gives +inf there, never a huge negative;
* ``monotone=True`` (Omega, nondecreasing): each branch clamped to [f(lo), f(hi)], its exact range, so the
  rounded values cannot step down across a breakpoint (SCAD's parabola rounds above its cap otherwise);
* common subexpressions by ``sympy.cse``.

Only the parser's functions (:data:`symdual.parsing.FUNCTIONS`) that torch has are printed; anything
else is :class:`Unsupported` (an InputError, one line). Free symbols are checked against the arguments
and every name is a safe identifier before any text is produced.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence

from ..errors import InputError
from ..numeric import stable
from ..parsing import check_expression, safe_identifier
from ..piecewise import branches, sample_point

__all__ = ["Unsupported", "TorchPrinter", "FunctionSource", "function_source", "stabilise", "anchor_ends", "Difference",
           "HELPERS"]


class Unsupported(InputError):
    """An expression has no torch form (a function torch lacks, e.g. erfi or hyper)."""


class Difference(sp.Function):
    """``a - b`` kept unevaluated (SymPy would distribute a coefficient over it), printed as ``(a - b)``:
    with one argument a literal and the other the tensor, the sign of the result is exact in floating point."""

    nargs = 2


HELPERS: dict[str, str] = {
    "_sd_logcosh": '''def _sd_logcosh(u):
    """log(cosh u): log1p(2 sinh(u/2)**2) for |u| < 1, |u| + log1p(exp(-2|u|)) - log 2 above."""
    a = torch.abs(u)
    small = torch.log1p(2.0 * torch.sinh(torch.clamp_max(a, 1.0) / 2) ** 2)
    return torch.where(a < 1.0, small, a + torch.log1p(torch.exp(-2.0 * a)) - 0.6931471805599453)
''',
    "_sd_inv_expm1": '''def _sd_inv_expm1(u):
    """1/(exp(u) - 1): exp(-u)/(1 - exp(-u)) for u > 1 (no overflow of exp(u))."""
    big = torch.clamp_min(u, 1.0)
    return torch.where(u > 1.0, torch.exp(-big) / -torch.expm1(-big), 1.0 / torch.expm1(torch.clamp_max(u, 1.0)))
''',
}
"""Helper functions some printed expressions call (pasted once at the top of a generated module)."""

_FUNCTIONS: dict[type | str, str] = {
    sp.exp: "torch.exp", sp.log: "torch.log", sp.Abs: "torch.abs", sp.sign: "torch.sign", sp.tanh: "torch.tanh",
    sp.sinh: "torch.sinh", sp.cosh: "torch.cosh", sp.sin: "torch.sin", sp.cos: "torch.cos", sp.tan: "torch.tan",
    sp.atan: "torch.atan", sp.asinh: "torch.asinh", sp.erf: "torch.erf", sp.erfc: "torch.erfc",
    sp.loggamma: "torch.lgamma",
    "sd_log1p": "torch.log1p", "sd_expm1": "torch.expm1", "sd_sigmoid": "torch.sigmoid",
    "sd_logcosh": "_sd_logcosh", "sd_inv_expm1": "_sd_inv_expm1",
}
"""SymPy function (class, or name of a :mod:`symdual.numeric.stable` function) -> torch callable."""


def _float_literal(value: sp.Expr) -> str:
    """A real constant as a Python float literal (repr round-trips exactly); math.inf / math.nan."""
    if value in (sp.oo, -sp.oo):
        return "math.inf" if value == sp.oo else "(-math.inf)"
    if value.has(sp.nan, sp.zoo):
        return "math.nan"
    number = sp.N(value, 30)
    re, im = number.as_real_imag()
    if not (re.is_Number and im.is_Number) or abs(im) > 1e-25 * (1 + abs(re)):
        raise Unsupported(f"the constant {value} is not a real number")
    x = float(re)
    if math.isinf(x):
        raise Unsupported(f"the constant {value} is outside the float64 range")
    text = repr(x)
    return f"({text})" if x < 0 else text


class TorchPrinter:
    """Prints one expression in torch ops; ``names`` maps each allowed symbol to its Python name.

    ``helpers`` collects the names of :data:`HELPERS` the printed text calls.
    """

    def __init__(self, names: Mapping[sp.Symbol, str]) -> None:
        self.names = {s: safe_identifier(n) for s, n in names.items()}
        self.helpers: set[str] = set()

    def doprint(self, expr: sp.Basic) -> str:
        return self._print(expr)

    # ------------------------------------------------------------------ dispatch
    def _print(self, expr: sp.Basic) -> str:
        if isinstance(expr, sp.Symbol):
            if expr not in self.names:
                raise InputError(f"unknown symbol {expr.name!r} (known: {', '.join(sorted(map(str, self.names)))})")
            return self.names[expr]
        if isinstance(expr, sp.logic.boolalg.BooleanAtom):
            return "True" if expr else "False"
        if not expr.free_symbols:
            return _float_literal(expr)
        for kind, method in self._METHODS:
            if isinstance(expr, kind):
                return method(self, expr)
        name = type(expr).__name__
        key = name if name.startswith("sd_") else type(expr)
        if key in _FUNCTIONS and len(expr.args) == 1:
            target = _FUNCTIONS[key]
            if target.startswith("_sd_"):
                self.helpers.add(target)
            return f"{target}({self._print(expr.args[0])})"
        raise Unsupported(f"torch has no {name.removeprefix('sd_')}: cannot export {_short(expr)} "
                          "(use a table, or a rule without it)")

    def _paren(self, expr: sp.Basic, level: int) -> str:
        text = self._print(expr)
        return f"({text})" if precedence(expr) < level or text.startswith("-") else text

    def _add(self, expr: sp.Add) -> str:
        terms = sorted(expr.args, key=lambda t: (not t.free_symbols, sp.default_sort_key(t)))
        out = self._print(terms[0])
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                out += f" - {self._paren(-term, PRECEDENCE['Mul'])}"
            else:
                out += f" + {self._paren(term, PRECEDENCE['Add'] + 1)}"
        return out

    def _mul(self, expr: sp.Mul) -> str:
        const = sp.Mul(*(f for f in expr.args if not f.free_symbols))
        rest = [f for f in expr.args if f.free_symbols]
        if const.could_extract_minus_sign():
            inner = rest[0] if const == -1 and len(rest) == 1 else sp.Mul(-const, *rest, evaluate=False)
            return f"-{self._paren(inner, PRECEDENCE['Mul'] + 1)}"
        num, den = ([] if const == 1 else [const]), []
        for factor in rest:
            base, ex = factor.as_base_exp()
            if ex.is_number and ex.is_negative and not isinstance(factor, sp.exp):
                den.append(base if ex == -1 else sp.Pow(base, -ex, evaluate=False))
            else:
                num.append(factor)
        numer = " * ".join(self._paren(f, PRECEDENCE["Mul"]) for f in num) if num else "1.0"
        if not den:
            return numer
        denom = " * ".join(self._paren(f, PRECEDENCE["Mul"]) for f in den)
        return f"{numer} / ({denom})" if len(den) > 1 else f"{numer} / {self._paren(den[0], PRECEDENCE['Pow'])}"

    def _pow(self, expr: sp.Pow) -> str:
        base, ex = expr.args
        b = self._print(base)
        if ex == sp.S.Half:
            return f"torch.sqrt({b})"
        if ex == -sp.S.Half:
            return f"torch.rsqrt({b})"
        if ex == -1:
            return f"1.0 / {self._paren(base, PRECEDENCE['Pow'])}"
        if ex == 2:
            return f"torch.square({b})"
        if ex.is_Integer:
            return f"{self._paren(base, PRECEDENCE['Pow'] + 1)} ** {int(ex)}"
        if not ex.free_symbols:
            return f"{self._paren(base, PRECEDENCE['Pow'] + 1)} ** {_float_literal(ex)}"
        if not base.free_symbols:
            return f"torch.pow({_float_literal(base)}, {self._print(ex)})"
        return f"torch.pow({b}, {self._print(ex)})"

    def _minmax(self, expr: sp.Basic) -> str:
        fold, clamp = ("torch.maximum", "torch.clamp_min") if isinstance(expr, sp.Max) else \
            ("torch.minimum", "torch.clamp_max")
        consts = [a for a in expr.args if not a.free_symbols]
        tensors = [self._print(a) for a in expr.args if a.free_symbols]
        out = tensors[0]
        for other in tensors[1:]:
            out = f"{fold}({out}, {other})"
        for c in consts:
            out = f"{clamp}({out}, {_float_literal(c)})"
        return out

    def _gamma(self, expr: sp.gamma) -> str:
        if expr.args[0].is_positive is not True:
            raise Unsupported(f"gamma of an argument that may be negative: cannot export {_short(expr)}")
        return f"torch.exp(torch.lgamma({self._print(expr.args[0])}))"

    def _heaviside(self, expr: sp.Heaviside) -> str:
        x = self._print(expr.args[0])
        half = _float_literal(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return f"(({x}) > 0).to({x}.dtype) + {half} * (({x}) == 0).to({x}.dtype)"

    def _softplus(self, expr: sp.Basic) -> str:
        return f"torch.nn.functional.softplus({self._print(expr.args[0])}, beta=1.0, threshold=40.0)"

    def _difference(self, expr: Difference) -> str:
        a, b = expr.args
        return f"({self._print(a)} - {self._paren(b, PRECEDENCE['Add'] + 1)})"

    def _relational(self, expr: sp.core.relational.Relational) -> str:
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _and_or(self, expr: sp.Basic) -> str:
        op = " & " if isinstance(expr, sp.And) else " | "
        return "(" + op.join(self._print(a) for a in expr.args) + ")"

    def _not(self, expr: sp.Not) -> str:
        return f"(~{self._print(expr.args[0])})"

    def _piecewise(self, expr: sp.Piecewise) -> str:
        """Ordered where chain; NaN where no condition holds (no guards: see :func:`function_source`)."""
        out = "math.nan"
        for value, cond in reversed(expr.args):
            if cond is sp.true:
                out = self._print(value)
            elif cond is not sp.false:
                out = f"torch.where({self._print(cond)}, {self._print(value)}, {out})"
        return out

    _METHODS: tuple[tuple[type, Callable], ...] = (
        (sp.Add, _add), (sp.Mul, _mul), (sp.Pow, _pow), (sp.Max, _minmax), (sp.Min, _minmax),
        (sp.gamma, _gamma), (sp.Heaviside, _heaviside), (stable.softplus, _softplus), (Difference, _difference),
        (sp.core.relational.Relational, _relational), (sp.And, _and_or), (sp.Or, _and_or), (sp.Not, _not),
        (sp.Piecewise, _piecewise),
    )


def _short(expr: sp.Basic) -> str:
    text = " ".join(str(expr).split())
    return repr(text if len(text) <= 60 else text[:57] + "...")


# ---------------------------------------------------------------------- stable rewrites
def _rationalise(node: sp.Add) -> sp.Expr:
    """c sqrt(A) + R -> (c**2 A - R**2)/(c sqrt(A) - R) when c**2 A - R**2 expands to fewer terms (the
    constant cancels: sqrt(eta + 1) - 1 -> eta/(sqrt(eta + 1) + 1))."""
    for term in node.args:
        c, core = term.as_coeff_Mul()
        if isinstance(core, sp.Pow) and core.exp == sp.S.Half and core.base.free_symbols:
            rest = node - term
            if rest == 0 or not rest.could_extract_minus_sign() == (c > 0):
                continue
            top = sp.expand(c**2 * core.base - rest**2)
            if len(sp.Add.make_args(top)) < len(sp.Add.make_args(sp.expand(c**2 * core.base))):
                return top / (c * core - rest)
    return node


def _expand_surd_base(node: sp.Pow) -> sp.Expr:
    """sqrt((eta + 2/27)**2/4 - 1/729) -> sqrt(eta**2/4 + eta/27): a polynomial base whose constant cancels."""
    base, ex = node.args
    if ex.is_Rational and not ex.is_Integer and base.is_polynomial() and base.free_symbols:
        expanded = sp.expand(base)
        if len(sp.Add.make_args(expanded)) <= len(sp.Add.make_args(base)) or expanded.subs(
                {s: 0 for s in base.free_symbols}) == 0:
            return sp.Pow(expanded, ex)
    return node


def _log_near_one(node: sp.log, x: sp.Symbol, at: sp.Expr) -> sp.Expr:
    """log(A) -> log1p(A - 1) when A(at) = 1 (log(sqrt(eta + 1)/2 + 1/2) near eta = 0)."""
    arg = node.args[0]
    if len(node.args) != 1 or not arg.has(x):
        return node
    try:
        at_point = arg.subs(x, at)
    except (TypeError, ValueError):
        return node
    if at_point != 1:
        return node
    return stable.log1p(_rewrite(sp.expand(arg - 1), x, at))


def _rewrite(expr: sp.Basic, x: sp.Symbol, at: sp.Expr) -> sp.Basic:
    """Bottom-up rewrites of :func:`stabilise` before :func:`symdual.numeric.stable.stable_form`."""
    if not expr.args or not expr.has(x):
        return expr
    args = tuple(_rewrite(a, x, at) for a in expr.args)
    node = expr if args == expr.args else expr.func(*args)
    if isinstance(node, sp.log):
        return _log_near_one(node, x, at)
    if isinstance(node, sp.Add):
        return _rationalise(node)
    if isinstance(node, sp.Pow):
        return _expand_surd_base(node)
    return node


_STABLE_FUNCTIONS = (stable.log1p, stable.expm1, stable.softplus, stable.sigmoid, stable.logcosh, stable.inv_expm1)


def stabilise(expr: sp.Expr, x: sp.Symbol, at: sp.Expr = sp.S.Zero) -> sp.Expr:
    """An equal expression that evaluates without cancellation near ``x = at`` (see the module docstring).

    The expression and its expansion are both rewritten; the one using more stable functions wins
    (1 - (1 + w) exp(-w) expands to 1 - exp(-w) - w exp(-w) = -expm1(-w) - w exp(-w))."""
    best, score = expr, (-1, -1)
    candidates = (expr, sp.expand(expr)) if isinstance(expr, (sp.Add, sp.Mul)) and expr.has(sp.exp) else (expr,)
    for candidate in candidates:
        try:
            out = stable.stable_form(_rewrite(candidate, x, at))
        except (TypeError, ValueError, AttributeError, RecursionError):
            out = stable.stable_form(candidate)
        count = sum(1 for node in sp.preorder_traversal(out) if isinstance(node, _STABLE_FUNCTIONS))
        if (_finite_far(out, x), count) > score:
            best, score = out, (_finite_far(out, x), count)
    return best


def _finite_far(expr: sp.Expr, x: sp.Symbol) -> int:
    """How many of x = 1, 800, 1e4 the float64 form evaluates finite at ((exp(w) - w - 1) exp(1 - w) does not:
    inf * 0)."""
    if len(expr.free_symbols) != 1:
        return 0
    try:
        with np.errstate(all="ignore"):
            values = stable.numpy_function(expr, x)(np.array([1.0, 800.0, 1e4]))
        return int(np.isfinite(np.broadcast_to(values, (3,))).sum())
    except Exception:  # noqa: BLE001 - a form NumPy cannot evaluate scores 0
        return 0


# ---------------------------------------------------------------------- signs fixed inside a branch
def _split_root(poly: sp.Expr, x: sp.Symbol, end: sp.Expr) -> tuple[int, sp.Expr]:
    """(m, Q) with poly = (x - end)**m * Q and Q(end) != 0 (m = 0 when poly does not vanish at end)."""
    m, rest = 0, poly
    while sp.degree(rest, x) > 0:
        quotient, remainder = sp.div(rest, x - end, x)
        if sp.expand(remainder) != 0:
            break
        m, rest = m + 1, sp.expand(quotient)
    return m, rest


def anchor_ends(expr: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """``expr`` with every polynomial (in x) that vanishes at a finite end of [lo, hi] written through that end:
    P = (x - e)**m Q becomes Q (-1)**m Difference(e, x)**m at the upper end and Q Difference(x, e)**m at the lower
    one. For x inside the branch (lo <= x <= hi in floating point, e the same literal as the condition) the factor
    is exactly >= 0, so P keeps its sign up to the end (1 - sqrt(2) x rounds negative at x = fl(sqrt(2)/2))."""
    ends = [e for e in (lo, hi) if e.is_finite and e.is_real]
    if not ends:
        return expr

    def visit(node: sp.Basic) -> sp.Basic:
        if not node.args or not node.has(x):
            return node
        args = tuple(visit(a) for a in node.args)
        node = node if args == node.args else node.func(*args)
        if not isinstance(node, sp.Add) or node.free_symbols != {x} or not node.is_polynomial(x):
            return node
        factors, rest = [], sp.expand(node)
        for end in ends:
            m, rest = _split_root(rest, x, end)
            if m == 0:
                continue
            if end == 0:
                factors.append(x**m)
            elif end == hi:
                factors.append((-1) ** m * Difference(end, x) ** m)
            else:
                factors.append(Difference(x, end) ** m)
        return node if not factors else sp.Mul(rest, *factors)

    return visit(expr)


# ---------------------------------------------------------------------- functions of one tensor
@dataclass(frozen=True)
class FunctionSource:
    """A printed function: ``code`` (a top-level ``def``) and the :data:`HELPERS` it calls."""

    name: str
    code: str
    helpers: frozenset[str] = frozenset()


@dataclass
class _Entry:
    """One link of a where chain: its value, the chain's test, and where it holds (for its guard)."""

    expr: sp.Expr
    cond: sp.Basic
    region: sp.Basic
    safe: sp.Expr
    ends: tuple[sp.Expr, sp.Expr] | None = None


_ENTIRE = (sp.exp, sp.sin, sp.cos, sp.tanh, sp.sinh, sp.cosh, sp.atan, sp.asinh, sp.erf, sp.erfc, sp.Abs,
           stable.sigmoid, stable.softplus, stable.expm1, stable.logcosh, Difference)
"""Functions finite, with finite derivatives, at every finite real argument."""


def _finite_everywhere(expr: sp.Expr, x: sp.Symbol) -> bool:
    """Built from +, *, nonnegative integer powers and :data:`_ENTIRE` functions: finite with finite
    derivatives at every finite x (no guard needed)."""
    if not expr.has(x) or expr.is_Atom:
        return True
    if isinstance(expr, sp.Pow):
        return bool(expr.exp.is_Integer and expr.exp >= 0) and _finite_everywhere(expr.base, x)
    if isinstance(expr, (sp.Add, sp.Mul, *_ENTIRE)):
        return all(_finite_everywhere(a, x) for a in expr.args)
    return False


def _finite_at(expr: sp.Expr, x: sp.Symbol, point: sp.Expr) -> bool:
    try:
        value = expr.subs(x, point)
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    return not value.free_symbols and not value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) and value.is_finite is not False


_CUT = sp.Symbol("_cut", positive=True)
"""Where the series at 0+ hands over to the closed form (its value depends on the dtype)."""


def _entries(expr: sp.Expr, x: sp.Symbol, at_zero: sp.Expr | None, series: sp.Expr | None) -> list[_Entry]:
    """The where chain of ``expr`` on x >= 0 in order of x: [value at 0], [series below _CUT], branches."""
    out: list[_Entry] = []
    parts = branches(expr, x)
    for i, (piece, where) in enumerate(parts):
        if not isinstance(where, sp.Interval):
            raise Unsupported(f"a branch of {_short(expr)} holds on {where}, not an interval")
        lo, hi = where.start, where.end
        upper = sp.true if hi == sp.oo else (x < hi if where.right_open else x <= hi)
        lower = sp.true if lo == 0 and not where.left_open else (x > lo if where.left_open else x >= lo)
        if i == len(parts) - 1 and hi == sp.oo and out:
            region = sp.Not(out[-1].cond)  # NaN falls through to the last branch and stays NaN
        else:
            region = sp.And(lower, upper)
        out.append(_Entry(piece, upper, region, sample_point(lo, hi) if lo != hi else lo, (lo, hi)))
    head = out[0]
    if parts[0][1].start != 0:
        return out
    if series is not None:
        head.region = sp.And(head.region, x >= _CUT)
        out.insert(0, _Entry(series, x < _CUT, x < _CUT, sp.Integer(0)))
    if at_zero is not None and not _finite_at(head.expr, x, sp.Integer(0)):
        head.region = sp.And(head.region, x > 0)
        out.insert(0, _Entry(at_zero, sp.Eq(x, 0), sp.Eq(x, 0), sp.Integer(0)))
    return out


def function_source(name: str, expr: sp.Expr, x: sp.Symbol, arg: str = "x", *, at_zero: sp.Expr | None = None,
                    near_zero: tuple[sp.Expr, float, float] | None = None, monotone: bool = False) -> FunctionSource:
    """``def name(arg):`` computing ``expr`` elementwise for a tensor ``arg`` >= 0 (its dtype kept).

    ``at_zero``: the value at x = 0, used when the formula does not evaluate there (0/0, log 0).
    ``near_zero``: ``(series, below64, below32)``: a series used for 0 < x < below (below64 for float64,
    below32 otherwise), where the closed form cancels. Each branch of a Piecewise is evaluated at a
    guarded input (a point inside the branch where it is not taken); a NaN input gives NaN. Polynomials
    vanishing at an end of their branch are printed through that end (:func:`anchor_ends`).
    ``monotone``: ``expr`` is nondecreasing; each branch is clamped to [f(lo), f(hi)] (its exact range).
    """
    safe_identifier(name)
    safe_identifier(arg)
    if not isinstance(expr, sp.Expr):
        raise InputError(f"expected a SymPy expression, got {type(expr).__name__}")
    check_expression(expr, {x.name}, strict=False)
    real = sp.Symbol(x.name, real=True)  # conditions such as x > 0 must not evaluate on a positive symbol
    expr = expr.xreplace({x: real})
    if near_zero is not None:
        near_zero = (near_zero[0].xreplace({x: real}), near_zero[1], near_zero[2])
    x = real
    if at_zero is not None:
        at_zero = sp.sympify(at_zero) if isinstance(at_zero, (int, float)) else at_zero
        check_expression(at_zero, (), strict=False)
    entries = _entries(expr, x, at_zero, None if near_zero is None else near_zero[0])
    printer = TorchPrinter({x: arg, _CUT: "_cut"})
    lines: list[str] = []
    if near_zero is not None:
        lines.append(f"    _cut = {_float_literal(sp.Float(near_zero[1]))} if {arg}.dtype == torch.float64 "
                     f"else {_float_literal(sp.Float(near_zero[2]))}")
    values, bounds = [], []
    for i, e in enumerate(entries):
        body = stabilise(e.expr, x)
        if e.ends is not None:
            body = anchor_ends(body, x, *e.ends)
        bounds.append(_range(e, x) if monotone and e.ends is not None and e.expr.has(x) and e.expr != x else None)
        if len(entries) > 1 and body.has(x) and not _finite_everywhere(body, x):
            g = sp.Symbol(f"{arg}_{i}")
            printer.names[g] = g.name
            safe = _float_literal(e.safe) if e.safe != 0 or e.cond != (x < _CUT) else "0.0"
            lines.append(f"    {g.name} = torch.where({printer.doprint(e.region)}, {arg}, {safe})")
            body = body.subs(x, g)
        values.append(body)
    last_covers = entries[-1].cond is sp.true
    subs, reduced = _cse(values, f"_{arg}_t")
    for sym, sub in subs:
        printer.names[sym] = sym.name
        lines.append(f"    {sym.name} = {printer.doprint(sub)}")
    texts = [_clamped(printer.doprint(r), b) for r, b in zip(reduced, bounds, strict=True)]
    if not any(r.free_symbols for r in reduced):  # constants only: a tensor of the input's dtype
        k = len(texts) - 1 if last_covers else 0
        texts[k] = f"torch.full_like({arg}, {texts[k]})"
    out = texts[-1] if last_covers else "math.nan"
    links = list(zip(entries, texts, strict=True))
    for e, text in reversed(links[:-1] if last_covers else links):
        out = f"torch.where({printer.doprint(e.cond)}, {text}, {out})"
    lines.append(f"    return {out}")
    doc = f'    """{name}({arg}) = {_short(expr)[1:-1]}, elementwise for {arg} >= 0."""'
    code = f"def {name}({arg}):\n{doc}\n" + "\n".join(lines) + "\n"
    return FunctionSource(name, code, frozenset(printer.helpers))


def _range(e: _Entry, x: sp.Symbol) -> tuple[str | None, str | None]:
    """Literals of f(lo) and f(hi) of a nondecreasing branch (None where an end is infinite or f is not finite)."""
    out = []
    for end in e.ends or ():
        out.append(_float_literal(e.expr.subs(x, end)) if end.is_finite and _finite_at(e.expr, x, end) else None)
    return out[0], out[1]


def _clamped(text: str, bounds: tuple[str | None, str | None] | None) -> str:
    """``text`` clamped to ``bounds`` (one op; none when both are None)."""
    if bounds is None or bounds == (None, None):
        return text
    lo, hi = bounds
    if hi is None:
        return f"torch.clamp_min({text}, {lo})"
    if lo is None:
        return f"torch.clamp_max({text}, {hi})"
    return f"torch.clamp({text}, {lo}, {hi})"


def _cse(values: list[sp.Expr], prefix: str) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """sympy.cse with constant subexpressions put back inline (they print as float literals)."""
    subs, reduced = sp.cse(values, symbols=sp.numbered_symbols(prefix), optimizations=None)
    inline: dict[sp.Symbol, sp.Expr] = {}
    kept = []
    for sym, sub in subs:
        sub = sub.xreplace(inline)
        if sub.free_symbols:
            kept.append((sym, sub))
        else:
            inline[sym] = sub
    return kept, [r.xreplace(inline) for r in reduced]


def expression_source(expr: sp.Expr, names: Mapping[sp.Symbol, str], allowed: Sequence[str] | None = None
                      ) -> tuple[list[str], str, frozenset[str]]:
    """Statements and a final expression for ``expr`` in several tensors (no guards: values only).

    Returns ``(lines, result, helpers)``; ``lines`` are indented assignments of common subexpressions.
    """
    check_expression(expr, allowed if allowed is not None else [s.name for s in names], strict=False)
    printer = TorchPrinter(names)
    subs, (reduced,) = _cse([stable.stable_form(expr)], "_p_t")
    lines = []
    for sym, sub in subs:
        printer.names[sym] = sym.name
        lines.append(f"    {sym.name} = {printer.doprint(sub)}")
    return lines, printer.doprint(reduced), frozenset(printer.helpers)
