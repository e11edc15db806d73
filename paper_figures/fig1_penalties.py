"""Figure 1 of LeJeune, Javadi, Baraniuk (NeurIPS 2021): the effective penalties of adaptive dropout.

Run: python paper_figures/fig1_penalties.py [--out DIR] [--quick]
Writes figure1.png (300 dpi), figure1.pdf, figure1_left.csv and figure1_right.csv into DIR (default: the folder
out/ next to this script). Every curve is the catalog's certified numerics (symdual.figures.figure1); nothing is
digitised from the paper. `symdual figures` writes the same files (into symdual's cache folder by default).
"""
import argparse
from pathlib import Path

from symdual.figures import figure1, output_folder

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"), help="output folder")
    parser.add_argument("--quick", action="store_true", help="a coarser grid on the left panel")
    args = parser.parse_args()
    for path in figure1.write(output_folder(args.out, figure1.FILES), quick=args.quick):
        print(f"wrote {path}")
