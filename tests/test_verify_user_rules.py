"""``symdual verify`` on user rules: PASS, FAIL (the theorem fails), UNCHECKED (could not check), bad input."""
from __future__ import annotations

import json
import time

import mpmath
import numpy as np
import pytest

import symdual as sd
from symdual import verify
from symdual.cli import main
from symdual.theorems import adaptive as ad
from symdual.theorems import certificates
from symdual.theorems.check import Check, NotChecked, NotConverged
from symdual.theorems.nonseparable import check_ard


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["verify", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------- reproduction 1: tanh(w), an empty ZeroDivisionError


def test_an_empty_zero_division_error_is_not_a_theorem_failure():
    run = verify.Run()
    run.attempt("boom", lambda: mpmath.mpf(1) / 0)  # mpmath raises ZeroDivisionError() with no message
    (c,) = run.checks
    assert c.status == "UNCHECKED" and not c.passed and not c.checked
    assert c.detail == "could not check: division by zero (ZeroDivisionError, no message)"
    assert verify.exit_code(run) == verify.EXIT_UNCHECKED == 3
    assert "UNCHECKED  boom\n      could not check: division by zero" in verify.report(run, 0.0)


def test_keep_prob_tanh_is_never_reported_as_a_failure(capsys):
    code, out, err = _cli(capsys, "--quick", "--only", "duality", "--keep-prob", "tanh(w)")
    assert "FAIL" not in out and code in (0, 3)
    assert "ZeroDivisionError: \n" not in out and not out.rstrip().endswith(":")
    for block in out.split("\n\n"):
        if block.startswith("UNCHECKED"):  # the reason, in words: where the rule could not be evaluated
            assert "could not check: eta_hat of the rule divides by zero at w = " in block, block
            assert "digits do not resolve it" in block
    assert "verify: " in err  # progress on stderr


def test_a_cancelling_expression_is_evaluated_with_more_digits():
    """1 - tanh(60) = 2 e**-120 (1 + O(e**-120)) is 0 at 30 digits; the retry at more digits gets eta_hat right."""
    from symdual.theorems.identity import record_fn

    d = sd.derive(keep_prob="tanh(w)")
    eh, _ = record_fn(d, "eta_hat", 30)
    with mpmath.workdps(30):
        got = eh(mpmath.mpf(60))
    with mpmath.workdps(200):
        ref = mpmath.tanh(60) / (1 - mpmath.tanh(60))  # = (exp(120) - 1)/2
        assert abs(ref - (mpmath.exp(120) - 1) / 2) < mpmath.mpf(10) ** -100 * ref
    assert abs(got - ref) <= mpmath.mpf(10) ** -25 * ref


# ------------------------------------------------ reproduction 2: a reference solver that does not converge


def _jittery_l1_prime() -> ad.ArrayFn:
    """Omega'(a) = 1 (the lasso) plus a deterministic jitter that changes on every call: never converges."""
    calls = [0]

    def op(a: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return np.ones_like(a) + 1e-3 * np.sin(calls[0])

    return op


def test_proximal_gradient_reports_non_convergence():
    X, y, _ = ad.sparse_regression(40, 10, 3, seed=0)
    w0 = np.linalg.lstsq(X, y, rcond=None)[0]
    with pytest.raises(NotConverged, match=r"proximal gradient\) did not converge in 25 iterations"):
        ad.proximal_gradient(X, y, _jittery_l1_prime(), 0.5, w0, max_iter=25, strict=True)
    _, it = ad.proximal_gradient(X, y, _jittery_l1_prime(), 0.5, w0, max_iter=25)  # not strict: as before
    assert it == 25


def test_irls_reports_its_time_budget():
    X, y, _ = ad.sparse_regression(40, 10, 3, seed=0)
    w0 = np.linalg.lstsq(X, y, rcond=None)[0]

    def slow_eta(a: np.ndarray) -> np.ndarray:
        time.sleep(0.02)
        return a * (1 + 1e-3 * np.random.default_rng().random(a.shape))  # never a fixed point

    with pytest.raises(NotConverged, match=r"IRLS\) did not converge in its 0.1 s budget"):
        ad.irls(X, y, slow_eta, 0.5, w0, budget_s=0.1, strict=True)


def test_adaptive_check_with_a_non_converging_solver_is_unchecked(monkeypatch):
    monkeypatch.setattr(ad, "PROX_MAX_ITER", 30)
    run = verify.Run()
    run.attempt("adaptive.jitter", lambda: ad.check_adaptive(lambda a: a, _jittery_l1_prime(), 0.5, n=40, d=10,
                                                              k=3, seed=0, name="jitter", sgd_steps=100))
    (c,) = run.checks
    assert c.status == "UNCHECKED"
    assert c.detail == "could not check: the reference solver (proximal gradient) did not converge in 30 iterations"
    assert verify.exit_code(run) == 3


def test_exp_rule_runs_within_budget_with_progress(capsys):
    """The rule eta_hat = (exp(2w) - 1)/2 (= keep_prob tanh(w)): adaptive dropout is never a silent FAIL."""
    code, out, err = _cli(capsys, "--quick", "--only", "adaptive", "--eta-hat", "(exp(2*w)-1)/2")
    assert code in (0, 3) and "FAIL  " not in out
    assert "verify: derived eta_hat = exp(2*w)/2 - 1/2" in err
    assert "adaptive.eta_hat = exp(2*w)/2 - 1/2 (" in err  # one progress line per check
    if code == 3:
        assert "could not check" in out
    # the stationary point the check works with is a real one: KKT of the lasso-like F from scratch
    X, y, _ = ad.sparse_regression(100, 50, 5, 0)
    w0 = np.linalg.lstsq(X, y, rcond=None)[0]

    def op(a: np.ndarray) -> np.ndarray:  # Omega'(a) = a/eta_hat(a) = 2a/(exp(2a) - 1), Omega'(0+) = 1
        a = np.asarray(a, dtype=float)
        out, nz = np.ones_like(a), a > 0
        out[nz] = 2 * a[nz] / np.expm1(np.minimum(2 * a[nz], 700))
        return out

    w_direct, _ = ad.proximal_gradient(X, y, op, 1.0, w0, max_iter=5000, strict=True)
    assert ad.kkt_residual(X, y, w_direct, op, 1.0) < 1e-8


def test_a_check_past_its_budget_is_unchecked():
    run = verify.Run(budget=0.2)
    run.attempt("slow", lambda: time.sleep(5))
    run.attempt("fine", lambda: Check("fine", "s", "h", passed=True))
    assert [c.status for c in run.checks] == ["UNCHECKED", "PASS"]
    assert run.checks[0].detail == "could not check: the check did not finish within its 0.2 s budget"


def test_nan_certificate_is_unchecked_not_passed():
    """inf - inf in a certificate used to compare False with the tolerance: a silent PASS."""
    cert = certificates.Certificate("concave", "text")
    with pytest.raises(NotChecked, match="certificate 'concave' is not a number"):
        cert.note(float("nan"), 1e-12, lambda: "g = inf")
    cert.note(0.5, 1e-12, lambda: "broke")
    assert not cert.holds


def test_float64_envelope_discounts_what_the_difference_cannot_resolve():
    """Omega flat to float64 (Omega'(75) ~ 1e-64): the central difference 0 is not a break; a real slip is."""
    d = sd.derive(eta_hat="(exp(2*w)-1)/2")
    with mpmath.workdps(30):
        p = certificates._pieces(d, 30, None, None, None)
        flat = certificates.envelope(p, np.array([75.0, 80.0]), exact=False)
        assert flat.holds, flat.breaks
        q = certificates.Pieces(lambda x: p.omega(x) * (1 + mpmath.mpf("1e-3") * x), p.eta_hat, None, None,
                                p.precision, p.tol)
        assert not certificates.envelope(q, np.array([0.5, 2.0]), exact=False).holds


# ---------------------------------------------------------------- reproduction 3: --json (numpy bool in the ARD check)


def test_ard_check_is_json_serialisable():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 6))
    c = check_ard(lambda v: 0.5 * 4 * np.log(1.0) + 0.5 * np.sum(np.abs(v)), X, 1.0, trials=1)
    assert type(c.passed) is bool
    d = json.loads(json.dumps(c.as_dict(), allow_nan=False))
    assert d["status"] == ("PASS" if c.passed else "FAIL") and isinstance(d["worst_error"], float)


