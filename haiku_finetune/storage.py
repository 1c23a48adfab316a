"""S3 for fine-tuning: URIs checked up front, datasets validated before they are uploaded, checksums end to end.

[`S3Uri`][haiku_finetune.storage.S3Uri] parses and checks ``s3://bucket/key`` strings (bucket naming rules, key length,
and the
narrower pattern Bedrock accepts for data locations). [`upload_dataset`][haiku_finetune.storage.upload_dataset]
validates a JSONL file or a
``DatasetBuilder`` with the dataset validator, then uploads it with a SHA-256 checksum computed locally from
the very bytes that were validated (S3 refuses the upload if they do not arrive intact), server-side
encryption (SSE-S3, or SSE-KMS when a key is given). Files larger than one part go up as a multipart upload
with a checksum per part. The download helpers read the job's metrics CSVs.

Bucket owner: every call this module makes to a bucket sends ``ExpectedBucketOwner``, the account given as
``expected_bucket_owner=`` or else the caller's own account (STS ``GetCallerIdentity``, asked once per
transport). A bucket name that now belongs to another account is refused by S3 (403, raised as
[`AccessDeniedError`][haiku_finetune.errors.AccessDeniedError]) instead of receiving the data.

Never replacing: ``stage_dataset(..., if_absent=True)`` uploads with ``IfNoneMatch="*"``, so an existing object
is never replaced. When one is there already, its SHA-256 (kept in the object's metadata) decides: the same
data is reused, different data is refused with [`ConflictError`][haiku_finetune.errors.ConflictError].

Every call goes through [`BedrockTransport`][haiku_finetune.BedrockTransport]. This module knows nothing about jobs.

Longer than ~600 lines on purpose: every S3 call the library makes is here, so each carries the bucket-owner check.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from ._files import atomic_write, regular_input
from ._transport import BedrockTransport, resolve_transport
from .datasets import DatasetBuilder, ValidationReport, validate_file
from .errors import ConflictError, DatasetValidationError, ResourceNotFoundError, ServiceError

__all__ = [
    "MULTIPART_THRESHOLD",
    "RECORDS_METADATA_KEY",
    "SHA256_METADATA_KEY",
    "S3Uri",
    "StagedDataset",
    "bucket_region",
    "download_bytes",
    "download_file",
    "download_text",
    "head_object",
    "list_objects",
    "object_exists",
    "stage_dataset",
    "upload_bytes",
    "upload_dataset",
]

_log = logging.getLogger(__name__)

#: Files up to this size go up in one PutObject; larger ones as a multipart upload of parts this size.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
_MAX_PARTS = 10_000

#: User metadata (``x-amz-meta-…``) under which a validated upload records its record count, so a job made
#: later from the S3 URI can put it in its manifest without reading the data again.
RECORDS_METADATA_KEY = "haiku-finetune-records"
#: User metadata under which an upload records the hex SHA-256 of its bytes (multipart objects have no
#: whole-object SHA-256 of their own), so a conditional upload can tell the same data from different data.
SHA256_METADATA_KEY = "haiku-finetune-sha256"

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Bedrock's own pattern for data locations (botocore shape ``S3Uri`` of the bedrock service model).
_BEDROCK_S3_URI = re.compile(
    r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
)


class S3Uri(str):
    """An ``s3://bucket/key`` URI, checked when it is made. It is a ``str``, so it goes anywhere a URI does.

    A URI whose key is empty or ends with ``/`` is a *prefix* (a folder); otherwise it names one object.
    Making one from a string that is not an ``s3://`` URI, has an invalid bucket name, or a key that is too long
    raises ``ValueError`` saying which.

    Example:
        >>> uri = S3Uri("s3://my-bucket/data/train.jsonl")
        >>> uri.bucket, uri.key, uri.is_prefix
        ('my-bucket', 'data/train.jsonl', False)
        >>> str(S3Uri("s3://my-bucket/data/").joinpath("train.jsonl"))
        's3://my-bucket/data/train.jsonl'
    """

    bucket: str
    key: str

    def __new__(cls, value: str) -> S3Uri:
        bucket, key = _split(value)
        self = super().__new__(cls, f"s3://{bucket}/{key}")
        self.bucket = bucket
        self.key = key
        return self

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic models hold an ``S3Uri``: validated from a string, serialized as one."""
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )

    @classmethod
    def of(cls, bucket: str, key: str = "") -> S3Uri:
        """Build a URI from a bucket and a key."""
        return cls(f"s3://{bucket}/{key.lstrip('/')}")

    @property
    def is_prefix(self) -> bool:
        """True when the URI names a folder (empty key or a key ending in ``/``)."""
        return self.key == "" or self.key.endswith("/")

    @property
    def name(self) -> str:
        """The last path segment of the key (``""`` for a prefix)."""
        return "" if self.is_prefix else self.key.rsplit("/", 1)[-1]

    def as_prefix(self) -> S3Uri:
        """Return this URI as a folder: the key with a trailing ``/`` (unchanged when it already is one)."""
        return self if self.is_prefix else S3Uri.of(self.bucket, self.key + "/")

    def joinpath(self, *parts: str) -> S3Uri:
        """Return the URI of ``parts`` under this one, treating this URI as a folder."""
        key = self.as_prefix().key + "/".join(p.strip("/") for p in parts if p.strip("/"))
        return S3Uri.of(self.bucket, key)

    def arn(self, partition: str = "aws") -> str:
        """Return the S3 ARN of the object or prefix (``arn:aws:s3:::bucket/key``)."""
        return f"arn:{partition}:s3:::{self.bucket}/{self.key}"

    def bedrock_problem(self) -> str | None:
        """Return why Bedrock would refuse this URI as a data location, or ``None`` when it is acceptable.

        Bedrock's pattern is narrower than S3's: key segments may only use letters, digits and ``-!_*'().``,
        and no segment may be empty.
        """
        if _BEDROCK_S3_URI.fullmatch(str(self)):
            return None
        bad = sorted({c for c in self.key if not (c.isascii() and (c.isalnum() or c in "-!_*'()./"))})
        if bad:
            return f"{self}: Bedrock accepts only letters, digits and -!_*'(). in S3 keys, not {bad}"
        if "//" in self.key or self.key.startswith("/"):
            return f"{self}: Bedrock does not accept empty path segments ('//') in S3 keys"
        return f"{self}: does not match Bedrock's S3 URI pattern"


