"""The papers' figures, drawn from symdual's derivations, and :func:`plot` for any rules side by side.

    from symdual import figures
    figures.regenerate()                       # every paper figure, in <cache folder>/figures
    figures.regenerate("paper_figures/out", quick=True)
    fig = figures.plot("logsum", sd.derive(keep_prob="tanh(w)"), path="cmp.pdf")

Modules: :mod:`.style` (sizes, fonts, greyscale-safe series, grouped legend), :mod:`.output` (folders, CSV,
images), :mod:`.figure1` (Figure 1 of LeJeune et al. 2021), :mod:`.structured` (Pal et al. 2020: structured
dropout), :mod:`.casestudy` (the case study's figure; the study itself is :mod:`symdual.casestudy`),
:mod:`.compare` (:func:`plot`). matplotlib is
imported only when a figure is drawn.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import casestudy, figure1, structured
from .compare import PIECES, compare_data, plot
from .figure1 import figure1_data
from .output import default_folder, output_folder, require_matplotlib

__all__ = ["FIGURES", "PIECES", "PaperFigure", "compare_data", "default_folder", "figure1_data", "output_folder",
           "plot", "regenerate"]


@dataclass(frozen=True)
class PaperFigure:
    """A figure of the papers: its ``name``, the ``files`` it writes, and ``write(folder, quick)`` -> paths."""

    name: str
    title: str
    files: tuple[str, ...]
    write: Callable[[Path, bool], list[Path]]


FIGURES: tuple[PaperFigure, ...] = (
    PaperFigure("figure1", "Figure 1 of LeJeune et al. (2021): effective penalties", figure1.FILES,
                lambda folder, quick: figure1.write(folder, quick)),
    PaperFigure("structured", "Pal et al. (2020): Dropout and DropBlock solutions, SGD with real masks vs closed form",
                structured.FILES, lambda folder, quick: structured.write(folder, quick)),
    PaperFigure("case_study", "LeJeune et al. (2021), Section 5: sparsifying LeNet-300-100 (trains 9 networks; torch)",
                casestudy.STUDY_FILES, lambda folder, quick: casestudy.write(folder, quick)),
)
"""The figures :func:`regenerate` writes, in order."""


def regenerate(folder: str | os.PathLike | None = None, quick: bool = False,
               written_one: Callable[[PaperFigure, list[Path]], None] | None = None) -> list[Path]:
    """Write every figure of :data:`FIGURES` into ``folder`` (None: :func:`default_folder`), which is checked
    (and created) before any work; ``quick``: each figure's faster variant; ``written_one(figure, paths)`` after
    each figure. Returns the paths written."""
    require_matplotlib()
    out = output_folder(folder, [name for fig in FIGURES for name in fig.files])
    written: list[Path] = []
    for fig in FIGURES:
        paths = fig.write(out, quick)
        if written_one is not None:
            written_one(fig, paths)
        written += paths
    return written