def test_as_dict_converts_numpy_and_infinite_values():
    c = Check("x", "s", "h", passed=np.bool_(False), worst_error=np.float64("inf"))
    d = json.loads(json.dumps(c.as_dict(), allow_nan=False))
    assert d["passed"] is False and d["worst_error"] == "inf" and d["status"] == "FAIL"


def test_json_of_a_user_rule_run_is_valid(capsys):
    code, out, err = _cli(capsys, "--quick", "--json", "--only", "duality", "--keep-prob", "tanh(w)")
    checks = json.loads(out)
    assert [c["name"] for c in checks] == ["duality.keep_prob = tanh(w)"]
    assert checks[0]["status"] in ("PASS", "UNCHECKED") and code == {"PASS": 0, "UNCHECKED": 3}[checks[0]["status"]]
    assert "verify: " in err and "verify: " not in out


def test_json_of_a_quick_catalog_group_run_is_valid(capsys, monkeypatch):
    """Every catalog entry's eta-trick check (ARD's numpy bool included), quick grids, through --json."""
    monkeypatch.setattr(sd.catalog, "names", lambda: ["l1", "hardthresh", "ard"])
    code, out, _ = _cli(capsys, "--quick", "--json", "--only", "eta_trick")
    checks = json.loads(out)
    assert [c["name"] for c in checks] == ["eta_trick.l1", "eta_trick.hardthresh", "eta_trick.ard"]
    assert all(c["status"] == "PASS" for c in checks) and code == 0


