"""Human-readable output of a derivation: terminal text, and LaTeX laid out to fit a column.

    summary(d)                 the terminal summary (``symdual derive``)
    latex_report(d)            aligned equations, then the verdicts as a list (``symdual derive --latex``)
    latex_summary(d)           the equations and verdicts as one display (Jupyter's ``_repr_latex_``)
    break_tex(tex, width)      any LaTeX math as lines of at most ``width`` pt (also used by the table)
    latex_document(body)       a standalone article around a fragment (pdflatex)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from .properties import NAMES
from .verdict import MARK

if TYPE_CHECKING:
    from .record import Derivation, VectorPenalty


def _show(expr: sp.Expr | None) -> str:
    return "(not derived)" if expr is None else sp.sstr(expr)


def _pretty(expr: sp.Expr | None) -> str:
    if expr is None:
        return "(not derived)"
    text = sp.pretty(expr, use_unicode=True, wrap_line=False)
    return text if len(text.splitlines()) <= 8 else sp.sstr(expr)


def summary(d: Derivation) -> str:
    """The terminal summary: pieces with provenance, series, verdicts, notes."""
    lines = [f"symdual derivation: {d.title()}   (lam = {d.lam})", ""]
    for label, piece, expr, _var in (("eta_hat(w)", "eta_hat", d.eta_hat, "w"),
                                     ("Omega(w)", "omega", d.omega, "w"),
                                     ("f(eta)", "f_dual", d.f_dual, "eta"),
                                     ("drop rate p(w)", "drop_rate", d.drop_rate, "w")):
        prov = d.provenance.get(piece)
        body = _pretty(expr) if expr is not None or not d.can_evaluate(piece) else "(numeric only)"
        lines.append(f"{label} =" + ("\n" if "\n" in body else " ") + body)
        if prov is not None:
            lines.append(f"    [{prov.method}; {prov.precision}]" if prov.method == "numeric" else f"    [{prov}]")
    for key, label in (("omega@0", "Omega as w -> 0+"), ("omega@oo", "Omega as w -> oo")):
        if key in d.series:
            lines.append(f"{label}:  {sp.sstr(d.series[key])}")
    lines += ["", "properties:"]
    for name in NAMES:
        v = d.properties.get(name)
        if v is not None:
            lines.append(f"  {name:<13} {MARK[v.status]:<10} {v.detail}")
    engines = sorted({p.how for p in d.provenance.values() if p.method == "numeric"})
    if engines:
        lines += ["", "numerics:"] + [f"  {how}" for how in engines]
    if d.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in d.notes]
    return "\n".join(lines)


# ------------------------------------------------------------ LaTeX layout
# Widths are estimated in pt of Computer Modern at 10 pt, display style (measured with pdflatex: w 7.2, a
# letter 5.3, a binary + with its spaces 12.2, = 13.4, a text letter 5.0, \left( x \right) an inner atom with
# thin spaces), rounded up so that a line the estimate accepts fits when typeset. Lines break before top-level
# + and -, control spaces and \quad, after ';' and ','; a group too wide is opened: \left( ... \right)
# becomes \Bigl( ... \Bigr) broken inside, \frac{A}{B} becomes \frac{1}{B}\Bigl(A\Bigr) (or A \Big/ \Bigl(B\Bigr)
# for a wide B), \text{...} breaks between words, and wide cases rows become aligned blocks (or stack their
# conditions below them).
COLUMN_PT = 229.5
"""The column width of a two-column article at 10 pt (\\columnwidth); its single-column \\textwidth is 345 pt."""
QUAD_PT = 10.0
SAFETY = 1.06

_CHAR_PT = {"w": 7.3, "m": 8.8, "W": 10.0, "M": 9.8, "+": 12.2, "-": 12.2, "=": 13.4, "<": 13.4, ">": 13.4,
            "(": 3.9, ")": 3.9, "[": 2.8, "]": 2.8, ",": 4.5, ".": 2.8, ";": 4.5, "|": 2.8, "!": 2.8, "'": 2.8,
            "/": 5.0, ":": 5.6, "*": 5.0, "&": 0.0, "~": 3.3}
_CMD_PT = {",": 1.7, ":": 2.2, ";": 2.8, "!": -1.7, " ": 3.3, "quad": 10.0, "qquad": 20.0, "cdot": 7.8,
           "times": 12.2, "pm": 12.2, "mp": 12.2, "infty": 10.0, "partial": 5.7, "ldots": 13.4, "cdots": 13.4,
           "{": 5.0, "}": 5.0, "%": 8.4, "#": 8.4, "$": 5.0, "&": 7.8, "_": 5.0}
_RELATIONS = frozenset({"leq", "geq", "le", "ge", "sim", "approx", "to", "neq", "ne", "equiv", "mapsto", "in",
                        "rightarrow", "leftarrow", "Rightarrow", "searrow", "nearrow", "lt", "gt"})
_OPERATORS = frozenset({"log", "exp", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arctan", "max", "min", "sup",
                        "inf", "lim", "det", "sign", "ln", "arg", "argmin", "argmax"})
_TEXT_CMDS = frozenset({"text", "textrm", "mathrm", "operatorname", "textbf", "mathbf", "textit", "mathit",
                        "texttt", "mathtt", "mathsf"})
_DELIM_CMDS = frozenset({"left", "right", "middle", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "big", "Big"})
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|[^\\\s]", re.S)
_SPACE = " "


@dataclass
class _Node:
    """A parsed piece of LaTeX math: a character, a command, a {group}, a \\left..\\right pair or an environment."""

    kind: str  # "char" | "cmd" | "group" | "delim" | "env"
    src: str
    children: list[_Node] = field(default_factory=list)
    args: list[list[_Node]] = field(default_factory=list)
    name: str = ""
    open: str = ""
    close: str = ""


def _tokens(tex: str) -> list[str]:
    """Control words and symbols, single characters, and runs of whitespace as one space."""
    return [_SPACE if t.isspace() else t for t in _TOKEN.findall(tex)]


def _parse(tokens: list[str], i: int = 0, stop: tuple[str, ...] = ()) -> tuple[list[_Node], int]:
    """Nodes from ``tokens[i:]`` up to one of ``stop`` (not consumed); unbalanced input is kept as characters."""
    out: list[_Node] = []
    while i < len(tokens):
        t = tokens[i]
        if t in stop:
            return out, i
        if t == "{":
            inner, j = _parse(tokens, i + 1, ("}",))
            j = min(j + 1, len(tokens))
            out.append(_Node("group", "".join(tokens[i:j]), inner))
            i = j
        elif t == r"\left" and i + 1 < len(tokens):
            inner, j = _parse(tokens, i + 2, (r"\right",))
            close = tokens[j + 1] if j + 1 < len(tokens) else "."
            j = min(j + 2, len(tokens))
            out.append(_Node("delim", "".join(tokens[i:j]), inner, open=tokens[i + 1], close=close))
            i = j
        elif t == r"\begin" and i + 1 < len(tokens) and tokens[i + 1] == "{":
            name_end = tokens.index("}", i + 2) if "}" in tokens[i + 2:] else len(tokens) - 1
            name = "".join(tokens[i + 2:name_end])
            body, j = _parse(tokens, name_end + 1, (r"\end",))
            j = min(j + 1 + (name_end - i - 1) + 1, len(tokens))  # \end{name}
            out.append(_Node("env", "".join(tokens[i:j]), body, name=name))
            i = j
        else:
            out.append(_Node("space" if t == _SPACE else "cmd" if t.startswith("\\") else "char", t))
            i += 1
    return out, i


def _arg_count(node: _Node) -> int:
    name = node.src[1:]
    if name in ("frac", "dfrac", "tfrac", "binom"):
        return 2
    if name in _TEXT_CMDS or name in ("sqrt", "hat", "bar", "tilde", "overline", "mathcal", "mathbb", "boldsymbol"):
        return 1
    return 0


def _attach(nodes: list[_Node]) -> list[_Node]:
    """Give commands their {arguments} and scripts (^, _) their operand, so that each node is one atom."""
    out: list[_Node] = []
    i = 0

    def after(j: int) -> int:
        while j < len(nodes) and nodes[j].kind == "space":
            j += 1
        return j

    while i < len(nodes):
        n = nodes[i]
        if n.kind == "cmd" and _arg_count(n):
            j, args = after(i + 1), []
            if n.src == r"\sqrt" and j < len(nodes) and nodes[j].src == "[":
                k = next((k for k in range(j, len(nodes)) if nodes[k].src == "]"), j)
                args.append(nodes[j + 1:k])
                j = after(k + 1)
            for _ in range(_arg_count(n)):
                if j < len(nodes):
                    a = nodes[j]
                    args.append(a.children if a.kind == "group" else [a])
                    j = after(j + 1)
            src = "".join(x.src for x in nodes[i:j])
            out.append(_Node("cmd", src, name=n.src[1:], args=[_attach(a) for a in args]))
            i = j
        elif n.kind == "cmd" and n.src[1:] in _DELIM_CMDS and after(i + 1) < len(nodes):
            j = after(i + 1)
            out.append(_Node("cmd", "".join(x.src for x in nodes[i:j + 1]), name=n.src[1:]))
            i = j + 1
        elif n.src in ("^", "_") and after(i + 1) < len(nodes):
            j = after(i + 1)
            a = nodes[j]
            out.append(_Node("script", "".join(x.src for x in nodes[i:j + 1]),
                             args=[_attach(a.children if a.kind == "group" else [a])]))
            i = j + 1
        else:
            if n.kind in ("group", "delim", "env"):
                n.children = _attach(n.children)
            out.append(n)
            i += 1
    return out


def _math(tex: str) -> list[_Node]:
    return _attach(_parse(_tokens(tex))[0])


def _rows(nodes: list[_Node]) -> list[list[list[_Node]]]:
    """An environment's body as rows of cells (split at \\\\ and &)."""
    rows: list[list[list[_Node]]] = [[[]]]
    for n in nodes:
        if n.src == "\\\\":
            rows.append([[]])
        elif n.src == "&":
            rows[-1].append([])
        else:
            rows[-1][-1].append(n)
    return [r for r in rows if any(r)]


