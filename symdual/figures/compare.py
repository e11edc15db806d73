"""Rules and catalog methods side by side: lam Omega(w), eta_hat(w), the drop rate p(w) and the dual f(eta).

    import symdual as sd
    from symdual.figures import plot
    fig = plot("logsum", sd.derive(keep_prob="tanh(w)"), ("mcp", {"a": 1}), path="cmp.pdf")

Each piece comes from the derivation's float64 evaluator (closed form, quadrature, table or solver):

    lam Omega(w)    (Omega(0) = 0),     eta_hat(w),     p(w) = lam/(lam + eta_hat(w)),     f(eta).

Where f has no evaluator but eta_hat is nondecreasing (verdict proved or supported), f is drawn from the
envelope theorem along the weights, f(eta_hat(w)) = 2 Omega(w) - w**2/eta_hat(w) (the maximiser of
2 Omega(w) - w**2/eta is w itself there), normalised like Omega; otherwise that curve is left out and named
in :attr:`Curve.how`. Same style as Figure 1 (:mod:`symdual.figures.style`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..errors import InputError

PIECES = ("omega", "eta_hat", "drop_rate", "f_dual")
"""The pieces :func:`plot` can draw, in panel order."""
AXES = {  # piece: (x label, y label, x variable, log y)
    "omega": (r"$|w|$", r"$\lambda\,\Omega(w)$", "w", False),
    "eta_hat": (r"$|w|$", r"$\hat\eta(w)$", "w", True),
    "drop_rate": (r"$|w|$", r"$p(w) = \lambda / (\lambda + \hat\eta(w))$", "w", False),
    "f_dual": (r"$\eta$", r"$f(\eta)$", "eta", False),
}
ENVELOPE = "envelope"
"""``Curve.how`` of an f drawn from eta_hat and Omega along the weights."""
DROPOUT, CLASSICAL, RULES = "Adaptive dropout", "Classical penalties", "Your rules"
_FAMILY_GROUP = {"adaptive dropout": DROPOUT, "classical": CLASSICAL}
_NAMES = {
    "l1": r"\ell_1", "lp": r"\ell_p", "logsum": r"\mathrm{LogSum}", "log2sum": r"\mathrm{Log2Sum}",
    "mcp": r"\mathrm{MCP}", "scad": r"\mathrm{SCAD}", "plain_dropout": r"\mathrm{Dropout}",
    "gaussian_dropout": r"\mathrm{Gaussian\ dropout}", "standout": r"\mathrm{Standout}",
    "vardrop_approx": r"\mathrm{VarDrop\ (approx.\ KL)}", "vardrop_exact": r"\mathrm{VarDrop\ (exact\ KL)}",
    "hardconcrete": r"\mathrm{HardConcrete}",
}
_KIND_SYMBOL = {"eta_hat": r"\hat\eta(w)", "keep_prob": "q(w)", "drop_rate": "p(w)", "ratio": "r(w)",
                "variance": r"\sigma^2(w)", "penalty": r"\Omega(w)", "dual": r"f(\eta)"}
_SYMBOLS = {"eps": r"\epsilon"}
"""Parameter names typeset otherwise than SymPy's ``latex`` does."""
PANEL_HEIGHT = 2.0
"""Height in inches of the panels and their axis labels; the legend's height is added below them."""
MAX_LABEL = 90
"""Longest math text of a rule's label; a longer expression is labelled by its kind alone."""


@dataclass(frozen=True)
class Curve:
    """One curve of one panel: ``piece`` of the rule ``rule`` (plain text) drawn as ``label`` (math text) in
    legend ``group``; ``x``, ``y`` float64 (nan where undefined); ``how`` the evaluator kind, ENVELOPE, or why
    the curve is missing (then ``x`` and ``y`` are empty)."""

    piece: str
    rule: str
    label: str
    group: str
    x: np.ndarray
    y: np.ndarray
    how: str

    @property
    def drawn(self) -> bool:
        return self.x.size > 0


@dataclass(frozen=True)
class Named:
    """A derivation and its catalog method's name ('' for a rule of the user's)."""

    d: Any
    method: str = ""


def resolve(rule: Any) -> Named:
    """A separable derivation from a Derivation, a catalog method's name (its default parameters) or a pair
    (name, {parameter: value}); anything else, or a non-separable penalty: InputError."""
    from .. import catalog
    from ..record import Derivation

    if isinstance(rule, Named):
        d, method = rule.d, rule.method
    elif isinstance(rule, str):
        d, method = catalog.get(rule), rule
    elif isinstance(rule, tuple) and len(rule) == 2 and isinstance(rule[0], str) and isinstance(rule[1], Mapping):
        d, method = catalog.get(rule[0], **rule[1]), rule[0]
    else:
        d, method = rule, getattr(rule, "name", "")
    if getattr(d, "separable", None) is False:
        raise InputError(f"{d.name} is not separable (its penalty couples the weights): nothing to plot per weight")
    if not isinstance(d, Derivation):
        raise InputError(f"plot takes derivations, catalog method names or (name, parameters), got {rule!r:.60}")
    return Named(d, method)


