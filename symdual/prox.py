"""The proximal operator of step * lam * Omega: symbolic where SymPy solves it, numeric otherwise.

    prox(z) = argmin_u  1/2 (u - z)**2 + step * lam * Omega(|u|)

Omega is even and nondecreasing in |u| (Omega' = w/eta_hat >= 0), so prox(z) = sign(z) P(|z|) with
P(z) in [0, z]. With tau = step * lam, a minimiser u > 0 solves the stationarity equation

    z = phi(u) = u + tau * Omega'(u)        (phi crosses z upwards: a local minimum)

or sits at u = 0, or at a breakpoint where Omega' jumps up (a convex kink). Both routes list these
candidates and compare them on the prox objective:

* :func:`prox_expression`: on each piece of a closed-form Omega' the stationarity equation, cleared of
  denominators, is a polynomial of degree <= 2 in u**(1/k); SymPy's roots of it (the local minimum
  only, where the sign of the denominator is known) with their validity conditions, the breakpoints
  and u = 0 are compared on the objective in one Piecewise in z >= 0 and step: soft threshold (l1),
  firm threshold (MCP), SCAD's three-piece rule, LogSum's root of a quadratic against 0. Every CAS
  call runs bounded (:mod:`symdual.bounded`); the result is certified against the numeric route on a
  grid before it is used, and discarded (saying so in :attr:`ProxRule.how`) if it fails.
* the numeric route (:func:`prox` with ``method="numeric"``): phi on a grid of u (linear and
  geometric, plus the breakpoints), a bracketed root of phi(u) = z (Illinois regula falsi, bisection
  as safeguard) on each increasing run of the grid, u = 0; the best candidate on the objective.
  Vectorised over z; one grid per distinct step.
  Pro: any derivation with Omega and Omega' evaluators (closed forms, quadrature, solvers).
  Contra: a pair of roots closer than the grid spacing (1/256 of |z| and 20 points a decade down to
  1e-12 |z|) can be missed.
"""
from __future__ import annotations

import math
import numbers
import weakref
from dataclasses import dataclass
from functools import lru_cache, reduce

import mpmath
import numpy as np
import sympy as sp

from .bounded import bounded
from .errors import InputError, NoClosedForm
from .numeric.roots import illinois_increasing
from .parsing import check_expression
from .record import real_array
from .rules import as_exact, w

Z = sp.Symbol("z", nonnegative=True)
"""The point whose prox is taken, |z| (the prox is odd: prox(-z) = -prox(z))."""
STEP = sp.Symbol("step", positive=True)
"""The step size; the penalty of the prox is step * lam * Omega."""
_TAU = sp.Symbol("tau", positive=True)
_V = sp.Symbol("v", positive=True)

MAX_DEGREE = 2
"""Highest degree (in u**(1/k)) of a stationarity equation solved symbolically: beyond it the roots
need Cardano's radicals, complex in the three-real-root case, and the numeric route is used."""
GRID_LINEAR = 256
GRID_DECADES = 12
GRID_PER_DECADE = 20
CERTIFY_STEPS = (0.05, 0.3, 1.0, 3.0)
"""Steps (times 1/lam) of the certification grid of a symbolic prox."""
CERTIFY_TOL = 1e-9
"""Largest excess of the symbolic prox's objective over the numeric one, relative to 1 + z**2/2."""


@dataclass(frozen=True)
class Candidate:
    """One candidate minimiser u >= 0 of the prox objective: ``value`` in Z, STEP, a candidate where
    ``condition`` holds; ``origin`` says where it comes from."""

    value: sp.Expr
    condition: sp.Basic
    origin: str


@dataclass(frozen=True)
class ProxRule:
    """The prox of step * lam * Omega at z >= 0 as a SymPy expression in :data:`Z` and :data:`STEP`.

    ``expr`` is a Piecewise (Max/Min/sqrt/log inside, relational conditions, lam substituted), or None
    when the symbolic route failed or was discarded; ``how`` says which, and how it was certified.
    """

    expr: sp.Expr | None
    candidates: tuple[Candidate, ...]
    how: str
    lam: float


