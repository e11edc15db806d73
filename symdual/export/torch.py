"""PyTorch export of a derivation: penalty modules, the rule as tensor functions, standalone source.

    from symdual.export import torch as sdt
    module = sdt.penalty_module(d)          # forward(*tensors) = lam * sum_j (Omega(w_j) - Omega(0)), 0-dim
    sdt.eta_hat_fn(d)(w); sdt.drop_rate_fn(d)(w); sdt.keep_prob_fn(d)(w); sdt.ratio_fn(d)(w)
    sdt.f_dual_fn(d)(eta); sdt.prox_fn(d)(z, step)  # prox of step * lam * Omega, elementwise
    text = sdt.to_source(d)                 # a module importing only torch and math
    sdt.prune_(model)                       # exact zeros where the keep probability is below tol

Every function is built from the one text :func:`to_source` returns (``penalty_module`` executes it), so
the standalone file and the in-process module cannot drift apart. Pieces:

* Omega(|w|) - Omega(0) through an ``autograd.Function`` whose backward is sign(w) Omega'(|w|) from the
  certified derivative (0 at w = 0, the subgradient ``torch.abs`` uses);
* eta_hat, drop rate p = lam/(lam + eta_hat), keep probability q = 1/(1 + lam/eta_hat), ratio r = lam/eta_hat
  (p and q finite in [0, 1] at eta_hat = 0 and oo; eta_hat = oo and r = oo where they are infinite);
* f(eta), and the prox (a closed form from :mod:`symdual.prox` where it derives one, else bisection).

Only certified pieces are exported: a closed form whose provenance is exact ('closed form', 'given' or
'supplied'); a penalty without one goes through the Chebyshev tables of :mod:`symdual.export.tables`.
Float16/bfloat16 inputs are computed and summed in float32. Parameters other than lam are fixed at
derivation time (the class takes them only at those values).
"""
from __future__ import annotations

import hashlib
import linecache
import math
import re
import sys
import types
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import sympy as sp
import torch

from ..bounded import bounded
from ..errors import InputError
from ..parsing import safe_identifier
from ..piecewise import branches
from ..rules import eta as ETA
from ..rules import w as W
from .printer import HELPERS, FunctionSource, Unsupported, expression_source, function_source
from .pruning import prune_, sparsity

__all__ = ["penalty_module", "eta_hat_fn", "drop_rate_fn", "keep_prob_fn", "ratio_fn", "f_dual_fn", "prox_fn",
           "to_source", "prune_", "sparsity", "CERTIFIED_METHODS"]

CERTIFIED_METHODS = ("closed form", "given", "supplied")
"""Provenance methods of a closed form that may be exported (with precision 'exact')."""
CHECK_POINTS = (1e-6, 0.1, 0.5, 1.0, 3.0, 50.0)
"""Weights (and etas) of the self-check embedded in a standalone module."""
SERIES_TIMEOUT = 4.0
"""Seconds for one series at 0+ (a bounded CAS call)."""
_GRID = np.geomspace(1e-8, 1e4, 49)


# ---------------------------------------------------------------------- which pieces are exported
def _certified(d: Any, piece: str) -> sp.Expr | None:
    """The piece's closed form if its provenance certifies it exact, else None."""
    expr = getattr(d, piece, None)
    prov = d.provenance.get(piece)
    if expr is None or prov is None or prov.method not in CERTIFIED_METHODS:
        return None
    if prov.precision.split(";")[0].strip() != "exact":
        return None
    return expr


def _check_derivation(d: Any) -> None:
    if not getattr(d, "separable", True):
        raise InputError(f"{getattr(d, 'name', 'this penalty')} is non-separable (a penalty of the whole vector): "
                         "there is no elementwise torch export")
    if not hasattr(d, "provenance") or not hasattr(d, "omega"):
        raise InputError(f"expected a Derivation from symdual.derive, got {type(d).__name__}")


def _limit(d: Any, key: str) -> sp.Expr | None:
    value = d.limits.get(key)
    return value if isinstance(value, sp.Basic) and value.is_number and value.is_finite else None


