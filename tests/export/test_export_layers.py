"""The training layers: real masks and noise against their exact moments, the eta-trick against the derived
Omega, pruning against plain nn.Linear, and training against a direct solver of the penalised problem.

The layers run on the catalog's LogSum(eps=2, lam=1/2) and MCP derivations through symdual.export.torch; the
references (eta_hat, Omega, the prox) are written here by hand, and the hand-written rules also drive the
layers through :class:`TorchRule` where that path is tested."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

torch = pytest.importorskip("torch")
nn = torch.nn

from symdual.errors import InputError  # noqa: E402
from symdual.export import layers as L  # noqa: E402

EPS = 2.0  # LogSum(eps): Omega = log(1 + |w|/eps), eta_hat = |w| (|w| + eps), Omega'(0+) = 1/eps
B = 0.5  # MCP breakpoint b: eta_hat = b|w|/(b - |w|) below b, oo beyond


def logsum_eta_hat(w: torch.Tensor) -> torch.Tensor:
    a = w.abs()
    return a * (a + EPS)


def logsum_f(eta: torch.Tensor) -> torch.Tensor:
    """f(eta) - f(0+) = 2 log((s + eps)/(2 eps)) - 4 eta/(s + eps)**2, s = sqrt(eps**2 + 4 eta) (by hand)."""
    t = torch.sqrt(EPS**2 + 4 * eta) + EPS
    return 2 * torch.log1p(2 * eta / (EPS * t)) - 4 * eta / t**2


def logsum_prox(z: torch.Tensor, step) -> torch.Tensor:
    """argmin_u 1/2 (u - z)**2 + step log(1 + |u|/eps): the root u = ((|z| - eps) + sqrt((|z| + eps)**2 - 4 step))/2
    of u**2 + (eps - |z|) u + step - eps |z| = 0, against u = 0."""
    a = z.abs()
    disc = (a + EPS) ** 2 - 4 * step
    u = ((a - EPS) + torch.sqrt(disc.clamp(min=0))) / 2
    u = torch.where((disc >= 0) & (u > 0), u, torch.zeros(()))
    better = 0.5 * (u - a) ** 2 + step * torch.log1p(u / EPS) < 0.5 * a**2
    return torch.sign(z) * torch.where(better, u, torch.zeros(()))


def mcp_eta_hat(w: torch.Tensor) -> torch.Tensor:
    """b|w|/(b - |w|) for |w| < b, oo beyond: eta_hat reaches both 0 and oo."""
    a = w.abs()
    below = a < B
    return torch.where(below, B * a / (B - torch.where(below, a, torch.zeros(()))), torch.full((), math.inf))


HAND_LOGSUM = L.TorchRule(eta_hat=logsum_eta_hat, f_dual=logsum_f, prox=logsum_prox, prox_lam=1.0, name="logsum")
HAND_MCP = L.TorchRule(eta_hat=mcp_eta_hat, name="mcp")
LAM = 0.5


@pytest.fixture(scope="module")
def logsum(catalog_record):
    """LogSum(eps = 2) derived at lam = 1/2: Omega = log(1 + w/2), eta_hat = w (w + 2)."""
    d = catalog_record("logsum", lam=LAM)
    u = np.array([0.0, 1e-3, 0.7, 30.0])
    assert np.allclose(d.evaluate("omega", u), omega_logsum(u), rtol=1e-14, atol=0)
    assert np.allclose(d.evaluate("omega_prime", u), 1 / (u + EPS), rtol=1e-14, atol=0) and float(d.lam) == LAM
    return d


@pytest.fixture(scope="module")
def mcp(catalog_record):
    """MCP(a = 1/2, lam = sqrt 2): eta_hat = b w/(b - w) below b = a lam = 1/sqrt 2, oo beyond."""
    return catalog_record("mcp")


def omega_logsum(w: np.ndarray) -> np.ndarray:
    return np.log1p(np.abs(w) / EPS)


def set_weight(layer: nn.Linear, w) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w, dtype=layer.weight.dtype).reshape(layer.weight.shape))


# ---------------------------------------------------------------- (1) training reaches the stationary point


def regression(seed: int = 0, n: int = 200, d: int = 10):
    """X with unit-norm columns, 5 nonzero and 5 zero true coefficients, small noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=0)
    w_true = np.array([2.0, -1.5, 1.0, 0.8, -0.6] + [0.0] * (d - 5))
    return X, X @ w_true + 0.05 * rng.standard_normal(n)


