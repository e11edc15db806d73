"""One budget bounds the whole derivation: rules that used to run for minutes return what was derived, with
a note naming what was cut (run in a child process with a generous wall-clock guard against a hang)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from symdual import deadline

MAX40 = "Max(" + ", ".join(f"w**{k}" for k in range(1, 41)) + ")"
PIECES18 = "Piecewise(" + ", ".join(f"(w*{k + 1}, (w > {k}) & (w < {k + 1}))" for k in range(18)) + ", (w, True))"


@pytest.mark.parametrize("rule", [MAX40, "w*hyper([1,1],[3/2,2],-w)", "(w+1)**3000", PIECES18],
                         ids=["max40", "hyper2f2", "power3000", "pieces18"])
def test_a_hard_rule_ends_within_its_budget(rule):
    """timeout=1: CAS deadline 4 s, in-process work 1 s more; the guard (120 s) only catches a hang."""
    out = subprocess.run([sys.executable, "-m", "symdual", "derive", "--eta-hat", rule, "--timeout", "1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "properties:" in out.stdout and "Traceback" not in out.stderr


def test_deadline_cuts_cooperatively():
    with deadline.within(-1):
        with pytest.raises(deadline.OutOfTime, match="the scan: cut by the time budget"):
            deadline.check("the scan")
    deadline.check("no deadline outside")  # no deadline set: never raises
    with deadline.within(100), deadline.within(-1):  # the tighter deadline wins
        assert deadline.remaining() < 0
