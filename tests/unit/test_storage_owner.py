"""storage: every bucket call names the expected owner; a mismatch is AccessDeniedError; conditional uploads never
replace an object (moto in process, and LocalBedrock; no network)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

import haiku_finetune as hf
from haiku_finetune import storage
from haiku_finetune.errors import AccessDeniedError, ConflictError
from tests.fakes import s3_calls
from tests.unit.conftest import MOTO_BUCKET

BUCKET = MOTO_BUCKET
ACCOUNT = "123456789012"  # moto's account


def _owned_by(transport: hf.BedrockTransport, account: str) -> None:
    """Make the S3 client answer like S3 for a bucket owned by ``account``: 403 when the expected owner differs."""

    def check(params: dict[str, Any], model: Any, **_: Any) -> Any:
        expected = params.get("headers", {}).get("x-amz-expected-bucket-owner")
        if expected is not None and expected != account:
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            return types.SimpleNamespace(status_code=403, headers={}), {
                **error,
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
        return None

    transport.client("s3").meta.events.register("before-call.s3.*", check)


def _dataset(path: Path, n: int = 40, tag: str = "") -> Path:
    path.write_bytes(
        b"".join(
            orjson.dumps(
                {"messages": [{"role": "user", "content": f"q{i}{tag}"}, {"role": "assistant", "content": "a"}]}
            )
            + b"\n"
            for i in range(n)
        )
    )
    return path


def test_every_bucket_call_sends_the_callers_account(aws: hf.BedrockTransport, tmp_path: Path) -> None:
    calls = s3_calls(aws)
    uri = storage.upload_dataset(_dataset(tmp_path / "train.jsonl"), f"s3://{BUCKET}/data/", transport=aws)
    assert storage.head_object(uri, transport=aws) is not None
    assert storage.object_exists(f"s3://{BUCKET}/data/", transport=aws)
    assert list(storage.list_objects(f"s3://{BUCKET}/", transport=aws))
    assert storage.download_text(uri, transport=aws).startswith('{"messages"')
    storage.download_file(uri, tmp_path / "copy.jsonl", transport=aws)
    assert storage.bucket_region(BUCKET, transport=aws) == "us-west-2"
    ops = {c["op"] for c in calls}
    assert ops >= {"PutObject", "HeadObject", "ListObjectsV2", "GetObject", "GetBucketLocation"}
    assert all(c.get("ExpectedBucketOwner") == ACCOUNT for c in calls), calls


def test_multipart_uploads_send_the_owner_on_every_part(
    aws: hf.BedrockTransport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * (11 * 1024 * 1024))
    calls = s3_calls(aws)
    storage.stage_dataset(big, f"s3://{BUCKET}/big.jsonl", validate=False, if_absent=True, transport=aws)
    ops = [c["op"] for c in calls]
    assert ops.count("UploadPart") == 3 and "CompleteMultipartUpload" in ops
    assert all(c.get("ExpectedBucketOwner") == ACCOUNT for c in calls)
    complete = next(c for c in calls if c["op"] == "CompleteMultipartUpload")
    assert complete["IfNoneMatch"] == "*"


def test_a_given_owner_is_used_and_checked(aws: hf.BedrockTransport, tmp_path: Path) -> None:
    calls = s3_calls(aws)
    storage.upload_dataset(
        _dataset(tmp_path / "t.jsonl"), f"s3://{BUCKET}/t.jsonl", expected_bucket_owner=ACCOUNT, transport=aws
    )
    assert calls[-1]["ExpectedBucketOwner"] == ACCOUNT
    with pytest.raises(ValueError, match="12-digit"):
        storage.head_object(f"s3://{BUCKET}/t.jsonl", expected_bucket_owner="me", transport=aws)


def test_a_bucket_of_another_account_is_access_denied_and_receives_nothing(
    aws: hf.BedrockTransport, tmp_path: Path
) -> None:
    _owned_by(aws, "210987654321")
    with pytest.raises(AccessDeniedError) as info:
        storage.upload_dataset(_dataset(tmp_path / "t.jsonl"), f"s3://{BUCKET}/t.jsonl", transport=aws)
    assert info.value.http_status == 403 and info.value.operation == "PutObject"
    with pytest.raises(AccessDeniedError):
        storage.download_bytes(f"s3://{BUCKET}/t.jsonl", transport=aws)
    boto = boto3.client("s3", region_name="us-west-2")
    assert "Contents" not in boto.list_objects_v2(Bucket=BUCKET)  # nothing was written


def test_conditional_upload_reuses_the_same_data_and_refuses_other_data(
    aws: hf.BedrockTransport, tmp_path: Path
) -> None:
    uri = f"s3://{BUCKET}/staged/train.jsonl"
    first = storage.stage_dataset(_dataset(tmp_path / "a.jsonl"), uri, if_absent=True, transport=aws)
    again = storage.stage_dataset(_dataset(tmp_path / "b.jsonl"), uri, if_absent=True, transport=aws)
    assert again.sha256 == first.sha256
    with pytest.raises(ConflictError, match="already holds other data"):
        storage.stage_dataset(_dataset(tmp_path / "c.jsonl", tag="!"), uri, if_absent=True, transport=aws)
    assert storage.download_bytes(uri, transport=aws) == (tmp_path / "a.jsonl").read_bytes()
    head = storage.head_object(uri, transport=aws)
    assert head is not None and head["Metadata"][storage.SHA256_METADATA_KEY] == first.sha256


def test_conditional_upload_on_local_bedrock(transport: hf.BedrockTransport, tmp_path: Path) -> None:
    transport.call(
        "s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": transport.region}
    )
    uri = f"s3://{BUCKET}/staged/train.jsonl"
    storage.stage_dataset(_dataset(tmp_path / "a.jsonl"), uri, if_absent=True, transport=transport)
    with pytest.raises(ConflictError):
        storage.stage_dataset(_dataset(tmp_path / "c.jsonl", tag="!"), uri, if_absent=True, transport=transport)


def test_local_bedrock_refuses_a_wrong_bucket_owner(transport: hf.BedrockTransport, tmp_path: Path) -> None:
    transport.call(
        "s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": transport.region}
    )
    with pytest.raises(AccessDeniedError):
        storage.upload_dataset(
            _dataset(tmp_path / "a.jsonl"),
            f"s3://{BUCKET}/t.jsonl",
            expected_bucket_owner="210987654321",
            transport=transport,
        )
    assert storage.head_object(f"s3://{BUCKET}/t.jsonl", transport=transport) is None, "nothing was written"


def test_local_bedrock_serves_the_right_owner_and_refuses_a_wrong_one_on_every_call(
    transport: hf.BedrockTransport, tmp_path: Path
) -> None:
    transport.call(
        "s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": transport.region}
    )
    uri = f"s3://{BUCKET}/t.jsonl"
    storage.upload_dataset(_dataset(tmp_path / "a.jsonl"), uri, expected_bucket_owner=ACCOUNT, transport=transport)
    assert storage.head_object(uri, transport=transport) is not None  # the caller's own account, from STS
    wrong = "210987654321"
    with pytest.raises(AccessDeniedError):
        storage.head_object(uri, expected_bucket_owner=wrong, transport=transport)
    with pytest.raises(AccessDeniedError):
        storage.download_bytes(uri, expected_bucket_owner=wrong, transport=transport)
    with pytest.raises(AccessDeniedError):
        list(storage.list_objects(f"s3://{BUCKET}/", expected_bucket_owner=wrong, transport=transport))
