"""Progress lines in batch jobs' logs: start, every interval with rate and time left, end."""

import io

from stationarity.progress import ProgressLog, duration


def test_lines_at_start_each_interval_and_end(monkeypatch):
    clock = iter([0.0, 10.0, 40.0, 50.0, 100.0]).__next__
    monkeypatch.setattr("stationarity.progress.time.monotonic", clock)
    monkeypatch.setenv("STATIONARITY_PROGRESS_S", "30")
    out = io.StringIO()
    log = ProgressLog("run/x", "training", total=1000, unit="steps", stream=out)  # t = 0
    log.update(100)  # t = 10: the first update, an early ETA
    log.update(400, "loss 1.2")  # t = 40: 400 steps in 40 s, 600 left at 10/s
    log.update(500)  # t = 50: too soon for a line
    log.finish()  # t = 100
    assert out.getvalue().splitlines() == [
        "run/x: training started: 0/1000 steps",
        "run/x: training 100/1000 steps, 10/s, ETA 0:01:30",
        "run/x: training 400/1000 steps, 10/s, ETA 0:01:00 loss 1.2",
        "run/x: training done: 500/1000 steps in 0:01:40",
    ]


def test_a_resumed_phase_rates_only_what_it_did(monkeypatch):
    clock = iter([0.0, 60.0]).__next__
    monkeypatch.setattr("stationarity.progress.time.monotonic", clock)
    monkeypatch.setenv("STATIONARITY_PROGRESS_S", "0")
    out = io.StringIO()
    log = ProgressLog("e", "sharpness", total=100, unit="HVPs", start=40, stream=out)
    log.update(70)
    assert out.getvalue().splitlines()[-1] == "e: sharpness 70/100 HVPs, 0.5/s, ETA 0:01:00"
    assert duration(3725) == "1:02:05"
