"""Helper for the containment tests: a bounded() call whose child prints its pid, then sleeps 60 s.

Run as ``python hardening_sleeper.py``; it prints ``parent <pid>`` and the child prints ``child <pid>``.
Signals keep their default actions here, so a SIGTERM or SIGKILL ends the parent without any cleanup:
only the child's parent-death signal can take the child down.
"""
from __future__ import annotations

import os
import time

from symdual.bounded import bounded


def announce_and_sleep(seconds: float) -> str:
    """In the child: say who we are, then sleep."""
    print(f"child {os.getpid()}", flush=True)
    time.sleep(seconds)
    return "slept"


if __name__ == "__main__":
    print(f"parent {os.getpid()}", flush=True)
    print(bounded(announce_and_sleep, 60.0, timeout=120), flush=True)