def rule_text(named: Named) -> str:
    """Plain text naming the rule: ``logsum(eps=2, lam=1)`` or ``keep_prob = tanh(w) (lam=1)``."""
    d = named.d
    params = ", ".join(f"{k}={v}" for k, v in d.params.items())
    if named.method:
        return f"{named.method}({params + ', ' if params else ''}lam={d.lam})"
    return f"{d.rule.kind} = {d.rule.expr} (lam={d.lam})"


def rule_label(named: Named) -> str:
    """Math text for the legend: the method and its parameters, or the rule's formula (lam if not 1)."""
    from .style import math_label

    d = named.d
    lam = [] if d.lam == 1 else [rf"\lambda = {sp.latex(d.lam)}"]
    if named.method:
        from .. import catalog

        entry = catalog.entry(named.method)
        shown = [p.name for p in entry.params if p.name != "lam"]
        if len(shown) > 2:  # long parameter lists: only what differs from the entry's defaults
            shown = [p.name for p in entry.params if p.name != "lam" and sp.sympify(p.default) != d.params[p.name]]
        args = [rf"{_SYMBOLS.get(name) or sp.latex(sp.Symbol(name))} = {sp.latex(d.params[name])}"
                for name in shown] + lam
        head = _NAMES.get(named.method, r"\mathrm{" + named.method.replace("_", r"\_") + "}")
        return math_label(f"${head}" + (rf"({', '.join(args)})" if args else "") + "$")
    formula = f"{_KIND_SYMBOL[d.rule.kind]} = {sp.latex(d.rule.expr)}"
    if len(formula) > MAX_LABEL:
        formula = _KIND_SYMBOL[d.rule.kind]
    return math_label(f"${formula}" + (rf",\ {lam[0]}" if lam else "") + "$")


def rule_group(named: Named) -> str:
    """The legend group: the catalog's family, else 'Your rules'."""
    if named.method:
        from .. import catalog

        return _FAMILY_GROUP.get(catalog.entry(named.method).family, RULES)
    return RULES


