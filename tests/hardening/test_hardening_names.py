"""Class 1 (code from a name): every SymPy object from the API is walked against the parser's whitelist."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sympy as sp

import symdual as sd
from symdual.errors import InputError
from symdual.inputs import build_rule
from symdual.parsing import check_expression, safe_identifier, substitute

W = sp.Symbol("w", positive=True)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def _evil(marker: Path) -> sp.Expr:
    return sp.Function(f"__import__('os').system('touch {marker}')")(W)


@pytest.mark.parametrize("kind", ["penalty", "eta_hat", "keep_prob", "dual"])
def test_undefined_function_never_runs_through_derive(kind: str, marker: Path) -> None:
    with pytest.raises(InputError, match="undefined function"):
        sd.derive(**{kind: W**2 / 2 + _evil(marker)}, timeout=1)
    assert not marker.exists()


def test_undefined_function_in_a_parameter_value(marker: Path) -> None:
    evil = sp.Function(f"__import__('os').system('touch {marker}')")(sp.Integer(1))
    with pytest.raises(InputError, match="parameter k"):
        sd.derive(eta_hat="w*(w + k)", params={"k": evil}, timeout=1)
    with pytest.raises(InputError, match="lam"):
        sd.derive(eta_hat="w*(w + 1)", lam=evil, timeout=1)
    assert not marker.exists()


def test_undefined_function_through_the_catalog(marker: Path) -> None:
    evil = sp.Function(f"__import__('os').system('touch {marker}')")(sp.Integer(1))
    with pytest.raises(InputError, match="parameter a|invalid a|a must"):
        sd.catalog.get("mcp", a=evil)
    with pytest.raises(InputError):
        sd.catalog.get("logsum", lam=evil)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["a b", "__class__", "lambda", "import", "w;x", "1x", "", "é", "__init__"])
def test_bad_symbol_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="invalid name"):
        safe_identifier(name)
    if name:
        with pytest.raises(InputError, match="invalid name"):
            build_rule("eta_hat", W * (W + sp.Symbol(name)), 1, None)


@pytest.mark.parametrize("name", ["a b", "__class__", "lambda"])
def test_bad_parameter_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="invalid parameter name"):
        sd.derive(eta_hat=W * (W + sp.Symbol(name)), params={name: 1}, timeout=1)


@pytest.mark.parametrize("obj", [
    sp.Lambda(W, W**2), sp.Indexed(sp.IndexedBase("x"), 1), sp.MatrixSymbol("M", 2, 2),
    sp.Function("f")(W), sp.Derivative(sp.Function("g")(W), W), sp.I * W,
])
def test_non_whitelisted_objects_are_refused(obj: sp.Basic) -> None:
    with pytest.raises(InputError, match="not allowed"):
        check_expression(obj)


def test_strings_and_other_python_objects_are_refused() -> None:
    with pytest.raises(InputError, match="expected a SymPy expression"):
        check_expression("w + 1")
    with pytest.raises(InputError, match="not allowed"):
        check_expression(sp.Tuple(sp.core.symbol.Str("x")))
    with pytest.raises(InputError):
        sd.derive(eta_hat=object(), timeout=1)


def test_whitelisted_objects_pass_and_give_the_right_rule() -> None:
    eps = sp.Symbol("eps")
    expr = sp.Piecewise((W * (W + eps), W < 1), (sp.Max(W, 2) * sp.exp(sp.erf(W)), True)) + sp.hyper([1], [2], W)
    check_expression(expr, {"w", "eps"})
    rule = build_rule("eta_hat", expr, 1, {"eps": 2})
    assert rule.expr == expr.subs(eps, 2).subs(W, W)
    with pytest.raises(InputError, match="unknown symbol 'eps'"):
        check_expression(expr, {"w"})


def test_strict_refuses_functions_outside_the_parser_but_derived_mode_accepts_sympy_classes() -> None:
    expr = sp.LambertW(W) + sp.polylog(2, W)
    with pytest.raises(InputError, match="not allowed"):
        check_expression(expr)
    check_expression(expr, strict=False)
    with pytest.raises(InputError, match="undefined function"):
        check_expression(sp.Function("f")(W), strict=False)


def test_substitute_guards_sizes_after_substitution() -> None:
    k = sp.Symbol("k", positive=True)
    with pytest.raises(InputError, match="too large"):
        substitute(W * 2**k, {"k": sp.Integer(10) ** 300})
    with pytest.raises(InputError, match="too large"):
        substitute(W + sp.gamma(k), {"k": sp.Integer(10) ** 7})
    with pytest.raises(InputError, match="float64 range"):
        substitute(W * sp.exp(k), {"k": sp.Integer(10) ** 300})
    assert substitute(W * 2**k + sp.gamma(k), {"k": sp.Integer(5)}) == 32 * W + 24


def test_no_stray_marker_in_cwd() -> None:
    assert not os.path.exists("pwned")
