"""The server's child processes (task processes, computes), recorded so that none outlives it.

Each child starts in a process group of its own and is recorded in STATE_DIR/processes.json with
its start time and its owner's (the server that started it). A server killed with SIGKILL cannot
stop its children; the next server on that state dir ends every recorded group whose owner is
gone, checking the start time first so that a pid the system has since reused is never hit.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local_databricks.store import read_json, write_json

TERM_GRACE_SECONDS = 15.0


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc); None once it has
    exited (a zombie included) or where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (children, their children...), from Linux /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int, started: int | None) -> bool:
    return started is not None and start_time(pid) == started


class ProcessLedger:
    """STATE_DIR/processes.json: {pid: {what, started, owner, owner_started}}, shared by every
    process that uses the state dir (a file lock orders their updates)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @contextmanager
    def _entries(self):
        with open(self._path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries: dict[str, dict[str, Any]] = read_json(self._path, {})
            before = dict(entries)
            yield entries
            if entries != before:
                write_json(self._path, entries)

    def record(self, pid: int, what: str) -> None:
        owner = os.getpid()
        entry = {"what": what, "started": start_time(pid), "owner": owner,
                 "owner_started": start_time(owner)}  # fmt: skip
        with self._entries() as entries:
            entries[str(pid)] = entry

    def forget(self, pid: int) -> None:
        with self._entries() as entries:
            entries.pop(str(pid), None)

    def end_orphans(self) -> list[str]:
        """End the process groups whose recording server is gone; what was ended."""
        with self._entries() as entries:
            orphans = {
                int(pid): entry
                for pid, entry in entries.items()
                if not _alive(entry["owner"], entry["owner_started"])
            }
            for pid in orphans:
                del entries[str(pid)]
        running = {pid: e for pid, e in orphans.items() if _alive(pid, e["started"])}
        _signal_groups(running, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE_SECONDS
        while time.monotonic() < deadline and any(
            _alive(pid, e["started"]) for pid, e in running.items()
        ):
            time.sleep(0.1)
        _signal_groups({p: e for p, e in running.items() if _alive(p, e["started"])},
                       signal.SIGKILL)  # fmt: skip
        return [f"{entry['what']} (pid {pid})" for pid, entry in running.items()]


def _signal_groups(processes: dict[int, dict[str, Any]], signum: int) -> None:
    """Each recorded child leads its own process group: signal the whole group."""
    for pid in processes:
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            pass
