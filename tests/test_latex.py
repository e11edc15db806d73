"""LaTeX output: the table (`symdual table --format latex`, paper_figures/table2.py) and `symdual derive --latex`
compile with pdflatex and stay inside the margins; the line breaker keeps every formula whole."""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdual as sd
from symdual import report, table
from symdual.cli import main
from symdual.rules import w

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex not installed (apt-get install --no-install-recommends texlive-latex-base "
                             "texlive-latex-recommended texlive-latex-extra)")
OVERFULL = re.compile(r"Overfull \\hbox \(([\d.]+)pt too wide\)")
LONG_RULES = {  # user rules: a quartic eta_hat (its f has nested roots in a log), and shifted Standout
    "quartic": {"eta_hat": "w*(w+1)*(w+2)*(w+3)"},
    "standout c=1": {"keep_prob": "sigmoid(w-c)", "params": {"c": 1}},
}
FIVE_TERMS = sp.log(1 + w) + sp.log(1 + w**2) / 3 + sp.sqrt(1 + w) / (1 + w**2) + w**2 / (5 + w**3) + w * sp.exp(-w)


@functools.cache
def user_rule(key: str):
    return sd.derive(**LONG_RULES[key])


def pdflatex(tmp_path: Path, body: str, twocolumn: bool = True, name: str = "doc") -> str:
    """Compile ``body`` in an article (10 pt, two columns by default) and return the log; fail on any error."""
    tex = tmp_path / f"{name}.tex"
    tex.write_text(report.latex_document(body, twocolumn=twocolumn), encoding="utf-8")
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert proc.returncode == 0 and not errors, errors[:5] or proc.stdout[-2000:]
    return log


def overfull(log: str) -> list[float]:
    """The overfull boxes over 1 pt (a float too large for its page counts as one too)."""
    boxes = [float(x) for x in OVERFULL.findall(log) if float(x) > 1.0]
    return boxes + [float("inf")] * log.count("Float too large")


# ---------------------------------------------------------------- pure Python: the breaker
def test_a_long_sum_breaks_at_its_terms_into_lines_that_fit():
    expr = sum(sp.Rational(k, k + 2) * w**k / (1 + w) for k in range(1, 13))
    tex = sp.latex(expr)
    lines = report.break_tex(tex, 150)
    assert len(lines) >= 3
    assert all(report.tex_width(line) <= 150 for line in lines)
    assert " ".join(lines).split() == tex.split()  # only the breaks are new: nothing lost, nothing reordered


def test_a_formula_that_fits_is_left_alone():
    tex = sp.latex(sp.log(1 + w / 2))
    assert report.break_tex(tex, 300) == [tex]


def test_groups_too_wide_are_opened_with_balanced_delimiters():
    tex = sp.latex(sp.log(sum(w**k / sp.factorial(k) for k in range(1, 10))))
    lines = report.break_tex(tex, 120)
    assert len(lines) > 1
    joined = " ".join(lines)
    assert joined.count(r"\Bigl(") + joined.count(r"\bigl(") == joined.count(r"\Bigr)") + joined.count(r"\bigr)")
    assert joined.count("{") == joined.count("}")
    assert r"\left(" not in joined or joined.count(r"\left") == joined.count(r"\right")


def test_wide_denominators_become_a_quotient():
    tex = sp.latex(w / sum(w**k / (k + 1) for k in range(12)))
    lines = report.break_tex(tex, 140)
    assert len(lines) > 1 and r"\Big/" in lines[0]


def test_tex_escape_handles_specials_and_unicode():
    assert report.tex_escape("a_b & 50% $x$ #1 {y} ~ ^ \\") == (
        r"a\_b \& 50\% \$x\$ \#1 \{y\} \textasciitilde{} \^{} \textbackslash{}")
    assert report.tex_escape("η ≤ ∞ ✓") == r"$\eta$ $\le$ $\infty$ $\checkmark$"
    assert report.tex_escape("x\u202ey") == "x?y"  # what pdflatex cannot set never reaches it
    assert report.tex_escape("a-b") == "a-{}b"  # no -- ligature


# ---------------------------------------------------------------- pdflatex
@needs_pdflatex
def test_width_estimates_are_upper_bounds(tmp_path):
    """tex_width must not underestimate what pdflatex sets (else a line it accepts is overfull)."""
    exprs = [sp.latex(e) for e in (
        -5 * w**2 / 27 + 37 * w / 27 - sp.Rational(5, 27), (-w - 1) * sp.exp(-w) + 1, sp.log(w / 2 + 1),
        sp.hyper((1, 1), (sp.Rational(3, 2), 2), -w / 2), sp.sqrt(4 * sp.sqrt(w + 1) + 5) - 3,
        sp.Order(w**3), sp.Float("0.6778747705", 10) * w + sp.exp(1 - w) * (sp.exp(w) - w - 1),
        sp.Piecewise((w, w <= 1), (sp.Rational(47, 20), True)), sp.erf(sp.sqrt(w)) / sp.tanh(w + 1))]
    body = "\n".join(rf"\setbox0\hbox{{$\displaystyle {e}$}}\typeout{{WIDTH \the\wd0}}" for e in exprs)
    log = pdflatex(tmp_path, body, twocolumn=False)
    real = [float(x) for x in re.findall(r"WIDTH ([\d.]+)pt", log)]
    assert len(real) == len(exprs)
    for e, r in zip(exprs, real, strict=True):
        assert report.tex_width(e) >= r, (e, r)


