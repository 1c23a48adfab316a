"""Bedrock model evaluation jobs: the service's own evaluation engine, driven from the library.

``EvaluationJob.create`` writes a test set as an evaluation prompt dataset (JSON Lines: ``prompt``,
``referenceResponse`` and, for precomputed responses, ``modelResponses``) to S3 and starts
``CreateEvaluationJob``: automatic metrics (``Builtin.Accuracy``, ``Builtin.Robustness``, ``Builtin.Toxicity``)
or a judge model (``Builtin.Correctness``, ``Builtin.Helpfulness``, ...), on a model Bedrock invokes (a
deployment's Provisioned Throughput ARN, a foundation model) or on responses the library already has (an
[`EvaluationReport`][haiku_finetune.evaluation.EvaluationReport], e.g. from the batch engine). `EvaluationJob.wait`
polls ``GetEvaluationJob`` through the shared wait loop on the transport's clock; `EvaluationJob.report`
reads the ``*_output.jsonl`` result files back into an ``EvaluationReport``, alone or beside the scores of a
local evaluation, so the paired significance test compares models under the service's metrics too.

Every AWS call goes through [`BedrockTransport`][haiku_finetune.BedrockTransport]; a job carries the transport it was
made with. This module does no scoring of its own. What is and is not confirmed about the service (output
layout, record format, judge models, limits) is in ``docs/evaluation-jobs.md``.

Longer than ~600 lines on purpose: an evaluation job's request, lifecycle and result reading are one API over one
service resource.
"""

from __future__ import annotations

import builtins
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .._described import DescribedJob
from .._names import generate_name
from .._tags import check_user_tags, with_library_tag
from .._transport import BedrockTransport, resolve_transport
from .._wait import PollInterval, PollState, wait_for
from ..errors import JobFailedError, JobStoppedError
from ..storage import S3Uri, download_bytes, list_objects, upload_bytes
from .examples import Example, TestData, load_examples
from .report import EvaluationReport, ExampleRow, ModelOutput

__all__ = [
    "AUTOMATIC_METRICS",
    "JUDGE_METRICS",
    "MAX_PROMPTS",
    "EvaluationJob",
    "EvaluationRecord",
]

_log = logging.getLogger(__name__)

#: Metrics of an automatic evaluation without a judge (botocore's ``EvaluationDatasetMetricConfig`` docs).
AUTOMATIC_METRICS = frozenset({"Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"})
#: Built-in metrics of a judge-model evaluation (same source; the last three are the responsible-AI ones).
JUDGE_METRICS = frozenset(
    {
        "Builtin.Correctness",
        "Builtin.Completeness",
        "Builtin.Faithfulness",
        "Builtin.Helpfulness",
        "Builtin.Coherence",
        "Builtin.Relevance",
        "Builtin.FollowingInstructions",
        "Builtin.ProfessionalStyleAndTone",
        "Builtin.Harmfulness",
        "Builtin.Stereotyping",
        "Builtin.Refusal",
    }
)
#: Prompts per evaluation job (AWS docs: "There can be up to 1000 prompts in your dataset per evaluation job").
MAX_PROMPTS = 1000
#: Statuses after which an evaluation job changes no more.
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped", "Deleting"})
#: The task types botocore's model lists.
TASK_TYPES = frozenset({"Summarization", "Classification", "QuestionAndAnswer", "Generation", "Custom"})

DATASET_FILE = "dataset.jsonl"
DATASET_NAME = "haiku-finetune-test-set"
RESULT_SUFFIX = "_output.jsonl"
ENGINE = "bedrock-evaluation-job"

_SOURCE_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


@dataclass(frozen=True)
class EvaluationRecord:
    """One line of an evaluation job's result file.

    Attributes:
        prompt: The prompt as the dataset gave it.
        reference: The dataset's reference response, if any.
        response: The evaluated model's response.
        model_identifier: The model (or precomputed source) that gave the response.
        scores: Each metric's result, by metric name as requested (``Builtin.Correctness``; ``None``: no score).
        explanations: The judge's explanation per metric, when the file has one.
        source: The result file's S3 URI.
    """

    prompt: str
    reference: str | None
    response: str | None
    model_identifier: str | None
    scores: dict[str, float | None]
    explanations: dict[str, str] = field(default_factory=dict)
    source: str = ""


