"""Figure 1 of LeJeune, Javadi, Baraniuk (NeurIPS 2021): effective penalties of adaptive dropout.

Run: python paper_figures/figure1.py [--out paper_figures/out]   (same as `symdual figures`)
Every curve is evaluated from the catalog's derivations (closed forms, or the
certified numerics for VarDrop and HardConcrete); nothing is digitised from the paper.
"""
import argparse
import sys

from symdual.figures import add_arguments, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
