"""Progress lines: cadence, rates and ETA on an injected clock."""

from __future__ import annotations

import logging

import pytest

from rlvr_boundary.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_at_the_cadence_with_rates_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = Progress(100, every_s=30, unit="samples", name="shard", tokens=True, clock=clock)
    with caplog.at_level(logging.INFO):
        clock.now += 10
        progress.advance(10, tokens=5000)
        assert caplog.messages == []  # not yet 30 s
        clock.now += 20
        progress.advance(15, tokens=2500)
        clock.now += 5
        progress.tick()
        clock.now += 25
        progress.tick()
    # 25 samples and 7500 tokens in 30 s: 0.83/s, 250 tokens/s, 75 left at 1.2 s each = 90 s
    assert caplog.messages == [
        "shard: 25/100 samples (25.0%), 0.83 samples/s, 250 tokens/s, ETA 1:30",
        "shard: 25/100 samples (25.0%), 0.42 samples/s, 125 tokens/s, ETA 3:00",
    ]


def test_summary_and_unknown_eta(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = Progress(2, every_s=1, unit="programs", clock=clock)
    with caplog.at_level(logging.INFO):
        clock.now += 2
        progress.tick()
        clock.now += 3600 * 2 + 61
        progress.advance(2)
        progress.finish()
    assert caplog.messages[0] == "0/2 programs (0.0%), 0.00 programs/s, ETA unknown"
    assert caplog.messages[-1] == "2/2 programs (100.0%), 0.00 programs/s, ETA 0:00; finished in 2:01:03"
