"""Errors a user can cause; each message is one line naming what is wrong."""
from __future__ import annotations


class InputError(ValueError):
    """Bad input (rule, parameter, option); the CLI prints it and exits with code 2."""


class DivergentPenalty(InputError):
    """The rule's penalty is infinite at w = 0 (the integral of w/eta_hat diverges)."""


class NoClosedForm(Exception):
    """The CAS returned an unevaluated object; the caller falls back."""