# ---------------------------------------------------------------- symbolic route (each call in a child)


def _pieces(omega: sp.Expr, omega_prime: sp.Expr) -> list[tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]]:
    """[(Omega'_k, Omega_k, lo_k, hi_k), ...]: the branches of Omega' on w >= 0 with Omega's branch there."""
    from .piecewise import branches, sample_point

    omega_parts = branches(_as_piecewise(omega), w)
    out = []
    for e, where in branches(_as_piecewise(omega_prime), w):
        mid = sample_point(where.inf, where.sup)
        om = next((o for o, part in omega_parts if part.contains(mid) == sp.true), None)
        if om is None:
            raise NoClosedForm(f"no branch of Omega at w = {mid}")
        out.append((e, om, where.inf, where.sup))
    return out


def _as_piecewise(expr: sp.Expr) -> sp.Expr:
    """Heaviside, Min and Max rewritten as Piecewise, so that their breakpoints split the branches."""
    return expr.replace(lambda e: isinstance(e, (sp.Heaviside, sp.Min, sp.Max)), lambda e: e.rewrite(sp.Piecewise))


def _coefficients(e: sp.Expr) -> tuple[int, list[sp.Expr], sp.Expr]:
    """(k, [c_0, ..., c_n], den): w + tau*e - z = sum_i c_i v**i / den with w = v**k, n <= MAX_DEGREE."""
    num, den = sp.fraction(sp.together(w + _TAU * e - Z))
    exponents = [p.exp for p in num.atoms(sp.Pow) if p.base == w]
    if any(not x.is_Rational for x in exponents) or any(isinstance(f, sp.Function) and f.has(w)
                                                         for f in num.atoms(sp.Function)):
        raise NoClosedForm(f"the stationarity equation on the piece Omega' = {e} is not algebraic in u")
    k = reduce(math.lcm, (int(x.q) for x in exponents), 1)
    poly = sp.Poly(sp.expand(sp.powsimp(num.subs(w, _V**k), force=True)), _V)
    if poly.degree() > MAX_DEGREE:
        raise NoClosedForm(f"the stationarity equation on the piece Omega' = {e} has degree {poly.degree()}"
                           f" in u**(1/{k})")
    return k, list(reversed(poly.all_coeffs())), sp.powsimp(den.subs(w, _V**k), force=True)


def _real_where(expr: sp.Expr) -> sp.Basic:
    """Where ``expr`` is real: the radicands of its square roots are >= 0."""
    radicands = {p.base for p in expr.atoms(sp.Pow) if p.exp.is_Rational and p.exp.q % 2 == 0}
    return sp.And(*(r >= 0 for r in radicands if r.is_nonnegative is not True))


