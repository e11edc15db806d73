"""Figure 1 of LeJeune, Javadi, Baraniuk (NeurIPS 2021): the effective penalties of adaptive dropout.

Left: lam (Omega(w) - Omega(w_min)) over |w| in [w_min, w_max] = [0.01, 5] (log grid) for VarDrop (exact KL),
Standout, HardConcrete (lam = 1), LogSum(2) x 2 and MCP(a = 1/2, lam = sqrt 2) x sqrt 2. Right: the same
penalties of unit-norm k-sparse vectors w in R^32 (w_j = 1/sqrt(k) for j <= k, 0 beyond), k = 0..32,

    lam Omega(w) = lam sum_j (Omega(w_j) - Omega(0))     (separable penalties),

with HardThresh(16) (0 for k <= 16, +oo beyond; the arrow marks the jump to +oo). Every value is the catalog's
float64 evaluator (closed forms, or the certified solvers of VarDrop and HardConcrete); nothing is digitised from
the paper.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

W_MIN, W_MAX = 0.01, 5.0
POINTS, QUICK_POINTS = 400, 60
DIM, HARDTHRESH_K = 32, 16
DROPOUT, CLASSICAL = "Adaptive dropout", "Classical penalties"
FILES = ("figure1.png", "figure1.pdf", "figure1_left.csv", "figure1_right.csv")
"""What :func:`write` writes: the figure as PNG (300 dpi) and PDF, and each panel's data as CSV."""


@dataclass(frozen=True)
class Series:
    """One curve: CSV column ``key``, math-text ``label``, legend ``group``, the catalog ``method`` at
    ``params``, and ``scale``: the plotted penalty is scale * Omega (the lam of the figure)."""

    key: str
    label: str
    group: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    scale: sp.Expr = sp.Integer(1)


SEPARABLE = (
    Series("vardrop_exact", r"$\mathrm{VarDrop\ (exact\ KL)}$", DROPOUT, "vardrop_exact", {"lam": 1}),
    Series("standout", r"$\mathrm{Standout}$", DROPOUT, "standout", {"lam": 1}),
    Series("hardconcrete", r"$\mathrm{HardConcrete}$", DROPOUT, "hardconcrete", {"lam": 1}),
    Series("logsum_x2", r"$\mathrm{LogSum}(2) \times 2$", CLASSICAL, "logsum", {"eps": 2}, sp.Integer(2)),
    Series("mcp_x_sqrt2", r"$\mathrm{MCP}(\frac{1}{2}, \sqrt{2}) \times \sqrt{2}$", CLASSICAL, "mcp",
           {"a": sp.Rational(1, 2), "lam": sp.sqrt(2)}, sp.sqrt(2)),
)
"""The separable penalties of both panels, in legend order within their groups."""
HARDTHRESH = Series(f"hardthresh_{HARDTHRESH_K}", rf"$\mathrm{{HardThresh}}({HARDTHRESH_K})$", DROPOUT,
                    "hardthresh", {"k": HARDTHRESH_K})
"""The non-separable penalty of the right panel."""


@dataclass(frozen=True)
class Figure1Data:
    """The curves: ``left[key]`` over ``w``, ``right[key]`` over ``k`` (float64; HardThresh +inf off its domain)."""

    w: np.ndarray
    k: np.ndarray
    left: dict[str, np.ndarray]
    right: dict[str, np.ndarray]


def k_sparse_unit(k: int, dim: int = DIM) -> np.ndarray:
    """The unit-norm k-sparse vector of R^dim: 1/sqrt(k) on the first k coordinates, 0 on the others."""
    w = np.zeros(dim)
    if k:
        w[:k] = 1 / math.sqrt(k)
    return w


