"""The structured-dropout figure (Pal et al. 2020): its closed-form columns against an mpmath prox of the squared
k-support norm at 50 digits, the true minimiser against alternating truncated SVDs, SGD with real masks against
both (stochastic tolerances), the relaxation's gap, its files and its style."""
from __future__ import annotations

import csv
import re

import mpmath
import numpy as np
import pytest

from symdual import figures
from symdual.figures import structured, style

pytest.importorskip("matplotlib", reason="the figures need matplotlib (the figures extra)")
DPS = 50
RTOL = 1e-10
THETA = mpmath.mpf(1) / 2
C = (1 - THETA) / THETA
TIGHT_SPECTRUM = [mpmath.mpf(8) / 2**i for i in range(8)]  # typed from the figure's statement: 8 * 2^-i
NONTIGHT_SPECTRUM = [mpmath.mpf(9) / 2, mpmath.mpf(5) / 2, mpmath.mpf(5) / 2, mpmath.mpf(5) / 2]
SGD_TOL = 0.02
"""Stochastic tolerance of SGD (quick run): max_i |sigma_i(SGD) - sigma_i(ref)| <= SGD_TOL * sigma_1(ref).
Measured over the quick runs: <= 0.0045 (tight), 0.0007 (non-tight); the gap it must resolve is 1/12 = 0.083."""