def stationary_point(X: np.ndarray, y: np.ndarray, lam: float, omega_prime) -> np.ndarray:
    """Coordinate descent for 1/2 ||y - Xw||**2 + lam sum Omega(w_j) (unit-norm columns): coordinate j solves
    u + lam Omega'(u) = |z_j| for u > 0 (brentq), or u = 0 when |z_j| <= lam Omega'(0+)."""
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    for _ in range(1000):
        old = w.copy()
        for j in range(X.shape[1]):
            z = X[:, j] @ (y - X @ w + X[:, j] * w[j])
            if abs(z) <= lam * omega_prime(0.0):
                w[j] = 0.0
            else:
                u = brentq(lambda u, z=z: u + lam * omega_prime(u) - abs(z), 0.0, abs(z), xtol=1e-15)
                w[j] = math.copysign(u, z)
        if np.max(np.abs(w - old)) < 1e-14:
            return w
    raise AssertionError("coordinate descent did not converge")


@pytest.fixture(scope="module")
def problem(logsum):
    """The regression, its least-squares start and the stationary point w* of the LogSum-penalised problem
    (coordinate descent with the derivation's Omega', NumPy path)."""
    X, y = regression()
    assert np.linalg.eigvalsh(X.T @ X).min() > LAM / EPS**2  # lam Omega'' >= -lam/eps**2: strictly convex
    w_star = stationary_point(X, y, LAM, lambda u: float(logsum.evaluate("omega_prime", u)))
    grad = X.T @ (X @ w_star - y)
    nz = w_star != 0
    assert np.allclose(grad[nz] + LAM * np.sign(w_star[nz]) / (np.abs(w_star[nz]) + EPS), 0, atol=1e-10)
    assert np.all(np.abs(grad[~nz]) <= LAM / EPS) and nz.sum() == 5
    return X, y, np.linalg.lstsq(X, y, rcond=None)[0], w_star


