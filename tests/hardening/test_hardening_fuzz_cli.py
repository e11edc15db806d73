"""CLI fuzz: random rule texts (valid, hostile and broken) through ``symdual derive`` end with exit 0 or 2,
one line on stderr for 2, never a traceback, and leave no child process behind."""
from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symdual.cli import main

ATOMS = ["gamma(gamma(gamma(w)))", "w", "2", "1/3", "lam", "k", "-1", "0", "oo", "pi", "1e300",
         "__import__('os')", "w.__class__", "''"]
FUNCS = ["exp", "log", "sqrt", "sigmoid", "tanh", "erf", "gamma", "Abs", "sin", "hyper", "eval", "open", "Min"]
OPS = ["+", "-", "*", "/", "**"]


@st.composite
def rule_text(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(ATOMS))
    if draw(st.booleans()):
        return f"{draw(st.sampled_from(FUNCS))}({draw(rule_text(depth - 1))})"
    return f"({draw(rule_text(depth - 1))}{draw(st.sampled_from(OPS))}{draw(rule_text(depth - 1))})"


def _children() -> set[int]:
    """Live (non-zombie) child processes of this process."""
    out = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                out.add(int(pid))
    return out


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=rule_text(), option=st.sampled_from(["--eta-hat", "--keep-prob", "--penalty", "--dual"]),
       extra=st.sampled_from([[], ["--param", "k=2"], ["--lam", "0"], ["--param", "k=1e300"]]))
def test_cli_ends_with_0_or_one_line_and_2(text, option, extra, capsys):
    before = _children()
    code = main(["derive", option, text.replace("w", "eta") if option == "--dual" else text, "--timeout", "1",
                 *extra])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("symdual: error: "), err
    assert _children() <= before
