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
"""Weights (and etas) of the self-check embedded in a standalone module, before they are moved off the
breakpoints and caps (:func:`_off_breakpoints`)."""
CLEARANCE = 0.02
"""Least relative distance of a self-check or measurement point from a breakpoint or cap."""
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


def _ends(expr: sp.Expr | None, x: sp.Symbol) -> set[float]:
    """Finite positive ends of the branches of ``expr`` (kinks, caps, poles at a branch end)."""
    if expr is None:
        return set()
    out = set()
    for _, where in branches(expr, x):
        for end in (where.inf, where.sup):
            if end.is_number and end.is_finite and end.is_positive:
                out.add(float(end))
    return out


def _breakpoints(d: Any) -> tuple[set[float], set[float]]:
    """(ends in w of Omega, eta_hat, Omega' and the cap w_critical; ends in eta of f)."""
    in_w = set().union(*(_ends(getattr(d, piece, None), W) for piece in ("omega", "eta_hat", "omega_prime")))
    w_c = d.limits.get("w_critical")
    if isinstance(w_c, sp.Basic) and w_c.is_number and w_c.is_finite and w_c.is_positive:
        in_w.add(float(w_c))
    return in_w, _ends(getattr(d, "f_dual", None), ETA)


def _off_breakpoints(points: Any, ends: set[float]) -> tuple[float, ...]:
    """Each point moved up (times 1 + 4 CLEARANCE, repeatedly) until it is CLEARANCE (relative) away from every
    end: a formula evaluated on its breakpoint or cap (w/(1 - w) at w = 1) checks nothing but the rounding of
    the condition."""
    out = []
    for x in points:
        x = float(x)
        for _ in range(64):
            if all(abs(x - e) > CLEARANCE * e for e in ends):
                break
            x *= 1 + 4 * CLEARANCE
        out.append(x)
    return tuple(out)


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


def _lowered(name: str, expr: sp.Expr, x: sp.Symbol, arg: str, at_zero: sp.Expr | None,
             monotone: bool = False) -> FunctionSource:
    """The printed function, with a series at 0+ where the closed form cancels (``monotone``: see
    :func:`symdual.export.printer.function_source`)."""
    plain = function_source(name, expr, x, arg, at_zero=at_zero, monotone=monotone)
    (head, where), *rest = branches(expr, x)
    if where.start != 0 or (rest and where.end <= 0.5):  # the series must cover [0, 0.5) of the first branch
        return plain
    near = _series_near_zero(head, x, _compiled(function_source(name, head, x, arg, at_zero=at_zero)))
    if near is None:
        return plain
    return function_source(name, expr, x, arg, at_zero=at_zero, near_zero=near, monotone=monotone)


def _reference(d: Any, piece: str, x: float) -> float:
    """d.evaluate_mp at 30 digits as a float; any failure there is an InputError (one line)."""
    try:
        return float(d.evaluate_mp(piece, x, 30))
    except InputError:
        raise
    except Exception as why:  # noqa: BLE001 - the record's evaluator failed: say where, in one line
        detail = " ".join(str(why).split())[:120]
        raise InputError(f"cannot build the self-check of {d.title()}: {piece} at {x!r} failed in mpmath "
                         f"({type(why).__name__}{': ' + detail if detail else ''})") from None


def _measured(fn: Callable, d: Any, piece: str, offset: float, points: np.ndarray) -> float:
    """Largest relative error of the float64 function against d.evaluate_mp (30 digits) on ``points``."""
    with torch.no_grad():
        got = fn(torch.tensor(points, dtype=torch.float64)).numpy()
    worst = 0.0
    for x, g in zip(points, got, strict=True):
        ref = _reference(d, piece, float(x)) - offset
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
            self._add("_omega", omega - self.omega0, W, "x", sp.Integer(0), monotone=True)
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

    def _add(self, name: str, expr: sp.Expr, x: sp.Symbol, arg: str, at_zero: sp.Expr | None,
             monotone: bool = False) -> None:
        self.functions.append(_lowered(name, expr, x, arg, at_zero, monotone))

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
def _camel(text: str) -> str:
    """'Log2Sum' -> 'Log2Sum', 'l_p quasi-norm' -> 'LPQuasiNorm': ASCII words, each first letter upper-cased."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[0-9A-Za-z]+", text))


def _catalog_title(d: Any) -> str | None:
    """The title of the catalog entry whose rule ``d`` was derived from (same kind and rule text, or the
    record's name), shortened to its head ('MCP (minimax concave penalty)' -> 'MCP'; the words in brackets
    are kept where two entries share a head: 'Variational dropout (exact KL)'). None for a user rule."""
    try:
        from .. import catalog  # read-only, for the name: the record carries no title of its own
    except ImportError:
        return None
    rule = getattr(d, "rule", None)
    entries = catalog.entries()
    found = next((e for e in entries if (d.name and e.name == d.name) or (
        rule is not None and e.rule is not None and (e.kind, e.rule) == (getattr(rule, "kind", None),
                                                                  getattr(rule, "source", None)))), None)
    if found is None:
        return None

    def head(title: str) -> str:
        return re.split(r" \(|,", title)[0]

    shared = sum(head(e.title) == head(found.title) for e in entries) > 1
    return found.title if shared else head(found.title)


def _class_name(d: Any) -> str:
    """CamelCase of the record's name, else of its catalog entry's title, else of its rule kind, + 'Penalty':
    LogSumPenalty, MCPPenalty, VariationalDropoutExactKLPenalty, KeepProbRulePenalty."""
    title = _catalog_title(d) or d.name
    if not title:
        kind = getattr(getattr(d, "rule", None), "kind", "") or "derived"
        title = f"{kind} rule"
    base = _camel(title) or "Derived"
    return safe_identifier(base if base[:1].isalpha() else "Penalty" + base) + "Penalty"


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
                     f"[1e-8, 1e4] (moved {CLEARANCE:g} off the breakpoints): {err:.1e}.")
    if pieces.cap:
        lines.append(pieces.cap)
    if pieces.f_note:
        lines.append(f"f_dual is not available: {pieces.f_note}.")
    lines.extend(pieces.notes)
    lines.append("Run this file to check it against values embedded at generation (mpmath, 30 digits).")
    text = "\n".join(lines).replace("\\", "\\\\").replace('"""', "'''")
    return '"""' + text + '\n"""'


