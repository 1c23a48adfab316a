"""On LocalBedrock: staged data is content-addressed and confirmed before submitting, and a create whose answer
is lost (or whose lookup fails) never makes a second job and says how to find out."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.jobs import CustomizationJob, _staging, _submit
from haiku_finetune.local import Faults
from haiku_finetune.storage import S3Uri

BUCKET = "haiku-staging-e2e"
STAGING = f"s3://{BUCKET}/staging/"


def _records(n: int, start: int = 0, label: str = "billing") -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: my invoice number {i} shows the wrong amount."},
                {"role": "assistant", "content": label},
            ]
        }
        for i in range(start, start + n)
    ]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base(transport: hf.BedrockTransport) -> dict[str, Any]:
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    output = f"s3://{BUCKET}/out/"
    role = iam.ensure_service_role("haiku-staging", training=STAGING, output=output, transport=transport)
    iam._touched.pop(role, None)  # no propagation window: these tests are about other retries
    return {"output_uri": output, "role_arn": role, "staging_uri": STAGING, "transport": transport}


@pytest.fixture
def env(base: dict[str, Any], local: Any) -> Iterator[dict[str, Any]]:
    yield dict(base)
    local.faults = None


def _object_sha(uri: str, t: hf.BedrockTransport) -> str:
    return hashlib.sha256(storage.download_bytes(uri, transport=t)).hexdigest()


def _jobs_named(local: Any, name: str) -> list[Any]:
    return [j for j in local.jobs() if (j["jobName"] if isinstance(j, dict) else j.name) == name]


def test_two_creates_racing_on_one_name_leave_the_first_jobs_data_unchanged(
    env: dict[str, Any], local: Any, tmp_path: Path
) -> None:
    t = env["transport"]
    files = [_write(tmp_path / f"train-{i}.jsonl", _records(40, label=f"label{i}")) for i in range(2)]
    shas = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    outcomes: list[Any] = [None, None]
    start = threading.Barrier(2)

    def create(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = CustomizationJob.create(
                **env, training_data=files[i], job_name="race-job", hyperparameters=hf.Hyperparameters(batch_size=8)
            )
        except hf.HaikuFinetuneError as error:
            outcomes[i] = error

    threads = [threading.Thread(target=create, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if isinstance(o, CustomizationJob)]
    assert len(winners) == 1, outcomes
    assert any(isinstance(o, hf.ConflictError) for o in outcomes), outcomes
    assert len(_jobs_named(local, "race-job")) == 1
    job = CustomizationJob.attach("race-job", transport=t)
    tagged = job.tags()["haiku-finetune:training-sha256"]
    assert tagged in shas
    # The job trains on the bytes it was created with; the other create's data went to its own key.
    assert job.training_uri == f"{STAGING}{tagged}/train.jsonl"
    assert _object_sha(job.training_uri, t) == tagged
    for sha in shas:
        assert _object_sha(f"{STAGING}{sha}/train.jsonl", t) == sha


def test_data_changed_after_staging_is_refused_and_nothing_is_created(
    env: dict[str, Any], local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = env["transport"]
    train = _write(tmp_path / "train.jsonl", _records(40, start=500))
    real = _staging.confirm_staged

    def tampered(uri: S3Uri, sha256: str, size: int, transport: hf.BedrockTransport) -> None:
        t.call("s3", "PutObject", Bucket=uri.bucket, Key=uri.key, Body=b"other bytes\n", ChecksumAlgorithm="SHA256")
        real(uri, sha256, size, transport)

    monkeypatch.setattr(_submit, "confirm_staged", tampered)
    before = len(local.jobs())
    with pytest.raises(hf.PlanCheckError, match="does not hold the data that was validated"):
        CustomizationJob.create(**env, training_data=train, hyperparameters=hf.Hyperparameters(batch_size=8))
    assert len(local.jobs()) == before


def test_same_data_is_staged_once(env: dict[str, Any], local: Any, tmp_path: Path) -> None:
    t = env["transport"]
    train = _write(tmp_path / "train.jsonl", _records(40, start=900))
    hp = hf.Hyperparameters(batch_size=8)
    first = CustomizationJob.create(**env, training_data=train, hyperparameters=hp)
    second = CustomizationJob.create(**env, training_data=train, hyperparameters=hp)
    assert first.name != second.name and first.training_uri == second.training_uri
    assert second.manifest()["datasets"]["training"]["records"] == 40
    assert _object_sha(first.training_uri, t) == hashlib.sha256(train.read_bytes()).hexdigest()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_create_answer_lost_gives_exactly_one_job_and_its_handle(
    env: dict[str, Any], local: Any, tmp_path: Path, seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="haiku_finetune.jobs")
    train = _write(tmp_path / "train.jsonl", _records(40, start=1000 + seed))
    local.faults = Faults(lose_response={"CreateModelCustomizationJob": 1.0}, seed=seed)
    name = f"lost-answer-{seed}"
    job = CustomizationJob.create(
        **env, training_data=train, job_name=name, hyperparameters=hf.Hyperparameters(batch_size=8)
    )
    made = _jobs_named(local, name)
    assert len(made) == 1
    assert job.name == name and job.arn == (made[0]["jobArn"] if isinstance(made[0], dict) else made[0].arn)
    assert job.refresh().status in ("InProgress", "Completed")
    # The name was fixed and logged before the call; the handle came from the lookup by name.
    assert f"creating customization job {name}" in caplog.text
    assert f"the answer to CreateModelCustomizationJob was lost; found job {name}" in caplog.text


def test_repeating_create_after_a_lost_answer_returns_the_same_job(
    env: dict[str, Any], local: Any, tmp_path: Path
) -> None:
    train = _write(tmp_path / "train.jsonl", _records(40, start=2000))
    args = {**env, "training_data": train, "job_name": "repeat-job", "custom_model_name": "repeat-model"}
    # The first create's answer and the lookup's are both lost: the caller is told it cannot be known...
    local.faults = Faults(lose_response={"CreateModelCustomizationJob": 1.0, "GetModelCustomizationJob": 1.0})
    with pytest.raises(hf.ConnectionFailedError) as caught:
        CustomizationJob.create(**args, hyperparameters=hf.Hyperparameters(batch_size=8))
    message = str(caught.value)
    assert "aws bedrock get-model-customization-job --job-identifier repeat-job" in message
    assert "aws bedrock stop-model-customization-job --job-identifier repeat-job" in message
    # ...and calling create() again with the same arguments gets the job the first one made, not a second one.
    local.faults = None
    job = CustomizationJob.create(**args, hyperparameters=hf.Hyperparameters(batch_size=8))
    made = _jobs_named(local, "repeat-job")
    assert len(made) == 1 and job.name == "repeat-job"
