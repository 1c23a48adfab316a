"""Experiment tracking: log a customization job to an MLflow run.

`log_job_to_mlflow` records what a fine-tune was and how it went, in one run: the resolved
hyperparameters, the base model profile, the datasets' SHA-256s and record counts (from the job's manifest),
training and validation losses as metrics with their steps (and one value per epoch), the early-stopping verdict,
and the loss plot, the manifest and an evaluation report as artifacts.

MLflow is optional (the ``mlflow`` extra: ``mlflow-skinny``, which logs to a tracking server, plus SQLAlchemy and
Alembic for a local ``sqlite:///`` store); it is imported inside the function. This module makes no AWS call of
its own: the job reads its manifest and metrics through its own transport. It never changes MLflow's global
state (active run, tracking URI): everything goes through one ``MlflowClient``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import atomic_write
from ._version import __version__
from .base_models import find_profile
from .errors import MissingExtraError, ResourceNotFoundError

if TYPE_CHECKING:
    from .evaluation.report import EvaluationReport
    from .jobs.job import CustomizationJob
    from .metrics import TrainingMetrics

__all__ = ["DEFAULT_EXPERIMENT", "log_job_to_mlflow"]

_log = logging.getLogger(__name__)

#: The experiment runs go to when none is named.
DEFAULT_EXPERIMENT = "haiku-finetune"

# MLflow's log_batch limits per call (mlflow.utils.validation: 1000 metrics, 100 params, 100 tags).
_BATCH_METRICS = 1000
_BATCH_PARAMS = 100


def log_job_to_mlflow(
    job: CustomizationJob,
    *,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    evaluation: EvaluationReport | None = None,
    tags: Mapping[str, str] | None = None,
    artifact_location: str | None = None,
) -> str:
    """Log a customization job to a new MLflow run and return the run's id.

    Params: ``hp.<name>`` (every hyperparameter's effective value), ``base_model.key`` / ``.model_id`` /
    ``.provisional``, ``data.<split>.sha256`` / ``.records`` / ``.uri``, ``job.name`` / ``.arn``, ``region``,
    ``custom_model.arn``, ``early_stopping.*``. Metrics: ``training_loss`` and ``validation_loss`` at their
    step numbers, ``epoch_training_loss`` / ``epoch_validation_loss`` at epoch 1, 2, ..., ``best_validation_loss``,
    and ``eval.<model>.<scorer>`` means when an evaluation is given. Artifacts: ``manifest.json``,
    ``early_stopping.txt``, ``metrics/loss.png`` (with the ``plot`` extra), ``metrics/metrics.txt``, and the
    evaluation report's files under ``evaluation/``.

    A job whose metrics are not in S3 yet (still running) is logged without metrics; the run's
    ``haiku_finetune.metrics`` tag says so.

    Args:
        job: The job (completed, for metrics and an early-stopping verdict).
        run_name: The run's name (default: the job's name).
        tracking_uri: Where to log (e.g. ``sqlite:///mlflow.db``, ``http://mlflow:5000``); default: MLflow's own
            (``MLFLOW_TRACKING_URI``, else its default).
        experiment: The experiment's name (created when missing; default ``haiku-finetune``).
        evaluation: An evaluation report to log with the job (its summary as metrics, its files as artifacts).
        tags: Extra run tags.
        artifact_location: Where a new experiment keeps its artifacts (e.g. ``file:///data/mlflow-artifacts``
            or ``s3://bucket/mlflow/``); default: the store's (for a ``sqlite:///`` store MLflow's default is
            ``./mlruns`` under the current directory). An existing experiment keeps its own.

    Returns:
        The MLflow run id.

    Raises:
        MissingExtraError: MLflow is not installed (``pip install 'haiku-finetune[mlflow]'``).
        ServiceError: Reading the job's description or metrics failed.
    """
    try:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient
    except ImportError as error:
        raise MissingExtraError("log_job_to_mlflow()", "mlflow", "mlflow") from error

    manifest = job.manifest()
    metrics = _metrics_or_none(job)
    client = MlflowClient(tracking_uri=tracking_uri)
    name = experiment or DEFAULT_EXPERIMENT
    found = client.get_experiment_by_name(name)
    experiment_id = (
        found.experiment_id
        if found is not None
        else client.create_experiment(name, artifact_location=artifact_location)
    )
    run_tags = {
        "haiku_finetune.version": __version__,
        "haiku_finetune.job_arn": job.arn,
        "haiku_finetune.job_status": str(manifest["job"]["status"]),
        "haiku_finetune.metrics": "logged" if metrics is not None else "not available yet",
        **dict(tags or {}),
    }
    run = client.create_run(experiment_id, run_name=run_name or job.name, tags=run_tags)
    run_id: str = run.info.run_id
    try:
        params = _params(manifest, metrics)
        now = int(time.time() * 1000)
        values = _metric_values(metrics, evaluation)
        for chunk in _chunks(sorted(params.items()), _BATCH_PARAMS):
            client.log_batch(run_id, params=[Param(k, v) for k, v in chunk], synchronous=True)
        for chunk in _chunks(values, _BATCH_METRICS):
            client.log_batch(run_id, metrics=[Metric(k, v, now, s) for k, v, s in chunk], synchronous=True)
        with tempfile.TemporaryDirectory(prefix="haiku-mlflow-") as folder:
            for path, artifact_dir in _artifacts(Path(folder), manifest, metrics, evaluation):
                if path.is_dir():
                    client.log_artifacts(run_id, str(path), artifact_path=artifact_dir)
                else:
                    client.log_artifact(run_id, str(path), artifact_path=artifact_dir)
        client.set_tag(run_id, "haiku_finetune.logged", "complete")
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    _log.info("logged job %s to MLflow run %s (experiment %s)", job.name, run_id, name)
    return run_id


def _metrics_or_none(job: CustomizationJob) -> TrainingMetrics | None:
    try:
        return job.metrics()
    except ResourceNotFoundError as error:
        _log.warning("job %s has no metrics in S3 yet (%s): logging it without metrics", job.name, error)
        return None


def _params(manifest: Mapping[str, Any], metrics: TrainingMetrics | None) -> dict[str, str]:
    params: dict[str, str] = {
        "job.name": str(manifest["job"]["name"]),
        "job.arn": str(manifest["job"]["arn"]),
        "region": str(manifest.get("region")),
        "custom_model.arn": str(manifest["custom_model"].get("arn")),
        "base_model.arn": str(manifest.get("base_model")),
    }
    for key, value in (manifest["hyperparameters"]["effective"] or {}).items():
        params[f"hp.{key}"] = str(value)
    profile = find_profile(str(manifest.get("base_model") or ""))
    if profile is not None:
        params["base_model.key"] = profile.key
        params["base_model.model_id"] = profile.model_id
        params["base_model.provisional"] = str(profile.provisional)
    for split, entry in (manifest.get("datasets") or {}).items():
        if entry is None:
            continue
        for field in ("sha256", "records", "uri"):
            params[f"data.{split}.{field}"] = str(entry.get(field))
    if metrics is not None and metrics.validation:
        verdict = metrics.early_stopping()
        params["early_stopping.stopped_early"] = str(verdict.stopped_epoch is not None)
        params["early_stopping.stopped_epoch"] = str(verdict.stopped_epoch)
        params["early_stopping.best_epoch"] = str(verdict.best_epoch)
        params["early_stopping.epochs_run"] = str(verdict.epochs_run)
    return params


def _metric_values(
    metrics: TrainingMetrics | None, evaluation: EvaluationReport | None
) -> list[tuple[str, float, int]]:
    values: list[tuple[str, float, int]] = []
    if metrics is not None:
        values += [("training_loss", r.training_loss, r.step) for r in metrics.training]
        values += [("validation_loss", r.validation_loss, r.step) for r in metrics.validation]
        values += [("epoch_training_loss", v, i) for i, v in enumerate(metrics.epoch_training_losses(), start=1)]
        values += [("epoch_validation_loss", v, i) for i, v in enumerate(metrics.epoch_validation_losses(), start=1)]
        if metrics.best_validation_loss is not None:
            values.append(("best_validation_loss", metrics.best_validation_loss, 0))
    if evaluation is not None:
        for model, summary in evaluation.summary.items():
            for scorer, score in summary.scores.items():
                if score.mean is not None:
                    values.append((f"eval.{_key(model)}.{_key(scorer)}", score.mean, 0))
    return values


def _artifacts(
    folder: Path,
    manifest: Mapping[str, Any],
    metrics: TrainingMetrics | None,
    evaluation: EvaluationReport | None,
) -> Iterable[tuple[Path, str | None]]:
    import json

    manifest_path = folder / "manifest.json"
    atomic_write(manifest_path, (json.dumps(manifest, indent=2, default=str) + "\n").encode())
    yield manifest_path, None
    if metrics is not None:
        table = folder / "metrics.txt"
        atomic_write(table, (metrics.table() + "\n").encode())
        yield table, "metrics"
        if metrics.validation:
            verdict = folder / "early_stopping.txt"
            atomic_write(verdict, (metrics.early_stopping().explanation + "\n").encode())
            yield verdict, None
        try:
            plot = folder / "loss.png"
            metrics.plot(plot)
        except MissingExtraError:
            _log.info("matplotlib is not installed (the plot extra): the run gets no loss plot")
        else:
            yield plot, "metrics"
    if evaluation is not None:
        yield evaluation.save(folder / "evaluation"), "evaluation"


def _key(text: str) -> str:
    """A metric-key-safe name (MLflow allows letters, digits, ``_ - . / `` and space)."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in text)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
