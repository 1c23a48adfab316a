"""Every S3 call the library makes to a user's bucket names the expected owner — batch-inference input too — and
none is made outside ``storage`` (issue 14, point 7). LocalBedrock in this process; its S3 refuses a wrong owner."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import haiku_finetune as hf
from haiku_finetune import storage
from haiku_finetune.evaluation.batch_inference import submit_batch_inference
from haiku_finetune.local import LocalBedrock
from tests.emulator.test_local_scheduler import BUCKET, make_throughput
from tests.fakes import s3_calls

PACKAGE = Path(hf.__file__).parent
ROLE = "arn:aws:iam::123456789012:role/bedrock"
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def local() -> Iterator[LocalBedrock]:
    with LocalBedrock(pt_ready_seconds=0) as emulator:
        make_throughput(emulator)  # makes the bucket and its training data
        yield emulator


def test_batch_inference_input_names_the_callers_account(local: LocalBedrock) -> None:
    t = local.transport()
    calls = s3_calls(t)
    submit_batch_inference(
        "anthropic.claude-3-haiku-20240307-v1:0", [BODY], staging_uri=f"s3://{BUCKET}/b/", role_arn=ROLE, transport=t
    )
    puts = [c for c in calls if c["op"] == "PutObject"]
    assert len(puts) == 1 and puts[0]["ExpectedBucketOwner"] == t.account_id()
    assert puts[0]["ServerSideEncryption"] == "AES256" and puts[0]["ChecksumAlgorithm"] == "SHA256"


def test_upload_bytes_to_a_bucket_of_another_account_is_refused(local: LocalBedrock) -> None:
    t = local.transport()
    with pytest.raises(hf.errors.AccessDeniedError):
        storage.upload_bytes(f"s3://{BUCKET}/x.jsonl", b"{}\n", expected_bucket_owner="999999999999", transport=t)
    assert not storage.object_exists(f"s3://{BUCKET}/x.jsonl", transport=t)


def test_from_manifest_reads_s3_data_naming_the_owner(local: LocalBedrock, tmp_path: Path) -> None:
    t = local.transport()
    job = hf.CustomizationJob.create(
        training_data=f"s3://{BUCKET}/train.jsonl",
        output_uri=f"s3://{BUCKET}/out/",
        role_arn=ROLE,
        job_name="manifested",
        skip_checks=True,
        transport=t,
    )
    manifest = job.manifest()
    calls = s3_calls(t)
    again = hf.CustomizationJob.from_manifest(
        manifest, base_model="anthropic.claude-3-haiku-20240307-v1:0:200k", job_name="manifested-again", transport=t
    )
    assert again.name == "manifested-again"
    gets = [c for c in calls if c["op"] == "GetObject"]
    assert gets and all(c["ExpectedBucketOwner"] == t.account_id() for c in gets), calls


def test_no_module_but_storage_calls_s3() -> None:
    """A new S3 call elsewhere would skip the owner check: only ``storage`` may make one (the demo makes its own
    emulated bucket with CreateBucket, which takes no expected owner)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in ("storage.py", "_transport.py") or relative.startswith("local/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == "s3"
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("call", "paginate")
            ):
                operation = node.args[1].value if isinstance(node.args[1], ast.Constant) else "?"
                found.append((relative, operation))
    assert {operation for _, operation in found} <= {"CreateBucket"}, found
