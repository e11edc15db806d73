"""PyTorch export of closed forms (symdual.export.torch, symdual.export.printer): values against mpmath,
gradcheck, no NaN/inf in half precision, p/q/r at eta_hat = 0 and oo, the prox against a brute-force argmin,
and the SymPy TorchPrinter failures of the issue as regressions."""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

import symdual as sd  # noqa: E402
from symdual.errors import InputError  # noqa: E402
from symdual.export import torch as sdt  # noqa: E402
from symdual.export.printer import Unsupported, function_source  # noqa: E402
from symdual.piecewise import branches  # noqa: E402
from symdual.rules import eta as ETA  # noqa: E402
from symdual.rules import w as W  # noqa: E402

CATALOG = ("l1", "lp", "logsum", "log2sum", "mcp", "scad", "plain_dropout", "gaussian_dropout", "standout")
USER = {
    "sigmoid_keep": dict(keep_prob="sigmoid(w - c)", params={"c": 1}),
    "cubic_eta": dict(eta_hat="w*(w+1)**2"),
    "log_penalty": dict(penalty="log(1 + w**2)"),
    "rate_half": dict(drop_rate="1/(1+w)", lam=0.5),
}
CASES = CATALOG + tuple(USER)
CAPPED = {"mcp_cap_1": ("mcp", {"a": "1/2", "lam": "2"}), "scad_a3": ("scad", {"a": "3", "lam": "1/2"})}
"""Other parameters of the capped penalties: MCP with its cap b = a lam = 1 exactly, SCAD with kinks at 1/2, 3/2."""
GRID = np.geomspace(1e-8, 1e4, 19)
HALF_AND_UP = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


@functools.cache
def derivation(case: str):
    if case in CAPPED:
        name, params = CAPPED[case]
        return sd.catalog.get(name, **params)
    return sd.catalog.get(case) if case in CATALOG else sd.derive(**USER[case])


@functools.cache
def module(case: str):
    return sdt.penalty_module(derivation(case))


def breakpoints(case: str) -> list[float]:
    """Finite ends of the branches of Omega and eta_hat (kinks, caps)."""
    d = derivation(case)
    out = set()
    for expr in (d.omega, d.eta_hat, d.omega_prime):
        for _, where in branches(expr, W):
            out.update(float(e) for e in (where.start, where.end) if e not in (0, sp.oo))
    return sorted(out)


@functools.cache
def mp_value(case: str, piece: str, x: float) -> float:
    """The certified mpmath path at 30 digits, rounded to float64 (Omega(0) subtracted)."""
    d = derivation(case)
    with mpmath.workdps(30):
        value = d.evaluate_mp(piece, abs(x), 30)
        if piece == "omega":
            value -= d.evaluate_mp("omega", 0, 30)
        return float(value)


def rel_err(got: float, ref: float) -> float:
    if got == ref:
        return 0.0
    return abs(got - ref) / max(abs(ref), 1e-300)


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_match_mpmath(case):
    """Omega - Omega(0), eta_hat and dOmega/dw = sign(w) Omega'(|w|) at w = +-1e-8 .. 1e4 (log grid):
    1e-12 relative in float64, 1e-6 in float32 (at the float32 point itself)."""
    m = module(case)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
        xs = torch.tensor(np.concatenate([GRID, -GRID]), dtype=dtype)
        w = xs.clone().requires_grad_(True)
        values = m.omega(w)
        values.sum().backward()
        values = values.detach()
        eta_hat = m.eta_hat(xs)
        worst = {"omega": 0.0, "eta_hat": 0.0, "omega_prime": 0.0}
        big, tiny = float(torch.finfo(dtype).max), float(torch.finfo(dtype).tiny)
        for i, x in enumerate(xs.tolist()):
            refs = {p: mp_value(case, p, x) for p in worst}
            refs["omega_prime"] *= math.copysign(1.0, x)
            for piece, got in (("omega", values[i]), ("eta_hat", eta_hat[i]), ("omega_prime", w.grad[i])):
                ref = refs[piece]
                if abs(ref) > big:  # beyond the dtype's range: inf is the rounded value
                    assert float(got) == math.copysign(math.inf, ref), (case, piece, x)
                    continue
                if abs(ref) < tiny:  # below the dtype's normal range: subnormal (absolute) accuracy
                    assert abs(float(got) - ref) <= tiny, (case, piece, x)
                    continue
                worst[piece] = max(worst[piece], rel_err(float(got), ref))
        assert max(worst.values()) <= tol, (case, dtype, worst)


