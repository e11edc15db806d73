"""Training and evaluation of one case-study run: Adam, batch 128, learning rate decayed linearly per epoch,
lr_e = lr (1 - e/epochs) for epoch e = 0..epochs-1 (the paper's schedule), adaptive state refreshed from the
weights at every batch; after every epoch the fraction of nonzero weights and the validation error, with the
evaluation mask applied (weights whose keep probability is below 0.05 set to 0) and without it."""
from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..export.pruning import prunable, sparsity
from .data import Split
from .methods import Context, LeNet, Method, objective

BATCH = 128
EVAL_BATCH = 2048


@dataclass(frozen=True)
class Epoch:
    """The state after one epoch: ``nonzero`` = 1 - sparsity, errors on the validation digits (masked: the
    evaluation mask applied; unpruned: every weight as trained), the smallest keep probability of any weight (no
    weight is pruned while it is >= 0.05), the mean training objective, seconds so far."""

    epoch: int
    lr: float
    train_objective: float
    nonzero: float
    min_keep_prob: float
    val_error: float
    val_error_unpruned: float
    seconds: float


@dataclass
class Run:
    """One method's run: its settings, its history (one :class:`Epoch` per epoch), the trained model, the number
    of optimiser steps taken, and three measures of the final weights' regularisation (:func:`regularisation`)."""

    method: Method
    epochs: int
    seed: int
    device: str
    history: list[Epoch] = field(default_factory=list)
    model: LeNet | None = field(default=None, repr=False, compare=False)
    steps: int = 0
    noise_cost: float = 0.0
    logsum_value: float = 0.0
    logsum_rule_sparsity: float = 0.0

    @property
    def final(self) -> Epoch:
        return self.history[-1]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch generator for the batch order (CPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def device_of(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; InputError when not available."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"--device {name!r} is not a torch device (cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name!r}: CUDA is not available here")
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"--device {name!r}: only cpu and cuda are supported")
    return device


@torch.no_grad()
def errors(model: LeNet, x: Tensor, y: Tensor) -> tuple[float, float]:
    """Validation error with the evaluation mask (``model.eval()``) and of the unpruned network."""
    model.eval()
    wrong = wrong_dense = 0
    for start in range(0, x.shape[0], EVAL_BATCH):
        xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
        wrong += int((model(xb).argmax(1) != yb).sum())
        wrong_dense += int((model.dense_logits(xb).argmax(1) != yb).sum())
    model.train()
    return wrong / x.shape[0], wrong_dense / x.shape[0]


def train(method: Method, split: Split, *, epochs: int, seed: int = 0, device: str = "cpu",
          context: Context | None = None, progress: Callable[[Run], None] | None = None) -> Run:
    """Train ``method`` for ``epochs`` epochs on ``split`` and return its :class:`Run` (see the module docstring).
    The seed fixes the initialisation, the batch order and the noise; ``progress(run)`` after every epoch."""
    if epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {epochs}")
    dev = device_of(device)
    context = context or Context()
    generator = seed_everything(seed)
    model = method.build(context).to(dev)
    x_train = torch.as_tensor(split.x_train, device=dev)
    y_train = torch.as_tensor(split.y_train, device=dev)
    x_val = torch.as_tensor(split.x_val, device=dev)
    y_val = torch.as_tensor(split.y_val, device=dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=method.lr)
    run = Run(method=method, epochs=epochs, seed=seed, device=str(dev), model=model)
    n = split.n_train
    start = time.perf_counter()
    for epoch in range(epochs):
        lr = method.lr * (1 - epoch / epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        total, batches = 0.0, 0
        for idx in torch.randperm(n, generator=generator).to(dev).split(BATCH):
            loss = objective(method, model, model(x_train[idx]), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if method.after_step is not None:
                method.after_step(model, optimizer)
            total += float(loss.detach())
            batches += 1
            run.steps += 1
        if not math.isfinite(total):
            raise ArithmeticError(f"{method.key}: the training objective became {total} in epoch {epoch}")
        val_error, dense_error = errors(model, x_val, y_val)
        q_min = min(float(layer.keep_prob().min()) for layer in prunable(model))
        run.history.append(Epoch(epoch + 1, lr, total / batches, 1 - sparsity(model), q_min, val_error, dense_error,
                                 time.perf_counter() - start))
        if progress is not None:
            progress(run)
    run.noise_cost, run.logsum_value, run.logsum_rule_sparsity = regularisation(model, context, x_train, y_train)
    return run


@torch.no_grad()
def regularisation(model: LeNet, context: Context, x: Tensor, y: Tensor, draws: int = 4
                   ) -> tuple[float, float, float]:
    """At the final weights: the training noise's cost on the training set, E_noise CE(noisy) - CE(no noise)
    (mean over ``draws`` passes; 0 for a method without noise), the regulariser that dropout actually adds to
    the mean cross-entropy; lam sum_j (Omega(w_j) - Omega(0)) with LogSum's Omega, the penalty the eta-trick
    ascribes to the LogSum-driven rules; and the sparsity that LogSum's rule q = eta_hat(w)/(eta_hat(w) + lam)
    < tol gives the weights (a magnitude threshold, |w| < 2.6e-5 at lam = 1e-3), the same yardstick for every
    method."""
    from ..export.torch import penalty_module

    def ce(forward: Callable[[Tensor], Tensor]) -> float:
        return float(sum(torch.nn.functional.cross_entropy(forward(x[i:i + EVAL_BATCH]), y[i:i + EVAL_BATCH],
                                                           reduction="sum") for i in range(0, x.shape[0], EVAL_BATCH)))
    dense = ce(model.dense_logits)
    noisy = sum(ce(model) for _ in range(draws)) / draws  # model.train(): the training forward, with its noise
    omega = penalty_module(context.logsum, context.lam)
    weights = [layer.weight.detach() for layer in model.linears]
    value = float(sum(omega(w) for w in weights))
    below = sum(int((omega.keep_prob(w) < context.tol).sum()) for w in weights)
    return (noisy - dense) / x.shape[0], value, below / sum(w.numel() for w in weights)


class ProgressBar:
    """A one-line progress bar per run on stderr (redrawn in place on a terminal; otherwise a line at every
    tenth of the epochs): method, epochs done, nonzero fraction, validation error, elapsed and remaining time."""

    WIDTH = 24

    def __init__(self, stream=None, total_runs: int = 1) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total_runs, self.done_runs = total_runs, 0

    def __call__(self, run: Run) -> None:
        e = run.final
        filled = int(self.WIDTH * e.epoch / run.epochs)
        eta = e.seconds / e.epoch * (run.epochs - e.epoch)
        line = (f"[{self.done_runs + 1}/{self.total_runs}] {run.method.key:<13} |{'#' * filled}"
                f"{'.' * (self.WIDTH - filled)}| {e.epoch:>3}/{run.epochs} nonzero {e.nonzero:.3f} "
                f"val err {e.val_error:.3f} {e.seconds:6.0f}s, {eta:4.0f}s left")
        last = e.epoch == run.epochs
        if self.tty:
            self.stream.write("\r" + line + ("\n" if last else ""))
        elif last or e.epoch % max(1, run.epochs // 10) == 0:
            self.stream.write(line + "\n")
        self.stream.flush()
        if last:
            self.done_runs += 1
