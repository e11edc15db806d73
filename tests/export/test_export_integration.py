"""The exported penalty modules inside PyTorch's machinery: torch.compile(fullgraph=True) equal to eager with no
recompile when lam changes, torch.func.grad and vmap, state_dict, .to(float64), pickle, and
DistributedDataParallel (2 processes, gloo, CPU) giving the same gradients on both ranks.

Two closed forms (LogSum(eps=2), MCP(a=1/2, lam=sqrt 2)) and one table (variational dropout, exact KL).
References: the closed forms written here at 30 digits (mpmath); for vardrop_exact the certified mpmath path
``d.evaluate_mp``, itself checked here against an independent minimisation of the eta-trick objective.
"""
from __future__ import annotations

import copy
import functools
import pickle
import socket
import subprocess
import sys
import textwrap

import mpmath as mp
import pytest

torch = pytest.importorskip("torch")

NAMES = ["logsum", "mcp", "vardrop_exact"]
POINTS = [-1e4, -37.0, -3.0, -0.9, -0.5, -1e-8, 0.0, 1e-30, 0.05, 0.3, 0.69, 0.75, 2.0, 50.0, 1e4]
"""Away from MCP's cap b = 1/sqrt 2 (Omega' jumps to 0 there) by more than 0.01."""
MCP_B = mp.sqrt(2) / 2
DPS = 30


@functools.cache
def derivation(name: str):
    import symdual as sd

    return sd.catalog.derive(name, timeout=20)  # a generous CAS budget: the machine may be loaded


@functools.cache
def _module(name: str):
    from symdual.export import torch as sdt

    return sdt.penalty_module(derivation(name))


def module(name: str):
    """A fresh copy of the exported penalty module (built once per name)."""
    return copy.deepcopy(_module(name))


def omega_ref(name: str, x: mp.mpf) -> mp.mpf:
    """Omega(x) - Omega(0) at DPS digits."""
    a = abs(x)
    if name == "logsum":
        return mp.log1p(a / 2)
    if name == "mcp":
        return a - a * a / (2 * MCP_B) if a <= MCP_B else MCP_B / 2
    d = derivation(name)
    return d.evaluate_mp("omega", a, dps=DPS) - d.evaluate_mp("omega", 0, dps=DPS)


def omega_prime_ref(name: str, x: mp.mpf) -> mp.mpf:
    """Omega'(x), sign included (x/eta_hat(|x|) by the envelope theorem)."""
    a, s = abs(x), mp.sign(x)
    if name == "logsum":
        return s / (a + 2)
    if name == "mcp":
        return s * (1 - a / MCP_B) if a <= MCP_B else mp.mpf(0)
    return x / derivation(name).evaluate_mp("eta_hat", a, dps=DPS) if x != 0 else mp.mpf(0)


def lam(name: str) -> float:
    return float(derivation(name).lam)


def value_ref(name: str, points: list[float], lam_value: float | None = None) -> float:
    with mp.workdps(DPS):
        total = mp.fsum(omega_ref(name, mp.mpf(x)) for x in points)
        return float(mp.mpf(lam(name) if lam_value is None else lam_value) * total)


def grad_ref(name: str, points: list[float]) -> torch.Tensor:
    with mp.workdps(DPS):
        return torch.tensor([float(lam(name) * omega_prime_ref(name, mp.mpf(x))) for x in points],
                            dtype=torch.float64)


RTOL = {"logsum": 1e-12, "mcp": 1e-12, "vardrop_exact": 1e-10}


def w64() -> torch.Tensor:
    return torch.tensor(POINTS, dtype=torch.float64)


def test_vardrop_reference_is_the_eta_trick_minimum():
    """Omega(w) = 1/2 min_eta [w**2/eta + f(eta)], f(eta) - f(0+) = eta 2F2(1, 1; 3/2, 2; -eta/2), minimised over
    log eta independently of symdual: equal to the certified mpmath path used as the reference above."""
    with mp.workdps(DPS):
        def g(eta):
            return eta * mp.hyp2f2(1, 1, mp.mpf(3) / 2, 2, -eta / 2)

        def g_prime(eta):  # d/dz pFq(a; b; z) = (prod a / prod b) pFq(a + 1; b + 1; z)
            return mp.hyp2f2(1, 1, mp.mpf(3) / 2, 2, -eta / 2) - eta / 6 * mp.hyp2f2(2, 2, mp.mpf(5) / 2, 3, -eta / 2)

        for x in ("0.5", "3"):
            w = mp.mpf(x)

            def objective(t, w=w):  # over t = log eta
                return (w * w / mp.exp(t) + g(mp.exp(t))) / 2

            t = mp.findroot(lambda t, w=w: -w * w / mp.exp(t) + mp.exp(t) * g_prime(mp.exp(t)), mp.log(w * w + w))
            assert abs(objective(t) - omega_ref("vardrop_exact", w)) < mp.mpf(10) ** -25
            assert abs(mp.exp(t) - derivation("vardrop_exact").evaluate_mp("eta_hat", w, dps=DPS)) < 1e-20


