"""Fast, exact numerics for eta-trick penalties without a closed form.

float64 (vectorised) and mpmath (any precision) evaluation of Omega,
eta_hat and Omega' from a dual f: :class:`EtaTrickNumeric`; the variational
dropout duals (exact and approximate KL) and HardConcrete. The names below
are imported on first use, so that ``symdual.numeric.evaluators`` (needed by
every derivation) does not load the engines and scipy.
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "from_dual": "duals", "from_parametric": "duals", "from_sympy_dual": "duals",
    "CriticalPoint": "eta_trick", "DualCurve": "eta_trick", "EtaTrickNumeric": "eta_trick", "Evaluation": "eta_trick",
    "HardConcrete": "gates", "hardconcrete": "gates",
    "vardrop_approx": "vardrop", "vardrop_exact": "vardrop",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'symdual.numeric' has no attribute {name!r}")