# ---------------------------------------------------------------- FAIL: a rule on which the theorem fails


def test_non_monotone_rule_fails_the_eta_trick(capsys):
    """eta_hat = w/(1 + w**2) decreases for w > 1 (the hypothesis fails) and its penalty is no eta-trick penalty:
    Omega = w + w**3/3, so g(s) = 2 Omega(sqrt s) is not concave, which every inf of affine functions of s is."""
    code, out, _ = _cli(capsys, "--quick", "--only", "eta_trick", "--eta-hat", "w/(1+w**2)")
    assert code == 1 and out.startswith("FAIL  eta_trick.eta_hat = w/(w**2 + 1)")
    assert "verify: 0 passed, 1 failed" in out
    g = lambda s: 2 * (mpmath.sqrt(s) + mpmath.sqrt(s) ** 3 / 3)  # noqa: E731
    assert g(mpmath.mpf(13) / 2) < (g(4) + g(9)) / 2  # the conclusion is false: midpoint concavity broken
    d = sd.derive(eta_hat="w/(1+w**2)")
    gap = d.evaluate_mp("omega", mpmath.mpf(2), 30) - d.evaluate_mp("omega", mpmath.mpf(1), 30)
    assert abs(gap - mpmath.mpf(10) / 3) < 1e-25  # Omega(2) - Omega(1) = (2 + 8/3) - (1 + 1/3)


def test_fail_and_unchecked_together_exit_1(monkeypatch):
    run = verify.Run()
    run.attempt("a", lambda: Check("a", "s", "h", passed=False))
    run.attempt("b", lambda: (_ for _ in ()).throw(NotChecked("no reference")))
    run.attempt("c", lambda: Check("c", "s", "h", passed=True))
    assert [c.status for c in run.checks] == ["FAIL", "UNCHECKED", "PASS"] and verify.exit_code(run) == 1
    assert "verify: 1 passed, 1 failed, 1 not checked (0 s)" in verify.report(run, 0.0)


