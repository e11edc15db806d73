"""Classes 2-4: tracebacks become one line, silently wrong input is refused, valid input is accepted."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

import symdual as sd
from symdual.cli import main
from symdual.errors import InputError
from symdual.inputs import build_rule, check_eta_hat, check_range
from symdual.rules import as_exact, to_eta_hat

W = sp.Symbol("w", positive=True)

REFUSED = [
    (dict(eta_hat="w*2**1024"), ["--eta-hat", "w*2**1024"], "float64 range"),
    (dict(eta_hat="w*hyper([1],[0],w)"), ["--eta-hat", "w*hyper([1],[0],w)"], "pole"),
    (dict(eta_hat="w*hyper([1,1,1],[2],w)"), ["--eta-hat", "w*hyper([1,1,1],[2],w)"], "diverges"),
    (dict(eta_hat="w*k", params={"k": 10**400}), ["--eta-hat", "w*k", "--param", "k=10**400"], "too large|range"),
    (dict(eta_hat="w*2**k", params={"k": 1e300}), ["--eta-hat", "w*2**k", "--param", "k=1e300"], "too large"),
    (dict(eta_hat="w + gamma(k)", params={"k": 1e7}), ["--eta-hat", "w + gamma(k)", "--param", "k=1e7"], "too large"),
    (dict(eta_hat="w*exp(1e300)"), ["--eta-hat", "w*exp(1e300)"], "float64 range"),
    (dict(eta_hat="(-8)**(1/3)+w"), ["--eta-hat", "(-8)**(1/3)+w"], "not real-valued"),
    (dict(eta_hat="w*exp(k)", params={"k": 10**300}), ["--eta-hat", "w*exp(k)", "--param", "k=10**300"], "range"),
]


@pytest.mark.parametrize(("kwargs", "argv", "match"), REFUSED)
def test_api_refuses_with_one_line(kwargs: dict, argv: list[str], match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        sd.derive(**kwargs, timeout=1)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


@pytest.mark.parametrize(("kwargs", "argv", "match"), REFUSED)
def test_cli_exits_2_with_one_line(kwargs: dict, argv: list[str], match: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", *argv, "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symdual: error:")


def test_principal_cube_root_is_complex_and_the_point_is_named() -> None:
    z = mpmath.mpf(-8) ** (mpmath.mpf(1) / 3)  # the reference: principal root 1 + i sqrt(3)
    assert abs(z - mpmath.mpc(1, mpmath.sqrt(3))) < 1e-14
    with pytest.raises(InputError, match=r"at w = 1e-06 it is \(1\.0 \+ 1\.73205j\)"):
        check_range(build_rule("eta_hat", "(-8)**(1/3)+w"))


def test_real_roots_of_negative_numbers_written_as_real_are_accepted() -> None:
    rule = build_rule("eta_hat", "w*(w + (8)**(1/3))")
    check_range(rule)
    assert rule.expr == W * (W + 2)


def test_keep_prob_exp_minus_w_is_accepted_despite_float64_underflow() -> None:
    rule = build_rule("keep_prob", "exp(-w)")
    eta_hat = to_eta_hat(rule.kind, rule.expr, rule.lam)
    assert float(sp.N(eta_hat.subs(W, 794))) == 0.0  # float64 underflow: the old check refused here
    assert mpmath.mpf(1) / (mpmath.exp(794) - 1) > 0
    check_range(rule)
    check_eta_hat(eta_hat, rule)


def test_keep_prob_zero_somewhere_is_still_refused() -> None:
    rule = build_rule("keep_prob", "Max(0, 1 - w)")
    with pytest.raises(InputError, match="eta_hat must be positive"):
        check_eta_hat(to_eta_hat(rule.kind, rule.expr, rule.lam), rule)


def test_keep_prob_erf_converts_without_cancellation() -> None:
    rule = build_rule("keep_prob", "erf(w)")
    eta_hat = to_eta_hat(rule.kind, rule.expr, rule.lam)
    assert sp.simplify((eta_hat - sp.erf(W) / (1 - sp.erf(W))).rewrite(sp.erf)) == 0
    assert eta_hat.has(sp.erfc)
    check_range(rule)
    check_eta_hat(eta_hat, rule)  # raised ZeroDivisionError: 1 - erf(w) is 0 at 15 digits for w > 6
    value = sp.lambdify(W, eta_hat, "mpmath")(mpmath.mpf(10))
    with mpmath.workdps(60):
        reference = mpmath.erf(10) / mpmath.erfc(10)
    assert abs(value / reference - 1) < 1e-12


@pytest.mark.parametrize("value", [np.float64(1.4), np.float32(1.4), np.array(1.4), Fraction(7, 5), Decimal("1.4"),
                                   sp.Rational(7, 5), mpmath.mpf("1.4"), 1.4, "7/5"])
def test_catalog_accepts_any_real_number_type(value: object) -> None:
    lam = as_exact(value)
    assert abs(float(lam) - 1.4) < 1e-7 and lam.is_Rational
    entry = sd.catalog.entry("mcp")
    assert entry.resolve({"lam": value})["lam"] == lam


def test_catalog_get_with_numpy_float_matches_python_float() -> None:
    assert sd.catalog.expression("mcp", {"lam": np.float64(1.4)}) == sd.catalog.expression("mcp", {"lam": 1.4})


@pytest.mark.parametrize(("value", "match"), [
    (np.float64("nan"), "not finite"), (float("inf"), "not finite"), (Decimal("NaN"), "not finite"),
    (mpmath.inf, "not finite"), (1j, "real"), (True, "bool"), (np.array([1.0, 2.0]), "one number"),
    (10**400, "float64 range"), (-1.0, "lam > 0"), (np.float64(-2.0), "lam > 0"), (None, "cannot use"),
])
def test_catalog_refuses_bad_numbers_with_one_line(value: object, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        sd.catalog.entry("mcp").resolve({"lam": value})
    assert "\n" not in str(err.value)


@pytest.fixture(scope="module")
def logsum() -> sd.Derivation:
    return sd.derive(eta_hat="w*(w+1)", timeout=4)


@pytest.mark.parametrize("bad", [1 + 2j, np.array([1 + 0j]), np.datetime64("2020-01-01"), np.timedelta64(1, "s"),
                                 None, "1.0", b"1", [1, "a"], np.array([1, None], dtype=object), object()])
def test_evaluate_refuses_non_real_input(logsum: sd.Derivation, bad: object) -> None:
    with pytest.raises(InputError, match="real"):
        logsum.evaluate("omega", bad)


@pytest.mark.parametrize("good", [2, 2.0, np.float32(2), np.int8(2), np.uint16(2), np.float64(2), np.array(2.0),
                                  Fraction(2), sp.Integer(2), True])
def test_evaluate_accepts_real_scalars_and_returns_a_scalar(logsum: sd.Derivation, good: object) -> None:
    out = logsum.evaluate("omega", good)
    assert np.ndim(out) == 0
    x = 1.0 if good is True else 2.0
    assert abs(float(out) - float(mpmath.log(1 + x))) < 1e-15  # Omega = log(1 + w) for eta_hat = w (w + 1)


def test_evaluate_keeps_the_shape(logsum: sd.Derivation) -> None:
    x = np.array([[0.5, 1.0, 2.0], [3.0, 4.0, 5.0]], dtype=np.float16)
    out = logsum.evaluate("omega", x)
    assert out.shape == (2, 3) and out.dtype == np.float64
    assert np.allclose(out, np.log1p(x.astype(np.float64)), rtol=1e-15, atol=0)
    assert logsum.evaluate("omega", [True, False]).tolist() == [np.log(2.0), 0.0]


@pytest.mark.parametrize("bad", [None, 1 + 2j, "abc", [1, 2], np.datetime64("2020-01-01"), np.array([1.0, 2.0])])
def test_evaluate_mp_refuses_non_real_points(logsum: sd.Derivation, bad: object) -> None:
    with pytest.raises(InputError):
        logsum.evaluate_mp("omega", bad, dps=30)


@pytest.mark.parametrize("point", ["0.1", Fraction(1, 10), Decimal("0.1"), sp.Rational(1, 10)])
def test_evaluate_mp_reads_exact_points_at_full_precision(logsum: sd.Derivation, point: object) -> None:
    with mpmath.workdps(50):
        reference = mpmath.log1p(mpmath.mpf(1) / 10)
        assert abs(logsum.evaluate_mp("omega", point, dps=50) - reference) < mpmath.mpf(10) ** -45


@pytest.mark.parametrize("dps", [0, -3, 2.5, True, "40", 10**6])
def test_evaluate_mp_refuses_bad_dps(logsum: sd.Derivation, dps: object) -> None:
    with pytest.raises(InputError, match="dps"):
        logsum.evaluate_mp("omega", 0.5, dps=dps)
