"""Checks of the theorems of both papers (``symdual verify``)."""
from .check import Check, NotChecked, NotConverged

__all__ = ["Check", "NotChecked", "NotConverged"]