@pytest.mark.parametrize("case", CATALOG)
def test_f_dual_matches_mpmath(case):
    """f(eta) at eta in a log grid 1e-6 .. 1e4 (float64, 1e-12 relative; absolute where f = 0)."""
    m = module(case)
    etas = np.geomspace(1e-6, 1e4, 21)
    got = m.f_dual(torch.tensor(etas, dtype=torch.float64))
    for e, g in zip(etas, got.tolist(), strict=True):
        ref = float(derivation(case).evaluate_mp("f_dual", float(e), 30))
        if math.isinf(ref):
            assert g == ref
        else:
            assert abs(g - ref) <= 1e-12 * max(abs(ref), 1e-3), (case, e, g, ref)


@pytest.mark.parametrize("case", CASES)
def test_gradcheck_float64_away_from_breakpoints(case):
    """torch.autograd.gradcheck of the penalty, eta_hat and f (double precision), kinks and caps avoided."""
    m = module(case)
    kinks = breakpoints(case)
    points = [x for x in (0.013, 0.2, 0.55, 0.9, 1.7, 3.1, 6.0, 25.0)
              if all(abs(x - k) > 0.02 * max(k, 1e-3) for k in kinks)]
    w = torch.tensor(points + [-p for p in points], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: m(t), (w,))
    assert torch.autograd.gradcheck(m.omega, (w,))
    finite = w[torch.isfinite(m.eta_hat(w))].detach().requires_grad_(True)  # eta_hat = oo beyond a cap
    assert torch.autograd.gradcheck(m.eta_hat, (finite,))
    if m.HAS_F_DUAL:
        etas = [e for e in (0.05, 0.3, 2.0, 7.0, 40.0)
                if all(abs(e - float(k)) > 0.02 * float(k) for k in _f_breakpoints(case))]
        eta = torch.tensor(etas, dtype=torch.float64, requires_grad=True)
        if all(math.isfinite(v) for v in m.f_dual(eta).tolist()):
            assert torch.autograd.gradcheck(m.f_dual, (eta,))


def _f_breakpoints(case: str) -> list[float]:
    d = derivation(case)
    return [float(e) for _, where in branches(d.f_dual, ETA) for e in (where.start, where.end) if e not in (0, sp.oo)]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_no_nan_or_inf_at_hard_points(case, dtype):
    """Values and gradients finite at 0, -0, +-1e-30, +-1e-8, the breakpoints and caps, +-1e4; p, q in
    [0, 1] and eta_hat, r never NaN there."""
    m = module(case)
    hard = [0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e4, -1e4] + [s * k for k in breakpoints(case) for s in (1, -1)]
    w = torch.tensor(hard, dtype=dtype, requires_grad=True)
    total = m(w)
    total.backward()
    assert total.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert total.dim() == 0 and torch.isfinite(total)
    assert torch.isfinite(m.omega(w)).all() and torch.isfinite(w.grad).all(), (case, dtype, w.grad)
    with torch.no_grad():
        p, q = m.drop_rate(w), m.keep_prob(w)
        assert ((p >= 0) & (p <= 1) & (q >= 0) & (q <= 1)).all(), (case, p, q)
        assert not torch.isnan(m.eta_hat(w)).any() and not torch.isnan(m.ratio(w)).any()


def _neighbourhood(b: float, dtype: torch.dtype) -> torch.Tensor:
    """b and its two float64 neighbours on each side (nextafter), then b's two neighbours in ``dtype``, sorted."""
    down, up = [b], [b]
    for _ in range(2):
        down.append(math.nextafter(down[-1], 0.0))
        up.append(math.nextafter(up[-1], math.inf))
    x = torch.tensor(down[1:] + [b] + up[1:], dtype=torch.float64).to(dtype)
    own = torch.full((1,), b, dtype=torch.float64).to(dtype)
    near = [torch.nextafter(own, torch.zeros_like(own)), torch.nextafter(own, torch.full_like(own, math.inf))]
    return torch.sort(torch.cat([x, *near])).values


