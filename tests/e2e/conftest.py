"""End-to-end fixtures: one LocalBedrock per test module, and a transport wired to it.

Starting moto's server and training a model dominate an end-to-end module's run time, so the emulator lives for
the whole module; tests reset what they change. A module sets ``LOCAL_BEDROCK_OPTIONS`` (a dict of
``LocalBedrock`` keyword arguments) to start its emulator differently.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import haiku_finetune as hf


@pytest.fixture(scope="module")
def local(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A started LocalBedrock (manual clock) shared by the module's tests."""
    from haiku_finetune.local import LocalBedrock

    options: dict[str, Any] = getattr(request.module, "LOCAL_BEDROCK_OPTIONS", {})
    with LocalBedrock(**options) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def transport(local: Any) -> hf.BedrockTransport:
    """A BedrockTransport wired to the module's emulator (its clock: waits take no real time)."""
    wired: hf.BedrockTransport = local.transport()
    return wired
