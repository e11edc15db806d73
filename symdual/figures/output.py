"""Where figures go and how their files are written: the output folder (checked before any work), CSV data,
PNG (300 dpi) and PDF."""
from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError

FOLDER_NAME = "figures"
"""The default output is this folder in symdual's cache folder (see :func:`default_folder`)."""
IMAGE_SUFFIXES = (".pdf", ".png", ".svg")
"""The image formats :func:`save_image` writes (from the file name's suffix)."""


def require_matplotlib() -> None:
    """Import matplotlib now, so that a missing one fails before any work (ModuleNotFoundError)."""
    import matplotlib  # noqa: F401


def default_folder() -> Path:
    """``<cache folder>/figures``: ``$SYMDUAL_CACHE_DIR`` if set, else the user cache folder of platformdirs
    (``~/.cache/symdual/figures`` on Linux); never a folder in the current directory."""
    from .. import cache

    reason = cache.problem()
    if reason is not None:
        raise InputError(f"no default output folder ({reason}): give --out DIR")
    return cache.cache_dir() / FOLDER_NAME


def output_folder(folder: str | os.PathLike | None, names: Iterable[str] = ()) -> Path:
    """The folder ``folder`` (None: :func:`default_folder`), created if needed and checked before any work:
    it names a folder, is writable, and none of ``names`` in it is a folder; else InputError with one line."""
    if folder is None:
        out, shown = default_folder(), str(default_folder())
    else:
        shown = os.fspath(folder)
        if not shown.strip():
            raise InputError(f"--out must name a folder (got {shown!r})")
        out = Path(shown).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {shown!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {shown!r}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"--out {shown!r}: the folder is not writable")
    for name in names:
        if (out / name).is_dir():
            raise InputError(f"--out {shown!r}: {name} there is a folder")
    return out


def image_path(path: str | os.PathLike) -> Path:
    """``path`` checked before any work: a .pdf, .png or .svg file name whose folder exists and is writable,
    absent or a regular file (a folder, link, device or pipe is refused); else InputError with one line."""
    shown = os.fspath(path)
    if not shown.strip():
        raise InputError("-o must name a file (got '')")
    out = Path(shown).expanduser()
    if out.is_dir():
        raise InputError(f"-o {shown!r} is a folder")
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"-o {shown!r}: the file name must end in {', '.join(IMAGE_SUFFIXES)}")
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise InputError(f"-o {shown!r} exists and is not a regular file")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"-o {shown!r}: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"-o {shown!r}: the folder {str(parent)!r} is not writable")
    return out


def number_text(x: Any) -> str:
    """A float as CSV text that reads back to the same float64 (17 significant digits; inf, -inf, nan)."""
    return format(float(x), ".17g")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """A CSV file: ``header``, then one line per row (floats with 17 significant digits, other cells as text)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        for row in rows:
            out.writerow([cell if isinstance(cell, str) else number_text(cell) for cell in row])
    return path


def save_image(fig: Any, path: Path) -> Path:
    """``fig`` written to ``path`` in the format of its suffix (PNG at the style's DPI) at its own size (its
    constrained layout keeps the text inside), atomically (a temporary file in the same folder, then a rename);
    no creation date in the metadata, so reruns give the same PDF."""
    from .style import DPI, paper_style

    fmt = path.suffix.lower().lstrip(".")
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt, {})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh, paper_style():
            fig.savefig(fh, format=fmt, dpi=DPI, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
