"""LocalBedrock: an offline Bedrock on loopback, so the whole fine-tuning workflow runs with no AWS account.

The real boto3 clients talk HTTP to it unchanged. It serves bedrock's control plane (customization jobs,
custom models, provisioned throughput, batch inference, foundation models, tags) and bedrock-runtime
(InvokeModel, streaming, Converse, CountTokens); S3, IAM and STS come from moto's server, started alongside.
It needs the ``local`` extra (moto). Nothing in the core library imports this package.

    with LocalBedrock() as local:                  # manual clock: time moves only when you say
        transport = local.transport()              # a BedrockTransport wired to it
        ...
        local.advance(3600)                        # an emulated hour passes

This module only hands names on: the emulator is in ``emulator.py``, the standalone server in ``serve.py``.
"""

from __future__ import annotations

from ._common import ACCOUNT, REGION
from .capacity import UnitCapacity
from .clock import EmulatedClock
from .emulator import LocalBedrock
from .faults import Faults
from .tools import ToolCall

__all__ = ["ACCOUNT", "REGION", "EmulatedClock", "Faults", "LocalBedrock", "ToolCall", "UnitCapacity"]