def _text_pt(nodes: list[_Node]) -> float:
    """Text mode: 5.2 pt a character, 3.3 pt a space."""
    return sum(5.2 * len(n.src) if n.kind == "char" else 3.3 if n.kind == "space" else _width([n]) for n in nodes)


def _tall(nodes: list[_Node]) -> bool:
    return any(n.kind == "env" or n.name in ("frac", "dfrac") or _tall(n.children) or any(map(_tall, n.args))
               for n in nodes)


def _width(nodes: list[_Node], style: int = 0) -> float:
    """Estimated width in pt (10 pt Computer Modern) of parsed math; ``style`` 0 display, 1 text, 2 script
    (a fraction in display style sets its parts in text style, else in script style, at 0.72 the size)."""
    total = 0.0
    inner = max(style, 1) if style == 0 else 2
    for n in nodes:
        if n.kind == "space":
            continue
        if n.kind == "char":
            total += _CHAR_PT.get(n.src, 5.0 if n.src.isdigit() else 7.8 if n.src.isupper() else 5.6)
        elif n.kind == "group":
            total += _width(n.children, style)
        elif n.kind == "delim":
            fence = 7.5 if _tall(n.children) else 5.0  # \left..\right is an inner atom: thin spaces beside it
            fences = (0 if n.open == "." else fence) + (0 if n.close == "." else fence)
            total += _width(n.children, style) + fences + 3.4
        elif n.kind == "script":
            total += _width(n.args[0], 2) * (0.72 if style < 2 else 1.0)
        elif n.kind == "env":
            rows = _rows(n.children)
            cols = max((len(r) for r in rows), default=0)
            col_w = [max((_width(r[c], 1) for r in rows if c < len(r)), default=0.0) for c in range(cols)]
            total += sum(col_w) + QUAD_PT * max(cols - 1, 0) + (12.0 if n.name in ("cases", "pmatrix") else 2.0)
        elif n.name in ("frac", "dfrac", "tfrac", "binom"):
            scale = 1.0 if style == 0 or (style == 1 and n.name == "dfrac") else 0.72 if style == 1 else 1.0
            total += scale * max(_width(n.args[0], inner), _width(n.args[1], inner)) + 2.4
        elif n.name == "sqrt":
            total += _width(n.args[-1], style) + 8.4 + (0.6 * _width(n.args[0], 2) if len(n.args) == 2 else 0.0)
        elif n.name in _TEXT_CMDS:
            total += _text_pt(n.args[0]) + (1.7 if n.name == "operatorname" else 0.0)
        elif n.name in ("hat", "bar", "tilde", "overline", "mathbb", "boldsymbol"):
            total += _width(n.args[0], style)
        elif n.name == "mathcal":
            total += 8.5 * max(len(n.args[0]), 1)
        elif n.name in _DELIM_CMDS:
            total += 0.0 if n.src.endswith(".") else 6.0
        else:
            name = n.src[1:]
            total += (_CMD_PT.get(name) or (13.4 if name in _RELATIONS else None)
                      or (5.0 * len(name) + 1.7 if name in _OPERATORS else 6.5))
    return total


