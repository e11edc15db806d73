"""One sparsity definition for every adaptive layer, and pruning to exact zeros.

A weight counts as zero when its keep probability q = eta_hat/(eta_hat + lam) is below the layer's
tolerance (default 0.05).  The layers in :mod:`symdual.export.layers` carry ``keep_mask()`` (q >= tol)
and ``prune_()``; these functions walk a model for any module that has both.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from symdual.errors import InputError


def prunable(model: nn.Module) -> Iterator[nn.Module]:
    """The modules of ``model`` (itself included) that define ``keep_mask()`` and ``prune_()``, in module order."""
    return (m for m in model.modules()
            if callable(getattr(m, "keep_mask", None)) and callable(getattr(m, "prune_", None)))


def sparsity(model: nn.Module) -> float:
    """Fraction of the adaptive layers' weights with keep probability below their ``tol`` (biases not counted)."""
    layers = list(prunable(model))
    if not layers:
        raise InputError("the model has no adaptive layers to measure")
    zero = sum(int((~layer.keep_mask()).sum()) for layer in layers)
    return zero / sum(layer.weight.numel() for layer in layers)


@torch.no_grad()
def prune_(model: nn.Module) -> nn.Module:
    """Write exact zeros where q < tol in every adaptive layer; afterwards each layer's state dict is
    ``{weight, bias}`` (loads into ``nn.Linear`` with ``strict=True``) and eval outputs are unchanged."""
    for layer in list(prunable(model)):
        layer.prune_()
    return model
