"""Where outputs go and how data files are written: the output folder (checked before any work; by default the
folder ``figures`` of symdual's cache folder, never the current directory) and CSV that reads back exactly."""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError

FOLDER_NAME = "figures"
"""The default output is this folder in symdual's cache folder (see :func:`default_folder`)."""


def default_folder() -> Path:
    """``<cache folder>/figures``: ``$SYMDUAL_CACHE_DIR`` if set, else the user cache folder of platformdirs
    (``~/.cache/symdual/figures`` on Linux); never a folder in the current directory."""
    from . import cache

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
