"""Run a LocalBedrock server in a child process, read the environment it prints, and stop it with Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3


@dataclass
class Served:
    """What the child printed before it was ready, and how it ended (set after the ``with`` block)."""

    lines: list[str]
    env: dict[str, str]
    returncode: int | None = None
    out: str = ""
    err: str = field(default="", repr=False)

    def bedrock(self) -> Any:
        """A plain boto3 bedrock client pointed at the child through the printed variables."""
        return boto3.session.Session(
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_REGION"],
        ).client("bedrock", endpoint_url=self.env["AWS_ENDPOINT_URL_BEDROCK"])


@contextlib.contextmanager
def serve(args: list[str], *, ready: str) -> Iterator[Served]:
    """Start ``python <args>``, read its lines up to the one starting with ``ready``; on exit send SIGINT and wait.

    The child is killed if it does not stop within 30 s, so a test can never hang on it.
    """
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(ready):
                break
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        served = Served(lines=lines, env=env)
        yield served
        process.send_signal(signal.SIGINT)
        served.out, served.err = process.communicate(timeout=30)
        served.returncode = process.returncode
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
