"""The case study's figure: the fraction of nonzero weights and the validation error of every run per epoch
(LeJeune et al. 2021, Figure 3), drawn from the history the case study writes (no torch here)."""
from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FILES = ("case_study.png", "case_study.pdf")
"""The figure as PNG (300 dpi) and PDF."""


@dataclass(frozen=True)
class Curve:
    """One run: CSV ``key``, math-text ``label``, legend ``group``, and per epoch the fraction of nonzero weights
    and the validation error with the evaluation mask applied."""

    key: str
    label: str
    group: str
    epoch: np.ndarray
    nonzero: np.ndarray
    val_error: np.ndarray


def read_history(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """The history CSV as {method: {column: values in epoch order}} (every column but ``method`` as floats)."""
    columns: dict[str, dict[str, list[float]]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = row.pop("method")
            for name, value in row.items():
                columns.setdefault(key, {}).setdefault(name, []).append(float(value))
    return {key: {name: np.asarray(v) for name, v in cols.items()} for key, cols in columns.items()}


def draw(curves: Sequence[Curve], groups: Sequence[str]) -> Any:
    """Two panels at full width (6.75 in): nonzero fraction (log) and validation error (%, log) per epoch, with
    a legend grouped by ``groups`` below them."""
    from .style import FULL_WIDTH, grouped_legend, new_figure, paper_style, series_style

    with paper_style():
        fig = new_figure(FULL_WIDTH, 3.1)
        left, right = fig.subplots(1, 2)
        handles = {}
        for i, c in enumerate(curves):
            style = series_style(i).kwargs(i, markers=8)
            (handles[c.key],) = left.plot(c.epoch, c.nonzero, label=c.label, **style)
            right.plot(c.epoch, 100 * np.maximum(c.val_error, 1e-4), **style)
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        last = max(int(c.epoch[-1]) for c in curves)
        for ax in (left, right):
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:g}$"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(1, max(last, 2))
            ax.set_xlabel(r"$\mathrm{epoch}$")
        left.set_ylabel(r"$\mathrm{fraction\ of\ nonzero\ weights}$")
        right.set_ylabel(r"$\mathrm{validation\ error\ (\%),\ pruned}$")
        grouped_legend(fig, [(g, [(handles[c.key], c.label) for c in curves if c.group == g]) for g in groups],
                       loc="outside lower center")
    return fig
