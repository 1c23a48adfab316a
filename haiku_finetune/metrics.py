"""Training metrics of a finished customization job: read from its CSVs, explained, tabulated, plotted.

Bedrock writes two CSV files under the job's output location (documented in "Analyze the results of a model
customization job")::

    <output>/model-customization-job-<jobId>/training_artifacts/step_wise_training_metrics.csv
    <output>/model-customization-job-<jobId>/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv

Some AWS samples read the validation file one folder deeper (``.../post_fine_tuning_validation/validation/
validation_metrics.csv``); [`TrainingMetrics.read`][haiku_finetune.metrics.TrainingMetrics.read] accepts either. Columns
are ``step_number``,
``epoch_number``, ``training_loss`` (or ``validation_loss``) and ``perplexity``.

[`TrainingMetrics.early_stopping`][haiku_finetune.metrics.TrainingMetrics.early_stopping] re-runs the documented
early-stopping rule
([`simulate_early_stopping`][haiku_finetune.simulate_early_stopping]) on the per-epoch validation losses with the job's
own
threshold and patience, so you can see why training stopped where it did and which checkpoint is best.
pandas and matplotlib are optional and imported only by [`to_pandas`][haiku_finetune.metrics.TrainingMetrics.to_pandas]
and
[`plot`][haiku_finetune.metrics.TrainingMetrics.plot].
"""

from __future__ import annotations

import base64
import csv
import html
import io
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ._files import atomic_write
from ._table import text_table
from ._transport import BedrockTransport, resolve_transport
from .early_stopping import EarlyStoppingResult, simulate_early_stopping
from .errors import MissingExtraError, ResourceNotFoundError
from .hyperparameters import Hyperparameters
from .storage import S3Uri, download_text

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas

__all__ = [
    "TRAINING_METRICS_PATH",
    "VALIDATION_METRICS_PATHS",
    "TrainingMetrics",
    "TrainingRow",
    "ValidationRow",
    "job_output_prefix",
    "parse_training_csv",
    "parse_validation_csv",
]

_log = logging.getLogger(__name__)

#: Where the step-wise training metrics are, relative to the job's output folder.
TRAINING_METRICS_PATH = "training_artifacts/step_wise_training_metrics.csv"
#: Where the validation metrics may be, relative to the job's output folder: the documented path first.
VALIDATION_METRICS_PATHS = (
    "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
    "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
)


class _MetricsRow(BaseModel):
    """What both metrics files' rows start with: where in training the row was written."""

    model_config = ConfigDict(frozen=True)

    step: int
    epoch: int


class TrainingRow(_MetricsRow):
    """One row of ``step_wise_training_metrics.csv``."""

    training_loss: float
    perplexity: float | None = None


class ValidationRow(_MetricsRow):
    """One row of ``validation_metrics.csv`` (one per epoch: validation runs at the end of each epoch)."""

    validation_loss: float
    perplexity: float | None = None


def job_output_prefix(output_uri: str, job_arn: str) -> S3Uri:
    """Return the folder a job writes its artifacts to: ``<output>/model-customization-job-<jobId>/``.

    ``<jobId>`` is the last path segment of the job ARN.
    """
    job_id = job_arn.rsplit("/", 1)[-1]
    if not job_id or ":" in job_id:
        raise ValueError(f"cannot find a job id in {job_arn!r}: expected a model-customization-job ARN")
    return S3Uri(output_uri).joinpath(f"model-customization-job-{job_id}").as_prefix()