@pytest.mark.parametrize("name", NAMES)
def test_eager_values_and_gradients(name):
    w = w64().requires_grad_()
    m = module(name)
    y = m(w)
    assert y.dim() == 0 and y.dtype == torch.float64
    assert float(y.detach()) == pytest.approx(value_ref(name, POINTS), rel=RTOL[name])
    (g,) = torch.autograd.grad(y, w)
    assert torch.allclose(g, grad_ref(name, POINTS), rtol=RTOL[name], atol=1e-300)


def graphs_compiled() -> int:
    """Graphs dynamo has handed to a backend since the last reset (a recompile adds one)."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


@pytest.mark.parametrize("name", NAMES)
def test_compile_fullgraph_equals_eager_and_lam_needs_no_recompile(name):
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    m = module(name)
    # aot_eager: dynamo's graph and AOTAutograd's forward and backward, as inductor gets them (without C++ builds)
    compiled = torch.compile(m, backend="aot_eager", fullgraph=True)  # a graph break raises
    w = w64().requires_grad_()
    y = compiled(w)
    (g,) = torch.autograd.grad(y, w)
    y_eager = m(w)
    (g_eager,) = torch.autograd.grad(y_eager, w)
    assert torch.allclose(y, y_eager, rtol=1e-14, atol=0) and torch.allclose(g, g_eager, rtol=1e-14, atol=1e-300)
    assert graphs_compiled() == 1
    with torch.no_grad():
        m.lam.fill_(2.5)
    y2 = compiled(w)
    (g2,) = torch.autograd.grad(y2, w)
    assert graphs_compiled() == 1  # the 0-dim buffer changed: same graph, no recompile
    assert float(y2.detach()) == pytest.approx(value_ref(name, POINTS, 2.5), rel=RTOL[name])
    assert torch.allclose(g2, grad_ref(name, POINTS) * (2.5 / lam(name)), rtol=RTOL[name], atol=1e-300)
    torch._dynamo.reset()


@pytest.mark.slow
def test_inductor_compiles_the_table_penalty_to_eager_values():
    """The real compiler (inductor, C++ on CPU: its one costly compile, ~10-30 s) on the autograd.Function of the
    table-based penalty, forward and backward."""
    torch._dynamo.reset()
    m = module("vardrop_exact")
    compiled = torch.compile(m, fullgraph=True)
    w = (torch.linspace(-6, 6, 257, dtype=torch.float32) ** 3).requires_grad_()
    y = compiled(w)
    (g,) = torch.autograd.grad(y, w)
    y_eager = m(w)
    (g_eager,) = torch.autograd.grad(y_eager, w)
    assert torch.allclose(y, y_eager, rtol=1e-5) and torch.allclose(g, g_eager, rtol=1e-5, atol=1e-7)
    torch._dynamo.reset()


@pytest.mark.parametrize("name", NAMES)
def test_func_grad_and_vmap(name):
    m = module(name)
    w = w64()
    g = torch.func.grad(m)(w)
    assert torch.allclose(g, grad_ref(name, POINTS), rtol=RTOL[name], atol=1e-300)
    rows = torch.stack([w, -w.flip(0), w / 7])
    values = torch.func.vmap(m)(rows)
    assert values.shape == (3,)
    for i, row in enumerate(rows):
        assert float(values[i]) == pytest.approx(value_ref(name, row.tolist()), rel=RTOL[name])
    per_row = torch.func.vmap(torch.func.grad(m))(rows)
    for i, row in enumerate(rows):
        assert torch.allclose(per_row[i], grad_ref(name, row.tolist()), rtol=RTOL[name], atol=1e-300)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_and_float64(name):
    m = module(name)
    with torch.no_grad():
        m.lam.fill_(0.375)
    state = m.state_dict()
    assert state["lam"].dtype == torch.float64 and state["lam"].dim() == 0
    fresh = type(m)()  # the generated class, its defaults the derivation's parameters
    assert float(fresh.lam) == pytest.approx(lam(name), rel=1e-15)
    fresh.load_state_dict(state)
    w = w64()
    assert torch.equal(fresh(w), m(w)) and float(fresh.lam) == 0.375
    wide = copy.deepcopy(m).to(torch.float64)
    assert float(wide(w)) == pytest.approx(value_ref(name, POINTS, 0.375), rel=RTOL[name])
    w32 = w.to(torch.float32)
    y32 = wide(w32)
    assert y32.dtype == torch.float32
    assert float(y32) == pytest.approx(value_ref(name, w32.tolist(), 0.375), rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip(name):
    m = module(name)
    with torch.no_grad():
        m.lam.fill_(1.25)
    back = pickle.loads(pickle.dumps(m))
    w = w64()
    assert type(back) is type(m) and torch.equal(back(w), m(w)) and float(back.lam) == 1.25


# ------------------------------------------------------------------------------------------------- DDP

DDP_SCRIPT = textwrap.dedent('''
    import importlib.util
    import sys

    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel


    def penalty_class(path, name):
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return [v for v in vars(mod).values()
                if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == name][0]


    class Net(nn.Module):
        """y = (a + b) x, loss 1/2 mean (y - t)**2 + penalty_a(a) + penalty_b(b)."""

        def __init__(self, penalty_a, penalty_b):
            super().__init__()
            self.a = nn.Linear(6, 1, bias=False, dtype=torch.float64)
            self.b = nn.Linear(6, 1, bias=False, dtype=torch.float64)
            self.penalty_a, self.penalty_b = penalty_a, penalty_b

        def forward(self, x, t):
            y = (self.a(x) + self.b(x)).squeeze(-1)
            return 0.5 * ((y - t) ** 2).mean() + self.penalty_a(self.a.weight) + self.penalty_b(self.b.weight)


    if __name__ == "__main__":
        torch.set_num_threads(1)
        rank, port, source_a, source_b, out = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:6]
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
        torch.manual_seed(rank)  # different initial weights: DDP broadcasts rank 0's
        net = Net(penalty_class(source_a, "penalty_a")(), penalty_class(source_b, "penalty_b")())
        model = DistributedDataParallel(net)
        gen = torch.Generator().manual_seed(100 + rank)
        x = torch.randn(32, 6, generator=gen, dtype=torch.float64)
        t = torch.randn(32, generator=gen, dtype=torch.float64)
        model(x, t).backward()
        torch.save({"a": net.a.weight.detach(), "b": net.b.weight.detach(), "grad_a": net.a.weight.grad,
                    "grad_b": net.b.weight.grad, "x": x, "t": t}, f"{out}/rank{rank}.pt")
        dist.destroy_process_group()
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_gloo_two_ranks_same_gradients(tmp_path):
    """Two processes (gloo, CPU) build LogSum and variational dropout from their to_source files; DDP averages
    the two ranks' data gradients: both ranks end with the mean data gradient + lam * Omega'(w) of each
    penalty, computed here without DDP."""
    from symdual.export import torch as sdt

    sources = []
    for name in ("logsum", "vardrop_exact"):
        sources.append(tmp_path / f"{name}_gen.py")
        sources[-1].write_text(sdt.to_source(derivation(name)))
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    port = str(free_port())
    ranks = [subprocess.Popen([sys.executable, str(script), str(rank), port, *map(str, sources), str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    try:
        for proc in ranks:
            _, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
    finally:
        for proc in ranks:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for key in ("a", "b", "grad_a", "grad_b"):
        assert torch.equal(r0[key], r1[key]), key
    a, b = r0["a"].squeeze(0), r0["b"].squeeze(0)
    data = [r["x"].T @ (r["x"] @ (a + b) - r["t"]) / len(r["t"]) for r in (r0, r1)]
    assert not torch.allclose(data[0], data[1])  # the ranks' data differ: the average is seen
    mean = (data[0] + data[1]) / 2
    assert torch.allclose(r0["grad_a"].squeeze(0), mean + grad_ref("logsum", a.tolist()), rtol=1e-10, atol=1e-14)
    assert torch.allclose(r0["grad_b"].squeeze(0), mean + grad_ref("vardrop_exact", b.tolist()), rtol=1e-9,
                          atol=1e-14)
