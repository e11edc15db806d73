"""A small on-disk cache of derived results (JSON), invalidated when the code or the inputs change.

    key = sha256(source of every symdual/*.py file, library versions, *parts)
    file = cache_dir()/<namespace>/<key>.json

The cache lives in ``$SYMDUAL_CACHE_DIR`` if set, else ``~/.cache/symdual``.
Values are JSON (never pickle), written atomically; a missing, unreadable or
corrupt file, or one written for another key, counts as a miss.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV = "SYMDUAL_CACHE_DIR"
SCHEMA = 1


def cache_dir() -> Path:
    """``$SYMDUAL_CACHE_DIR``, else ``~/.cache/symdual``."""
    custom = os.environ.get(ENV)
    return Path(custom).expanduser() if custom else Path.home() / ".cache" / "symdual"


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """Hash of the package's source files and of the versions of the libraries it calls."""
    import mpmath
    import numpy
    import sympy

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    for version in (platform.python_version(), sympy.__version__, numpy.__version__, mpmath.__version__):
        h.update(version.encode())
    return h.hexdigest()


def key(*parts: Any) -> str:
    """A key for ``parts`` (their ``repr``) under the current code fingerprint."""
    h = hashlib.sha256(fingerprint().encode())
    for part in parts:
        h.update(b"\0")
        h.update(repr(part).encode())
    return h.hexdigest()[:32]


def _path(namespace: str, k: str) -> Path:
    return cache_dir() / namespace / f"{k}.json"


def load(namespace: str, k: str) -> Any | None:
    """The value stored under (namespace, key), or None (missing or corrupt: ignored)."""
    try:
        with open(_path(namespace, k), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("key") != k or "value" not in data:
        return None
    return data["value"]


def store(namespace: str, k: str, value: Any) -> Path | None:
    """Write ``value`` (JSON-serialisable) atomically; None if the cache is not writable."""
    path = _path(namespace, k)
    text = json.dumps({"schema": SCHEMA, "key": k, "value": value})  # TypeError if not JSON-serialisable
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError:
            os.unlink(tmp)
            raise
    except OSError:
        return None
    return path


def clear(namespace: str) -> int:
    """Remove every entry of a namespace; returns how many files were removed."""
    n = 0
    folder = cache_dir() / namespace
    if folder.is_dir():
        for path in folder.glob("*.json"):
            try:
                path.unlink()
                n += 1
            except OSError:
                pass
    return n
