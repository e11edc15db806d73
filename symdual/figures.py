"""Regenerate the papers' figures (Figure 1 of LeJeune et al. 2021) as PNG files.

Left panel: lam * (Omega(w) - Omega(w_min)) for |w| in [0.01, 5] (log grid)
for VarDrop (exact KL), Standout, HardConcrete (lam = 1), LogSum(2) scaled by
2 and MCP(a = 1/2, lam = sqrt 2) scaled by sqrt 2 (docs/catalog.md).
Right panel: the same penalties summed over a unit-norm k-sparse w in R^32
(w_j = 1/sqrt(k) for j <= k), k = 0..32, plus HardThresh(16).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

# (label, catalog name, parameters, scale): the penalty plotted is scale * Omega
FIGURE1 = (
    ("VarDrop (exact KL)", "vardrop_exact", {"lam": 1}, 1.0),
    ("Standout", "standout", {"lam": 1}, 1.0),
    ("HardConcrete", "hardconcrete", {"lam": 1}, 1.0),
    ("LogSum(2) x2", "logsum", {"eps": 2}, 2.0),
    ("MCP(1/2, sqrt 2) x sqrt 2", "mcp", {"a": 0.5, "lam": math.sqrt(2)}, math.sqrt(2)),
)
DIM, HARDTHRESH_K = 32, 16


def figure1_data() -> dict:
    """The curves of Figure 1: w grid, penalties per method, and k-sparse sums."""
    from . import catalog

    w = np.geomspace(0.01, 5, 400)
    ks = np.arange(DIM + 1)
    left, right = {}, {}
    for label, name, params, scale in FIGURE1:
        d = catalog.get(name, **params)
        omega = lambda x, d=d: d.evaluate("omega", np.asarray(x, dtype=float))  # noqa: E731
        left[label] = scale * (omega(w) - omega([w[0]])[0])
        at0 = omega([0.0])[0]
        right[label] = np.array([0.0] + [scale * k * (omega([1 / math.sqrt(k)])[0] - at0) for k in ks[1:]])
    right[f"HardThresh({HARDTHRESH_K})"] = np.where(ks <= HARDTHRESH_K, 0.0, np.inf)
    return {"w": w, "k": ks, "left": left, "right": right}


def output_path(folder: str, name: str = "figure1.png") -> Path:
    """``folder/name``, checked before any work: ``folder`` is not empty, is (or is created as) a writable
    folder, and ``name`` there is not a folder; else InputError with one line."""
    from .errors import InputError

    if not folder.strip():
        raise InputError(f"--out must name a folder (got {folder!r})")
    out = Path(folder).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {folder!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {folder!r}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"--out {folder!r}: the folder is not writable")
    if (out / name).is_dir():
        raise InputError(f"--out {folder!r}: {name} there is a folder")
    return out / name


def plot_figure1(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = figure1_data()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, values in data["left"].items():
        ax1.plot(data["w"], values, label=label)
    ax1.set_xscale("log")
    ax1.set_xlabel("|w|")
    ax1.set_ylabel(r"$\lambda(\Omega(w) - \Omega(w_{\min}))$")
    ax1.set_title("Separable penalties")
    ax1.legend(fontsize=8)
    finite_max = max(np.nanmax(v[np.isfinite(v)]) for v in data["right"].values())
    for label, values in data["right"].items():
        shown = np.where(np.isfinite(values), values, np.nan)
        style = dict(linestyle="--", marker="x", color="k") if label.startswith("HardThresh") else dict(marker=".")
        ax2.plot(data["k"], shown, label=label, **style)
        if not np.all(np.isfinite(values)):
            k_inf = data["k"][~np.isfinite(values)][0]
            ax2.annotate(rf"$+\infty$ for $k > {k_inf - 1}$", (k_inf, 0.9 * finite_max), fontsize=8)
    ax2.set_xlabel(r"sparsity $k$ of $w \in \mathbb{R}^{32}$, $w_j = 1/\sqrt{k}$ for $j \leq k$")
    ax2.set_ylabel(r"$\lambda \sum_j (\Omega(w_j) - \Omega(0))$")
    ax2.set_title("Unit-norm k-sparse vectors")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
