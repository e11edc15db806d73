"""The papers' figure style: sizes, fonts, greyscale-safe series styles and a grouped legend.

Sizes are a two-column paper's: a column is COLUMN_WIDTH = 3.25 in wide, a full-width figure FULL_WIDTH = 6.75 in.
A figure is drawn at its printed size with fonts of at least MIN_FONT_PT = 7 pt, so it is legible placed in a
column as it is and larger placed full width. All text is math text (STIX fonts, the same face inside and outside
``$...$``). Each series differs from every other in line style and marker as well as colour, so curves stay
apart in greyscale; markers are spread along each line in display space, each series from its own offset.

Nothing here imports matplotlib at import time; the functions that draw import it.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

COLUMN_WIDTH = 3.25
"""Width of one column of a two-column paper, in inches."""
FULL_WIDTH = 6.75
"""Width of a full-width (two-column) figure, in inches."""
MIN_FONT_PT = 7.0
"""Smallest font size used, in points at the printed size."""
DPI = 300
"""Resolution of the PNG files."""

RC: dict[str, Any] = {
    "font.family": "STIXGeneral",
    "mathtext.fontset": "stix",
    "font.size": 8.0,
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "legend.frameon": False,
    "legend.handlelength": 2.8,
    "legend.columnspacing": 1.2,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.1,
    "lines.markersize": 3.2,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "axes.grid": True,
    "grid.linewidth": 0.3,
    "grid.color": "0.85",
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
}
"""matplotlib rc settings of every figure (applied within :func:`paper_style`)."""


@dataclass(frozen=True)
class LineStyle:
    """How one series is drawn: colour, dash pattern and marker (hollow markers have a white face)."""

    color: str
    linestyle: Any
    marker: str
    hollow: bool = False

    def kwargs(self, index: int = 0, markers: int = 7) -> dict[str, Any]:
        """Keyword arguments of ``Axes.plot``: about ``markers`` marks along the line, offset by ``index``."""
        spacing = 1.0 / markers
        out: dict[str, Any] = {"color": self.color, "linestyle": self.linestyle, "marker": self.marker,
                               "markevery": ((0.13 * index * spacing) % spacing, spacing)}
        if self.hollow:
            out["markerfacecolor"] = "white"
        return out


SERIES_STYLES: tuple[LineStyle, ...] = (
    LineStyle("#000000", "-", ""),                                 # black, solid
    LineStyle("#0072B2", (0, (5.0, 1.6)), "o", hollow=True),       # blue, dashed
    LineStyle("#D55E00", (0, (6.0, 1.5, 1.2, 1.5)), "s"),          # vermillion, dash-dot
    LineStyle("#009E73", (0, (1.2, 1.2)), "^"),                    # green, dotted
    LineStyle("#CC79A7", (0, (7.0, 1.5, 1.2, 1.5, 1.2, 1.5)), "D", hollow=True),  # purple, dash-dot-dot
    LineStyle("#5F5F5F", (0, (2.8, 1.4)), "v"),                    # dark grey, short dashes
    LineStyle("#56B4E9", (0, (9.0, 2.0)), "x"),                    # sky blue, long dashes
    LineStyle("#E69F00", (0, (3.0, 1.0, 1.0, 1.0)), "P"),          # orange, dense dash-dot
    LineStyle("#882255", (0, (4.0, 1.0, 1.0, 1.0, 1.0, 1.0)), "<", hollow=True),  # wine, dash-dot-dot dense
)
"""Okabe-Ito colours and a dark grey; every (line style, marker) pair is distinct: greyscale keeps the series apart."""


def series_style(index: int) -> LineStyle:
    """The style of series ``index`` (cycling after len(SERIES_STYLES))."""
    return SERIES_STYLES[index % len(SERIES_STYLES)]


@contextmanager
def paper_style() -> Iterator[None]:
    """Within the block, matplotlib draws with :data:`RC` (the backend and pyplot's state are left alone)."""
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure of ``width`` x ``height`` inches, constrained layout, outside pyplot (no backend
    switched, no global figure list); draw on it within :func:`paper_style`."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def math_label(text: str) -> str:
    r"""``text`` as math text: ``$...$`` kept if it parses, else the words set in \mathrm (spaces kept)."""
    from matplotlib.mathtext import MathTextParser

    if text.startswith("$") and text.endswith("$") and len(text) > 1:
        try:
            MathTextParser("path").parse(text)
            return text
        except ValueError:
            text = text.strip("$")
    safe = "".join(ch for ch in text if ch.isprintable())
    for ch in "\\{}$^_#%&~":
        safe = safe.replace(ch, " ")
    return r"$\mathrm{" + r"\ ".join(safe.split()) + "}$"


def _columns(groups: list[tuple[str, list[tuple[Any, str]]]], ncol: int) -> list[list[tuple[Any, str]]]:
    """The legend's columns: the groups in order, each headed by its bold title, ``ncol`` columns (consecutive
    groups share a column when there are fewer columns than groups), padded with blanks to the same length."""
    from matplotlib.lines import Line2D

    def blank() -> Any:
        return Line2D([], [], linestyle="none", marker="")

    blocks = [[(blank(), r"$\mathbf{" + title.replace(" ", r"\ ") + "}$"), *items] for title, items in groups]
    per = -(-len(blocks) // ncol)
    columns = [[entry for block in blocks[i:i + per] for entry in block] for i in range(0, len(blocks), per)]
    rows = max(len(c) for c in columns)
    return [c + [(blank(), "")] * (rows - len(c)) for c in columns]


def grouped_legend(fig: Any, groups: Sequence[tuple[str, Sequence[tuple[Any, str]]]], **kwargs: Any) -> Any:
    """One figure legend, each group headed by its bold title: ``groups`` = [(title, [(handle, label)])].

    A column per group when that fits the figure's width, else consecutive groups share columns (down to one);
    shorter columns are padded with empty entries (matplotlib fills a legend column by column).
    """
    from matplotlib.lines import Line2D

    groups = [(title, list(items)) for title, items in groups if items]
    width = fig.get_size_inches()[0] * fig.dpi
    for ncol in range(len(groups), 0, -1):
        columns = _columns(groups, ncol)
        legend = fig.legend([h for c in columns for h, _ in c], [lab for c in columns for _, lab in c],
                            ncol=len(columns), **kwargs)
        for handle in legend.legend_handles:  # headers and padding take no handle space
            if isinstance(handle, Line2D) and handle.get_linestyle() == "None" and not handle.get_marker():
                handle.set_visible(False)
        fig.draw_without_rendering()
        if ncol == 1 or legend.get_window_extent().width <= 0.98 * width:
            return legend
        legend.remove()
    raise AssertionError("unreachable")  # pragma: no cover - ncol == 1 returns


def drawn_texts(fig: Any) -> list[Any]:
    """The texts ``fig`` draws: tick labels of the ticks inside the view, and every other visible, non-empty text."""
    from matplotlib.text import Text

    ticks: set[int] = set()
    shown = []
    for ax in fig.axes:
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            slack = 1e-9 * abs(hi - lo)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ticks.update((id(tick.label1), id(tick.label2)))
                inside = min(lo, hi) - slack <= tick.get_loc() <= max(lo, hi) + slack
                shown += [label for label in (tick.label1, tick.label2)
                          if inside and label.get_visible() and label.get_text().strip()]
    return shown + [t for t in fig.findobj(Text) if id(t) not in ticks and t.get_visible() and t.get_text().strip()]


def layout_problems(fig: Any) -> list[str]:
    """What makes ``fig`` unfit for print at its size: a text under MIN_FONT_PT, a text reaching outside the
    figure (clipped), two texts overlapping; one line each, [] when none (draws the figure with Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer, page = canvas.get_renderer(), fig.bbox
    texts = [(t.get_text(), t.get_fontsize(), t.get_window_extent(renderer)) for t in drawn_texts(fig)]
    out = [f"{text!r} is {size:g} pt" for text, size, _ in texts if size < MIN_FONT_PT]
    out += [f"{text!r} reaches outside the figure" for text, _, box in texts
            if box.x0 < page.x0 - 0.5 or box.x1 > page.x1 + 0.5 or box.y0 < page.y0 - 0.5 or box.y1 > page.y1 + 0.5]
    out += [f"{a!r} overlaps {b!r}" for i, (a, _, box_a) in enumerate(texts) for b, _, box_b in texts[i + 1:]
            if box_a.overlaps(box_b)]
    return out
