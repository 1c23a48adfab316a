"""Shared fixtures: a LocalBedrock per test (manual clock), and a transport wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import haiku_finetune as hf


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
