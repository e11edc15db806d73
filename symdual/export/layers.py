"""The training modes of LeJeune et al. (2021) as ``nn.Linear`` layers driven by a derived rule.

Each layer reads the rule through eta_hat(w) (the IRLS weight) and the layer's ``lam``::

    r = lam/eta_hat,   p = lam/(lam + eta_hat),   q = 1/(1 + r) = eta_hat/(eta_hat + lam),

which stay finite at eta_hat = 0 (r = oo, p = 1, q = 0) and eta_hat = oo (r = 0, p = 0, q = 1). The adaptive
state is always computed from the *detached* weight (in float32 for float16/bfloat16 weights), so its
gradient is the eta-trick's: each mode has, in expectation, the gradient of
``loss + 1/2 sum_j r_j w_j**2`` with r frozen, whose fixed points are the stationary points of
``loss + lam * sum_j Omega(w_j)`` (Omega'(w) = w/eta_hat(w)).

- :class:`PenalizedLinear`: the effective penalty itself, ``penalty() = lam sum (Omega(w) - Omega(0))`` (the
  exported penalty module; a Derivation with a torch Omega is needed);
- :class:`AdaptiveDropoutLinear`: inverted Bernoulli masks W * m/q, m ~ Bernoulli(q(w)), a fresh mask every
  forward: one per step (``mode="step"``) or one per example (``"example"``);
- :class:`GaussianDropoutLinear`: W * (1 + sigma xi), sigma**2 = r, xi ~ N(0, 1) shared by the batch
  (``"shared"``), or the local reparameterisation (``"local"``): output N(W x + b, (sigma**2 W**2) x**2),
  one draw per example and output;
- :class:`AdaptiveTikhonovLinear`: stores r (capped at ``max_ratio``), refreshed at each training forward;
  ``penalty() = 1/2 sum r w**2``;
- :class:`AdaptiveProxLinear`: ``prox_step_(step)`` after the optimiser's step: w <- prox of step*lam*Omega
  (``"prox"``), or the one-step reweighted ridge w <- w/(1 + step r) (``"reweighted"``);
- :class:`EtaTrickLinear`: a parameter log eta per weight, ``penalty() = lam/2 sum (w**2/eta + f(eta) - f(0))``.

One sparsity definition for all of them: a weight counts as zero when its keep probability
q = eta_hat/(eta_hat + lam) is below ``tol`` (default 0.05; for :class:`EtaTrickLinear` the eta parameter
takes eta_hat's place). ``model.eval()`` applies it: the forward uses W with those weights set to 0 (and no
noise), :func:`sparsity` counts them (biases are not counted) and :func:`prune_` writes the zeros.

State dict: every layer is an ``nn.Linear``; its derived state (r, masks, lam) is not persistent, so
``layer.state_dict()`` holds ``weight`` and ``bias`` only, except :class:`EtaTrickLinear`, whose trained
``log_eta`` is kept until :func:`prune_` turns it into a non-persistent buffer. After ``prune_(model)``
each layer's state dict loads into a plain ``nn.Linear`` with ``strict=True``, and the model's into the
same architecture built with ``nn.Linear``, giving the outputs of the eval mode.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symdual.errors import InputError
from symdual.export import torch as sdt
from symdual.export.pruning import prune_, sparsity
from symdual.record import Derivation

__all__ = ["MAX_RATIO", "TOL", "AdaptiveDropoutLinear", "AdaptiveProxLinear", "AdaptiveTikhonovLinear",
           "EtaTrickLinear", "GaussianDropoutLinear", "PenalizedLinear", "TorchRule", "adaptive_layers", "penalty",
           "prox_step_", "prune_", "sparsity", "torch_rule"]

TOL = 0.05
"""Default sparsity tolerance on the keep probability q (the paper's 0.05, i.e. r > 19)."""
MAX_RATIO = 1e6
"""Default cap on r = sigma**2 = lam/eta_hat for Gaussian noise and the Tikhonov weights (r = oo at
eta_hat = 0): a keep probability of 1e-6, far below any sparsity tolerance."""

Step = float | Tensor


@dataclass(frozen=True)
class TorchRule:
    """A rule as torch functions of the weight: ``eta_hat(w)`` (even, elementwise), optionally the dual
    ``f_dual(eta)`` with its limit ``f_zero = f(0+)``, and ``prox(z, step)``, the prox of
    ``step * prox_lam * Omega``. :func:`torch_rule` builds one from a :class:`~symdual.record.Derivation`."""

    eta_hat: Callable[[Tensor], Tensor]
    f_dual: Callable[[Tensor], Tensor] | None = None
    f_zero: float = 0.0
    prox: Callable[[Tensor, Step], Tensor] | None = None
    prox_lam: float = 1.0
    name: str = "rule"


Rule = Derivation | TorchRule | Callable[[Tensor], Tensor]


def torch_rule(rule: Rule, *, dual: bool = False, prox: bool = False) -> TorchRule:
    """The rule's torch functions: from a Derivation through ``symdual.export.torch`` (the dual, with
    f(0+) read at eta = 1e-300, and the prox only when asked for), or a bare callable taken as eta_hat.
    The eta_hat of a Derivation is the one derived at its lam: derive at the lam you train with."""
    if isinstance(rule, TorchRule):
        return rule
    if getattr(rule, "separable", True) is False:
        name = getattr(rule, "name", "this penalty")
        raise InputError(f"{name} is not separable: the layers need an elementwise eta_hat")
    if isinstance(rule, Derivation):
        if not rule.can_evaluate("eta_hat"):
            raise InputError(f"{rule.title()} has no eta_hat to train with")
        f_dual = sdt.f_dual_fn(rule) if dual else None
        f_zero = float(rule.evaluate("f_dual", 1e-300)) if dual else 0.0  # f(0+), f nondecreasing
        if not math.isfinite(f_zero):
            raise InputError(f"the dual f of {rule.title()} has no finite limit at eta = 0+")
        return TorchRule(eta_hat=sdt.eta_hat_fn(rule), f_dual=f_dual, f_zero=f_zero,
                         prox=sdt.prox_fn(rule) if prox else None, prox_lam=float(rule.lam), name=rule.title())
    if callable(rule):
        return TorchRule(eta_hat=rule, name=getattr(rule, "__name__", "rule"))
    raise InputError(f"a rule must be a Derivation, a TorchRule or a callable eta_hat, not {type(rule).__name__}")


def _positive(name: str, value: object, finite: bool = True) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number > 0, got {value!r}") from None
    if not x > 0 or (finite and not math.isfinite(x)):
        raise InputError(f"{name} must be a {'finite ' if finite else ''}number > 0, got {value!r}")
    return x


def _choice(name: str, value: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InputError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def _compute_dtype(t: Tensor) -> torch.dtype:
    """float32 for half tensors (their range cannot hold r or eta_hat), else the tensor's dtype."""
    return torch.float32 if t.dtype in (torch.float16, torch.bfloat16) else t.dtype


class _AdaptiveLinear(nn.Linear):
    """``nn.Linear`` with a rule's adaptive state read from the detached weight; eval applies the sparsity."""

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None = None, *,
                 bias: bool = True, tol: float = TOL, device=None, dtype=None, **needs: bool) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.rule = torch_rule(rule, **needs)
        default = float(rule.lam) if isinstance(rule, Derivation) else None
        if lam is None and default is None:
            raise InputError("lam is required when the rule is not a Derivation")
        self.lam = _positive("lam", default if lam is None else lam)
        self.tol = _positive("tol", tol)
        if self.tol >= 1:
            raise InputError(f"tol must lie in (0, 1), got {tol!r}")

    def eta_hat(self) -> Tensor:
        """eta_hat(|w|) of the detached weight, in float32 for half weights."""
        with torch.no_grad():
            w = self.weight.detach()
            return self.rule.eta_hat(w.abs().to(_compute_dtype(w)))

    def ratio(self) -> Tensor:
        """r = lam/eta_hat in [0, oo] (clamped at 0: near a pole eta_hat -> oo, rounding can leave eta_hat
        huge and negative, e.g. w/(1 - sqrt(2) w) at w = 2**-0.5 in float64)."""
        return (self.lam / self.eta_hat()).clamp(min=0)

    def drop_rate(self) -> Tensor:
        """p = lam/(lam + eta_hat) in [0, 1] (clamped, as r)."""
        return (self.lam / (self.lam + self.eta_hat())).clamp(0, 1)

    def keep_prob(self) -> Tensor:
        """q = 1/(1 + lam/eta_hat) = eta_hat/(eta_hat + lam) in [0, 1] (finite at eta_hat = oo)."""
        return 1 / (1 + self.ratio())

    def keep_mask(self) -> Tensor:
        """The weights that count as nonzero: q >= tol."""
        return self.keep_prob() >= self.tol

    def pruned_weight(self) -> Tensor:
        """W with the weights below the tolerance set to +0 (what the eval mode and :func:`prune_` use)."""
        return torch.where(self.keep_mask(), self.weight, torch.zeros((), dtype=self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return F.linear(x, self.pruned_weight(), self.bias)
        return self.train_forward(x)

    def train_forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def penalty(self) -> Tensor:
        """The explicit penalty this layer adds to the loss (none: 0)."""
        return self.weight.new_zeros((), dtype=_compute_dtype(self.weight))

    @torch.no_grad()
    def prune_(self) -> _AdaptiveLinear:
        """Write exact zeros where q < tol; the state dict is then nn.Linear's."""
        self.weight.copy_(self.pruned_weight())
        return self

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rule={self.rule.name}, lam={self.lam:g}, tol={self.tol:g}"


class PenalizedLinear(_AdaptiveLinear):
    """``nn.Linear`` trained with the effective penalty: ``penalty() = lam sum_j (Omega(w_j) - Omega(0))`` through
    :func:`symdual.export.torch.penalty_module` (gradient lam Omega'(w) = lam w/eta_hat(w)); no noise. The rule must
    be a Derivation; sparsity and eval as for every layer here (q = eta_hat/(eta_hat + lam) < tol is zero)."""

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None = None, *,
                 bias: bool = True, tol: float = TOL, device=None, dtype=None) -> None:
        if not isinstance(rule, Derivation):
            raise InputError("PenalizedLinear needs a Derivation (its Omega is exported to torch)")
        super().__init__(in_features, out_features, rule, lam, bias=bias, tol=tol, device=device, dtype=dtype)
        module = sdt.penalty_module(rule, self.lam)
        self._omega_sum = module.forward  # a bound method: not a submodule, so the state dict stays nn.Linear's

    def penalty(self) -> Tensor:
        return self._omega_sum(self.weight)


def _inverse_keep(m: Tensor, q: Tensor) -> Tensor:
    """m/q with 0 where m = 0 (also at q = 0, where m is always 0), never 0/0."""
    kept = m > 0
    return torch.where(kept, 1 / torch.where(kept, q, torch.ones((), dtype=q.dtype)), torch.zeros((), dtype=q.dtype))


class AdaptiveDropoutLinear(_AdaptiveLinear):
    """Adaptive Bernoulli dropout of the weights: W * m/q, m ~ Bernoulli(q(w)), redrawn at every forward.

    ``mode="step"``: one mask per forward (per optimiser step); ``"example"``: one mask per example,
    ``y_b = (W * m_b/q) x_b + b`` (memory batch * out * in). Unbiased: E[m/q] = 1; for the square loss
    E 1/2 ||y - X (m*w/q)||**2 = 1/2 ||y - X w||**2 + 1/2 sum_j r_j ||x_j||**2 w_j**2 (r = p/q = lam/eta_hat).
    """

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None = None, *,
                 mode: str = "step", bias: bool = True, tol: float = TOL, device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, rule, lam, bias=bias, tol=tol, device=device, dtype=dtype)
        self.mode = _choice("mode", mode, ("step", "example"))

    def sample_scale(self, batch: int | None = None) -> Tensor:
        """m/q for one mask (shape of W), or ``batch`` masks (batch, out, in); float32 for half weights."""
        q = self.keep_prob()
        m = torch.bernoulli(q if batch is None else q.expand(batch, *q.shape))
        return _inverse_keep(m, q)

    def train_forward(self, x: Tensor) -> Tensor:
        w = self.weight.to(_compute_dtype(self.weight))
        if self.mode == "step":
            return F.linear(x, (w * self.sample_scale()).to(self.weight.dtype), self.bias)
        xb = x.reshape(-1, self.in_features)
        y = torch.einsum("bi,boi->bo", xb, (w * self.sample_scale(xb.shape[0])).to(self.weight.dtype))
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}"


