"""Structured dropout (Pal et al., CVPR 2020): Dropout and DropBlock solutions of SGD with real masks vs closed form.

Run: python paper_figures/fig_structured.py [--out DIR] [--quick]
Writes structured.png (300 dpi), structured.pdf, structured_tight.csv, structured_nontight.csv and
structured_summary.csv into DIR (default: the folder out/ next to this script). Singular values of the data Y, of
the closed-form minimiser (prox of the squared spectral r-support norm), of the true minimiser of the expected
DropBlock loss (L-BFGS, where the relaxation is not tight) and of SGD with real Bernoulli block masks, for r = 1
(Dropout), 2, 4 with d = 8 (tight) and r = 2 with d = 4 (not tight); see symdual.figures.structured.
"""
import argparse
from pathlib import Path

from symdual.figures import output_folder, structured

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"), help="output folder")
    parser.add_argument("--quick", action="store_true", help="shorter SGD runs and fewer L-BFGS restarts")
    args = parser.parse_args()
    for path in structured.write(output_folder(args.out, structured.FILES), quick=args.quick):
        print(f"wrote {path}")
