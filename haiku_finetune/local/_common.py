"""What every API area of the emulated Bedrock shares: its state, identifiers, the by-ARN-or-name lookup, the
idempotency-token rule, S3 access and pagination.

Each API area (``jobs.py``, ``custom_models.py``, ``provisioned.py``, ``invocation.py``, ``batch.py``,
``foundation_models.py``, ``tags.py``) is a class over `ServiceState`; ``service.py`` puts them together.
This module holds state and rules that more than one area needs, and nothing specific to one area: an area's
records and behaviour live in its own module. It must not know about HTTP (``server.py``) or the wire format
(``wire.py`` parses and serializes; the areas receive and return plain dicts).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..base_models import DEFAULT_BASE_MODEL, BaseModelProfile, find_profile
from ..lifecycle import LifecycleState, lifecycle_state
from .capacity import CapacityMeter
from .clock import EmulatedClock
from .runtime import Responder
from .wire import ApiError, conflict, not_found, validation

__all__ = [
    "ACCOUNT",
    "END_OF_LIFE",
    "HAIKU",
    "HAIKU_FT",
    "MAX_TAGS",
    "REGION",
    "EmulatedJob",
    "ServiceState",
    "listed",
    "page",
    "sift",
]

ACCOUNT = "123456789012"
#: The default region (the emulator's ``region=`` chooses another).
REGION = "us-west-2"
# The default profile's ids (read from the profile, never spelled here).
HAIKU_FT = DEFAULT_BASE_MODEL.model_id
HAIKU = DEFAULT_BASE_MODEL.invoke_model_id
#: The tags one resource may carry, existing ones included (botocore's TooManyTagsException: "50 tags per
#: resource").
MAX_TAGS = 50
#: What the service answers for a model past its end of life (ResourceNotFoundException).
END_OF_LIFE = "This model version has reached the end of its life."

T = TypeVar("T")


@dataclass
class EmulatedJob:
    """What every emulated asynchronous job (batch inference, evaluation) has; each area adds its own status."""

    arn: str
    name: str
    params: dict[str, Any]
    created: float


J = TypeVar("J", bound=EmulatedJob)


class ServiceState:
    """The emulated Bedrock's in-memory state and the helpers over it that several API areas use.

    Lifecycles are computed lazily from the emulated clock whenever something looks (an API call or an
    inspection), so no background thread is needed and a manual clock gives tests full control. Every
    operation runs under ``_lock`` (see ``Service.handle``).

    Args:
        clock: Emulated time.
        s3: A boto3 S3 client pointed at the emulator's moto server.
        seed: Seeds loss curves and identifiers.
    """

    def __init__(self, clock: EmulatedClock, s3: Any, *, seed: int = 0, region: str = REGION) -> None:
        self.clock = clock
        self.s3 = s3
        self.seed = seed
        self.region = region
        #: ``arn:aws:bedrock:<region>:<account>``, the prefix of every resource ARN the emulator makes.
        self.arn = f"arn:aws:bedrock:{region}:{ACCOUNT}"
        #: ``arn:aws:bedrock:<region>::foundation-model``.
        self.foundation = f"arn:aws:bedrock:{region}::foundation-model"
        # Settings (LocalBedrock sets them after construction).
        self.validation_losses: list[float] | None = None
        self.step_seconds = 30.0
        self.pt_ready_seconds = 1200.0
        self.calls_per_second_per_unit: float | None = None
        self.capacity = CapacityMeter()  # tokens per minute per model unit (LocalBedrock's unit_capacity)
        # The throughput cap is per real second (it models the service's capacity, not the job clock).
        self.real_time: Callable[[], float] = time.monotonic
        self.responders: dict[str, Responder] = {}
        self._lock = threading.RLock()
        # Resources by ARN; the area that owns each table defines its record type.
        self._jobs: dict[str, Any] = {}
        self._models: dict[str, dict[str, Any]] = {}
        self._model_responders: dict[str, Responder] = {}
        self._throughputs: dict[str, Any] = {}
        self._retired: list[Any] = []
        self._invocation_jobs: dict[str, Any] = {}
        self._tags: dict[str, list[dict[str, str]]] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._ids = random.Random(seed)
        self._message_count = 0

    # -- identifiers and lookups ------------------------------------------------------------------------

    def _new_id(self) -> str:
        return "".join(self._ids.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))

    @staticmethod
    def _find(table: Mapping[str, T], identifier: str, name_of: Callable[[T], str], what: str) -> T:
        """The resource ``identifier`` names: its ARN (the table's key) or its name, as every Get/Delete accepts.

        Raises:
            ApiError: ResourceNotFoundException ``Could not find <what> <identifier>``.
        """
        found = table.get(identifier)
        if found is None:
            found = next((item for item in table.values() if name_of(item) == identifier), None)
        if found is None:
            raise not_found(f"Could not find {what} {identifier}")
        return found

    @staticmethod
    def _refuse_taken_name(table: Mapping[str, EmulatedJob], params: Mapping[str, Any], what: str) -> None:
        """Refuse a create whose ``jobName`` a job of ``table`` already has, as the service does.

        Raises:
            ApiError: ConflictException ``<what> named <jobName> already exists``.
        """
        name = params["jobName"]
        if any(job.name == name for job in table.values()):
            raise conflict(f"{what} named {name} already exists")

    def _add_job(
        self,
        table: dict[str, J],
        record: Callable[[str, str, dict[str, Any], float], J],
        arn_prefix: str,
        params: dict[str, Any],
        tags_key: str,
    ) -> str:
        """Store a new emulated job, ``record(arn, jobName, params, now)``, with the tags in ``params[tags_key]``.

        Returns:
            Its ARN: ``<arn_prefix>/<new id>``.
        """
        arn = f"{arn_prefix}/{self._new_id()}"
        table[arn] = record(arn, params["jobName"], params, self.clock.monotonic())
        self._tags[arn] = list(params.get(tags_key) or [])
        return arn

    @staticmethod
    def _limit_tags(resource: str, tags: Iterable[Mapping[str, str]]) -> None:
        """Refuse more than `MAX_TAGS` distinct tag keys on one resource.

        Raises:
            ApiError: TooManyTagsException (400).
        """
        count = len({tag["key"] for tag in tags})
        if count > MAX_TAGS:
            raise ApiError(
                "TooManyTagsException",
                f"{resource} would have {count} tags; a resource can have at most {MAX_TAGS}",
                400,
            )

    def _idempotent(self, kind: str, params: Mapping[str, Any], make: Callable[[], str]) -> str:
        """The ARN a create returns: the one made before for the same ``clientRequestToken``, or a new one.

        ``make`` runs (validating and creating) only when the token is new or absent, so a retried create
        whose first answer was lost gets the same resource back instead of a name conflict.
        """
        token = params.get("clientRequestToken")
        if token and (kind, token) in self._tokens:
            return self._tokens[(kind, token)]
        arn = make()
        if token:
            self._tokens[(kind, token)] = arn
        return arn

    # -- base models over emulated time ---------------------------------------------------------------------

    def _lifecycle(self, profile: BaseModelProfile) -> LifecycleState:
        """The profile's lifecycle in the emulator's region on the emulated date."""
        return lifecycle_state(profile, self.region, self.clock.now().date())

    def _base_profile(self, identifier: str) -> BaseModelProfile | None:
        """The profile of a base model named by id or foundation-model ARN (``None``: not a known base model)."""
        return find_profile(identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier)

    def _require_alive(self, profile: BaseModelProfile | None) -> None:
        """Answer as the service does for a model past its end of life in this region.

        Raises:
            ApiError: ResourceNotFoundException ``This model version has reached the end of its life.``
        """
        if profile is not None and not self._lifecycle(profile).usable:
            raise ApiError("ResourceNotFoundException", END_OF_LIFE, 404)

    # -- S3 (moto) ----------------------------------------------------------------------------------------

    def _split(self, uri: str) -> tuple[str, str]:
        if not uri.startswith("s3://"):
            raise validation(f"{uri} is not an s3:// URI")
        bucket, _, key = uri[5:].partition("/")
        return bucket, key

    def _object_exists(self, uri: str) -> bool:
        bucket, key = self._split(uri)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except Exception:  # noqa: BLE001 - any refusal from moto means "not there" to the job
            return False
        return True

    def _read(self, uri: str) -> bytes:
        bucket, key = self._split(uri)
        data: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    def _put(self, uri: str, text: str) -> None:
        bucket, key = self._split(uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=text.encode())

    def _objects(self, uri: str, suffix: str) -> Iterator[tuple[str, str]]:
        """(bucket, key) of the object ``uri`` names, or of every ``suffix`` object under a prefix."""
        bucket, key = self._split(uri)
        if key and not key.endswith("/"):
            yield bucket, key
            return
        for listed in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for item in listed.get("Contents", []):
                if item["Key"].endswith(suffix):
                    yield bucket, item["Key"]


class _Listed(Protocol):
    name: str
    status: str
    created: float


L = TypeVar("L", bound=_Listed)


def listed(jobs: Iterable[L], params: Mapping[str, Any]) -> list[L]:
    """The jobs a List call asks for: ``statusEquals`` and ``nameContains`` applied, ordered by creation time as
    ``sortOrder`` says (default ``Descending``, newest first)."""
    found = list(jobs)
    if params.get("statusEquals"):
        found = [j for j in found if j.status == params["statusEquals"]]
    if params.get("nameContains"):
        found = [j for j in found if params["nameContains"] in j.name]
    found.sort(key=lambda j: j.created, reverse=params.get("sortOrder", "Descending") == "Descending")
    return found


def sift(
    items: list[dict[str, Any]], params: Mapping[str, Any], time_key: str, equals: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The views a List call's filters keep, in the order its ``sortOrder`` asks for.

    ``<time_key>After`` / ``<time_key>Before`` keep the views whose ``time_key`` is strictly after / before;
    ``equals`` maps a filter parameter to the view key it must equal. Without a ``sortOrder`` the order given is
    kept (each List call has its own default).
    """
    found = [
        item
        for item in items
        if all(params.get(param) is None or item.get(key) == params[param] for param, key in (equals or {}).items())
    ]
    after, before = params.get(f"{time_key}After"), params.get(f"{time_key}Before")
    if after is not None:
        found = [item for item in found if item[time_key] > after]
    if before is not None:
        found = [item for item in found if item[time_key] < before]
    if params.get("sortOrder"):
        found.sort(key=lambda item: item[time_key], reverse=params["sortOrder"] == "Descending")
    return found


def page(
    items: list[dict[str, Any]], params: Mapping[str, Any], *, default: int = 100, most: int | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a List call (``maxResults``, ``nextToken`` as an offset) and the next token.

    ``default`` is the page size without ``maxResults``; ``most`` caps it where the API's model does.
    """
    size = int(params.get("maxResults") or default)
    if most is not None:
        size = min(size, most)
    try:
        start = int(params.get("nextToken") or 0)
    except ValueError:
        raise validation("Invalid nextToken") from None
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
