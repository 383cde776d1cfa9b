"""repalign._progress off a terminal: one line per step, flushed, and a line at least every
HEARTBEAT_S seconds on long steps (a batch log was silent for 90-172 s)."""

from __future__ import annotations

import time

from repalign import _progress


def test_long_steps_write_a_line_at_least_every_heartbeat(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "HEARTBEAT_S", 0.2)
    _progress.set_mode("lines")
    try:
        for _ in _progress.track(range(3), "slow blocks", unit="block"):
            time.sleep(0.35)  # each item longer than the heartbeat
        with _progress.step("one long step"):
            time.sleep(0.5)  # nothing moves: the heartbeat says it is still running
    finally:
        _progress.set_mode("auto")
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("slow blocks: 3 block")
    assert any("slow blocks: " in ln and "/3 block" in ln for ln in err[1:])
    assert any("one long step: still running" in ln for ln in err)
    assert any("one long step: done" in ln for ln in err)


def test_short_steps_stay_one_line(capsys):
    _progress.set_mode("lines")
    try:
        for _ in _progress.track(range(5), "quick", unit="it"):
            pass
    finally:
        _progress.set_mode("auto")
    assert len(capsys.readouterr().err.splitlines()) == 1
