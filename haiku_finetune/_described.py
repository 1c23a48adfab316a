"""DescribedJob: a Bedrock job known by its Get* description, read lazily and refreshed on demand.

Customization jobs and evaluation jobs are both handles on a description the service returns: a listing gives
part of it, a Get call all of it. This base keeps that description, fetches the whole of it the first time a
missing key is read, carries the transport it was made with, and stops a job the same way for both (a no-op
once it has ended). It must not know what the jobs do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from ._transport import BedrockTransport, resolve_transport

__all__ = ["DescribedJob"]

_log = logging.getLogger(__name__)

_J = TypeVar("_J", bound="DescribedJob")


class DescribedJob:
    """Base for job handles: ``_GET`` and ``_STOP`` name the Get and Stop operations; ``_FULL_KEYS`` say a
    description is complete; ``_ENDED`` are the statuses after which there is nothing to stop."""

    _GET: ClassVar[str]
    _STOP: ClassVar[str]
    _ENDED: ClassVar[frozenset[str]]
    _FULL_KEYS: ClassVar[tuple[str, ...]]
    _KIND: ClassVar[str]  # "a job", "an evaluation job": for the error on a description without an ARN

    def __init__(self, description: Mapping[str, Any], *, transport: BedrockTransport | None = None) -> None:
        if "jobArn" not in description:
            raise ValueError(f"{self._KIND} description needs at least 'jobArn'")
        self._transport = resolve_transport(transport)
        self._description: dict[str, Any] = dict(description)
        self._full = all(key in description for key in self._FULL_KEYS)

    @property
    def transport(self) -> BedrockTransport:
        """The transport the job was made with."""
        return self._transport

    def refresh(self: _J) -> _J:
        """Fetch the job's current description (one Get call). Returns ``self``."""
        self._description = self._transport.call("bedrock", self._GET, jobIdentifier=self.arn)
        self._full = True
        return self

    def stop(self: _J) -> _J:
        """Ask the service to stop the job (status becomes Stopping, then Stopped); a no-op when it has already
        ended or is stopping. Returns ``self``, refreshed."""
        self.refresh()
        status = self._description.get("status")
        if status in self._ENDED or status == "Stopping":
            _log.info("%s %s is already %s; not stopping it", self._KIND.split(" ", 1)[1], self.name, status)
            return self
        self._transport.call("bedrock", self._STOP, jobIdentifier=self.arn)
        return self.refresh()

    def _get(self, key: str) -> Any:
        if key not in self._description and not self._full:
            self.refresh()
        return self._description.get(key)

    @property
    def arn(self) -> str:
        """The job's ARN."""
        return str(self._description["jobArn"])

    @property
    def job_id(self) -> str:
        """The job id: the last path segment of the ARN."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def name(self) -> str:
        """The job's name."""
        return str(self._get("jobName"))