def _series_near_zero(expr: sp.Expr, x: sp.Symbol, fn: Callable) -> tuple[sp.Expr, float, float] | None:
    """A series at 0+ for 0 < x < 0.1 (float64) and x < 0.5 (other dtypes) where the float64 closed form
    cancels (relative error above 1e-13 on [1e-8, 1]); certified at 50 digits: truncation error below 1e-17
    at 0.1 and 1e-10 at 0.5. None when not needed or not found."""
    grid = np.geomspace(1e-8, 1.0, 33)
    exact = sp.lambdify(x, expr, modules="mpmath")
    with torch.no_grad():
        got = fn(torch.tensor(grid, dtype=torch.float64)).numpy()
    try:
        with mpmath.workdps(30):
            ref = np.array([float(exact(mpmath.mpf(float(g)))) for g in grid])
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):  # no real mpmath value: no series
        return None
    with np.errstate(invalid="ignore"):
        fine = (got == ref) | (np.abs(got - ref) <= 1e-13 * np.abs(ref))
    if np.all(fine):
        return None
    for order in (12, 16, 20, 26):
        out = bounded(lambda e, n: sp.series(e, x, 0, n).removeO(), expr, order, timeout=SERIES_TIMEOUT)
        if not out.ok:
            return None
        poly = out.value
        if poly.has(sp.log) or poly.free_symbols - {x} or not poly.is_polynomial(x):
            return None
        series = sp.lambdify(x, poly, modules="mpmath")
        with mpmath.workdps(50):
            ok = all(abs(series(mpmath.mpf(p)) - exact(mpmath.mpf(p))) <= tol * abs(exact(mpmath.mpf(p)))
                     for p, tol in ((0.1, 1e-17), (0.03, 1e-17), (0.5, 1e-10), (0.25, 1e-10)))
        if ok:
            return sp.horner(poly, x), 0.1, 0.5
    return None


def _compiled(source: FunctionSource) -> Callable:
    namespace: dict[str, Any] = {"torch": torch, "math": math}
    for helper in source.helpers:
        exec(HELPERS[helper], namespace)  # noqa: S102 - text printed by symdual's own printer
    exec(source.code, namespace)  # noqa: S102
    return namespace[source.name]


def _lowered(name: str, expr: sp.Expr, x: sp.Symbol, arg: str, at_zero: sp.Expr | None) -> FunctionSource:
    """The printed function, with a series at 0+ where the closed form cancels."""
    plain = function_source(name, expr, x, arg, at_zero=at_zero)
    (head, where), *rest = branches(expr, x)
    if where.start != 0 or (rest and where.end <= 0.5):  # the series must cover [0, 0.5) of the first branch
        return plain
    near = _series_near_zero(head, x, _compiled(function_source(name, head, x, arg, at_zero=at_zero)))
    return plain if near is None else function_source(name, expr, x, arg, at_zero=at_zero, near_zero=near)


def _measured(fn: Callable, d: Any, piece: str, offset: float, points: np.ndarray) -> float:
    """Largest relative error of the float64 function against d.evaluate_mp (30 digits) on ``points``."""
    with torch.no_grad():
        got = fn(torch.tensor(points, dtype=torch.float64)).numpy()
    worst = 0.0
    for x, g in zip(points, got, strict=True):
        ref = float(d.evaluate_mp(piece, float(x), 30)) - offset
        if ref == g or (math.isinf(ref) and ref == g):
            continue
        worst = max(worst, abs(g - ref) / max(abs(ref), 1e-300))
    return worst


