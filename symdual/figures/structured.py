"""Structured dropout (Pal et al., CVPR 2020): the solutions of Dropout and DropBlock found by SGD with real masks
against the closed-form minimiser, on a single-hidden-layer linear network ||Y - U diag(m) V^T||_F^2 (whitened
input), d hidden units in d/r blocks of r, each block kept with probability theta = 1/2 and scaled 1/theta.

The expected loss is F(U, V) = ||Y - UV^T||_F^2 + c sum_g ||U_g V_g^T||_F^2, c = (1-theta)/theta = 1
(:mod:`symdual.theorems.structured`). Its relaxation min_Z ||Y - Z||_F^2 + c (r/d) ||Z||_(r)^2 (spectral r-support
norm; r = 1 is Dropout with the nuclear norm) is solved in closed form by the prox of the squared r-support norm,
weight c r/d, on the singular values of Y (:func:`~symdual.theorems.structured.dropblock_minimiser`). It is the
global minimiser of F exactly when the induced regulariser P_r(Z) = min_{UV^T = Z} sum_g ||U_g V_g^T||^2 attains
its lower bound (r/d) ||Z||_(r)^2 at it.

* Tight case (panels a-c): Y = A diag(8, 4, 2, 1, 1/2, 1/4, 1/8, 1/16) B^T (8 x 8), A and B Haar-random orthogonal
  (seed TIGHT_SEED), d = 8, r = 1 (Dropout), 2 and 4 (DropBlock); the geometric spectrum gives three different
  closed forms (on a Gaussian Y, r = 1 and r = 2 coincide: the k-support norm of a flat spectrum is ||.||_1^2/k).
  P_r(Z*) is computed by BFGS over all factorisations and equals the bound, so Z* is the global minimiser.
* Non-tight case (panel d): d = 4, r = 2, Y = A diag(9/2, 5/2, 5/2, 5/2) B^T (seed NONTIGHT_SEED), chosen so that
  the closed form is Z* = A diag(3, 1, 1, 1) B^T, the counterexample of ``structured.dropblock_gap``: P_2(Z*) = 10
  > 9 = (r/d) ||Z*||_(2)^2. (Inverting the prox: Z* = (3, 1, 1, 1) has weights mu = (1, 1/3, 1/3, 1/3), so
  y_i = z_i (1 + lam/mu_i) with lam = c r/d = 1/2.) The true minimiser of F, by L-BFGS over (U, V) from random
  starts with the analytic gradient, has singular values (11/4, 5/4, 5/4, 3/4) and F = 37/2, between the relaxed
  minimum 18 and F at the closed form, 19. (Its minimisers form an orbit under rotations of Y's repeated singular
  value, so singular values, not matrices, are compared.)

SGD (:func:`sgd_real_masks`): real Bernoulli block masks (``batch`` per step), step ETA0/||Y||_2/(1 + 10 t/steps),
the average of UV^T over the second half; seeds SGD_SEED + r (tight), SGD_SEED + 100 (non-tight). The bottom row
shows sigma_i - sigma_i(Z*) on one scale: about 0 for SGD in the tight case, and in the non-tight case SGD sits on
the true minimiser, away from the closed form. scipy, symdual.theorems and matplotlib are imported when used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

THETA = 0.5
TIGHT_SPECTRUM = tuple(8.0 * 0.5**i for i in range(8))
TIGHT_D, TIGHT_BLOCKS = 8, (1, 2, 4)
NONTIGHT_SPECTRUM = (4.5, 2.5, 2.5, 2.5)
NONTIGHT_D, NONTIGHT_R = 4, 2
TIGHT_SEED, NONTIGHT_SEED, SGD_SEED, LBFGS_SEED = 0, 1, 100, 0
ETA0 = 0.3
STEPS, QUICK_STEPS = 40000, 4000
BATCH, QUICK_BATCH = 16, 8
RESTARTS, QUICK_RESTARTS = 12, 6
FILES = ("structured.png", "structured.pdf", "structured_tight.csv", "structured_nontight.csv",
         "structured_summary.csv")
"""What :func:`write` writes: the figure as PNG (300 dpi) and PDF, each case's singular values as CSV, and per
panel the parameters, the penalty check, the objectives and the errors."""


def keep_ratio(th: float) -> float:
    """c = (1 - theta)/theta."""
    return (1 - th) / th


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random n x n orthogonal matrix (QR of a Gaussian, signs fixed by R's diagonal)."""
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def rotated(spectrum: tuple[float, ...], seed: int) -> np.ndarray:
    """A diag(spectrum) B^T with A, B Haar-random orthogonal from ``seed`` (A first)."""
    rng = np.random.default_rng(seed)
    n = len(spectrum)
    A = haar_orthogonal(n, rng)
    B = haar_orthogonal(n, rng)
    return (A * np.asarray(spectrum, float)) @ B.T


