"""Fuzz of the Python API with SymPy objects: random names and whitelisted functions never raise anything but
InputError, and no name ever reaches generated code (a marker file is never created)."""
from __future__ import annotations

import os
import tempfile

import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symdual.errors import InputError
from symdual.inputs import build_rule, check_range
from symdual.parsing import check_expression

W = sp.Symbol("w", positive=True)
MARKER = os.path.join(tempfile.gettempdir(), "symdual_fuzz_marker")
EVIL = [f"__import__('os').system('touch {MARKER}')", "a b", "__class__", "lambda", "exec", "w)+(1", "é", "x-1"]
TEXT = st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=8)  # SymPy refuses NUL in names
NAMES = st.one_of(st.sampled_from(EVIL + ["w", "k", "lam", "eta", "exp", "x_1"]), TEXT)
UNARY = [sp.exp, sp.log, sp.sqrt, sp.Abs, sp.tanh, sp.erf, sp.erfc, sp.atan, sp.sin, sp.asinh, sp.gamma]


def _leaf(draw: st.DrawFn) -> sp.Expr:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return W
    if choice == 1:
        return sp.Rational(draw(st.integers(-50, 50)), draw(st.integers(1, 9)))
    if choice == 2:
        return sp.Symbol(draw(NAMES))
    if choice == 3:
        return sp.Function(draw(NAMES))(W)
    return draw(st.sampled_from([sp.pi, sp.E, sp.Integer(2) ** 1023, sp.oo]))


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> sp.Expr:
    if depth == 0 or draw(st.booleans()):
        return _leaf(draw)
    a, b = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    op = draw(st.integers(0, 5))
    if op == 0:
        return a + b
    if op == 1:
        return a * b
    if op == 2:
        return sp.Pow(a, sp.Rational(draw(st.integers(-3, 3)), 2), evaluate=False)
    if op == 3:
        return draw(st.sampled_from(UNARY))(a)
    if op == 4:
        return sp.Piecewise((a, W < 1), (b, True))
    try:
        return sp.Max(a, b)
    except (TypeError, ValueError):  # SymPy refuses to compare the two (Max(1/sqrt(0), w)): keep one
        return a


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.sampled_from(["eta_hat", "keep_prob", "penalty"]))
def test_api_expressions_raise_only_input_error_and_never_run_names(expr: sp.Expr, kind: str) -> None:
    try:
        check_expression(expr)
        rule = build_rule(kind, expr, 1, None)
        check_range(rule)
    except InputError as err:
        assert "\n" not in str(err)
    assert not os.path.exists(MARKER)


@settings(max_examples=60, deadline=None)
@given(NAMES)
def test_names_are_accepted_only_as_safe_identifiers(name: str) -> None:
    import keyword
    import re

    safe = bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)) and not keyword.iskeyword(name) \
        and not name.startswith("__")
    try:
        check_expression(W + sp.Symbol(name))
        accepted = True
    except InputError:
        accepted = False
    assert accepted == safe
    try:
        check_expression(sp.Function(name)(W))
        raise AssertionError("an undefined function was accepted")
    except InputError:
        pass
    assert not os.path.exists(MARKER)