# ---------------------------------------------------------------------- the pieces of one module
class _Pieces:
    """What one derivation exports: printed functions (or table code), texts for the docstring."""

    def __init__(self, d: Any) -> None:
        _check_derivation(d)
        self.d = d
        self.functions: list[FunctionSource] = []
        self.notes: list[str] = []
        self.table: Any = None
        self.omega0 = _limit(d, "omega@0") or sp.Integer(0)
        omega = _certified(d, "omega")
        prime = _certified(d, "omega_prime")
        if omega is not None and prime is None:
            prime = sp.diff(omega, W)
        try:
            if omega is None:
                raise Unsupported(f"omega has no certified closed form ({d.provenance.get('omega')})")
            self._add("_omega", omega - self.omega0, W, "x", sp.Integer(0))
            self._add("_omega_prime", prime, W, "x", sp.Integer(0))
            self.omega_kind = "closed form"
        except Unsupported as why:
            self._use_table(why)
        eta_hat = _certified(d, "eta_hat")
        self.eta_kind = "table" if self.table is not None else "closed form"
        if eta_hat is not None and self.table is None:
            try:
                self._add("_eta_hat", eta_hat, W, "x", _limit(d, "eta_hat@0"))
            except Unsupported as why:
                raise InputError(f"eta_hat of {d.title()}: {why}") from None
        elif self.table is None:
            raise InputError(f"eta_hat of {d.title()} has no certified closed form ({d.provenance.get('eta_hat')})")
        self.f_note = ""
        f_dual = _certified(d, "f_dual")
        self.has_f = False
        if f_dual is not None:
            try:
                self._add("_f_dual", f_dual, ETA, "eta", None)
                self.has_f = True
            except (Unsupported, InputError) as why:
                self.f_note = str(why)
        else:
            self.f_note = f"f has no certified closed form ({d.provenance.get('f_dual')})"
        self.prox = self._prox()
        self.cap = self._cap(omega)

    def _add(self, name: str, expr: sp.Expr, x: sp.Symbol, arg: str, at_zero: sp.Expr | None) -> None:
        self.functions.append(_lowered(name, expr, x, arg, at_zero))

    def _use_table(self, why: Exception) -> None:
        try:
            from . import tables
        except ImportError:
            raise InputError(f"{why}; the table export (symdual.export.tables) is not available") from None
        table_omega = tables.fit_table(self.d, piece="omega")
        table_eta = tables.fit_table(self.d, piece="eta_hat") if _certified(self.d, "eta_hat") is None else None
        self.table = tables.table_source(table_omega, table_eta)
        self.omega_kind = "table"
        self.notes.append(f"Omega: Chebyshev table ({why}). {self.table.doc}")
        if table_eta is None and _certified(self.d, "eta_hat") is not None:
            self.notes.append("eta_hat: from the table")

    def _prox(self) -> FunctionSource | str | None:
        """The closed-form prox from symdual.prox as a printed function of (z, t), t = step * lam; else None."""
        try:
            from .. import prox as prox_module
        except ImportError:
            return None
        try:
            rule = prox_module.prox_expression(self.d)
        except Exception as why:  # noqa: BLE001 - any failure there leaves the bisection fallback
            self.notes.append(f"prox: bisection (the symbolic prox failed: {' '.join(str(why).split())[:120]})")
            return None
        if rule is None or getattr(rule, "expr", None) is None:
            return None
        z, step = prox_module.Z, prox_module.STEP
        t = sp.Symbol("t", positive=True)
        expr = rule.expr.xreplace({step: t / self.d.lam})
        try:
            lines, result, helpers = expression_source(expr, {z: "z", t: "t"})
        except InputError as why:
            self.notes.append(f"prox: bisection (the symbolic prox has no torch form: {why})")
            return None
        code = ('def _prox_abs(z, t):\n    """argmin_u 1/2 (u - z)**2 + t Omega(u) for z >= 0 (t = step * lam): '
                f'{" ".join(str(rule.expr).split())[:80]}."""\n' + "\n".join(lines)
                + (("\n" if lines else "") + f"    return {result}\n"))
        return FunctionSource("_prox_abs", code, helpers)

    def _cap(self, omega: sp.Expr | None) -> str:
        """The docstring's note on a capped penalty (constant Omega, zero gradient beyond w_c)."""
        w_c = self.d.limits.get("w_critical")
        if omega is not None:
            parts = branches(omega, W)
            if len(parts) > 1 and not parts[-1][0].has(W):
                w_c = parts[-1][1].start
        if w_c is None:
            return ""
        prime = _certified(self.d, "omega_prime")
        jump = ""
        if prime is not None:
            out = bounded(sp.limit, prime, W, w_c, "-", timeout=SERIES_TIMEOUT)
            if out.ok and out.value.is_number and out.value.is_finite:
                jump = (f"; Omega' jumps from {float(out.value):.6g} to 0 there" if out.value != 0
                        else "; Omega' is continuous there")
        return (f"Capped: beyond |w| = w_c = {float(w_c):.17g} Omega is constant (lam * Omega(oo)) with zero gradient "
                f"and eta_hat = oo (never dropped){jump}.")