class EvaluationJob(DescribedJob):
    """A Bedrock model evaluation job (``CreateEvaluationJob``).

    Make one with `create`, or get existing ones with `attach` or `list`. Its state is what
    the last `refresh` saw; `wait` refreshes until the job ends.

    Args:
        description: A ``GetEvaluationJob`` response (or a list summary; the rest is fetched on first use).
        transport: The transport to use.
        examples: The test examples the job was created from, in dataset order (known only when created
            here): they give the report its row ids, system prompts and conversations.
        label: The model's name in reports (default: the precomputed source or the model identifier).
    """

    _GET = "GetEvaluationJob"
    _STOP = "StopEvaluationJob"
    _ENDED = TERMINAL_STATUSES
    _FULL_KEYS = ("outputDataConfig", "evaluationConfig")
    _KIND = "an evaluation job"

    def __init__(
        self,
        description: Mapping[str, Any],
        *,
        transport: BedrockTransport | None = None,
        examples: Sequence[Example] | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(description, transport=transport)
        self.examples: list[Example] | None = list(examples) if examples is not None else None
        self._label = label

    # -- construction ---------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        data: TestData | Sequence[Example] | None,
        *,
        metrics: Sequence[str],
        staging_uri: str,
        role_arn: str,
        model: object | None = None,
        responses: EvaluationReport | Sequence[str | None] | None = None,
        response_model: str | None = None,
        evaluator_model: str | None = None,
        task_type: str = "Generation",
        inference_params: Mapping[str, Any] | None = None,
        job_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        transport: BedrockTransport | None = None,
    ) -> EvaluationJob:
        """Upload the test set as a prompt dataset and start an evaluation job.

        Give exactly one of ``model`` (Bedrock invokes it on every prompt) and ``responses`` (the answers are
        already there: Bedrock only scores them).

        Args:
            data: The test set: a JSONL path, records, a ``DatasetBuilder`` or
                [`Example`][haiku_finetune.evaluation.managed.Example] objects; ``None``
                with a ``responses`` report: its rows are the test set.
            metrics: Metric names, e.g. ``["Builtin.Accuracy"]`` or, with ``evaluator_model``,
                ``["Builtin.Correctness", "Builtin.Helpfulness"]`` (1 to 25).
            staging_uri: An S3 folder for the dataset (``<staging>/<job name>/dataset.jsonl``) and the results
                (``<staging>/<job name>/output/``).
            role_arn: A service role Bedrock assumes to read the dataset, invoke the model and write results.
            model: The model to evaluate: a [`ProvisionedDeployment`][haiku_finetune.ProvisionedDeployment] (its PT
                ARN), a
                [`FineTunedModel`][haiku_finetune.FineTunedModel], or a model id / ARN string.
            responses: Precomputed responses: an
                [`EvaluationReport`][haiku_finetune.evaluation.managed.EvaluationReport] (``response_model`` names which
                of
                its models; default its only one), or one response per example (``None``: no response; that
                example is left out of the dataset).
            response_model: Which model of the ``responses`` report to send.
            evaluator_model: The judge model id (e.g. ``anthropic.claude-3-5-sonnet-20240620-v1:0``); needed
                for judge metrics, refused with the automatic ones.
            task_type: The dataset's task type (``Generation``, ``Summarization``, ``Classification``,
                ``QuestionAndAnswer``, ``Custom``).
            inference_params: Inference parameters for ``model`` (sent as the JSON string the API takes).
            job_name: The job name (default: ``haiku-eval-<time>-<random>``, lowercase as the API requires).
            description: The job description (at most 200 characters).
            tags: Extra job tags; the library's ``created-by`` tag is always added.
            transport: The transport (default: ``model``'s, then the process default).

        Returns:
            The started job.

        Raises:
            ValueError: Bad arguments (no or both of model/responses, unknown or mixed metrics, more than
                1,000 prompts, a tag under the library's key, a staging URI Bedrock does not accept).
            ServiceError: S3 or Bedrock refused a call.
        """
        check_user_tags(tags)
        _check_metrics(metrics, evaluator_model)
        if task_type not in TASK_TYPES:
            raise ValueError(f"task_type must be one of {sorted(TASK_TYPES)}, got {task_type!r}")
        if (model is None) == (responses is None):
            raise ValueError("give exactly one of model= (Bedrock invokes it) and responses= (precomputed answers)")
        if description is not None and not 1 <= len(description) <= 200:
            raise ValueError("description must be 1 to 200 characters")
        if data is None:
            if not isinstance(responses, EvaluationReport):
                raise ValueError("data=None needs responses= to be an EvaluationReport (its rows are the test set)")
            examples = [_example_of(row) for row in responses.rows]
        else:
            examples = _examples(data)
        if not examples:
            raise ValueError("an evaluation job needs at least one example")
        transport = resolve_transport(transport, model)
        staging = S3Uri(staging_uri).as_prefix()
        problem = staging.bedrock_problem()
        if problem:
            raise ValueError(problem)

        name = job_name or generate_name("haiku-eval", "evaluation")
        model_config: dict[str, Any]
        if model is not None:
            identifier = _model_identifier(model)
            bedrock_model: dict[str, Any] = {"modelIdentifier": identifier}
            if inference_params:
                bedrock_model["inferenceParams"] = orjson.dumps(dict(inference_params)).decode()
            model_config = {"bedrockModel": bedrock_model}
            label = _source_name(identifier.rsplit("/", 1)[-1])
            kept = examples
            lines = [_dataset_line(e) for e in kept]
        else:
            assert responses is not None  # for mypy: checked above
            texts, label = _responses(responses, examples, response_model)
            model_config = {"precomputedInferenceSource": {"inferenceSourceIdentifier": label}}
            kept = [e for e, t in zip(examples, texts, strict=True) if t is not None]
            if len(kept) < len(examples):
                _log.warning(
                    "%d of %d examples have no response and are left out of evaluation job %s",
                    len(examples) - len(kept),
                    len(examples),
                    name,
                )
            lines = [
                _dataset_line(e, response=t, source=label)
                for e, t in zip(examples, texts, strict=True)
                if t is not None
            ]
        if not kept:
            raise ValueError("no example has a response to evaluate")
        if len(kept) > MAX_PROMPTS:
            raise ValueError(f"an evaluation job takes at most {MAX_PROMPTS} prompts, got {len(kept)}")

        folder = staging.joinpath(name)
        dataset_uri = folder.joinpath(DATASET_FILE)
        output_uri = folder.joinpath("output") + "/"
        upload_bytes(str(dataset_uri), b"".join(orjson.dumps(line) + b"\n" for line in lines), transport=transport)
        automated: dict[str, Any] = {
            "datasetMetricConfigs": [
                {
                    "taskType": task_type,
                    "dataset": {"name": DATASET_NAME, "datasetLocation": {"s3Uri": str(dataset_uri)}},
                    "metricNames": list(metrics),
                }
            ]
        }
        if evaluator_model is not None:
            automated["evaluatorModelConfig"] = {"bedrockEvaluatorModels": [{"modelIdentifier": evaluator_model}]}
        params: dict[str, Any] = {
            "jobName": name,
            # One token per create(), so a retried attempt whose answer was lost gets the same job back.
            "clientRequestToken": str(uuid.uuid4()),
            "roleArn": role_arn,
            "applicationType": "ModelEvaluation",
            "evaluationConfig": {"automated": automated},
            "inferenceConfig": {"models": [model_config]},
            "outputDataConfig": {"s3Uri": str(output_uri)},
            "jobTags": with_library_tag(tags),
        }
        if description is not None:
            params["jobDescription"] = description
        response = transport.call("bedrock", "CreateEvaluationJob", **params)
        arn = str(response["jobArn"])
        _log.info("started evaluation job %s (%d prompts, metrics %s)", arn, len(kept), list(metrics))
        job = cls({"jobArn": arn, "jobName": name}, transport=transport, examples=kept, label=label)
        return job

    @classmethod
    def attach(cls, arn: str, *, transport: BedrockTransport | None = None) -> EvaluationJob:
        """Return the job with this ARN (``GetEvaluationJob`` takes only ARNs)."""
        job = cls({"jobArn": arn}, transport=transport)
        return job.refresh()

    @classmethod
    def list(
        cls,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int | None = None,
        transport: BedrockTransport | None = None,
    ) -> builtins.list[EvaluationJob]:
        """List evaluation jobs, newest first.

        Args:
            status: Only jobs in this status (``InProgress``, ``Completed``, ``Failed``, ``Stopping``, ...).
            name_contains: Only jobs whose name contains this.
            limit: Stop after this many.
            transport: The transport to use.
        """
        t = resolve_transport(transport)
        params: dict[str, Any] = {"sortBy": "CreationTime", "sortOrder": "Descending"}
        if status is not None:
            params["statusEquals"] = status
        if name_contains is not None:
            params["nameContains"] = name_contains
        found: builtins.list[EvaluationJob] = []
        for page in t.paginate("bedrock", "ListEvaluationJobs", **params):
            for summary in page.get("jobSummaries", []):
                found.append(cls(summary, transport=t))
                if limit is not None and len(found) >= limit:
                    return found
        return found

    # -- state ----------------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """The status the last refresh saw: InProgress, Completed, Failed, Stopping, Stopped or Deleting."""
        return str(self._get("status") or "Unknown")

    @property
    def failure_messages(self) -> builtins.list[str]:
        """The service's failure messages, when the job failed."""
        return [str(m) for m in self._get("failureMessages") or []]

    @property
    def output_uri(self) -> str:
        """Where the service writes the results (``outputDataConfig.s3Uri``)."""
        return str((self._get("outputDataConfig") or {})["s3Uri"])

    @property
    def metric_names(self) -> builtins.list[str]:
        """The metrics requested, in order, over all dataset configs."""
        automated = (self._get("evaluationConfig") or {}).get("automated") or {}
        names: builtins.list[str] = []
        for config in automated.get("datasetMetricConfigs") or []:
            names += [n for n in config.get("metricNames") or [] if n not in names]
        return names

    @property
    def evaluator_model(self) -> str | None:
        """The judge model, for a judge-model evaluation."""
        automated = (self._get("evaluationConfig") or {}).get("automated") or {}
        judges = (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or []
        return str(judges[0]["modelIdentifier"]) if judges else None

    @property
    def model_identifier(self) -> str | None:
        """The evaluated model's identifier, or the precomputed source's name."""
        for config in (self._get("inferenceConfig") or {}).get("models") or []:
            if "bedrockModel" in config:
                return str(config["bedrockModel"]["modelIdentifier"])
            if "precomputedInferenceSource" in config:
                return str(config["precomputedInferenceSource"]["inferenceSourceIdentifier"])
        return None

    @property
    def label(self) -> str:
        """The model's name in this job's reports."""
        if self._label:
            return self._label
        identifier = self.model_identifier or "model"
        return _source_name(identifier.rsplit("/", 1)[-1])

    # -- lifecycle ------------------------------------------------------------------------------------

    def wait(
        self, *, timeout: float | None = None, progress: bool = True, interval: PollInterval | None = None
    ) -> EvaluationJob:
        """Wait until the job ends.

        Args:
            timeout: Seconds to wait at most (``None``: no limit). The job keeps running after a timeout.
            progress: Show a progress bar.
            interval: The polling schedule (default: 30 s growing to 2 min).

        Returns:
            The job, completed.

        Raises:
            JobFailedError: The job failed (the service's messages are kept).
            JobStoppedError: The job was stopped (or is being deleted).
            WaitTimeoutError: ``timeout`` passed first.
        """

        def fetch() -> PollState:
            self.refresh()
            return PollState(status=self.status, finished=self.status in TERMINAL_STATUSES)

        wait_for(
            fetch,
            what=f"evaluation job {self.name}",
            clock=self._transport.clock,
            timeout=timeout,
            interval=interval,
            progress=progress,
            reattach_hint=f"EvaluationJob.attach({self.arn!r}).wait()",
        )
        if self.status == "Failed":
            message = "; ".join(self.failure_messages) or None
            raise JobFailedError(
                f"evaluation job {self.name} failed" + (f": {message}" if message else ""),
                job_arn=self.arn,
                failure_message=message,
            )
        if self.status in ("Stopped", "Deleting"):
            raise JobStoppedError(f"evaluation job {self.name} was {self.status.lower()}", job_arn=self.arn)
        return self

    # -- results --------------------------------------------------------------------------------------

    def result_uris(self) -> builtins.list[str]:
        """The job's result files: every ``*_output.jsonl`` under ``<output>/<job name>/``."""
        prefix = S3Uri(self.output_uri).as_prefix().joinpath(self.name) + "/"
        found = [
            str(S3Uri.of(S3Uri(prefix).bucket, item["Key"]))
            for item in list_objects(prefix, transport=self._transport)
            if str(item["Key"]).endswith(RESULT_SUFFIX)
        ]
        return sorted(found)

    def results(self) -> builtins.list[EvaluationRecord]:
        """Read and parse every result record.

        Raises:
            ValueError: No result files (the job has not completed?), or a line that is not a result record.
        """
        uris = self.result_uris()
        if not uris:
            raise ValueError(
                f"no result files ({RESULT_SUFFIX}) under {self.output_uri} for evaluation job {self.name} "
                f"(status {self.status})"
            )
        requested = self.metric_names
        records: builtins.list[EvaluationRecord] = []
        for uri in uris:
            data = download_bytes(uri, transport=self._transport)
            for number, line in enumerate(data.splitlines(), start=1):
                if line.strip():
                    records.append(_parse_result(line, requested, where=f"{uri} line {number}"))
        return records

    def report(self, *, into: EvaluationReport | None = None, model: str | None = None) -> EvaluationReport:
        """Return the job's scores as an [`EvaluationReport`][haiku_finetune.evaluation.managed.EvaluationReport].

        Each requested metric becomes a scorer of that name (``Builtin.Correctness``). Alone, the report has
        one model (``model``, default `label`) and one row per result record. With ``into``, the scores
        are added to a copy of that report (e.g. a local [`evaluate`][haiku_finetune.evaluation.evaluate] of the
        same test set): to ``model``'s outputs when it is one of its models (its texts are kept), else as a
        new model; rows are matched by prompt and reference. Then ``report.compare(a, b)`` runs the paired
        test under the service's metrics beside the local scorers.

        Args:
            into: A report to add the scores to.
            model: The model's name in the report.

        Raises:
            ValueError: No result files, or ``into`` shares no prompt with the job's results.
        """
        records = self.results()
        name = model or self.label
        metrics = self.metric_names or sorted({m for r in records for m in r.scores})
        metadata = {
            "evaluation_job": {
                "arn": self.arn,
                "name": self.name,
                "model": self.model_identifier,
                "evaluator_model": self.evaluator_model,
                "metrics": metrics,
            }
        }
        if into is None:
            rows = self._rows(records, name)
            return EvaluationReport(
                rows, models={name: self.model_identifier}, scorers=metrics, engine=ENGINE, metadata=metadata
            )
        return _merge(into, records, name, self.model_identifier, metrics, metadata)

    def _rows(self, records: Sequence[EvaluationRecord], name: str) -> builtins.list[ExampleRow]:
        pending = _by_key(records)
        rows: builtins.list[ExampleRow] = []
        if self.examples is not None:
            for example in self.examples:
                record = _take(pending, (_prompt_text(example.system, example.messages), example.reference))
                row = ExampleRow(
                    id=example.id,
                    system=example.system,
                    messages=[dict(m) for m in example.messages],
                    reference=example.reference,
                )
                row.outputs[name] = _output(record)
                rows.append(row)
            return rows
        for index, record in enumerate(records):
            row = ExampleRow(
                id=str(index), messages=[{"role": "user", "content": record.prompt}], reference=record.reference or ""
            )
            row.outputs[name] = _output(record)
            rows.append(row)
        return rows

    def __repr__(self) -> str:
        return f"EvaluationJob(name={self._description.get('jobName')!r}, status={self._description.get('status')!r})"


# -- helpers --------------------------------------------------------------------------------------------


def _check_metrics(metrics: Sequence[str], evaluator_model: str | None) -> None:
    if isinstance(metrics, str) or not metrics:
        raise ValueError("metrics must be a non-empty list of metric names, e.g. ['Builtin.Accuracy']")
    if len(metrics) > 25:
        raise ValueError(f"an evaluation job takes at most 25 metrics, got {len(metrics)}")
    automatic = [m for m in metrics if m in AUTOMATIC_METRICS]
    if evaluator_model is None:
        other = [m for m in metrics if m not in AUTOMATIC_METRICS]
        if other:
            hint = " (judge metrics need evaluator_model=)" if set(other) & JUDGE_METRICS else ""
            raise ValueError(f"metrics {other} are not automatic metrics {sorted(AUTOMATIC_METRICS)}{hint}")
    elif automatic:
        raise ValueError(
            f"{automatic} are metrics of an evaluation without a judge; with evaluator_model= use judge metrics "
            f"such as {sorted(JUDGE_METRICS)[:4]} or your own"
        )


def _examples(data: TestData | Sequence[Example]) -> builtins.list[Example]:
    if isinstance(data, Sequence) and not isinstance(data, str) and all(isinstance(e, Example) for e in data):
        return [e for e in data if isinstance(e, Example)]
    return load_examples(data)  # type: ignore[arg-type]  # anything but Example objects is TestData


def _example_of(row: ExampleRow) -> Example:
    return Example(id=row.id, messages=tuple(row.messages), reference=row.reference, system=row.system)


def _model_identifier(model: object) -> str:
    if isinstance(model, str):
        return model
    for attribute in ("model_id", "arn"):
        value = getattr(model, attribute, None)
        if isinstance(value, str):
            return value
    raise ValueError(f"model must be a model id or ARN, a FineTunedModel or a ProvisionedDeployment, got {model!r}")


def _source_name(text: str) -> str:
    """A precomputed source's name within the API's pattern ``[a-zA-Z0-9]([a-zA-Z0-9._-]){0,255}``."""
    cleaned = _SOURCE_UNSAFE.sub("-", text).strip("-._")[:256]
    return cleaned or "model"


def _responses(
    responses: EvaluationReport | Sequence[str | None], examples: Sequence[Example], which: str | None
) -> tuple[builtins.list[str | None], str]:
    if isinstance(responses, EvaluationReport):
        names = list(responses.models)
        if which is None:
            if len(names) != 1:
                raise ValueError(f"the responses report has models {names}: say which with response_model=")
            which = names[0]
        if which not in responses.models:
            raise ValueError(f"no model {which!r} in the responses report; have {names}")
        by_key = {
            (_prompt_text(row.system, row.messages), row.reference): (row.outputs.get(which) or ModelOutput()).text
            for row in responses.rows
        }
        texts = [by_key.get((_prompt_text(e.system, e.messages), e.reference)) for e in examples]
        return texts, _source_name(which)
    if isinstance(responses, str) or len(responses) != len(examples):
        raise ValueError(f"responses must give one response per example ({len(examples)})")
    return list(responses), _source_name(which or "precomputed")


def _prompt_text(system: str | None, messages: Sequence[Mapping[str, str]]) -> str:
    """The dataset's ``prompt``: the user's text alone, or the whole conversation rendered when there is more."""
    if system is None and len(messages) == 1:
        return str(messages[0]["content"])
    parts = [f"System: {system}"] if system else []
    parts += [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts)


def _dataset_line(example: Example, *, response: str | None = None, source: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "prompt": _prompt_text(example.system, example.messages),
        "referenceResponse": example.reference,
    }
    if response is not None:
        line["modelResponses"] = [{"response": response, "modelIdentifier": source}]
    return line


def _metric_key(name: str) -> str:
    return name.removeprefix("Builtin.").lower()


def _parse_result(line: bytes, requested: Sequence[str], *, where: str) -> EvaluationRecord:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"{where}: not valid JSON ({error})") from error
    if not isinstance(record, dict) or "automatedEvaluationResult" not in record:
        raise ValueError(f"{where}: not an evaluation result record (no automatedEvaluationResult)")
    names = {_metric_key(n): n for n in requested}
    scores: dict[str, float | None] = {n: None for n in requested}
    explanations: dict[str, str] = {}
    for item in (record.get("automatedEvaluationResult") or {}).get("scores") or []:
        raw = str(item.get("metricName", ""))
        metric = names.get(_metric_key(raw), raw)
        value = item.get("result")
        scores[metric] = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        for detail in item.get("evaluatorDetails") or []:
            if detail.get("explanation"):
                explanations[metric] = str(detail["explanation"])
    source = record.get("inputRecord") or {}
    responses = record.get("modelResponses") or source.get("modelResponses") or []
    first = responses[0] if responses else {}
    reference = source.get("referenceResponse")
    return EvaluationRecord(
        prompt=str(source.get("prompt", "")),
        reference=str(reference) if reference is not None else None,
        response=str(first["response"]) if first.get("response") is not None else None,
        model_identifier=str(first["modelIdentifier"]) if first.get("modelIdentifier") else None,
        scores=scores,
        explanations=explanations,
        source=where.rsplit(" line ", 1)[0],
    )