def figure1_data(points: int = POINTS, get: Callable[..., Any] | None = None) -> Figure1Data:
    """Both panels' curves, ``points`` weights log-spaced over [W_MIN, W_MAX] on the left; ``get(name, **params)``
    gives the records (default :func:`symdual.catalog.get`; a cache of them in tests)."""
    from .. import catalog

    get = catalog.get if get is None else get
    w = np.geomspace(W_MIN, W_MAX, points)
    ks = np.arange(DIM + 1)
    vectors = [k_sparse_unit(int(k)) for k in ks]
    left, right = {}, {}
    for s in SEPARABLE:
        d = get(s.method, **s.params)
        scale, at0 = float(s.scale), float(d.evaluate("omega", 0.0))
        left[s.key] = scale * (d.evaluate("omega", w) - d.evaluate("omega", W_MIN))
        right[s.key] = np.array([scale * float(np.sum(d.evaluate("omega", v) - at0)) for v in vectors])
    vector_penalty = get(HARDTHRESH.method, **HARDTHRESH.params)
    right[HARDTHRESH.key] = np.array([float(vector_penalty.evaluate("omega", v)) for v in vectors])
    return Figure1Data(w=w, k=ks, left=left, right=right)


def draw(data: Figure1Data) -> Any:
    """The figure (a matplotlib Figure, COLUMN_WIDTH wide): two panels and a legend grouped below them."""
    from .style import COLUMN_WIDTH, grouped_legend, new_figure, paper_style, series_style

    with paper_style():
        fig = new_figure(COLUMN_WIDTH, 2.75)
        left, right = fig.subplots(1, 2)
        handles: dict[str, Any] = {}
        for i, s in enumerate(SEPARABLE):
            style = series_style(i)
            (handles[s.key],) = left.plot(data.w, data.left[s.key], label=s.label, **style.kwargs(i))
            right.plot(data.k, data.right[s.key], **style.kwargs(i, markers=6))
        left.set_xscale("log")
        left.set_xlim(W_MIN, W_MAX)
        left.set_ylim(bottom=0)
        left.set_xlabel(r"$|w|$")
        left.set_ylabel(r"$\lambda\,[\Omega(w) - \Omega(w_{\min})]$")

        style = series_style(len(SEPARABLE))
        ht = data.right[HARDTHRESH.key]
        finite = np.isfinite(ht)
        (handles[HARDTHRESH.key],) = right.plot(data.k[finite], ht[finite], label=HARDTHRESH.label,
                                                **style.kwargs(len(SEPARABLE), markers=6))
        top = 1.08 * max(float(np.max(v)) for key, v in data.right.items() if key != HARDTHRESH.key)
        if not finite.all():
            k_jump = int(data.k[~finite][0])
            right.annotate("", xy=(k_jump, 0.97 * top), xytext=(k_jump, 0.0),
                           arrowprops={"arrowstyle": "->", "color": style.color, "linewidth": 1.0})
            right.text(k_jump - 0.8, 0.97 * top, r"$+\infty$", color=style.color, va="top", ha="right")
        right.set_xlim(0, DIM)
        right.set_ylim(0, top)
        right.set_xticks(range(0, DIM + 1, 8))
        right.set_xlabel(r"$k = \|w\|_0$,  $\|w\|_2 = 1$")
        right.set_ylabel(r"$\lambda\,\Omega(w)$,  $w \in \mathbb{R}^{32}$")

        series = (*SEPARABLE, HARDTHRESH)
        groups = [(group, [(handles[s.key], s.label) for s in series if s.group == group])
                  for group in (DROPOUT, CLASSICAL)]
        grouped_legend(fig, groups, loc="outside lower center")
    return fig


def write(folder: Path, quick: bool = False, get: Callable[..., Any] | None = None) -> list[Path]:
    """Figure 1 in ``folder`` (checked by the caller): :data:`FILES`; ``quick`` draws the left panel on
    QUICK_POINTS weights instead of POINTS; ``get`` as in :func:`figure1_data`."""
    from .output import save_image, write_csv

    data = figure1_data(QUICK_POINTS if quick else POINTS, get)
    fig = draw(data)
    png, pdf, left_csv, right_csv = (folder / name for name in FILES)
    keys = [s.key for s in SEPARABLE]
    out = [save_image(fig, png), save_image(fig, pdf)]
    out.append(write_csv(left_csv, ["w", *keys], zip(data.w, *(data.left[k] for k in keys), strict=True)))
    keys.append(HARDTHRESH.key)
    out.append(write_csv(right_csv, ["k", *keys], ([str(k), *vals] for k, *vals in
                                                    zip(data.k, *(data.right[k] for k in keys), strict=True))))
    return out
