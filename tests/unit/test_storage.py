"""storage: S3 URIs, checksummed and encrypted uploads, downloads (moto, in process; no network)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import haiku_finetune as hf
from haiku_finetune import storage
from haiku_finetune.storage import S3Uri
from tests.fakes import s3_calls
from tests.unit.conftest import MOTO_BUCKET

BUCKET = MOTO_BUCKET


def _s3(transport: hf.BedrockTransport) -> Any:
    return transport.client("s3")


# -- S3Uri ---------------------------------------------------------------------------------------------------


def test_uri_parts() -> None:
    uri = S3Uri("s3://my-bucket/a/b/train.jsonl")
    assert (uri.bucket, uri.key, uri.name, uri.is_prefix) == ("my-bucket", "a/b/train.jsonl", "train.jsonl", False)
    assert isinstance(uri, str) and uri == "s3://my-bucket/a/b/train.jsonl"
    assert uri.arn() == "arn:aws:s3:::my-bucket/a/b/train.jsonl"
    assert S3Uri("s3://my-bucket").is_prefix and S3Uri("s3://my-bucket") == "s3://my-bucket/"
    assert S3Uri("s3://b-1/x").as_prefix() == "s3://b-1/x/"
    assert S3Uri("s3://b-1/x").joinpath("y", "/z.csv") == "s3://b-1/x/y/z.csv"
    assert S3Uri.of("b-1", "/k") == "s3://b-1/k"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("https://bucket/key", "not an S3 URI"),
        ("s3:/bucket/key", "did you mean"),
        ("s3:///key", "no bucket"),
        ("s3://Bucket/key", "invalid bucket name"),
        ("s3://ab/key", "invalid bucket name"),
        ("s3://a..b/key", "invalid bucket name"),
        ("s3://bucket-/key", "invalid bucket name"),
        ("s3://192.168.1.1/key", "IP address"),
        ("s3://bucket/" + "k" * 1025, "1,024-byte"),
    ],
)
def test_bad_uris_say_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        S3Uri(text)


def test_bedrock_pattern_is_narrower_than_s3() -> None:
    assert S3Uri("s3://bucket/data/train-1_(v2).jsonl").bedrock_problem() is None
    assert S3Uri("s3://bucket/").bedrock_problem() is None
    problem = S3Uri("s3://bucket/my data/train.jsonl").bedrock_problem()
    assert problem is not None and "' '" in problem
    double = S3Uri("s3://bucket/a//b.jsonl").bedrock_problem()
    assert double is not None and "//" in double


def test_uri_in_pydantic_model() -> None:
    from pydantic import BaseModel

    class Holder(BaseModel):
        uri: S3Uri

    held = Holder(uri="s3://bucket/k")
    assert isinstance(held.uri, S3Uri) and held.uri.key == "k"
    assert held.model_dump(mode="json") == {"uri": "s3://bucket/k"}
    with pytest.raises(ValueError, match="not an S3 URI"):
        Holder(uri="/tmp/x")


# -- upload --------------------------------------------------------------------------------------------------


def _file(tmp_path: Path, data: bytes = b'{"messages": []}\n') -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    return path


def test_upload_sends_sha256_and_sse_s3(aws: hf.BedrockTransport, tmp_path: Path) -> None:
    data = b'{"a": 1}\n' * 10
    seen = s3_calls(aws)
    staged = storage.stage_dataset(_file(tmp_path, data), f"s3://{BUCKET}/in/", validate=False, transport=aws)
    assert staged.uri == f"s3://{BUCKET}/in/train.jsonl"
    assert staged.sha256 == hashlib.sha256(data).hexdigest() and staged.size == len(data)
    (put,) = [s for s in seen if s["op"] == "PutObject"]
    assert put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert put["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in put
    head = _s3(aws).head_object(Bucket=BUCKET, Key="in/train.jsonl", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert storage.download_bytes(staged.uri, transport=aws) == data


def test_upload_with_kms_key_and_owner(aws: hf.BedrockTransport, tmp_path: Path) -> None:
    seen = s3_calls(aws)
    uri = storage.upload_dataset(
        _file(tmp_path),
        f"s3://{BUCKET}/exact.jsonl",
        kms_key_id="alias/haiku",
        expected_bucket_owner="123456789012",
        validate=False,
        transport=aws,
    )
    assert uri == f"s3://{BUCKET}/exact.jsonl"
    (put,) = [s for s in seen if s["op"] == "PutObject"]
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == "alias/haiku"
    assert put["ExpectedBucketOwner"] == "123456789012"


def test_large_file_goes_multipart_with_part_checksums(
    aws: hf.BedrockTransport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.s3.models

    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 1024)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    data = bytes(range(256)) * 10  # 2,560 bytes: three parts of at most 1,024
    seen = s3_calls(aws)
    staged = storage.stage_dataset(_file(tmp_path, data), f"s3://{BUCKET}/big.jsonl", validate=False, transport=aws)
    ops = [s["op"] for s in seen]
    assert ops == ["CreateMultipartUpload", "UploadPart", "UploadPart", "UploadPart", "CompleteMultipartUpload"]
    assert all(s.get("ChecksumSHA256") for s in seen if s["op"] == "UploadPart")
    assert seen[0]["ServerSideEncryption"] == "AES256"
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.download_bytes(staged.uri, transport=aws) == data


def test_failed_multipart_is_aborted(aws: hf.BedrockTransport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 1024)
    seen = s3_calls(aws)

    def _refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InvalidRequest", "Message": "boom"}}, "UploadPart")

    aws.client("s3").meta.events.register("before-call.s3.UploadPart", _refuse)
    with pytest.raises(hf.ServiceError):
        storage.upload_dataset(_file(tmp_path, b"x" * 3000), f"s3://{BUCKET}/big.jsonl", validate=False, transport=aws)
    assert seen[-1]["op"] == "AbortMultipartUpload"


def test_missing_file_and_wrong_source(aws: hf.BedrockTransport, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        storage.upload_dataset(tmp_path / "nope.jsonl", f"s3://{BUCKET}/", validate=False, transport=aws)
    with pytest.raises(TypeError, match="DatasetBuilder"):
        storage.upload_dataset(42, f"s3://{BUCKET}/", transport=aws)  # type: ignore[arg-type]


# -- read ----------------------------------------------------------------------------------------------------


def test_exists_list_download_region(aws: hf.BedrockTransport, tmp_path: Path) -> None:
    s3: Any = aws.client("s3")
    s3.put_object(Bucket=BUCKET, Key="out/a.csv", Body=b"\xef\xbb\xbfstep,loss\n")
    s3.put_object(Bucket=BUCKET, Key="out/b.csv", Body=b"x")
    assert storage.object_exists(f"s3://{BUCKET}/out/a.csv", transport=aws)
    assert not storage.object_exists(f"s3://{BUCKET}/out/zzz.csv", transport=aws)
    assert storage.object_exists(f"s3://{BUCKET}/out/", transport=aws)
    assert not storage.object_exists(f"s3://{BUCKET}/none/", transport=aws)
    assert [o["Key"] for o in storage.list_objects(f"s3://{BUCKET}/out/", transport=aws)] == ["out/a.csv", "out/b.csv"]
    assert len(list(storage.list_objects(f"s3://{BUCKET}/out/", limit=1, transport=aws))) == 1
    assert storage.download_text(f"s3://{BUCKET}/out/a.csv", transport=aws) == "step,loss\n"
    target = storage.download_file(f"s3://{BUCKET}/out/b.csv", tmp_path / "d" / "b.csv", transport=aws)
    assert target.read_bytes() == b"x" and [p.name for p in target.parent.iterdir()] == ["b.csv"]
    assert storage.head_object(f"s3://{BUCKET}/out/none", transport=aws) is None
    with pytest.raises(hf.ResourceNotFoundError):
        storage.download_bytes(f"s3://{BUCKET}/out/none", transport=aws)
    assert storage.bucket_region(BUCKET, transport=aws) == "us-west-2"
    boto3.Session(region_name="us-east-1").client("s3").create_bucket(Bucket="east-bucket")
    assert storage.bucket_region("east-bucket", transport=aws) == "us-east-1"


# -- validation before upload (the real dataset validator) -----------------------------------------------------


def _valid_records(n: int) -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": f"answer {i}"}]}
        for i in range(n)
    ]


def test_invalid_file_is_refused_and_nothing_is_uploaded(aws: hf.BedrockTransport, tmp_path: Path) -> None:
    import json

    records = _valid_records(40)
    records[6] = {"messages": [{"role": "assistant", "content": "no question"}]}
    path = _file(tmp_path, "".join(json.dumps(r) + "\n" for r in records).encode())
    with pytest.raises(hf.DatasetValidationError, match="line 7") as caught:
        storage.upload_dataset(path, f"s3://{BUCKET}/in/", transport=aws)
    assert caught.value.report is not None and caught.value.issues
    assert not storage.object_exists(f"s3://{BUCKET}/in/", transport=aws)


def test_builder_is_validated_written_and_uploaded(aws: hf.BedrockTransport) -> None:
    builder = hf.DatasetBuilder.from_records(_valid_records(40))
    staged = storage.stage_dataset(builder, f"s3://{BUCKET}/in/", split="validation", transport=aws)
    assert staged.uri == f"s3://{BUCKET}/in/validation-{builder.sha256()[:12]}.jsonl"
    assert staged.sha256 == builder.sha256() and staged.records == 40
    assert storage.download_bytes(staged.uri, transport=aws) == builder.to_jsonl_bytes()
    too_few = hf.DatasetBuilder.from_records(_valid_records(3))
    with pytest.raises(hf.DatasetValidationError):
        storage.upload_dataset(too_few, f"s3://{BUCKET}/in/few.jsonl", transport=aws)