def train(layer: L._AdaptiveLinear, problem, steps: int, lr: float, *, adam: bool = True) -> np.ndarray:
    """Full-batch training on the square loss 1/2 ||y - X w||**2 plus the layers' explicit penalty, from the
    least-squares start: Adam (beta2 = 0.99) with the learning rate decayed linearly to 0, or plain gradient
    steps each followed by the layer's prox step."""
    X, y, w_ls, _ = problem
    set_weight(layer, w_ls)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    if adam:
        opt = torch.optim.Adam(layer.parameters(), lr=lr, betas=(0.9, 0.99))
        decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 - t / steps)
    else:
        opt = torch.optim.SGD([layer.weight], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * ((yt - layer(Xt)[:, 0]) ** 2).sum() + L.penalty(layer)
        loss.backward()
        opt.step()
        if adam:
            decay.step()
        else:
            L.prox_step_(layer, lr)
    return layer.weight.detach()[0].numpy()


@pytest.mark.parametrize("mode, tol", [("example", 0.03), ("step", 0.06)])
def test_bernoulli_training_reaches_the_penalised_stationary_point(mode, tol, logsum, problem):
    """E over masks of 1/2 ||y - X (m*w/q)||**2 = 1/2 ||y - Xw||**2 + 1/2 sum_j (p_j/q_j) ||x_j||**2 w_j**2, and
    p/q = lam/eta_hat(w_j) with w detached: the expected gradient X^T (Xw - y) + lam w_j/eta_hat(w_j) vanishes
    exactly at the stationary points of 1/2 ||y - Xw||**2 + lam sum Omega(w_j) (Omega' = w/eta_hat).
    Here lam Omega'' >= -lam/eps**2 = -1/8 is dominated by the smallest eigenvalue of X^T X (checked), so the
    objective is strictly convex and the stationary point unique. Adam (beta2 = 0.99; its step is bounded by
    about lr/sqrt(1 - beta2), which tames the heavy-tailed kicks 1/q of weights near 0) with the learning rate
    decayed linearly to 0 ends within the noise floor: measured max error 0.009 (per-example masks) and
    0.025 (one mask per step) over 8 seeds; the tolerances are about 3 and 2.5 times that, and 8 and 4 times
    smaller than the distance 0.24 between the least-squares start and the stationary point."""
    _, _, w_ls, w_star = problem
    assert np.max(np.abs(w_ls - w_star)) > 4 * tol
    torch.manual_seed(0)
    layer = L.AdaptiveDropoutLinear(10, 1, logsum, mode=mode, bias=False, dtype=torch.float64)  # lam: d.lam
    assert layer.lam == LAM
    w = train(layer, problem, 4000, 0.05)
    assert np.max(np.abs(w - w_star)) < tol
    if mode == "example":  # the zeros end with keep probability below 0.05, the others far above
        assert L.sparsity(layer) == 0.5
        assert torch.equal(layer.keep_mask()[0], torch.tensor(w_star != 0))


@pytest.mark.parametrize("kind, steps, tol", [
    ("prox", 300, 1e-12), ("reweighted", 1000, 1e-12), ("tikhonov", 2000, 1e-3), ("etatrick", 2000, 1e-3),
    ("gaussian", 3000, 0.05),
])
def test_every_training_mode_reaches_the_same_stationary_point(kind, steps, tol, logsum, problem):
    """Each mode's fixed points satisfy X^T (Xw - y) + lam w/eta_hat(w) = 0. Deterministic: proximal gradient
    with the exact prox (lr 0.5 < 1/L) and the reweighted step w <- (w - lr g)/(1 + lr r(w)) converge to
    rounding (measured 1e-15); Adam on the Tikhonov and eta-trick penalties ends within 1e-4 (measured 4e-5,
    9e-5); the local reparameterisation (noisy like the masks) within 0.016 over 6 seeds."""
    _, _, _, w_star = problem
    torch.manual_seed(0)
    cls, kw = {
        "prox": (L.AdaptiveProxLinear, {}),
        "reweighted": (L.AdaptiveProxLinear, {"variant": "reweighted"}),
        "tikhonov": (L.AdaptiveTikhonovLinear, {}),
        "etatrick": (L.EtaTrickLinear, {}),
        "gaussian": (L.GaussianDropoutLinear, {"mode": "local"}),
    }[kind]
    layer = cls(10, 1, logsum, bias=False, dtype=torch.float64, **kw)
    adam = kind not in ("prox", "reweighted")
    w = train(layer, problem, steps, 0.05 if adam else 0.5, adam=adam)
    assert np.max(np.abs(w - w_star)) < tol
    assert L.sparsity(layer) == 0.5


# ---------------------------------------------------------------- (2) Monte Carlo of the Bernoulli masks

W_GRID = [0.0, 1e-3, 0.01, 0.05, 0.2, -0.3, 1.0, -2.0, 5.0, 30.0, -1e-2, 0.5]


def test_keep_rates_are_q_and_inverted_masks_unbiased(logsum):
    torch.manual_seed(1)
    lam = 0.3  # the layer's lam may differ from the derivation's (its eta_hat does not depend on lam)
    layer = L.AdaptiveDropoutLinear(4, 3, logsum, lam, dtype=torch.float64)
    set_weight(layer, W_GRID)
    eta = logsum_eta_hat(layer.weight.detach())
    q = eta / (eta + lam)
    assert torch.allclose(layer.keep_prob(), q, rtol=1e-15, atol=0)
    assert torch.allclose(layer.drop_rate(), lam / (lam + eta), rtol=1e-15, atol=0)
    assert torch.allclose(layer.ratio(), lam / eta, rtol=1e-15, atol=0)
    n = 40000
    scale = layer.sample_scale(n)  # n independent masks m/q
    kept = scale > 0
    rate = kept.double().mean(0)
    assert torch.all((rate - q).abs() <= 5 * torch.sqrt(q * (1 - q) / n) + 1e-12)
    assert torch.allclose(scale[kept], (1 / q).expand_as(scale)[kept], rtol=1e-15)
    assert not kept[:, 0, 0].any()  # w = 0: q = 0, never kept, scale exactly 0
    mean = scale.mean(0)
    sd = torch.sqrt((1 - q) / (q * n))  # sd of the mean of m/q: Var(m/q) = (1 - q)/q
    ok = q > 0
    assert torch.all((mean[ok] - 1).abs() <= 5 * sd[ok])


@pytest.mark.parametrize("mode", ["step", "example"])
def test_dropout_forward_mean_and_variance(mode, logsum):
    """y = sum_i (m_i/q_i) w_i x_i + b: E y = W x + b, Var y = sum_i x_i**2 w_i**2 (1/q_i - 1); in "example"
    mode the rows of one batch draw independent masks, in "step" mode each forward draws one."""
    torch.manual_seed(2)
    layer = L.AdaptiveDropoutLinear(6, 2, logsum, mode=mode, dtype=torch.float64)
    set_weight(layer, W_GRID)
    x = torch.linspace(-1, 2, 6, dtype=torch.float64)
    n = 10000
    with torch.no_grad():
        if mode == "example":
            ys = layer(x.expand(n, 6))
        else:
            ys = torch.stack([layer(x) for _ in range(n)])
    q = layer.keep_prob()
    w = layer.weight.detach()
    mean = torch.nn.functional.linear(x, w, layer.bias.detach())
    var = (x**2 * w**2 * torch.where(q > 0, 1 / q - 1, torch.zeros(()))).sum(1)
    assert torch.all((ys.mean(0) - mean).abs() <= 5 * torch.sqrt(var / n))
    assert torch.allclose(ys.var(0), var, rtol=0.1)  # for "example" this is the spread within one batch
    with torch.no_grad():
        same = layer(x.expand(3, 6))
    assert torch.equal(same[0], same[1]) == (mode == "step")  # "step" shares the mask across the batch


def test_dropout_gradient_is_the_masked_weight_gradient(logsum):
    """d/dW of sum(y) is (m/q) x for the mask drawn in that forward (the rule's state is detached)."""
    torch.manual_seed(3)
    layer = L.AdaptiveDropoutLinear(4, 3, logsum, dtype=torch.float64)
    set_weight(layer, W_GRID)
    x = torch.randn(4, dtype=torch.float64)
    state = torch.get_rng_state()
    scale = layer.sample_scale()
    torch.set_rng_state(state)
    layer(x).sum().backward()
    assert torch.allclose(layer.weight.grad, scale * x, rtol=1e-15, atol=0)


# ---------------------------------------------------------------- (3) Gaussian noise and the local reparameterisation


def test_local_reparameterisation_matches_explicit_noise(logsum):
    """Explicit noise W*(1 + sigma xi) drawn per example gives output mean W x + b and variance
    sum_i sigma_i**2 w_i**2 x_i**2 (sigma**2 = lam/eta_hat): the layer's moments and its local draws agree."""
    torch.manual_seed(4)
    lam = LAM
    layer = L.GaussianDropoutLinear(4, 3, logsum, mode="local", dtype=torch.float64)
    set_weight(layer, W_GRID)
    w = layer.weight.detach()
    sigma2 = layer.variance()
    r = lam / logsum_eta_hat(w)
    assert torch.equal(sigma2, r.clamp(max=L.MAX_RATIO)) and sigma2[0, 0] == L.MAX_RATIO
    x = torch.tensor([0.7, -1.2, 2.0, 0.3], dtype=torch.float64)
    n = 40000
    xi = torch.randn(n, *w.shape, dtype=torch.float64)
    explicit = torch.einsum("i,boi->bo", x, w * (1 + sigma2.sqrt() * xi)) + layer.bias.detach()
    mean, var = layer.moments(x)
    assert torch.allclose(mean, w @ x + layer.bias.detach(), rtol=1e-15)
    assert torch.allclose(var, (sigma2 * w**2) @ x**2, rtol=1e-15)
    assert torch.all((explicit.mean(0) - mean).abs() <= 5 * torch.sqrt(var / n))
    assert torch.allclose(explicit.var(0), var, rtol=0.05)
    with torch.no_grad():
        local = layer(x.expand(n, 4))
    assert torch.all((local.mean(0) - mean).abs() <= 5 * torch.sqrt(var / n))
    assert torch.allclose(local.var(0), var, rtol=0.05)


def test_shared_noise_is_one_draw_per_forward(logsum):
    torch.manual_seed(5)
    layer = L.GaussianDropoutLinear(4, 3, logsum, mode="shared", dtype=torch.float64)
    set_weight(layer, W_GRID)
    x = torch.tensor([0.7, -1.2, 2.0, 0.3], dtype=torch.float64)
    with torch.no_grad():
        batch = layer(x.expand(5, 4))
        assert torch.equal(batch, batch[:1].expand(5, 3))  # one noise for the whole batch
        draws = torch.stack([layer(x) for _ in range(10000)])
    mean, var = layer.moments(x)
    assert torch.all((draws.mean(0) - mean).abs() <= 5 * torch.sqrt(var / 10000))
    assert torch.allclose(draws.var(0), var, rtol=0.08)


# ---------------------------------------------------------------- Tikhonov, prox, eta-trick


def test_tikhonov_stores_capped_ratio_and_penalty(logsum):
    lam = LAM
    layer = L.AdaptiveTikhonovLinear(4, 3, logsum, max_ratio=100.0, dtype=torch.float64)
    set_weight(layer, W_GRID)
    x = torch.randn(2, 4, dtype=torch.float64)
    layer.eval()
    layer(x)  # eval does not refresh
    assert not torch.equal(layer.r, (lam / logsum_eta_hat(layer.weight.detach())).clamp(max=100.0))
    layer.train()
    layer(x)
    w = layer.weight.detach()
    r = (lam / logsum_eta_hat(w)).clamp(max=100.0)
    assert torch.equal(layer.r, r) and layer.r[0, 0] == 100.0 and layer.r.max() == 100.0
    pen = layer.penalty()
    assert pen.dim() == 0 and torch.allclose(pen, 0.5 * (r * w**2).sum(), rtol=1e-15)
    pen.backward()
    assert torch.allclose(layer.weight.grad, r * w, rtol=1e-15)
    assert "r" not in layer.state_dict()


@pytest.mark.parametrize("source", ["derived", "hand"])
def test_prox_step_is_the_grid_argmin_and_reweighted_step_is_exact(source, logsum, mcp):
    """prox_step_(t): w <- argmin_u 1/2 (u - w)**2 + t lam Omega(u), Omega = log(1 + |u|/eps), against the
    argmin on a grid (2e5 points on [-|w| - 1, |w| + 1], then 2001 points over 4 spacings around the best);
    reweighted: w <- w/(1 + t lam/eta_hat(w))."""
    lam, t = 0.3, 0.8  # the derivation's prox is of step * 1/2 * Omega: the layer rescales the step
    w0 = np.array(W_GRID)
    rule, rule_mcp = (logsum, mcp) if source == "derived" else (HAND_LOGSUM, HAND_MCP)
    layer = L.AdaptiveProxLinear(4, 3, rule, lam, dtype=torch.float64)
    set_weight(layer, w0)
    layer.prox_step_(t)
    got = layer.weight.detach().numpy().ravel()
    def objective(u, wi):
        return 0.5 * (u - wi) ** 2 + t * lam * omega_logsum(u)

    for wi, gi in zip(w0, got, strict=True):
        coarse = np.linspace(-abs(wi) - 1, abs(wi) + 1, 200_001)
        c = coarse[np.argmin(objective(coarse, wi))]
        spacing = coarse[1] - coarse[0]
        fine = np.linspace(c - 2 * spacing, c + 2 * spacing, 2_001)
        h = objective(fine, wi)
        assert abs(gi - fine[np.argmin(h)]) <= 1e-6
        assert objective(gi, wi) <= h.min() + 1e-13
    assert np.sum(got == 0) > 3  # the prox thresholds: small weights land on exact zeros
    rew = L.AdaptiveProxLinear(4, 3, rule_mcp, lam, variant="reweighted", dtype=torch.float64)
    set_weight(rew, w0)
    rew.train()(torch.zeros(4, dtype=torch.float64))  # the forward stores r = lam/eta_hat(w) before the step
    step = torch.full((3, 4), t, dtype=torch.float64)
    L.prox_step_(nn.Sequential(rew), step)
    b, a = (2**-0.5 if source == "derived" else B), torch.tensor(np.abs(w0))
    eta = torch.where(a < b, b * a / (b - a), math.inf)
    assert torch.allclose(rew.weight.detach().ravel(), torch.tensor(w0) / (1 + t * lam / eta), rtol=1e-14, atol=0)
    with pytest.raises(InputError, match="has no prox"):
        L.AdaptiveProxLinear(4, 3, HAND_MCP, lam)


@pytest.mark.parametrize("source", ["derived", "hand"])
def test_eta_trick_penalty_minimised_over_eta_is_lam_omega(source, logsum):
    """min over eta of lam/2 (w**2/eta + f(eta) - f(0)) = lam Omega(w) (Omega(0) = 0), reached at eta_hat(w):
    L-BFGS on the layer's log_eta from the initial log(eta/lam) = 5; any other eta gives more."""
    lam = LAM
    w0 = np.array([1e-3, 0.01, 0.2, -0.3, 1.0, -2.0, 5.0, 30.0, -1e-2, 0.5, 0.05, 3.0])
    layer = L.EtaTrickLinear(4, 3, logsum if source == "derived" else HAND_LOGSUM, lam, dtype=torch.float64)
    set_weight(layer, w0)
    assert torch.allclose(layer.log_eta, torch.full((3, 4), math.log(lam) + 5, dtype=torch.float64))
    target = lam * logsum.evaluate("omega", w0).sum()
    assert layer.penalty().item() > target + 1e-3  # the majorant is strict away from eta_hat
    opt = torch.optim.LBFGS([layer.log_eta], lr=1, max_iter=500, tolerance_grad=1e-14, tolerance_change=0,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        pen = layer.penalty()
        pen.backward()
        return pen

    for _ in range(5):
        opt.step(closure)
    assert layer.penalty().item() == pytest.approx(target, rel=1e-12)
    eta_hat = np.abs(w0) * (np.abs(w0) + EPS)
    assert np.allclose(layer.eta().numpy().ravel(), eta_hat, rtol=1e-5)
    q = torch.sigmoid(layer.log_eta.detach() - math.log(lam))
    assert torch.equal(layer.keep_prob(), q)
    assert torch.allclose(q, torch.tensor(eta_hat / (eta_hat + lam)).reshape(3, 4), rtol=1e-5)
    with pytest.raises(InputError, match="no dual"):
        L.EtaTrickLinear(4, 3, HAND_MCP, lam)


# ---------------------------------------------------------------- (4) eval applies the sparsity; prune_


def make_layer(kind: str, rule, in_features: int = 4, dtype=torch.float64) -> L._AdaptiveLinear:
    cls, kw = {
        "bernoulli": (L.AdaptiveDropoutLinear, {"mode": "example"}),
        "gaussian": (L.GaussianDropoutLinear, {}),
        "tikhonov": (L.AdaptiveTikhonovLinear, {}),
        "prox": (L.AdaptiveProxLinear, {}),
        "etatrick": (L.EtaTrickLinear, {}),
    }[kind]
    return cls(in_features, 3, rule, dtype=dtype, **kw)


KINDS = ["bernoulli", "gaussian", "tikhonov", "prox", "etatrick"]


@pytest.mark.parametrize("kind", KINDS)
def test_prune_then_plain_linear_equals_eval_mode(kind, logsum):
    torch.manual_seed(6)
    lam = LAM
    first, second = make_layer(kind, logsum, 4), make_layer(kind, logsum, 3)
    set_weight(first, W_GRID)
    set_weight(second, torch.linspace(-2, 2, 9) + 0.1)  # all kept: |w| >= 0.1, q >= 0.29
    if kind == "etatrick":  # sparsity from the eta parameter: eta = eta_hat(w) here
        with torch.no_grad():
            first.log_eta.copy_(logsum_eta_hat(first.weight).log())
    model = nn.Sequential(first, nn.Tanh(), second)
    x = torch.randn(7, 4, dtype=torch.float64)
    eta = logsum_eta_hat(torch.tensor(W_GRID))
    expected_zero = int((eta / (eta + lam) < 0.05).sum())
    assert expected_zero == 4
    assert L.sparsity(first) == expected_zero / 12
    model.eval()
    out = model(x)
    unmasked = second(torch.tanh(torch.nn.functional.linear(x, first.weight, first.bias)))
    assert not torch.allclose(out, unmasked)  # the eval mask is no no-op
    L.prune_(model)
    assert int((first.weight == 0).sum()) == expected_zero
    assert L.sparsity(second) == 0 and L.sparsity(model) == expected_zero / 21
    assert set(model.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    plain = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3)).double()
    plain.load_state_dict(model.state_dict(), strict=True)
    for layer in (first, second):
        nn.Linear(layer.in_features, 3).double().load_state_dict(layer.state_dict(), strict=True)
    assert torch.equal(plain(x), out)
    assert torch.equal(model(x), out)  # pruned eval outputs unchanged


def test_state_dict_before_pruning(logsum):
    """Derived state is not saved; the eta-trick's trained log_eta is, until prune_."""
    for kind in KINDS:
        layer = make_layer(kind, logsum)
        keys = set(layer.state_dict())
        assert keys == ({"weight", "bias", "log_eta"} if kind == "etatrick" else {"weight", "bias"})
        copy = make_layer(kind, logsum)
        copy.load_state_dict(layer.state_dict(), strict=True)
        assert torch.equal(copy.weight, layer.weight)
    layer = make_layer("tikhonov", logsum).to(torch.float32)
    assert layer.weight.dtype == torch.float32 and layer.penalty().dtype == torch.float32


# ---------------------------------------------------------------- (5) no NaN at eta_hat = 0 and oo

EDGE = [0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, B, -(2**-0.5), 2 * B, 1e4, -1e4, 0.1]  # breakpoints 1/2, 2**-0.5


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", ["bernoulli-step", "bernoulli-example", "gaussian-shared", "gaussian-local",
                                  "tikhonov", "reweighted"])
