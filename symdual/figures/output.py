"""How figures are written: PNG (300 dpi), PDF and SVG, atomically; the output folder and CSV writer of
:mod:`symdual.output`, re-exported."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..output import FOLDER_NAME, default_folder, number_text, output_folder, write_csv

__all__ = ["FOLDER_NAME", "IMAGE_SUFFIXES", "default_folder", "image_path", "number_text", "output_folder",
           "require_matplotlib", "save_image", "write_csv"]

IMAGE_SUFFIXES = (".pdf", ".png", ".svg")
"""The image formats :func:`save_image` writes (from the file name's suffix)."""


def require_matplotlib() -> None:
    """Import matplotlib now, so that a missing one fails before any work (ModuleNotFoundError)."""
    import matplotlib  # noqa: F401


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