def test_an_assertion_in_a_check_is_a_failure():
    def violated() -> Check:
        raise AssertionError("Q(w|w0) < Omega(w)")

    run = verify.Run()
    run.attempt("mm", violated)
    assert run.checks[0].status == "FAIL" and "Q(w|w0) < Omega(w)" in run.checks[0].detail


# ---------------------------------------------------------------- UNCHECKED through the command: exit 3


def test_cli_unchecked_exits_3(capsys, monkeypatch):
    def no_reference(d, **kw):
        raise NotChecked("the reference minimisation did not converge")

    monkeypatch.setattr(certificates, "check_duality", no_reference)
    code, out, _ = _cli(capsys, "--quick", "--only", "duality", "--eta-hat", "w")
    assert code == 3
    assert "UNCHECKED  duality.eta_hat = w\n      could not check: the reference minimisation did not converge" in out
    assert "verify: 0 passed, 0 failed, 1 not checked" in out


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0 every check passed; 1 a check failed; 3 none failed but some could not be checked; 2 bad input" in text


# ---------------------------------------------------------------- bad input: exit 2, one line


@pytest.mark.parametrize("argv", [
    ["--keep-prob", "tanh("], ["--keep-prob", "2"], ["--eta-hat", "w**2"], ["--eta-hat", "w", "--lam", "-1"],
    ["--eta-hat", "w", "--param", "x"],
])
def test_bad_input_exits_2_with_one_line(capsys, argv):
    code, out, err = _cli(capsys, "--quick", "--only", "duality", *argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("symdual: error: ")


def test_bad_budget_is_rejected(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--check-budget", "-1"])
    assert exc.value.code == 2 and len(capsys.readouterr().err.splitlines()) == 1


# ---------------------------------------------------------------- user rules that pass


RULES = [  # (option, rule, group, w, eta_hat(w) by hand at lam = 1)
    ("--eta-hat", "w+1", "duality", "0.7", "1.7"),
    ("--eta-hat", "sqrt(w)", "eta_trick", "0.49", "0.7"),
    ("--drop-rate", "1/(1+2*w)", "duality", "0.7", "1.4"),  # p = lam/(eta + lam) => eta = 2w
    ("--ratio", "1/(1+w)", "eta_trick", "0.7", "1.7"),  # r = lam/eta => eta = 1 + w
    ("--penalty", "sqrt(1+w**2)-1", "duality", "0.75", "1.25"),  # Omega' = w/sqrt(1+w**2) = w/eta
    ("--variance", "1/w", "duality", "0.7", "0.7"),  # sigma**2 = lam/eta => eta = w
]


@pytest.mark.parametrize("option, rule, group, x, eta", RULES, ids=[r[1] for r in RULES])
def test_user_rule_passes(capsys, option, rule, group, x, eta):
    code, out, _ = _cli(capsys, "--quick", "--json", "--only", group, option, rule)
    (c,) = json.loads(out)
    assert code == 0 and c["status"] == "PASS" and c["name"].startswith(f"{group}.")
    assert c["worst_error"] < (1e-8 if group == "eta_trick" else 1e-12)
    d = sd.derive(**{option[2:].replace("-", "_"): rule})
    with mpmath.workdps(30):  # the rule checked is this one
        assert abs(d.evaluate_mp("eta_hat", mpmath.mpf(x), 30) - mpmath.mpf(eta)) < 1e-25


def test_sparse_user_rule_passes_adaptive(capsys):
    """LogSum through its penalty log(1 + w): eta_hat = w (1 + w), adaptive dropout meets the direct solver."""
    code, out, err = _cli(capsys, "--quick", "--only", "adaptive", "--penalty", "log(1+w)")
    assert code == 0 and out.startswith("PASS  adaptive.penalty = log(w + 1)"), out
    assert "verify: PASS adaptive.penalty = log(w + 1) (" in err