@pytest.mark.parametrize("source", ["derived", "hand"])
def test_no_nan_at_eta_hat_zero_and_infinity(kind, dtype, source, mcp):
    torch.manual_seed(7)
    lam = 0.5
    name, _, mode = kind.partition("-")
    cls, kw = {
        "bernoulli": (L.AdaptiveDropoutLinear, {"mode": mode}),
        "gaussian": (L.GaussianDropoutLinear, {"mode": mode}),
        "tikhonov": (L.AdaptiveTikhonovLinear, {}),
        "reweighted": (L.AdaptiveProxLinear, {"variant": "reweighted"}),
    }[name]
    layer = cls(4, 3, mcp if source == "derived" else HAND_MCP, lam, dtype=dtype, **kw)
    set_weight(layer, EDGE)
    eta = layer.eta_hat()
    assert eta[0, 0] == 0 and eta[2, 1] == math.inf  # both ends are reached (w = 0 and w = 1e4)
    p, q, r = layer.drop_rate(), layer.keep_prob(), layer.ratio()
    for rate in (p, q):
        assert not rate.isnan().any() and (rate >= 0).all() and (rate <= 1).all()
    assert q[0, 0] == 0 and p[0, 0] == 1 and q[2, 1] == 1 and p[2, 1] == 0
    assert r[0, 0] == math.inf and r[2, 1] == 0 and not r.isnan().any() and (r >= 0).all()
    assert q[1, 3] > 0.99 and p[1, 3] < 0.01  # at the breakpoint 2**-0.5 eta_hat is at (or rounds near) its pole
    x = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 0.0, 0.0, 0.0]], dtype=dtype)
    for _ in range(3):
        layer.zero_grad()
        out = layer(x)
        loss = out.float().sum() + layer.penalty().float()  # a gradient within float16 range
        loss.backward()
        assert out.dtype == dtype and torch.isfinite(out).all() and torch.isfinite(layer.weight.grad).all()
    if name == "bernoulli":
        assert torch.isfinite(layer.sample_scale(5)).all()
    if name == "reweighted":  # w/(1 + t r): 0 at r = oo, w itself at r = 0
        before = layer.weight.detach().clone()
        layer.prox_step_(0.1)
        assert torch.isfinite(layer.weight).all() and layer.weight[0, 0] == 0 and layer.weight[2, 1] == before[2, 1]
    layer.eval()
    assert torch.isfinite(layer(x)).all()
    assert L.sparsity(layer) == 6 / 12  # q < 0.05 at 0, -0, +-1e-30, +-1e-8; q(0.1) = 0.2