@pytest.fixture(scope="module")
def data():
    return structured.structured_data(quick=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("structured")
    return folder, structured.write(folder, quick=True, data=data)


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def floats(rows, name) -> list[float]:
    return [float(r[name]) for r in rows]


def tight_rows(written, r: int) -> list[dict[str, str]]:
    rows = [row for row in read_csv(written[0] / "structured_tight.csv") if row["r"] == str(r)]
    assert [row["index"] for row in rows] == [str(i) for i in range(1, 9)]
    return rows


def summary(written) -> dict[str, dict[str, str]]:
    return {row["case"]: row for row in read_csv(written[0] / "structured_summary.csv")}


# ------------------------------------------------------------------ independent references
def prox_reference(z: list[mpmath.mpf], k: int, lam: mpmath.mpf) -> tuple[list[mpmath.mpf], list[mpmath.mpf]]:
    """argmin_b 1/2||z - b||^2 + lam/2 ||b||_(k)^2 in mpmath (z >= 0): b_i = z_i mu_i/(mu_i + lam),
    mu_i = clip(z_i/s - lam, 0, 1) with sum_i mu_i = k solved for s by bisection (the sum decreases in s).
    Returns b and mu (mu gives the norm: ||b||_(k)^2 = sum_{mu_i > 0} b_i^2/mu_i)."""
    with mpmath.workdps(DPS):
        if sum(1 for v in z if v > 0) <= k:
            return [v / (1 + lam) for v in z], [mpmath.mpf(1) if v > 0 else mpmath.mpf(0) for v in z]

        def mass(s):
            return sum(min(max(v / s - lam, mpmath.mpf(0)), mpmath.mpf(1)) for v in z)

        lo, hi = max(z) * mpmath.mpf(10) ** -30, max(z) / lam  # mass(lo) = len(z) > k >= 0 = mass(hi)
        for _ in range(400):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if mass(mid) > k else (lo, mid)
        s = (lo + hi) / 2
        mu = [min(max(v / s - lam, mpmath.mpf(0)), mpmath.mpf(1)) for v in z]
        return [v * m / (m + lam) for v, m in zip(z, mu, strict=True)], mu


def ksupport_sq_reference(b, mu) -> mpmath.mpf:
    with mpmath.workdps(DPS):
        return sum((v**2 / m for v, m in zip(b, mu, strict=True) if m > 0), mpmath.mpf(0))


def alternating_minimiser(y: np.ndarray, d: int, r: int, c: float, seed: int, sweeps: int = 5000
                          ) -> tuple[np.ndarray, float]:
    """min over Z_1..Z_{d/r} of rank <= r of ||Y - sum Z_g||^2 + c sum ||Z_g||^2 (= min_{U,V} of the expected
    DropBlock loss, Z_g = U_g V_g^T) by exact block minimisation: Z_g = rank-r truncated SVD of
    (Y - sum_{h != g} Z_h)/(1 + c) (Eckart-Young). Y = diag(y): the singular values are rotation-invariant."""
    rng = np.random.default_rng(seed)
    Y = np.diag(y)
    pieces = [rng.standard_normal(Y.shape) for _ in range(d // r)]
    for _ in range(sweeps):
        before = sum(pieces)
        for g in range(len(pieces)):
            A, s, Bt = np.linalg.svd((Y - sum(p for h, p in enumerate(pieces) if h != g)) / (1 + c))
            s[r:] = 0
            pieces[g] = (A * s) @ Bt
        if np.linalg.norm(sum(pieces) - before) < 1e-15:
            break
    Z = sum(pieces)
    value = float(np.sum((Y - Z) ** 2) + c * sum(np.sum(p**2) for p in pieces))
    return np.linalg.svd(Z, compute_uv=False), value


@pytest.fixture(scope="module")
def true_reference():
    best = min((alternating_minimiser(np.array([4.5, 2.5, 2.5, 2.5]), 4, 2, 1.0, seed) for seed in range(6)),
               key=lambda t: t[1])
    return best


def test_prox_reference_on_hand_cases():
    """The mpmath prox: k >= nonzeros gives z/(1 + lam); k = 1 keeps one entry here."""
    b, _ = prox_reference([mpmath.mpf(3), mpmath.mpf(1)], 2, mpmath.mpf(1))
    assert [float(v) for v in b] == [1.5, 0.5]
    # k = 1: ||b||_(1)^2 = ||b||_1^2; for z = (3, 1/2), lam = 1/2 the minimiser is b = (3/(1 + lam), 0) = (2, 0)
    # (subgradient: |z_2 - 0| = 1/2 < lam ||b||_1 = 1)
    b, _ = prox_reference([mpmath.mpf(3), mpmath.mpf(1) / 2], 1, mpmath.mpf(1) / 2)
    assert abs(b[0] - 2) < 1e-40 and abs(b[1]) < 1e-40


# ------------------------------------------------------------------ closed form (prox) vs mpmath at 50 digits
def check_close(values, refs, scale) -> None:
    for i, (v, ref) in enumerate(zip(values, refs, strict=True)):
        tol = RTOL * (abs(ref) if ref != 0 else scale)
        assert abs(mpmath.mpf(v) - ref) <= tol, (i, v, ref)


@pytest.mark.parametrize("r", structured.TIGHT_BLOCKS)
def test_tight_data_and_closed_form_against_mpmath(written, r):
    rows = tight_rows(written, r)
    check_close(floats(rows, "data_Y"), TIGHT_SPECTRUM, TIGHT_SPECTRUM[0])
    b, _ = prox_reference(TIGHT_SPECTRUM, r, C * r / 8)
    check_close(floats(rows, "closed_form_prox"), b, b[0])
    assert np.allclose(floats(rows, "sgd_minus_closed_form"),
                       np.subtract(floats(rows, "sgd_real_masks"), floats(rows, "closed_form_prox")), atol=1e-15)


def test_tight_closed_forms_differ_between_block_sizes(written):
    """The spectrum is chosen so that r = 1, 2, 4 give different solutions (and the prox keeps ranks 3, 3, 5)."""
    prox = {r: np.array(floats(tight_rows(written, r), "closed_form_prox")) for r in structured.TIGHT_BLOCKS}
    assert np.abs(prox[1] - prox[2]).max() > 0.2 and np.abs(prox[2] - prox[4]).max() > 0.5
    assert [int(np.sum(prox[r] > 1e-9)) for r in structured.TIGHT_BLOCKS] == [3, 3, 5]


def test_nontight_closed_form_is_the_gap_counterexample(written):
    rows = read_csv(written[0] / "structured_nontight.csv")
    check_close(floats(rows, "data_Y"), NONTIGHT_SPECTRUM, NONTIGHT_SPECTRUM[0])
    b, _ = prox_reference(NONTIGHT_SPECTRUM, 2, C * 2 / 4)
    check_close(floats(rows, "closed_form_prox"), b, b[0])
    assert [float(v) for v in b] == pytest.approx([3, 1, 1, 1], abs=1e-40)


# ------------------------------------------------------------------ the relaxation: tight, and not
@pytest.mark.parametrize("r", structured.TIGHT_BLOCKS)
def test_tight_penalty_attains_the_bound(written, r):
    """P_r(Z*) (BFGS over factorisations) = (r/d)||Z*||_(r)^2, the bound recomputed in mpmath."""
    row = summary(written)[f"tight_r{r}"]
    b, mu = prox_reference(TIGHT_SPECTRUM, r, C * r / 8)
    bound = mpmath.mpf(r) / 8 * ksupport_sq_reference(b, mu)
    assert abs(mpmath.mpf(row["bound_r_over_d_ksupport_sq"]) - bound) <= RTOL * bound
    assert abs(float(row["penalty_P_r_at_closed_form"]) - float(bound)) <= 1e-8 * float(bound)
    assert row["tight"] == "yes"
    assert float(row["objective_at_closed_form"]) == pytest.approx(float(row["relaxed_minimum"]), rel=1e-8)


def test_nontight_gap_is_real(written):
    """P_2(diag(3,1,1,1)) = 10 > 9 = (2/4)||Z*||_(2)^2, the relaxed minimum 18 < F(true) < F(Z*) = 19."""
    row = summary(written)["nontight_r2"]
    b, mu = prox_reference(NONTIGHT_SPECTRUM, 2, C * 2 / 4)
    bound = float(mpmath.mpf(2) / 4 * ksupport_sq_reference(b, mu))
    assert bound == pytest.approx(9, rel=1e-12) and float(row["bound_r_over_d_ksupport_sq"]) == pytest.approx(9)
    penalty = float(row["penalty_P_r_at_closed_form"])
    assert penalty == pytest.approx(10, rel=1e-6) and penalty > 1.1 * bound - 1e-9
    assert row["tight"] == "no"
    relaxed, at_prox = float(row["relaxed_minimum"]), float(row["objective_at_closed_form"])
    true, at_sgd = float(row["objective_true_minimum"]), float(row["objective_at_sgd"])
    assert relaxed == pytest.approx(18) and at_prox == pytest.approx(19)
    assert relaxed + 0.25 < true < at_prox - 0.25 and abs(at_sgd - true) < 1e-3


def test_true_minimiser_against_alternating_svds(written, true_reference):
    rows = read_csv(written[0] / "structured_nontight.csv")
    sv, value = true_reference
    np.testing.assert_allclose(floats(rows, "true_minimiser"), sv, rtol=1e-6, atol=1e-8)
    assert float(summary(written)["nontight_r2"]["objective_true_minimum"]) == pytest.approx(value, rel=1e-9)
    assert value == pytest.approx(18.5, rel=1e-9)  # the value of the alternating minimisation, to compare


# ------------------------------------------------------------------ SGD with real masks
@pytest.mark.parametrize("r", structured.TIGHT_BLOCKS)
def test_tight_sgd_lands_on_the_closed_form(written, r):
    rows = tight_rows(written, r)
    b, _ = prox_reference(TIGHT_SPECTRUM, r, C * r / 8)
    ref = np.array([float(v) for v in b])
    err = np.abs(np.array(floats(rows, "sgd_real_masks")) - ref).max() / ref[0]
    assert err <= SGD_TOL, err
    assert float(summary(written)[f"tight_r{r}"]["sgd_vs_closed_form_frobenius"]) <= 1.5 * SGD_TOL


def test_nontight_sgd_lands_on_the_true_minimiser_not_the_closed_form(written, true_reference):
    rows = read_csv(written[0] / "structured_nontight.csv")
    sgd = np.array(floats(rows, "sgd_real_masks"))
    true, prox = true_reference[0], np.array([3.0, 1, 1, 1])
    to_true, to_prox = np.abs(sgd - true).max() / true[0], np.abs(sgd - prox).max() / prox[0]
    gap = np.abs(true - prox).max() / prox[0]
    assert gap > 0.08  # 1/4 on sigma_1 = 3: the figure's point is visible
    assert to_true <= SGD_TOL and to_prox >= gap - SGD_TOL and to_prox > 4 * to_true, (to_true, to_prox)
    row = summary(written)["nontight_r2"]
    assert float(row["sgd_vs_true_sv"]) == pytest.approx(to_true, rel=1e-6, abs=1e-6)


def test_sgd_uses_real_block_masks(monkeypatch):
    """Every mask SGD draws is a 0 or 1/theta per block of r consecutive units (no expectation shortcut)."""
    seen = []
    real_repeat = np.repeat

    def spy(a, repeats, axis=None):
        out = real_repeat(a, repeats, axis=axis)
        seen.append((np.asarray(a), out))
        return out

    monkeypatch.setattr(structured.np, "repeat", spy)
    structured.sgd_real_masks(np.eye(4), 4, 2, 0.5, steps=20, batch=3, seed=0)
    assert len(seen) == 20
    for blocks, masks in seen:
        assert blocks.shape == (3, 2) and masks.shape == (3, 4)
        assert set(np.unique(blocks)) <= {0.0, 2.0}
        assert np.array_equal(masks[:, 0], masks[:, 1]) and np.array_equal(masks[:, 2], masks[:, 3])
    assert 0.3 < np.mean([b.mean() / 2 for b, _ in seen]) < 0.7


# ------------------------------------------------------------------ the files and the drawing
def test_files_exist_and_png_opens(written):
    import matplotlib.image as mpimg

    folder, paths = written
    assert paths == [folder / name for name in structured.FILES] and all(p.stat().st_size > 0 for p in paths)
    image = mpimg.imread(folder / "structured.png")
    assert image.shape[1] == round(style.FULL_WIDTH * style.DPI) and 600 < image.shape[0] < 1500
    assert image[..., :3].std() > 0.05  # not blank
    pdf = (folder / "structured.pdf").read_bytes()
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert pdf.startswith(b"%PDF-") and box is not None and float(box.group(1)) == pytest.approx(6.75 * 72)


def test_csv_numbers_have_17_digits(written):
    text = (written[0] / "structured_tight.csv").read_text()
    assert re.search(r"\d\.\d{15,16}(e[-+]\d+)?\b", text)
    header = text.splitlines()[0]
    assert header == "r,index,data_Y,closed_form_prox,sgd_real_masks,sgd_minus_closed_form"


@pytest.fixture(scope="module")
def drawn(data):
    return structured.draw(data)


def test_no_layout_problem_and_fonts_at_least_7pt(drawn):
    assert style.layout_problems(drawn) == []
    sizes = {t.get_text(): t.get_fontsize() for t in style.drawn_texts(drawn)}
    assert len(sizes) > 20 and min(sizes.values()) >= style.MIN_FONT_PT, sizes
    assert tuple(drawn.get_size_inches())[0] == pytest.approx(style.FULL_WIDTH)


def test_series_are_greyscale_distinct_and_labelled_in_math_text(drawn):
    (legend,) = drawn.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [structured.LABELS[k] for k in ("data", "prox", "true", "sgd")]
    for ax in drawn.axes:
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1]
        looks = {(tuple(np.round(ln._dash_pattern[1] or (), 3)), ln.get_marker()) for ln in lines}
        assert len(looks) == len(lines) >= 2
    texts = [*labels, *(ax.get_xlabel() for ax in drawn.axes), *(ax.get_ylabel() for ax in drawn.axes),
             *(ax.get_title() for ax in drawn.axes)]
    for text in filter(None, texts):
        assert all(part.startswith("$") and part.endswith("$") for part in text.split("\n")), text


def test_panel_d_shows_the_gap(drawn, data):
    assert data.nontight.true is not None and not data.nontight.tight
    assert all(p.tight and p.true is None for p in data.tight)
    assert any("10 > 9" in t.get_text() for t in drawn.axes[3].texts)


def test_registered():
    entry = {f.name: f for f in figures.FIGURES}["structured"]
    assert entry.files == structured.FILES
