"""log_job_to_mlflow against a real local MLflow store (a SQLite tracking URI under tmp_path), read back.

A fine-tuning job runs on LocalBedrock with the documented early-stopping example's validation losses, so the
verdict (stopped at epoch 7, best epoch 5) and every logged loss are known; an evaluation report goes with it.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import haiku_finetune as hf
from haiku_finetune.errors import MissingExtraError
from haiku_finetune.evaluation import ExactMatch, evaluate
from haiku_finetune.model import FineTunedModel
from haiku_finetune.tracking import log_job_to_mlflow

LOSSES = [0.9, 0.8, 0.7, 0.66, 0.64, 0.65, 0.65]
LOCAL_BEDROCK_OPTIONS: dict[str, Any] = {"validation_losses": LOSSES}
BUCKET = "mlflow-runs"

# SQLAlchemy 2.1 deprecates the ``noload`` strategy MLflow's SQL store still uses (mlflow 3.18); nothing to do
# on our side, and only this warning is let through.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning",
)


def _records(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "user", "content": f"Classify ticket {i}: my card was charged twice."},
                {"role": "assistant", "content": "billing"},
            ]
        }
        for i in range(offset, offset + n)
    ]


def _write(path: Path, records: list[dict[str, Any]]) -> bytes:
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path.write_bytes(data)
    return data


@pytest.fixture(scope="module")
def finished_job(
    local: Any, transport: hf.BedrockTransport, tmp_path_factory: pytest.TempPathFactory
) -> tuple[hf.CustomizationJob, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("data")
    data = {
        "training": _write(folder / "train.jsonl", _records(40)),
        "validation": _write(folder / "validation.jsonl", _records(32, offset=100)),
    }
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    role = hf.iam.ensure_service_role(
        "mlflow-run", training=f"s3://{BUCKET}/staging/", output=f"s3://{BUCKET}/out/", transport=transport
    )
    job = hf.CustomizationJob.create(
        training_data=str(folder / "train.jsonl"),
        validation_data=str(folder / "validation.jsonl"),
        staging_uri=f"s3://{BUCKET}/staging/",
        output_uri=f"s3://{BUCKET}/out/",
        role_arn=role,
        hyperparameters=hf.Hyperparameters(epoch_count=10, batch_size=8),
        job_name="mlflow-logged",
        custom_model_name="mlflow-logged",
        transport=transport,
    )
    job.wait(progress=False)
    return job, data


def test_a_job_logged_to_a_sqlite_store_reads_back_whole(
    finished_job: tuple[hf.CustomizationJob, dict[str, bytes]], transport: hf.BedrockTransport, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    from mlflow.tracking import MlflowClient

    job, data = finished_job
    metrics = job.metrics()
    report = evaluate(
        {"base": FineTunedModel.base(transport=transport)}, _records(4), scorers=[ExactMatch()], progress=False
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_job_to_mlflow(
        job,
        tracking_uri=uri,
        experiment="tickets",
        evaluation=report,
        tags={"team": "support"},
        artifact_location=(tmp_path / "artifacts").as_uri(),
    )

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "mlflow-logged"
    assert client.get_experiment(run.info.experiment_id).name == "tickets"
    params = run.data.params
    assert params["hp.epoch_count"] == "10"
    assert params["hp.batch_size"] == "8"
    assert params["hp.learning_rate_multiplier"] == "1.0"  # resolved: the default, though not sent
    assert params["base_model.key"] == "claude-3-haiku"
    assert params["base_model.model_id"] == "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert params["base_model.provisional"] == "False"
    for split, content in data.items():
        assert params[f"data.{split}.sha256"] == hashlib.sha256(content).hexdigest()
    assert params["data.training.records"] == "40"
    assert params["data.validation.records"] == "32"
    assert params["early_stopping.stopped_early"] == "True"
    assert params["early_stopping.stopped_epoch"] == "7"
    assert params["early_stopping.best_epoch"] == "5"
    assert run.data.tags["team"] == "support"
    assert run.data.tags["haiku_finetune.job_arn"] == job.arn

    history = client.get_metric_history(run_id, "training_loss")
    assert [(m.step, m.value) for m in history] == [(r.step, r.training_loss) for r in metrics.training]
    epochs = client.get_metric_history(run_id, "epoch_validation_loss")
    assert [(m.step, m.value) for m in epochs] == list(enumerate(LOSSES, start=1))
    assert [m.step for m in client.get_metric_history(run_id, "validation_loss")] == [
        r.step for r in metrics.validation
    ]
    assert run.data.metrics["best_validation_loss"] == pytest.approx(0.64)
    assert run.data.metrics["eval.base.exact_match"] == report.summary["base"].scores["exact_match"].mean

    top = {a.path for a in client.list_artifacts(run_id)}
    assert {"manifest.json", "early_stopping.txt", "metrics", "evaluation"} <= top
    assert {a.path for a in client.list_artifacts(run_id, "metrics")} == {"metrics/loss.png", "metrics/metrics.txt"}
    assert {a.path for a in client.list_artifacts(run_id, "evaluation")} == {
        "evaluation/outputs.jsonl",
        "evaluation/summary.json",
    }
    local_copy = Path(client.download_artifacts(run_id, "manifest.json", str(tmp_path / "back")))
    manifest = orjson.loads(local_copy.read_bytes())
    assert manifest["job"]["arn"] == job.arn
    assert manifest["datasets"]["training"]["sha256"] == hashlib.sha256(data["training"]).hexdigest()
    loaded = hf.evaluation.EvaluationReport.load(client.download_artifacts(run_id, "evaluation", str(tmp_path / "ev")))
    assert loaded.scores("base", "exact_match") == report.scores("base", "exact_match")


def test_without_mlflow_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.entities", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'haiku-finetune\[mlflow\]'"):
        log_job_to_mlflow(object())  # type: ignore[arg-type]