def singular_values(Z: np.ndarray) -> np.ndarray:
    return np.linalg.svd(Z, compute_uv=False)


def expected_loss(x: np.ndarray, Y: np.ndarray, d: int, r: int, c: float) -> tuple[float, np.ndarray]:
    """F(U, V) = ||Y - UV^T||_F^2 + c sum_g ||U_g V_g^T||_F^2 at x = (U.ravel(), V.ravel()), and its gradient."""
    m, n = Y.shape
    U, V = x[:m * d].reshape(m, d), x[m * d:].reshape(n, d)
    R = U @ V.T - Y
    f, gU, gV = float(np.sum(R**2)), 2 * R @ V, 2 * R.T @ U
    for g in range(0, d, r):
        b = slice(g, g + r)
        Zg = U[:, b] @ V[:, b].T
        f += c * float(np.sum(Zg**2))
        gU[:, b] += 2 * c * Zg @ V[:, b]
        gV[:, b] += 2 * c * Zg.T @ U[:, b]
    return f, np.concatenate([gU.ravel(), gV.ravel()])


def true_minimiser(Y: np.ndarray, d: int, r: int, th: float, restarts: int = RESTARTS, seed: int = LBFGS_SEED
                   ) -> tuple[np.ndarray, float, np.ndarray]:
    """min_{U, V} F(U, V) by L-BFGS from ``restarts`` Gaussian starts: the best UV^T, its F, and every restart's F."""
    from scipy.optimize import minimize

    m, n = Y.shape
    c = keep_ratio(th)
    rng = np.random.default_rng(seed)
    scale = np.sqrt(np.linalg.norm(Y, 2) / d)
    best, values = None, []
    for _ in range(restarts):
        res = minimize(expected_loss, scale * rng.standard_normal((m + n) * d), args=(Y, d, r, c), jac=True,
                       method="L-BFGS-B", options={"gtol": 1e-11, "ftol": 1e-16, "maxiter": 20000, "maxcor": 30})
        values.append(float(res.fun))
        if best is None or res.fun < best.fun:
            best = res
    U, V = best.x[:m * d].reshape(m, d), best.x[m * d:].reshape(n, d)
    return U @ V.T, float(best.fun), np.sort(values)


def sgd_real_masks(Y: np.ndarray, d: int, r: int, th: float, steps: int, batch: int, seed: int,
                   eta0: float = ETA0) -> np.ndarray:
    """SGD on ||Y - U diag(m) V^T||_F^2 with real masks: per step ``batch`` draws of d/r Bernoulli(theta) blocks of
    r units, scaled 1/theta; step eta0/||Y||_2/(1 + 10 t/steps); small Gaussian start; returns the average of UV^T
    over the second half of the steps."""
    from ..theorems.structured import block_masks, masked_gradients

    rng = np.random.default_rng(seed)
    m, n = Y.shape
    scale = np.linalg.norm(Y, 2)
    U = 0.1 * np.sqrt(scale) * rng.standard_normal((m, d))
    V = 0.1 * np.sqrt(scale) * rng.standard_normal((n, d))
    total, count = np.zeros_like(Y), 0
    for t in range(steps):
        gU, gV = masked_gradients(U, V, Y, block_masks(rng, batch, d, r, th))
        eta = eta0 / scale / (1 + 10 * t / steps)
        U, V = U - eta * gU, V - eta * gV
        if t >= steps // 2:
            total += U @ V.T
            count += 1
    return total / count


