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


def test_no_module_but_the_retry_wait_and_clock_ones_sleeps() -> None:
    """One wait path: a poll loop anywhere else (e.g. a delete confirmation) goes through wait_for."""
    import re
    from pathlib import Path

    import haiku_finetune

    package = Path(haiku_finetune.__file__).parent
    allowed = {"_retry.py", "_wait.py", "_clock.py"}
    sleeping = re.compile(r"\btime\.sleep\b|\.sleep\(")
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if not (path.parent == package and path.name in allowed) and "local" not in path.relative_to(package).parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if sleeping.search(line.split("#", 1)[0])
    ]
    assert offenders == []


def test_deployment_delete_confirmation_polls_through_wait_for(monkeypatch: pytest.MonkeyPatch) -> None:
    import haiku_finetune.errors as haiku_finetune_errors
    from haiku_finetune import deployment

    calls: list[str] = []
    real = deployment.wait_for

    def spy(*args: object, **kwargs: object) -> PollState:
        calls.append(str(kwargs["what"]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deployment, "wait_for", spy)

    class _Transport:
        clock = FakeClock()

        def __init__(self) -> None:
            self.gets = 0

        def call(self, service: str, operation: str, **params: object) -> dict[str, object]:
            if operation == "GetProvisionedModelThroughput":
                self.gets += 1
                if self.gets > 2:
                    raise haiku_finetune_errors.ResourceNotFoundError(
                        "gone", operation=operation, code="ResourceNotFoundException"
                    )
                return {"status": "InService"}
            return {}

    transport = _Transport()
    dep = deployment.ProvisionedDeployment("arn:aws:bedrock:us-west-2:1:provisioned-model/x", transport=transport)  # type: ignore[arg-type]
    dep.delete()
    assert calls == ["deletion of provisioned throughput arn:aws:bedrock:us-west-2:1:provisioned-model/x"]
    assert transport.clock.sleeps == [5.0, 5.0]
