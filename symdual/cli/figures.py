"""``symdual figures``: regenerate the papers' figures (PNG, PDF and CSV data), drawn by :mod:`symdual.figures`."""
from __future__ import annotations

import argparse

HELP = "regenerate the papers' figures (PNG, PDF and their data as CSV)"
DESCRIPTION = ("Regenerate the papers' figures (Figure 1 of LeJeune et al. 2021) as PNG (300 dpi), PDF and CSV, "
               "in --out DIR or in symdual's cache folder.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder, created if needed (default: the folder 'figures' in symdual's cache "
                             "folder, $SYMDUAL_CACHE_DIR or the user cache folder; see symdual cache info)")
    parser.add_argument("--quick", action="store_true", help="each figure's faster variant (coarser grids)")


def run(args: argparse.Namespace) -> int:
    from ..figures import FIGURES, regenerate  # matplotlib is imported when drawing

    for path in regenerate(args.out, quick=args.quick):  # the folder is checked before any work
        print(f"wrote {path}")
    print(f"{len(FIGURES)} figure(s): {', '.join(f.name for f in FIGURES)}")
    return 0
