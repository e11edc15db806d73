"""Whitelisted parser from user text (CLI or Python API) to SymPy expressions.

Nothing in the user's text is ever executed: it is parsed with
``ast.parse(text, mode="eval")`` and the syntax tree is walked, building SymPy
objects only for the constructs listed here; anything else is refused with a
:class:`ParseError` whose message is one line naming the offending construct.

Accepted:

* integer and float literals; floats become exact Rationals of their decimal
  text (``0.5`` -> 1/2, ``1e-3`` -> 1/1000);
* names: the caller's ``symbols`` first, then the constants :data:`CONSTANTS`
  (so a declared parameter ``e`` shadows Euler's number);
* ``+ - * / **`` and unary ``+ -``; ``^`` is refused with a hint;
* calls of the functions in :data:`FUNCTIONS`, positional arguments only, with
  their arity checked; tuples only as ``Piecewise`` branches
  ``(expression, condition)`` and lists only as the first two arguments of
  ``hyper``;
* conditions: comparisons ``< <= > >=`` (chained ones are joined with And),
  ``True``/``False``, combined with ``& | ~`` or ``and or not``.

Limits keep parsing fast on hostile input: at most :data:`MAX_LENGTH`
characters, nesting at most :data:`MAX_DEPTH` deep, and exact numbers at most
:data:`MAX_BITS` bits (powers, ``exp`` and ``gamma`` are checked before SymPy
evaluates them, so ``9**9**9**9`` is refused at once).
"""
from __future__ import annotations

import ast
import keyword
import operator
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.logic.boolalg import Boolean

from .errors import InputError

__all__ = ["ParseError", "parse_expr", "parse_number", "parse_param", "FUNCTIONS", "CONSTANTS",
           "check_expression", "check_magnitude", "safe_identifier", "substitute"]

MAX_LENGTH = 2000
"""Longest accepted input, in characters."""
MAX_DEPTH = 100
"""Deepest accepted nesting of the syntax tree (left-associative chains such as
``a + b + c`` count as one level)."""
MAX_BITS = 1024
"""Largest exact numerator or denominator, in bits (about 308 digits)."""

_TOO_LARGE = f"number too large: exact evaluation would exceed {MAX_BITS}-bit numbers"