def objective(Y: np.ndarray, Z: np.ndarray, d: int, r: int, th: float, seed: int = 0) -> float:
    """The DropBlock objective of Z: ||Y - Z||_F^2 + c P_r(Z), P_r by BFGS over all factorisations."""
    from ..theorems.structured import min_block_penalty

    return float(np.sum((Y - Z) ** 2) + keep_ratio(th) * min_block_penalty(Z, d, r, seed=seed)[0])


def sv_error(a: np.ndarray, b: np.ndarray) -> float:
    """max_i |a_i - b_i| / b_1 (singular values sorted decreasingly)."""
    return float(np.max(np.abs(a - b)) / b[0])


@dataclass(frozen=True)
class Panel:
    """One panel: the network (d units, blocks of r), the singular values of Y, of the closed form Z* (prox), of
    the SGD solution and (non-tight case) of the true minimiser; P_r(Z*) and its bound (r/d)||Z*||_(r)^2; the
    objectives and errors of :data:`SUMMARY_COLUMNS`."""

    key: str
    d: int
    r: int
    data: np.ndarray
    prox: np.ndarray
    sgd: np.ndarray
    true: np.ndarray | None
    penalty: float
    bound: float
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def index(self) -> np.ndarray:
        return np.arange(1, self.data.size + 1)

    @property
    def tight(self) -> bool:
        return abs(self.penalty - self.bound) <= 1e-6 * self.bound


@dataclass(frozen=True)
class StructuredData:
    """The tight panels (one per block size, d = TIGHT_D) and the non-tight panel."""

    tight: tuple[Panel, ...]
    nontight: Panel
    steps: int
    batch: int


SUMMARY_COLUMNS = ("case", "d", "r", "theta", "c", "lam", "sgd_steps", "sgd_batch", "sgd_seed",
                   "penalty_P_r_at_closed_form", "bound_r_over_d_ksupport_sq", "penalty_relative_gap", "tight",
                   "relaxed_minimum", "objective_at_closed_form", "objective_true_minimum", "objective_at_sgd",
                   "lbfgs_restarts_at_best", "sgd_vs_closed_form_sv", "sgd_vs_true_sv", "true_vs_closed_form_sv",
                   "sgd_vs_closed_form_frobenius")
"""Columns of the summary CSV (sv errors: max_i |sigma_i - sigma_i(ref)| / sigma_1(ref); Frobenius: relative)."""


def _panel(key: str, Y: np.ndarray, d: int, r: int, steps: int, batch: int, seed: int,
           restarts: int | None) -> Panel:
    from ..theorems.structured import dropblock_minimiser, min_block_penalty, spectral_ksupport_sq

    c = keep_ratio(THETA)
    Z_star = dropblock_minimiser(Y, d, r, THETA)
    bound = r / d * spectral_ksupport_sq(Z_star, r)
    penalty = min_block_penalty(Z_star, d, r, restarts=12)[0]
    Z_sgd = sgd_real_masks(Y, d, r, THETA, steps, batch, seed)
    data, prox, sgd = singular_values(Y), singular_values(Z_star), singular_values(Z_sgd)
    relaxed = float(np.sum((Y - Z_star) ** 2) + c * bound)
    summary: dict[str, Any] = {
        "case": key, "d": str(d), "r": str(r), "theta": THETA, "c": c, "lam": c * r / d, "sgd_steps": str(steps),
        "sgd_batch": str(batch), "sgd_seed": str(seed), "penalty_P_r_at_closed_form": penalty,
        "bound_r_over_d_ksupport_sq": bound, "penalty_relative_gap": (penalty - bound) / bound,
        "relaxed_minimum": relaxed, "objective_at_closed_form": float(np.sum((Y - Z_star) ** 2) + c * penalty),
        "objective_at_sgd": objective(Y, Z_sgd, d, r, THETA), "sgd_vs_closed_form_sv": sv_error(sgd, prox),
        "sgd_vs_closed_form_frobenius": float(np.linalg.norm(Z_sgd - Z_star) / np.linalg.norm(Z_star)),
    }
    true = None
    if restarts is None:  # tight: the relaxation's minimum is F's global minimum
        summary.update(objective_true_minimum=relaxed, lbfgs_restarts_at_best="", sgd_vs_true_sv=float("nan"),
                       true_vs_closed_form_sv=float("nan"))
    else:
        Z_true, best, values = true_minimiser(Y, d, r, THETA, restarts)
        true = singular_values(Z_true)
        summary.update(objective_true_minimum=best,
                       lbfgs_restarts_at_best=f"{int(np.sum(values <= best + 1e-9 * abs(best)))}/{restarts}",
                       sgd_vs_true_sv=sv_error(sgd, true), true_vs_closed_form_sv=sv_error(true, prox))
    panel = Panel(key, d, r, data, prox, sgd, true, penalty, bound, summary)
    summary["tight"] = "yes" if panel.tight else "no"
    return panel