# ---------------------------------------------------------------------- the module text
def _class_name(d: Any) -> str:
    base = re.sub(r"[^0-9A-Za-z]+", " ", d.name or "derived").title().replace(" ", "")
    return safe_identifier(base if base[:1].isalpha() else "Derived" + base) + "Penalty"


def _param_items(d: Any) -> list[tuple[str, float]]:
    out = []
    for name, value in d.params.items():
        safe_identifier(name)
        if name in ("self", "lam", "tensors"):
            raise InputError(f"a parameter named {name!r} cannot be a keyword of the generated module")
        out.append((name, float(value)))
    return out


def _docstring(d: Any, pieces: _Pieces, errors: dict[str, float]) -> str:
    prov = {k: " ".join(str(v).split()) for k, v in d.provenance.items()}
    lines = [f"{d.title()}: penalty exported by symdual for PyTorch.", "",
             "    Omega(w) = 1/2 inf_eta [w**2/eta + f(eta)],  eta_hat(w) = argmin,  p = lam/(lam + eta_hat).", "",
             f"Omega(w)   = {d.omega}", f"    [{prov.get('omega', '')}]",
             f"eta_hat(w) = {d.eta_hat}", f"    [{prov.get('eta_hat', '')}]",
             f"f(eta)     = {d.f_dual}", f"    [{prov.get('f_dual', '')}]", "",
             f"Derived at lam = {d.lam}" + "".join(f", {k} = {v}" for k, v in d.params.items())
             + " (w stands for |w|: the penalty is even). The lam buffer scales the penalty and enters p, q, r;",
             "Omega itself was derived at the lam above (re-derive for another lam where it depends on it).", ""]
    for piece, err in errors.items():
        lines.append(f"Measured float64 relative error of {piece} vs mpmath (30 digits) on {len(_GRID)} points of "
                     f"[1e-8, 1e4]: {err:.1e}.")
    if pieces.cap:
        lines.append(pieces.cap)
    if pieces.f_note:
        lines.append(f"f_dual is not available: {pieces.f_note}.")
    lines.extend(pieces.notes)
    lines.append("Run this file to check it against values embedded at generation (mpmath, 30 digits).")
    text = "\n".join(lines).replace("\\", "\\\\").replace('"""', "'''")
    return '"""' + text + '\n"""'


def _check_values(d: Any, pieces: _Pieces) -> list[tuple[str, float, float]]:
    offset = float(pieces.omega0)
    out = []
    for x in CHECK_POINTS:
        out.append(("omega", x, float(d.evaluate_mp("omega", x, 30)) - offset))
        out.append(("eta_hat", x, float(d.evaluate_mp("eta_hat", x, 30))))
        if pieces.has_f:
            out.append(("f_dual", x, float(d.evaluate_mp("f_dual", x, 30))))
    return out


