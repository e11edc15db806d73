"""The case study's figure: the fraction of nonzero weights and the validation error of every run per epoch
(LeJeune et al. 2021, Figure 3), drawn from the history the case study writes (no torch here)."""
from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FILES = ("case_study.png", "case_study.pdf")
"""The figure as PNG (300 dpi) and PDF."""
STUDY_FILES = ("case_study_history.csv", "case_study_table.csv", "case_study_table.md", *FILES)
"""Everything :func:`study` writes: the case study's history and table (CSV, Markdown), then the figure."""


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


def curves(runs: Sequence[Any]) -> list[Curve]:
    """The runs of :func:`symdual.casestudy.run_study` as curves."""
    return [Curve(r.method.key, r.method.label, r.method.group, np.array([e.epoch for e in r.history]),
                  np.array([e.nonzero for e in r.history]), np.array([e.val_error for e in r.history])) for r in runs]


def curves_from_history(path: str | os.PathLike) -> list[Curve]:
    """The curves read back from a history CSV of the case study (methods in table order)."""
    from ..casestudy.methods import METHODS
    from ..errors import InputError

    history = read_history(path)
    unknown = sorted(set(history) - {m.key for m in METHODS})
    if unknown:
        raise InputError(f"{path}: unknown method {unknown[0]!r} in the history")
    return [Curve(m.key, m.label, m.group, history[m.key]["epoch"], history[m.key]["nonzero"],
                  history[m.key]["val_error"]) for m in METHODS if m.key in history]


def draw_runs(runs: Sequence[Any], folder: Path) -> list[Path]:
    """The figure of ``runs`` as :data:`FILES` in ``folder``."""
    from ..casestudy.methods import DROPOUT, PENALTY
    from .output import save_image

    fig = draw(curves(runs), [DROPOUT, PENALTY])
    return [save_image(fig, folder / name) for name in FILES]


def study(out: str | os.PathLike | None, **options: Any) -> Any:
    """:func:`symdual.casestudy.run_study` (torch, mlxtend) with the figure: :data:`STUDY_FILES` in ``out``; the
    options are run_study's. Returns its StudyResult."""
    from ..casestudy import run_study
    from .output import require_matplotlib

    require_matplotlib()
    return run_study(out, reserve=FILES, draw=draw_runs, **options)


def write(folder: Path, quick: bool = False) -> list[Path]:
    """The case study into ``folder``: every method, 200 epochs on MNIST-5k, or the quick variant; the progress
    bar goes to stderr. Returns the paths of :data:`STUDY_FILES`."""
    return study(folder, quick=quick).paths


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