def _by_key(records: Sequence[EvaluationRecord]) -> dict[tuple[str, str | None], builtins.list[EvaluationRecord]]:
    pending: dict[tuple[str, str | None], builtins.list[EvaluationRecord]] = {}
    for record in records:
        pending.setdefault((record.prompt, record.reference), []).append(record)
    return pending


def _take(
    pending: dict[tuple[str, str | None], builtins.list[EvaluationRecord]], key: tuple[str, str | None]
) -> EvaluationRecord | None:
    queue = pending.get(key)
    return queue.pop(0) if queue else None


def _output(record: EvaluationRecord | None) -> ModelOutput:
    if record is None:
        return ModelOutput(error="no result for this example in the evaluation job's output")
    details = {m: {"explanation": e} for m, e in record.explanations.items()}
    return ModelOutput(text=record.response, scores=dict(record.scores), details=details)


def _merge(
    into: EvaluationReport,
    records: Sequence[EvaluationRecord],
    name: str,
    model_id: str | None,
    metrics: Sequence[str],
    metadata: Mapping[str, Any],
) -> EvaluationReport:
    pending = _by_key(records)
    rows: builtins.list[ExampleRow] = []
    matched = 0
    for row in into.rows:
        copy = row.model_copy(deep=True)
        record = _take(pending, (_prompt_text(row.system, row.messages), row.reference))
        matched += record is not None
        existing = copy.outputs.get(name)
        if existing is None:
            copy.outputs[name] = _output(record)
        elif record is not None:
            existing.scores.update(record.scores)
            existing.details.update({m: {"explanation": e} for m, e in record.explanations.items()})
        rows.append(copy)
    if matched == 0:
        raise ValueError("the report shares no prompt with the evaluation job's results (was it the same test set?)")
    models = dict(into.models)
    models.setdefault(name, model_id)
    scorers = into.scorers + [m for m in metrics if m not in into.scorers]
    return EvaluationReport(
        rows,
        models=models,
        scorers=scorers,
        aggregates=into.aggregates,
        engine=into.engine,
        pricing=into.pricing,
        confidence=into.confidence,
        resamples=into.resamples,
        seed=into.seed,
        metadata={**into.metadata, **metadata},
    )