_METHODS = '''
    def omega(self, w):
        """Omega(|w|) - Omega(0) elementwise (float32 for half inputs); differentiable."""
        {omega_body}

    def forward(self, *tensors):
        """lam * sum over all entries of all tensors of Omega(|w|) - Omega(0): a 0-dim tensor."""
        total = torch.zeros((), dtype=torch.float32, device=self.lam.device)
        for t in tensors:
            total = total + self.omega(t).sum()
        return self.lam.to(total.dtype) * total

    def eta_hat(self, w):
        """eta_hat(|w|) elementwise (oo where the penalty is capped)."""
        {eta_body}

    def drop_rate(self, w):
        """p = lam/(lam + eta_hat(|w|)): 1 at eta_hat = 0, 0 at eta_hat = oo."""
        eta = self.eta_hat(w)
        lam = self.lam.to(eta.dtype)
        return lam / (lam + eta)

    def keep_prob(self, w):
        """q = eta_hat/(eta_hat + lam) = 1/(1 + lam/eta_hat): 0 at eta_hat = 0, 1 at eta_hat = oo."""
        eta = self.eta_hat(w)
        return 1.0 / (1.0 + self.lam.to(eta.dtype) / eta)

    def ratio(self, w):
        """r = p/q = lam/eta_hat(|w|) (oo at eta_hat = 0, 0 at eta_hat = oo)."""
        eta = self.eta_hat(w)
        return self.lam.to(eta.dtype) / eta

    def f_dual(self, eta):
        """f(eta) elementwise for eta >= 0 (NaN below 0)."""
        {f_body}

    def prox(self, z, step):
        """argmin_u 1/2 (u - z)**2 + step * lam * Omega(u), elementwise (odd in z), a tensor like z."""
        x = _compute(z)
        a = torch.abs(x)
        t = torch.as_tensor(step, dtype=a.dtype, device=a.device) * self.lam.to(a.dtype)
        {prox_body}
        return (torch.sign(x) * u).to(z.dtype)
'''

_BISECTION = '''t = t.expand_as(a) if t.dim() == 0 else torch.broadcast_to(t, a.shape)
        n = 16
        grid = torch.arange(1, n + 1, dtype=a.dtype, device=a.device) / n
        u = a.unsqueeze(-1) * grid
        g = u + t.unsqueeze(-1) * self._omega_prime_abs(u) - a.unsqueeze(-1)
        steps = torch.arange(n, device=a.device)
        last = torch.where(g < 0, steps, -1).amax(-1)
        lo = a * (last + 1).to(a.dtype) / n
        hi = torch.minimum(lo + a / n, a)
        for _ in range(60 if a.dtype == torch.float64 else 30):
            mid = 0.5 * (lo + hi)
            below = mid + t * self._omega_prime_abs(mid) - a < 0
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        u = 0.5 * (lo + hi)
        objective = 0.5 * torch.square(u - a) + t * self._omega_abs(u)
        u = torch.where(objective < 0.5 * torch.square(a), u, torch.zeros_like(u))'''


def _class_text(d: Any, pieces: _Pieces, name: str) -> str:
    params = _param_items(d)
    sig = ", ".join([f"lam={float(d.lam)!r}"] + (["*"] + [f"{k}={v!r}" for k, v in params] if params else []))
    checks = "".join(f"\n        if {k} != {v!r}:\n            raise ValueError(\"this module was generated for "
                     f"{k} = {v!r}: export the rule again for {k} = \" + repr({k}))" for k, v in params)
    buffers = ""
    if pieces.table is not None:
        buffers = "".join(f"\n        self.register_buffer({b!r}, {expr}, persistent=False)"
                          for b, expr in pieces.table.buffers.items())
    if pieces.omega_kind == "closed form":
        omega_body = "return _Omega.apply(_compute(w))"
        helpers = ('\n    def _omega_abs(self, a):\n        return _omega(a)\n'
                   '\n    def _omega_prime_abs(self, a):\n        return _omega_prime(a)\n')
    else:
        omega_body = f"w = _compute(w)\n        return {pieces.table.omega_call}"
        helpers = (f'\n    def _omega_abs(self, w):\n        return {pieces.table.omega_call}\n'
                   f'\n    def _omega_prime_abs(self, w):\n        eta = {pieces.table.eta_hat_call}\n'
                   '        return torch.where(w > 0, w / torch.where(w > 0, eta, 1.0), torch.zeros_like(w))\n')
    if pieces.eta_kind == "closed form":
        eta_body = "return _eta_hat(torch.abs(_compute(w)))"
    else:
        eta_body = f"w = _compute(w)\n        return {pieces.table.eta_hat_call}"
    if pieces.has_f:
        f_body = ("eta = _compute(eta)\n        return torch.where(eta < 0, math.nan, "
                  "_f_dual(torch.clamp_min(eta, 0.0)))")
    else:
        f_body = f"raise NotImplementedError({('f_dual is not available: ' + pieces.f_note)!r})"
    prox_body = "u = _prox_abs(a, t)" if isinstance(pieces.prox, FunctionSource) else _BISECTION
    doc = (f'"""{d.title()} (lam * sum Omega(|w|) - Omega(0)); defaults: the derivation\'s lam and parameters.\n\n'
           "    The lam buffer (0-dim float64) may be changed in place (no recompile under torch.compile).\n    \"\"\"")
    head = (f"class {name}(torch.nn.Module):\n    {doc}\n\n"
            f"    HAS_F_DUAL = {pieces.has_f!r}\n    F_DUAL_NOTE = {pieces.f_note!r}\n\n"
            f"    def __init__(self, {sig}):\n"
            f"        super().__init__(){checks}\n"
            "        self.register_buffer(\"lam\", torch.tensor(float(lam), dtype=torch.float64))"
            f"{buffers}\n"
            + "".join(f"        self.{k} = {k}\n" for k, _ in params))
    body = _METHODS.format(omega_body=omega_body, eta_body=eta_body, f_body=f_body, prox_body=prox_body)
    return head + body + helpers


