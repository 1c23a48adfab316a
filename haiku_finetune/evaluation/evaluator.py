"""evaluate(): send a test set to several models, score every output, and return an EvaluationReport.

Two engines give the same answers (both send the bodies ``FineTunedModel.request_body`` builds):

* ``"invoke"`` (default) — call by call through ``FineTunedModel.batch`` (thread pool, retries, per-call
  latency). Right for test sets up to a few thousand examples.
* ``"batch"`` — one Bedrock batch-inference job per model
([`batch_inference`][haiku_finetune.evaluation.batch_inference]): requests go to S3,
  the service runs them, results are read back. For large test sets; no per-call latency.

A failed call does not stop the evaluation: the example gets an error and no scores for that model, and
the report counts it. Scorers run after all outputs are in; model calls happen only in the engines and in
scorers that call a judge model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from .._transport import BedrockTransport
from ..model import Completion, FineTunedModel, Prompt
from ..pricing import Pricing
from ..storage import S3Uri
from ..tools import Tool, ToolCall, ToolChoice
from .batch_inference import (
    BatchInferenceJob,
    batch_model_id,
    default_job_name,
    read_batch_results,
    submit_batch_inference,
    wait_for_batch_inference,
)
from .examples import Example, TestData, load_examples
from .report import EvaluationReport, ExampleRow, ModelOutput
from .scorers import Score, Scorer, ScoringItem, as_scorer

__all__ = ["evaluate"]

_log = logging.getLogger(__name__)

Outcome = Completion | BaseException
ScorerLike = Scorer | Callable[[str, str], float | bool | Score | None]


def evaluate(
    models: Mapping[str, FineTunedModel],
    data: TestData,
    *,
    scorers: Sequence[ScorerLike],
    concurrency: int = 8,
    progress: bool = True,
    max_examples: int | None = None,
    engine: Literal["invoke", "batch"] = "invoke",
    staging_uri: str | None = None,
    role_arn: str | None = None,
    max_tokens: int = 1024,
    temperature: float | None = 0.0,
    tools: Sequence[Tool] | None = None,
    tool_choice: ToolChoice | None = None,
    pricing: Pricing | Mapping[str, Pricing] | None = None,
    timeout: float | None = None,
    seed: int = 0,
    transport: BedrockTransport | None = None,
) -> EvaluationReport:
    """Evaluate models on a test set.

    For each test record the final assistant message is the reference; everything before it, with the
    system prompt, is the prompt each model gets.

    Args:
        models: Models by display name, e.g. ``{"base": dep.model.base(), "tuned": dep.model}``
            (``model.base()`` keeps the model's transport).
        data: The test set: a JSONL path, a ``DatasetBuilder`` or an iterable of record dicts.
        scorers: Scorers (or plain functions ``fn(output, reference)``); names must be unique.
        concurrency: Parallel calls per model (``"invoke"`` engine).
        progress: Show progress bars.
        max_examples: Evaluate only the first this many records.
        engine: ``"invoke"`` (call by call) or ``"batch"`` (Bedrock batch inference).
        staging_uri: S3 folder for batch-inference input and output (``"batch"`` engine only).
        role_arn: Service role for batch inference (``"batch"`` engine only).
        max_tokens: Reply budget per example.
        temperature: Sampling temperature (default 0, for repeatable evaluations; ``None`` = model default).
        tools: Tools every model may call, for scoring tool use (e.g. with `ToolCallMatch`, which then scores
            each reply's native calls).
        tool_choice: ``"auto"``, ``"any"``, ``"none"`` or a tool's name (default ``"auto"`` when tools are given).
        pricing: Invocation prices, for the report's cost column (one for all models or one per name).
        timeout: Seconds to wait for each batch-inference job (``None``: no limit).
        seed: Seed of the report's bootstrap intervals and permutation tests.
        transport: Transport for the batch engine's S3 and Bedrock calls (default: the first model's).
            Models keep their own transports for invocation.

    Returns:
        The report: summaries, per-example rows, comparisons.

    Raises:
        ValueError: No models, duplicate scorer names, a malformed test record, or missing batch settings.
        JobFailedError: A batch-inference job failed.
        WaitTimeoutError: A batch-inference job did not finish within ``timeout`` (it keeps running).
    """
    if not models:
        raise ValueError("evaluate needs at least one model")
    if engine not in ("invoke", "batch"):
        raise ValueError(f"engine must be 'invoke' or 'batch', got {engine!r}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    scorer_objects = [as_scorer(s) for s in scorers]
    names = [s.name for s in scorer_objects]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"scorer names must be unique; give each a name= ({duplicates} repeat)")
    if isinstance(pricing, Mapping) and set(pricing) - set(models):
        raise ValueError(f"pricing names unknown model(s) {sorted(set(pricing) - set(models))}; models: {list(models)}")
    if engine == "batch":
        if not staging_uri or not role_arn:
            raise ValueError("engine='batch' needs staging_uri= (an S3 folder) and role_arn= (a service role)")
        S3Uri(staging_uri)
    examples = load_examples(data, max_examples=max_examples)
    prompts = [_prompt(e) for e in examples]
    settings: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
    if tools is not None:
        settings["tools"] = list(tools)
    if tool_choice is not None:
        settings["tool_choice"] = tool_choice

    if engine == "invoke":
        outcomes = {
            name: _invoke_all(model, prompts, concurrency=concurrency, progress=progress, settings=settings)
            for name, model in models.items()
        }
    else:
        assert staging_uri is not None and role_arn is not None
        outcomes = _batch_all(
            models,
            prompts,
            staging_uri=staging_uri,
            role_arn=role_arn,
            settings=settings,
            timeout=timeout,
            progress=progress,
            transport=transport if transport is not None else next(iter(models.values())).transport,
        )

    rows = [
        ExampleRow(id=e.id, system=e.system, messages=[dict(m) for m in e.messages], reference=e.reference)
        for e in examples
    ]
    aggregates: dict[str, dict[str, dict[str, Any]]] = {}
    for name, results in outcomes.items():
        outputs = [_to_output(result, timed=engine == "invoke") for result in results]
        aggregates[name] = _score(examples, outputs, scorer_objects)
        for row, output in zip(rows, outputs, strict=True):
            row.outputs[name] = output
    return EvaluationReport(
        rows,
        models={name: model.model_id for name, model in models.items()},
        scorers=names,
        aggregates=aggregates,
        engine=engine,
        pricing=pricing,
        seed=seed,
        metadata={"max_tokens": max_tokens, "temperature": temperature, "max_examples": max_examples},
    )


def _prompt(example: Example) -> Prompt:
    try:
        return Prompt(messages=[dict(m) for m in example.messages], system=example.system)
    except ValueError as error:
        raise ValueError(f"test record {example.id!r} is not a valid prompt: {error}") from error


def _invoke_all(
    model: FineTunedModel,
    prompts: Sequence[Prompt],
    *,
    concurrency: int,
    progress: bool,
    settings: Mapping[str, Any],
) -> list[Outcome]:
    results = model.batch(list(prompts), concurrency=concurrency, progress=progress, on_error="return", **settings)
    return list(results)


def _batch_all(
    models: Mapping[str, FineTunedModel],
    prompts: Sequence[Prompt],
    *,
    staging_uri: str,
    role_arn: str,
    settings: Mapping[str, Any],
    timeout: float | None,
    progress: bool,
    transport: BedrockTransport,
) -> dict[str, list[Outcome]]:
    run = default_job_name("haiku-eval")
    jobs: dict[str, BatchInferenceJob] = {}
    # Submit every model's job first so the service runs them side by side, then wait for each.
    for name, model in models.items():
        bodies = [model.request_body(prompt, **settings) for prompt in prompts]
        folder = S3Uri(staging_uri).joinpath(run, _safe_segment(name))
        jobs[name] = submit_batch_inference(
            batch_model_id(model.model_id, transport=transport),
            bodies,
            staging_uri=folder,
            role_arn=role_arn,
            job_name=default_job_name("haiku-eval", name),
            transport=transport,
        )
    outcomes: dict[str, list[Outcome]] = {}
    for name, job in jobs.items():
        wait_for_batch_inference(job, timeout=timeout, progress=progress, transport=transport)
        outcomes[name] = list(read_batch_results(job, transport=transport))
    return outcomes


def _safe_segment(name: str) -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in name).strip("-.")
    return cleaned or "model"


def _to_output(result: Outcome, *, timed: bool) -> ModelOutput:
    if isinstance(result, BaseException):
        return ModelOutput(error=f"{type(result).__name__}: {result}")
    return ModelOutput(
        text=result.text,
        latency=result.latency if timed else None,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
        stop_reason=result.stop_reason,
        tool_calls=[call.to_api() for call in result.tool_calls],
    )


def _score(
    examples: Sequence[Example], outputs: Sequence[ModelOutput], scorers: Sequence[Scorer]
) -> dict[str, dict[str, Any]]:
    """Score one model's outputs with every scorer, in place; return each scorer's aggregate."""
    answered = [(e, o) for e, o in zip(examples, outputs, strict=True) if o.text is not None]
    items = [
        ScoringItem(
            example,
            output.text or "",
            tuple(ToolCall(call["id"], call["name"], dict(call["input"])) for call in output.tool_calls),
        )
        for example, output in answered
    ]
    aggregates: dict[str, dict[str, Any]] = {}
    for scorer in scorers:
        scores = scorer.score_many(items)
        if len(scores) != len(items):
            raise RuntimeError(f"scorer {scorer.name!r} returned {len(scores)} scores for {len(items)} outputs")
        for output in outputs:
            output.scores[scorer.name] = None
        for (_, output), score in zip(answered, scores, strict=True):
            output.scores[scorer.name] = score.value
            if score.detail:
                output.details[scorer.name] = dict(score.detail)
        aggregates[scorer.name] = scorer.aggregate(items, scores)
    return aggregates
