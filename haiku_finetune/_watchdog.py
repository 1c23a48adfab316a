"""The detached watchdog process behind `haiku_finetune.guard.WatchdogGuard`.

``python -m haiku_finetune._watchdog --arn ARN --lifetime SECONDS --log FILE [--region R] [--endpoint svc=url]``

Its stdin is the lease: the owner holds the write end. A ``release`` line stands it down (it deletes nothing);
``extend SECONDS`` moves the deadline; EOF without ``release`` means the owner died, and the deadline passing
means the lifetime ended — either way it deletes the Provisioned Throughput and confirms it is gone. It lives
at most lifetime + margin seconds of real time, and writes one line per thing it did to the log file.

It must do nothing else: no other AWS call, no waiting on anything but its lease and the delete.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
import time
from pathlib import Path

import boto3

from ._clock import SystemClock
from ._transport import BedrockTransport
from ._wait import PollInterval, PollState, wait_for
from .errors import HaikuFinetuneError, ResourceNotFoundError

__all__ = ["main"]

_log = logging.getLogger("haiku_finetune.watchdog")


def _delete(transport: BedrockTransport, arn: str, why: str, timeout: float) -> bool:
    """Delete the PT and confirm it is gone; True when it is."""
    _log.warning("%s: deleting %s", why, arn)
    try:
        transport.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=arn)
    except ResourceNotFoundError:
        _log.info("%s was already gone", arn)
        return True

    def _observe() -> PollState:
        try:
            status = str(transport.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=arn)["status"])
        except ResourceNotFoundError:
            return PollState("Deleted", finished=True)
        return PollState(status)

    try:
        wait_for(
            _observe,
            what=f"deletion of {arn}",
            clock=transport.clock,
            timeout=timeout,
            interval=PollInterval(initial=2.0, maximum=15.0),
            progress=False,
            interrupt_message=False,
        )
    except HaikuFinetuneError as error:
        _log.error("could not confirm %s is gone: %s", arn, error)
        return False
    _log.warning("confirmed: %s is deleted", arn)
    return True


def _read_line(fd: int, timeout: float, pending: bytearray) -> bytes | None:
    """One line from the lease, ``b""`` on EOF, ``None`` when ``timeout`` passed first."""
    while b"\n" not in pending:
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return bytes(pending) if pending else b""
        pending.extend(chunk)
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    return line + b"\n"


def main(argv: list[str] | None = None) -> int:
    """Hold the lease; delete the PT when the owner dies or the lifetime ends."""
    parser = argparse.ArgumentParser(prog="python -m haiku_finetune._watchdog")
    parser.add_argument("--arn", required=True)
    parser.add_argument("--lifetime", type=float, required=True)
    parser.add_argument("--margin", type=float, default=300.0)
    parser.add_argument("--region", default=None)
    parser.add_argument("--log", required=True)
    parser.add_argument("--endpoint", action="append", default=[], help="service=url")
    args = parser.parse_args(argv)
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=args.log, level=logging.INFO, format="%(asctime)s watchdog[%(process)d] %(levelname)s %(message)s"
    )
    endpoints = dict(pair.split("=", 1) for pair in args.endpoint)
    clock = SystemClock()
    transport = BedrockTransport(
        session=boto3.Session(),
        region=args.region,
        endpoint_urls=endpoints,
        clock=clock,
    )
    started = time.monotonic()
    deadline = started + args.lifetime
    hard_stop = deadline + args.margin
    _log.info("armed for %s, lifetime %.0fs (owner pid %d)", args.arn, args.lifetime, os.getppid())
    print("armed", flush=True)
    sys.stdout.close()  # the owner reads one line; writing later would hit a closed pipe
    fd = sys.stdin.fileno()
    pending = bytearray()
    while True:
        line = _read_line(fd, deadline - time.monotonic(), pending)
        if line is None:
            gone = _delete(transport, args.arn, "lifetime ended", hard_stop - time.monotonic())
            return 0 if gone else 1
        text = line.decode(errors="replace").strip()
        if not line:
            gone = _delete(transport, args.arn, "owner died without releasing the lease", args.margin)
            return 0 if gone else 1
        if text == "release":
            _log.info("released by the owner; %s left alone", args.arn)
            return 0
        if text.startswith("extend "):
            try:
                seconds = float(text.split()[1])
            except (IndexError, ValueError):
                _log.error("ignored a bad lease line %r", text)
                continue
            deadline = time.monotonic() + seconds
            hard_stop = deadline + args.margin
            _log.info("lifetime extended: %.0fs from now", seconds)
            continue
        _log.error("ignored a bad lease line %r", text)


if __name__ == "__main__":
    raise SystemExit(main())