def _piece_values(d: Any, piece: str, w: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, y, how) of one piece of one derivation; empty x and y with the reason when it cannot be drawn."""
    empty = np.array([])
    lam = float(d.lam)
    if piece == "f_dual":
        if d.can_evaluate("f_dual"):
            return eta, np.asarray(d.evaluate("f_dual", eta), dtype=float), d.evaluator_kind("f_dual")
        monotone = d.properties.get("monotone")
        if not (d.can_evaluate("eta_hat") and d.can_evaluate("omega")
                and monotone is not None and monotone.status in ("proved", "supported")):
            return empty, empty, f"f not drawn: {d.provenance.get('f_dual', 'no evaluator')}"
        e_hat = np.asarray(d.evaluate("eta_hat", w), dtype=float)
        keep = np.isfinite(e_hat) & (e_hat >= eta[0]) & (e_hat <= eta[-1])
        om = np.asarray(d.evaluate("omega", w[keep]), dtype=float) - float(d.evaluate("omega", 0.0))
        return e_hat[keep], 2 * om - w[keep] ** 2 / e_hat[keep], ENVELOPE
    source = "eta_hat" if piece == "drop_rate" else piece
    if not d.can_evaluate(source):
        return empty, empty, f"{source} not drawn: {d.provenance.get(source, 'no evaluator')}"
    values = np.asarray(d.evaluate(source, w), dtype=float)
    if piece == "omega":
        return w, lam * (values - float(d.evaluate("omega", 0.0))), d.evaluator_kind("omega")
    if piece == "drop_rate":
        with np.errstate(invalid="ignore"):
            values = np.where(np.isinf(values), 0.0, lam / (lam + values))
    return w, np.where(np.isfinite(values), values, np.nan), d.evaluator_kind(source)


def _check_range(name: str, bounds: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be two numbers (low, high), got {bounds!r}") from None
    if not (0 < lo < hi < float("inf")):
        raise InputError(f"{name} must satisfy 0 < low < high < inf, got ({lo:g}, {hi:g})")
    return lo, hi


def compare_data(rules: Sequence[Any], pieces: Sequence[str] = PIECES, w_range: Sequence[float] = (0.01, 5.0),
                 eta_range: Sequence[float] = (0.01, 100.0), points: int = 200,
                 labels: Sequence[str] | None = None) -> list[Curve]:
    """The curves of :func:`plot`, piece by piece (panel order), rule by rule within a piece."""
    pieces = list(pieces)
    unknown = [p for p in pieces if p not in PIECES]
    if unknown or not pieces or len(set(pieces)) < len(pieces):
        raise InputError(f"pieces must be distinct names among {', '.join(PIECES)}, got {', '.join(pieces) or 'none'}")
    if not rules:
        raise InputError("nothing to plot: give at least one rule or catalog method")
    if not isinstance(points, int) or not 2 <= points <= 100_000:
        raise InputError(f"points must be an integer in [2, 100000], got {points!r}")
    w = np.geomspace(*_check_range("w_range", w_range), points)
    eta = np.geomspace(*_check_range("eta_range", eta_range), points)
    records = [resolve(r) for r in rules]
    if labels is not None and len(labels) != len(records):
        raise InputError(f"{len(labels)} labels for {len(records)} rules")
    shown = [rule_label(r) for r in records] if labels is None else [str(lab) for lab in labels]
    curves = []
    for piece in pieces:
        for r, label in zip(records, shown, strict=True):
            x, y, how = _piece_values(r.d, piece, w, eta)
            curves.append(Curve(piece, rule_text(r), label, rule_group(r), x, y, how))
    return curves


def draw(curves: Sequence[Curve]) -> Any:
    """The panels (one per piece, side by side; column width for one or two, full width for more) with a
    legend grouped below them: a matplotlib Figure, as tall as the panels and the legend need."""
    from .style import COLUMN_WIDTH, FULL_WIDTH, grouped_legend, math_label, new_figure, paper_style, series_style

    pieces = list(dict.fromkeys(c.piece for c in curves))
    rules = list(dict.fromkeys((c.rule, c.label, c.group) for c in curves))
    groups = [g for g in (DROPOUT, CLASSICAL, RULES) if any(r[2] == g for r in rules)]
    groups += list(dict.fromkeys(r[2] for r in rules if r[2] not in groups))
    with paper_style():
        fig = new_figure(COLUMN_WIDTH if len(pieces) <= 2 else FULL_WIDTH, PANEL_HEIGHT + 1.0)
        axes = np.atleast_1d(fig.subplots(1, len(pieces)))
        handles: dict[tuple[str, str, str], Any] = {}
        for ax, piece in zip(axes, pieces, strict=True):
            xlabel, ylabel, _, log_y = AXES[piece]
            for i, key in enumerate(rules):
                curve = next(c for c in curves if c.piece == piece and (c.rule, c.label, c.group) == key)
                if curve.drawn:
                    order = np.argsort(curve.x, kind="stable")
                    (line,) = ax.plot(curve.x[order], curve.y[order], **series_style(i).kwargs(i))
                    handles.setdefault(key, line)
            ax.set_xscale("log")
            if log_y:
                ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
        for i, key in enumerate(rules):  # a rule drawn in no panel still gets its legend entry
            if key not in handles:
                from matplotlib.lines import Line2D

                handles[key] = Line2D([], [], **series_style(i).kwargs(i))
        legend = grouped_legend(fig, [(g, [(handles[k], math_label(k[1])) for k in rules if k[2] == g])
                                      for g in groups], loc="outside lower center")
        fig.set_size_inches(fig.get_size_inches()[0], PANEL_HEIGHT + legend.get_window_extent().height / fig.dpi)
    return fig


def write_curves_csv(curves: Sequence[Curve], path: Path) -> Path:
    """The curves as CSV rows ``piece, rule, x, value, how`` (one per point; float64 with 17 digits)."""
    from .output import write_csv

    rows = ([c.piece, c.rule, float(x), float(y), c.how] for c in curves for x, y in zip(c.x, c.y, strict=True))
    return write_csv(path, ["piece", "rule", "x", "value", "how"], rows)


def plot(*rules: Any, pieces: Sequence[str] = PIECES, w_range: Sequence[float] = (0.01, 5.0),
         eta_range: Sequence[float] = (0.01, 100.0), points: int = 200, labels: Sequence[str] | None = None,
         path: str | os.PathLike | None = None, csv: str | os.PathLike | None = None) -> Any:
    """Draw rules and catalog methods side by side: one panel per piece of ``pieces`` (lam Omega, eta_hat and
    p over |w| in ``w_range``, f over eta in ``eta_range``, log-spaced ``points``), in Figure 1's style.

    ``rules``: Derivations (``sd.derive(...)``, ``sd.catalog.get(...)``), catalog names (default parameters) or
    pairs (name, {parameter: value});
    ``labels``: legend entries (math text), one per rule. ``path`` (.pdf, .png, .svg) and ``csv``: files to
    write, checked before any work. Returns the matplotlib Figure. Bad input: :class:`symdual.InputError`.
    """
    from .output import image_path, require_matplotlib, save_image

    require_matplotlib()
    target = None if path is None else image_path(path)
    table = None if csv is None else csv_path(csv)
    curves = compare_data(rules, pieces, w_range, eta_range, points, labels)
    fig = draw(curves)
    if target is not None:
        save_image(fig, target)
    if table is not None:
        write_curves_csv(curves, table)
    return fig


def csv_path(path: str | os.PathLike) -> Path:
    """``path`` checked before any work: a .csv file name in an existing folder, not a folder."""
    out = Path(os.fspath(path)).expanduser()
    if out.suffix.lower() != ".csv":
        raise InputError(f"--csv {os.fspath(path)!r}: the file name must end in .csv")
    if out.is_dir() or not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"--csv {os.fspath(path)!r}: not a file in an existing folder")
    return out