_FUNCTION = {"omega": "_omega", "eta_hat": "_eta_hat", "f_dual": "_f_dual"}
"""Piece -> the printed function computing it."""


def _check_error(functions: dict[str, FunctionSource], values: list[tuple[str, float, float]]) -> float:
    """Largest relative error of the printed float64 functions at the self-check's points (0 for table pieces):
    the self-check tolerance covers it, so the file is checked to reproduce what was measured here."""
    compiled = {piece: _compiled(functions[f]) for piece, f in _FUNCTION.items() if f in functions}
    worst = 0.0
    with torch.no_grad():
        for piece, x, ref in values:
            if piece in compiled:
                got = float(compiled[piece](torch.tensor([x], dtype=torch.float64))[0])
                if got != ref:
                    worst = max(worst, abs(got - ref) / max(abs(ref), 1e-300))
    return worst


def _check_values(d: Any, pieces: _Pieces) -> list[tuple[str, float, float]]:
    """(piece, x, value) of the self-check: the CHECK_POINTS moved off every breakpoint and cap."""
    offset = float(pieces.omega0)
    in_w, in_eta = _breakpoints(d)
    out = []
    for x in _off_breakpoints(CHECK_POINTS, in_w):
        out.append(("omega", x, _reference(d, "omega", x) - offset))
        out.append(("eta_hat", x, _reference(d, "eta_hat", x)))
    if pieces.has_f:
        out.extend(("f_dual", e, _reference(d, "f_dual", e)) for e in _off_breakpoints(CHECK_POINTS, in_eta))
    return out


_METHODS = '''
    def omega(self, w):
        """Omega(|w|) - Omega(0) elementwise (float32 for half inputs); differentiable."""
        {omega_body}

    def _lam(self, like):
        """lam for arithmetic with the tensor ``like``: a Python float on the CPU (torch.compile traces it as one
        symbolic float read from the buffer: no restart, no recompile when lam changes; the 0-dim float64 CPU
        tensor itself would make dynamo restart its analysis once), else a 0-dim tensor of like's dtype (no
        device synchronisation)."""
        if self.lam.device.type == "cpu":
            return float(self.lam)
        return self.lam.to(like.dtype)

    def forward(self, *tensors):
        """lam * sum over all entries of all tensors of Omega(|w|) - Omega(0): a 0-dim tensor."""
        total = torch.zeros((), dtype=torch.float32, device=self.lam.device)
        for t in tensors:
            total = total + self.omega(t).sum()
        return total * self._lam(total)

    def eta_hat(self, w):
        """eta_hat(|w|) elementwise (oo where the penalty is capped)."""
        {eta_body}

    def drop_rate(self, w):
        """p = lam/(lam + eta_hat(|w|)) = 1/(1 + eta_hat/lam): 1 at eta_hat = 0, 0 at eta_hat = oo."""
        eta = self.eta_hat(w)
        return 1.0 / (1.0 + eta / self._lam(eta))

    def keep_prob(self, w):
        """q = eta_hat/(eta_hat + lam) = 1/(1 + lam/eta_hat): 0 at eta_hat = 0, 1 at eta_hat = oo."""
        eta = self.eta_hat(w)
        return 1.0 / (1.0 + self._lam(eta) / eta)

    def ratio(self, w):
        """r = p/q = lam/eta_hat(|w|) (oo at eta_hat = 0, 0 at eta_hat = oo)."""
        eta = self.eta_hat(w)
        return self._lam(eta) / eta

    def f_dual(self, eta):
        """f(eta) elementwise for eta >= 0 (NaN below 0)."""
        {f_body}

    def prox(self, z, step):
        """argmin_u 1/2 (u - z)**2 + step * lam * Omega(u), elementwise (odd in z), a tensor like z."""
        x = _compute(z)
        a = torch.abs(x)
        t = torch.as_tensor(step, dtype=a.dtype, device=a.device) * self._lam(a)
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
    in_w, in_eta = _breakpoints(d)
    for piece, offset, ends in (("omega", float(pieces.omega0), in_w), ("eta_hat", 0.0, in_w), ("f_dual", 0.0, in_eta)):
        if _FUNCTION[piece] in functions:
            grid = np.array(_off_breakpoints(_GRID, ends))
            errors[piece] = _measured(_compiled(functions[_FUNCTION[piece]]), d, piece, offset, grid)
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
    values = _check_values(d, pieces)
    tol = max(1e-12 if pieces.omega_kind == "closed form" else 1e-9, 4 * _check_error(functions, values))
    checks = "[" + ", ".join(f"({p!r}, {x!r}, {_literal(v)})" for p, x, v in values) + "]"
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
