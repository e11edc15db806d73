"""The methods of the case study (LeJeune et al. 2021, Section 5), each a LeNet-300-100 of symdual layers.

Every method but VarDrop reads the LogSum rule derived by symdual, Omega(w) = log(|w| + eps) with eps = 2 and
eta_hat(w) = |w| (|w| + eps), at lam = 1e-3, through the exported torch functions and layers
(:mod:`symdual.export.layers`); VarDrop's KL is the exported dual of the catalog's ``vardrop_approx``
(:mod:`.vardrop`). The objective is mean cross-entropy + the layers' explicit penalty, except VarDrop's
N * mean cross-entropy + KL with N = 60,000 whatever the data (the paper's code multiplies by len(MNIST train) =
60,000 although it trains on 48,000): its implicit lam = 1/60,000 is kept fixed like the other methods' lam = 1e-3,
so that every method keeps the paper's regularisation strength per example on MNIST-5k too (1/N_train = 1/4,000
there prunes every weight within 20 epochs). A weight counts as zero when its keep
probability is below 0.05 (the same rule for every method: q = eta/(eta + lam), VarDrop's q = 1/(1 + alpha)).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import InputError
from ..export import layers as sdl

DIMS = (784, 300, 100, 10)
"""LeNet-300-100: 266,200 weights (biases neither penalised nor counted)."""
LAM, EPS, TOL = 1e-3, 2, 0.05
"""The paper's lam and LogSum eps, and the keep-probability threshold below which a weight is zero."""
VARDROP_N = 60_000
"""VarDrop's ELBO weight on the mean cross-entropy (the paper's code: the size of MNIST's training set)."""
TIKHONOV_MAX_RATIO = 999.0
"""AdaTikhonov caps r = lam/eta_hat at 999 (the paper's code clamps the keep probability at 1e-3)."""
DROPOUT, PENALTY = "Adaptive dropout", "Effective penalty and reweighting"