def tex_width(tex: str) -> float:
    """The estimated width in pt of LaTeX math ``tex`` typeset in display style at 10 pt (an upper estimate)."""
    return SAFETY * _width(_math(tex))


def _src(nodes: list[_Node]) -> str:
    """The LaTeX of ``nodes`` without spaces at either end (a control space stays whole)."""
    lo, hi = 0, len(nodes)
    while lo < hi and nodes[lo].kind == "space":
        lo += 1
    while hi > lo and nodes[hi - 1].kind == "space":
        hi -= 1
    return "".join(n.src for n in nodes[lo:hi])


def _is_operator(n: _Node) -> bool:
    return (n.kind == "char" and n.src in "+-=<>,;(") or (n.kind == "cmd" and n.src[1:] in _RELATIONS | {"cdot"})


def _segments(nodes: list[_Node]) -> list[list[_Node]]:
    """Split before each binary + or - and each control space or \\quad at this level, after each ';' and ','."""
    segs: list[list[_Node]] = [[]]
    prev: _Node | None = None
    for n in nodes:
        binary = n.kind == "char" and n.src in "+-" and prev is not None and not _is_operator(prev)
        if (binary or n.src in (r"\ ", r"\quad")) and segs[-1]:
            segs.append([])
        segs[-1].append(n)
        if n.kind == "char" and n.src in ";,":
            segs.append([])
        prev = n if n.kind != "space" else prev
    return [s for s in segs if s]


