"""The emulated Bedrock, independent of HTTP: every API area put together, and one way in (`Service.handle`).

Each area is its own module, over the state in ``_common.py``, and each builds on the one it needs, in the
library's own data flow: customization jobs (``jobs.py``) create custom models (``custom_models.py``), which
Provisioned Throughput serves (``provisioned.py``), which answers runtime calls (``invocation.py``), which batch
inference runs record by record (``batch.py``) and evaluation jobs prompt by prompt (``evaluation_jobs.py``);
foundation models and tags stand alone. This module must not
implement an operation itself: it dispatches, locks, and offers the inspection methods ``LocalBedrock`` uses.

To add an area (e.g. EventBridge Scheduler emulation): a module with a class over the area it builds on, its
``op_<Operation>`` methods, and its place in `Service`'s bases; routes come from botocore's models
(``wire.py``).
"""

from __future__ import annotations

from typing import Any

from ._common import ACCOUNT, REGION
from .evaluation_jobs import EvaluationJobs
from .foundation_models import FoundationModels
from .tags import Tags
from .wire import ApiError

__all__ = ["ACCOUNT", "REGION", "Service"]


class Service(EvaluationJobs, FoundationModels, Tags):
    """All of the emulated Bedrock's state and behaviour (see ``ServiceState`` for the arguments)."""

    def handle(self, operation: str, params: dict[str, Any]) -> Any:
        """Run one API operation; returns its output dict (or raw frames for a stream)."""
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise ApiError("UnknownOperationException", f"LocalBedrock does not emulate {operation}", 400)
        with self._lock:
            return handler(params)

    # -- inspection -------------------------------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        """Every customization job, as GetModelCustomizationJob shows it."""
        with self._lock:
            return [self._job_view(self._job(arn)) for arn in list(self._jobs)]

    def deployments(self) -> list[dict[str, Any]]:
        """Every live provisioned throughput."""
        with self._lock:
            return [self._throughput_view(self._throughput(arn)) for arn in list(self._throughputs)]