class LeNet(nn.Module):
    """Linear layers with ReLU between them, on flattened inputs."""

    def __init__(self, linears: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.linears = nn.ModuleList(linears)

    def forward(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        for layer in self.linears[:-1]:
            x = torch.relu(layer(x))
        return self.linears[-1](x)

    @torch.no_grad()
    def dense_logits(self, x: Tensor) -> Tensor:
        """The logits with every weight as trained (no mask, no noise): the unpruned network."""
        x = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.linears):
            x = nn.functional.linear(x, layer.weight, layer.bias)
            if i < len(self.linears) - 1:
                x = torch.relu(x)
        return x


@dataclass
class Context:
    """What the builders share: the LogSum derivation at lam, the VarDrop KL, the sizes (built once)."""

    lam: float = LAM
    eps: float = EPS
    tol: float = TOL
    dims: tuple[int, ...] = DIMS
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def logsum(self) -> Any:
        if "logsum" not in self._cache:
            from .. import catalog

            self._cache["logsum"] = catalog.get("logsum", eps=self.eps, lam=self.lam)
        return self._cache["logsum"]

    @property
    def kl(self) -> Callable[[Tensor], Tensor]:
        if "kl" not in self._cache:
            from .vardrop import vardrop_kl

            self._cache["kl"] = vardrop_kl()
        return self._cache["kl"]

    def net(self, layer: Callable[[int, int], nn.Linear]) -> LeNet:
        return LeNet([layer(i, o) for i, o in zip(self.dims[:-1], self.dims[1:], strict=True)])


def adam_steps(optimizer: torch.optim.Adam, weight: Tensor) -> Tensor:
    """Adam's per-coordinate step lr/(sqrt(v_hat) + eps) of ``weight`` after the optimiser's step."""
    group = next(g for g in optimizer.param_groups if any(p is weight for p in g["params"]))
    state = optimizer.state[weight]
    beta2 = group["betas"][1]
    v_hat = state["exp_avg_sq"] / (1 - beta2 ** float(state["step"]))
    return group["lr"] / (v_hat.sqrt() + group["eps"])


def reweighted_prox_(model: nn.Module, optimizer: torch.optim.Adam) -> None:
    """AdaProx after each Adam step: w <- w/(1 + step r) with Adam's per-coordinate step (the paper's code)."""
    for layer in sdl.adaptive_layers(model):
        if isinstance(layer, sdl.AdaptiveProxLinear):
            layer.prox_step_(adam_steps(optimizer, layer.weight))


@dataclass(frozen=True)
class Method:
    """One run of the case study: ``key`` (CSV/CLI name), math-text ``label``, legend ``group``, Adam's ``lr``,
    ``build(context) -> LeNet``, ``elbo`` (VarDrop's objective) or the penalised one, ``after_step`` (AdaProx),
    and the paper's (sparsity, validation accuracy) where it reports one."""

    key: str
    label: str
    group: str
    lr: float
    build: Callable[[Context], LeNet]
    description: str
    elbo: bool = False
    after_step: Callable[[nn.Module, torch.optim.Adam], None] | None = None
    paper: tuple[float, float] | None = None


def _vardrop(reparam: str) -> Callable[[Context], LeNet]:
    from .vardrop import VarDropLinear

    return lambda c: c.net(lambda i, o: VarDropLinear(i, o, c.kl, reparam=reparam, tol=c.tol))


def _layer(cls: type, **kwargs: Any) -> Callable[[Context], LeNet]:
    return lambda c: c.net(lambda i, o: cls(i, o, c.logsum, c.lam, tol=c.tol, **kwargs))


METHODS: tuple[Method, ...] = (
    Method("vardrop_lr_ar", r"$\mathrm{VarDrop{+}LR{+}AR}$", DROPOUT, 1e-4, _vardrop("additive"),
           "variational dropout, local + additive reparameterisation", elbo=True, paper=(0.976, 0.963)),
    Method("vardrop_lr", r"$\mathrm{VarDrop{+}LR}$", DROPOUT, 1e-3, _vardrop("local"),
           "variational dropout, local reparameterisation", elbo=True, paper=(0.912, 0.983)),
    Method("vardrop", r"$\mathrm{VarDrop}$", DROPOUT, 1e-3, _vardrop("none"),
           "variational dropout, one noisy weight matrix per batch", elbo=True, paper=(0.405, 0.984)),
    Method("bernoulli", r"$\mathrm{Adaptive\ Bernoulli}$", DROPOUT, 1e-3,
           _layer(sdl.AdaptiveDropoutLinear, mode="step"),
           "adaptive Bernoulli dropout, real masks W m/q, m ~ Bernoulli(q(w)), one per batch"),
    Method("gaussian", r"$\mathrm{Adaptive\ Gaussian}$", DROPOUT, 1e-3,
           _layer(sdl.GaussianDropoutLinear, mode="local"),
           "adaptive Gaussian dropout, variance r(w) = lam/eta_hat(w), local reparameterisation"),
    Method("logsum", r"$\mathrm{LogSum}$", PENALTY, 1e-4, _layer(sdl.PenalizedLinear),
           "the penalty lam sum log(|w| + 2), exported", paper=(0.981, 0.969)),
    Method("eta_trick", r"$\eta\text{-}\mathrm{trick}$", PENALTY, 1e-3, _layer(sdl.EtaTrickLinear),
           "eta-trick: trained log eta, lam/2 sum (w^2/eta + f(eta) - f(0))", paper=(0.949, 0.977)),
    Method("adaprox", r"$\mathrm{AdaProx}$", PENALTY, 1e-4, _layer(sdl.AdaptiveProxLinear, variant="reweighted"),
           "w <- w/(1 + step r) after each Adam step (Adam's per-coordinate step)", after_step=reweighted_prox_,
           paper=(0.972, 0.967)),
    Method("adatikhonov", r"$\mathrm{AdaTikhonov}$", PENALTY, 1e-4,
           _layer(sdl.AdaptiveTikhonovLinear, max_ratio=TIKHONOV_MAX_RATIO),
           "adaptive ridge 1/2 sum r w^2, r = lam/eta_hat refreshed every batch (capped at 999)",
           paper=(0.982, 0.969)),
)
"""The runs, in the order of the table and the plots."""
BY_KEY = {m.key: m for m in METHODS}


def select(keys: Sequence[str] | None) -> tuple[Method, ...]:
    """The methods named by ``keys`` (None: all), in :data:`METHODS` order; InputError naming the known ones."""
    if not keys:
        return METHODS
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        raise InputError(f"unknown case-study method {unknown[0]!r}; known: {', '.join(BY_KEY)}")
    return tuple(m for m in METHODS if m.key in set(keys))


def objective(method: Method, model: nn.Module, logits: Tensor, labels: Tensor) -> Tensor:
    """VarDrop: VARDROP_N * CE + sum KL; the others: CE + sum of the layers' explicit penalties (0 for dropout)."""
    ce = nn.functional.cross_entropy(logits, labels)
    if method.elbo:
        return VARDROP_N * ce + sum(layer.kl() for layer in model.linears)  # type: ignore[union-attr]
    return ce + sdl.penalty(model).to(ce.dtype)
