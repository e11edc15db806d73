"""Every constant of the methods, in one place, as exact decimal strings (convert as needed:
``float``, ``mpmath.mpf`` or ``sympy.Rational``)."""
from __future__ import annotations

MOLCHANOV_K = ("0.63576", "1.87320", "1.48695")
"""(k1, k2, k3) of Molchanov, Ashukha & Vetrov (2017), eq. (14):
-KL(alpha) ~ k1 sigmoid(k2 + k3 log alpha) - log(1 + 1/alpha)/2 - k1."""

HARD_CONCRETE = {"beta": "2/3", "gamma": "-1/10", "zeta": "11/10"}
"""Temperature and stretch of the HardConcrete gate (Louizos, Welling & Kingma 2018)."""
