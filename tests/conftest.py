"""Shared fixtures: the catalog's records (derived once per session) and the oracles' folder on the path.

The tests never touch the user's cache: unless SYMDUAL_CACHE_DIR is set, it points to a fresh temporary folder,
removed at exit.
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import oracles` from any test folder

if "SYMDUAL_CACHE_DIR" not in os.environ:
    os.environ["SYMDUAL_CACHE_DIR"] = tempfile.mkdtemp(prefix="symdual-tests-")
    atexit.register(shutil.rmtree, os.environ["SYMDUAL_CACHE_DIR"], True)


@functools.cache
def _catalog_record(name: str, params: tuple = ()):
    import symdual as sd

    return sd.catalog.get(name, **dict(params))


@pytest.fixture(scope="session")
def catalog_record():
    """``catalog_record(name, **params)``: the catalog's derivation, cached for the session."""
    return lambda name, **params: _catalog_record(name, tuple(sorted(params.items())))
