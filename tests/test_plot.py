"""`symdual.figures.plot` and `symdual plot`: the curves (and their CSV) against mpmath references typed here,
the envelope f of a rule without a dual, the figure's style, and every bad-input path (one line, exit 2)."""
from __future__ import annotations

import csv
import functools
import sys

import mpmath
import numpy as np
import pytest

import symdual as sd
from symdual.cli import build_parser, main
from symdual.errors import InputError
from symdual.figures import compare, plot, style

pytest.importorskip("matplotlib", reason="the figures need matplotlib (the figures extra)")
DPS = 30
RTOL = 1e-10


@functools.cache
def tanh_rule():
    return sd.derive(keep_prob="tanh(w)")


@pytest.fixture(scope="module")
def curves(catalog_record):
    return compare.compare_data([compare.Named(catalog_record("logsum"), "logsum"), tanh_rule()], points=120)


def curve(curves, piece, rule):
    return next(c for c in curves if c.piece == piece and c.rule == rule)


LOGSUM, TANH = "logsum(eps=2, lam=1)", "keep_prob = tanh(w) (lam=1)"


# ------------------------------------------------------------------ references (mpmath, typed from the papers)
def logsum_ref(piece, x):
    """LogSum(2), lam = 1: Omega = log(1 + w/2), eta_hat = w (w + 2), p = 1/(1 + w)**2, and the dual
    f(eta) = 2 log((s + 2)/2) - (s - 2)**2/(4 eta), s = sqrt(4 + 4 eta), less 2 log 2 (Omega(0) = 0)."""
    x = mpmath.mpf(x)
    if piece == "omega":
        return mpmath.log(1 + x / 2)
    if piece == "eta_hat":
        return x * (x + 2)
    if piece == "drop_rate":
        return 1 / (1 + x) ** 2
    s = mpmath.sqrt(4 + 4 * x)
    return 2 * mpmath.log((s + 2) / 2) - (s - 2) ** 2 / (4 * x) - 2 * mpmath.log(2)


def tanh_omega(w):
    """q = tanh(w): eta_hat = lam q/(1 - q) = (exp(2w) - 1)/2, Omega(w) = int_0^w t/eta_hat(t) dt."""
    return mpmath.quad(lambda t: 2 * t / mpmath.expm1(2 * t), [0, mpmath.mpf(w)])


def tanh_ref(piece, x):
    x = mpmath.mpf(x)
    if piece == "omega":
        return tanh_omega(x)
    if piece == "eta_hat":
        return mpmath.expm1(2 * x) / 2
    if piece == "drop_rate":
        return 1 - mpmath.tanh(x)
    w_star = mpmath.log1p(2 * x) / 2  # eta_hat(w*) = eta: the maximiser of 2 Omega(w) - w**2/eta
    return 2 * tanh_omega(w_star) - w_star**2 / x


# ------------------------------------------------------------------ the curves
@pytest.mark.parametrize("piece", compare.PIECES)
@pytest.mark.parametrize("rule, ref", [(LOGSUM, logsum_ref), (TANH, tanh_ref)])
def test_curves_against_mpmath(curves, piece, rule, ref):
    c = curve(curves, piece, rule)
    assert c.drawn and c.x.size > 50
    with mpmath.workdps(DPS):
        for i in np.linspace(0, c.x.size - 1, 7).astype(int):
            expected = ref(piece, c.x[i])
            assert abs(mpmath.mpf(c.y[i]) - expected) <= RTOL * abs(expected), (piece, rule, c.x[i], c.y[i])


def test_curves_against_evaluate_mp(curves, catalog_record):
    d = catalog_record("logsum")
    for piece in ("omega", "eta_hat", "f_dual"):
        c = curve(curves, piece, LOGSUM)
        for i in (0, 40, 119):
            expected = d.evaluate_mp(piece, c.x[i], dps=DPS)
            assert abs(mpmath.mpf(c.y[i]) - expected) <= RTOL * abs(expected)


def test_grids_and_provenance(curves):
    om = curve(curves, "omega", TANH)
    assert om.x[0] == 0.01 and om.x[-1] == 5.0 and om.how == "quadrature"
    f = curve(curves, "f_dual", LOGSUM)
    assert f.x[0] == 0.01 and f.x[-1] == 100.0 and f.how == "closed form"


