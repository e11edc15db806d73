"""The record: immutable, evaluated only through evaluate/evaluate_mp, every evaluator typed."""
from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest

import symdual as sd
from symdual.errors import InputError
from symdual.record import EVALUATOR_KINDS, Evaluator


@pytest.fixture(scope="module")
def logsum():
    return sd.derive(eta_hat="w*(w+eps)", params={"eps": 3})


def test_a_derivation_cannot_be_patched(logsum):
    with pytest.raises(dataclasses.FrozenInstanceError):
        logsum.omega = None
    for mapping in (logsum.properties, logsum.series, logsum.provenance, logsum.limits, logsum.evaluators):
        with pytest.raises(TypeError):
            mapping["x"] = 1
    assert isinstance(logsum.notes, tuple)


def test_scalar_in_scalar_out_arrays_elementwise(logsum):
    def ref(x: float) -> float:  # Omega = log(1 + w/eps), at 30 digits
        with mpmath.workdps(30):
            return float(mpmath.log(1 + mpmath.mpf(x) / 3))

    one = logsum.evaluate("omega", 1.0)
    assert np.ndim(one) == 0 and one == pytest.approx(ref(1.0), rel=1e-15)
    assert logsum.evaluate("omega", -2) == pytest.approx(ref(2.0), rel=1e-15)  # even in w
    grid = np.array([[0.5, 2.0], [7.0, 1e-9]])
    for x in (grid, grid.astype(np.float32), grid.tolist()):
        got = logsum.evaluate("omega", x)
        assert got.shape == (2, 2) and got.dtype == np.float64
        want = [[ref(float(v)) for v in row] for row in np.asarray(x, dtype=np.float64)]
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_complex_or_missing_input_is_refused(logsum):
    for bad in (1 + 2j, None, np.array(["a"])):
        with pytest.raises(InputError):
            logsum.evaluate("omega", bad)


def test_evaluate_mp_matches_an_independent_reference(logsum):
    with mpmath.workdps(45):
        want = mpmath.log(1 + mpmath.mpf("0.7") / 3)
    got = logsum.evaluate_mp("omega", "0.7", dps=45)
    assert abs(got - want) < mpmath.mpf(10) ** -40


@pytest.mark.parametrize("name", ["logsum", "vardrop_exact", "hardconcrete"])
def test_every_evaluator_follows_the_protocol(name):
    d = sd.catalog.get(name)
    assert d.evaluators, name
    for piece, ev in d.evaluators.items():
        assert isinstance(ev, Evaluator) and ev.kind in EVALUATOR_KINDS, (piece, ev)
        assert d.evaluator_kind(piece) == ev.kind
    assert d.evaluator_kind("omega") == ("closed form" if name == "logsum" else "solver")


def test_quadrature_when_the_integral_has_no_closed_form():
    d = sd.derive(eta_hat="w*exp(w**2)*(1 + w)**(1/3)", timeout=1)
    assert d.omega is None and d.evaluator_kind("omega") == "quadrature"
    g = lambda t: 1 / (mpmath.exp(t**2) * (1 + t) ** (mpmath.mpf(1) / 3))  # noqa: E731 - Omega' = w/eta_hat
    with mpmath.workdps(30):
        want = mpmath.quad(g, [0, 1.3])
    assert d.evaluate("omega", 1.3) == pytest.approx(float(want), rel=1e-13)


def test_unknown_piece_is_one_clear_error(logsum):
    with pytest.raises(InputError, match="unknown piece"):
        logsum.evaluate("drop", 1.0)