# ---------------------------------------------------------------- bad input


def test_bad_input_is_one_line_input_error(logsum, catalog_record):
    with pytest.raises(InputError, match="mode must be one of"):
        L.AdaptiveDropoutLinear(2, 2, logsum, mode="batch")
    with pytest.raises(InputError, match="lam must be"):
        L.AdaptiveDropoutLinear(2, 2, logsum, -1.0)
    with pytest.raises(InputError, match="lam is required"):
        L.AdaptiveDropoutLinear(2, 2, logsum_eta_hat)
    with pytest.raises(InputError, match="tol must"):
        L.AdaptiveTikhonovLinear(2, 2, logsum, tol=1.5)
    with pytest.raises(InputError, match="max_ratio must"):
        L.GaussianDropoutLinear(2, 2, logsum, max_ratio=math.inf)
    with pytest.raises(InputError, match="variant must"):
        L.AdaptiveProxLinear(2, 2, logsum, variant="adam")
    with pytest.raises(InputError, match="a rule must be"):
        L.AdaptiveDropoutLinear(2, 2, "w*(w+2)", 0.5)
    with pytest.raises(InputError, match="not separable"):
        L.AdaptiveDropoutLinear(2, 2, catalog_record("hardthresh"), 0.5)
    with pytest.raises(InputError, match="no adaptive layers"):
        L.sparsity(nn.Linear(2, 2))
    layer = L.AdaptiveDropoutLinear(2, 2, logsum_eta_hat, 0.5)  # a bare callable is eta_hat
    assert torch.equal(layer.eta_hat(), logsum_eta_hat(layer.weight.detach()))


def test_penalized_linear_adds_lam_times_the_derived_omega(logsum):
    layer = L.PenalizedLinear(5, 3, logsum, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.0, 1e-9, -0.3, 2.0, -7.5]] * 3, dtype=torch.float64))
    w = layer.weight.detach()
    expected = LAM * torch.log1p(w.abs() / EPS).sum()  # lam sum (log(|w| + eps) - log eps)
    value = layer.penalty()
    assert torch.allclose(value, expected, rtol=1e-14, atol=0)
    value.backward()
    assert torch.allclose(layer.weight.grad[:, 1:], (LAM * torch.sign(w) / (w.abs() + EPS))[:, 1:], rtol=1e-13)
    assert set(layer.state_dict()) == {"weight", "bias"}
    kept = logsum_eta_hat(w) / (logsum_eta_hat(w) + LAM) >= 0.05
    assert torch.equal(layer.keep_mask(), kept)
    with pytest.raises(InputError, match="Derivation"):
        L.PenalizedLinear(2, 2, logsum_eta_hat, LAM)
