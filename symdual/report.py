"""Human-readable output of a derivation: terminal text and LaTeX."""
from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from .properties import NAMES
from .verdict import MARK

if TYPE_CHECKING:
    from .record import Derivation, VectorPenalty


def _show(expr: sp.Expr | None) -> str:
    return "(not derived)" if expr is None else sp.sstr(expr)


def _pretty(expr: sp.Expr | None) -> str:
    if expr is None:
        return "(not derived)"
    text = sp.pretty(expr, use_unicode=True, wrap_line=False)
    return text if len(text.splitlines()) <= 8 else sp.sstr(expr)


def summary(d: Derivation) -> str:
    """The terminal summary: pieces with provenance, series, verdicts, notes."""
    lines = [f"symdual derivation: {d.title()}   (lam = {d.lam})", ""]
    for label, piece, expr, _var in (("eta_hat(w)", "eta_hat", d.eta_hat, "w"),
                                     ("Omega(w)", "omega", d.omega, "w"),
                                     ("f(eta)", "f_dual", d.f_dual, "eta"),
                                     ("drop rate p(w)", "drop_rate", d.drop_rate, "w")):
        prov = d.provenance.get(piece)
        body = _pretty(expr) if expr is not None or not d.can_evaluate(piece) else "(numeric only)"
        lines.append(f"{label} =" + ("\n" if "\n" in body else " ") + body)
        if prov is not None:
            lines.append(f"    [{prov.method}; {prov.precision}]" if prov.method == "numeric" else f"    [{prov}]")
    for key, label in (("omega@0", "Omega as w -> 0+"), ("omega@oo", "Omega as w -> oo")):
        if key in d.series:
            lines.append(f"{label}:  {sp.sstr(d.series[key])}")
    lines += ["", "properties:"]
    for name in NAMES:
        v = d.properties.get(name)
        if v is not None:
            lines.append(f"  {name:<13} {MARK[v.status]:<10} {v.detail}")
    engines = sorted({p.how for p in d.provenance.values() if p.method == "numeric"})
    if engines:
        lines += ["", "numerics:"] + [f"  {how}" for how in engines]
    if d.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in d.notes]
    return "\n".join(lines)


def latex_summary(d: Derivation) -> str:
    """A LaTeX block (Jupyter's ``_repr_latex_`` and ``--latex``)."""
    rows = []
    for label, expr in ((r"\hat\eta(w)", d.eta_hat), (r"\Omega(w)", d.omega), (r"f(\eta)", d.f_dual),
                        (r"p(w)", d.drop_rate)):
        body = sp.latex(expr) if expr is not None else r"\text{not derived}"
        rows.append(f"{label} &= {body}")
    verdicts = ", ".join(f"\\text{{{n}: {d.properties[n].status}}}" for n in NAMES if n in d.properties)
    rows.append(verdicts)
    return "$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$"


def vector_summary(v: VectorPenalty) -> str:
    """The terminal summary of a non-separable penalty."""
    lines = [f"symdual non-separable penalty: {v.title}", "",
             f"rule:       {v.rule_text}", f"eta_hat:    {v.eta_hat_text}",
             f"f(eta):     {v.f_text}", f"Omega(w):   {v.omega_text}"]
    lines += [f"{key}: {text}" for key, text in v.series.items()]
    lines += [f"    [{piece}: {prov}]" for piece, prov in v.provenance.items()]
    lines += ["", "properties:"]
    lines += [f"  {k:<13} {MARK[p.status]:<10} {p.detail}" for k, p in v.properties.items()]
    if v.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in v.notes]
    return "\n".join(lines)