_PRELUDE = '''

def _compute(t):
    """t in its compute dtype: float32 for float16, bfloat16 and integer tensors, else its own."""
    if t.dtype in (torch.float16, torch.bfloat16) or not t.is_floating_point():
        return t.to(torch.float32)
    return t


def _omega_grad(w):
    """d/dw Omega(|w|) = sign(w) Omega'(|w|); 0 at w = 0 (the subgradient torch.abs uses)."""
    return torch.sign(w) * _omega_prime(torch.abs(w))


class _Omega(torch.autograd.Function):
    """Omega(|w|) - Omega(0); backward sign(w) Omega'(|w|), the certified derivative (torch ops: it
    compiles, and works under torch.func and vmap)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(w):
        return _omega(torch.abs(w))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * _omega_grad(w)
'''

_MAIN = '''

_CHECK = {checks}
"""(piece, x, value) computed by symdual at generation time (mpmath, 30 digits)."""

if __name__ == "__main__":
    module = {name}()
    worst = 0.0
    for piece, x, expected in _CHECK:
        got = float(getattr(module, piece)(torch.tensor(x, dtype=torch.float64)))
        if got != expected:
            worst = max(worst, abs(got - expected) / max(abs(expected), 1e-300))
    print(f"self-check of {name}: {{len(_CHECK)}} values, largest relative error {{worst:.2e}} "
          f"(tolerance {tol:g})")
    raise SystemExit(0 if worst <= {tol!r} else 1)
'''


def _literal(value: float) -> str:
    """A float as Python text that round-trips (math.inf / math.nan where repr would not parse)."""
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    return repr(value)


_SOURCES: dict[tuple[int, str | None], tuple[Any, str]] = {}


def to_source(d: Any, class_name: str | None = None) -> str:
    """A standalone Python module (imports only torch and math) with the exported penalty of ``d``:
    a docstring with the formulas and their provenance, one ``nn.Module`` subclass whose defaults are the
    derivation's lam and parameters, and a self-check against embedded mpmath values when run as a script."""
    key = (id(d), class_name)
    cached = _SOURCES.get(key)
    if cached is not None and cached[0] is d:
        return cached[1]
    name = safe_identifier(class_name) if class_name is not None else _class_name(d)
    pieces = _Pieces(d)
    functions = {f.name: f for f in pieces.functions}
    errors = {}
    for piece, fname, offset in (("omega", "_omega", float(pieces.omega0)), ("eta_hat", "_eta_hat", 0.0)):
        if fname in functions:
            errors[piece] = _measured(_compiled(functions[fname]), d, piece, offset, _GRID)
    helpers = set().union(*(f.helpers for f in pieces.functions)) if pieces.functions else set()
    if isinstance(pieces.prox, FunctionSource):
        helpers |= pieces.prox.helpers
    parts = [_docstring(d, pieces, errors), "import math\n\nimport torch"]
    parts += [HELPERS[h] for h in sorted(helpers)]
    if pieces.table is not None:
        parts.append(pieces.table.code)
    parts += [f.code for f in pieces.functions]
    if isinstance(pieces.prox, FunctionSource):
        parts.append(pieces.prox.code)
    if pieces.omega_kind == "closed form":
        parts.append(_PRELUDE.strip("\n") + "\n")
    else:
        parts.append(_PRELUDE.split("\n\ndef _omega_grad")[0].strip("\n") + "\n")
    parts.append(_class_text(d, pieces, name))
    tol = 1e-12 if pieces.omega_kind == "closed form" else 1e-9
    checks = "[" + ", ".join(f"({p!r}, {x!r}, {_literal(v)})" for p, x, v in _check_values(d, pieces)) + "]"
    parts.append(_MAIN.format(checks=checks, name=name, tol=tol).strip("\n") + "\n")
    text = "\n\n".join(p.strip("\n") + "\n" for p in parts)
    if len(_SOURCES) > 64:
        _SOURCES.clear()
    _SOURCES[key] = (d, text)
    return text


