"""The duality-theorem certificates and ``symdual verify``: each can fail, and does for broken variants."""
from __future__ import annotations

import json

import mpmath
import pytest

import symdual as sd
from symdual import verify
from symdual.cli import main
from symdual.theorems.certificates import check_duality
from symdual.theorems.check import Check

MONOTONE = {
    "l1": dict(eta_hat="w"),
    "logsum": dict(eta_hat="w*(w+eps)", params={"eps": 2}),
    "mcp": dict(eta_hat="Piecewise((b*w/(b-w), w < b), (oo, True))", params={"b": 2}),
}


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """``verify --quick`` keeps passing checks on disk: each test gets an empty cache of its own."""
    monkeypatch.setenv("SYMDUAL_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def records() -> dict:
    out = {name: sd.derive(**kw) for name, kw in MONOTONE.items()}
    out["wavy"] = sd.derive(eta_hat="w*(2+sin(w))")
    return out


def _mp(d, piece: str):
    return lambda x: d.evaluate_mp(piece, x, mpmath.mp.dps)


@pytest.mark.parametrize("name", list(MONOTONE))
def test_certificates_hold_for_monotone_rules(records, name):
    c = check_duality(records[name], quick=True)
    assert c.passed, c.detail
    assert not any("BREAKS" in line for line in c.numeric)
    assert any(step.startswith("monotone:") for step in c.proved)
    assert c.worst_error < 1e-12


def test_non_monotone_rule_reports_where_the_theorem_breaks(records):
    c = check_duality(records["wavy"])
    assert c.passed  # not claimed monotone: the theorem does not apply, nothing is contradicted
    assert "hypothesis fails" in c.detail and "eta_hat(" in c.detail
    assert "Q(w|w0) = " in c.detail and "w0 = " in c.detail  # the majoriser's break point
    assert "BREAKS" in c.numeric[0]  # the monotonicity counterexample


def test_non_monotone_rule_claimed_monotone_fails(records):
    c = check_duality(records["wavy"], claimed_monotone=True, quick=True)
    assert not c.passed and "claimed monotone" in c.detail


def test_decreasing_eta_hat_substituted_in_a_monotone_record_fails(records):
    d, wavy = records["logsum"], records["wavy"]
    c = check_duality(d, eta_hat=_mp(wavy, "eta_hat"), omega=_mp(wavy, "omega"), quick=True)
    assert not c.passed  # the record claims monotone (proved), the substituted rule is not


def test_broken_majoriser_is_detected(records):
    d = records["logsum"]
    eta_hat, f = _mp(d, "eta_hat"), _mp(d, "f_dual")
    q = lambda x, x0: (x**2 / (2 * eta_hat(x0)) + f(2 * eta_hat(x0))) / 2  # noqa: E731  eta_hat -> 2 eta_hat
    c = check_duality(d, majoriser_fn=q, quick=True)
    assert not c.passed and "Q(w0|w0)" in c.detail


def test_tampered_penalty_breaks_the_touching_point(records):
    d = records["l1"]
    c = check_duality(d, omega=lambda x: 1.01 * _mp(d, "omega")(x), quick=True)
    assert not c.passed


def test_wrong_constant_in_the_penalty_is_detected(records):
    d = records["mcp"]
    c = check_duality(d, omega=lambda x: _mp(d, "omega")(x) + 1, quick=True)
    assert not c.passed and "Q(w0|w0)" in c.detail


# ---------------------------------------------------------------- the command


def test_cli_user_rule_passes(capsys):
    assert main(["verify", "--quick", "--only", "duality", "--eta-hat", "w*(w+2)"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS  duality.eta_hat = w*(w + 2)")
    assert "verify: 1 passed, 0 failed" in out


def test_cli_json(capsys):
    assert main(["verify", "--quick", "--json", "--only", "duality", "--only", "eta_trick",
                 "--eta-hat", "w*(w+eps)", "--param", "eps=2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["name"].split(".")[0] for c in out] == ["eta_trick", "duality"]
    assert all(c["passed"] and {"statement", "hypotheses", "proved", "numeric", "worst_error"} <= set(c) for c in out)


def test_cli_non_monotone_rule_exits_non_zero(capsys):
    assert main(["verify", "--quick", "--only", "eta_trick", "--only", "duality", "--eta-hat", "w/(1+w**2)"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  eta_trick." in out and "not an eta-trick penalty" in out and "hypothesis fails" in out


def test_cli_input_error_exits_2(capsys):
    assert main(["verify", "--eta-hat", "w*("]) == 2
    assert capsys.readouterr().err.startswith("symdual: error:")


def test_unknown_group_is_rejected():
    with pytest.raises(SystemExit):
        main(["verify", "--only", "nonsense"])


def test_missing_module_is_skipped_not_fatal(monkeypatch):
    monkeypatch.setattr(verify, "_theorem_module", lambda name: None)
    run = verify.verify_all(("structured",), quick=True)
    assert run.checks == [] and run.skipped == ["structured: symdual.theorems.structured not available"]
    assert "SKIP  structured" in verify.report(run, 0.0)


def test_theorem_modules_are_imported_directly():
    import ast
    import inspect

    imported = set()
    for node in ast.walk(ast.parse(inspect.getsource(verify))):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert not any("importlib" in m or "cli" in m.split(".") for m in imported), imported
    from symdual.theorems import adaptive, structured, tikhonov

    assert [verify._theorem_module(n) for n in ("tikhonov", "structured", "adaptive")] == [tikhonov, structured,
                                                                                            adaptive]


def test_timeout_is_passed_to_every_catalog_derivation(monkeypatch):
    seen = []

    def no_derivation(method, params=None, timeout=None):
        seen.append((method, timeout))
        raise RuntimeError("not derived here")

    monkeypatch.setattr(sd.catalog, "derive", no_derivation)
    run = verify.verify_all(("eta_trick",), quick=True, timeout=3.5)
    assert [name for name, _ in seen] == sd.catalog.names()
    assert {t for _, t in seen} == {3.5}
    assert all(not c.passed and c.name.startswith("catalog.") for c in run.checks)


def test_can_evaluate_before_and_after_the_record_change():
    class Old:
        numeric = {"eta_hat"}

    class New:
        def can_evaluate(self, piece):
            return piece == "omega_prime"

    assert verify._can(Old(), "eta_hat") and not verify._can(Old(), "omega_prime")
    assert verify._can(New(), "omega_prime") and not verify._can(New(), "eta_hat")


def test_cli_timeout_reaches_verify(capsys, monkeypatch):
    seen = {}

    def fake_verify_all(groups, quick=False, timeout=None, **kw):
        seen.update(groups=groups, quick=quick, timeout=timeout)
        return verify.Run()

    monkeypatch.setattr(verify, "verify_all", fake_verify_all)
    assert main(["verify", "--quick", "--only", "tikhonov", "--timeout", "9"]) == 0
    assert seen == {"groups": ("tikhonov",), "quick": True, "timeout": 9.0}
    assert "verify: 0 passed, 0 failed" in capsys.readouterr().out


def test_a_crashing_check_could_not_check():
    """Numerical trouble inside a check is no failed theorem: it is UNCHECKED, with the reason in words."""
    run = verify.Run()
    run.attempt("boom", lambda: 1 / 0)
    run.attempt("fine", lambda: Check("fine", "s", "h", passed=True))
    assert [c.status for c in run.checks] == ["UNCHECKED", "PASS"]
    assert "ZeroDivisionError" in run.checks[0].detail
    assert verify.report(run, 1.0).splitlines()[-2] == "verify: 1 passed, 0 failed, 1 not checked (1 s)"


def test_theorem_groups_run(capsys):
    assert main(["verify", "--quick", "--only", "tikhonov"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS  tikhonov.") >= 2 and "0 failed" in out


SCALAR = [n for n in sd.catalog.names() if sd.catalog.entry(n).family != "non-separable"]


@pytest.mark.parametrize("name", SCALAR)
def test_catalog_entry_checks_pass(name):
    """Every scalar catalog check of ``symdual verify`` is a test too (quick grids)."""
    d = sd.catalog.get(name)
    run = verify.Run()
    verify.scalar_checks(run, d, name, ("eta_trick", "duality"), quick=True,
                          claimed=sd.catalog.entry(name).expected_for()["monotone"])
    assert [c.name for c in run.checks] == [f"eta_trick.{name}", f"duality.{name}"]
    for c in run.checks:
        assert c.passed, f"{c.name}: {c.detail}"
