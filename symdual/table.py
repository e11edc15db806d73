"""The paper's Table 2 for every catalog method: rule, eta_hat, Omega, verdicts, provenance.

    symdual table                      # terminal table, long cells wrapped to the terminal's width
    symdual table --format md          # Markdown, full formulas
    symdual table --format latex       # a booktabs table that fits a column of a two-column page
    symdual table --format latex --layout page   # the table* variant, every column, full width
    symdual table --method mcp --method vardrop_exact --no-cache

Rows are built and rendered here; the command's options are in symdual.cli.table.
Each row is derived by the catalog (symdual.catalog) at the entry's default
parameters and cached on disk as JSON (symdual.cache), keyed by the
package's source, the library versions, the method and its parameters;
the last line says where the cache lives.
"""
from __future__ import annotations

import re
import shutil
import textwrap
import time
from dataclasses import dataclass
from typing import Any

from .report import QUAD_PT, break_tex, continued, tex_escape
from .verdict import MARKS

ROW_VERSION = 2
NAMESPACE = "table"
VERDICTS = (("subquadratic", "subq."), ("sparsity", "sparse"), ("unbiased", "unbiased"), ("bounded", "bounded"))
MARK_TEXT, MARK_LATEX = MARKS["symbol"], MARKS["latex"]
LEGEND = "✓ proved   (✓) supported numerically   ✗ refuted   ? unknown   ! differs from the entry's expectation"
KIND_LABEL = {"eta_hat": ("eta_hat(w)", r"\hat\eta(w)"), "keep_prob": ("q(w)", "q(w)"), "drop_rate": ("p(w)", "p(w)"),
              "variance": ("sigma**2(w)", r"\sigma^2(w)"), "ratio": ("r(w)", "r(w)"),
              "penalty": ("Omega(w)", r"\Omega(w)"), "dual": ("f(eta)", r"f(\eta)")}