def _split(text: str) -> tuple[str, str]:
    if not isinstance(text, str):
        raise ValueError(f"an S3 URI must be a string, got {type(text).__name__}")
    if not text.startswith("s3://"):
        hint = " (did you mean s3://...?)" if text.startswith(("s3:/", "S3://", "https://")) else ""
        raise ValueError(f"not an S3 URI: {text!r}; expected s3://bucket/key{hint}")
    bucket, _, key = text[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI {text!r} has no bucket name")
    if not (3 <= len(bucket) <= 63 and _BUCKET.fullmatch(bucket)) or ".." in bucket:
        raise ValueError(
            f"S3 URI {text!r}: invalid bucket name {bucket!r}; bucket names are 3-63 characters of lowercase "
            "letters, digits, dots and hyphens, starting and ending with a letter or digit"
        )
    if _is_ip(bucket):
        raise ValueError(f"S3 URI {text!r}: a bucket name cannot look like an IP address")
    if len(key.encode("utf-8")) > 1024:
        raise ValueError(f"S3 URI {text!r}: the key is longer than S3's 1,024-byte limit")
    return bucket, key


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


# -- upload ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedDataset:
    """A dataset uploaded to S3 by [`stage_dataset`][haiku_finetune.storage.stage_dataset].

    Attributes:
        uri: Where it is.
        sha256: Hex SHA-256 of the uploaded bytes.
        size: Size in bytes.
        records: Number of records, when the validator counted them.
        report: The validation report, when the data was validated.
    """

    uri: S3Uri
    sha256: str
    size: int
    records: int | None
    report: ValidationReport | None = None


def upload_dataset(
    source: str | os.PathLike[str] | DatasetBuilder,
    s3_uri: str,
    *,
    split: Literal["train", "validation"] = "train",
    kms_key_id: str | None = None,
    expected_bucket_owner: str | None = None,
    validate: bool = True,
    if_absent: bool = False,
    transport: BedrockTransport | None = None,
) -> S3Uri:
    """Validate a dataset, then upload it with a SHA-256 checksum and server-side encryption.

    A validated upload also records its record count in the object's metadata (`RECORDS_METADATA_KEY`),
    so whoever uses the URI later (a job's manifest) knows it without reading the data again.

    Args:
        source: A JSONL file path or a ``DatasetBuilder``.
        s3_uri: Where to put it. A prefix (ending in ``/``) gets the file's name (a builder's data is
            named ``<split>-<first 12 hex digits of its SHA-256>.jsonl``).
        split: Which rules to validate against: ``"train"`` or ``"validation"``.
        kms_key_id: A KMS key id, alias or ARN: the object is encrypted with SSE-KMS under it. Without
            one, SSE-S3 (AES256) is used.
        expected_bucket_owner: The account id that must own the bucket (default: the caller's own account,
            from STS); S3 refuses the upload otherwise.
        validate: Validate first (default). Turn off only for data you validated yourself.
        if_absent: Never replace an object: upload only if the key is free (``IfNoneMatch="*"``). An object
            already there with the same SHA-256 is reused; one with other data raises ``ConflictError``.
        transport: The transport to use (default: the process default).

    Returns:
        The object's URI.

    Raises:
        DatasetValidationError: The data breaks the rules; nothing was uploaded.
        AccessDeniedError: The bucket does not belong to ``expected_bucket_owner`` (or you may not write it).
        ConflictError: ``if_absent`` and the key holds different data.
        ServiceError: S3 refused the upload (e.g. ``BadDigest`` when the bytes were corrupted in transit).
    """
    staged = stage_dataset(
        source,
        s3_uri,
        split=split,
        kms_key_id=kms_key_id,
        expected_bucket_owner=expected_bucket_owner,
        validate=validate,
        if_absent=if_absent,
        transport=transport,
    )
    return staged.uri


def stage_dataset(
    source: str | os.PathLike[str] | DatasetBuilder,
    s3_uri: str,
    *,
    split: Literal["train", "validation"] = "train",
    kms_key_id: str | None = None,
    expected_bucket_owner: str | None = None,
    validate: bool = True,
    if_absent: bool = False,
    transport: BedrockTransport | None = None,
) -> StagedDataset:
    """Like [`upload_dataset`][haiku_finetune.storage.upload_dataset], but return what was uploaded: URI, SHA-256, size,
    record count, report.

    Args and raises as [`upload_dataset`][haiku_finetune.storage.upload_dataset].
    """
    target = S3Uri(s3_uri)
    t = resolve_transport(transport)
    if isinstance(source, (str, os.PathLike)):
        return _stage_file(Path(source), target, split, kms_key_id, expected_bucket_owner, validate, if_absent, t)
    if not isinstance(source, DatasetBuilder):
        raise TypeError(f"a dataset must be a path or a DatasetBuilder, got {type(source).__name__}")
    with tempfile.TemporaryDirectory(prefix="haiku-finetune-") as tmp:
        name = f"{split}-{source.sha256()[:12]}.jsonl"
        # Written without the builder's own check: the file is validated below, once.
        path = source.write(Path(tmp) / name, split=split, allow_invalid=True)
        return _stage_file(path, target, split, kms_key_id, expected_bucket_owner, validate, if_absent, t)


def _stage_file(
    path: Path,
    target: S3Uri,
    split: Literal["train", "validation"],
    kms_key_id: str | None,
    expected_bucket_owner: str | None,
    validate: bool,
    if_absent: bool,
    transport: BedrockTransport,
) -> StagedDataset:
    path = regular_input(path, what="dataset file")
    report = validate_dataset_file(path, split=split) if validate else None
    if target.is_prefix:
        target = target.joinpath(path.name)
    size = path.stat().st_size
    extra: dict[str, Any] = {"ServerSideEncryption": "AES256"}
    if kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    owner = _owner(expected_bucket_owner, transport)
    extra["ExpectedBucketOwner"] = owner
    records = _records_of(report)
    sha = _sha256_of(path)
    extra["Metadata"] = {SHA256_METADATA_KEY: sha}
    if records is not None:
        extra["Metadata"][RECORDS_METADATA_KEY] = str(records)
    _log.info("uploading %s (%d bytes) to %s", path.name, size, target)
    condition: dict[str, Any] = {"IfNoneMatch": "*"} if if_absent else {}
    try:
        if size <= MULTIPART_THRESHOLD:
            _put_single(path, target, extra, condition, transport)
        else:
            _put_multipart(path, target, size, extra, condition, transport)
    except ServiceError as error:
        if not if_absent or error.code not in _PRECONDITION_CODES:
            raise
        _same_or_refuse(target, sha, owner, transport, error)
        _log.info("%s already holds this data (sha256 %s): reused", target, sha)
    return StagedDataset(uri=target, sha256=sha, size=size, records=records, report=report)


# S3's answers to a conditional write whose key is taken: 412 when the object exists, 409 when another
# conditional write to the same key is in flight.
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


def _same_or_refuse(target: S3Uri, sha: str, owner: str, transport: BedrockTransport, error: ServiceError) -> None:
    """The key is taken: fine when it holds these very bytes, else refuse (staged data is never replaced)."""
    head = head_object(target, expected_bucket_owner=owner, transport=transport) or {}
    found = (head.get("Metadata") or {}).get(SHA256_METADATA_KEY)
    if found == sha:
        return
    detail = f"sha256 {found}" if found else "no recorded sha256"
    raise ConflictError(
        f"{target} already holds other data ({detail}, not {sha}); staged data is never replaced: "
        "stage it under another key",
        operation="PutObject",
        code="ObjectAlreadyExists",
        http_status=error.http_status,
        request_id=error.request_id,
    ) from error


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in _chunks(handle, 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _owner(given: str | None, transport: BedrockTransport) -> str:
    """The account that must own the bucket: the one given, else the caller's (cached by the transport)."""
    if given is not None:
        if not re.fullmatch(r"\d{12}", given):
            raise ValueError(f"expected_bucket_owner must be a 12-digit AWS account id, got {given!r}")
        return given
    return transport.account_id()


def validate_dataset_file(path: Path, *, split: Literal["train", "validation"]) -> ValidationReport:
    """Validate a JSONL file with [`haiku_finetune.datasets.validate_file`][haiku_finetune.datasets.validate_file];
    raise on errors.

    Returns:
        The validation report.

    Raises:
        DatasetValidationError: The file breaks the rules (the error lists the problems with line numbers).
    """
    report = validate_file(path, split=split)
    try:
        report.raise_for_errors()
    except DatasetValidationError as error:
        raise DatasetValidationError(
            f"not valid {split} data, nothing was uploaded: {error}", issues=error.issues, report=report
        ) from error
    return report


def _records_of(report: ValidationReport | None) -> int | None:
    return report.stats.records if report is not None else None


def _put_single(
    path: Path, target: S3Uri, extra: dict[str, Any], condition: dict[str, Any], transport: BedrockTransport
) -> str:
    # Bytes, not a file object: a retried attempt must send the same body from the start.
    return _put_body(path.read_bytes(), target, extra, condition, transport)


def _put_body(
    body: bytes,
    target: S3Uri,
    extra: dict[str, Any],
    condition: dict[str, Any],
    transport: BedrockTransport,
    *,
    content_type: str = "application/jsonl",
) -> str:
    """One PutObject of ``body`` with its SHA-256 for S3 to check; return the hex digest."""
    digest = hashlib.sha256(body)
    transport.call(
        "s3",
        "PutObject",
        Bucket=target.bucket,
        Key=target.key,
        Body=body,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
        ContentType=content_type,
        **extra,
        **condition,
    )
    return digest.hexdigest()


def _put_multipart(
    path: Path,
    target: S3Uri,
    size: int,
    extra: dict[str, Any],
    condition: dict[str, Any],
    transport: BedrockTransport,
) -> str:
    part_size = max(MULTIPART_THRESHOLD, -(-size // _MAX_PARTS))
    owner = {"ExpectedBucketOwner": extra["ExpectedBucketOwner"]}
    upload = transport.call(
        "s3",
        "CreateMultipartUpload",
        Bucket=target.bucket,
        Key=target.key,
        ChecksumAlgorithm="SHA256",
        ContentType="application/jsonl",
        **extra,
    )
    upload_id = upload["UploadId"]
    whole = hashlib.sha256()
    parts: list[dict[str, Any]] = []
    try:
        with path.open("rb") as handle:
            for number, chunk in enumerate(_chunks(handle, part_size), start=1):
                whole.update(chunk)
                checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
                answer = transport.call(
                    "s3",
                    "UploadPart",
                    Bucket=target.bucket,
                    Key=target.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                    **owner,
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": number, "ChecksumSHA256": checksum})
        transport.call(
            "s3",
            "CompleteMultipartUpload",
            Bucket=target.bucket,
            Key=target.key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **owner,
            **condition,
        )
    except BaseException:
        _log.warning("aborting the multipart upload of %s", target)
        transport.call("s3", "AbortMultipartUpload", Bucket=target.bucket, Key=target.key, UploadId=upload_id, **owner)
        raise
    return whole.hexdigest()


def _chunks(handle: BinaryIO, size: int) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk


# -- read ----------------------------------------------------------------------------------------------------


def head_object(
    uri: str, *, expected_bucket_owner: str | None = None, transport: BedrockTransport | None = None
) -> dict[str, Any] | None:
    """Return an object's metadata (``HeadObject``, checksums included), or ``None`` when it does not exist.

    Args:
        uri: The object's URI.
        expected_bucket_owner: The account that must own the bucket (default: the caller's own).
        transport: The transport to use.

    Raises:
        AccessDeniedError: The bucket belongs to another account (or you may not read it).
    """
    target = S3Uri(uri)
    t = resolve_transport(transport)
    params: dict[str, Any] = {
        "Bucket": target.bucket,
        "Key": target.key,
        "ExpectedBucketOwner": _owner(expected_bucket_owner, t),
        "ChecksumMode": "ENABLED",
    }
    try:
        return t.call("s3", "HeadObject", **params)
    except ResourceNotFoundError:
        return None


def object_exists(
    uri: str, *, expected_bucket_owner: str | None = None, transport: BedrockTransport | None = None
) -> bool:
    """Return True when the object exists (for a prefix: when any object is under it)."""
    target = S3Uri(uri)
    if target.is_prefix:
        found = list_objects(target, limit=1, expected_bucket_owner=expected_bucket_owner, transport=transport)
        return next(iter(found), None) is not None
    return head_object(target, expected_bucket_owner=expected_bucket_owner, transport=transport) is not None


def list_objects(
    prefix: str,
    *,
    limit: int | None = None,
    expected_bucket_owner: str | None = None,
    transport: BedrockTransport | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the objects (``ListObjectsV2`` ``Contents`` entries) under a URI prefix, all pages.

    Args:
        prefix: An S3 URI; its key is used as a plain key prefix.
        limit: Stop after this many objects.
        expected_bucket_owner: The account that must own the bucket (default: the caller's own).
        transport: The transport to use.
    """
    target = S3Uri(prefix)
    t = resolve_transport(transport)
    owner = _owner(expected_bucket_owner, t)
    seen = 0
    pages = t.paginate("s3", "ListObjectsV2", Bucket=target.bucket, Prefix=target.key, ExpectedBucketOwner=owner)
    for page in pages:
        for item in page.get("Contents", []):
            yield item
            seen += 1
            if limit is not None and seen >= limit:
                return


def download_bytes(
    uri: str, *, expected_bucket_owner: str | None = None, transport: BedrockTransport | None = None
) -> bytes:
    """Return an object's content. Meant for small objects like the metrics CSVs.

    Args:
        uri: The object's URI.
        expected_bucket_owner: The account that must own the bucket (default: the caller's own).
        transport: The transport to use.

    Raises:
        ResourceNotFoundError: No such object.
        AccessDeniedError: The bucket belongs to another account (or you may not read it).
    """
    target = S3Uri(uri)
    t = resolve_transport(transport)
    owner = _owner(expected_bucket_owner, t)
    response = t.call("s3", "GetObject", Bucket=target.bucket, Key=target.key, ExpectedBucketOwner=owner)
    body = response["Body"]
    try:
        data: bytes = body.read()
    finally:
        body.close()
    return data


def upload_bytes(
    uri: str,
    body: bytes,
    *,
    content_type: str = "application/jsonl",
    expected_bucket_owner: str | None = None,
    transport: BedrockTransport | None = None,
) -> None:
    """Write a small object the library made (an evaluation dataset, batch-inference input), encrypted with
    SSE-S3 and with its SHA-256 checked by S3.

    Args:
        uri: The object's URI.
        body: Its content.
        content_type: Its ``Content-Type``.
        expected_bucket_owner: The account that must own the bucket (default: the caller's own).
        transport: The transport to use.

    Raises:
        AccessDeniedError: The bucket belongs to another account (or you may not write to it).
    """
    t = resolve_transport(transport)
    extra = {"ServerSideEncryption": "AES256", "ExpectedBucketOwner": _owner(expected_bucket_owner, t)}
    _put_body(body, S3Uri(uri), extra, {}, t, content_type=content_type)


def download_text(
    uri: str, *, expected_bucket_owner: str | None = None, transport: BedrockTransport | None = None
) -> str:
    """Return an object's content decoded as UTF-8 (a leading BOM is dropped)."""
    return download_bytes(uri, expected_bucket_owner=expected_bucket_owner, transport=transport).decode("utf-8-sig")


def download_file(
    uri: str,
    path: str | os.PathLike[str],
    *,
    expected_bucket_owner: str | None = None,
    transport: BedrockTransport | None = None,
) -> Path:
    """Download an object to ``path`` atomically (a temporary file renamed into place). Returns the path.

    The path is checked as every write is (no symlink, FIFO or device is replaced; a file keeps its mode).
    """
    destination = Path(path)
    data = download_bytes(uri, expected_bucket_owner=expected_bucket_owner, transport=transport)
    destination.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(destination, data)


def bucket_region(
    bucket: str, *, expected_bucket_owner: str | None = None, transport: BedrockTransport | None = None
) -> str:
    """Return the region a bucket lives in (``GetBucketLocation``; an empty answer means us-east-1).

    Raises:
        AccessDeniedError: The bucket belongs to another account than ``expected_bucket_owner`` (default: the
            caller's own).
    """
    t = resolve_transport(transport)
    owner = _owner(expected_bucket_owner, t)
    response = t.call("s3", "GetBucketLocation", Bucket=bucket, ExpectedBucketOwner=owner)
    location = response.get("LocationConstraint")
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else str(location)
