"""terminate_as_interrupt with real child processes and real signals: clean-up runs, the process ends as it would."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from haiku_finetune._signals import TerminationSignal, terminate_as_interrupt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

_TIMEOUT = 30

# The child: optional set-up of a previous handler, then a block whose clean-up prints what it did.
_CHILD = """
import os, signal, sys, time
from haiku_finetune._signals import terminate_as_interrupt
{setup}
seconds = []
def second(signum):
    seconds.append(signum)
    print("second", signum, flush=True)
with terminate_as_interrupt(on_second_signal=second):
    try:
        print("ready", os.getpid(), flush=True)  # inside the try: a signal right after it still reaches finally
        time.sleep(_WAIT)
    finally:
        print("cleanup", flush=True)
        {cleanup}
print("after", flush=True)
"""


def _run(
    signals: list[int],
    *,
    setup: str = "",
    cleanup: str = "pass",
    wait_for: tuple[str, ...] = ("ready",),
    env: dict[str, str] | None = None,
) -> tuple[int, list[str]]:
    """Start the child, send ``signals[i]`` once it printed ``wait_for[i]``; return (returncode, stdout lines)."""
    code = "_WAIT = 20\n" + _CHILD.format(setup=textwrap.dedent(setup), cleanup=cleanup)
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for signum, marker in zip(signals, wait_for, strict=True):
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith(marker):
                    break
            process.send_signal(signum)
        out, _ = process.communicate(timeout=_TIMEOUT)
        lines.extend(out.splitlines())
        return process.returncode, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_default_disposition_cleans_up_then_dies_of_the_signal(signum: int) -> None:
    returncode, lines = _run([signum])
    assert "cleanup" in lines
    assert "after" not in lines
    assert returncode == -signum


def test_a_shell_sees_128_plus_signal() -> None:
    code = "_WAIT = 20\n" + _CHILD.format(setup="", cleanup="pass")
    process = subprocess.Popen(
        ["sh", "-c", '"$0" -c "$1"; echo "status=$?"', sys.executable, code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("ready"), first
        child_pid = int(first.split()[1])

        os.kill(child_pid, signal.SIGTERM)
        out, _ = process.communicate(timeout=_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "cleanup" in out
    assert f"status={128 + signal.SIGTERM}" in out


def test_previous_python_handler_is_called_after_cleanup() -> None:
    setup = """
    def old(signum, frame):
        print("old handler", signum, flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, old)
    """
    returncode, lines = _run([signal.SIGTERM], setup=setup)
    assert lines.index("cleanup") < lines.index(f"old handler {int(signal.SIGTERM)}")
    assert returncode == 3


def test_previous_handler_restored_when_no_signal_came() -> None:
    def old(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    before = signal.signal(signal.SIGTERM, old)
    try:
        with terminate_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) is not old
        assert signal.getsignal(signal.SIGTERM) is old
    finally:
        signal.signal(signal.SIGTERM, before)


def test_ignored_signal_stays_ignored_and_the_program_carries_on() -> None:
    returncode, lines = _run([signal.SIGHUP], setup="signal.signal(signal.SIGHUP, signal.SIG_IGN)")
    assert "cleanup" in lines
    assert "after" in lines
    assert returncode == 0


def test_second_signal_during_cleanup_calls_the_hook_and_cleanup_finishes() -> None:
    # The clean-up waits (bounded) for the second signal, as a real delete-and-confirm would take a while.
    cleanup = (
        'print("cleaning", flush=True); deadline = time.monotonic() + 10\n'
        "        while not seconds and time.monotonic() < deadline: time.sleep(0.01)\n"
        '        print("cleanup done", flush=True)'
    )
    returncode, lines = _run([signal.SIGTERM, signal.SIGTERM], cleanup=cleanup, wait_for=("ready", "cleaning"))
    assert f"second {int(signal.SIGTERM)}" in lines
    assert "cleanup done" in lines
    assert returncode == -signal.SIGTERM


def test_cleanup_that_raises_another_error_still_ends_as_the_signal() -> None:
    returncode, lines = _run([signal.SIGTERM], cleanup='raise RuntimeError("delete failed")')
    assert "cleanup" in lines
    assert returncode == -signal.SIGTERM


def test_nested_blocks_both_clean_up_and_the_process_dies_once() -> None:
    code = textwrap.dedent(
        """
        import os, time
        from haiku_finetune._signals import terminate_as_interrupt
        with terminate_as_interrupt():
            try:
                with terminate_as_interrupt():
                    try:
                        print("ready", os.getpid(), flush=True)
                        time.sleep(20)
                    finally:
                        print("inner cleanup", flush=True)
                print("between", flush=True)
            finally:
                print("outer cleanup", flush=True)
        print("after", flush=True)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("ready")
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert out.splitlines() == ["inner cleanup", "outer cleanup"]
    assert process.returncode == -signal.SIGTERM


def test_nested_in_process_inner_hands_the_signal_to_the_outer() -> None:

    order: list[str] = []
    before = signal.getsignal(signal.SIGTERM)

    def outermost(signum: int, frame: object) -> None:
        order.append("outermost")

    signal.signal(signal.SIGTERM, outermost)
    try:
        with terminate_as_interrupt():
            try:
                with terminate_as_interrupt():
                    try:
                        os.kill(os.getpid(), signal.SIGTERM)
                        for _ in range(1000):  # the handler runs between bytecodes
                            pass
                    finally:
                        order.append("inner cleanup")
            except TerminationSignal:
                order.append("outer saw it")
                raise
            finally:
                order.append("outer cleanup")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert order == ["inner cleanup", "outer saw it", "outer cleanup", "outermost"]


def test_outside_the_main_thread_nothing_is_installed(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[object] = []

    def run() -> None:
        with terminate_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    with caplog.at_level(logging.DEBUG, logger="haiku_finetune._signals"):
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(10)
    assert seen == [before]
    assert "outside the main thread" in caplog.text


def test_what_the_cleanup_printed_without_flushing_is_not_lost() -> None:
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a pipe is block-buffered then
    returncode, lines = _run([signal.SIGTERM], cleanup='print("deleted the deployment")', env=buffered)
    assert "deleted the deployment" in lines
    assert returncode == -signal.SIGTERM
