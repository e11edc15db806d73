"""A derived penalty with skglm's verbs, vectorised over NumPy arrays, for coordinate-descent solvers.

    value(w)      = lam * sum_j Omega(|w_j|)                      (Omega(0) = 0)
    derivative(w) = lam * sign(w) * Omega'(|w|)                   (0 at w = 0)
    prox_1d(z, step) = argmin_u 1/2 (u - z)**2 + step * lam * Omega(|u|)

``lam`` multiplies the derivation's Omega; the shape of Omega stays the derivation's (a catalog entry
whose shape depends on lam, like MCP's b = a*lam, is derived with that lam: ``catalog.get("mcp", lam=...)``).
"""
from __future__ import annotations

import math

import numpy as np

from .errors import InputError
from .prox import lam_of, prox
from .record import real_array

Array = np.ndarray


class Penalty:
    """lam * Omega of a separable derivation (catalog entry or derived rule, any evaluator kind).

    Pro: one class for every derivation; closed forms, quadratures and eta-trick solvers alike, through
    ``d.evaluate``. Contra: a non-separable penalty (HardThresh, ARD) has no such verbs: InputError.
    """

    def __init__(self, derivation: object, lam: object = None) -> None:
        if not getattr(derivation, "separable", True):
            raise InputError(f"{getattr(derivation, 'name', 'this penalty')} is non-separable: Penalty needs a "
                             "penalty that is a sum over coordinates")
        missing = [p for p in ("omega", "omega_prime", "eta_hat") if not derivation.can_evaluate(p)]
        if missing:
            raise InputError(f"Penalty needs evaluators of omega, omega_prime and eta_hat; missing: "
                             f"{', '.join(missing)}")
        self.derivation = derivation
        self.lam = float(lam_of(derivation, lam))
        self._omega_prime_0 = float(derivation.evaluate("omega_prime", 0.0))

    def __repr__(self) -> str:
        return f"Penalty({self.derivation.title()}, lam={self.lam!r})"

    def value_elementwise(self, w: object) -> Array | np.float64:
        """lam * Omega(|w_j|) for each j (scalar in, scalar out)."""
        return self.lam * self.derivation.evaluate("omega", np.abs(real_array(w)))

    def value(self, w: object) -> float:
        """lam * sum_j Omega(|w_j|), the penalty of the vector w (skglm's ``value`` is the sum)."""
        return float(np.sum(self.value_elementwise(w)))

    def derivative(self, w: object) -> Array | np.float64:
        """lam * sign(w) * Omega'(|w|), the derivative of lam * Omega(|w|) in w (odd in w).

        At w = 0 it is 0: the derivative where Omega'(0+) = 0, the least-norm subgradient at a kink."""
        a = real_array(w)
        slope = self.derivation.evaluate("omega_prime", np.abs(a))
        with np.errstate(invalid="ignore"):
            out = np.where(a == 0, 0.0, self.lam * np.sign(a) * slope)
        return out[()] if np.ndim(out) == 0 else out

    def eta_hat(self, w: object) -> Array | np.float64:
        """eta_hat(|w|), the minimising eta of the eta-trick (the IRLS weight), elementwise."""
        return self.derivation.evaluate("eta_hat", np.abs(real_array(w)))

    def prox_1d(self, value: float, stepsize: float, j: int = 0) -> float:
        """argmin_u 1/2 (u - value)**2 + stepsize * lam * Omega(|u|) (``j``, the coordinate, is unused)."""
        return float(prox(self.derivation, value, stepsize, lam=self.lam))

    def prox(self, z: object, stepsize: object) -> Array | np.float64:
        """The same prox elementwise over arrays (z and stepsize broadcast)."""
        return prox(self.derivation, z, stepsize, lam=self.lam)

    def subdiff_distance(self, w: object, grad: object, ws: object) -> Array:
        """For each j in ws, the distance of -grad_j to the subdifferential of lam*Omega(|.|) at w_j:

        w_j = 0, a kink (Omega'(0+) > 0): max(0, |grad_j| - lam*Omega'(0+)) (0 when Omega'(0+) = oo);
        otherwise |grad_j + lam*sign(w_j)*Omega'(|w_j|)|."""
        w_a, g_a = real_array(w).reshape(-1), real_array(grad).reshape(-1)
        idx = np.asarray(ws, dtype=np.intp).reshape(-1)
        if w_a.shape != g_a.shape:
            raise InputError(f"w and grad must have the same length, got {w_a.size} and {g_a.size}")
        wj, gj = w_a[idx], g_a[idx]
        smooth = np.abs(gj + self.derivative(wj))
        if self._omega_prime_0 > 0:
            kink = np.maximum(0.0, np.abs(gj) - self.lam * self._omega_prime_0)
            return np.where(wj == 0, kink, smooth)
        return smooth

    def is_penalized(self, n_features: int) -> Array:
        """Every coordinate is penalised."""
        return np.ones(int(n_features), dtype=np.bool_)

    def generalized_support(self, w: object) -> Array:
        """w != 0: where the penalty is differentiable for a kink at 0 (skglm's generalized support)."""
        return real_array(w) != 0

    def params_to_dict(self) -> dict:
        """lam and the derivation's parameters as floats."""
        return {"lam": self.lam, **{k: float(v) for k, v in self.derivation.params.items()
                                     if math.isfinite(float(v))}}
