"""LocalBedrock's Provisioned Throughput token capacity: admitted while the buckets hold tokens, 429 in debt."""

from __future__ import annotations

import pytest

from haiku_finetune.local import UnitCapacity
from haiku_finetune.local.capacity import CapacityMeter
from haiku_finetune.local.wire import ApiError


def test_a_unit_throttles_beyond_its_token_rate_and_refills() -> None:
    meter = CapacityMeter(UnitCapacity(input_tokens_per_minute=600, output_tokens_per_minute=6000, burst_seconds=1))
    meter.admit("pt", 1, now=0.0)
    meter.charge("pt", 1, 10, 1, now=0.0)  # the bucket held 10 input tokens: now empty
    with pytest.raises(ApiError) as raised:
        meter.admit("pt", 1, now=0.0)
    assert raised.value.code == "ThrottlingException"
    meter.admit("pt", 1, now=0.5)  # 10 tokens/s: half a second refills 5
    meter.admit("pt2", 2, now=0.0)  # buckets are per deployment


def test_bad_capacity_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        UnitCapacity(input_tokens_per_minute=0)
