"""The record of a non-separable penalty Omega(w), w a vector (HardThresh, ARD).

Such a penalty is no function of a scalar w, so it does not fit
:class:`symdual.Derivation`; its record carries the same kind of
information: the rule, eta_hat and Omega as text, callables for vectors,
verdicts with details, provenance and notes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..derivation import Provenance
from ..properties import Verdict


@dataclass
class VectorPenalty:
    """A non-separable eta-trick penalty: Omega(w) = 1/2 inf_eta [sum_j w_j**2/eta_j + f(eta)]."""

    name: str
    title: str
    rule_text: str
    eta_hat_text: str
    omega_text: str
    f_text: str
    omega: Callable[[np.ndarray], float]
    eta_hat: Callable[[np.ndarray], np.ndarray]
    f_dual: Callable[[np.ndarray], float]
    params: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Verdict] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    latex: dict[str, str] = field(default_factory=dict)
    """LaTeX of the rule, eta_hat and Omega (keys "rule", "eta_hat", "omega")."""

    separable = False

    def evaluate(self, piece: str, w: object) -> np.ndarray:
        """'omega' or 'eta_hat' for one vector w (1-D) or a stack of them (last axis), float64."""
        fn = {"omega": self.omega, "eta_hat": self.eta_hat}.get(piece)
        if fn is None:
            from ..errors import InputError

            raise InputError(f"unknown piece {piece!r} of the non-separable {self.name}; expected omega or eta_hat")
        a = np.asarray(w, dtype=np.float64)
        if a.ndim == 1:
            return np.asarray(fn(a), dtype=np.float64)
        flat = a.reshape(-1, a.shape[-1])
        out = [np.asarray(fn(v), dtype=np.float64) for v in flat]
        return np.asarray(out).reshape(a.shape[:-1] + np.shape(out[0]))

    def title_text(self) -> str:
        return self.title

    def __str__(self) -> str:
        lines = [f"symdual non-separable penalty: {self.title}", "",
                 f"rule:       {self.rule_text}", f"eta_hat:    {self.eta_hat_text}",
                 f"f(eta):     {self.f_text}", f"Omega(w):   {self.omega_text}"]
        for key, text in self.series.items():
            lines.append(f"{key}: {text}")
        for piece, prov in self.provenance.items():
            lines.append(f"    [{piece}: {prov}]")
        lines += ["", "properties:"]
        for k, v in self.properties.items():
            lines.append(f"  {k:<13} {v.status:<10} {v.detail}")
        if self.notes:
            lines += ["", "notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)
