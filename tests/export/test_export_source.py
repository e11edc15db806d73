"""The standalone module of symdual.export.torch.to_source: only torch and math imported (checked by parsing
it), its self-check passes in a fresh interpreter (python -I), and it computes bit for bit what
penalty_module computes in this process."""
from __future__ import annotations

import ast
import functools
import math
import pickle
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import symdual as sd  # noqa: E402
from symdual.errors import InputError  # noqa: E402
from symdual.export import torch as sdt  # noqa: E402

CASES = ("logsum", "mcp", "standout", "user_rule", "vardrop_approx")
INPUTS = [0.0, -0.0, 1e-30, -1e-8, 0.05, 0.7071067811865476, -1.3, 4.0, 800.0, -1e4]


@functools.cache
def derivation(case: str):
    if case == "user_rule":
        return sd.derive(keep_prob="sigmoid(w - c)", params={"c": 1})
    if case == "drop_rate_rule":
        return sd.derive(drop_rate="1/(1 + w*(w + c))", params={"c": 3}, lam=2)
    if case == "mcp_cap_1":  # its cap b = a lam = 1 is one of the self-check's nominal points
        return sd.catalog.get("mcp", a="1/2", lam="2")
    return sd.catalog.get(case)


@functools.cache
def written(case: str, folder: str) -> str:
    path = f"{folder}/{case}_penalty.py"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(sdt.to_source(derivation(case), class_name="Penalty"))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("export"))


def imported_modules(text: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0] if node.level == 0 else ".")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("__import__", "eval", "exec"):
            names.add(node.func.id)
    return names


@pytest.mark.parametrize("case", CASES)
def test_imports_only_torch_and_math(case):
    text = sdt.to_source(derivation(case))
    assert imported_modules(text) == {"math", "torch"}
    assert len([n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]) == 1


@pytest.mark.parametrize("case", ["logsum", "mcp"])
def test_docstring_has_formulas_and_provenance(case):
    d = derivation(case)
    doc = ast.get_docstring(ast.parse(sdt.to_source(d)))
    assert str(d.omega) in doc and str(d.eta_hat) in doc and str(d.f_dual) in doc
    assert str(d.provenance["omega"].method) in doc and "certified" in doc
    assert "Measured float64 relative error of omega" in doc
    if case == "mcp":
        assert "Capped: beyond |w| = w_c = 0.70710678118654757" in doc and "continuous" in doc


_RUN_AS_SCRIPTS = """
import runpy, sys
for path in sys.argv[1:]:
    try:
        runpy.run_path(path, run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code
    print("exit", code)
"""


def test_self_checks_pass_in_a_fresh_interpreter_and_can_fail(folder):
    """Each file's self-check (run as __main__ in one fresh python -I) passes; a corrupted embedded value makes
    it exit 1. mcp_cap_1 (cap at w = 1) once raised a bare ZeroDivisionError: its points avoid the cap now."""
    cases = ["logsum", "standout", "vardrop_approx", "mcp_cap_1"]
    paths = [written(case, folder) for case in cases]
    text = open(paths[0], encoding="utf-8").read()
    bad = text.replace("('omega', 1.0, 0.4054651081081644)", "('omega', 1.0, 0.40546)")
    assert bad != text
    broken = paths[0].replace(".py", "_broken.py")
    with open(broken, "w", encoding="utf-8") as fh:
        fh.write(bad)
    run = subprocess.run([sys.executable, "-I", "-c", _RUN_AS_SCRIPTS, *paths, broken], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("self-check of Penalty") == 5 and "largest relative error" in run.stdout
    assert [line for line in run.stdout.splitlines() if line.startswith("exit")] == ["exit 0"] * 4 + ["exit 1"]


def test_self_check_points_avoid_breakpoints_and_caps():
    """MCP with its cap at w = 1: no self-check point within 2% of the cap (w/(1 - w) was evaluated there); the
    embedded values are mpmath's at 30 digits, eta_hat = oo beyond the cap."""
    import mpmath

    namespace: dict = {}
    exec(sdt.to_source(derivation("mcp_cap_1")), namespace)  # noqa: S102 - symdual's own generated text
    checks = namespace["_CHECK"]
    assert {"omega", "eta_hat"} <= {p for p, _, _ in checks}  # (its f fails certification here: not exported)
    for piece, x, value in checks:
        if piece != "f_dual":
            assert abs(x - 1.0) > 0.02, (piece, x)
        with mpmath.workdps(30):
            w = mpmath.mpf(x)
            ref = {"omega": w - w * w / 2 if w <= 1 else mpmath.mpf(1) / 2,
                   "eta_hat": w / (1 - w) if w < 1 else mpmath.inf,
                   "f_dual": w / (1 + w)}[piece]  # b = 1: Omega = w - w^2/2, eta_hat = w/(1 - w), f = eta/(1 + eta)
        assert value == float(ref), (piece, x, value, ref)


class _Failing:
    """A derivation whose mpmath evaluator fails (as the record's did at MCP's cap)."""

    def __init__(self, d):
        self._d = d

    def __getattr__(self, name):
        return getattr(self._d, name)

    def evaluate_mp(self, piece, x, dps=40):
        if piece == "eta_hat" and x > 0.4:
            raise ZeroDivisionError
        return self._d.evaluate_mp(piece, x, dps)


def test_a_failing_self_check_is_one_input_error_line():
    with pytest.raises(InputError, match="cannot build the self-check of .*eta_hat at .*ZeroDivisionError") as err:
        sdt.to_source(_Failing(derivation("mcp")))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("case", "name"), [("logsum", "LogSumPenalty"), ("mcp", "MCPPenalty"),
                                            ("user_rule", "StandoutPenalty"), ("drop_rate_rule", "DropRateRulePenalty"),
                                            ("vardrop_approx", "VariationalDropoutApproximateKLPenalty")])