# ------------------------------------------------------- cached rows, safe text
_TEXT_FIELDS = ("name", "title", "citation", "family", "params", "lam_mapping", "provenance", "omega_method")
_ROW_FIELDS = frozenset(_TEXT_FIELDS + ("verdicts", "notes", "rule", "eta_hat", "omega", "series", "provenance_full"))
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?"
                      r"|[ -/]*[0-~])|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile(r"[\t\n\x0b\x0c\r\x85\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` without terminal escape sequences (CSI, OSC, ...) and without C0/C1 controls other than
    newline and tab (and without bidi overrides): safe to print whatever a cache file held."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def _flat(text: str) -> str:
    """One cell: printable, line breaks and tabs as spaces."""
    return printable(_BREAKS.sub(" ", text))


def _is_text(v: Any) -> bool:
    """A str that can be written as UTF-8 (no lone surrogates)."""
    if not isinstance(v, str):
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_piece(v: Any, closed: bool = False) -> bool:
    """{"text": str, "latex": str} (and "closed": bool for Omega)."""
    keys = {"text", "latex", "closed"} if closed else {"text", "latex"}
    return (isinstance(v, dict) and set(v) == keys and _is_text(v["text"]) and _is_text(v["latex"])
            and (not closed or type(v["closed"]) is bool))


def _is_verdict(v: Any) -> bool:
    """{"status": one of MARKS, "detail": str, "as_expected": bool}."""
    return (isinstance(v, dict) and set(v) == {"status", "detail", "as_expected"} and v["status"] in MARK_TEXT
            and _is_text(v["status"]) and _is_text(v["detail"]) and type(v["as_expected"]) is bool)


def _str_dict(v: Any, ok: Any) -> bool:
    return isinstance(v, dict) and all(_is_text(k) and ok(x) for k, x in v.items())


def check_row(row: Any) -> str | None:
    """None if ``row`` has the shape :func:`row_of` gives (each field of its type), else what is wrong."""
    if not isinstance(row, dict):
        return "the row is not an object"
    keys = set(row)
    if not _ROW_FIELDS <= keys or not keys <= _ROW_FIELDS | {"w_critical"}:
        return "the row's fields differ from a table row's"
    checks = {name: _is_text for name in (*_TEXT_FIELDS, "w_critical")}
    checks.update(rule=_is_piece, eta_hat=_is_piece, omega=lambda v: _is_piece(v, closed=True),
                  series=lambda v: _str_dict(v, _is_piece), provenance_full=lambda v: _str_dict(v, _is_text),
                  notes=lambda v: isinstance(v, list) and all(map(_is_text, v)),
                  verdicts=lambda v: _str_dict(v, _is_verdict) and all(k in v for k, _ in VERDICTS))
    bad = [name for name in sorted(keys) if not checks[name](row[name])]
    return f"field {bad[0]!r} is not of a table row's type" if bad else None


# ------------------------------------------------------------------ rows
def _readable(expr: Any) -> Any:
    """For display only: rationals with denominators over 1000 (fitted constants such as
    Molchanov's 0.63576) as 6-digit decimals, floats (numeric series coefficients) to 10 digits."""
    import sympy as sp

    if not isinstance(expr, sp.Basic):
        return expr
    short = {r: sp.Float(r, 6) for r in expr.atoms(sp.Rational) if r.q > 1000}
    short.update({f: sp.Float(f, 10) for f in expr.atoms(sp.Float) if f._prec > 34})
    return expr.xreplace(short)


def _piece(expr: Any) -> dict[str, str]:
    """Text and LaTeX; a piecewise expression in w as 'e1 (w <= b1); e2 (w <= b2); e3 (w > b2)'."""
    import sympy as sp

    from .piecewise import branches, is_piecewise
    from .rules import w

    expr = _readable(expr)
    text = sp.sstr(expr)
    if is_piecewise(expr) and expr.free_symbols <= {w}:
        parts = branches(expr, w)
        text = "; ".join(f"{sp.sstr(e)} (w <= {sp.sstr(where.sup)})" if i < len(parts) - 1 else
                         f"{sp.sstr(e)} (w > {sp.sstr(where.inf)})" for i, (e, where) in enumerate(parts))
    return {"text": text, "latex": sp.latex(expr)}


def _series(ser: Any) -> dict[str, str]:
    """A series as text and LaTeX, its O-term written without the (w, oo) point."""
    import sympy as sp

    if not isinstance(ser, sp.Basic):
        return {"text": str(ser), "latex": _text_tex(str(ser))}
    order = ser.getO() if hasattr(ser, "getO") else None
    body = _readable(ser.removeO() if order is not None else ser)
    text, latex = sp.sstr(body), sp.latex(body)
    if order is not None:
        text += f" + O({sp.sstr(order.expr)})"
        latex += r" + O\left(" + sp.latex(order.expr) + r"\right)"
    return {"text": text, "latex": latex}


def _param_text(values: dict[str, Any]) -> str:
    import numpy as np
    import sympy as sp

    parts = []
    for k, v in values.items():
        parts.append(f"{k} {'x'.join(map(str, v.shape))}" if isinstance(v, np.ndarray) else f"{k}={sp.sstr(v)}")
    return ", ".join(parts)


def _param_key(values: dict[str, Any]) -> tuple:
    import hashlib

    import numpy as np
    import sympy as sp

    out = []
    for k, v in sorted(values.items()):
        if isinstance(v, np.ndarray):
            out.append((k, v.shape, hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()))
        else:
            out.append((k, sp.srepr(v)))
    return tuple(out)


def _verdicts(record: Any, expected: dict[str, bool | None]) -> dict[str, dict[str, Any]]:
    from .catalog import agrees

    return {name: {"status": v.status, "detail": v.detail, "as_expected": agrees(v.status, expected.get(name))}
            for name, v in record.properties.items()}


def row_of(entry: Any, values: dict[str, Any], record: Any) -> dict[str, Any]:
    """A table row (JSON-serialisable) from a catalog record."""
    row: dict[str, Any] = {
        "name": entry.name, "title": entry.title, "citation": entry.citation, "family": entry.family,
        "params": _param_text(values), "verdicts": _verdicts(record, entry.expected_for(values)),
        "notes": list(entry.notes), "lam_mapping": entry.lam_mapping,
    }
    if not getattr(record, "separable", True):
        tex = lambda key, text: record.latex.get(key) or _text_tex(text)  # noqa: E731
        row.update(
            rule={"text": record.rule_text, "latex": tex("rule", record.rule_text)},
            eta_hat={"text": record.eta_hat_text, "latex": tex("eta_hat", record.eta_hat_text)},
            omega={"text": record.omega_text, "latex": tex("omega", record.omega_text),
                   "closed": record.provenance["omega"].method == "closed form"},
            series={k: {"text": v, "latex": _text_tex(v)} for k, v in record.series.items()},
            provenance=_short_provenance(record.provenance["omega"]), omega_method=record.provenance["omega"].method,
            provenance_full={k: str(v) for k, v in record.provenance.items()},
        )
        row["notes"] = list(record.notes)
        return row
    kind = entry.kind
    label, label_tex = KIND_LABEL.get(kind, (kind, kind))
    if kind in ("keep_prob", "drop_rate", "variance", "ratio", "dual"):
        rule = _piece(record.rule.expr)
    elif record.eta_hat is not None:
        label, label_tex, rule = "p(w)", "p(w)", _piece(record.drop_rate)
    else:
        rule = {"text": entry.rule_text, "latex": entry.rule_latex or _text_tex(entry.rule_text)}
        label = label_tex = ""
    row["rule"] = {"text": f"{label} = {rule['text']}" if label else rule["text"],
                   "latex": f"{label_tex} = {rule['latex']}" if label else rule["latex"]}
    series = {k: _series(v) for k, v in record.series.items()}
    if record.eta_hat is not None:
        row["eta_hat"] = _piece(record.eta_hat)
    else:
        s0, soo = series.get("eta_hat@0"), series.get("eta_hat@oo")
        row["eta_hat"] = _no_closed_form(s0, soo, "numeric")
    if record.omega is not None:
        row["omega"] = dict(_piece(record.omega), closed=True)
    else:
        row["omega"] = dict(_no_closed_form(series.get("omega@0"), series.get("omega@oo"), "no closed form"),
                            closed=False)
    row["series"] = series
    prov = record.provenance.get("omega")
    row["provenance"] = _short_provenance(prov)
    row["provenance_full"] = {k: str(v) for k, v in record.provenance.items()}
    row["omega_method"] = prov.method if prov is not None else "not derived"
    row["notes"] = list(entry.notes) + list(record.notes)
    limits = getattr(record, "limits", {})
    if "w_critical" in limits:
        row["w_critical"] = str(limits["w_critical"])
    return row


def _short_provenance(prov: Any) -> str:
    """'method (first clause of how; precision)': the full text is in the record's provenance."""
    if prov is None:
        return "not derived"
    how = prov.how.split(";")[0].strip()
    how = how if len(how) <= 110 else how[:109] + "…"
    return f"{prov.method} ({how}; {prov.precision})"


def _text_tex(text: str) -> str:
    return r"\text{" + _tex_escape(text) + "}"


def _no_closed_form(at0: dict | None, atoo: dict | None, head: str) -> dict[str, str]:
    text, latex = [head], [r"\text{" + head + "}"]
    if at0:
        text.append(f"~ {at0['text']} (w->0+)")
        latex.append(r"\sim " + at0["latex"] + r"\ (w \to 0^+)")
    if atoo:
        text.append(f"~ {atoo['text']} (w->oo)")
        latex.append(r"\sim " + atoo["latex"] + r"\ (w \to \infty)")
    return {"text": "; ".join(text), "latex": r";\ ".join(latex)}


def _error_row(entry: Any, values: dict[str, Any], exc: Exception) -> dict[str, Any]:
    """A row saying the derivation failed (never cached)."""
    message = f"derivation failed: {type(exc).__name__}: {exc}".splitlines()[0]
    blank = {"text": "-", "latex": "-"}
    unknown = {"status": "unknown", "detail": message, "as_expected": True}
    return {"name": entry.name, "title": entry.title, "citation": entry.citation, "family": entry.family,
            "params": _param_text(values), "rule": {"text": entry.rule_text, "latex": _text_tex(entry.rule_text)},
            "eta_hat": blank, "omega": dict(text=message, latex=_text_tex(message), closed=False), "series": {},
            "verdicts": {name: dict(unknown) for name, _ in VERDICTS}, "provenance": message,
            "omega_method": "FAILED", "notes": [message], "lam_mapping": entry.lam_mapping}


def build_rows(names: list[str], use_cache: bool = True,
               timeout: float | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of ``names`` (cached), and how they were obtained: {"hits", "derived", "seconds", "cache_off"}.

    A cached row is used only if :func:`check_row` accepts it; "cache_off" says why the cache
    could not be used (its folder cannot be created), else None.

    ``timeout`` is the budget in seconds of each CAS call of a derivation (None: the default); a
    row derived under a given budget is cached apart from the rows derived under the default.
    """
    from . import cache, catalog

    rows, hits, derived = [], 0, []
    start = time.perf_counter()
    off = cache.prepare() if use_cache else None
    use_cache = use_cache and off is None
    for name in names:
        entry = catalog.entry(name)
        values = entry.resolve()
        budget = () if timeout is None else (("timeout", float(timeout)),)
        k = cache.key("table-row", ROW_VERSION, name, _param_key(values), *budget)
        row = cache.load(NAMESPACE, k, validate=lambda r, name=name: _check_cached(r, name)) if use_cache else None
        if row is not None:
            hits += 1
        else:
            derived.append(name)
            try:
                record = catalog.derive(entry, values, timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - one failing method must not hide the others
                rows.append(_error_row(entry, values, exc))
                continue
            row = row_of(entry, values, record)
            if use_cache:
                cache.store(NAMESPACE, k, row)
        rows.append(row)
    return rows, {"hits": hits, "derived": derived, "seconds": time.perf_counter() - start, "cache_off": off}


def _check_cached(row: Any, name: str) -> str | None:
    """check_row, and the row must be the method's."""
    reason = check_row(row)
    return reason if reason is not None or row["name"] == name else "a row of another method"


# ------------------------------------------------------------- rendering
def _mark(v: dict[str, Any], marks: dict[str, str]) -> str:
    return marks[v["status"]] + ("" if v.get("as_expected", True) else "!")


def _wrap_cell(text: str, width: int) -> list[str]:
    """One cell as lines of at most ``width`` characters (broken at spaces, long words split)."""
    text = " ".join(printable(text).split())
    return textwrap.wrap(text, max(width, 1), break_long_words=True, break_on_hyphens=False) or [""]


def render_text(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """A terminal table ``width`` characters wide (default the terminal's; at least 80); the formula
    columns share what the fixed ones leave, and a long cell (or heading) wraps onto more lines of its row.
    Where the width is tight the verdict and provenance columns narrow first."""
    width = max(80, width or shutil.get_terminal_size((160, 24)).columns)
    heads = ["method", "rule", "eta_hat(w)", "Omega(w)"] + [h for _, h in VERDICTS] + ["Omega from"]
    method_w = max([len(r["name"]) for r in rows] + [6])
    fixed, prov_w = [max(len(h), 3) for _, h in VERDICTS], 11
    seps = 3 * (len(heads) - 1)
    if width - method_w - sum(fixed) - prov_w - seps < 36:
        fixed, prov_w = [4] * len(VERDICTS), 6  # '(✓)!' is 4 wide; headings wrap
    free = width - method_w - sum(fixed) - prov_w - seps
    rule_w, eta_w = max(8, free * 3 // 10), max(8, free * 25 // 100)
    omega_w = max(8, free - rule_w - eta_w)
    widths = [method_w, rule_w, eta_w, omega_w] + fixed + [prov_w]
    line = lambda cells: " | ".join(c.ljust(w_) for c, w_ in zip(cells, widths, strict=True)).rstrip()  # noqa: E731

    def block(texts: list[str]) -> list[str]:
        cells = [_wrap_cell(t, w_) for t, w_ in zip(texts, widths, strict=True)]
        return [line([c[i] if i < len(c) else "" for c in cells]) for i in range(max(map(len, cells)))]

    rule = "-+-".join("-" * w_ for w_ in widths)
    out, tall = [*block(heads), rule], False
    for k, r in enumerate(rows):
        texts = [r["name"], r["rule"]["text"], r["eta_hat"]["text"], r["omega"]["text"]]
        texts += [_mark(r["verdicts"][key], MARK_TEXT) for key, _ in VERDICTS] + [r["omega_method"]]
        lines = block(texts)
        if k and (len(lines) > 1 or tall):  # a rule between rows when either of them wraps
            out.append(rule)
        tall = len(lines) > 1
        out += lines
    out += ["", *textwrap.wrap(LEGEND, width, break_on_hyphens=False)]
    return printable("\n".join(out))


def _md_cell(text: str) -> str:
    return "`" + _flat(text).replace("|", "\\|").replace("`", "'") + "`"


def render_md(rows: list[dict[str, Any]]) -> str:
    """A Markdown table with the full formulas (SymPy text in code spans)."""
    heads = ["Method", "Rule", "eta_hat(w)", "Omega(w)"] + [h for h, _ in VERDICTS] + ["Omega: provenance"]
    out = ["| " + " | ".join(heads) + " |", "|" + "|".join(["---"] * 4 + [":-:"] * 4 + ["---"]) + "|"]
    for r in rows:
        method = _flat(f"**{r['name']}** {r['title']} ({r['params']}); {r['citation']}")
        cells = [method.replace("|", "\\|"), _md_cell(r["rule"]["text"]), _md_cell(r["eta_hat"]["text"]),
                 _md_cell(r["omega"]["text"])]
        cells += [_mark(r["verdicts"][k], MARK_TEXT) for k, _ in VERDICTS]
        cells.append(_flat(r["provenance"]).replace("|", "\\|"))
        out.append("| " + " | ".join(cells) + " |")
    out += ["", LEGEND]
    return printable("\n".join(out))


_tex_escape = tex_escape


@dataclass(frozen=True)
class Layout:
    """A LaTeX table's frame: the float (``table`` in one column, ``table*`` across both), its width and
    font in pt, the padding of its columns, the formula columns it shows and the share of each."""

    float: str
    width: float
    font: str
    font_pt: float
    tabcolsep: float
    columns: tuple[tuple[str, float], ...]
    heads: tuple[str, ...]
    method: str = "title"  # the method column shows the entry's "title" or its catalog "name"


LAYOUTS = {
    "column": Layout("table", 229.5, r"\scriptsize", 7.0, 2.0, (("method", 0.39), ("omega", 0.61)),
                     ("subq.", "sp.", "unb.", "bdd."), method="name"),
    "page": Layout("table*", 469.0, r"\scriptsize", 7.0, 3.0,
                   (("method", 0.19), ("rule", 0.29), ("eta_hat", 0.22), ("omega", 0.30)),
                   ("subq.", "sparse", "unb.", "bdd.")),
}
"""``column``: catalog name, Omega and the verdicts in \\columnwidth of a two-column article (229.5 pt);
``page``: the title, the rule, eta_hat, Omega and the verdicts in its \\textwidth (469 pt). A piece without
a closed form shows the leading terms of its series at 0+ and infinity."""
LATEX_PACKAGES = r"\usepackage{amsmath,amssymb,booktabs,array}"
_MARK_PT = 18.5  # (\checkmark)! at 10 pt
_HEADS = {"method": "Method", "rule": "Rule", "eta_hat": r"$\hat\eta(w)$", "omega": r"$\Omega(w)$"}
LATEX_LEGEND = (r"$\checkmark$ proved, ($\checkmark$) supported numerically, $\times$ refuted, ? unknown, "
                r"! differs from the entry's expectation")


def _scale(font_pt: float) -> float:
    """Width at 10 pt over width at ``font_pt``: smaller sizes of Computer Modern are drawn wider."""
    return 10.0 / font_pt / (1.0 + 0.05 * (10.0 - font_pt))


def _math_cell(latex: str, width_pt: float, font_pt: float) -> str:
    """A formula in a p-column ``width_pt`` wide at ``font_pt``: lines broken to fit, continued indented."""
    scale = _scale(font_pt)
    lines = break_tex(_flat(latex), width_pt * scale, (width_pt - QUAD_PT * font_pt / 10.0) * scale)
    return "$" + lines[0] + "$" + "".join(r"\newline\hspace*{1em}$" + continued(x) + "$" for x in lines[1:])


def _method_cell(r: dict[str, Any], show: str) -> str:
    """The title (or the catalog name) in bold and the parameters but lam = 1 (citations: the Markdown table)."""
    params = ", ".join(p for p in r["params"].split(", ") if p and p != "lam=1")
    head = tex_escape(r["title"]) if show == "title" else tex_escape(r["name"], breakable=True)
    return rf"\textbf{{{head}}}" + (f" ({tex_escape(params, breakable=True)})" if params else "")


_ORDER_TERM = r" + O\left("
_SERIES_WHERE = (("0", r"w \to 0^+"), ("oo", r"w \to \infty"))


def _formula(r: dict[str, Any], key: str) -> str:
    """A formula cell's LaTeX: the closed form, else 'numeric' for eta_hat and, for Omega, the leading
    terms of its series at 0+ and infinity (O-terms dropped)."""
    latex = r[key]["latex"]
    head = {"omega": r"\text{no closed form}", "eta_hat": r"\text{numeric}"}.get(key)
    if head is None or not latex.startswith(head):
        return latex
    if key == "eta_hat":
        return head
    parts = [head]
    for at, where in _SERIES_WHERE:
        ser = r["series"].get(f"{key}@{at}")
        if ser is not None:
            body = ser["latex"].rsplit(_ORDER_TERM, 1)[0] if ser["latex"].endswith(r"\right)") else ser["latex"]
            parts.append(rf"\sim {body}\ ({where})")
    return r";\ ".join(parts)


def _mark_tex(v: dict[str, Any]) -> str:
    return "$" + _mark(v, MARK_LATEX).replace("$", "") + "$"


def render_latex(rows: list[dict[str, Any]], layout: str = "column") -> str:
    """A booktabs table with the formulas as math, broken to fit their columns, for pdflatex (needs
    :data:`LATEX_PACKAGES`): ``layout`` "column" (a ``table`` float in one column of a two-column page)
    or "page" (a ``table*`` float across the page, with the rules, eta_hat and provenance)."""
    lay = LAYOUTS[layout]
    marks_pt = [max(_MARK_PT, 5.6 * len(h)) / _scale(lay.font_pt) for h in lay.heads]
    n_cols = len(lay.columns) + len(lay.heads)
    free = lay.width - sum(marks_pt) - 2 * lay.tabcolsep * (n_cols - 1) - 1.0
    widths = {c: share * free for c, share in lay.columns}
    order = [c for c, _ in lay.columns]
    spec = "".join(rf">{{\raggedright\arraybackslash}}p{{{widths[c]:.1f}pt}}" for c in order)
    spec += "c" * len(lay.heads)
    heads = [_HEADS[c] for c in order] + list(lay.heads)
    out = [r"% symdual table: the eta-trick penalties of adaptive dropout (LeJeune et al. 2021, Table 2)",
           "% needs " + LATEX_PACKAGES,
           rf"\begin{{{lay.float}}}[t]", r"\centering", lay.font, rf"\setlength{{\tabcolsep}}{{{lay.tabcolsep}pt}}",
           r"\setlength{\extrarowheight}{1pt}",
           rf"\begin{{tabular}}{{@{{}}{spec}@{{}}}}", r"\toprule", " & ".join(heads) + r" \\", r"\midrule"]
    for r in rows:
        cells = []
        for c in order:
            if c == "method":
                cells.append(_method_cell(r, lay.method))
            else:
                cells.append(_math_cell(_formula(r, c), widths[c], lay.font_pt))
        cells += [_mark_tex(r["verdicts"][key]) for key, _ in VERDICTS]
        out.append(" & ".join(cells) + r" \\")
    verdicts = "; ".join(f"{h} {name}" for h, (name, _) in zip(lay.heads, VERDICTS, strict=True))
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{Effective penalties $\Omega$ of adaptive dropout (symdual; LeJeune et al.\ 2021, Table 2), "
            r"$\lambda = 1$ unless stated. "
            rf"Verdicts ({tex_escape(verdicts)}): {LATEX_LEGEND}.}}",
            r"\label{tab:symdual-penalties}", rf"\end{{{lay.float}}}"]
    return printable("\n".join(out))


RENDER = {"text": render_text, "md": render_md, "latex": render_latex}


def paper_files(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The paper's table as files, name -> text: Markdown, the LaTeX ``table`` (one column) and ``table*``
    (full width), and a two-column article showing both (``pdflatex table2_demo.tex``)."""
    from .report import latex_document

    column, page = render_latex(rows, "column"), render_latex(rows, "page")
    demo = latex_document("\n\n".join([column, page, "The tables are floats: they appear at the top of a column "
                                       "(Table 1) and of a page (Table 2)."]), twocolumn=True,
                          packages=LATEX_PACKAGES)
    return {"table2.md": render_md(rows) + "\n", "table2.tex": column + "\n", "table2_wide.tex": page + "\n",
            "table2_demo.tex": demo}