class ParseError(ValueError):
    """Bad user input; str(err) is ONE clear line naming what is wrong (no traceback text)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# --------------------------------------------------------------------------- size guards
def _bits(number: sp.Rational) -> int:
    """About log2 of the larger of |numerator| and denominator (0 for 0 and +-1)."""
    return max((abs(number.p) - 1).bit_length(), (number.q - 1).bit_length())


def _number_bits(expr: sp.Basic) -> int:
    """Bits of the largest rational constant a power of ``expr`` could multiply out.

    Exponents and ``exp`` arguments are skipped: raising ``w**2`` or ``exp(3)``
    to a large power only multiplies the exponent.
    """
    largest, stack = 0, [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, sp.Rational):
            largest = max(largest, _bits(node))
        elif isinstance(node, sp.Pow):
            stack.append(node.base)
        elif not isinstance(node, sp.exp):
            stack.extend(node.args)
    return largest


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """``base**exponent``, refused when SymPy would evaluate it to a huge number.

    The size estimate is (largest numerator in the exponent) times (bits of the
    base's constants, or of the arguments of logs in the exponent, since
    ``E**(n*log(2))`` evaluates to ``2**n``).
    """
    size = max([_number_bits(base)] + [_number_bits(lg.args[0]) for lg in exponent.atoms(sp.log)])
    magnitude = max((abs(r.p) for r in exponent.atoms(sp.Rational)), default=0)
    if size * magnitude > MAX_BITS:
        raise ParseError(_TOO_LARGE)
    return base**exponent


def _exp(x: sp.Expr) -> sp.Expr:
    """``exp(x)`` through :func:`_power`, since ``exp(n*log(2))`` evaluates to ``2**n``."""
    return _power(sp.E, x)


def _gamma_guarded(function: Callable[[sp.Expr], sp.Expr]) -> Callable[[sp.Expr], sp.Expr]:
    """``function`` (gamma or loggamma), refused on rationals whose factorial would be huge."""

    def build(x: sp.Expr) -> sp.Expr:
        if x.is_Rational and abs(x) > MAX_BITS:
            raise ParseError(_TOO_LARGE)
        return function(x)

    return build


def hyper_problem(upper: object, lower: object) -> str | None:
    """Why ``hyper(upper, lower, z)`` is no function of z > 0 (None if it is): a series with more than
    q + 1 upper parameters diverges for every z != 0, and a nonpositive integer lower parameter is a pole
    (unless an upper one no smaller ends the series first)."""
    a, b = list(upper), list(lower)  # type: ignore[call-overload]
    if len(a) > len(b) + 1:
        return f"hyper with {len(a)} upper and {len(b)} lower parameters diverges for every w != 0 (need p <= q + 1)"
    for low in b:
        if low.is_integer and low.is_nonpositive:
            ends = [up for up in a if up.is_integer and up.is_nonpositive and bool(up >= low)]
            if not ends:
                return f"hyper has a pole: its lower parameter {low} is a nonpositive integer"
    return None


def _hyper(upper: list[sp.Expr], lower: list[sp.Expr], z: sp.Expr) -> sp.Expr:
    problem = hyper_problem(upper, lower)
    if problem is not None:
        raise ParseError(problem)
    return sp.hyper(upper, lower, z)


def _check_size(expr: sp.Basic) -> None:
    if any(_bits(r) > MAX_BITS for r in expr.atoms(sp.Rational)):
        raise ParseError(_TOO_LARGE)


# --------------------------------------------------------------------------- whitelist
@dataclass(frozen=True)
class _Function:
    build: Callable[..., sp.Basic]
    min_args: int = 1
    max_args: int | None = 1
    """None: no upper bound."""

    def arity(self) -> str:
        low, high = self.min_args, self.max_args
        if high is None:
            text = f"at least {low}"
        elif high == low:
            text = str(low)
        else:
            text = f"{low} or {high}"
        return f"{text} argument{'' if (high or low) == 1 else 's'}"


_MIN_MAX = dict(min_args=1, max_args=None)

FUNCTIONS: dict[str, _Function] = {
    "exp": _Function(_exp),
    "log": _Function(sp.log, max_args=2),
    "ln": _Function(sp.log),
    "sqrt": _Function(lambda x: _power(x, sp.S.Half)),
    "cbrt": _Function(lambda x: _power(x, sp.Rational(1, 3))),
    "Abs": _Function(sp.Abs),
    "abs": _Function(sp.Abs),
    "sign": _Function(sp.sign),
    "sigmoid": _Function(lambda x: 1 / (1 + _exp(-x))),
    "logit": _Function(lambda x: sp.log(x / (1 - x))),
    "softplus": _Function(lambda x: sp.log(1 + _exp(x))),
    "tanh": _Function(sp.tanh),
    "sinh": _Function(sp.sinh),
    "cosh": _Function(sp.cosh),
    "sin": _Function(sp.sin),
    "cos": _Function(sp.cos),
    "tan": _Function(sp.tan),
    "atan": _Function(sp.atan),
    "asinh": _Function(sp.asinh),
    "erf": _Function(sp.erf),
    "erfc": _Function(sp.erfc),
    "erfi": _Function(sp.erfi),
    "dawson": _Function(lambda x: sp.sqrt(sp.pi) / 2 * _exp(-_power(x, sp.Integer(2))) * sp.erfi(x)),
    "gamma": _Function(_gamma_guarded(sp.gamma)),
    "loggamma": _Function(_gamma_guarded(sp.loggamma)),
    "Min": _Function(sp.Min, **_MIN_MAX),
    "Max": _Function(sp.Max, **_MIN_MAX),
    "min": _Function(sp.Min, **_MIN_MAX),
    "max": _Function(sp.Max, **_MIN_MAX),
    "Piecewise": _Function(sp.Piecewise, **_MIN_MAX),
    "Heaviside": _Function(sp.Heaviside, max_args=2),
    "hyper": _Function(lambda a, b, z: _hyper(a, b, z), min_args=3, max_args=3),
}
"""Callable names: sigmoid(x) = 1/(1+exp(-x)), logit(x) = log(x/(1-x)),
softplus(x) = log(1+exp(x)) and dawson(x) = sqrt(pi)/2*exp(-x**2)*erfi(x) are
expanded into those expressions; the rest are the SymPy functions."""

CONSTANTS: dict[str, sp.Expr] = {
    "pi": sp.pi,
    "E": sp.E,
    "e": sp.E,
    "oo": sp.oo,
    "inf": sp.oo,
    "EulerGamma": sp.EulerGamma,
}
"""Names of constants (looked up after the caller's symbols)."""

_RUNS: dict[type, tuple[Callable[..., sp.Expr], Callable[[sp.Expr], sp.Expr]]] = {
    ast.Add: (sp.Add, lambda x: x),
    ast.Sub: (sp.Add, operator.neg),
    ast.Mult: (sp.Mul, lambda x: x),
    ast.Div: (sp.Mul, lambda x: sp.Pow(x, -1)),
}
"""Operators of a run (how its operands combine, how the right operand enters)."""
_LOGIC: dict[type, Callable[..., Boolean]] = {ast.BitAnd: sp.And, ast.BitOr: sp.Or}
_COMPARISONS: dict[type, Callable[[sp.Expr, sp.Expr], Boolean]] = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
}
_OPERATOR_TEXT = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip
_REFUSED = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Starred: "starred arguments are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.IfExp: "conditional expressions are not allowed (use Piecewise)",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Tuple: "tuples are only allowed as Piecewise branches (expression, condition)",
    ast.List: "lists are only allowed as the first two arguments of hyper",
}


