"""Run a producer (reading and validating batches) on a thread of its own, a bounded number of items
ahead of the consumer (storing them).

Back-pressure: when `depth` items wait, the producer blocks, so memory stays bounded by
`depth + 2` batches whatever the speed of either side. An exception in the producer is raised in
the consumer at the point where its item would have been; a consumer that stops early (an error
while storing) stops the producer. Arrow, numpy and chDB release the GIL in their heavy parts,
so the two threads really run side by side.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")
_POLL_SECONDS = 0.1  # how often a blocked producer checks whether the consumer has gone


class _End:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Producer(Generic[T]):
    def __init__(self, items: Iterator[T], depth: int) -> None:
        self.items = items
        self.queue: queue.Queue[T | _End | _Failed] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ingest-read", daemon=True)

    def _put(self, item: T | _End | _Failed) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self.items:
                if not self._put(item):
                    return
            self._put(_End())
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(self.items, "close", None)
            if close is not None:
                close()  # a generator's open file is closed here, on the thread that ran it

    def consume(self) -> Iterator[T]:
        while True:
            item = self.queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item


@contextmanager
def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[Iterator[T]]:
    """`with read_ahead(batches) as ahead: for b in ahead: ...` — `batches` runs on its own thread."""
    producer = _Producer(items, depth)
    producer.thread.start()
    try:
        yield producer.consume()
    finally:
        producer.stop.set()
        producer.thread.join()
