"""``symdual figures``: the papers' figures as PNG files (drawn by :mod:`symdual.figures`)."""
from __future__ import annotations

import argparse

HELP = "regenerate the papers' figures as PNG files"
DESCRIPTION = "Regenerate the papers' figures (Figure 1 of LeJeune et al. 2021) as PNG files."
DEFAULT_OUT = "paper_figures/out"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"output folder, created if needed (default {DEFAULT_OUT})")


def run(args: argparse.Namespace) -> int:
    from ..figures import output_path, plot_figure1  # matplotlib is imported when drawing

    path = plot_figure1(output_path(args.out))  # the folder is checked before any work
    print(f"wrote {path}")
    return 0
