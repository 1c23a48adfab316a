"""Shared fixtures: a LocalBedrock per test (manual clock), and a transport wired to it.

Every LocalBedrock the suite starts, in any test module, has its responses checked against botocore's output
shapes when it stops (``tests/shape_check.py``): a response the real service could not send fails the test
that stopped the emulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import haiku_finetune as hf

from .shape_check import violations

# Every LocalBedrock the suite starts (in process or served in a child) runs on an emulated date before Claude 3
# Haiku's Legacy period, so the seed's workflow works; tests about lifecycles pass date= themselves.
os.environ.setdefault("LOCAL_BEDROCK_DATE", "2026-02-01")


@pytest.fixture(autouse=True, scope="session")
def _check_every_emulator_response() -> Iterator[None]:
    try:
        from haiku_finetune.local import LocalBedrock
    except ImportError:  # the "local" extra is missing: no emulator runs, nothing to check
        yield
        return
    original = LocalBedrock.stop

    def checked_stop(self: Any) -> None:
        server = self._server
        original(self)
        if server is None:
            return
        assert server.responses.maxlen is None or len(server.responses) < server.responses.maxlen, (
            "more responses than LocalBedrock keeps: some went unchecked"
        )
        problems = [p for operation, body in server.responses for p in violations(operation, body)]
        server.responses.clear()  # stop() may run twice
        assert not problems, "LocalBedrock sent responses the real service could not:\n" + "\n".join(problems[:20])

    LocalBedrock.stop = checked_stop  # type: ignore[method-assign]
    try:
        yield
    finally:
        LocalBedrock.stop = original  # type: ignore[method-assign]


@pytest.fixture
def local() -> Iterator[Any]:
    """A started LocalBedrock with a manual clock; stopped after the test."""
    from haiku_finetune.local import LocalBedrock

    with LocalBedrock() as emulator:
        yield emulator


@pytest.fixture
def transport(local: Any) -> hf.BedrockTransport:
    """A BedrockTransport wired to the ``local`` emulator (its clock: waits take no real time)."""
    transport: hf.BedrockTransport = local.transport()
    return transport