# ---------------------------------------------------------------------- executing the text
_MODULES: dict[str, types.ModuleType] = {}


def _load(source: str, class_name: str) -> type:
    """Execute ``source`` once as a module registered in sys.modules (so its class pickles and shows
    its source in tracebacks) and return the class."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    mod_name = f"symdual.export._generated_{digest}"
    module = _MODULES.get(mod_name)
    if module is None:
        filename = f"<symdual export {class_name} {digest}>"
        module = types.ModuleType(mod_name)
        module.__file__ = filename
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - symdual's own generated text
        sys.modules[mod_name] = module
        _MODULES[mod_name] = module
        cls = getattr(module, class_name)
        cls.__reduce_ex__ = lambda self, protocol, _src=source, _name=class_name: (
            _restore, (_src, _name, float(self.lam), self.state_dict()))
    return getattr(module, class_name)


def _restore(source: str, class_name: str, lam: float, state: dict) -> torch.nn.Module:
    """Unpickling: rebuild the generated class from its source and load the state."""
    module = _load(source, class_name)(lam=lam)
    module.load_state_dict(state, strict=False)
    return module


def penalty_module(d: Any, lam: float | None = None, *, class_name: str | None = None) -> torch.nn.Module:
    """The ``nn.Module`` of :func:`to_source` (the very text, executed): forward(*tensors) =
    lam * sum_j (Omega(w_j) - Omega(0)) over all tensors, 0-dim (float32 for half inputs); lam is a 0-dim
    float64 buffer (default: the derivation's lam)."""
    source = to_source(d, class_name)
    name = class_name or _class_name(d)
    cls = _load(source, name)
    return cls() if lam is None else cls(lam=float(lam))


def _method(d: Any, lam: float | None, name: str) -> Callable[..., torch.Tensor]:
    return getattr(penalty_module(d, lam), name)


def eta_hat_fn(d: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """w -> eta_hat(|w|), elementwise."""
    return _method(d, None, "eta_hat")


def drop_rate_fn(d: Any, lam: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """w -> p = lam/(lam + eta_hat(|w|)), elementwise (lam: the derivation's unless given)."""
    return _method(d, lam, "drop_rate")


def keep_prob_fn(d: Any, lam: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """w -> q = eta_hat/(eta_hat + lam), elementwise."""
    return _method(d, lam, "keep_prob")


def ratio_fn(d: Any, lam: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """w -> r = lam/eta_hat(|w|), elementwise."""
    return _method(d, lam, "ratio")


def f_dual_fn(d: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """eta -> f(eta), elementwise for eta >= 0; InputError where f has no torch form."""
    module = penalty_module(d)
    if not module.HAS_F_DUAL:
        raise InputError(f"f_dual of {d.title()} is not available: {module.F_DUAL_NOTE}")
    return module.f_dual


def prox_fn(d: Any, lam: float | None = None) -> Callable[[torch.Tensor, Any], torch.Tensor]:
    """(z, step) -> argmin_u 1/2 (u - z)**2 + step * lam * Omega(u), elementwise, a tensor like z."""
    return _method(d, lam, "prox")
