"""A small on-disk cache of derived results (JSON), invalidated when the code or the inputs change.

    key = sha256(source of every symdual/*.py file, library versions, *parts)
    file = cache_dir()/<namespace>/<key>.json

The cache lives in ``$SYMDUAL_CACHE_DIR`` if set, else in platformdirs' ``user_cache_dir("symdual")``
(``~/.cache/symdual`` on Linux). Values are JSON (never pickle), written atomically (a temporary
file in the same folder, then ``os.replace``). The files are not trusted: only a regular file
(no symlink, FIFO or device) of at most ``MAX_BYTES``, strict UTF-8 JSON nested at most
``MAX_DEPTH`` deep, without NaN or infinities, written for the same key and accepted by the
caller's validator is a hit; anything else is a miss, reported once per file and process as a
warning of the ``symdual.cache`` logger (one line on stderr when logging is not configured).
A cache folder that cannot be created is not used: :func:`prepare` says why.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import platform
import re
import stat
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV = "SYMDUAL_CACHE_DIR"
SCHEMA = 1
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
LOG = logging.getLogger("symdual.cache")

_NAMESPACE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OWN_FILE = re.compile(r"[A-Za-z0-9_-]{1,64}\.json|\.tmp-[A-Za-z0-9_]{1,64}\.json")
_reported: set[str] = set()

Validator = Callable[[Any], "str | None"]


class BadEntry(ValueError):
    """A cache file that is not a valid entry (the message says why)."""


# ------------------------------------------------------------ location
def _default_dir() -> Path:
    try:
        from platformdirs import user_cache_dir
    except ModuleNotFoundError:  # pragma: no cover - platformdirs is a dependency
        return Path(os.path.expanduser("~")) / ".cache" / "symdual"
    return Path(user_cache_dir("symdual", appauthor=False))


def cache_dir() -> Path:
    """``$SYMDUAL_CACHE_DIR`` (``~`` expanded, relative to the current folder if relative), else
    ``user_cache_dir("symdual")``; not checked, see :func:`problem`."""
    custom = os.environ.get(ENV)
    where = Path(os.path.expanduser(custom)) if custom else _default_dir()
    return where if where.is_absolute() or str(where).startswith("~") else where.absolute()


def problem() -> str | None:
    """Why the configured location cannot hold a cache (a ``~user`` that does not expand), else None."""
    custom = os.environ.get(ENV)
    if str(cache_dir()).startswith("~"):
        return f"{ENV}={custom!r} names an unknown user" if custom else "no home folder for the user cache folder"
    return None


def prepare() -> str | None:
    """Create the cache folder if needed; None when it is usable, else one line saying why not."""
    reason = problem()
    if reason is not None:
        return reason
    root = cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not root.is_dir():
            return f"{root} is not a folder"
    except OSError as exc:
        return f"cannot create {root}: {exc.strerror or exc}"
    if not os.access(root, os.W_OK | os.X_OK):
        return f"{root} is not writable"
    return None


# ---------------------------------------------------------------- keys
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


def _folder(namespace: str) -> Path:
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"bad cache namespace {namespace!r}")
    return cache_dir() / namespace


def _path(namespace: str, k: str) -> Path:
    if not _KEY.fullmatch(k):
        raise ValueError(f"bad cache key {k!r}")
    return _folder(namespace) / f"{k}.json"


def _report(path: Path, reason: str) -> None:
    """One warning per file and process (the path quoted by repr: no control characters reach the terminal)."""
    if str(path) not in _reported:
        _reported.add(str(path))
        LOG.warning("symdual: cache: ignoring %r: %s", str(path), reason)


# ------------------------------------------------------------- reading
def _open_flags() -> int:
    return os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it and its namespace folder are no symlinks and it is a regular file
    of at most MAX_BYTES (FileNotFoundError if absent, BadEntry otherwise)."""
    if path.parent.is_symlink():
        raise BadEntry("its folder is a symlink")
    if path.is_symlink():
        raise BadEntry("a symlink")
    try:
        fd = os.open(path, _open_flags())  # O_NOFOLLOW: ELOOP on a symlink; O_NONBLOCK: a FIFO does not block
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BadEntry(f"cannot open: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadEntry("not a regular file")
        if st.st_size > MAX_BYTES:
            raise BadEntry(f"{st.st_size} bytes, over the {MAX_BYTES}-byte cap")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise BadEntry(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise BadEntry(f"over the {MAX_BYTES}-byte cap")
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise BadEntry(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    """A JSON number as a float, rejecting overflow to infinity (1e999)."""
    value = float(text)
    if not math.isfinite(value):
        raise BadEntry(f"non-finite number {text[:20]}")
    return value


def _check_depth(value: Any) -> None:
    """BadEntry if lists/objects nest deeper than MAX_DEPTH (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    raise BadEntry(f"JSON nested deeper than {MAX_DEPTH}")
                stack.append((child, depth + 1))


def parse(data: bytes) -> Any:
    """Strict JSON: UTF-8, at most MAX_DEPTH deep, only finite numbers (BadEntry otherwise)."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadEntry("JSON nested too deeply") from None
    except BadEntry:
        raise
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadEntry(f"not JSON ({(str(exc).splitlines() or [''])[0][:80]})") from None
    _check_depth(value)
    return value


def load(namespace: str, k: str, validate: Validator | None = None) -> Any | None:
    """The value stored under (namespace, key), or None: missing, unreadable, not a regular file,
    corrupt, written for another key, or rejected by ``validate`` (which returns a reason or None)."""
    if problem() is not None:
        return None
    path = _path(namespace, k)
    try:
        data = parse(_read_regular(path))
        if not isinstance(data, dict) or set(data) != {"schema", "key", "value"}:
            raise BadEntry("not a cache entry")
        if data["schema"] != SCHEMA or data["key"] != k:
            raise BadEntry("written for another schema or key")
        reason = validate(data["value"]) if validate is not None else None
        if reason is not None:
            raise BadEntry(reason)
    except FileNotFoundError:
        return None
    except (BadEntry, OSError) as exc:
        _report(path, str(exc) or type(exc).__name__)
        return None
    return data["value"]


# ------------------------------------------------------------- writing
def store(namespace: str, k: str, value: Any) -> Path | None:
    """Write ``value`` (JSON-serialisable) atomically; None if the cache is not writable."""
    path = _path(namespace, k)
    text = json.dumps({"schema": SCHEMA, "key": k, "value": value}, allow_nan=False)  # TypeError/ValueError if not JSON
    if problem() is not None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent.is_symlink():
            raise OSError(f"{path.parent} is a symlink")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        _report(path.parent, f"cannot write: {exc.strerror or exc}")
        return None
    return path


# ------------------------------------------------- inspecting, clearing
def _own_files(folder: Path) -> list[Path]:
    """symdual's files in a namespace folder (entries and left-over temporary files), never following links."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    try:
        return sorted(p for p in folder.iterdir() if _OWN_FILE.fullmatch(p.name) and not p.is_dir())
    except OSError:
        return []


def namespaces() -> list[str]:
    """The namespace folders present in the cache (no symlinks)."""
    root = cache_dir()
    if problem() is not None or not root.is_dir():
        return []
    try:
        return sorted(p.name for p in root.iterdir()
                      if _NAMESPACE.fullmatch(p.name) and p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def info() -> dict[str, Any]:
    """{"location", "problem", "namespaces": {name: {"entries", "bytes", "other"}}}: entries are regular
    ``<key>.json`` files; "other" counts files of that name that are not (symlinks, FIFOs: misses)."""
    out: dict[str, Any] = {"location": cache_dir(), "problem": problem(), "namespaces": {}}
    for ns in namespaces():
        sizes, other = [], 0
        for path in _own_files(cache_dir() / ns):
            if path.name.startswith("."):
                continue
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                sizes.append(st.st_size)
            else:
                other += 1
        out["namespaces"][ns] = {"entries": len(sizes), "bytes": sum(sizes), "other": other}
    return out


def remove(namespace: str | None = None) -> list[Path]:
    """Delete symdual's own files of one namespace (all when None) and then its folder if empty;
    returns the paths removed. Symlinks are removed, never followed; other files are left alone."""
    removed = []
    for ns in [namespace] if namespace is not None else namespaces():
        folder = _folder(ns)
        for path in _own_files(folder):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
    return removed


def clear(namespace: str) -> int:
    """Remove every entry of a namespace; returns how many files were removed."""
    return len(remove(namespace))