def test_default_class_name_comes_from_the_catalog_title_or_the_rule(case, name):
    """Catalog records have no name: the class is named after the entry whose rule text it has (Standout's
    sigmoid(w - c) typed by hand is Standout), else after the rule kind."""
    d = derivation(case)
    assert type(sdt.penalty_module(d)).__name__ == name and name.isidentifier()
    assert f"class {name}(torch.nn.Module):" in sdt.to_source(d)


_PROBE = """
import importlib.util, sys, torch
torch.set_num_threads(1)
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("probe", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    m = mod.Penalty()
    for dtype in (torch.float64, torch.float32, torch.float16):
        w = torch.tensor({inputs}, dtype=dtype, requires_grad=True)
        total = m(w)
        total.backward()
        rows = [m.omega(w).detach(), w.grad, m.eta_hat(w).detach(), m.drop_rate(w).detach(), total.detach()[None]]
        print(" ".join(float(v).hex() for row in rows for v in row.double().tolist()))
"""


def probe_here(case: str) -> list[str]:
    m = sdt.penalty_module(derivation(case), class_name="Penalty")
    lines = []
    for dtype in (torch.float64, torch.float32, torch.float16):
        w = torch.tensor(INPUTS, dtype=dtype, requires_grad=True)
        total = m(w)
        total.backward()
        rows = [m.omega(w).detach(), w.grad, m.eta_hat(w).detach(), m.drop_rate(w).detach(), total.detach()[None]]
        lines.append(" ".join(float(v).hex() for row in rows for v in row.double().tolist()))
    return lines


def test_standalone_is_bit_identical_to_penalty_module(folder):
    paths = [written(case, folder) for case in CASES]
    run = subprocess.run([sys.executable, "-I", "-c", _PROBE.format(inputs=INPUTS), *paths],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    there = run.stdout.split("\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = [line for case in CASES for line in probe_here(case)]
    finally:
        torch.set_num_threads(threads)
    assert there[:len(here)] == here


def test_defaults_are_the_derivation_parameters():
    d = derivation("logsum")
    cls = type(sdt.penalty_module(d))
    m = cls()
    assert float(m.lam) == 1.0 and m.eps == 2.0
    assert math.isclose(m(torch.tensor([2.0], dtype=torch.float64)).item(), math.log(2.0), rel_tol=1e-15)
    with pytest.raises(ValueError, match="generated for eps = 2.0"):
        cls(eps=3.0)
    assert float(cls(lam=0.5).lam) == 0.5


def test_penalty_module_lam_and_class_name():
    m = sdt.penalty_module(derivation("mcp"), lam=3.0, class_name="Mcp")
    assert type(m).__name__ == "Mcp" and float(m.lam) == 3.0 and m.lam.dtype == torch.float64
    with pytest.raises(InputError, match="invalid name"):
        sdt.to_source(derivation("mcp"), class_name="not a name")


def test_module_pickles_copies_and_converts():
    m = sdt.penalty_module(derivation("standout"), lam=0.75)
    w = torch.tensor([0.3, -2.0, 9.0], dtype=torch.float64)
    clone = pickle.loads(pickle.dumps(m))
    assert type(clone).__name__ == type(m).__name__ and float(clone.lam) == 0.75
    assert torch.equal(clone(w), m(w))
    other = sdt.penalty_module(derivation("standout"))
    other.load_state_dict(m.state_dict())
    assert torch.equal(other(w), m(w))
    assert m.to(torch.float64)(w).dtype == torch.float64


def test_function_without_torch_form_is_one_line():
    d = derivation("vardrop_approx")
    assert sdt.f_dual_fn(d) is not None  # a closed-form dual: printed
    exact = sd.catalog.get("vardrop_exact")
    with pytest.raises(InputError, match="f_dual of .* is not available") as err:
        sdt.f_dual_fn(exact)
    assert "\n" not in str(err.value) and "hyper" in str(err.value)
