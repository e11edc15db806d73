"""The case study's outputs: every epoch of every run as CSV, the final table as Markdown and CSV (sparsity with
the evaluation mask applied, the masked and the unpruned validation accuracy, the paper's numbers beside them),
and the comparisons of each adaptive-dropout method with its effective penalty."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ..output import write_csv
from .train import Epoch, Run

HISTORY_COLUMNS = ("method", *(f.name for f in dataclasses.fields(Epoch)))
TABLE_COLUMNS = ("method", "group", "lr", "epochs", "steps", "sparsity", "nonzero", "min_keep_prob", "val_accuracy",
                 "val_accuracy_unpruned", "paper_sparsity", "paper_val_accuracy", "seconds", "noise_cost",
                 "logsum_penalty", "logsum_rule_sparsity")
PAIRS = (("vardrop_lr_ar", "logsum"), ("bernoulli", "logsum"), ("gaussian", "logsum"), ("eta_trick", "logsum"),
         ("adaprox", "logsum"), ("adatikhonov", "logsum"))
"""(adaptive method, the penalty it minimises through the eta-trick) compared in the Markdown table: VarDrop+LR+AR
and LogSum as in the paper, and every method driven by LogSum's eta_hat against LogSum itself."""


def write_history(path: Path, runs: Sequence[Run]) -> Path:
    """One row per run and epoch (:data:`HISTORY_COLUMNS`)."""
    rows = ([run.method.key, *dataclasses.astuple(e)] for run in runs for e in run.history)
    return write_csv(path, HISTORY_COLUMNS, ([key, str(epoch), *rest] for key, epoch, *rest in rows))


def table_rows(runs: Sequence[Run]) -> list[dict[str, object]]:
    """The final table, one dict per run (:data:`TABLE_COLUMNS`; the paper's cells are None where it has none)."""
    rows = []
    for run in runs:
        e, paper = run.final, run.method.paper
        rows.append({"method": run.method.key, "group": run.method.group, "lr": run.method.lr, "epochs": run.epochs,
                     "steps": run.steps, "sparsity": 1 - e.nonzero, "nonzero": e.nonzero,
                     "min_keep_prob": e.min_keep_prob, "val_accuracy": 1 - e.val_error,
                     "val_accuracy_unpruned": 1 - e.val_error_unpruned,
                     "paper_sparsity": None if paper is None else paper[0],
                     "paper_val_accuracy": None if paper is None else paper[1], "seconds": e.seconds,
                     "noise_cost": run.noise_cost, "logsum_penalty": run.logsum_value,
                     "logsum_rule_sparsity": run.logsum_rule_sparsity})
    return rows


def write_table_csv(path: Path, runs: Sequence[Run]) -> Path:
    cells = [[("" if row[c] is None else row[c]) if c not in ("method", "group", "epochs", "steps") else str(row[c])
              for c in TABLE_COLUMNS] for row in table_rows(runs)]
    return write_csv(path, TABLE_COLUMNS, cells)


def _pct(x: object) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}"  # type: ignore[arg-type]


def markdown(runs: Sequence[Run], source: str, settings: str) -> str:
    """The final table and the pair comparisons as Markdown."""
    lines = ["# Case study: LeNet-300-100, sparsity and validation accuracy", "",
             f"Data: {source}.", f"Settings: {settings}.", "",
             "Sparsity = fraction of the 266,200 weights whose keep probability is below 0.05 (biases not counted); "
             "accuracy with those weights set to 0 (the evaluation mask) and, beside it, of the unpruned network; "
             "min q = the smallest keep probability of any weight (nothing is pruned while it is >= 0.05).",
             "", "| method | lr | Adam steps | sparsity % | min q | val. acc. % (masked) | val. acc. % (unpruned) | "
             "paper sparsity % | paper val. acc. % | time s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in table_rows(runs):
        lines.append(f"| {row['method']} | {row['lr']:g} | {row['steps']} | {_pct(row['sparsity'])} | "
                     f"{float(row['min_keep_prob']):.2g} | {_pct(row['val_accuracy'])} | "  # type: ignore[arg-type]
                     f"{_pct(row['val_accuracy_unpruned'])} | {_pct(row['paper_sparsity'])} | "
                     f"{_pct(row['paper_val_accuracy'])} | {row['seconds']:.0f} |")
    done = {run.method.key: run.final for run in runs}
    pairs = [(a, b) for a, b in PAIRS if a in done and b in done]
    if pairs:
        lines += ["", "Each adaptive method against its effective penalty (differences in percentage points):", "",
                  "| adaptive method | counterpart | sparsity difference | val. acc. difference (masked) |",
                  "|---|---|---|---|"]
        for a, b in pairs:
            ds = 100 * ((1 - done[a].nonzero) - (1 - done[b].nonzero))
            da = 100 * ((1 - done[a].val_error) - (1 - done[b].val_error))
            lines.append(f"| {a} | {b} | {ds:+.1f} | {da:+.1f} |")
    lines += ["", "Regularisation at the final weights: the cost of the training noise on the training set, "
              "E CE(noisy) - CE(no noise) (what dropout adds to the mean cross-entropy; 0 without noise), and "
              "lam sum (Omega(w) - Omega(0)) with LogSum's Omega (what the eta-trick ascribes to the LogSum-driven "
              "rules), and the sparsity % that LogSum's keep rule gives every method's weights (q = eta_hat(w)/"
              "(eta_hat(w) + lam) < 0.05, i.e. |w| < 2.6e-5: one yardstick for all):", "",
              "| method | noise cost | lam sum Omega(w) | sparsity % by LogSum's rule |", "|---|---|---|---|"]
    lines += [f"| {run.method.key} | {run.noise_cost:.3g} | {run.logsum_value:.3g} | "
              f"{_pct(run.logsum_rule_sparsity)} |" for run in runs]
    lines += ["", "Methods:", ""] + [f"- `{run.method.key}`: {run.method.description}" for run in runs]
    return "\n".join(lines) + "\n"
