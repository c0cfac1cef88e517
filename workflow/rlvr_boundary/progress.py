"""Progress lines for long jobs: done / total, rate, tokens/s and ETA, at a steady cadence.

A sampling or code-verification job runs for hours on a cluster node where nobody watches
a progress bar; its log file is what a user reads. So progress is a plain log line at least
every ``every_s`` seconds of work (checked whenever work is reported or ``tick`` is called)
plus a summary at the end, not a terminal bar. Stdlib only; the clock is injectable so
tests need not sleep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts finished units (samples) and, with ``tokens``, their tokens; logs a line every ``every_s``."""

    def __init__(
        self,
        total: int,
        *,
        every_s: float = 30.0,
        unit: str = "samples",
        name: str = "",
        tokens: bool = False,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.every_s, self.unit, self.name = total, every_s, unit, name
        self.log = logger or logging.getLogger(__name__)
        self.clock = clock
        self.done = 0
        self.tokens: int | None = 0 if tokens else None
        self.started = self.last_line = clock()

    def advance(self, n: int = 1, *, tokens: int | None = None) -> None:
        """Record ``n`` more finished units (and the tokens they generated)."""
        self.done += n
        if tokens is not None and self.tokens is not None:
            self.tokens += tokens
        self.tick()

    def tick(self) -> None:
        """Log a line if ``every_s`` has passed since the last one."""
        if self.clock() - self.last_line >= self.every_s:
            self.log.info("%s", self.line())
            self.last_line = self.clock()

    def line(self) -> str:
        """``name: done/total unit (pct), rate/s, tokens/s, ETA h:mm:ss``."""
        elapsed = max(self.clock() - self.started, 1e-9)
        parts = [f"{self.done}/{self.total} {self.unit}"]
        if self.total:
            parts[0] += f" ({self.done / self.total:.1%})"
        parts.append(f"{self.done / elapsed:.2f} {self.unit}/s")
        if self.tokens is not None:
            parts.append(f"{self.tokens / elapsed:,.0f} tokens/s")
        remaining = max(self.total - self.done, 0)
        parts.append(f"ETA {_duration(remaining * elapsed / self.done)}" if self.done else "ETA unknown")
        return f"{self.name}: " * bool(self.name) + ", ".join(parts)

    def finish(self) -> None:
        """The summary line: everything done, in how long, at what rate."""
        elapsed = self.clock() - self.started
        self.log.info("%s", f"{self.line()}; finished in {_duration(elapsed)}")
