"""Figure 1: its CSV data against mpmath references at 30 digits, its files, and its style (sizes, fonts, text
inside the figure, greyscale-distinct series, grouped math-text legend); the default output folder."""
from __future__ import annotations

import csv
import math
import re
import struct
import zlib

import mpmath
import numpy as np
import pytest
import sympy as sp

from symdual import figures
from symdual.figures import figure1, style

pytest.importorskip("matplotlib", reason="the figures need matplotlib (the figures extra)")
DPS = 30
RTOL = 1e-10
SCALES = {"vardrop_exact": 1, "standout": 1, "hardconcrete": 1, "logsum_x2": 2, "mcp_x_sqrt2": "sqrt2"}
"""The lam of each curve, typed from the paper's caption (LogSum(2) x 2, MCP(1/2, sqrt 2) x sqrt 2)."""
CATALOG = {"vardrop_exact": ("vardrop_exact", {"lam": 1}), "standout": ("standout", {"lam": 1}),
           "hardconcrete": ("hardconcrete", {"lam": 1}), "logsum_x2": ("logsum", {"eps": 2}),
           "mcp_x_sqrt2": ("mcp", {"a": sp.Rational(1, 2), "lam": sp.sqrt(2)})}


def scale(key: str) -> mpmath.mpf:
    return mpmath.sqrt(2) if SCALES[key] == "sqrt2" else mpmath.mpf(SCALES[key])


@pytest.fixture(scope="module")
def written(tmp_path_factory, catalog_record):
    folder = tmp_path_factory.mktemp("figure1")
    paths = figure1.write(folder, get=catalog_record)
    return folder, paths


def read_csv(path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def column(header, rows, name) -> list[float]:
    i = header.index(name)
    return [float(r[i]) for r in rows]


def rel_err(value: float, ref: mpmath.mpf) -> float:
    return float(abs(mpmath.mpf(value) - ref) / abs(ref))


# ------------------------------------------------------------------ independent references (mpmath)
def vardrop_f(eta):  # exact KL, lam = 1: f(eta) = eta 2F2(1,1; 3/2,2; -eta/2) - EulerGamma - log 2
    return eta * mpmath.hyp2f2(1, 1, 1.5, 2, -eta / 2) - mpmath.euler - mpmath.log(2)


def vardrop_f_prime(eta):  # D(x)/x, x = sqrt(eta/2), D(x) = sqrt(pi)/2 exp(-x**2) erfi(x) (Dawson)
    x = mpmath.sqrt(eta / 2)
    return mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-x**2) * mpmath.erfi(x) / x


def omega_reference(key: str, w) -> mpmath.mpf:
    """Omega(w) - Omega(0) from the closed forms of the papers, or from the eta-trick (VarDrop), in mpmath."""
    import oracles

    w = mpmath.mpf(w)
    if key == "logsum_x2":
        return mpmath.log(1 + w / 2)
    if key == "mcp_x_sqrt2":
        b = mpmath.sqrt(2) / 2
        return w - w**2 / (2 * b) if w <= b else b / 2
    if key == "standout":  # c = 0, lam = 1
        return 1 - (1 + w) * mpmath.exp(-w)
    if key == "vardrop_exact":  # Omega(0) = f(0+)/2
        return oracles.eta_trick_newton(vardrop_f, vardrop_f_prime, w, DPS) - (-mpmath.euler - mpmath.log(2)) / 2
    raise KeyError(key)


# ------------------------------------------------------------------ the CSV data
def test_left_csv_grid(written):
    folder, _ = written
    header, rows = read_csv(folder / "figure1_left.csv")
    assert header == ["w", *CATALOG]
    w = np.array(column(header, rows, "w"))
    assert len(w) == figure1.POINTS and w[0] == 0.01 and w[-1] == 5.0
    np.testing.assert_allclose(np.diff(np.log(w)), math.log(500) / (len(w) - 1), rtol=1e-9)


@pytest.mark.parametrize("key", list(CATALOG))
def test_left_csv_against_evaluate_mp(written, catalog_record, key):
    """lam (Omega(w) - Omega(w_min)) in the CSV against symdual's evaluate_mp at 30 digits."""
    folder, _ = written
    header, rows = read_csv(folder / "figure1_left.csv")
    w, values = column(header, rows, "w"), column(header, rows, key)
    assert values[0] == 0.0
    name, params = CATALOG[key]
    d = catalog_record(name, **params)
    at_min = d.evaluate_mp("omega", w[0], dps=DPS)
    for i in (17, 100, 200, 301, 370, len(w) - 1):
        with mpmath.workdps(DPS):
            ref = scale(key) * (d.evaluate_mp("omega", w[i], dps=DPS) - at_min)
        assert rel_err(values[i], ref) < RTOL, (key, w[i], values[i], ref)


