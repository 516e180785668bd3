"""What every server the local stack starts shares: it dies with the process that started it."""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl(2)


def stop_with_parent() -> None:
    """Run in the child before exec (a `preexec_fn`): on Linux it gets SIGTERM when its parent
    dies, so a killed test run or launcher (SIGKILL, a timeout) leaves no server behind."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
