"""Shared fixtures: the catalog's records (derived once per session) and the oracles' folder on the path."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import oracles` from any test folder


@functools.cache
def _catalog_record(name: str, params: tuple = ()):
    import symdual as sd

    return sd.catalog.get(name, **dict(params))


@pytest.fixture(scope="session")
def catalog_record():
    """``catalog_record(name, **params)``: the catalog's derivation, cached for the session."""
    return lambda name, **params: _catalog_record(name, tuple(sorted(params.items())))
