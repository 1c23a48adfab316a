"""The shared polling loop: gentle intervals, timeouts that leave the resource alone, Ctrl-C."""

from __future__ import annotations

import pytest

from haiku_finetune import WaitTimeoutError
from haiku_finetune._wait import PollInterval, PollState, wait_for
from tests.fakes import FakeClock


def test_returns_the_finished_state() -> None:
    clock = FakeClock()
    states = iter([PollState("InProgress"), PollState("InProgress"), PollState("Completed", finished=True)])
    result = wait_for(lambda: next(states), what="job j", clock=clock, timeout=None, progress=False)
    assert result.status == "Completed"
    assert clock.sleeps == [30.0, 37.5]


def test_fewer_than_150_polls_over_a_two_hour_job() -> None:
    clock = FakeClock(start=0)
    polls = 0

    def fetch() -> PollState:
        nonlocal polls
        polls += 1
        return PollState("InProgress", finished=clock.now >= 7200)

    wait_for(fetch, what="job j", clock=clock, timeout=None, progress=False)
    assert polls < 150
    assert max(clock.sleeps) == 120.0


def test_timeout_raises_and_does_not_overshoot() -> None:
    clock = FakeClock(start=0)
    with pytest.raises(WaitTimeoutError) as caught:
        wait_for(
            lambda: PollState("Creating"),
            what="deployment d",
            clock=clock,
            timeout=100,
            progress=False,
            reattach_hint="ProvisionedDeployment.attach('d').wait()",
        )
    assert caught.value.last_status == "Creating"
    assert caught.value.waited == pytest.approx(100)
    assert "keeps running" in str(caught.value) and "attach('d')" in str(caught.value)
    assert isinstance(caught.value, TimeoutError)


def test_ctrl_c_says_how_to_reattach(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()

    def fetch() -> PollState:
        if clock.sleeps:
            raise KeyboardInterrupt
        return PollState("InProgress", detail="Training")

    with pytest.raises(KeyboardInterrupt):
        wait_for(fetch, what="job j", clock=clock, timeout=None, progress=False, reattach_hint="attach('j')")
    err = capsys.readouterr().err
    assert "left running" in err and "attach('j')" in err and "InProgress" in err


def test_progress_bar_shows_status_and_stage(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    states = iter([PollState("InProgress", detail="Training"), PollState("Completed", finished=True)])
    wait_for(lambda: next(states), what="job j", clock=clock, timeout=None, progress=True)
    err = capsys.readouterr().err
    assert "job j" in err and "Completed" in err


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timeout"):
        wait_for(lambda: PollState("x"), what="w", clock=FakeClock(), timeout=-1, progress=False)
    with pytest.raises(ValueError, match="initial"):
        PollInterval(initial=0)
