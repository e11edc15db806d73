"""Checks of the theorems of both papers (``symdual verify``)."""
from .check import Check

__all__ = ["Check"]
