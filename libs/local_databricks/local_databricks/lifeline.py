"""Ending a process when its parent dies, so that no emulator, task or compute outlives the
process that started it.

A watchdog thread notices the parent's pid change (the process was re-parented) within half a
second. The server also asks Linux for a signal on its parent's death (PR_SET_PDEATHSIG): that
is immediate, but Linux sends it when the parent *thread* that started the process ends, so only
a process started from a thread that lives as long as the parent may use it. The server's own
children start from run threads, so they rely on the watchdog alone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5


def exit_with_parent(on_parent_death: Callable[[], None], death_signal: bool = False) -> None:
    """Call `on_parent_death` (in a watchdog thread) once the parent process is gone;
    `death_signal` also has Linux send SIGTERM at that moment."""
    parent = os.getppid()
    if death_signal and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        on_parent_death()

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()