def _big(nodes: list[_Node]) -> str:
    return r"\Bigl" if r"\frac" in _src(nodes) or "^" in _src(nodes) else r"\bigl"


def _wrap(prefix: str, open_: str, inner: list[str], close: str, suffix: str) -> list[str]:
    inner = list(inner) or [""]
    inner[0] = f"{prefix} {open_}{inner[0]}".strip()
    inner[-1] = f"{inner[-1]}{close} {suffix}".strip()
    return inner


def _cases(n: _Node, width: float) -> str:
    """A cases environment whose wide rows are broken into aligned blocks; where the conditions leave
    too little room beside the expressions, each condition goes on its own line below its expression."""
    rows = [(r[0], [c for cell in r[1:] for c in cell]) for r in _rows(n.children)]
    beside = width - SAFETY * (max((_width(cond, 1) for _, cond in rows), default=0.0) + 12.0 + QUAD_PT)
    stacked = beside < 0.5 * width
    room = width - SAFETY * 12.0 if stacked else beside
    out = []
    for expr, cond in rows:
        lines = pack(_chunks(expr, room), room, room - QUAD_PT)
        if stacked:
            cond_tex = _src([c for c in cond if c.src not in (r"\text{for}", r"\:")])
            one = f"{lines[0]}, \\quad {cond_tex}"
            if len(lines) == 1 and cond and tex_width(one) <= room:
                out.append(one)
                continue
            out += [lines[0]] + [rf"\quad {continued(x)}" for x in lines[1:]]
            out += [r"\quad " + cond_tex] if cond else []
            continue
        body = lines[0] if len(lines) == 1 else (r"\begin{aligned}[t] &" + r" \\ &\quad ".join(
            continued(line) for line in lines) + r"\end{aligned}")
        out.append(body + (" & " + _src(cond) if cond else ""))
    return r"\begin{cases} " + r" \\ ".join(out) + r" \end{cases}"