class GaussianDropoutLinear(_AdaptiveLinear):
    """Multiplicative Gaussian noise with sigma**2 = r = lam/eta_hat (capped at ``max_ratio``).

    ``mode="shared"``: W * (1 + sigma xi), one xi ~ N(0, 1) per weight for the whole batch;
    ``"local"`` (local reparameterisation): y ~ N(W x + b, (sigma**2 W**2) x**2) drawn per example and
    output, the same marginal as independent weight noise per example, with gradient through W and W**2.
    """

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None = None, *,
                 mode: str = "local", max_ratio: float = MAX_RATIO, bias: bool = True, tol: float = TOL,
                 device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, rule, lam, bias=bias, tol=tol, device=device, dtype=dtype)
        self.mode = _choice("mode", mode, ("shared", "local"))
        self.max_ratio = _positive("max_ratio", max_ratio)

    def variance(self) -> Tensor:
        """sigma**2 = min(lam/eta_hat, max_ratio), detached (float32 for half weights)."""
        return self.ratio().clamp(max=self.max_ratio)

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean W x + b and variance (sigma**2 W**2) x**2 of the local reparameterisation (float32 for half)."""
        dtype = _compute_dtype(self.weight)
        w, xc = self.weight.to(dtype), x.to(dtype)
        bias = None if self.bias is None else self.bias.to(dtype)
        return F.linear(xc, w, bias), F.linear(xc * xc, self.variance() * w * w)

    def train_forward(self, x: Tensor) -> Tensor:
        if self.mode == "shared":
            w = self.weight.to(_compute_dtype(self.weight))
            noisy = w * (1 + self.variance().sqrt() * torch.randn_like(w))
            return F.linear(x, noisy.to(self.weight.dtype), self.bias)
        mean, var = self.moments(x)
        positive = var > 0  # sqrt'(0) = oo: the double where keeps the gradient at var = 0 finite
        one, zero = torch.ones((), dtype=var.dtype), torch.zeros((), dtype=var.dtype)
        std = torch.where(positive, torch.where(positive, var, one).sqrt(), zero)
        return (mean + std * torch.randn_like(mean)).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}, max_ratio={self.max_ratio:g}"


class _StoredRatioLinear(_AdaptiveLinear):
    """A buffer ``r`` = min(lam/eta_hat(w), max_ratio) refreshed from the detached weight at every training
    forward, i.e. once per step, before the optimiser moves the weight (not persistent: derived state)."""

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None, *, max_ratio: float,
                 **kwargs) -> None:
        super().__init__(in_features, out_features, rule, lam, **kwargs)
        self.max_ratio = _positive("max_ratio", max_ratio, finite=False)
        self.register_buffer("r", torch.empty(0), persistent=False)
        self.refresh_()

    @torch.no_grad()
    def refresh_(self) -> Tensor:
        """r <- min(lam/eta_hat(w), max_ratio) from the current weight."""
        self.r = self.ratio().clamp(max=self.max_ratio)
        return self.r

    def train_forward(self, x: Tensor) -> Tensor:
        self.refresh_()
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_ratio={self.max_ratio:g}"


class AdaptiveTikhonovLinear(_StoredRatioLinear):
    """Adaptive ridge: ``penalty() = 1/2 sum r * w**2`` (gradient r * w) with the stored r (capped at
    ``max_ratio``, default 1e6). With plain SGD keep ``lr * max_ratio < 2`` or the explicit step on the stiff
    quadratic diverges (Adam normalises it away)."""

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None = None, *,
                 max_ratio: float = MAX_RATIO, bias: bool = True, tol: float = TOL, device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, rule, lam, max_ratio=_positive("max_ratio", max_ratio), bias=bias,
                         tol=tol, device=device, dtype=dtype)

    def penalty(self) -> Tensor:
        w = self.weight.to(self.r.dtype)
        return 0.5 * (self.r * w * w).sum()


class AdaptiveProxLinear(_StoredRatioLinear):
    """Adaptive proximal steps: call ``prox_step_(step)`` after each optimiser step.

    ``variant="prox"``: w <- prox_{step lam Omega}(w) = argmin_u 1/2 (u - w)**2 + step*lam*Omega(u), the
    derived prox (the rule must be a Derivation, or a TorchRule with ``prox``); ``"reweighted"``: the
    paper's one-step reweighted ridge w <- w/(1 + step r) with the r stored at the step's forward (uncapped:
    r = oo sends w to 0), so that its fixed points w = (w - step grad)/(1 + step r(w)) are exactly the
    stationary points grad + lam w/eta_hat(w) = 0. ``step`` is a number or a tensor broadcastable to W
    (e.g. Adam's per-coordinate lr/(sqrt(v_hat) + eps)).
    """

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None = None, *,
                 variant: str = "prox", bias: bool = True, tol: float = TOL, device=None, dtype=None) -> None:
        chosen = _choice("variant", variant, ("prox", "reweighted"))
        super().__init__(in_features, out_features, rule, lam, max_ratio=math.inf, bias=bias, tol=tol,
                         device=device, dtype=dtype, prox=chosen == "prox")
        if chosen == "prox" and self.rule.prox is None:
            raise InputError(f"{self.rule.name} has no prox: pass a Derivation, or use variant='reweighted'")
        self.variant = chosen

    @torch.no_grad()
    def prox_step_(self, step: Step) -> None:
        """The proximal step on the weight, in place."""
        w = self.weight
        wc = w.to(_compute_dtype(w))
        step = torch.as_tensor(step, dtype=wc.dtype, device=wc.device)
        if self.variant == "prox":
            new = self.rule.prox(wc, step * (self.lam / self.rule.prox_lam))  # type: ignore[misc]
        else:
            new = wc / (1 + step * self.r)
        w.copy_(new.to(w.dtype))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, variant={self.variant}"


class EtaTrickLinear(_AdaptiveLinear):
    """The eta-trick parameterisation: a parameter ``log_eta`` per weight (initialised at
    log(eta/lam) = ``init_log_ratio``, the paper's 5) and ``penalty() = lam/2 sum (w**2/eta + f(eta) - f(0+))``,
    whose minimum over eta is lam * sum (Omega(w) - Omega(0)). The keep probability uses the eta parameter:
    q = eta/(eta + lam) = sigmoid(log_eta - log lam). The rule must provide the dual f (a Derivation, or a
    TorchRule with ``f_dual``).
    """

    def __init__(self, in_features: int, out_features: int, rule: Rule, lam: float | None = None, *,
                 init_log_ratio: float = 5.0, bias: bool = True, tol: float = TOL, device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, rule, lam, bias=bias, tol=tol, device=device, dtype=dtype,
                         dual=True)
        if self.rule.f_dual is None:
            raise InputError(f"{self.rule.name} has no dual f: pass a Derivation or a TorchRule with f_dual")
        self.log_eta = nn.Parameter(torch.full_like(self.weight, math.log(self.lam) + float(init_log_ratio)))

    def eta(self) -> Tensor:
        """eta = exp(log_eta), detached."""
        return self.log_eta.detach().exp()

    def eta_hat(self) -> Tensor:
        """The eta parameter stands in for eta_hat(w) (rates and sparsity)."""
        return self.eta().to(_compute_dtype(self.weight))

    def keep_prob(self) -> Tensor:
        """q = sigmoid(log eta - log lam)."""
        return torch.sigmoid(self.log_eta.detach().to(_compute_dtype(self.weight)) - math.log(self.lam))

    def penalty(self) -> Tensor:
        dtype = _compute_dtype(self.weight)
        log_eta = self.log_eta.to(dtype)
        w = self.weight.to(dtype)
        eta = log_eta.exp()
        return 0.5 * self.lam * (w * w / eta + self.rule.f_dual(eta) - self.rule.f_zero).sum()  # type: ignore[misc]

    @torch.no_grad()
    def prune_(self) -> EtaTrickLinear:
        """Zeros where q < tol; ``log_eta`` becomes a non-persistent buffer (no longer trained, not saved)."""
        super().prune_()
        if isinstance(self.log_eta, nn.Parameter):
            log_eta = self.log_eta.detach().clone()
            del self.log_eta
            self.register_buffer("log_eta", log_eta, persistent=False)
        return self


def adaptive_layers(model: nn.Module) -> Iterator[_AdaptiveLinear]:
    """The adaptive layers of ``model`` (itself included), in module order."""
    return (m for m in model.modules() if isinstance(m, _AdaptiveLinear))


def penalty(model: nn.Module) -> Tensor:
    """Sum of the explicit penalties (Tikhonov, eta-trick) of the model's adaptive layers, 0-dim; dropout
    layers regularise through their noise and prox layers through ``prox_step_``: they add 0."""
    terms = [layer.penalty() for layer in adaptive_layers(model)]
    return sum(terms, torch.zeros((), dtype=torch.get_default_dtype()))


def prox_step_(model: nn.Module, step: Step) -> None:
    """``prox_step_(step)`` on every :class:`AdaptiveProxLinear` of the model."""
    for layer in adaptive_layers(model):
        if isinstance(layer, AdaptiveProxLinear):
            layer.prox_step_(step)
