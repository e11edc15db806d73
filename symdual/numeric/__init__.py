"""Fast, exact numerics for eta-trick penalties without a closed form.

float64 (vectorised) and mpmath (any precision) evaluation of Omega,
eta_hat and Omega' from a dual f: :class:`EtaTrickNumeric`; the variational
dropout duals (exact and approximate KL) and HardConcrete.
"""
from .duals import from_dual, from_parametric, from_sympy_dual
from .eta_trick import CriticalPoint, DualCurve, EtaTrickNumeric, Evaluation
from .gates import HardConcrete, hardconcrete
from .vardrop import vardrop_approx, vardrop_exact

__all__ = [
    "CriticalPoint",
    "DualCurve",
    "EtaTrickNumeric",
    "Evaluation",
    "HardConcrete",
    "from_dual",
    "from_parametric",
    "from_sympy_dual",
    "hardconcrete",
    "vardrop_approx",
    "vardrop_exact",
]
