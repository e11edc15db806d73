"""The case study's methods and training loop against references written here: Molchanov's KL formula, the
exact moments of the local reparameterisation (Monte Carlo), Adam's step computed by hand, the AdaProx shrink,
and the reported sparsity and masked error recomputed from the trained weights with the paper's rule."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from symdual.casestudy import methods as M  # noqa: E402
from symdual.casestudy.data import Split  # noqa: E402
from symdual.casestudy.train import train  # noqa: E402
from symdual.casestudy.vardrop import VarDropLinear, vardrop_kl  # noqa: E402
from symdual.errors import InputError  # noqa: E402

K1, K2, K3 = 0.63576, 1.87320, 1.48695
LAM, EPS = 1e-3, 2.0


def molchanov_kl(log_alpha: np.ndarray) -> np.ndarray:
    """-(k1 sigmoid(k2 + k3 log alpha) - 1/2 log(1 + 1/alpha) - k1) (Molchanov et al. 2017, eq. 14, + k1)."""
    return -(K1 / (1 + np.exp(-(K2 + K3 * log_alpha))) - 0.5 * np.log1p(np.exp(-log_alpha)) - K1)


def test_vardrop_kl_is_molchanovs_approximation():
    la = np.linspace(-9, 9, 37)
    got = vardrop_kl()(torch.tensor(la, dtype=torch.float64)).numpy()
    assert np.max(np.abs(got - molchanov_kl(la)) / molchanov_kl(la)) < 1e-12


def test_local_reparameterisation_has_the_exact_moments():
    torch.manual_seed(0)
    layer = VarDropLinear(5, 3, vardrop_kl(), reparam="local", dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(3, 5, dtype=torch.float64))
        layer.log_alpha_.copy_(torch.linspace(-2, 1, 15, dtype=torch.float64).reshape(3, 5))
        layer.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    x = torch.randn(1, 5, dtype=torch.float64)
    draws = layer(x.expand(200_000, 5))
    mean = x @ layer.weight.T + layer.bias
    var = (x * x) @ (layer.log_alpha_.exp() * layer.weight**2).T.detach()
    n = draws.shape[0]
    assert torch.all((draws.mean(0) - mean[0]).abs() < 5 * (var[0] / n).sqrt())
    assert torch.all((draws.var(0) - var[0]).abs() < 5 * var[0] * math.sqrt(2 / n))


def test_vardrop_keep_rule_and_additive_parameterisation():
    layer = VarDropLinear(4, 2, vardrop_kl(), reparam="additive", dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.1, 0.01, 1e-3], [2.0, -0.5, 1e-30, 0.3]], dtype=torch.float64))
        layer.log_sigma.fill_(math.log(0.05))
    log_alpha = np.clip(2 * math.log(0.05) - 2 * np.log(1e-16 + np.abs(layer.weight.detach().numpy())), -10, 10)
    assert np.allclose(layer.log_alpha().detach().numpy(), log_alpha, rtol=1e-14)
    assert np.array_equal(layer.keep_mask().numpy(), log_alpha <= math.log(19))
    with pytest.raises(InputError, match="reparam"):
        VarDropLinear(2, 2, vardrop_kl(), reparam="multiplicative")


def test_adam_step_and_the_adaprox_shrink():
    torch.manual_seed(1)
    ctx = M.Context(dims=(6, 4))
    model = M.BY_KEY["adaprox"].build(ctx)
    layer = model.linears[0]
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    v = torch.zeros_like(layer.weight)
    for t in range(1, 4):
        w_before = layer.weight.detach().clone()
        loss = (model(torch.randn(8, 6)) ** 2).sum()  # the forward stores r from w_before
        opt.zero_grad()
        loss.backward()
        g = layer.weight.grad.detach().clone()
        opt.step()
        v = 0.999 * v + 0.001 * g * g
        step = 0.01 / ((v / (1 - 0.999**t)).sqrt() + 1e-8)
        assert torch.allclose(M.adam_steps(opt, layer.weight), step, rtol=1e-6)
        w_adam = layer.weight.detach().clone()
        M.reweighted_prox_(model, opt)
        a = w_before.abs().double()
        r = (LAM / (a * (a + EPS))).clamp(max=math.inf)
        expected = w_adam.double() / (1 + step.double() * r)
        assert torch.allclose(layer.weight.detach().double(), expected, rtol=1e-6, atol=0)


def synthetic_split(n: int = 384, seed: int = 0) -> Split:
    """Ten Gaussian blobs in R^784 (learnable in a few epochs), 80/20."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, 784)).astype(np.float32)
    y = np.arange(n) % 10
    x = (centres[y] + 0.8 * rng.standard_normal((n, 784))).astype(np.float32)
    cut = int(0.8 * n)
    return Split(x[:cut], y[:cut].astype(np.int64), x[cut:], y[cut:].astype(np.int64), "synthetic blobs")