def structured_data(quick: bool = False) -> StructuredData:
    """Every panel's numbers (``quick``: QUICK_STEPS SGD steps of QUICK_BATCH masks, QUICK_RESTARTS L-BFGS starts)."""
    steps, batch = (QUICK_STEPS, QUICK_BATCH) if quick else (STEPS, BATCH)
    Y = rotated(TIGHT_SPECTRUM, TIGHT_SEED)
    tight = tuple(_panel(f"tight_r{r}", Y, TIGHT_D, r, steps, batch, SGD_SEED + r, None) for r in TIGHT_BLOCKS)
    nontight = _panel(f"nontight_r{NONTIGHT_R}", rotated(NONTIGHT_SPECTRUM, NONTIGHT_SEED), NONTIGHT_D,
                      NONTIGHT_R, steps, batch, SGD_SEED + 100, QUICK_RESTARTS if quick else RESTARTS)
    return StructuredData(tight, nontight, steps, batch)


# ----------------------------------------------------------------------------- drawing

LABELS = {
    "data": r"$\mathrm{data}\ Y$",
    "prox": r"$\mathrm{closed\ form}\ Z^\star\ \mathrm{(prox)}$",
    "true": r"$\mathrm{true\ minimiser\ (L}$-$\mathrm{BFGS)}$",
    "sgd": r"$\mathrm{SGD,\ real\ masks}$",
}
"""Legend labels of the series."""


def _styles() -> dict[str, dict[str, Any]]:
    """Greyscale-distinct looks: data solid with crosses, closed form dashed with large hollow circles, true
    minimiser dash-dot with large hollow squares, SGD dotted with small filled triangles (which sit inside the
    circles where SGD agrees with the closed form, inside the squares where it finds the true minimiser)."""
    from .style import series_style

    def look(i: int, marker: str, size: float, hollow: bool, width: float) -> dict[str, Any]:
        s = series_style(i)
        out = {"color": s.color, "linestyle": s.linestyle, "marker": marker, "markersize": size,
               "linewidth": width, "markeredgewidth": 0.9}
        if hollow:
            out["markerfacecolor"] = "none"
        return out

    return {"data": look(5, "x", 3.5, False, 0.9), "prox": look(1, "o", 7.0, True, 1.1),
            "true": look(2, "s", 6.5, True, 1.1), "sgd": look(3, "^", 3.2, False, 1.2)}