class TrainingMetrics(BaseModel):
    """The training and validation metrics of one customization job.

    Attributes:
        training: Step-wise training rows, in step order.
        validation: Validation rows, in step order (empty when the job had no validation data).
        hyperparameters: The job's hyperparameters, when known (used by
            [`early_stopping`][haiku_finetune.metrics.TrainingMetrics.early_stopping]).
        job_arn: The job's ARN, when read from a job.
        sources: Where the rows came from (file paths or S3 URIs), by ``"training"``/``"validation"``.
    """

    model_config = ConfigDict(frozen=True)

    training: list[TrainingRow]
    validation: list[ValidationRow] = []
    hyperparameters: Hyperparameters | None = None
    job_arn: str | None = None
    sources: dict[str, str] = {}

    # -- reading ------------------------------------------------------------------------------------------

    @classmethod
    def from_csv(
        cls,
        training: str | os.PathLike[str] | None = None,
        validation: str | os.PathLike[str] | None = None,
        *,
        hyperparameters: Hyperparameters | None = None,
    ) -> TrainingMetrics:
        """Read metrics from local CSV files (e.g. downloaded from the job's output folder).

        Args:
            training: Path of ``step_wise_training_metrics.csv``.
            validation: Path of ``validation_metrics.csv``.
            hyperparameters: The job's hyperparameters, for
                [`early_stopping`][haiku_finetune.metrics.TrainingMetrics.early_stopping].

        Raises:
            ValueError: A file lacks a needed column or has a value that is not a number (names file and line).
        """
        if training is None and validation is None:
            raise ValueError("give at least one of training= and validation= (paths of the metrics CSVs)")
        sources: dict[str, str] = {}
        rows: list[TrainingRow] = []
        checks: list[ValidationRow] = []
        if training is not None:
            sources["training"] = os.fspath(training)
            rows = parse_training_csv(Path(training).read_text(encoding="utf-8-sig"), source=sources["training"])
        if validation is not None:
            sources["validation"] = os.fspath(validation)
            checks = parse_validation_csv(
                Path(validation).read_text(encoding="utf-8-sig"), source=sources["validation"]
            )
        return cls(training=rows, validation=checks, hyperparameters=hyperparameters, sources=sources)

    @classmethod
    def read(
        cls,
        output_uri: str,
        job_arn: str,
        *,
        hyperparameters: Hyperparameters | None = None,
        transport: BedrockTransport | None = None,
    ) -> TrainingMetrics:
        """Read a job's metrics from S3 (both documented validation-CSV locations are tried).

        Args:
            output_uri: The job's ``outputDataConfig.s3Uri``.
            job_arn: The job's ARN.
            hyperparameters: The job's hyperparameters, for
                [`early_stopping`][haiku_finetune.metrics.TrainingMetrics.early_stopping].
            transport: The transport to use.

        Raises:
            ResourceNotFoundError: The training metrics file is not there (the job has not finished, or
                wrote somewhere else); the message names the URI looked at.
        """
        t = resolve_transport(transport)
        folder = job_output_prefix(output_uri, job_arn)
        training_uri = folder.joinpath(TRAINING_METRICS_PATH)
        try:
            training_text = download_text(training_uri, transport=t)
        except ResourceNotFoundError as error:
            error.message = f"no training metrics at {training_uri}: {error.message}"
            raise
        sources = {"training": str(training_uri)}
        validation: list[ValidationRow] = []
        for relative in VALIDATION_METRICS_PATHS:
            uri = folder.joinpath(relative)
            try:
                text = download_text(uri, transport=t)
            except ResourceNotFoundError:
                continue
            validation = parse_validation_csv(text, source=str(uri))
            sources["validation"] = str(uri)
            break
        else:
            _log.info("no validation metrics under %s (the job had no validation data?)", folder)
        return cls(
            training=parse_training_csv(training_text, source=str(training_uri)),
            validation=validation,
            hyperparameters=hyperparameters,
            job_arn=job_arn,
            sources=sources,
        )

    # -- views --------------------------------------------------------------------------------------------

    def epoch_validation_losses(self) -> list[float]:
        """Return one validation loss per epoch, first epoch first.

        Epochs are ordered by ``epoch_number`` (whether the file counts from 0 or 1); when an epoch has
        several rows, the one with the highest step counts.
        """
        last: dict[int, ValidationRow] = {}
        for row in self.validation:
            current = last.get(row.epoch)
            if current is None or row.step >= current.step:
                last[row.epoch] = row
        return [last[epoch].validation_loss for epoch in sorted(last)]

    def epoch_training_losses(self) -> list[float]:
        """Return the mean training loss of each epoch, first epoch first."""
        by_epoch: dict[int, list[float]] = {}
        for row in self.training:
            by_epoch.setdefault(row.epoch, []).append(row.training_loss)
        return [sum(v) / len(v) for _, v in sorted(by_epoch.items())]

    @property
    def best_validation_loss(self) -> float | None:
        """The lowest per-epoch validation loss, or ``None`` without validation metrics."""
        losses = self.epoch_validation_losses()
        return min(losses) if losses else None

    @property
    def best_epoch(self) -> int | None:
        """The 1-based epoch with the lowest validation loss (the first on ties), or ``None``."""
        losses = self.epoch_validation_losses()
        return losses.index(min(losses)) + 1 if losses else None

    def early_stopping(self, *, threshold: float | None = None, patience: int | None = None) -> EarlyStoppingResult:
        """Explain early stopping for this job: whether and where it stopped, and which checkpoint is best.

        Re-runs [`simulate_early_stopping`][haiku_finetune.simulate_early_stopping] on
        [`epoch_validation_losses`][haiku_finetune.metrics.TrainingMetrics.epoch_validation_losses] with the
        job's ``earlyStoppingThreshold`` and ``earlyStoppingPatience`` (the documented defaults when the
        hyperparameters are unknown), and compares the outcome with the epochs the job actually ran.

        Args:
            threshold: Override the threshold (to ask "what if").
            patience: Override the patience.

        Raises:
            ValueError: There are no validation metrics: early stopping needs a validation dataset.
        """
        losses = self.epoch_validation_losses()
        if not losses:
            raise ValueError(
                "no validation metrics: early stopping needs a validation dataset, and this job's output has "
                "no validation_metrics.csv"
            )
        settings = (self.hyperparameters or Hyperparameters()).resolved()
        used_threshold = float(settings["early_stopping_threshold"] if threshold is None else threshold)
        used_patience = int(settings["early_stopping_patience"] if patience is None else patience)
        result = simulate_early_stopping(losses, threshold=used_threshold, patience=used_patience)
        notes: list[str] = []
        configured = int(settings["epoch_count"])
        if self.hyperparameters is not None:
            if result.stopped_epoch is None and len(losses) < configured:
                notes.append(
                    f"The metrics cover {len(losses)} of the {configured} configured epochs, but the rule does "
                    "not explain stopping there; the job may have failed, been stopped, or is still running."
                )
            elif result.stopped_epoch is not None and len(losses) > result.stopped_epoch:
                notes.append(
                    f"The metrics hold {len(losses)} epochs although the rule stops at epoch "
                    f"{result.stopped_epoch}; the job's settings may differ from the ones used here."
                )
            elif result.stopped_epoch is not None:
                notes.append(f"{configured} epochs were configured; {result.stopped_epoch} ran.")
        if not notes:
            return result
        return result.model_copy(update={"explanation": f"{result.explanation} {' '.join(notes)}"})

    def to_pandas(self) -> pandas.DataFrame:
        """Return every row as a pandas DataFrame in long form.

        Columns: ``split`` (``"training"`` or ``"validation"``), ``step``, ``epoch``, ``loss``, ``perplexity``.

        Raises:
            MissingExtraError: pandas is not installed (``pip install 'haiku-finetune[pandas]'``).
        """
        try:
            import pandas as pd
        except ImportError as error:
            raise MissingExtraError("TrainingMetrics.to_pandas", "pandas", "pandas") from error
        records: list[dict[str, Any]] = [
            {"split": "training", "step": r.step, "epoch": r.epoch, "loss": r.training_loss, "perplexity": r.perplexity}
            for r in self.training
        ]
        records += [
            {
                "split": "validation",
                "step": r.step,
                "epoch": r.epoch,
                "loss": r.validation_loss,
                "perplexity": r.perplexity,
            }
            for r in self.validation
        ]
        frame: pandas.DataFrame = pd.DataFrame(records, columns=["split", "step", "epoch", "loss", "perplexity"])
        return frame

    def plot(self, path: str | os.PathLike[str] | None = None, *, title: str | None = None) -> Any:
        """Plot training loss per step and validation loss per epoch, with the best epoch marked.

        Uses matplotlib's Agg canvas directly: no window opens and the global backend is left alone. In Jupyter
        the returned figure shows itself inline, once, as a PNG (it has a ``_repr_png_``; the figure is not
        registered with pyplot, so no backend draws it a second time).

        Args:
            path: Save the figure here (format from the suffix, e.g. ``.png``, ``.svg``; written atomically).
            title: The figure title (default: the job id, when known).

        Returns:
            The ``matplotlib.figure.Figure``.

        Raises:
            MissingExtraError: matplotlib is not installed (``pip install 'haiku-finetune[plot]'``).
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as error:
            raise MissingExtraError("TrainingMetrics.plot", "plot", "matplotlib") from error

        figure: Any = Figure(figsize=(11, 4), layout="constrained")  # Any: it gains a _repr_png_ below
        FigureCanvasAgg(figure)
        left, right = figure.subplots(1, 2)
        if self.training:
            left.plot([r.step for r in self.training], [r.training_loss for r in self.training], lw=1.2)
        left.set(title="Training loss", xlabel="step", ylabel="loss")
        left.grid(alpha=0.3)
        losses = self.epoch_validation_losses()
        if losses:
            epochs = list(range(1, len(losses) + 1))
            right.plot(epochs, losses, marker="o")
            best = self.best_epoch
            if best is not None:
                right.scatter([best], [losses[best - 1]], s=160, facecolors="none", edgecolors="tab:red", lw=2)
                right.annotate(
                    f"best: epoch {best}",
                    (best, losses[best - 1]),
                    textcoords="offset points",
                    xytext=(0, 12),
                    ha="center",
                    color="tab:red",
                )
            right.set_xticks(epochs)
        else:
            right.text(0.5, 0.5, "no validation metrics", ha="center", va="center", transform=right.transAxes)
        right.set(title="Validation loss per epoch", xlabel="epoch", ylabel="loss")
        right.grid(alpha=0.3)
        job_id = self.job_arn.rsplit("/", 1)[-1] if self.job_arn else None
        if title or job_id:
            figure.suptitle(title or f"Customization job {job_id}")
        if path is not None:
            _save_figure(figure, Path(path))
        # Jupyter displays the last expression of a cell through its _repr_*_ methods: without this, a figure
        # made outside pyplot shows as "<Figure size 1100x400 with 2 Axes>".
        figure._repr_png_ = lambda: _png_bytes(figure)
        return figure

    def _rows(self) -> list[tuple[int, int | None, float | None, float | None, str]]:
        steps: dict[int, int] = {}
        for row in self.training:
            steps[row.epoch] = steps.get(row.epoch, 0) + 1
        step_counts = [steps[epoch] for epoch in sorted(steps)]
        training = self.epoch_training_losses()
        validation = self.epoch_validation_losses()
        best = self.best_epoch
        return [
            (
                index + 1,
                step_counts[index] if index < len(step_counts) else None,
                training[index] if index < len(training) else None,
                validation[index] if index < len(validation) else None,
                "best" if index + 1 == best else "",
            )
            for index in range(max(len(training), len(validation)))
        ]

    def _repr_html_(self) -> str:
        """Jupyter's view: the summary line, the per-epoch table and, with matplotlib installed, the plot."""
        cell = "<td>-</td>"
        rows = "".join(
            "<tr>"
            + "".join(
                cell
                if value is None
                else f"<td>{html.escape(f'{value:.4g}' if isinstance(value, float) else str(value))}</td>"
                for value in row
            )
            + "</tr>"
            for row in self._rows()
        )
        head = "".join(f"<th>{h}</th>" for h in ("epoch", "steps", "mean training loss", "validation loss", "note"))
        parts = [
            f"<p>{html.escape(str(self))}</p>",
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>",
        ]
        try:
            png = _png_bytes(self.plot())
        except MissingExtraError:
            parts.append("<p><i>install the 'plot' extra (matplotlib) to see the loss plot here</i></p>")
        else:
            encoded = base64.b64encode(png).decode("ascii")
            parts.append(f'<img alt="training and validation loss" src="data:image/png;base64,{encoded}"/>')
        return "".join(parts)

    def table(self) -> str:
        """Return a per-epoch table: training steps, mean training loss, validation loss, and the best epoch.

        Returns:
            Plain text, one row per epoch (``-`` where an epoch has no value), the best epoch marked.
        """
        return text_table(("epoch", "steps", "mean training loss", "validation loss", "note"), self._rows())

    def __str__(self) -> str:
        losses = self.epoch_validation_losses()
        parts = [f"{len(self.training)} training steps over {len(self.epoch_training_losses())} epoch(s)"]
        if losses:
            parts.append(f"validation loss by epoch: {', '.join(f'{x:g}' for x in losses)}")
            parts.append(f"best epoch {self.best_epoch} ({self.best_validation_loss:g})")
        return "; ".join(parts)