@pytest.mark.parametrize("case", CATALOG + tuple(CAPPED))
@pytest.mark.parametrize("dtype", HALF_AND_UP)
def test_breakpoints_and_their_float_neighbours(case, dtype):
    """At each kink and cap and its neighbours (nextafter in float64 and in the dtype): eta_hat >= 0 (MCP's
    1 - sqrt(2) w rounded negative at w = fl(sqrt(2)/2): eta_hat = -3.2e15), p and q in [0, 1], r >= 0,
    Omega finite and nondecreasing across (no value left of b above one right of it: SCAD's parabola rounded
    above its cap; within one side the rounding of a flat top may wobble by an ulp), Omega' >= 0 and finite;
    in float64 Omega within 1e-12 of mpmath there."""
    m = module(case)
    ends = breakpoints(case)
    assert ends or case not in ("mcp", "scad", *CAPPED)
    for b in ends:
        x = _neighbourhood(b, dtype)
        w = x.clone().requires_grad_(True)
        omega = m.omega(w)
        omega.sum().backward()
        with torch.no_grad():
            eta, p, q, r = m.eta_hat(x), m.drop_rate(x), m.keep_prob(x), m.ratio(x)
        assert (eta >= 0).all() and (r >= 0).all(), (case, b, x.tolist(), eta.tolist())
        assert ((p >= 0) & (p <= 1) & (q >= 0) & (q <= 1)).all(), (case, b, p.tolist(), q.tolist())
        values = omega.detach()
        assert torch.isfinite(values).all(), (case, b, values.tolist())
        below, at, above = values[x < b], values[x == b], values[x > b]  # x == b: the dtype's rounding of b
        assert below.max() <= above.min() and (at.numel() == 0 or (below.max() <= at.min() <= above.min())), (
            case, b, x.tolist(), values.tolist())
        assert torch.isfinite(w.grad).all() and (w.grad >= 0).all(), (case, b, w.grad.tolist())
        if dtype == torch.float64:
            for xi, v in zip(x.tolist(), values.tolist(), strict=True):
                assert rel_err(v, mp_value(case, "omega", xi)) <= 1e-12, (case, xi, v)


def test_rates_at_eta_hat_zero_and_infinity():
    """l1: eta_hat(0) = 0 gives p = 1, q = 0, r = oo; MCP beyond its cap eta_hat = oo gives p = 0, q = 1, r = 0."""
    l1, mcp = module("l1"), module("mcp")
    zero = torch.zeros(3, dtype=torch.float32)
    assert l1.eta_hat(zero).eq(0).all()
    assert l1.drop_rate(zero).eq(1).all() and l1.keep_prob(zero).eq(0).all() and l1.ratio(zero).eq(math.inf).all()
    capped = torch.tensor([1.0, 5.0, -1e4], dtype=torch.float64)  # b = a lam = sqrt(2)/2
    assert mcp.eta_hat(capped).eq(math.inf).all()
    assert mcp.drop_rate(capped).eq(0).all() and mcp.keep_prob(capped).eq(1).all() and mcp.ratio(capped).eq(0).all()
    x = torch.tensor([0.3], dtype=torch.float64)
    eta = 0.3 / (1 - math.sqrt(2) * 0.3)
    lam = math.sqrt(2)
    assert math.isclose(mcp.drop_rate(x).item(), lam / (lam + eta), rel_tol=1e-15)
    assert math.isclose(mcp.keep_prob(x).item(), eta / (eta + lam), rel_tol=1e-15)
    assert math.isclose(mcp.ratio(x).item(), lam / eta, rel_tol=1e-15)


def test_half_precision_sum_of_a_million_parameters_is_finite():
    """10^6 float16 weights of 3.0: the float16 sum would overflow (max 65504); the result is float32."""
    m = module("logsum")
    w = torch.full((10**6,), 3.0, dtype=torch.float16)
    total = m(w)
    assert total.dtype == torch.float32 and torch.isfinite(total)
    assert math.isclose(total.item(), 1e6 * math.log1p(1.5), rel_tol=1e-5)


