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


@pytest.mark.parametrize("case", ["logsum", "standout", "vardrop_approx"])
def test_self_check_passes_in_a_fresh_interpreter(case, folder):
    path = written(case, folder)
    run = subprocess.run([sys.executable, "-I", path], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "self-check of Penalty" in run.stdout and "largest relative error" in run.stdout


def test_self_check_fails_on_a_wrong_value(folder):
    """The self-check can fail: a corrupted embedded value makes it exit 1."""
    path = written("logsum", folder)
    text = open(path, encoding="utf-8").read()
    bad = text.replace("('omega', 1.0, 0.4054651081081644)", "('omega', 1.0, 0.40546)")
    assert bad != text
    broken = path.replace(".py", "_broken.py")
    with open(broken, "w", encoding="utf-8") as fh:
        fh.write(bad)
    run = subprocess.run([sys.executable, "-I", broken], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr


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