@pytest.mark.parametrize("key", ["logsum_x2", "mcp_x_sqrt2", "standout", "vardrop_exact"])
def test_left_csv_against_independent_forms(written, key):
    """The same curves against the papers' closed forms (and VarDrop's eta-trick by Newton), typed here."""
    folder, _ = written
    header, rows = read_csv(folder / "figure1_left.csv")
    w, values = column(header, rows, "w"), column(header, rows, key)
    with mpmath.workdps(DPS):
        at_min = omega_reference(key, w[0])
        for i in (9, 80, 160, 240, 320, len(w) - 1):
            ref = scale(key) * (omega_reference(key, w[i]) - at_min)
            assert rel_err(values[i], ref) < RTOL, (key, w[i], values[i], ref)


def test_hardconcrete_is_capped_and_differs_from_mcp(written):
    """HardConcrete is flat beyond its critical |w| (at MCP's height 1/2 there) but a different curve before."""
    folder, _ = written
    header, rows = read_csv(folder / "figure1_left.csv")
    w = np.array(column(header, rows, "w"))
    hc, mcp = np.array(column(header, rows, "hardconcrete")), np.array(column(header, rows, "mcp_x_sqrt2"))
    beyond = w > 0.6
    assert np.ptp(hc[beyond]) < 1e-12 and 0.45 < hc[-1] < 0.5
    assert np.max(np.abs(hc - mcp)[w < 0.5]) > 0.01


def test_right_csv_against_evaluate_mp(written, catalog_record):
    """lam sum_j (Omega(w_j) - Omega(0)) of the unit-norm k-sparse vectors: k (Omega(1/sqrt k) - Omega(0))."""
    folder, _ = written
    header, rows = read_csv(folder / "figure1_right.csv")
    assert header == ["k", *CATALOG, "hardthresh_16"]
    assert [r[0] for r in rows] == [str(k) for k in range(33)]
    for key, (name, params) in CATALOG.items():
        values = column(header, rows, key)
        assert values[0] == 0.0
        d = catalog_record(name, **params)
        for k in (1, 2, 7, 16, 17, 32):
            with mpmath.workdps(DPS):
                wk = 1 / mpmath.sqrt(k)
                ref = scale(key) * k * (d.evaluate_mp("omega", wk, dps=DPS) - d.evaluate_mp("omega", 0, dps=DPS))
                assert rel_err(values[k], ref) < RTOL, (key, k, values[k], ref)
                if key != "hardconcrete":
                    assert rel_err(values[k], scale(key) * k * omega_reference(key, wk)) < RTOL, (key, k)


def test_right_csv_hardthresh_is_the_indicator(written):
    """HardThresh(16): 0 on vectors with at most 16 nonzeros, +inf beyond (brute force on the vectors)."""
    folder, _ = written
    header, rows = read_csv(folder / "figure1_right.csv")
    values = column(header, rows, "hardthresh_16")
    for k, value in enumerate(values):
        vector = [1 / math.sqrt(k)] * k + [0.0] * (32 - k) if k else [0.0] * 32
        nonzeros = sum(1 for x in vector if x != 0)
        assert value == (0.0 if nonzeros <= 16 else math.inf)


# ------------------------------------------------------------------ the files
def png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        chunks.setdefault(kind, body)
        pos += 12 + length
    return chunks


def test_png_is_300_dpi_at_column_width(written):
    folder, paths = written
    assert paths == [folder / name for name in figure1.FILES]
    chunks = png_chunks((folder / "figure1.png").read_bytes())
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    ppm_x, ppm_y, unit = struct.unpack(">IIB", chunks[b"pHYs"])
    assert unit == 1 and round(ppm_x * 0.0254) == round(ppm_y * 0.0254) == 300
    assert width == round(style.COLUMN_WIDTH * 300) and 500 < height < 1200


