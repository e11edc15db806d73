"""Every documented derivation script runs and all of its own checks pass."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted(p for p in (Path(__file__).parents[1] / "derivations").glob("*.py") if not p.name.startswith("_"))


def test_one_script_per_catalog_method():
    import symdual as sd

    assert {p.stem for p in SCRIPTS} == set(sd.catalog.names())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_derivation_script(script):
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    m = re.search(r"Result: (\d+) of (\d+) checks passed\.", res.stdout)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) > 0