def _open(seg: list[_Node], k: int, width: float) -> list[str] | None:
    """Chunks of ``seg`` with its node ``k`` opened, or None if that node cannot be broken."""
    n, prefix, suffix = seg[k], _src(seg[:k]), _src(seg[k + 1:])
    if n.kind == "cmd" and n.name in _TEXT_CMDS:  # words of text: \text{a }, \text{b}
        words = [rf"\{n.name}{{{x}}}" for x in re.findall(r"\s*\S+\s*", "".join(x.src for x in n.args[0]))]
        return _wrap(prefix, "", words, "", suffix) if len(words) > 1 else None
    room = max(width - SAFETY * (_width(seg[:k] + seg[k + 1:]) + 15.0), 0.3 * width)  # beside the rest, fences
    if n.kind == "group":
        out = _chunks(seg[:k] + n.children + seg[k + 1:], width)
    elif n.kind == "env":
        return [f"{prefix} {_cases(n, width - SAFETY * _width(seg[:k] + seg[k + 1:]))} {suffix}".strip()]
    elif n.kind == "delim":
        if any(c.name == "middle" for c in n.children):
            return None
        big = _big(n.children)
        out = _wrap(prefix, big + n.open, _chunks(n.children, room), big[:-1] + "r" + n.close, suffix)
    elif SAFETY * _width(n.args[1]) > room:  # A / (B), both broken where they must
        num, den = n.args
        top = _chunks(num, room)
        top = _wrap(prefix, r"\Bigl(" if len(_segments(num)) > 1 else "", top, r"\Bigr)" if len(_segments(num)) > 1
                    else "", "")
        out = top[:-1] + _wrap(top[-1] + r" \Big/", r"\Bigl(", _chunks(den, room), r"\Bigr)", suffix)
    else:  # \frac{1}{B} (A)
        num, den = n.args
        out = _wrap(prefix, rf"\frac{{1}}{{{_src(den)}}} \Bigl(", _chunks(num, room), r"\Bigr)", suffix)
    return out if len(out) > 1 else None


def _expand(seg: list[_Node], width: float) -> list[str] | None:
    """Chunks of a segment too wide for ``width``: its widest group that can be broken opened, else None."""
    def openable(n: _Node) -> bool:
        return (n.kind in ("group", "delim") or (n.kind == "env" and n.name == "cases")
                or (n.kind == "cmd" and n.name in ("frac", "dfrac", "text")))

    for k in sorted((k for k, n in enumerate(seg) if openable(n)), key=lambda k: -_width([seg[k]])):
        out = _open(seg, k, width)
        if out is not None:
            return out
    return None


def _chunks(nodes: list[_Node], width: float) -> list[str]:
    """Pieces of the formula between which a line may break, each opened until it fits (where it can)."""
    out: list[str] = []
    for seg in _segments(nodes):
        fits = SAFETY * _width(seg) <= width
        out.extend([_src(seg)] if fits else (_expand(seg, width) or [_src(seg)]))
    return out


def continued(line: str) -> str:
    """A continuation line: a leading + or - stays binary."""
    return "{} " + line if line[:1] in "+-" else line


def pack(chunks: list[str], first: float, rest: float) -> list[str]:
    """Greedy lines of ``chunks``: the first at most ``first`` pt wide, the others ``rest`` pt."""
    lines: list[str] = []
    for c in chunks:
        room = first if len(lines) <= 1 else rest
        if lines and tex_width(lines[-1] + " " + c) <= room:
            lines[-1] += " " + c
        else:
            lines.append(c)
    return lines