def test_forward_sums_all_tensors_times_lam_and_lam_buffer():
    m = sdt.penalty_module(derivation("logsum"), lam=0.25)
    a, b = torch.tensor([1.0, -2.0], dtype=torch.float64), torch.tensor([[4.0]], dtype=torch.float64)
    expected = 0.25 * (math.log1p(0.5) + math.log1p(1.0) + math.log1p(2.0))
    assert math.isclose(m(a, b).item(), expected, rel_tol=1e-15)
    assert m.lam.dtype == torch.float64 and m.lam.dim() == 0 and "lam" in dict(m.named_buffers())
    m.lam.fill_(1.0)
    assert math.isclose(m(a, b).item(), 4 * expected, rel_tol=1e-15)


def test_functions_bake_in_lam():
    d = derivation("rate_half")  # p = 1/(1 + w) at lam = 1/2: eta_hat = w/2
    x = torch.tensor([0.0, 0.5, 3.0], dtype=torch.float64)
    assert torch.equal(sdt.drop_rate_fn(d)(x), 1 / (1 + x))
    assert torch.allclose(sdt.drop_rate_fn(d, lam=1.0)(x), 1 / (1 + x / 2), rtol=1e-15, atol=0)
    assert torch.allclose(sdt.keep_prob_fn(d)(x), x / (1 + x), rtol=1e-15, atol=0)
    assert torch.allclose(sdt.ratio_fn(d)(x[1:]), 1 / x[1:], rtol=1e-15, atol=0)
    assert torch.equal(sdt.eta_hat_fn(d)(-x), x / 2)
    assert torch.allclose(sdt.f_dual_fn(d)(x), 4 * x, rtol=1e-15, atol=0)


# ------------------------------------------------------------------ prox
@functools.cache
def omega_numpy(case: str):
    """Omega of the derivation, lambdified by SymPy for NumPy (the reference objective of the prox)."""
    return sp.lambdify(W, derivation(case).omega, modules="numpy")


