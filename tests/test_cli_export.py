"""``symdual export``: the written file runs alone (``python -I``) and gives the penalty's values; --layer;
bad input is one line and exit 2, and leaves nothing behind."""
from __future__ import annotations

import ast
import functools
import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import mpmath as mp
import pytest

from symdual.cli import export as export_cli
from symdual.cli import main

torch = pytest.importorskip("torch")

POINTS = [-1e4, -3.0, -0.5, -1e-8, 0.0, 1e-30, 0.25, 0.7, 2.0, 1e4]


def load(path: Path, name: str):
    """Import the file at ``path`` as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def penalty_class(mod):
    """The one nn.Module subclass the generated file defines."""
    classes = [v for v in vars(mod).values()
               if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == mod.__name__]
    assert len(classes) == 1, classes
    return classes[0]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add("." if node.level else node.module.split(".")[0])
    return out


def run_isolated(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, timeout=300,
                          cwd=path.parent)


def reference_sum(omega, lam) -> float:
    """lam * sum_j (Omega(w_j) - Omega(0)) at 30 digits."""
    with mp.workdps(30):
        return float(mp.mpf(lam) * mp.fsum(omega(mp.mpf(x)) - omega(mp.mpf(0)) for x in POINTS))


def test_method_file_is_standalone_and_gives_logsum(tmp_path, capsys):
    out = tmp_path / "logsum_penalty.py"
    assert main(["export", "--method", "logsum", "--param", "eps=2", "--lam", "3/2", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert imported_modules(out) <= {"torch", "math", "__future__"}
    done = run_isolated(out)
    assert done.returncode == 0, done.stderr[-2000:]
    cls = penalty_class(load(out, "logsum_penalty_gen"))
    w = torch.tensor(POINTS, dtype=torch.float64)
    want = reference_sum(lambda x: mp.log(abs(x) + 2), mp.mpf(3) / 2)
    assert float(cls()(w)) == pytest.approx(want, rel=1e-13)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logsum_penalty.py"]  # no temporary file left


def test_user_rule_file_gives_its_penalty_and_matches_penalty_module(tmp_path, capsys):
    """--drop-rate 1/(1 + w (w + 3)) at lam = 2: eta_hat = lam (1 - p)/p = 2 w (w + 3), so
    Omega(w) = integral_0^|w| t/eta_hat(t) dt = 1/2 log(1 + |w|/3)."""
    import symdual as sd
    from symdual.export import torch as sdt

    out = tmp_path / "rule.py"
    rule = ["--drop-rate", "1/(1 + w*(w + c))", "--param", "c=3", "--lam", "2"]
    assert main(["export", *rule, "-o", str(out), "--class-name", "MyRule"]) == 0
    capsys.readouterr()
    assert imported_modules(out) <= {"torch", "math", "__future__"}
    done = run_isolated(out)
    assert done.returncode == 0, done.stderr[-2000:]
    mod = load(out, "rule_gen")
    assert penalty_class(mod).__name__ == "MyRule"
    w = torch.tensor(POINTS, dtype=torch.float64)
    want = reference_sum(lambda x: mp.log1p(abs(x) / 3) / 2, 2)
    assert float(mod.MyRule()(w)) == pytest.approx(want, rel=1e-13)
    d = sd.derive(drop_rate="1/(1 + w*(w + c))", params={"c": 3}, lam=2)
    assert torch.equal(mod.MyRule()(w), sdt.penalty_module(d)(w))  # the file is penalty_module's code


@functools.cache
def vardrop_derivation():
    import symdual as sd

    return sd.catalog.derive("vardrop_exact", timeout=20)  # a generous CAS budget: the machine may be loaded


def test_table_based_file_runs_isolated(tmp_path, capsys, monkeypatch):
    """vardrop_exact has no closed form: the file carries its tables and still imports only torch and math."""
    monkeypatch.setattr(export_cli, "derivation", lambda args: vardrop_derivation())
    out = tmp_path / "vardrop.py"
    assert main(["export", "--method", "vardrop_exact", "-o", str(out)]) == 0
    capsys.readouterr()
    assert imported_modules(out) <= {"torch", "math", "__future__"}
    done = run_isolated(out)
    assert done.returncode == 0, done.stderr[-2000:]


def test_stdout_output_is_the_source(capsys):
    import symdual as sd
    from symdual.export import torch as sdt

    assert main(["export", "--method", "l1", "-o", "-"]) == 0
    assert capsys.readouterr().out == sdt.to_source(sd.catalog.get("l1"))


def test_replacing_a_regular_file_keeps_its_mode(tmp_path, capsys):
    out = tmp_path / "pen.py"
    out.write_text("old")
    out.chmod(0o640)
    assert main(["export", "--method", "l1", "-o", str(out)]) == 0
    capsys.readouterr()
    assert out.read_text() != "old" and stat.S_IMODE(out.stat().st_mode) == 0o640
    compile(out.read_text(), str(out), "exec")


# ------------------------------------------------------------------------------------------------- layers


@functools.cache
def mcp_derivation():
    import symdual as sd

    return sd.catalog.get("mcp", a="1/2", lam="5/2")


def test_layer_file_builds_the_layer_with_the_rule(tmp_path, capsys, monkeypatch):
    """The file derives MCP(a=1/2, lam=5/2) itself (in the isolated run; here the same derivation, cached);
    keep probability q = eta_hat/(eta_hat + lam), eta_hat = b|w|/(b - |w|) up to b = a*lam = 5/4 (1 beyond)."""
    from symdual.export import layers

    monkeypatch.setattr(export_cli, "derivation", lambda args: mcp_derivation())
    out = tmp_path / "mcp_layer.py"
    assert main(["export", "--method", "mcp", "--param", "a=1/2", "--lam", "5/2", "--layer", "bernoulli",
                 "-o", str(out)]) == 0
    capsys.readouterr()
    done = run_isolated(out)
    assert done.returncode == 0, done.stderr[-2000:]
    mod = load(out, "mcp_layer_gen")
    assert "sd.catalog.get('mcp', a='1/2', lam='5/2')" in out.read_text()
    monkeypatch.setattr(mod, "derivation", mcp_derivation)
    layer = mod.Layer(4, 3)
    assert isinstance(layer, layers.AdaptiveDropoutLinear)
    w = torch.tensor([[0.0, 0.1, -0.3, 0.5], [-0.9, 1.2, 1.5, -4.0], [1e-8, -0.05, 0.75, -1.3]],
                     dtype=torch.float32)
    with torch.no_grad():
        layer.weight.copy_(w)

    def q(x):
        a, b = abs(mp.mpf(x)), mp.mpf(5) / 4
        if a >= b:
            return 1.0
        eta = b * a / (b - a)
        return float(eta / (eta + mp.mpf(5) / 2))

    want = torch.tensor([[q(x) for x in row] for row in w.tolist()])
    assert torch.allclose(layer.keep_prob(), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", list(export_cli.LAYERS))
def test_every_layer_name_writes_a_module_of_its_class(name, tmp_path, capsys, monkeypatch):
    from symdual.export import layers

    monkeypatch.setattr(export_cli, "derivation", lambda args: mcp_derivation())  # one derivation for all
    out = tmp_path / f"layer_{name.replace('-', '_')}.py"
    assert main(["export", "--method", "mcp", "--layer", name, "--class-name", "Net", "-o", str(out)]) == 0
    capsys.readouterr()
    mod = load(out, f"layer_gen_{name.replace('-', '_')}")
    monkeypatch.setattr(mod, "derivation", mcp_derivation)
    layer = mod.Net(3, 2)
    assert type(layer).__mro__[1] is getattr(layers, export_cli.LAYERS[name][0])
    assert layer.lam == 2.5
    y = layer(torch.randn(5, 3))
    assert y.shape == (5, 2) and bool(torch.isfinite(y).all())


# ------------------------------------------------------------------------------------------------- bad input


def bad_cases(tmp: Path) -> dict[str, list[str]]:
    folder = tmp / "folder.py"
    folder.mkdir()
    link = tmp / "link.py"
    link.symlink_to(tmp / "target.py")
    fifo = tmp / "fifo.py"
    os.mkfifo(fifo)
    ok = str(tmp / "out.py")
    return {
        "unknown method": ["--method", "nope", "-o", ok],
        "unknown parameter": ["--method", "logsum", "--param", "zz=1", "-o", ok],
        "parameter out of range": ["--method", "logsum", "--param", "eps=-1", "-o", ok],
        "non-separable": ["--method", "hardthresh", "-o", ok],
        "malformed rule": ["--eta-hat", "w*(", "-o", ok],
        "unknown symbol": ["--eta-hat", "w*x", "-o", ok],
        "method and rule": ["--method", "l1", "--eta-hat", "w", "-o", ok],
        "no rule": ["-o", ok],
        "no output": ["--method", "l1"],
        "empty output": ["--method", "l1", "-o", ""],
        "output is a folder": ["--method", "l1", "-o", str(folder)],
        "output is a link": ["--method", "l1", "-o", str(link)],
        "output is a pipe": ["--method", "l1", "-o", str(fifo)],
        "missing folder": ["--method", "l1", "-o", str(tmp / "nowhere" / "x.py")],
        "keyword class name": ["--method", "l1", "--class-name", "class", "-o", ok],
        "dunder class name": ["--method", "l1", "--class-name", "__init__", "-o", ok],
        "unknown layer": ["--method", "l1", "--layer", "dropconnect", "-o", ok],
        "layer class name taken": ["--method", "l1", "--layer", "bernoulli", "--class-name", "sd", "-o", ok],
    }


def test_bad_inputs_are_one_line_and_exit_2(tmp_path, capsys):
    cases = bad_cases(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    for label, args in cases.items():
        try:
            code = main(["export", *args])
        except SystemExit as exc:  # argparse
            code = exc.code
        captured = capsys.readouterr()
        assert code == 2, label
        assert captured.out == "", label
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("symdual"), (label, captured.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary file
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo.py").st_mode) and (tmp_path / "folder.py").is_dir()


def test_missing_torch_is_one_line_naming_the_extra(tmp_path):
    out = tmp_path / "x.py"
    code = ("import sys; sys.modules['torch'] = None\n"
            "from symdual.cli import main\n"
            f"raise SystemExit(main(['export', '--method', 'l1', '-o', {str(out)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == 'symdual: error: symdual export needs torch: pip install "symdual[torch]"\n'
    assert not out.exists()