def _png_bytes(figure: Any) -> bytes:
    image = io.BytesIO()
    figure.savefig(image, format="png")
    return image.getvalue()


def _save_figure(figure: Any, path: Path) -> None:
    suffix = path.suffix.lstrip(".").lower() or "png"
    path.parent.mkdir(parents=True, exist_ok=True)
    image = io.BytesIO()
    figure.savefig(image, format=suffix)
    atomic_write(path, image.getvalue())


# -- CSV parsing --------------------------------------------------------------------------------------------


def parse_training_csv(text: str, *, source: str = "<training metrics>") -> list[TrainingRow]:
    """Parse ``step_wise_training_metrics.csv`` text into rows, in step order."""
    return [
        TrainingRow(step=s, epoch=e, training_loss=loss, perplexity=p)
        for s, e, loss, p in _parse(text, "training_loss", source)
    ]


def parse_validation_csv(text: str, *, source: str = "<validation metrics>") -> list[ValidationRow]:
    """Parse ``validation_metrics.csv`` text into rows, in step order."""
    return [
        ValidationRow(step=s, epoch=e, validation_loss=loss, perplexity=p)
        for s, e, loss, p in _parse(text, "validation_loss", source)
    ]


def _parse(text: str, loss_column: str, source: str) -> list[tuple[int, int, float, float | None]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        return []
    reader.fieldnames = header
    missing = [c for c in ("step_number", "epoch_number", loss_column) if c not in header]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; found {header}")
    rows: list[tuple[int, int, float, float | None]] = []
    for line, record in enumerate(reader, start=2):
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue
        try:
            step = _integer(record["step_number"])
            epoch = _integer(record["epoch_number"])
            loss = float(record[loss_column])
            raw = (record.get("perplexity") or "").strip()
            perplexity = float(raw) if raw else None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}, line {line}: {error}") from None
        rows.append((step, epoch, loss, perplexity))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def _integer(raw: str | None) -> int:
    value = float((raw or "").strip())
    if not value.is_integer():
        raise ValueError(f"expected a whole number, got {raw!r}")
    return int(value)