def draw(data: StructuredData) -> Any:
    """The figure (FULL_WIDTH wide): a column per panel, singular values on top and their difference from the
    closed form below (one scale for all), a one-row legend below."""
    from matplotlib.ticker import MaxNLocator

    from .style import FULL_WIDTH, new_figure, paper_style

    looks = _styles()
    panels = (*data.tight, data.nontight)
    with paper_style():
        fig = new_figure(FULL_WIDTH, 3.3)
        axes = fig.subplots(2, len(panels), gridspec_kw={"height_ratios": [2.0, 1.0]})
        for col in range(1, len(panels)):
            if col < len(data.tight):
                axes[0, col].sharey(axes[0, 0])
            axes[1, col].sharey(axes[1, 0])
        handles: dict[str, Any] = {}
        spread = max(float(np.max(np.abs(v - p.prox))) for p in panels for v in (p.sgd, p.true) if v is not None)
        for col, p in enumerate(panels):
            top, bottom = axes[0, col], axes[1, col]
            for key, values in (("data", p.data), ("prox", p.prox), ("true", p.true), ("sgd", p.sgd)):
                if values is None:
                    continue
                (handles[key],) = top.plot(p.index, values, label=LABELS[key], clip_on=False, **looks[key])
                if key != "data":
                    bottom.plot(p.index, values - p.prox, clip_on=False, **looks[key])
            for ax in (top, bottom):
                ax.set_xlim(0.5, p.index[-1] + 0.5)
                ax.set_xticks(p.index)
            top.set_ylim(0, 1.08 * p.data[0])
            top.yaxis.set_major_locator(MaxNLocator(5, integer=True))
            top.tick_params(labelbottom=False)
            bottom.set_ylim(-1.3 * spread, 1.3 * spread)
            bottom.set_xlabel(r"$\mathrm{index}\ i$")
            name = r"\mathrm{Dropout}" if p.r == 1 else r"\mathrm{DropBlock}"
            verdict = r"\mathrm{tight}" if p.tight else r"\mathrm{not\ tight}"
            top.set_title(rf"$\mathrm{{({'abcd'[col]})}}\ {name},\ r = {p.r}$" "\n"
                          rf"$d = {p.d},\ \theta = 1/2:\ {verdict}$")
            if not p.tight:
                top.text(0.96, 0.95, rf"$P_{{{p.r}}}(Z^\star) = {p.penalty:.4g} > {p.bound:.4g}$", ha="right",
                         va="top", transform=top.transAxes)
            if col == 0:
                top.set_ylabel(r"$\sigma_i$")
                bottom.set_ylabel(r"$\sigma_i - \sigma_i(Z^\star)$")
            elif col < len(data.tight):
                top.tick_params(labelleft=False)
            if col:
                bottom.tick_params(labelleft=False)
        keys = ("data", "prox", "true", "sgd")
        fig.legend([handles[k] for k in keys], [LABELS[k] for k in keys], ncol=len(keys), loc="outside lower center")
    return fig


def write(folder: Path, quick: bool = False, data: StructuredData | None = None) -> list[Path]:
    """The figure in ``folder`` (checked by the caller): :data:`FILES`; ``quick``: the shorter SGD runs; ``data``:
    numbers already computed by :func:`structured_data` (then ``quick`` is ignored)."""
    from .output import save_image, write_csv

    data = structured_data(quick) if data is None else data
    fig = draw(data)
    png, pdf, tight_csv, nontight_csv, summary_csv = (folder / name for name in FILES)
    out = [save_image(fig, png), save_image(fig, pdf)]
    rows = []
    for p in data.tight:
        rows += [[str(p.r), str(i), y, z, s, s - z] for i, y, z, s in zip(p.index, p.data, p.prox, p.sgd, strict=True)]
    out.append(write_csv(tight_csv, ["r", "index", "data_Y", "closed_form_prox", "sgd_real_masks",
                                     "sgd_minus_closed_form"], rows))
    p = data.nontight
    out.append(write_csv(nontight_csv, ["index", "data_Y", "closed_form_prox", "true_minimiser", "sgd_real_masks",
                                        "true_minus_closed_form", "sgd_minus_closed_form"],
                         ([str(i), y, z, t, s, t - z, s - z]
                          for i, y, z, t, s in zip(p.index, p.data, p.prox, p.true, p.sgd, strict=True))))
    out.append(write_csv(summary_csv, SUMMARY_COLUMNS,
                         ([q.summary[k] for k in SUMMARY_COLUMNS] for q in (*data.tight, data.nontight))))
    return out
