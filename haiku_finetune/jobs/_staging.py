"""Staged data: content-addressed keys, what S3 knows about a dataset object, and the check before submitting.

Local data is uploaded to ``<staging_uri>/<sha256>/<split>.jsonl``, where ``<sha256>`` is the SHA-256 of the
file's bytes. The key names the content, so no create (concurrent or repeated, with the same job name or not)
can replace the data another job trains on: different data goes to a different key, the same data to the same
key. Just before the job is submitted, `confirm_staged` asks S3 for the object's SHA-256 and refuses to
go on unless it is the one that was validated. This module only reads S3 and hashes local files; uploading is
`haiku_finetune.storage`'s.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from .. import storage
from .._transport import BedrockTransport
from ..errors import PlanCheckError
from ..storage import S3Uri

__all__ = ["confirm_staged", "content_uri", "facts_from_head", "file_sha256", "head_with_checksum", "sha256_hex"]

_CHUNK = 1024 * 1024


def content_uri(staging_uri: str, sha256: str, split: Literal["train", "validation"]) -> S3Uri:
    """Return where data with this SHA-256 is staged: ``<staging_uri>/<sha256>/<split>.jsonl``."""
    return S3Uri(staging_uri).joinpath(sha256, f"{split}.jsonl")


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def head_with_checksum(uri: S3Uri, t: BedrockTransport) -> dict[str, Any] | None:
    """Return ``HeadObject`` (with ``ChecksumMode=ENABLED``) for ``uri``, or ``None`` when it does not exist.

    Through [`haiku_finetune.storage.head_object`][haiku_finetune.storage.head_object], so the request names the
    expected bucket owner (the
    caller's account): a bucket that now belongs to someone else answers AccessDeniedError.
    """
    return storage.head_object(str(uri), transport=t)


def sha256_hex(checksum: Any) -> str | None:
    """Return S3's full-object SHA-256 as hex; multipart (composite) checksums end in ``-N`` and are skipped."""
    if not isinstance(checksum, str) or "-" in checksum:
        return None
    try:
        raw = base64.b64decode(checksum, validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def facts_from_head(head: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``HeadObject`` answer (asked with ``ChecksumMode=ENABLED``) tells about a dataset in S3.

    Returns:
        ``DatasetInfo`` fields: ``size``, ``sha256`` (S3's full-object checksum), ``records`` (from the metadata
        [`haiku_finetune.storage.upload_dataset`][haiku_finetune.storage.upload_dataset] writes) and ``note`` saying why
        either is missing.
    """
    checksum = head.get("ChecksumSHA256")
    sha = sha256_hex(checksum)
    counted = (head.get("Metadata") or {}).get(storage.RECORDS_METADATA_KEY)
    records = int(counted) if isinstance(counted, str) and counted.isdigit() else None
    missing = []
    if sha is None:
        why = "a composite checksum of its parts" if isinstance(checksum, str) else "no SHA-256 checksum"
        missing.append(f"no SHA-256: S3 keeps {why} for this object")
    if records is None:
        missing.append("no record count: not uploaded (validated) with haiku_finetune.storage.upload_dataset")
    note = "; ".join(missing) or None
    return {"size": int(head.get("ContentLength", 0)), "sha256": sha, "records": records, "note": note}


def confirm_staged(uri: S3Uri, sha256: str, size: int, t: BedrockTransport) -> None:
    """Confirm that the object at ``uri`` holds the validated bytes (SHA-256, or size for a multipart object).

    Raises:
        PlanCheckError: It is missing or holds other bytes; nothing is submitted.
    """
    head = head_with_checksum(uri, t)
    if head is None:
        raise PlanCheckError(f"staged data {uri} is gone; nothing was submitted")
    checksum = head.get("ChecksumSHA256")
    found = sha256_hex(checksum)
    if found is None and isinstance(checksum, str) and int(head.get("ContentLength", -1)) == size:
        # A multipart upload keeps a composite checksum of its parts: the key names the SHA-256 and storage
        # verified every part on upload, so the size is the one thing left to compare here.
        return
    if found != sha256:
        raise PlanCheckError(
            f"staged data {uri} does not hold the data that was validated (SHA-256 {found or 'unknown'}, "
            f"expected {sha256}); nothing was submitted"
        )