# --------------------------------------------------------------------------- the tree walk
class _Builder:
    """Walks a syntax tree of ``text`` and builds the SymPy object it denotes."""

    def __init__(self, text: str, symbols: Mapping[str, sp.Symbol], unknown_hint: Callable[[str], str]):
        self.text = text
        self.symbols = symbols
        self.unknown_hint = unknown_hint

    def src(self, node: ast.AST) -> str:
        """The source of ``node``, quoted and shortened for a message."""
        segment = " ".join((ast.get_source_segment(self.text, node) or "").split())
        return repr(segment if len(segment) <= 60 else segment[:57] + "...")

    def expr(self, node: ast.AST, depth: int) -> sp.Expr:
        return self.require_expr(self.convert(node, depth), node)

    def cond(self, node: ast.AST, depth: int) -> Boolean:
        return self.require_cond(self.convert(node, depth), node)

    def require_expr(self, value: sp.Basic, node: ast.AST) -> sp.Expr:
        if not isinstance(value, sp.Expr):
            raise ParseError(f"expected an expression, got the condition {self.src(node)}")
        return value

    def require_cond(self, value: sp.Basic, node: ast.AST) -> Boolean:
        if not isinstance(value, Boolean) or isinstance(value, sp.Expr):  # a Symbol is both
            raise ParseError(f"expected a condition such as w < 1, got {self.src(node)}")
        return value

    def convert(self, node: ast.AST, depth: int) -> sp.Basic:
        if depth > MAX_DEPTH:
            raise ParseError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self.unaryop(node, depth)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.BoolOp):
            parts = [self.cond(value, depth + 1) for value in node.values]
            return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise ParseError(self.refusal(node))

    def refusal(self, node: ast.AST) -> str:
        message = _REFUSED.get(type(node), f"{type(node).__name__} expressions are not allowed")
        return f"{message}: {self.src(node)}"

    def constant(self, node: ast.Constant) -> sp.Basic:
        value = node.value
        if isinstance(value, bool):
            return sp.true if value else sp.false
        if isinstance(value, int):
            return sp.Integer(value)
        if isinstance(value, float):
            literal = Decimal((ast.get_source_segment(self.text, node) or "").replace("_", ""))
            if abs(literal.as_tuple().exponent) > MAX_BITS:
                raise ParseError(f"number literal {self.src(node)} is too large or too small")
            exact = Fraction(literal)
            return sp.Rational(exact.numerator, exact.denominator)
        if isinstance(value, complex):
            raise ParseError(f"complex numbers are not supported: {self.src(node)}")
        if isinstance(value, (str, bytes)):
            raise ParseError(f"strings are not allowed: {self.src(node)}")
        raise ParseError(f"{value!r} is not allowed")

    def name(self, node: ast.Name) -> sp.Expr:
        name = _check_name(node.id)
        if name in self.symbols:
            return self.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise ParseError(f"{name!r} is a function; call it as {name}(...)")
        raise ParseError(self.unknown_hint(name))

    def binop(self, node: ast.BinOp, depth: int) -> sp.Basic:
        """A binary operation; its left spine is walked iteratively and runs of
        ``+ -`` or ``* /`` are built with one Add or Mul, so a long sum such as
        ``w + w**2 + ...`` is neither deep nor quadratic to build."""
        chain = []
        while isinstance(node, ast.BinOp):
            chain.append(node)
            node = node.left
        value = self.convert(node, depth + 1)
        run: list[sp.Expr] = []
        combine = None  # sp.Add or sp.Mul while a run is pending in `run`
        for step in reversed(chain):
            right = self.convert(step.right, depth + 1)
            op = type(step.op)
            if op in _RUNS:
                run_combine, enter = _RUNS[op]
                if combine is not run_combine:
                    if combine is not None:
                        value = combine(*run)
                    run, combine = [self.require_expr(value, step.left)], run_combine
                run.append(enter(self.require_expr(right, step.right)))
                continue
            if combine is not None:
                value, combine = combine(*run), None
            if op is ast.Pow:
                value = _power(self.require_expr(value, step.left), self.require_expr(right, step.right))
            elif op in _LOGIC:
                value = _LOGIC[op](self.require_cond(value, step.left), self.require_cond(right, step.right))
            else:
                raise ParseError(f"operator {_OPERATOR_TEXT[op]!r} is not allowed: {self.src(step)}")
        return combine(*run) if combine is not None else value

    def unaryop(self, node: ast.UnaryOp, depth: int) -> sp.Basic:
        if isinstance(node.op, (ast.Not, ast.Invert)):
            return sp.Not(self.cond(node.operand, depth + 1))
        operand = self.expr(node.operand, depth + 1)
        return -operand if isinstance(node.op, ast.USub) else operand

    def compare(self, node: ast.Compare, depth: int) -> Boolean:
        operands = [self.expr(item, depth + 1) for item in [node.left, *node.comparators]]
        parts = []
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if type(op) not in _COMPARISONS:
                text = _OPERATOR_TEXT[type(op)]
                raise ParseError(f"comparison {text!r} is not allowed (use <, <=, > or >=): {self.src(node)}")
            parts.append(_COMPARISONS[type(op)](left, right))
        return sp.And(*parts)

    def call(self, node: ast.Call, depth: int) -> sp.Basic:
        if not isinstance(node.func, ast.Name):
            if type(node.func) in _REFUSED:
                raise ParseError(self.refusal(node.func))
            raise ParseError(f"only named functions can be called: {self.src(node)}")
        name = _check_name(node.func.id)
        if node.keywords:
            raise ParseError(f"keyword arguments are not allowed: {self.src(node)}")
        if name not in FUNCTIONS:
            if name in self.symbols or name in CONSTANTS:
                raise ParseError(f"{name!r} is not a function: {self.src(node)}")
            raise ParseError(f"unknown function {name!r} (known: {', '.join(FUNCTIONS)})")
        function, count = FUNCTIONS[name], len(node.args)
        if count < function.min_args or (function.max_args is not None and count > function.max_args):
            raise ParseError(f"{name} takes {function.arity()}, got {count}")
        if name == "Piecewise":
            args = [self.branch(arg, depth + 1) for arg in node.args]
        elif name == "hyper":
            lists = [self.list_arg(arg, depth + 1) for arg in node.args[:2]]
            args = [*lists, self.expr(node.args[2], depth + 1)]
        else:
            args = [self.expr(arg, depth + 1) for arg in node.args]
        return function.build(*args)

    def branch(self, node: ast.AST, depth: int) -> tuple[sp.Expr, Boolean]:
        if not (isinstance(node, ast.Tuple) and len(node.elts) == 2):
            raise ParseError(f"Piecewise takes (expression, condition) pairs, got {self.src(node)}")
        return self.expr(node.elts[0], depth + 1), self.cond(node.elts[1], depth + 1)

    def list_arg(self, node: ast.AST, depth: int) -> list[sp.Expr]:
        if not isinstance(node, ast.List):
            raise ParseError(f"hyper takes lists as its first two arguments (hyper([1], [2], w)), got {self.src(node)}")
        return [self.expr(item, depth + 1) for item in node.elts]