def objective(case: str, u: np.ndarray, z: float, t: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        omega = np.broadcast_to(np.asarray(omega_numpy(case)(u), dtype=np.float64), np.shape(u))
    return 0.5 * (u - abs(z)) ** 2 + t * np.where(u == 0, 0.0, omega)


def brute_force_prox(case: str, z: float, t: float) -> tuple[float, float]:
    """argmin over a grid of [0, |z|] (200001 points) of 1/2 (u - |z|)**2 + t Omega(u)."""
    u = np.linspace(0.0, abs(z), 200001)
    h = objective(case, u, z, t)
    i = int(np.argmin(h))
    return math.copysign(u[i], z), float(h[i])


@pytest.mark.parametrize("case", ["l1", "lp", "logsum", "mcp", "scad", "plain_dropout", "standout", "log2sum",
                                  "sigmoid_keep", "mcp_cap_1"])
def test_prox_equals_brute_force_argmin(case):
    m = module(case)
    zs = [-3.0, -0.9, -0.2, 0.05, 0.4, 0.8, 1.3, 2.5, 6.0]
    for step in (0.3, 1.0):
        got = m.prox(torch.tensor(zs, dtype=torch.float64), step).tolist()
        t = step * float(derivation(case).lam)
        for z, u in zip(zs, got, strict=True):
            u_ref, h_ref = brute_force_prox(case, z, t)
            h = float(objective(case, np.array([abs(u)]), z, t)[0])
            assert h <= h_ref + 1e-9, (case, z, step, u, u_ref)
            assert u == 0.0 or math.copysign(1.0, u) == math.copysign(1.0, z)
            assert abs(u - u_ref) <= 1e-3 * abs(z) + 2e-5 or abs(h - h_ref) <= 1e-9, (case, z, step, u, u_ref)


def test_prox_keeps_the_input_dtype_and_shape():
    m = module("logsum")
    z = torch.randn(4, 3, dtype=torch.float16)
    out = m.prox(z, torch.tensor(0.5))
    assert out.dtype == torch.float16 and out.shape == z.shape


@pytest.mark.parametrize("case", ["l1", "mcp", "scad", "logsum", "plain_dropout"])
def test_prox_is_the_symbolic_rule_of_symdual_prox(case):
    """These five have a closed-form prox (soft, firm and SCAD thresholds, LogSum's root against 0, the
    ridge shrinkage): the module prints it (no bisection in the text) and it is the rule of symdual.prox."""
    from symdual import prox

    text = sdt.to_source(derivation(case))
    assert "def _prox_abs(z, t):" in text and "u = _prox_abs(a, t)" in text and "for _ in range(60" not in text
    rule = prox.prox_expression(derivation(case))
    assert rule is not None and rule.expr is not None
    lam = float(derivation(case).lam)
    zs = [0.05, 0.4, 0.8, 1.3, 2.5, 6.0]
    for step in (0.3, 1.0):
        got = module(case).prox(torch.tensor(zs, dtype=torch.float64), step).tolist()
        for z, u in zip(zs, got, strict=True):
            ref = float(rule.expr.subs({prox.Z: sp.Rational(str(z)), prox.STEP: sp.Rational(str(step))}).evalf(30))
            assert abs(u - ref) <= 1e-12 * max(1.0, abs(ref)), (case, z, step, u, ref)
    if case == "l1":  # the soft threshold sign(z) max(|z| - step lam, 0), exactly
        z = torch.tensor([-3.0, -1.0, 0.5, 2.0, 7.0], dtype=torch.float64)
        assert torch.equal(module(case).prox(z, 0.5), torch.sign(z) * torch.clamp_min(z.abs() - 0.5 * lam, 0.0))


def _restarted() -> bool:
    """Whether dynamo restarted an analysis since its last reset (it times each attempt under this key)."""
    from torch._dynamo.utils import compilation_time_metrics

    return any(key.startswith("compile_attempt_") and key != "compile_attempt_0" for key in compilation_time_metrics)


@pytest.mark.parametrize("method", ["forward", "drop_rate", "prox"])
def test_compiled_methods_trace_once_and_lam_needs_no_recompile(method):
    """torch.compile(fullgraph=True) of MCP's forward, drop rate and prox: one analysis (a 0-dim float64 CPU
    tensor in the arithmetic made dynamo restart once), one graph after lam changes, values equal to eager."""
    from torch._dynamo.utils import counters

    m = sdt.penalty_module(derivation("mcp"))
    fn = getattr(m, method)
    call = (lambda f, x: f(x, 0.3)) if method == "prox" else (lambda f, x: f(x))
    torch._dynamo.reset()
    counters.clear()
    try:
        compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
        w = torch.linspace(-2.0, 2.0, 41, dtype=torch.float32)
        assert torch.equal(call(compiled, w), call(fn, w))
        with torch.no_grad():
            m.lam.fill_(0.3)
        assert torch.equal(call(compiled, w), call(fn, w))
        assert counters["stats"]["unique_graphs"] == 1 and not _restarted()
    finally:
        torch._dynamo.reset()


# ------------------------------------------------------------------ regressions of the issue
def test_mcp_prints_no_torch_call_on_a_number():
    """SymPy 1.14's TorchPrinter printed torch.sqrt(2) (a TypeError); constants are float literals."""
    text = sdt.to_source(derivation("mcp"))
    assert "torch.sqrt(2" not in text and "1.4142135623730951" in text
    w = torch.tensor([0.3, 0.7071067811865476, 2.0], dtype=torch.float64)
    assert torch.allclose(module("mcp").omega(w), torch.tensor([0.3 - 0.09 / math.sqrt(2), math.sqrt(2) / 4,
                                                                 math.sqrt(2) / 4], dtype=torch.float64))


def test_standout_is_finite_and_correct_at_800():
    """lambdify(modules='torch') gave NaN for Standout at w = 800; Omega(800) = 1 - 801 exp(-800) = 1."""
    m = module("standout")
    for dtype in (torch.float64, torch.float32):
        w = torch.tensor([800.0, -800.0], dtype=dtype, requires_grad=True)
        value = m.omega(w)
        value.sum().backward()
        assert value.tolist() == [1.0, 1.0] and w.grad.tolist() == [0.0, 0.0]
        p = m.drop_rate(w)
        assert p.tolist() == [0.0, 0.0] and m.keep_prob(w).tolist() == [1.0, 1.0]


def test_guarded_branches_leak_no_nan_gradient():
    """MCP's eta_hat branch w/(1 - sqrt(2) w) is infinite at the cap and negative beyond: evaluated at a
    guarded input there, so the gradient of the where chain is finite off the cap (plain torch.where gives NaN
    beyond it) and +inf at the cap itself, the pole's (never NaN, never negative)."""
    m = module("mcp")
    cap = 0.7071067811865476
    w = torch.tensor([0.2, math.nextafter(cap, 0), cap, 1.0, 3.0], dtype=torch.float64, requires_grad=True)
    m.eta_hat(w).sum().backward()
    assert torch.isfinite(w.grad[[0, 1, 3, 4]]).all() and w.grad[2].item() == math.inf
    assert w.grad[3:].eq(0).all() and math.isclose(w.grad[0].item(), 1 / (1 - math.sqrt(2) * 0.2) ** 2)
    assert w.grad[1].item() > 1e30


def test_poles_at_a_branch_end_are_printed_through_the_end():
    """The factor vanishing at the cap is printed as (b - x) with b the condition's literal: exact in floating
    point, so eta_hat = +inf at b and positive just below (sqrt(2)/2 and 37/10 for MCP and SCAD)."""
    for case, b in (("mcp", "0.7071067811865476"), ("scad", "3.7"), ("mcp_cap_1", "1.0")):
        text = sdt.to_source(derivation(case))
        start = text.index("def _eta_hat(")
        body = text[start:text.index("\n\n\n", start)]
        assert f"(x <= {b})" in body and f"({b} - x_" in body, (case, body)
        x = torch.tensor([float(b)], dtype=torch.float64)
        assert module(case).eta_hat(x).item() == math.inf


def test_vector_penalty_is_one_clear_line():
    with pytest.raises(InputError, match="non-separable") as err:
        sdt.penalty_module(sd.catalog.get("hardthresh"))
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ the printer
def _run(source) -> callable:
    namespace = {"torch": torch, "math": math}
    exec(source.code, namespace)
    return namespace[source.name]


def test_printer_refuses_functions_torch_lacks():
    with pytest.raises(Unsupported, match="erfi"):
        function_source("_f", sp.erfi(W), W)
    with pytest.raises(Unsupported, match="hyper"):
        function_source("_f", sp.hyper([1], [2], -W), W)


def test_printer_checks_symbols_and_names_before_printing():
    with pytest.raises(InputError, match="unknown symbol 'k'"):
        function_source("_f", W + sp.Symbol("k"), W)
    with pytest.raises(InputError, match="invalid name"):
        function_source("__import__", W, W)
    with pytest.raises(InputError, match="invalid name"):
        function_source("_f", W, W, arg="x; import os")


def test_piecewise_is_nan_where_no_branch_holds_and_max_min_fold():
    f = _run(function_source("_f", sp.Piecewise((W, W < 1), (2 * W, W < 2)), W))
    assert f(torch.tensor([0.5, 1.5, 3.0], dtype=torch.float64)).tolist()[:2] == [0.5, 3.0]
    assert math.isnan(f(torch.tensor([3.0], dtype=torch.float64)).item())
    expr = sp.Max(1, sp.Min(W, 3), W**2 / 8)
    src = function_source("_g", expr, W)
    assert "torch.max(" not in src.code and "clamp" in src.code
    g = _run(src)
    x = np.array([0.5, 2.0, 5.0, 10.0])
    assert g(torch.tensor(x, dtype=torch.float64)).tolist() == np.maximum(np.maximum(1, np.minimum(x, 3)),
                                                                          x**2 / 8).tolist()


def test_printer_rationalises_the_logsum_dual():
    """The LogSum dual without cancellation: at eta = 1e-12 the form (sqrt(eps^2 + 4 eta) - eps)^2/(4 eta) loses
    every digit; the printed one agrees with mpmath to 1e-14 in float64 and its float32 gradient is right."""
    d = derivation("logsum")
    f = _run(function_source("_f", d.f_dual, ETA, "eta"))
    for e in (1e-12, 1e-7, 1e-3, 1.0, 1e3):
        ref = float(d.evaluate_mp("f_dual", e, 30))
        assert rel_err(f(torch.tensor([e], dtype=torch.float64)).item(), ref) <= 1e-14
    eta = torch.tensor([1e-8], dtype=torch.float32, requires_grad=True)
    f(eta).backward()
    with mpmath.workdps(30):
        slope = float(mpmath.diff(lambda e: d.evaluate_mp("f_dual", e, 30), mpmath.mpf("1e-8")))
    assert rel_err(eta.grad.item(), slope) <= 1e-5
