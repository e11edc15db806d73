"""The command line as a user meets it: output, JSON schema, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sympy as sp

from symdual.cli import main

W = sp.Symbol("w", positive=True)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symdual", *args], capture_output=True, text=True, timeout=300)


def test_derive_json_schema_and_values(capsys):
    assert main(["derive", "--eta-hat", "w*(w+eps)", "--param", "eps=2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"omega", "f_dual", "eta_hat", "properties", "provenance"} <= set(out)
    omega = sp.sympify(out["omega"], locals={"w": W})  # our own output, trusted here
    assert abs(sp.N(omega.subs(W, 3) - (sp.log(5) - sp.log(2)), 30)) < 1e-25
    sparsity = out["properties"]["sparsity"]
    assert (sparsity["status"], sparsity["by"], sparsity["witness"]) == ("proved", "symbolic", None)
    assert out["properties"]["bounded"]["status"] == "refuted"
    assert out["provenance"]["omega"]["method"] == "closed form"


def test_derive_latex(capsys):
    assert main(["derive", "--keep-prob", "sigmoid(w - c)", "--param", "c=1", "--latex"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("$$") and r"\Omega(w)" in out


def test_reverse_direction_cli(capsys):
    assert main(["derive", "--penalty", "log(1+w**2)", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sp.simplify(sp.sympify(out["eta_hat"], locals={"w": W}) - (1 + W**2) / 2) == 0
    assert main(["derive", "--penalty", "w**3"]) == 0
    assert "No dropout rule yields this penalty" in capsys.readouterr().out


BAD = {
    "unknown symbol": ["--eta-hat", "w*x"],
    "unknown function": ["--eta-hat", "foo(w)"],
    "malformed": ["--eta-hat", "w*("],
    "rate outside [0, 1]": ["--drop-rate", "2*w"],
    "divergent penalty": ["--drop-rate", "1/(1 + w**2)"],
    "missing parameter": ["--eta-hat", "w*(w+eps)"],
    "negative lam": ["--eta-hat", "w", "--lam", "-1"],
    "caret": ["--eta-hat", "w^2"],
    "bad param": ["--eta-hat", "w", "--param", "eps"],
    "zero variance": ["--variance", "0"],
    "two rules": ["--eta-hat", "w", "--ratio", "w"],
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_exit_2(case):
    res = run_cli("derive", *BAD[case])
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "error" in res.stderr


def test_divergent_penalty_is_explained():
    res = run_cli("derive", "--drop-rate", "1/(1 + w**2)")
    assert "diverges at w = 0" in res.stderr and "log(w)" in res.stderr


def test_injection_is_refused_without_running(tmp_path):
    marker = tmp_path / "HACKED"
    res = run_cli("derive", "--eta-hat", f"__import__('os').system('touch {marker}')")
    assert res.returncode == 2 and not marker.exists()
