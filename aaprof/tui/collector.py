"""Keep the cyclic garbage collector's full passes off the keys of a review.

A full pass walks every object not frozen: with a 5,000-suggestion review it took 10-25 ms,
and Python starts one on its own every so many allocations, so one key in ten or so took that
much longer. While the review runs, the session read before it is frozen (`gc.freeze`: it
lives as long as the review), the automatic full passes are off (the young generations are
still collected as usual), and the app runs one full pass once the keys have paused
(`idle`), so cyclic garbage is still freed. `stop` puts the collector back as it was.
"""

from __future__ import annotations

import gc
import time

QUIET = 0.5  # seconds without input before a full pass
NEVER = 1_000_000  # young-generation passes before an automatic full one: not in a review


class Collector:
    def __init__(self) -> None:
        self.saved: tuple[int, int, int] | None = None
        self.last_input = time.monotonic()
        self.pending = False  # input since the last full pass
        self.passes = 0  # full passes run at a pause

    def start(self) -> None:
        """Freeze what exists (the session) and stop the automatic full passes."""
        if self.saved is None:
            self.saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(self.saved[0], self.saved[1], NEVER)

    def stop(self) -> None:
        """The collector as it was before `start`; what the review held may go now."""
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None
            gc.unfreeze()

    def input(self) -> None:
        """A key or a mouse event came: the next pause will collect."""
        self.last_input = time.monotonic()
        self.pending = True

    def idle(self) -> bool:
        """Called every so often: one full pass once input has paused for `QUIET` seconds
        (and only after new input). True when it collected."""
        if not self.pending or time.monotonic() - self.last_input < QUIET:
            return False
        self.pending = False
        self.passes += 1
        gc.collect()
        return True
