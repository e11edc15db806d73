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


# ------------------------------------------------------------- the package


def test_version():
    import symdual

    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout == f"symdual {symdual.__version__}\n"


def test_version_in_process(capsys):
    import symdual

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"symdual {symdual.__version__}\n"


def test_every_subcommand_is_a_module_with_add_arguments_and_run():
    import symdual.cli as cli

    assert list(cli.SUBCOMMANDS) == ["derive", "table", "verify", "figures", "plot", "cache", "export", "case-study"]
    for name, mod in cli.SUBCOMMANDS.items():
        assert mod.__name__ == f"symdual.cli.{name.replace('-', '')}"
        assert callable(mod.add_arguments) and callable(mod.run) and mod.HELP and mod.DESCRIPTION


def test_nothing_outside_the_cli_imports_it():
    code = ("import sys, symdual, symdual.table, symdual.verify, symdual.figures, symdual.catalog\n"
            "bad = sorted(m for m in sys.modules if m == 'symdual.cli' or m.startswith('symdual.cli.'))\n"
            "print(bad)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_library_modules_have_no_command_line():
    import symdual.figures
    import symdual.table
    import symdual.verify

    for mod in (symdual.table, symdual.verify, symdual.figures):
        assert not hasattr(mod, "add_arguments") and not hasattr(mod, "run")


# ------------------------------------------------------------- --timeout


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "1e9", "3600.5", "abc", ""])
def test_bad_timeout_is_one_line_exit_2(capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["derive", "--eta-hat", "w", "--timeout", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--timeout" in err and "error" in err


@pytest.mark.parametrize("command", [["derive", "--eta-hat", "w"], ["verify", "--quick"], ["table"]])
def test_bad_timeout_is_rejected_by_every_command_that_takes_one(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--timeout", "0"])
    assert exc.value.code == 2 and "--timeout" in capsys.readouterr().err


def test_bad_timeout_subprocess():
    res = run_cli("derive", "--eta-hat", "w", "--timeout", "nan")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "--timeout" in res.stderr


def test_timeout_is_passed_down_not_set_globally(capsys, monkeypatch):
    import symdual.bounded as bounded
    import symdual.derivation as derivation

    seen = {}
    real = derivation.derive

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    before = bounded.default_timeout()
    monkeypatch.setattr(derivation, "derive", spy)
    assert main(["derive", "--eta-hat", "w", "--timeout", "7.5"]) == 0
    assert seen["timeout"] == 7.5
    assert bounded.default_timeout() == before
    assert main(["derive", "--eta-hat", "w"]) == 0
    assert seen["timeout"] is None
    capsys.readouterr()


def test_largest_timeout_is_accepted(capsys):
    assert main(["derive", "--eta-hat", "w", "--timeout", "3600"]) == 0
    capsys.readouterr()


# ------------------------------------------------------- missing extras


def test_missing_dependency_is_one_line_naming_the_install_command(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    assert main(["figures", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "symdual: error: symdual figures needs matplotlib: pip install \"symdual[figures]\"\n"
    assert not list(tmp_path.iterdir())


def test_every_subcommand_is_listed_without_its_dependency(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    names = ("derive", "table", "verify", "figures", "plot", "cache", "export")
    assert exc.value.code == 0 and all(name in out for name in names)


def test_install_command_names_the_extra(monkeypatch):
    from importlib import metadata

    from symdual.cli import _extras

    monkeypatch.setattr(metadata, "requires", lambda dist: [
        "sympy>=1.12", "matplotlib>=3.7", 'pytest>=7; extra == "dev"', "torch>=2.0; extra == 'torch'",
        'Scikit_Learn>=1; python_version >= "3.10" and extra == "ml"'])
    assert _extras.install_command("torch") == 'pip install "symdual[torch]"'
    assert _extras.install_command("pytest") == 'pip install "symdual[dev]"'
    assert _extras.install_command("scikit-learn") == 'pip install "symdual[ml]"'
    assert _extras.install_command("matplotlib") == "pip install matplotlib"  # a core dependency: no extra
    assert _extras.install_command("pandas") == "pip install pandas"


def test_install_command_without_metadata(monkeypatch):
    from importlib import metadata

    from symdual.cli import _extras

    def missing(dist):
        raise metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(metadata, "requires", missing)
    assert _extras.install_command("torch") == "pip install torch"


def test_missing_torch_names_the_torch_extra(monkeypatch):
    """The installed package's own metadata: torch comes with the ``torch`` extra (pyproject.toml)."""
    from importlib import metadata

    from symdual.cli._extras import missing_dependency

    try:
        metadata.requires("symdual")
    except metadata.PackageNotFoundError:
        pytest.skip("symdual is not installed")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModuleNotFoundError) as exc:
        import torch  # noqa: F401
    assert missing_dependency("export", exc.value) == 'symdual export needs torch: pip install "symdual[torch]"'


def test_a_missing_symdual_module_is_a_bug_not_an_extra(monkeypatch):
    import symdual.cli.derive as derive_cmd

    def broken(args):
        raise ModuleNotFoundError("No module named 'symdual.nowhere'", name="symdual.nowhere")

    monkeypatch.setattr(derive_cmd, "run", broken)
    with pytest.raises(ModuleNotFoundError):
        main(["derive", "--eta-hat", "w"])


# ---------------------------------------------------- interrupts and pipes


def test_keyboard_interrupt_exits_130(monkeypatch):
    import symdual.cli.derive as derive_cmd

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(derive_cmd, "run", interrupted)
    assert main(["derive", "--eta-hat", "w"]) == 130


def test_broken_pipe_exits_quietly():
    code = ("import sys\nfrom symdual.cli import main\nsys.exit(main(['table', '--method', 'l1', '--no-cache']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads the table
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"Traceback" not in err


@pytest.mark.parametrize("args, needle", [
    (["--eta-hat", "w", "--lam", "3", "--param", "lam=2"], "lam is given twice"),
    (["--eta-hat", "w*(w+a)", "--param", "a=1", "--param", "a=2"], "--param a is given twice"),
])
def test_a_value_given_twice_is_refused_not_silently_chosen(args, needle, capsys):
    assert main(["derive", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_lam_by_option_or_by_param(capsys):
    for args in (["--lam", "0.5"], ["--param", "lam=1/2"]):
        assert main(["derive", "--eta-hat", "w", "--json", *args]) == 0
        assert json.loads(capsys.readouterr().out)["rule"]["lam"] == "1/2"


@pytest.mark.parametrize("rule", [["--keep-prob", "1 - exp(-w)"], ["--penalty", "cosh(w) - 1"],
                                  ["--penalty", "log(cosh(w))"], ["--variance", "1/(1 + w**2)"]])
def test_a_derivation_prints_nothing_on_stderr(rule):
    """No NumPy RuntimeWarning (overflow, inf - inf) reaches the user: stderr stays empty."""
    out = run_cli("derive", *rule)
    assert out.returncode == 0 and out.stderr == "", out.stderr
