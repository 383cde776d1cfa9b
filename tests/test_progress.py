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


def test_progress_and_notes_go_through_the_package_logger(caplog):
    """The library never prints: progress lines are records of logging.getLogger("repalign"),
    one clock (the record's), levels from the CLI's --quiet / --verbose."""
    import logging

    from repalign import _log
    from repalign.cli import main

    logger = logging.getLogger("repalign")
    logger.addHandler(caplog.handler)
    try:
        _progress.set_mode("lines")
        with _progress.step("a step"):
            pass
        assert [r.getMessage() for r in caplog.records if r.name == "repalign"] == ["a step"]
        line = _log._ClockFormatter().format(caplog.records[0])
        assert line.startswith("[") and line.endswith(" s] a step")
        _log.set_level("quiet")
        _log.info("hidden")
        _log.warning("shown")
        assert [r.getMessage() for r in caplog.records][-1] == "shown"
        assert "hidden" not in [r.getMessage() for r in caplog.records]
        _log.set_level("verbose")
        _log.debug("detail")
        assert caplog.records[-1].getMessage() == "detail"
        with __import__("pytest").raises(ValueError, match="level: expected one of"):
            _log.set_level("loud")
    finally:
        _progress.set_mode("auto")
        logger.removeHandler(caplog.handler)
        _log.set_level("normal")
    assert main(["list", "solvers", "--quiet", "--verbose"]) == 2