@needs_pdflatex
@pytest.mark.parametrize("layout", ["column", "page"])
def test_the_table_compiles_in_two_columns_within_the_margins(tmp_path, catalog_record, layout):
    rows = [table.row_of(sd.catalog.entry(n), sd.catalog.entry(n).resolve(), catalog_record(n))
            for n in sd.catalog.names()]
    tex = table.render_latex(rows, layout)
    assert (r"\begin{table*}" in tex) == (layout == "page") and r"\toprule" in tex and r"\bottomrule" in tex
    log = pdflatex(tmp_path, tex + "\n\nText.", name=layout)
    assert overfull(log) == []


@needs_pdflatex
def test_paper_files_demo_compiles(tmp_path, catalog_record):
    rows = [table.row_of(sd.catalog.entry(n), sd.catalog.entry(n).resolve(), catalog_record(n))
            for n in ("scad", "vardrop_exact", "hardconcrete", "ard")]
    files = table.paper_files(rows)
    assert set(files) == {"table2.md", "table2.tex", "table2_wide.tex", "table2_demo.tex"}
    (tmp_path / "table2_demo.tex").write_text(files["table2_demo.tex"])
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "table2_demo.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    log = (tmp_path / "table2_demo.log").read_text(errors="replace")
    assert proc.returncode == 0 and overfull(log) == []


def _derive_latex(capsys, catalog_record, key: str) -> str:
    """`symdual derive --latex` for the sigmoid rule; the same report for the other user rules and the catalog."""
    if key == "standout c=1":
        assert main(["derive", "--keep-prob", "sigmoid(w-c)", "--param", "c=1", "--latex"]) == 0
        return capsys.readouterr().out
    return report.latex_report(user_rule(key) if key in LONG_RULES else catalog_record(key))


@needs_pdflatex
@pytest.mark.parametrize("key", ["scad", "standout", "hardconcrete", "vardrop_exact", *LONG_RULES])
def test_derive_latex_compiles_inside_the_margins(tmp_path, capsys, catalog_record, key):
    tex = _derive_latex(capsys, catalog_record, key)
    assert tex.startswith("$$\\begin{aligned}") and r"\begin{itemize}" in tex and r"\item \textbf{sparsity}" in tex
    for twocolumn in (True, False):
        log = pdflatex(tmp_path, tex, twocolumn=twocolumn, name=f"d{int(twocolumn)}")
        assert overfull(log) == [], (key, twocolumn)


@needs_pdflatex
def test_long_expressions_as_aligned_rows_compile_inside_the_margins(tmp_path):
    """The pieces of the penalty FIVE_TERMS (eta_hat = w/Omega' has a five-term denominator, p = 1/(1 + eta_hat)
    a nested one), built here without a derivation."""
    eta_hat = w / sp.diff(FIVE_TERMS, w)
    pieces = [(r"\Omega(w)", FIVE_TERMS), (r"\hat\eta(w)", eta_hat), ("p(w)", 1 / (1 + eta_hat)),
              (r"\Omega'(w)", sp.diff(FIVE_TERMS, w, 2))]
    for width, twocolumn in ((report.COLUMN_PT, True), (345.0, False)):
        rows = [row for label, e in pieces for row in report.aligned_rows(label, sp.latex(e), width)]
        assert len(rows) >= len(pieces) + 3  # broken, not cut
        body = "$$\\begin{aligned}" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"
        assert overfull(pdflatex(tmp_path, body, twocolumn=twocolumn, name=f"a{int(twocolumn)}")) == []


def test_long_pieces_are_broken_over_several_rows(catalog_record):
    d = user_rule("quartic")
    tex = report.latex_report(d)
    eqs = tex.split(r"\end{aligned}")[0]
    f_rows = eqs.split(r"f(\eta) &=")[1].split(r"p(w) &=")[0]
    assert f_rows.count(r"&\quad") >= 2  # f(eta) of the quartic rule spans three rows or more
    assert report.latex_summary(d).startswith("$$") and r"\text{sparsity} &: \text{proved}" in report.latex_summary(d)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-60, 60).filter(bool), st.integers(0, 9)), min_size=1, max_size=16),
       st.floats(90, 320))
def test_sums_break_only_between_terms_and_fit(terms, width):
    expr = sp.Add(*[sp.Rational(c, k + 1) * w**k / (w + k + 1) for c, k in terms])
    tex = sp.latex(expr)
    lines = report.break_tex(tex, width)
    assert " ".join(lines).split() == tex.split()
    assert all(report.tex_width(line) <= width for line in lines)