def _check_name(name: str) -> str:
    if name.startswith("__"):
        raise ParseError(f"names starting with '__' are not allowed: {name!r}")
    return name


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _build(text: str, symbols: Mapping[str, sp.Symbol], unknown_hint: Callable[[str], str]) -> sp.Expr:
    """Parse ``text`` and build its SymPy expression; the only exception raised is ParseError."""
    if not isinstance(text, str):
        raise ParseError(f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression too long ({len(text)} characters; the limit is {MAX_LENGTH})")
    text = text.strip()
    if not text:
        raise ParseError("empty expression")
    if "^" in text:
        raise ParseError("use ** for powers, not ^")
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for 1and w: not the user's business
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        where = f" at column {err.offset}" if err.offset else " at the end of the input"
        if err.lineno and "\n" in text:
            where += f" of line {err.lineno}"
        raise ParseError(f"malformed expression: {err.msg}{where}") from None
    except (ValueError, RecursionError, MemoryError) as err:  # e.g. null bytes, absurd nesting
        raise ParseError(f"malformed expression: {err}") from None
    builder = _Builder(text, symbols, unknown_hint)
    try:
        result = builder.require_expr(builder.convert(tree.body, 1), tree.body)
        _check_size(result)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except Exception as err:  # SymPy refusing to build something, e.g. comparing complex numbers
        raise ParseError(f"cannot build expression {_short(text)}: {err}") from None
    return result


def parse_expr(text: str, symbols: Mapping[str, sp.Symbol]) -> sp.Expr:
    """Parse ``text`` into a SymPy expression in the given symbols (see the module docstring).

    ``symbols`` maps every allowed identifier to its SymPy symbol (w/eta/lam and
    the declared parameters). Raises :class:`ParseError` on any bad input.
    """

    def unknown(name: str) -> str:
        known = ", ".join(symbols) or "none"
        return f"unknown symbol {name!r} (known: {known}); declare a parameter with --param {name}=VALUE"

    return _build(text, symbols, unknown)


def parse_number(text: str) -> sp.Expr:
    """Parse a constant expression ("2", "0.5", "sqrt(2)", "1/3", "exp(-1)", "2**0.5") exactly.

    Floats become the exact Rational of their decimal text. The value must be
    finite and must not be known to be non-real; raises :class:`ParseError` otherwise.
    """

    def unknown(name: str) -> str:
        return f"unknown symbol {name!r}: a value must be a constant expression such as 0.5, 1/3 or sqrt(2)"

    value = _build(text, {}, unknown)
    if value.has(sp.nan, sp.zoo) or value.is_finite is False:
        raise ParseError(f"value {_short(text)} is not a finite number")
    if value.is_extended_real is False:
        raise ParseError(f"value {_short(text)} is not a real number")
    return value


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VARIABLES = ("w", "eta")


def parse_param(text: str) -> tuple[str, sp.Expr]:
    """Parse the CLI's ``--param NAME=VALUE`` into ``(name, exact value)``.

    NAME is an ASCII identifier other than the variables ``w`` and ``eta``, the
    function names and the constants (``lam`` and ``e`` are allowed); VALUE is
    parsed by :func:`parse_number`.
    """
    if not isinstance(text, str) or "=" not in text:
        raise ParseError(f"expected NAME=VALUE, got {_short(str(text))}")
    name, value = (part.strip() for part in text.split("=", 1))
    if not _IDENTIFIER.fullmatch(name) or name.startswith("__"):
        raise ParseError(f"invalid parameter name {_short(name)} in {_short(text)}")
    if name in _VARIABLES:
        raise ParseError(f"{name!r} is a variable of the rule and cannot be a parameter")
    if name in FUNCTIONS or (name in CONSTANTS and name != "e"):
        what = "function" if name in FUNCTIONS else "constant"
        raise ParseError(f"{name!r} is a built-in {what}; choose another parameter name")
    try:
        return name, parse_number(value)
    except ParseError as err:
        raise ParseError(f"invalid value for parameter {name!r}: {err}") from None


# --------------------------------------------------------------------------- SymPy objects from the API
FLOAT_MAX = sys.float_info.max
"""Largest finite float64: a constant beyond it is refused (it would overflow, or take minutes exactly)."""
MAX_NODES = 20000
"""Most nodes accepted in one SymPy expression from the API."""

_STRICT_FUNCTIONS: tuple[type, ...] = (
    sp.exp, sp.log, sp.Abs, sp.sign, sp.tanh, sp.sinh, sp.cosh, sp.sin, sp.cos, sp.tan, sp.atan, sp.asinh,
    sp.erf, sp.erfc, sp.erfi, sp.gamma, sp.loggamma, sp.Min, sp.Max, sp.Piecewise, sp.Heaviside, sp.hyper,
)
"""The SymPy classes the parser's :data:`FUNCTIONS` build (sqrt and cbrt are powers)."""
_ARITHMETIC = (sp.Add, sp.Mul, sp.Pow)
_LOGIC_CLASSES = (sp.And, sp.Or, sp.Not, sp.core.relational.Relational, sp.logic.boolalg.BooleanAtom)
_NUMBER_ATOMS = (sp.Rational, sp.Float, sp.NumberSymbol, sp.core.numbers.Infinity,
                 sp.core.numbers.NegativeInfinity, sp.core.numbers.NaN, sp.core.numbers.ComplexInfinity)
_REFUSED_CLASSES: tuple[type, ...] = (AppliedUndef, sp.Lambda, sp.Indexed, sp.IndexedBase, sp.Idx,
                                      sp.MatrixBase, sp.MatrixExpr, sp.core.symbol.Str)
_IDENT_ASCII = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def safe_identifier(name: object) -> str:
    """``name`` if it is an ASCII identifier that is no Python keyword and no dunder, else InputError.

    Only such names may reach generated code (lambdify, printers).
    """
    text = name if isinstance(name, str) else None
    if text is None or not _IDENT_ASCII.fullmatch(text) or keyword.iskeyword(text) or text.startswith("__"):
        raise InputError(f"invalid name {_short(str(name))}: names must be ASCII identifiers, "
                         "not Python keywords, not starting with '__'")
    return text


def _describe(node: object) -> str:
    if isinstance(node, AppliedUndef):
        return f"the undefined function {_short(str(node.func))}"
    text = " ".join(str(node).split())
    return f"{type(node).__name__} {_short(text)}"


def _is_sympy_class(node: sp.Basic) -> bool:
    """A class defined inside SymPy itself, printed by SymPy's own printers (never by a user-chosen name)."""
    return type(node).__module__.split(".")[0] == "sympy" and not isinstance(node, AppliedUndef)


def _check_node(node: object, strict: bool) -> None:
    """One node against the whitelist (its arguments are checked by the caller's walk)."""
    if not isinstance(node, sp.Basic):
        raise InputError(f"{type(node).__name__} {_short(str(node))} is not allowed in an expression")
    if isinstance(node, _REFUSED_CLASSES):
        raise InputError(f"{_describe(node)} is not allowed in an expression (only the parser's functions: "
                         f"{', '.join(FUNCTIONS)})")
    if isinstance(node, sp.Symbol):  # Dummy and Wild included
        safe_identifier(node.name)
        return
    allowed = (_NUMBER_ATOMS + _ARITHMETIC + _LOGIC_CLASSES + _STRICT_FUNCTIONS
               + (sp.functions.elementary.piecewise.ExprCondPair, sp.Tuple))
    if isinstance(node, allowed) and _is_sympy_class(node):
        return
    if not strict and _is_sympy_class(node):
        return
    raise InputError(f"{_describe(node)} is not allowed in an expression (only numbers, symbols, + - * / **, "
                     f"conditions and the functions {', '.join(FUNCTIONS)})")


def check_expression(expr: object, allowed_symbol_names: object = None, *, strict: bool = True) -> None:
    """Walk a SymPy object and refuse (InputError naming it) anything that is not whitelisted.

    Accepted: numbers, pi, E, EulerGamma, oo; symbols with safe names (:func:`safe_identifier`), and when
    ``allowed_symbol_names`` is given only those names; Add, Mul, Pow; the SymPy classes of the parser's
    :data:`FUNCTIONS`; Piecewise with relational/boolean conditions; hyper's parameter tuples.
    ``strict=False`` (for derived expressions, e.g. closed forms SymPy integrated) accepts any function
    class defined inside SymPy, still never an undefined function, Lambda, Indexed, matrix or string.
    """
    allowed = None if allowed_symbol_names is None else set(allowed_symbol_names)
    if not isinstance(expr, sp.Basic):
        raise InputError(f"expected a SymPy expression, got {type(expr).__name__}")
    stack, count = [expr], 0
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise InputError(f"expression too large (more than {MAX_NODES} nodes)")
        _check_node(node, strict)
        if isinstance(node, sp.hyper) and strict:
            problem = hyper_problem(node.ap, node.bq)
            if problem is not None:
                raise InputError(problem)
        if isinstance(node, sp.Symbol):
            if allowed is not None and node.name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise InputError(f"unknown symbol {node.name!r} (known: {known})")
            continue
        stack.extend(node.args)


def _rebuild(node: sp.Basic, args: list[sp.Basic]) -> sp.Basic:
    """``node.func(*args)`` through the parser's size guards (powers, exp, gamma, loggamma)."""
    if isinstance(node, sp.Pow):
        return _power(*args)
    if isinstance(node, sp.exp):
        return _exp(*args)
    if isinstance(node, (sp.gamma, sp.loggamma)):
        return _gamma_guarded(node.func)(*args)
    return node.func(*args)


def substitute(expr: sp.Basic, values: Mapping[str, sp.Basic]) -> sp.Basic:
    """``expr`` with every symbol named in ``values`` replaced, rebuilt bottom-up through the size guards.

    Unlike ``expr.subs`` this refuses (InputError) before SymPy evaluates a huge number:
    ``2**k`` at k = 10**300, ``gamma(k)`` at k = 10**7. The result passes :func:`check_magnitude`.
    """
    memo: dict[sp.Basic, sp.Basic] = {}

    def walk(node: sp.Basic) -> sp.Basic:
        if node in memo:
            return memo[node]
        if isinstance(node, sp.Symbol):
            out = values.get(node.name, node)
        elif not node.args or not (node.free_symbols & _named(node, values)):
            out = node
        else:
            out = _rebuild(node, [walk(arg) for arg in node.args])
        memo[node] = out
        return out

    try:
        result = walk(expr)
    except ParseError as err:
        raise InputError(str(err)) from None
    except RecursionError:
        raise InputError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)") from None
    check_magnitude(result)
    return result


