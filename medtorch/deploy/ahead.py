"""Run a generator one step ahead in a thread, so reading and checking overlap with inference.

``medtorch predict`` reads, checks and preprocesses chunk k+1 (pyarrow, pandas, numpy) while
the network computes chunk k (torch, which releases the GIL while it computes). At most
``depth`` items wait in the queue, so memory stays bounded by a few chunks. An exception in
the producer is raised in the consumer at the item where it happened; when the consumer
stops early, the producer is stopped and its generator closed.

Written by hand: ``concurrent.futures`` maps over a known list of inputs; here the items come
from a stream whose length is unknown, and must arrive in order with back-pressure.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                q.put((True, item))
                if stop.is_set():
                    return
            q.put((True, _DONE))
        except BaseException as e:  # handed to the consumer, raised there
            q.put((False, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="medtorch-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting to put
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