def _piece_roots(e: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> list[tuple[sp.Expr, sp.Basic, str]]:
    """The roots u in (lo, hi] of z = u + tau Omega'(u) that can be local minima, with their conditions.

    With the denominator of phi - z positive, the local minimum (phi - z from - to +) of a linear
    c_1 v + c_0 is -c_0/c_1 where c_1 > 0, of a quadratic (-c_1 + sqrt(c_1**2 - 4 c_2 c_0))/(2 c_2)
    whatever the sign of c_2; with its sign unknown, every root is kept.
    """
    k, c, den = _coefficients(e)
    positive = den.is_positive is True
    if len(c) == 1 or all(ci == 0 for ci in c[1:]):
        return []
    roots: list[tuple[sp.Expr, sp.Basic]] = []
    if len(c) == 2 or c[2] == 0:
        roots.append((-c[0] / c[1], (c[1] > 0) if positive else sp.Ne(c[1], 0)))
    else:
        disc = sp.expand(c[1] ** 2 - 4 * c[2] * c[0])
        signs = (1,) if positive else (1, -1)
        roots += [((-c[1] + s * sp.sqrt(disc)) / (2 * c[2]), disc >= 0) for s in signs]
    out = []
    for v_root, cond in roots:
        u = sp.powsimp(v_root**k) if k > 1 else v_root
        inside = [u > 0, u >= lo] if lo != 0 else [u > 0]
        if hi != sp.oo:
            inside.append(u <= hi)
        where = sp.And(cond, _real_where(u), *inside)
        span = f"({lo}, {hi})" if hi == sp.oo else f"({lo}, {hi}]"
        if len(c) == 3 and c[2] != 0 and positive and k == 1:  # no cancellation: 2 c_0/(-c_1 - sqrt(disc))
            u = sp.Piecewise((2 * c[0] / (-c[1] - sp.sqrt(disc)), c[1] > 0), (u, True))
        out.append((u, where, f"root of z = u + tau*({e}) on {span}"))
    return out


def _objective(u: sp.Expr, omega_piece: sp.Expr) -> sp.Expr:
    """1/2 (u - z)**2 + tau Omega(u) (a stable Piecewise form of u read as its last, plain branch)."""
    if isinstance(u, sp.Piecewise):
        u = u.args[-1].expr
    return (u - Z) ** 2 / 2 + _TAU * omega_piece.subs(w, u)


def _breakpoints(pieces: list) -> list[tuple[sp.Expr, sp.Basic, str, sp.Expr]]:
    """The breakpoints where Omega' jumps up (convex kinks: possible minima), with the objective there."""
    out = []
    for (e_left, om, _, x), (e_right, _, _, _) in zip(pieces, pieces[1:], strict=False):
        jump = sp.N(e_right.subs(w, x) - e_left.subs(w, x), 30)
        if jump.is_number and jump > 0:
            out.append((x, sp.true, f"breakpoint u = {x} (Omega' jumps up by {sp.N(jump, 6)})",
                        _objective(x, om)))
    return out


def _no_worse(h: sp.Expr, other: sp.Expr) -> sp.Basic:
    """h <= other as factor(other - h) >= 0 (no cancellation of z**2/2), True where SymPy's assumptions
    prove it for every z >= 0, tau > 0."""
    gap = sp.factor(other - h)
    return sp.true if gap.is_nonnegative is True else gap >= 0


def _assemble(pieces: list, roots: list[list]) -> tuple[sp.Expr, list[tuple[sp.Expr, sp.Basic, str]]]:
    """argmin over the candidates as one Piecewise in Z and tau: candidate i where it is valid and no valid
    candidate has a smaller objective (first one wins a tie); u = 0 otherwise."""
    cands = [(u, where, origin, _objective(u, om)) for (_, om, _, _), found in zip(pieces, roots, strict=True)
             for u, where, origin in found]
    cands = [c for c in cands if c[1] != sp.false] + _breakpoints(pieces)
    zero = (sp.Integer(0), sp.true, "u = 0", Z**2 / 2)
    everyone = cands + [zero]
    branches = []
    for i, (u, where, _, h) in enumerate(cands):
        beats = [sp.Or(sp.Not(wj), _no_worse(h, hj))
                 for j, (_, wj, _, hj) in enumerate(everyone) if j != i]
        branches.append((u, sp.And(where, *beats)))
    expr = sp.Piecewise(*[b for b in branches if b[1] != sp.false], (sp.Integer(0), True))
    return expr, [(u, where, origin) for u, where, origin, _ in everyone]


def _symbolic(d: object, lam: sp.Expr) -> ProxRule | None:
    """The symbolic route for a derivation with closed forms of Omega and Omega' (None otherwise)."""
    if d.omega is None or d.omega_prime is None or d.omega.has(sp.oo, sp.zoo, sp.nan):
        return None
    lam_f = float(lam)
    step_notes = []
    parts = bounded(_pieces, d.omega, d.omega_prime)
    if not parts.ok:
        return ProxRule(None, (), f"symbolic prox not derived: the branches of Omega' {parts.reason}", lam_f)
    found = []
    for e, _, lo, hi in parts.value:
        out = bounded(_piece_roots, e, lo, hi)
        if not out.ok:
            return ProxRule(None, (), f"symbolic prox not derived: {_reason(out)}", lam_f)
        found.append(out.value)
        step_notes.append(f"Omega' = {e} on ({lo}, {hi}): {len(out.value)} candidate root(s)")
    assembled = bounded(_assemble, parts.value, found)
    if not assembled.ok:
        return ProxRule(None, (), f"symbolic prox not derived: comparing the candidates {_reason(assembled)}",
                        lam_f)
    at_step = {_TAU: lam * STEP}
    expr = assembled.value[0].xreplace(at_step)
    candidates = tuple(Candidate(u.xreplace(at_step), c.xreplace(at_step), o) for u, c, o in assembled.value[1])
    return _certified(d, expr, candidates, lam_f, "; ".join(step_notes))


def _reason(outcome: object) -> str:
    exc = getattr(outcome, "exception", None)
    return str(exc) if isinstance(exc, NoClosedForm) else outcome.reason


def _certified(d: object, expr: sp.Expr, candidates: tuple, lam_f: float, notes: str) -> ProxRule:
    """The rule if its objective is within CERTIFY_TOL of the numeric prox's on the certification grid."""
    try:
        fn = _lambdified(expr)
    except InputError as exc:
        return ProxRule(None, candidates, f"symbolic prox discarded: {exc}", lam_f)
    scale = _length_scale(d)
    zs = np.unique(np.concatenate([np.geomspace(1e-6, 1e3, 91) * scale, np.linspace(0, 8, 161) * scale]))
    worst = 0.0
    for s in CERTIFY_STEPS:
        step = s / lam_f
        with np.errstate(all="ignore"):
            u_sym = np.asarray(fn(zs, np.full_like(zs, step)), dtype=float) * np.ones_like(zs)
        u_num = _numeric_prox(d, zs, np.full_like(zs, step * lam_f))
        h_sym, h_num = (_excess(d, u, zs, step * lam_f) for u in (u_sym, u_num))
        bad = ~np.isfinite(u_sym) | (u_sym < 0) | (u_sym > zs * (1 + 1e-12))
        gap = np.where(bad, np.inf, (h_sym - h_num) / (1 + zs**2 / 2))
        worst = max(worst, float(np.max(gap)))
        if worst > CERTIFY_TOL:
            i = int(np.argmax(gap))
            return ProxRule(None, candidates, f"symbolic prox discarded: at z = {zs[i]:.6g}, step = {step:.6g} it "
                            f"gives u = {u_sym[i]:.17g}, objective above the numeric prox's u = {u_num[i]:.17g} "
                            f"by {gap[i]:.3g} (relative)", lam_f)
    how = (f"symbolic: stationarity solved piece by piece ({notes}); candidates compared on the objective; "
           f"certified against the numeric prox at {zs.size} z in [0, {zs[-1]:.3g}] x steps "
           f"{', '.join(f'{s:g}' for s in CERTIFY_STEPS)}/lam: objective excess <= {max(worst, 0.0):.2g} "
           "(relative to 1 + z**2/2)")
    return ProxRule(expr, candidates, how, lam_f)


@lru_cache(maxsize=64)
def _lambdified(expr: sp.Expr):
    """The NumPy function (z, step) -> u of a rule's expression, its names checked first."""
    check_expression(expr, {"z", "step"}, strict=False)
    return sp.lambdify((Z, STEP), expr, modules=["numpy"])


def _length_scale(d: object) -> float:
    """A length where Omega' changes: its largest finite positive breakpoint, else 1."""
    points = [b for b in _breakpoints_of(d) if b > 0]
    return max(points) if points else 1.0


# ---------------------------------------------------------------- numeric route


def _breakpoints_of(d: object) -> list[float]:
    """Finite positive numbers in the conditions of a Piecewise Omega', and a recorded critical w."""
    points = []
    if d.omega_prime is not None:
        for rel in _as_piecewise(d.omega_prime).atoms(sp.core.relational.Relational):
            for side in rel.args:
                if side.is_number and side.is_finite:
                    points.append(float(side))
    critical = d.limits.get("w_critical")
    if critical is not None and getattr(critical, "is_number", False):
        points.append(float(critical))
    return sorted({p for p in points if p > 0 and math.isfinite(p)})


def _grid(d: object, amplitude: float) -> np.ndarray:
    lin = np.linspace(0.0, amplitude, GRID_LINEAR + 1)
    geo = amplitude * np.logspace(-GRID_DECADES, 0, GRID_DECADES * GRID_PER_DECADE + 1)
    kinks = np.array([b * f for b in _breakpoints_of(d) for f in (1 - 2.0**-40, 1.0, 1 + 2.0**-40)])
    u = np.concatenate([lin, geo, kinks[kinks < amplitude]])
    return np.unique(u)


def _phi(d: object, u: np.ndarray, tau: float) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return u + tau * np.asarray(d.evaluate("omega_prime", u), dtype=float)


def _excess(d: object, u: np.ndarray, a: np.ndarray, tau: float) -> np.ndarray:
    """The prox objective at u minus its value at u = 0: u (u/2 - a) + tau Omega(u) (no cancellation of a**2)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return u * (0.5 * u - a) + tau * np.asarray(d.evaluate("omega", u), dtype=float)


def _runs(phi: np.ndarray) -> list[tuple[int, int]]:
    """[(i0, i1), ...]: maximal index ranges on which the grid values of phi do not decrease."""
    with np.errstate(invalid="ignore"):
        up = phi[1:] >= phi[:-1] - 1e-14 * np.abs(phi[:-1])
    out, start = [], None
    for i, flag in enumerate(up):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, phi.size - 1))
    return out


def _root(d: object, lo: np.ndarray, hi: np.ndarray, phi_lo: np.ndarray, phi_hi: np.ndarray, target: np.ndarray,
          tau: float) -> np.ndarray:
    """u in [lo, hi] with phi(u) = target, phi(lo) <= target <= phi(hi): Illinois regula falsi, bisection
    where a secant step leaves the bracket (so it also closes in on a jump of phi)."""
    return illinois_increasing(lambda u: _phi(d, u, tau), target, lo, hi, phi_lo, phi_hi)


def _prox_one_step(d: object, a: np.ndarray, tau: float) -> np.ndarray:
    """P(a) for a > 0 finite, one tau: u = 0 and a root on each increasing run of phi, best on the objective."""
    u = _grid(d, float(np.max(a)))
    phi = _phi(d, u, tau)
    cands = [np.zeros_like(a)]
    for i0, i1 in _runs(phi):
        inside = (a >= phi[i0]) & (a <= phi[i1])
        root = np.full_like(a, np.nan)
        if np.any(inside):
            k = i0 + np.searchsorted(phi[i0:i1 + 1], a[inside], side="left")
            below = np.maximum(k - 1, i0)
            root[inside] = _root(d, u[below], u[k], phi[below], phi[k], a[inside], tau)
        cands.append(root)
    stack = np.stack(cands)
    excess = np.stack([np.zeros_like(a)] + [_excess(d, c, a, tau) for c in cands[1:]])
    excess = np.where(np.isnan(excess), np.inf, excess)
    return stack[np.argmin(excess, axis=0), np.arange(a.size)]


def _numeric_prox(d: object, a: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """P(a) for a >= 0 (flat arrays, tau > 0 per element): the numeric route, one grid per distinct tau."""
    out = np.where(np.isfinite(a), 0.0, a)
    work = np.isfinite(a) & (a > 0)
    if not np.any(work):
        return out
    taus, which = np.unique(tau[work], return_inverse=True)
    idx = np.flatnonzero(work)
    for g, t in enumerate(taus):
        sel = idx[which == g]
        out[sel] = _prox_one_step(d, a[sel], float(t))
    return out


# ---------------------------------------------------------------- public


_RULES: dict[tuple[int, float], tuple[weakref.ref, ProxRule | None]] = {}


def lam_of(d: object, lam: object) -> sp.Expr:
    """lam (default: the derivation's) as an exact positive finite number; InputError otherwise."""
    value = d.lam if lam is None else lam
    if isinstance(value, (bool, np.bool_)) or not (isinstance(value, (numbers.Real, sp.Basic, np.floating,
                                                                       np.integer, mpmath.mpf))):
        raise InputError(f"lam must be a positive finite number, got {value!r}")
    try:
        exact = as_exact(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"lam must be a positive finite number ({exc})") from None
    if not (exact.is_positive and math.isfinite(float(exact))):
        raise InputError(f"lam must be a positive finite number, got {value!r}")
    return exact


def _separable(d: object) -> None:
    if not getattr(d, "separable", True):
        raise InputError(f"{getattr(d, 'name', 'this penalty')} is non-separable: its prox is not elementwise")
    if not (hasattr(d, "can_evaluate") and d.can_evaluate("omega") and d.can_evaluate("omega_prime")):
        raise InputError("the prox needs evaluators of Omega and Omega'; this derivation has "
                         f"{', '.join(p for p in ('omega', 'omega_prime') if d.can_evaluate(p)) or 'neither'}")


def prox_expression(d: object, lam: object = None) -> ProxRule | None:
    """The prox of step*lam*Omega as a SymPy Piecewise in Z >= 0 and STEP (lam a number), certified.

    None when Omega or Omega' has no closed form; a rule with ``expr`` None when SymPy could not solve
    the stationarity equation in time, or the result failed its certification (``how`` says which).
    """
    _separable(d)
    lam_exact = lam_of(d, lam)
    key = (id(d), float(lam_exact))
    hit = _RULES.get(key)
    if hit is not None and hit[0]() is d:
        return hit[1]
    rule = _symbolic(d, lam_exact)
    _RULES[key] = (weakref.ref(d), rule)
    return rule


def prox(d: object, z: object, step: object, lam: object = None, method: str = "auto") -> np.ndarray | np.float64:
    """prox_{step lam Omega}(z) = argmin_u 1/2 (u - z)**2 + step*lam*Omega(|u|), elementwise (odd in z).

    ``z`` and ``step`` broadcast; scalar in, scalar out. ``method``: "auto" (the certified symbolic
    rule where there is one, else numeric), "symbolic" (InputError without one) or "numeric".
    """
    _separable(d)
    lam_f = float(lam_of(d, lam))
    if method not in ("auto", "symbolic", "numeric"):
        raise InputError(f"unknown prox method {method!r}; expected auto, symbolic or numeric")
    za, sa = np.broadcast_arrays(real_array(z), real_array(step))
    if not np.all(np.isfinite(sa) & (sa > 0)):
        raise InputError("step must be positive and finite")
    a, s = np.abs(za).reshape(-1), sa.reshape(-1).astype(float)
    rule = None if method == "numeric" else prox_expression(d, lam)
    if rule is not None and rule.expr is not None:
        with np.errstate(all="ignore"):
            mag = np.asarray(_lambdified(rule.expr)(a, s), dtype=float) * np.ones_like(a)
        mag = np.where(np.isfinite(a), mag, a)
    elif method == "symbolic":
        raise InputError("no certified symbolic prox: " + (rule.how if rule is not None else "Omega' has no "
                                                           "closed form"))
    else:
        mag = _numeric_prox(d, a, s * lam_f)
    out = (np.sign(za).reshape(-1) * mag).reshape(za.shape)
    out = np.where(za == 0, 0.0, out) + 0.0  # no -0.0
    return out[()] if out.ndim == 0 else out
