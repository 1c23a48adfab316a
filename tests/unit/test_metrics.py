"""TrainingMetrics: CSV parsing, both validation-CSV locations, early-stopping explanations, pandas, plots."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import haiku_finetune as hf
from haiku_finetune import metrics
from haiku_finetune.metrics import TrainingMetrics
from tests.fakes import FakeClock

DOC_LOSSES = [0.9, 0.8, 0.7, 0.66, 0.64, 0.65, 0.65]
JOB_ARN = (
    "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/anthropic.claude-3-haiku-20240307-v1:0:200k/"
    "abcdefghijkl"
)


def _training_csv(epochs: int = 2, steps: int = 3) -> str:
    lines = ["step_number,epoch_number,training_loss,perplexity"]
    step = 0
    for epoch in range(epochs):
        for _ in range(steps):
            lines.append(f"{step},{epoch},{2.0 - step * 0.1:.3f},{7.0 - step * 0.2:.3f}")
            step += 1
    return "\n".join(lines) + "\n"


def _validation_csv(losses: list[float], steps_per_epoch: int = 3) -> str:
    lines = ["step_number,epoch_number,validation_loss,perplexity"]
    lines += [f"{(i + 1) * steps_per_epoch - 1},{i},{loss},{2.7**loss:.4f}" for i, loss in enumerate(losses)]
    return "\n".join(lines) + "\n"


def _metrics(losses: list[float], **hp: Any) -> TrainingMetrics:
    rows = metrics.parse_validation_csv(_validation_csv(losses))
    return TrainingMetrics(training=[], validation=rows, hyperparameters=hf.Hyperparameters(**hp) if hp else None)


def test_parse_rows_in_step_order() -> None:
    shuffled = "step_number,epoch_number,training_loss,perplexity\n2,0,1.5,4.4\n0,0,2.0,7.3\n\n1,0,1.7,5.4\n"
    rows = metrics.parse_training_csv(shuffled)
    assert [r.step for r in rows] == [0, 1, 2]
    assert rows[0] == metrics.TrainingRow(step=0, epoch=0, training_loss=2.0, perplexity=7.3)


def test_parse_tolerates_bom_case_spaces_and_missing_perplexity() -> None:
    text = "\ufeff Step_Number , EPOCH_NUMBER,validation_loss\n5,1,0.5\n"
    (row,) = metrics.parse_validation_csv(text)
    assert (row.step, row.epoch, row.validation_loss, row.perplexity) == (5, 1, 0.5, None)
    assert metrics.parse_training_csv("") == []


def test_parse_errors_name_file_and_line() -> None:
    with pytest.raises(ValueError, match=r"f\.csv: missing column\(s\) \['training_loss'\]"):
        metrics.parse_training_csv("step_number,epoch_number,loss\n0,0,1\n", source="f.csv")
    with pytest.raises(ValueError, match=r"f\.csv, line 3"):
        metrics.parse_training_csv("step_number,epoch_number,training_loss\n0,0,1\n1,0,abc\n", source="f.csv")
    with pytest.raises(ValueError, match="whole number"):
        metrics.parse_training_csv("step_number,epoch_number,training_loss\n0.5,0,1\n")


def test_epoch_losses_take_the_last_row_of_each_epoch() -> None:
    text = "step_number,epoch_number,validation_loss\n3,1,0.8\n1,1,0.9\n7,2,0.6\n5,2,0.7\n"
    m = TrainingMetrics(training=[], validation=metrics.parse_validation_csv(text))
    assert m.epoch_validation_losses() == [0.8, 0.6]
    assert m.best_validation_loss == 0.6 and m.best_epoch == 2


def test_epoch_training_losses_are_means() -> None:
    m = TrainingMetrics(training=metrics.parse_training_csv(_training_csv(epochs=2, steps=2)))
    assert m.epoch_training_losses() == pytest.approx([1.95, 1.75])
    assert "4 training steps over 2 epoch(s)" in str(m)


def test_table_has_one_row_per_epoch_and_marks_the_best() -> None:
    m = TrainingMetrics(
        training=metrics.parse_training_csv(_training_csv(epochs=3, steps=2)),
        validation=metrics.parse_validation_csv(_validation_csv([0.9, 0.7, 0.8], steps_per_epoch=2)),
    )
    lines = m.table().splitlines()
    assert lines[0].split() == ["epoch", "steps", "mean", "training", "loss", "validation", "loss", "note"]
    assert set(lines[1]) <= {"-", " "}
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert [row[1] for row in rows] == ["2", "2", "2"]
    assert [row[3] for row in rows] == ["0.9", "0.7", "0.8"]
    assert [row[4:] for row in rows] == [[], ["best"], []]


def test_table_without_validation_shows_dashes() -> None:
    m = TrainingMetrics(training=metrics.parse_training_csv(_training_csv(epochs=2, steps=1)))
    rows = [line.split() for line in m.table().splitlines()[2:]]
    assert [row[3] for row in rows] == ["-", "-"]
    assert "best" not in m.table()


# -- the documented early-stopping table -------------------------------------------------------------------


def test_documented_scenario_1() -> None:
    result = _metrics(
        DOC_LOSSES, epoch_count=7, early_stopping_threshold=0.0, early_stopping_patience=2
    ).early_stopping()
    assert (result.stopped_epoch, result.best_epoch, result.best_loss) == (7, 5, 0.64)
    assert "stopped early at epoch 7" in result.explanation and "epoch 5" in result.explanation


def test_documented_scenario_2() -> None:
    m = _metrics(DOC_LOSSES[:4], epoch_count=7, early_stopping_threshold=0.05, early_stopping_patience=1)
    result = m.early_stopping()
    assert (result.stopped_epoch, result.best_epoch, result.best_loss) == (4, 4, 0.66)
    assert "7 epochs were configured; 4 ran." in result.explanation


def test_what_if_overrides() -> None:
    m = _metrics(DOC_LOSSES)
    assert m.early_stopping(threshold=0.05, patience=1).stopped_epoch == 4
    assert m.early_stopping().threshold == 0.001  # documented default without the job's settings


def test_explanation_flags_metrics_that_do_not_fit_the_settings() -> None:
    short = _metrics([0.9, 0.8, 0.7], epoch_count=5).early_stopping()
    assert short.stopped_epoch is None and "3 of the 5 configured epochs" in short.explanation
    long = _metrics(DOC_LOSSES, epoch_count=7, early_stopping_threshold=0.05, early_stopping_patience=1)
    assert "settings may differ" in long.early_stopping().explanation


def test_no_validation_metrics_means_no_early_stopping() -> None:
    with pytest.raises(ValueError, match="validation dataset"):
        TrainingMetrics(training=[]).early_stopping()
    assert TrainingMetrics(training=[]).best_validation_loss is None


# -- files and S3 ---------------------------------------------------------------------------------------------


def test_from_csv(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(_training_csv())
    (tmp_path / "v.csv").write_text(_validation_csv([0.9, 0.8]))
    m = TrainingMetrics.from_csv(tmp_path / "t.csv", tmp_path / "v.csv")
    assert len(m.training) == 6 and m.epoch_validation_losses() == [0.9, 0.8]
    assert m.sources == {"training": str(tmp_path / "t.csv"), "validation": str(tmp_path / "v.csv")}
    with pytest.raises(ValueError, match="at least one"):
        TrainingMetrics.from_csv()


def test_job_output_prefix() -> None:
    assert metrics.job_output_prefix("s3://b-1/out", JOB_ARN) == "s3://b-1/out/model-customization-job-abcdefghijkl/"
    with pytest.raises(ValueError, match="job id"):
        metrics.job_output_prefix("s3://b-1/out", "arn:aws:bedrock:us-west-2:1:x")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, hf.BedrockTransport]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        session = boto3.Session(region_name="us-west-2")
        client = session.client("s3")
        client.create_bucket(Bucket="b-1", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        clock = FakeClock()
        retry = hf.RetryPolicy(sleep=clock.sleep, clock=clock.monotonic)
        yield client, hf.BedrockTransport(session=session, region="us-west-2", clock=clock, retry=retry)


@pytest.mark.parametrize("relative", metrics.VALIDATION_METRICS_PATHS)
def test_read_from_either_validation_location(s3: tuple[Any, hf.BedrockTransport], relative: str) -> None:
    client, transport = s3
    folder = "out/model-customization-job-abcdefghijkl/"
    client.put_object(Bucket="b-1", Key=folder + metrics.TRAINING_METRICS_PATH, Body=_training_csv().encode())
    client.put_object(Bucket="b-1", Key=folder + relative, Body=_validation_csv([0.9, 0.7]).encode())
    m = TrainingMetrics.read("s3://b-1/out/", JOB_ARN, transport=transport)
    assert len(m.training) == 6 and m.epoch_validation_losses() == [0.9, 0.7]
    assert m.sources["validation"] == f"s3://b-1/{folder}{relative}" and m.job_arn == JOB_ARN


def test_read_without_validation_and_without_anything(s3: tuple[Any, hf.BedrockTransport]) -> None:
    client, transport = s3
    with pytest.raises(hf.ResourceNotFoundError, match="no training metrics at s3://b-1/out/model-customization"):
        TrainingMetrics.read("s3://b-1/out", JOB_ARN, transport=transport)
    client.put_object(
        Bucket="b-1",
        Key="out/model-customization-job-abcdefghijkl/" + metrics.TRAINING_METRICS_PATH,
        Body=_training_csv().encode(),
    )
    m = TrainingMetrics.read("s3://b-1/out", JOB_ARN, transport=transport)
    assert m.validation == [] and "validation" not in m.sources


# -- extras ----------------------------------------------------------------------------------------------------


def test_to_pandas_long_form() -> None:
    m = TrainingMetrics(
        training=metrics.parse_training_csv(_training_csv()),
        validation=metrics.parse_validation_csv(_validation_csv([0.9, 0.8])),
    )
    frame = m.to_pandas()
    assert list(frame.columns) == ["split", "step", "epoch", "loss", "perplexity"]
    assert frame["split"].value_counts().to_dict() == {"training": 6, "validation": 2}


def _hide(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == prefix or name.startswith(prefix + "."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "pandas")
    with pytest.raises(hf.MissingExtraError, match=r"haiku-finetune\[pandas\]"):
        TrainingMetrics(training=[]).to_pandas()


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(hf.MissingExtraError, match=r"haiku-finetune\[plot\]"):
        TrainingMetrics(training=[]).plot()


def test_plot_writes_a_png_and_marks_the_best_epoch(tmp_path: Path) -> None:
    m = TrainingMetrics(
        training=metrics.parse_training_csv(_training_csv(epochs=7)),
        validation=metrics.parse_validation_csv(_validation_csv(DOC_LOSSES)),
        job_arn=JOB_ARN,
    )
    target = tmp_path / "plots" / "loss.png"
    figure = m.plot(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in target.parent.iterdir()] == ["loss.png"]
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert "best: epoch 5" in texts
    assert figure._suptitle.get_text() == "Customization job abcdefghijkl"


def test_plot_without_validation(tmp_path: Path) -> None:
    figure = TrainingMetrics(training=metrics.parse_training_csv(_training_csv())).plot(tmp_path / "x.svg")
    assert (tmp_path / "x.svg").read_text().lstrip().startswith("<?xml")
    assert any(t.get_text() == "no validation metrics" for ax in figure.axes for t in ax.texts)
