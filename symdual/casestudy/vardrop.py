"""Sparse variational dropout (Kingma et al. 2015; Molchanov et al. 2017) as an ``nn.Linear``, with its KL term
taken from symdual: the dual of the catalog's ``vardrop_approx`` at lam = 1 is f(eta) = 2 KL(alpha = 1/eta),

    KL(alpha) = k1 sigmoid(k3 log(1/alpha) - k2) + 1/2 log(1 + 1/alpha),   k = (0.63576, 1.87320, 1.48695)

(Molchanov's approximation, shifted so that KL -> 0 as alpha -> oo), exported to torch by
:func:`symdual.export.torch.f_dual_fn`. The noise is multiplicative Gaussian with variance alpha per weight, so the
keep probability of the eta-trick reading is q = eta/(eta + 1) = 1/(1 + alpha) and a weight counts as zero when
q < tol, i.e. log alpha > log((1 - tol)/tol) (log 19 at the paper's 0.05).

Three parameterisations, as in the paper's code (after the SparseVD seminar of the Bayesian methods group):

- ``"additive"`` (VarDrop + LR + AR): parameters W and log sigma, sigma**2 = alpha W**2 the additive noise
  variance, log alpha = 2 log sigma - 2 log|W| clamped to [-10, 10]; local reparameterisation;
- ``"local"`` (VarDrop + LR): parameters W and log alpha; local reparameterisation, output
  N(W x + b, (alpha W**2) x**2) with log(alpha W**2) clamped to [-20, 20];
- ``"none"`` (VarDrop): parameters W and log alpha; one noisy weight matrix W (1 + sqrt(alpha) xi) per batch.

Weights start at N(0, 0.02**2), biases at 0, log sigma (additive) or log alpha at -5.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError

REPARAMETERISATIONS = ("additive", "local", "none")
INIT_STD, INIT_LOG = 0.02, -5.0
LOG_ALPHA_CLAMP = 10.0
"""log alpha is clamped to [-10, 10] in the additive parameterisation (the paper's code)."""


def vardrop_kl() -> Callable[[Tensor], Tensor]:
    """log alpha -> KL(alpha) elementwise, from the exported dual of the catalog's ``vardrop_approx`` (lam = 1):
    KL = f(eta)/2 at eta = 1/alpha = exp(-log alpha)."""
    from .. import catalog
    from ..export import torch as sdt

    f_dual = sdt.f_dual_fn(catalog.get("vardrop_approx", lam=1))
    return lambda log_alpha: 0.5 * f_dual(torch.exp(-log_alpha))


class VarDropLinear(nn.Linear):
    """A linear layer with sparse variational dropout (see the module docstring); ``kl()`` is its KL term summed
    over the weights, ``keep_mask()`` the weights kept at evaluation (log alpha <= log((1 - tol)/tol)), and the
    eval forward uses W with the others set to 0."""

    def __init__(self, in_features: int, out_features: int, kl: Callable[[Tensor], Tensor], *,
                 reparam: str = "additive", tol: float = 0.05, device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, device=device, dtype=dtype)
        if reparam not in REPARAMETERISATIONS:
            raise InputError(f"reparam must be one of {', '.join(REPARAMETERISATIONS)}, got {reparam!r}")
        if not 0 < tol < 1:
            raise InputError(f"tol must lie in (0, 1), got {tol!r}")
        self.reparam, self.tol, self._kl = reparam, float(tol), kl
        self.threshold = math.log((1 - self.tol) / self.tol)
        with torch.no_grad():
            self.weight.normal_(0.0, INIT_STD)
            self.bias.zero_()
        name = "log_sigma" if reparam == "additive" else "log_alpha_"
        setattr(self, name, nn.Parameter(torch.full_like(self.weight, INIT_LOG)))

    def log_alpha(self) -> Tensor:
        """log alpha per weight (with gradient)."""
        if self.reparam == "additive":
            raw = 2 * self.log_sigma - 2 * torch.log(1e-16 + self.weight.abs())
            return raw.clamp(-LOG_ALPHA_CLAMP, LOG_ALPHA_CLAMP)
        return self.log_alpha_

    def keep_prob(self) -> Tensor:
        """q = 1/(1 + alpha) = sigmoid(-log alpha), detached."""
        with torch.no_grad():
            return torch.sigmoid(-self.log_alpha())

    def keep_mask(self) -> Tensor:
        """The weights that count as nonzero: log alpha <= log((1 - tol)/tol), i.e. q >= tol."""
        with torch.no_grad():
            return self.log_alpha() <= self.threshold

    def pruned_weight(self) -> Tensor:
        return torch.where(self.keep_mask(), self.weight, torch.zeros((), dtype=self.weight.dtype))

    def kl(self) -> Tensor:
        """sum over the weights of KL(alpha)."""
        return self._kl(self.log_alpha()).sum()

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return F.linear(x, self.pruned_weight(), self.bias)
        if self.reparam == "none":
            noise = 1 + torch.randn_like(self.weight) * torch.exp(self.log_alpha_ / 2)
            return F.linear(x, self.weight * noise, self.bias)
        if self.reparam == "additive":
            variance = torch.exp(2 * self.log_sigma)
        else:
            variance = torch.exp((self.log_alpha_ + 2 * torch.log(1e-16 + self.weight.abs())).clamp(-20, 20))
        mean = F.linear(x, self.weight, self.bias)
        std = torch.sqrt(F.linear(x * x, variance) + 1e-8)
        return mean + std * torch.randn_like(mean)

    @torch.no_grad()
    def prune_(self) -> VarDropLinear:
        """Write exact zeros where q < tol."""
        self.weight.copy_(self.pruned_weight())
        return self

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reparam={self.reparam}, tol={self.tol:g}"