def break_tex(tex: str, first: float, rest: float | None = None) -> list[str]:
    """LaTeX math ``tex`` as lines: the first at most ``first`` pt wide, the others ``rest`` (default ``first``).

    Breaks before top-level + and - (and control spaces), after ';' and ','; a group too wide is opened
    (\\left..\\right pairs as \\Bigl..\\Bigr, \\frac{A}{B} as \\frac{1}{B}\\Bigl(A\\Bigr) or A \\Big/ \\Bigl(B\\Bigr),
    \\text between words, wide cases rows as aligned blocks).
    A line may stay wider than asked only where the formula has no break inside an atom.
    """
    rest = first if rest is None else rest
    return pack(_chunks(_math(tex), min(first, rest)), first, rest)


# ------------------------------------------------------------ LaTeX text
_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "<": r"\textless{}", ">": r"\textgreater{}",
                "|": r"\textbar{}"}
_TEX_UNICODE = {"η": r"$\eta$", "Ω": r"$\Omega$", "ω": r"$\omega$", "λ": r"$\lambda$", "σ": r"$\sigma$",
                "ε": r"$\varepsilon$", "≤": r"$\le$", "≥": r"$\ge$", "∞": r"$\infty$", "×": r"$\times$",
                "√": r"$\surd$", "✓": r"$\checkmark$", "✗": r"$\times$", "…": r"\ldots{}", "–": "--", "—": "---",
                "’": "'", "‘": "`", "“": "``", "”": "''", "·": r"$\cdot$", "→": r"$\to$", "±": r"$\pm$",
                "é": r"\'e", "è": r"\`e", "ö": r"\"o", "ü": r"\"u", "ä": r"\"a"}
_BREAK_AFTER = frozenset("*/=,;+-_")


def tex_escape(text: str, breakable: bool = False) -> str:
    """``text`` for LaTeX's text mode (one pass, so no replacement is escaped again); characters outside
    ASCII that pdflatex cannot set are written as LaTeX (or '?'). ``breakable``: a line may also break
    after * / = , ; + - _ (long formulas or names written as text)."""
    out = []
    for c in text:
        tex = _TEX_SPECIAL.get(c) or _TEX_UNICODE.get(c) or (c if c.isascii() and c.isprintable() else "?")
        if c == "-":
            tex = "-{}"  # no -- ligature
        out.append(tex + (r"\allowbreak{}" if breakable and c in _BREAK_AFTER else ""))
    return "".join(out)


def tex_text(text: str) -> str:
    """``text`` as \\text{...} inside math."""
    return r"\text{" + tex_escape(text) + "}"


def aligned_rows(label: str, tex: str, width: float) -> list[str]:
    """Rows of an aligned environment, ``label &= tex``, broken so that each fits ``width`` pt."""
    lead = tex_width(label)
    lines = break_tex(tex, width - lead - SAFETY * 13.4, width - lead - QUAD_PT)
    return [f"{label} &= {lines[0]}"] + [rf"&\quad {continued(line)}" for line in lines[1:]]


# ------------------------------------------------------------ LaTeX of a derivation
_PIECES = ((r"\hat\eta(w)", "eta_hat", "eta_hat"), (r"\Omega(w)", "omega", "omega"), (r"f(\eta)", "f_dual", "f_dual"),
           (r"p(w)", "drop_rate", "drop_rate"))
_SERIES_AT = {"0": (r"w \to 0^+", r"\eta \to 0^+"), "oo": (r"w \to \infty", r"\eta \to \infty")}
PREAMBLE = r"\usepackage{amsmath,amssymb}"
"""What a fragment of :func:`latex_report` needs in the preamble."""


def _tex(expr: sp.Basic) -> str:
    """LaTeX of ``expr`` with floats (numeric series coefficients) shown to 10 significant digits."""
    floats = {f: sp.Float(f, 10) for f in expr.atoms(sp.Float) if f._prec > 34}
    return sp.latex(expr.xreplace(floats) if floats else expr)