def kept_by_the_papers_rule(method: M.Method, layer) -> torch.Tensor:
    """Keep probability >= 0.05, written from the paper: q = eta/(eta + lam), eta = |w|(|w| + 2) for the LogSum
    rule, eta = the trained parameter for the eta-trick, q = 1/(1 + alpha) for VarDrop."""
    with torch.no_grad():
        if method.elbo:
            log_alpha = layer.log_alpha().double()
            q = 1 / (1 + log_alpha.exp())
        elif method.key == "eta_trick":
            eta = layer.log_eta.double().exp()
            q = eta / (eta + LAM)
        else:
            a = layer.weight.double().abs()
            eta = a * (a + EPS)
            q = eta / (eta + LAM)
        return q >= 0.05


@pytest.fixture(scope="module")
def runs():
    split = synthetic_split()
    ctx = M.Context()
    return split, {m.key: train(m, split, epochs=3, seed=7, context=ctx) for m in M.METHODS}


@pytest.mark.parametrize("key", [m.key for m in M.METHODS])
def test_reported_sparsity_and_errors_match_the_trained_weights(runs, key):
    split, done = runs
    run = done[key]
    assert [e.epoch for e in run.history] == [1, 2, 3]
    assert [e.lr for e in run.history] == pytest.approx([run.method.lr * (1 - e / 3) for e in range(3)], rel=1e-15)
    kept = [kept_by_the_papers_rule(run.method, layer) for layer in run.model.linears]
    nonzero = sum(int(k.sum()) for k in kept) / sum(k.numel() for k in kept)
    assert run.final.nonzero == nonzero
    x = torch.as_tensor(split.x_val).double()
    dense = masked = x
    for i, (layer, keep) in enumerate(zip(run.model.linears, kept, strict=True)):
        w, b = layer.weight.detach().double(), layer.bias.detach().double()
        masked = masked @ torch.where(keep, w, 0.0).T + b
        dense = dense @ w.T + b
        if i < 2:
            masked, dense = masked.relu(), dense.relu()
    y = torch.as_tensor(split.y_val)
    assert run.final.val_error == pytest.approx(float((masked.argmax(1) != y).double().mean()), abs=1.5 / y.numel())
    assert run.final.val_error_unpruned == pytest.approx(float((dense.argmax(1) != y).double().mean()),
                                                         abs=1.5 / y.numel())
    assert run.final.val_error < 0.5  # the blobs are learnt: each method trains


def test_a_run_is_reproducible_from_its_seed():
    split = synthetic_split(128)
    a = train(M.BY_KEY["bernoulli"], split, epochs=2, seed=3)
    b = train(M.BY_KEY["bernoulli"], split, epochs=2, seed=3)
    c = train(M.BY_KEY["bernoulli"], split, epochs=2, seed=4)
    strip = [(e.train_objective, e.nonzero, e.val_error) for e in a.history]
    assert strip == [(e.train_objective, e.nonzero, e.val_error) for e in b.history]
    assert strip != [(e.train_objective, e.nonzero, e.val_error) for e in c.history]


def test_bad_settings_are_input_errors():
    split = synthetic_split(64)
    with pytest.raises(InputError, match="epochs"):
        train(M.BY_KEY["logsum"], split, epochs=0)
    with pytest.raises(InputError, match="device"):
        train(M.BY_KEY["logsum"], split, epochs=1, device="tpu")
    with pytest.raises(InputError, match="unknown case-study method"):
        M.select(["logsum", "dropconnect"])


@pytest.mark.parametrize("key", ["logsum", "adaprox", "adatikhonov", "eta_trick", "bernoulli", "gaussian"])
def test_final_regularisation_measures(runs, key):
    """lam sum log(1 + |w|/eps) by hand; the noise cost is 0 exactly without noise and > 0 with masks/noise."""
    _, done = runs
    run = done[key]
    by_hand = sum(float((LAM * torch.log1p(layer.weight.detach().double().abs() / EPS)).sum())
                  for layer in run.model.linears)
    assert run.logsum_value == pytest.approx(by_hand, rel=1e-6)
    weights = [layer.weight.detach().double().abs() for layer in run.model.linears]
    below = sum(int((a * (a + EPS) / (a * (a + EPS) + LAM) < 0.05).sum()) for a in weights)
    assert run.logsum_rule_sparsity == below / sum(a.numel() for a in weights)
    if key in ("logsum", "adaprox", "adatikhonov", "bernoulli", "gaussian"):  # their own rule is LogSum's
        assert run.logsum_rule_sparsity == pytest.approx(1 - run.final.nonzero, abs=1e-15)
    if run.method.group == M.DROPOUT:
        assert run.noise_cost > 0
    else:
        assert run.noise_cost == 0.0