def test_envelope_f_is_the_supremum(curves):
    """f of tanh(w) has no evaluator: drawn from the envelope; each point is max_w [2 Omega(w) - w**2/eta]
    (brute force over a fine grid of w, Omega by quadrature in float64), never exceeded."""
    c = curve(curves, "f_dual", TANH)
    assert c.how == compare.ENVELOPE and np.all(np.diff(c.x) > 0)
    assert 0.01 <= c.x.min() and c.x.max() <= 100.0
    ws = np.linspace(1e-4, 4, 4001)
    om = np.array([float(tanh_omega(w)) for w in ws[::50]])
    om = np.interp(ws, ws[::50], om)
    for i in (0, len(c.x) // 2, len(c.x) - 1):
        brute = float(np.max(2 * om - ws**2 / c.x[i]))
        assert brute <= c.y[i] + 1e-6 and c.y[i] - brute < 2e-3


def test_capped_penalty_drops_to_zero_rate(catalog_record):
    """MCP(1/2, sqrt 2): eta_hat = oo beyond b = 1/sqrt 2 (not drawn), drop rate exactly 0 there."""
    d = catalog_record("mcp")
    eta, rate = compare.compare_data([compare.Named(d, "mcp")], pieces=["eta_hat", "drop_rate"], points=50)
    beyond = eta.x > 2**-0.5
    assert np.all(np.isnan(eta.y[beyond])) and np.all(rate.y[beyond] == 0.0)
    assert np.all(np.isfinite(eta.y[~beyond])) and np.all(rate.y[~beyond] > 0)


def test_labels_and_groups(curves, catalog_record):
    assert curve(curves, "omega", LOGSUM).label == r"$\mathrm{LogSum}(\epsilon = 2)$"
    assert curve(curves, "omega", TANH).label == r"$q(w) = \tanh{\left(w \right)}$"
    assert curve(curves, "omega", LOGSUM).group == "Classical penalties"
    assert curve(curves, "omega", TANH).group == "Your rules"
    mcp = compare.Named(catalog_record("mcp"), "mcp")
    assert compare.rule_label(mcp) == r"$\mathrm{MCP}(a = \frac{1}{2}, \lambda = \sqrt{2})$"
    assert compare.rule_group(compare.Named(catalog_record("standout"), "standout")) == "Adaptive dropout"


# ------------------------------------------------------------------ the figure and its files
def test_plot_writes_pdf_and_csv(tmp_path, catalog_record):
    fig = plot(compare.Named(catalog_record("logsum"), "logsum"), tanh_rule(), points=60,
               path=tmp_path / "cmp.pdf", csv=tmp_path / "cmp.csv")
    assert (tmp_path / "cmp.pdf").read_bytes().startswith(b"%PDF-")
    assert tuple(fig.get_size_inches())[0] == style.FULL_WIDTH and len(fig.axes) == 4
    with open(tmp_path / "cmp.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["piece"], r["rule"]) for r in rows} == {(p, r) for p in compare.PIECES for r in (LOGSUM, TANH)}
    by = {}
    for r in rows:
        by.setdefault((r["piece"], r["rule"]), []).append((float(r["x"]), float(r["value"])))
    with mpmath.workdps(DPS):
        for (piece, rule), points in by.items():
            ref = logsum_ref if rule == LOGSUM else tanh_ref
            for x, value in points[::19]:
                expected = ref(piece, x)
                assert abs(mpmath.mpf(value) - expected) <= RTOL * abs(expected), (piece, rule, x)


def test_style_fonts_and_legend(catalog_record):
    fig = plot(compare.Named(catalog_record("logsum"), "logsum"), compare.Named(catalog_record("mcp"), "mcp"),
               pieces=["omega", "drop_rate"], points=40)
    assert tuple(fig.get_size_inches())[0] == style.COLUMN_WIDTH and len(fig.axes) == 2
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    assert min(sizes) >= style.MIN_FONT_PT
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        r"$\mathbf{Classical\ penalties}$", r"$\mathrm{LogSum}(\epsilon = 2)$",
        r"$\mathrm{MCP}(a = \frac{1}{2}, \lambda = \sqrt{2})$"]
    lines = fig.axes[0].get_lines()
    assert len({(ln.get_marker(), ln.get_color()) for ln in lines}) == 2


def test_three_groups_fit_a_column(catalog_record):
    """Three legend groups are too wide for 3.25 in side by side: they share columns, and all text stays inside."""
    fig = plot(compare.Named(catalog_record("logsum"), "logsum"), compare.Named(catalog_record("standout"), "standout"),
               tanh_rule(), pieces=["omega", "drop_rate"], points=40)
    (legend,) = fig.legends
    assert legend._ncols < 3 and fig.get_size_inches()[0] == style.COLUMN_WIDTH
    assert style.layout_problems(fig) == []
    assert len([t for t in legend.get_texts() if t.get_text().startswith(r"$\mathbf")]) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"pieces": ["omega", "bogus"]}, "pieces must be distinct names among omega, eta_hat, drop_rate, f_dual"),
    ({"pieces": ["omega", "omega"]}, "pieces must be distinct"),
    ({"w_range": (0, 1)}, "w_range must satisfy 0 < low < high < inf"),
    ({"eta_range": (3, 2)}, "eta_range must satisfy"),
    ({"points": 1}, "points must be an integer in [2, 100000]"),
    ({"labels": ["a", "b"]}, "2 labels for 1 rules"),
    ({"path": "cmp.txt"}, "the file name must end in .pdf, .png, .svg"),
    ({"csv": "cmp.pdf"}, "the file name must end in .csv"),
])
def test_bad_arguments_are_input_errors(catalog_record, kwargs, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(")):
        plot(compare.Named(catalog_record("logsum"), "logsum"), **kwargs)


def test_bad_rules_are_input_errors():
    with pytest.raises(InputError, match="nothing to plot"):
        plot()
    with pytest.raises(InputError, match="hardthresh is not separable"):
        plot("hardthresh")
    with pytest.raises(InputError, match="plot takes derivations"):
        plot(3.0)
    with pytest.raises(InputError, match="unknown method 'nosuch'"):
        plot("nosuch")


# ------------------------------------------------------------------ the command line
def test_rules_keep_their_order_and_settings():
    args = build_parser().parse_args(["plot", "--method", "mcp", "--param", "a=1", "--lam", "2", "--keep-prob",
                                      "tanh(w)", "--method", "logsum", "--param", "eps=3", "-o", "x.pdf"])
    assert args.rules == [
        {"option": "--method", "kind": "method", "text": "mcp", "params": ["a=1"], "lam": "2"},
        {"option": "--keep-prob", "kind": "keep_prob", "text": "tanh(w)", "params": [], "lam": None},
        {"option": "--method", "kind": "method", "text": "logsum", "params": ["eps=3"], "lam": None}]


@pytest.fixture()
def cached_derivations(monkeypatch, catalog_record):
    """The CLI's derivations from the session's cache (the command line is what is tested here)."""
    import symdual.catalog
    import symdual.derivation

    real, real_catalog = symdual.derivation.derive, symdual.catalog.derive

    def catalog_derive(method, values=None, timeout=None):  # catalog.get calls it with an entry
        return catalog_record(method, **values) if isinstance(method, str) else real_catalog(method, values, timeout)

    @functools.cache
    def rule(**kwargs):
        return tanh_rule() if kwargs == {"keep_prob": "tanh(w)", "lam": "1", "params": (), "timeout": None} else \
            real(**{**kwargs, "params": dict(kwargs["params"])})

    monkeypatch.setattr(symdual.catalog, "derive", catalog_derive)
    monkeypatch.setattr(symdual.derivation, "derive",
                        lambda **kw: rule(**{**kw, "params": tuple(sorted(kw["params"].items()))}))


def test_cli_plot_writes_the_figure(tmp_path, capsys, cached_derivations):
    out = tmp_path / "cmp.pdf"
    assert main(["plot", "--method", "logsum", "--keep-prob", "tanh(w)", "-o", str(out), "--points", "40",
                 "--csv", str(tmp_path / "cmp.csv")]) == 0
    assert capsys.readouterr().out == f"wrote {out} and {tmp_path / 'cmp.csv'}\n"
    assert out.read_bytes().startswith(b"%PDF-")
    with open(tmp_path / "cmp.csv", newline="") as fh:
        rules = {r["rule"] for r in csv.DictReader(fh)}
    assert rules == {LOGSUM, TANH}


def test_cli_method_parameters_reach_the_catalog(tmp_path, capsys, cached_derivations):
    assert main(["plot", "--method", "mcp", "--param", "a=1", "--lam", "2", "--pieces", "omega", "--points", "30",
                 "-o", str(tmp_path / "m.png"), "--csv", str(tmp_path / "m.csv")]) == 0
    with open(tmp_path / "m.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["rule"] for r in rows} == {"mcp(a=1, lam=2)"}
    w, value = float(rows[-1]["x"]), float(rows[-1]["value"])
    assert w == 5.0 and value == pytest.approx(2 * (2 / 2), rel=1e-14)  # lam b/2 with b = a lam = 2
    capsys.readouterr()


def no_derivation(monkeypatch):
    import symdual.catalog
    import symdual.derivation

    def forbidden(*args, **kwargs):
        raise AssertionError("derived before the options were checked")

    monkeypatch.setattr(symdual.catalog, "derive", forbidden)
    monkeypatch.setattr(symdual.derivation, "derive", forbidden)


@pytest.mark.parametrize("argv, message", [
    (["--method", "logsum", "-o", "{tmp}/x.txt"], "-o '{tmp}/x.txt': the file name must end in .pdf, .png, .svg"),
    (["--method", "logsum", "-o", "{tmp}"], "-o '{tmp}' is a folder"),
    (["--method", "logsum", "-o", "{tmp}/no/x.pdf"], "-o '{tmp}/no/x.pdf': the folder '{tmp}/no' does not exist"),
    (["--method", "logsum", "-o", "{tmp}/x.pdf", "--csv", "{tmp}/x.txt"],
     "--csv '{tmp}/x.txt': the file name must end in .csv"),
    (["-o", "{tmp}/x.pdf"], "nothing to plot: give --method NAME or a rule option (e.g. --keep-prob EXPR)"),
    (["--method", "nosuch", "-o", "{tmp}/x.pdf"], "unknown method 'nosuch'; known methods: l1, lp,"),
    (["--method", "mcp", "--param", "a=1", "--param", "a=2", "-o", "{tmp}/x.pdf"],
     "--param a is given twice for --method mcp"),
    (["--method", "mcp", "--param", "w=1", "-o", "{tmp}/x.pdf"], "--param: 'w' is a variable of the rule"),
])
def test_cli_bad_input_is_one_line_before_any_work(tmp_path, capsys, monkeypatch, argv, message):
    no_derivation(monkeypatch)
    code = main(["plot", *(a.format(tmp=tmp_path) for a in argv)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("symdual: error: " + message.format(tmp=tmp_path)), err
    assert not (tmp_path / "x.pdf").exists()


@pytest.mark.parametrize("argv, fragment", [
    (["--param", "a=1", "--method", "mcp"], "--param must follow the --method or rule option it sets"),
    (["--method", "mcp", "--lam", "1", "--lam", "2"], "--lam is given twice for --method mcp"),
    (["--method", "mcp", "--pieces", "omega,nope"], "expected distinct names among omega,eta_hat,drop_rate,f_dual"),
])
def test_cli_usage_errors_exit_2(tmp_path, capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        main(["plot", *argv, "-o", str(tmp_path / "x.pdf")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and fragment in err


def test_cli_non_separable_method_is_refused(tmp_path, capsys):
    assert main(["plot", "--method", "hardthresh", "-o", str(tmp_path / "x.pdf")]) == 2
    assert capsys.readouterr().err == ("symdual: error: hardthresh is not separable (its penalty couples the "
                                       "weights): nothing to plot per weight\n")


def test_cli_without_matplotlib_says_what_to_install(tmp_path, capsys, monkeypatch):
    no_derivation(monkeypatch)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", "--method", "logsum", "-o", str(tmp_path / "x.pdf")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symdual: error: symdual plot needs matplotlib: pip install ") and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_pieces_are_the_library_pieces():
    import symdual.cli.plot as cli_plot

    assert cli_plot.PIECES == compare.PIECES