def _named(node: sp.Basic, values: Mapping[str, sp.Basic]) -> set[sp.Basic]:
    return {s for s in node.free_symbols if getattr(s, "name", None) in values}


def _constant_value(node: sp.Basic) -> sp.Basic | None:
    """``node`` evaluated to 15 digits (None where SymPy cannot evaluate it)."""
    try:
        value = sp.N(node, 15)
    except Exception:  # noqa: BLE001 - a constant SymPy cannot evaluate is judged where it is used
        return None
    return value if value.is_number else None


def check_magnitude(expr: sp.Basic) -> None:
    """Refuse (InputError) a constant whose magnitude exceeds the float64 range, or whose bits exceed
    :data:`MAX_BITS` (e.g. 2**1024, exp(10**300), gamma(10**7), a parameter of 1e400)."""
    seen: set[sp.Basic] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if node in seen or not isinstance(node, sp.Basic):
            continue
        seen.add(node)
        if isinstance(node, sp.Rational):
            if _bits(node) > MAX_BITS or abs(node) > FLOAT_MAX:
                raise InputError(f"the constant {_short(str(node))} is outside the float64 range (|x| <= 1.8e308)")
            continue
        if isinstance(node, sp.Expr) and node.is_number and node.args and not node.has(sp.oo, -sp.oo, sp.zoo):
            _check_constant(node)
        stack.extend(node.args)


def _check_constant(node: sp.Expr) -> None:
    value = _constant_value(node)
    if value is not None and any(_huge(part) for part in value.as_real_imag()):
        raise InputError(f"the constant {_short(str(node))} = {_mp_text(value)} is outside the float64 range "
                         "(|x| <= 1.8e308)")


def _mp_text(value: sp.Basic) -> str:
    """A number in 3 digits (mpmath prints any exponent)."""
    try:
        number = mpmath.mpmathify(value)
        text = mpmath.nstr(number, 3)
        return text if len(text) <= 20 else f"about 10**{mpmath.nstr(mpmath.log10(abs(number)), 3)}"
    except (TypeError, ValueError):
        return "a huge number"


def _huge(part: sp.Basic) -> bool:
    """Whether a number is beyond float64's range (float() of it would give inf or overflow)."""
    if part.is_Float:
        return bool(abs(mpmath.mpf(part._mpf_)) > FLOAT_MAX)
    return bool(part.is_Rational and abs(part) > FLOAT_MAX)
