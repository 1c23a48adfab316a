"""A second SIGTERM while a deployment is being cleaned up prints what may still bill and the exact delete command.

In-process (pytest runs tests in the main thread, where handlers can be installed) against LocalBedrock; the
signals are real, sent with ``os.kill`` to this process at a chosen point of the clean-up. The test installs its
own Python SIGTERM handler first, so the first signal is handed to it at the end instead of killing pytest.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from haiku_finetune import deployment as deployment_module
from haiku_finetune.deployment import ProvisionedDeployment
from haiku_finetune.errors import DeploymentError
from haiku_finetune.local import LocalBedrock
from tests.unit.test_guard_signals import emulator

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

__all__ = ["emulator"]  # a trained custom model on LocalBedrock in this process (a fixture), no PT


class _Handed(Exception):
    """Raised by the test's own SIGTERM handler when the library hands it the first signal."""


@pytest.fixture
def handed() -> Iterator[list[int]]:
    """A previous SIGTERM handler that records and raises `_Handed`; the old disposition comes back afterwards."""
    calls: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)
        raise _Handed

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield calls
    finally:
        signal.signal(signal.SIGTERM, old)


def _expected(target: str) -> str:
    return (
        f"Signal received again while cleaning up: provisioned throughput {target} may still be billed; the "
        f"clean-up goes on. If this process is killed, delete it with: aws bedrock "
        f"delete-provisioned-model-throughput --provisioned-model-id {target} --region us-west-2"
    )


def _signal_twice_inside_a_block(local: LocalBedrock, model: str, seen: list[str]) -> None:
    """Open a block, SIGTERM inside it, and SIGTERM again as its clean-up starts deleting; record the ARN."""
    with ProvisionedDeployment.create(model, name="second-block", transport=local.transport()) as dep:
        seen.append(dep.arn)
        delete = dep.delete

        def delete_signalled_again(**kwargs: Any) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # the second signal, while the clean-up runs
            delete(**kwargs)

        dep.delete = delete_signalled_again  # type: ignore[method-assign]
        os.kill(os.getpid(), signal.SIGTERM)  # the first: raises TerminationSignal here
        pytest.fail("the first SIGTERM did not interrupt the block")


def test_second_signal_inside_the_block_names_the_pt_and_the_command(
    emulator: tuple[LocalBedrock, str], handed: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    local, model = emulator
    seen: list[str] = []
    with pytest.raises(_Handed):
        _signal_twice_inside_a_block(local, model, seen)
    [arn] = seen
    err = capsys.readouterr().err
    assert _expected(arn) in err
    assert handed == [signal.SIGTERM]  # the first signal was handed on once, after the clean-up finished
    assert arn not in {d["provisionedModelArn"] for d in local.deployments()}  # the clean-up went on to the end


def test_second_signal_while_an_interrupted_create_is_undone_names_the_pt(
    emulator: tuple[LocalBedrock, str],
    handed: list[int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local, model = emulator
    buy, undo = deployment_module._buy_refusal_explained, deployment_module._undo_interrupted_create

    def buy_then_signal(*args: Any) -> str:
        arn = buy(*args)
        os.kill(os.getpid(), signal.SIGTERM)  # bought, but the answer never reaches the caller
        return arn  # pragma: no cover - the signal raised above

    def undo_signalled_again(*args: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        undo(*args)

    monkeypatch.setattr(deployment_module, "_buy_refusal_explained", buy_then_signal)
    monkeypatch.setattr(deployment_module, "_undo_interrupted_create", undo_signalled_again)
    with pytest.raises(_Handed):
        ProvisionedDeployment.create(model, name="second-create", transport=local.transport())
    err = capsys.readouterr().err
    # The ARN was never seen by the caller: the message names the PT by the name fixed before the call.
    assert _expected("second-create") in err
    assert handed == [signal.SIGTERM]
    assert "second-create" not in {d["provisionedModelName"] for d in local.deployments()}


def test_create_interrupted_by_a_signal_a_python_handler_lets_pass_raises_instead_of_returning_nothing(
    emulator: tuple[LocalBedrock, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    local, model = emulator
    buy = deployment_module._buy_refusal_explained

    def buy_then_signal(*args: Any) -> str:
        arn = buy(*args)
        os.kill(os.getpid(), signal.SIGTERM)
        return arn  # pragma: no cover - the signal raised above

    monkeypatch.setattr(deployment_module, "_buy_refusal_explained", buy_then_signal)
    taken: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: taken.append(signum))  # returns: the program goes on
    try:
        with pytest.raises(DeploymentError, match="second-passed was interrupted by a signal; what it bought was"):
            ProvisionedDeployment.create(model, name="second-passed", transport=local.transport())
    finally:
        signal.signal(signal.SIGTERM, old)
    assert taken == [signal.SIGTERM]
    assert "it was bought, so it is deleted now" in capsys.readouterr().err
    assert "second-passed" not in {d["provisionedModelName"] for d in local.deployments()}