def test_pdf_is_column_width(written):
    folder, _ = written
    data = (folder / "figure1.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box is not None and float(box.group(1)) == pytest.approx(style.COLUMN_WIDTH * 72)
    assert b"CreationDate" not in data  # reruns give the same file


# ------------------------------------------------------------------ the style of the drawn figure
@pytest.fixture(scope="module")
def drawn(catalog_record):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure1.draw(figure1.figure1_data(60, get=catalog_record))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return fig, canvas.get_renderer()


def test_fonts_are_at_least_7pt_at_column_width(drawn):
    fig, _ = drawn
    assert tuple(fig.get_size_inches()) == pytest.approx((style.COLUMN_WIDTH, 2.75))
    sizes = {t.get_text(): t.get_fontsize() for t in style.drawn_texts(fig)}
    assert len(sizes) > 20 and min(sizes.values()) >= style.MIN_FONT_PT, sizes


def test_no_text_is_clipped_or_overlaps(drawn):
    fig, renderer = drawn
    page = fig.bbox
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in style.drawn_texts(fig)]
    for text, box in boxes:
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, text
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            assert not box_a.overlaps(box_b), (a, b)


def test_layout_problems_are_found():
    """The layout check reports a clipped text, a small font and an overlap (so its [] above means something)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.text(0.9, 0.5, "a long text running off the edge", fontsize=8)
    fig.text(0.1, 0.5, "tiny", fontsize=5)
    fig.text(0.1, 0.5, "tiny too", fontsize=8)
    problems = style.layout_problems(fig)
    assert "'a long text running off the edge' reaches outside the figure" in problems
    assert "'tiny' is 5 pt" in problems and "'tiny' overlaps 'tiny too'" in problems


def test_figure1_has_no_layout_problem(drawn):
    assert style.layout_problems(drawn[0]) == []


def test_series_differ_in_line_style_and_marker(drawn):
    """Greyscale-safe: no two curves share both their dash pattern and their marker (colour aside)."""
    fig, _ = drawn
    left, right = fig.axes
    for ax, count in ((left, 5), (right, 6)):
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1]
        assert len(lines) == count
        looks = {(str(ln.get_linestyle()), tuple(np.round(ln._dash_pattern[1] or (), 3)), ln.get_marker())
                 for ln in lines}
        assert len(looks) == count


def test_legend_groups_dropout_methods_and_classical_penalties_in_math_text(drawn):
    fig, _ = drawn
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [r"$\mathbf{Adaptive\ dropout}$", r"$\mathrm{VarDrop\ (exact\ KL)}$", r"$\mathrm{Standout}$",
                      r"$\mathrm{HardConcrete}$", r"$\mathrm{HardThresh}(16)$",
                      r"$\mathbf{Classical\ penalties}$", r"$\mathrm{LogSum}(2) \times 2$",
                      r"$\mathrm{MCP}(\frac{1}{2}, \sqrt{2}) \times \sqrt{2}$", "", ""]
    axis_labels = [ax.get_xlabel() for ax in fig.axes] + [ax.get_ylabel() for ax in fig.axes]
    for text in [*filter(None, labels), *axis_labels]:
        assert text.startswith("$") and text.endswith("$"), text


def test_math_label_falls_back_to_mathrm():
    assert style.math_label(r"$\frac{1}{2}$") == r"$\frac{1}{2}$"
    assert style.math_label(r"$\begin{cases} w \end{cases}$") == r"$\mathrm{begin\ cases\ w\ end\ cases}$"
    assert style.math_label("a b_c") == r"$\mathrm{a\ b\ c}$"


# ------------------------------------------------------------------ where `regenerate` writes
def fake_figure(calls):
    def write(folder, quick):
        calls.append((folder, quick))
        (folder / "fake.png").write_bytes(b"x")
        return [folder / "fake.png"]

    return figures.PaperFigure("fake", "a fake figure", ("fake.png",), write)


def test_default_output_is_in_the_cache_folder_not_the_current_one(tmp_path, monkeypatch):
    cache, cwd = tmp_path / "cache", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("SYMDUAL_CACHE_DIR", str(cache))
    calls = []
    monkeypatch.setattr(figures, "FIGURES", (fake_figure(calls),))
    assert figures.default_folder() == cache / "figures"
    assert figures.regenerate(quick=True) == [cache / "figures" / "fake.png"]
    assert calls == [(cache / "figures", True)] and list(cwd.iterdir()) == []


def test_regenerate_writes_every_registered_figure(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(figures, "FIGURES", (fake_figure(calls), fake_figure(calls)))
    figures.regenerate(tmp_path / "out")
    assert calls == [(tmp_path / "out", False)] * 2


def test_figure1_is_registered():
    assert [f.name for f in figures.FIGURES] == ["figure1", "structured", "case_study"]
    assert figures.FIGURES[0].files == ("figure1.png", "figure1.pdf", "figure1_left.csv", "figure1_right.csv")
