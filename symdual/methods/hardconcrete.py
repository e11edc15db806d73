"""HardConcrete "L0 regularisation" (Louizos, Welling & Kingma 2018) as a parametric eta-trick dual.

Gate s = clip(sigmoid((L + log a)/beta) (zeta - gamma) + gamma, 0, 1), L ~ Logistic(0, 1)
(L = log u - log(1 - u), u ~ U(0, 1)).  With t = L + log a, s = 0 below
t0 = beta log(-gamma/zeta) and s = 1 above t1 = beta log((1 - gamma)/(zeta - 1)).

Dual, parametric in a (docs/catalog.md): f(a) = P(s > 0) = sigmoid(log a - t0),
eta(a) = 1/(lam r(a)), r = E[s**2]/E[s]**2 - 1.  The moments are integrals
between the clip breakpoints, computed exactly (never sampled) by
:class:`symdual.numeric.gates.HardConcrete`, and the eta-trick by
:func:`symdual.numeric.gates.hardconcrete`.

What this module adds to the engine (exactly, or to the stated precision):

* Omega <= f(oo)/2 = 1/2 for every w (let eta -> oo in the infimum): bounded, Omega(oo) = 1/2;
  beyond the critical |w| the infimum is reached only as eta -> oo (eta_hat jumps to oo).
* As a -> 0, given s > 0, t - t0 ~ Exp(1); so P r -> m2/m1**2 with
  m_k = int_0^oo e**(-x) s(t0 + x)**k dx, f ~ c eta with c = lam m2/m1**2, and
  Omega(w) = Omega(0) + sqrt(c) w + O(w**2) at 0+.
"""
from __future__ import annotations

import math

import mpmath
import sympy as sp

from ..record import Provenance, Supplement
from ..rules import w


def breakpoints(beta: object, gamma: object, zeta: object) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(t0, t1): s = 0 for t = L + log a <= t0, s = 1 for t >= t1 (mpmath)."""
    b, g, z = (mpmath.mpf(v) for v in (beta, gamma, zeta))
    return b * mpmath.log(-g / z), b * mpmath.log((1 - g) / (z - 1))


def small_a_limit(beta: object, gamma: object, zeta: object, dps: int = 30) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(m1, m2) = (E[s], E[s**2]) given s > 0 in the limit a -> 0, where t - t0 ~ Exp(1) (mpmath)."""
    with mpmath.workdps(dps):
        b, g, z = (mpmath.mpf(v) for v in (beta, gamma, zeta))
        t0, t1 = breakpoints(beta, gamma, zeta)
        gate = lambda x: mpmath.sigmoid((t0 + x) / b) * (z - g) + g  # noqa: E731
        tail = mpmath.exp(-(t1 - t0))  # s = 1 beyond t1
        m1 = mpmath.quad(lambda x: gate(x) * mpmath.exp(-x), [0, t1 - t0]) + tail
        m2 = mpmath.quad(lambda x: gate(x) ** 2 * mpmath.exp(-x), [0, t1 - t0]) + tail
        return +m1, +m2


def slope_at_zero(beta: object, gamma: object, zeta: object, lam: object, dps: int = 30) -> mpmath.mpf:
    """Omega'(0+) = sqrt(c), c = lim f/eta = lam m2/m1**2 (a -> 0)."""
    with mpmath.workdps(dps):
        m1, m2 = small_a_limit(beta, gamma, zeta, dps)
        return mpmath.sqrt(mpmath.mpf(sp.N(lam, dps + 5)) * m2 / m1**2)


def engine(values: dict):
    """The numeric eta-trick engine of the gate at these parameters."""
    from ..numeric import hardconcrete

    beta, gamma, zeta, lam = (values[k] for k in ("beta", "gamma", "zeta", "lam"))
    return hardconcrete(float(beta), float(gamma), float(zeta), float(lam))


def series(values: dict, engine: object) -> Supplement:
    """Omega'(0+) from the a -> 0 limit, Omega(oo) = 1/2 exactly, and the critical |w| of the engine."""
    beta, gamma, zeta, lam = (values[k] for k in ("beta", "gamma", "zeta", "lam"))
    slope = sp.Float(mpmath.nstr(slope_at_zero(beta, gamma, zeta, lam), 20), 20)
    limits: dict = {"omega@oo": sp.Rational(1, 2)}
    notes = []
    wc = getattr(engine, "w_critical", None)
    if wc is not None and math.isfinite(wc):
        limits["w_critical"] = sp.Float(mpmath.nstr(mpmath.mpf(wc), 17), 17)
        notes.append(f"critical |w| = {mpmath.nstr(mpmath.mpf(wc), 12)} (mpmath): beyond it the infimum is reached "
                     "only as eta -> oo, so eta_hat jumps to oo and Omega' drops to 0 (Omega = 1/2 there)")
    notes.append("Omega <= f(oo)/2 = 1/2 for every w (take eta -> oo in the infimum): bounded, exactly.")
    return Supplement(
        series={"omega@0": slope * w + sp.Order(w**2, (w, 0)), "omega@oo": sp.Rational(1, 2),
                "eta_hat@0": w / slope + sp.Order(w**2, (w, 0)), "eta_hat@oo": sp.oo},
        limits=limits, notes=tuple(notes),
        provenance=Provenance(
            "supplied", "Omega'(0+) = sqrt(lam m2/m1**2) from the a -> 0 limit of the gate (t - t0 ~ Exp(1), "
            "tanh-sinh quadrature), eta_hat = w/Omega'(0+) + O(w**2); Omega = f(oo)/2 = 1/2 and eta_hat = oo beyond "
            "the critical |w| (exact)", "20 digits (mpmath, 30 digits)"))
