"""Orphan scan: find what this library created that is still billed (or may be), on the service's clock.

[`find_orphans`][haiku_finetune.deployment.find_orphans] lists the provisioned throughputs carrying the library's tag;
`service_now` is the "now" ages are measured against. Nothing here deletes
anything; callers (the CLI, a user) decide. ``deployment`` re-exports ``find_orphans`` (the package face and
the API page import it from there).
Must not import ``deployment`` at import time (``deployment`` imports this module), only inside the scan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from ._tags import has_library_tag
from ._transport import BedrockTransport, resolve_transport
from .errors import ResourceNotFoundError

if TYPE_CHECKING:
    from .deployment import ProvisionedDeployment

__all__ = ["find_orphans", "service_now"]


def find_orphans(
    *,
    older_than: timedelta = timedelta(0),
    now: datetime | None = None,
    transport: BedrockTransport | None = None,
) -> list[ProvisionedDeployment]:
    """List deployments this library created (they carry its tag) that are older than ``older_than``.

    Args:
        older_than: Only deployments created at least this long ago.
        now: The current time (default: the service's clock, see `service_now`).
        transport: The transport.

    Returns:
        The tagged deployments, oldest first. Nothing is deleted.
    """
    from .deployment import ProvisionedDeployment  # deployment imports this module at its top

    resolved = resolve_transport(transport)
    pages = list(resolved.paginate("bedrock", "ListProvisionedModelThroughputs"))
    summaries = [s for page in pages for s in page.get("provisionedModelSummaries", [])]
    if now is None:
        now = service_now(pages, (s.get(k) for s in summaries for k in ("creationTime", "lastModifiedTime")))
    cutoff = now - older_than
    found = []
    for summary in summaries:
        deployment = ProvisionedDeployment(summary["provisionedModelArn"], transport=resolved)
        deployment._details = summary
        created = _utc(summary.get("creationTime"))
        if created is not None and created > cutoff:
            continue
        try:
            tags = resolved.call("bedrock", "ListTagsForResource", resourceARN=deployment.arn).get("tags", [])
        except ResourceNotFoundError:
            continue  # deleted between the listing and now
        if has_library_tag(tags):
            found.append(deployment)
    found.sort(key=lambda d: _utc(d._details.get("creationTime")) or datetime.min.replace(tzinfo=timezone.utc))
    return found


def service_now(responses: Iterable[Mapping[str, Any]], timestamps: Iterable[Any] = ()) -> datetime:
    """The service's "now": the latest of its responses' HTTP ``Date``, the newest timestamp it reported, local now.

    Ages must be measured on the clock that stamped ``creationTime``. The ``Date`` header is the service's own
    clock (to the second); the newest timestamp seen covers a service whose clock runs ahead of its ``Date``
    header (LocalBedrock's emulated clock) and a local clock behind the service's. Taking the latest of the
    three can only make things look older, never hide one: an orphan scan must not miss what was made a
    moment ago.
    """
    candidates = [datetime.now(timezone.utc)]
    for response in responses:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        raw = headers.get("date") if isinstance(headers, Mapping) else None
        if isinstance(raw, str):
            with contextlib.suppress(TypeError, ValueError):
                candidates.append(_utc(parsedate_to_datetime(raw)) or candidates[0])
    candidates += [t for t in (_utc(raw) for raw in timestamps) if t is not None]
    return max(candidates)


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
