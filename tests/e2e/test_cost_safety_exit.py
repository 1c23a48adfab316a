"""Interpreter exit with a `with` block open: ``sys.exit(0)`` or an uncaught exception leaves no PT billing.

Real owner processes against one LocalBedrock server process that outlives them (loopback only; every process is
bounded by real timeouts). In the main thread the block's own ``__exit__`` deletes the PT; with the block open in a
daemon thread, nothing reaches ``__exit__`` and only the exit hook (``atexit``) in ``deployment.py`` can delete it —
these cases fail if that hook is removed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.test_cost_safety_signals import _live, served
from tests.serve_process import Served

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")

__all__ = ["served"]  # the LocalBedrock server process (a fixture), shared with the signal tests

_TIMEOUT = 60.0  # real seconds any one owner may take

# argv: model ARN, how to end. The owner opens a `with` block, then ends the interpreter the way it is told.
_OWNER = """
import sys, threading, time
import haiku_finetune as hf
from haiku_finetune.deployment import ProvisionedDeployment
model, how = sys.argv[1], sys.argv[2]
transport = hf.BedrockTransport(region="us-west-2")

def end():
    if how.endswith("exit"):
        sys.exit(0)
    raise RuntimeError("boom: uncaught")

if how.startswith("main"):
    with ProvisionedDeployment.create(model, transport=transport) as dep:
        print("in", dep.arn, flush=True)
        end()
else:
    entered = threading.Event()

    def block():
        with ProvisionedDeployment.create(model, transport=transport) as dep:
            print("in", dep.arn, flush=True)
            entered.set()
            time.sleep(600)  # never left: the interpreter exits around it

    threading.Thread(target=block, daemon=True).start()
    if not entered.wait(30):
        sys.exit(3)
    end()
"""


def _run_owner(server: Served, model: str, how: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _OWNER, model, how],
        capture_output=True,
        text=True,
        env={**os.environ, **server.env},
        timeout=_TIMEOUT,
    )


@pytest.mark.parametrize(
    ("how", "returncode"),
    [("main-exit", 0), ("main-raise", 1), ("daemon-exit", 0), ("daemon-raise", 1)],
)
def test_interpreter_exit_with_a_block_open_leaves_no_pt(served: tuple[Served, str], how: str, returncode: int) -> None:
    server, model = served
    done = _run_owner(server, model, how)
    assert "in arn:" in done.stdout, done.stderr  # the PT was bought and the block entered
    arn = done.stdout.split("in ", 1)[1].split()[0]
    assert done.returncode == returncode, done.stderr
    if how.endswith("raise"):
        assert "RuntimeError: boom: uncaught" in done.stderr  # the error still reaches the user
    if how.startswith("daemon"):
        # Only the exit hook ran: it says what it found and deletes it.
        assert f"{arn} still open" in done.stderr, done.stderr
        assert "deleting it" in done.stderr
        assert "may still be billed" not in done.stderr, done.stderr
    assert [s["provisionedModelArn"] for s in _live(server)] == [], "PTs left billing"
