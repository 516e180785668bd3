"""The local machine's cluster capacity: at most N computes alive at once.

Every cluster a run starts takes a slot until it stops; a task whose cluster cannot get one
waits (PENDING, as a task does while its cluster starts on Databricks) until a slot frees up or
the run is cancelled or times out. Slots go in request order.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable

MAX_CLUSTERS_ENV = "LOCAL_DATABRICKS_MAX_CLUSTERS"
# Each compute (Sail plus the task's Python) keeps about one core busy while it works.
DEFAULT_MAX_CLUSTERS = 2


def default_max_clusters() -> int:
    text = os.environ.get(MAX_CLUSTERS_ENV)
    if text is None:
        return DEFAULT_MAX_CLUSTERS
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"{MAX_CLUSTERS_ENV}={text!r}: give a whole number of clusters, at least 1"
        )
    return int(text)


class ClusterPool:
    def __init__(self, max_clusters: int) -> None:
        if max_clusters < 1:
            raise ValueError(f"--max-clusters {max_clusters}: at least 1 cluster is needed")
        self.max_clusters = max_clusters
        self._changed = threading.Condition()
        self._tickets = itertools.count()
        self._queue: list[int] = []  # tickets of the waiting requests, oldest first
        self.alive = 0
        self.peak = 0

    def acquire(self, gave_up: Callable[[], bool], make_room: Callable[[], None]) -> bool:
        """Take a slot; False once `gave_up()` (checked while waiting). `make_room` is called
        while waiting: a run stops its own idle clusters there, so that a run never waits on
        itself."""
        with self._changed:
            ticket = next(self._tickets)
            self._queue.append(ticket)
            try:
                while not (self.alive < self.max_clusters and self._queue[0] == ticket):
                    if gave_up():
                        return False
                    self._changed.release()
                    try:
                        make_room()
                    finally:
                        self._changed.acquire()
                    self._changed.wait(0.2)
                self.alive += 1
                self.peak = max(self.peak, self.alive)
                return True
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self.alive -= 1
            self._changed.notify_all()