def _equation_rows(d: Derivation, width: float) -> list[str]:
    """Each piece as aligned rows: its closed form, else 'no closed form' and its series at 0+ and infinity."""
    rows: list[str] = []
    for label, piece, attr in _PIECES:
        expr = getattr(d, attr)
        if expr is not None:
            rows += aligned_rows(label, _tex(expr), width)
            continue
        prov = d.provenance.get(piece)
        how = "numeric only" if d.can_evaluate(piece) else "not derived"
        rows += aligned_rows(label, tex_text(f"no closed form ({prov.method if prov else how})"), width)
        for at, (w_to, eta_to) in _SERIES_AT.items():
            ser = d.series.get(f"{piece}@{at}")
            if ser is not None:
                where = eta_to if piece == "f_dual" else w_to
                sim = break_tex(_tex(ser) + r" \quad (" + where + ")", width - tex_width(label) - 16.0)
                rows += [rf"&\sim {sim[0]}"] + [rf"&\quad {continued(line)}" for line in sim[1:]]
    return rows


def latex_summary(d: Derivation, width: float = COLUMN_PT) -> str:
    """One display (Jupyter's ``_repr_latex_``): the pieces as aligned equations, broken to ``width`` pt,
    then one row per verdict."""
    rows = _equation_rows(d, width)
    rows += [rf"\text{{{n}}} &: \text{{{d.properties[n].status}}}" for n in NAMES if n in d.properties]
    return "$$\\begin{aligned}" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"


def latex_report(d: Derivation, width: float = COLUMN_PT) -> str:
    """``symdual derive --latex``: the pieces as one aligned display (lines broken to fit ``width`` pt, a
    column of a two-column article by default), then the verdicts and the provenance as lists.
    Needs :data:`PREAMBLE` (amsmath, amssymb)."""
    out = ["$$\\begin{aligned}" + " \\\\\n".join(_equation_rows(d, width)) + "\n\\end{aligned}$$",
           r"\begin{itemize}\raggedright"]
    for n in NAMES:
        v = d.properties.get(n)
        if v is not None:
            by = f" ({v.by})" if getattr(v, "by", None) else ""
            out.append(rf"\item \textbf{{{tex_escape(n)}}}: {tex_escape(MARK[v.status])}{tex_escape(by)}"
                       rf" --- {tex_escape(v.detail, breakable=True)}")
    out += [r"\end{itemize}", r"Provenance:", r"\begin{itemize}\raggedright"]
    for piece, prov in d.provenance.items():
        precision = tex_escape(prov.precision, breakable=True)
        out.append(rf"\item {tex_escape(piece)}: {tex_escape(prov.method)}; {precision}")
    out.append(r"\end{itemize}")
    return "\n".join(out)


def latex_document(body: str, twocolumn: bool = True, packages: str = r"\usepackage{amsmath,amssymb,booktabs,array}") \
        -> str:
    """A standalone article (10 pt, the installation's default paper; two columns by default) around a fragment."""
    options = "[twocolumn]" if twocolumn else ""
    return (f"\\documentclass{options}{{article}}\n{packages}\n\\begin{{document}}\n"
            f"{body}\n\\end{{document}}\n")


def vector_summary(v: VectorPenalty) -> str:
    """The terminal summary of a non-separable penalty."""
    lines = [f"symdual non-separable penalty: {v.title}", "",
             f"rule:       {v.rule_text}", f"eta_hat:    {v.eta_hat_text}",
             f"f(eta):     {v.f_text}", f"Omega(w):   {v.omega_text}"]
    lines += [f"{key}: {text}" for key, text in v.series.items()]
    lines += [f"    [{piece}: {prov}]" for piece, prov in v.provenance.items()]
    lines += ["", "properties:"]
    lines += [f"  {k:<13} {MARK[p.status]:<10} {p.detail}" for k, p in v.properties.items()]
    if v.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in v.notes]
    return "\n".join(lines)
