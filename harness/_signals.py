"""SIGTERM ends a gate run the way Ctrl-C does.

SIGTERM is what CI cancellation, ``timeout`` and Kubernetes send before SIGKILL. Python's
default for it is to die at once: no ``finally`` runs, so the MLflow run stayed RUNNING and the
console said nothing. Inside :func:`sigterm_as_interrupt` it raises :class:`Terminated`, a
``KeyboardInterrupt``, so it unwinds through exactly the code SIGINT does: the store commits
nothing more (each committed batch stays, resumable; no suite is marked complete), the MLflow
run is ended KILLED, and the CLI or pytest session exits 3 (no verdict).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM; unwinds like Ctrl-C."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM while the body runs (the previous handler after).

    Only the first SIGTERM raises: later ones, while the first unwinds (ending the MLflow run,
    closing the store), are ignored so the cleanup finishes; SIGKILL still ends a stuck run.
    Off the main thread (signal handlers can only be set there) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        raise Terminated(f"terminated by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
