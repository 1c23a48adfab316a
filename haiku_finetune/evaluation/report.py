"""EvaluationReport: what an evaluation found, per model and per example, and how two models compare.

The report is plain data (pydantic rows) plus arithmetic: summaries (each scorer's mean with a bootstrap
interval, latency p50/p95, tokens, cost when prices were given) are computed on first use and cached;
[`EvaluationReport.compare`][haiku_finetune.evaluation.report.EvaluationReport.compare] runs the paired statistics of
[`stats`][haiku_finetune.evaluation.stats]. It renders as Markdown and as
HTML (for notebooks), converts to a pandas DataFrame (the ``pandas`` extra, imported lazily) and saves to a
directory atomically. It makes no AWS calls.

Longer than ~600 lines on purpose: one type's data, summaries, comparison, display and save/load belong together.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from .._files import atomic_write
from ..errors import MissingExtraError
from ..pricing import Pricing
from .stats import PairedComparison, bootstrap_ci, mean, paired_comparison, percentile

if TYPE_CHECKING:
    import pandas

__all__ = [
    "Comparison",
    "EvaluationReport",
    "ExampleRow",
    "ModelOutput",
    "ModelSummary",
    "ScoreSummary",
]

#: File names :meth:`EvaluationReport.save` writes.
OUTPUTS_FILE = "outputs.jsonl"
SUMMARY_FILE = "summary.json"
_FORMAT_VERSION = 1


class ModelOutput(BaseModel):
    """One model's answer to one example, and its scores.

    Attributes:
        text: The model's reply (``None`` when the call failed).
        error: Why there is no reply, when the call failed.
        latency: Seconds the call took (``None`` with batch inference, which has no per-call timing).
        input_tokens: Prompt tokens the service counted.
        output_tokens: Reply tokens the service counted.
        stop_reason: Why the model stopped (``end_turn``, ``max_tokens``, ``tool_use``, ...).
        tool_calls: The tools the model called, as Messages API ``tool_use`` blocks (``id``, ``name``, ``input``).
        scores: Each scorer's value (``None`` when it could not score this output or there was no output).
        details: Each scorer's detail (e.g. a judge's raw reply), only for scorers that gave one.
    """

    model_config = ConfigDict(extra="ignore")

    text: str | None = None
    error: str | None = None
    latency: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    scores: dict[str, float | None] = Field(default_factory=dict)
    details: dict[str, dict[str, Any]] = Field(default_factory=dict)


class ExampleRow(BaseModel):
    """One test example with every model's output.

    Attributes:
        id: The prompt id.
        system: The example's system prompt.
        messages: The prompt conversation (without the reference).
        reference: The reference answer.
        outputs: Each model's output, by model name.
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    system: str | None = None
    messages: list[dict[str, str]]
    reference: str
    outputs: dict[str, ModelOutput] = Field(default_factory=dict)


class ScoreSummary(BaseModel):
    """One scorer's result for one model.

    Attributes:
        scorer: The scorer's name.
        mean: Mean over the scored examples (``None`` when none was scored).
        ci_low: Low end of the bootstrap interval of the mean.
        ci_high: High end of the bootstrap interval of the mean.
        n: Examples scored.
        unscored: Examples without a score (failed call or unscorable output); not in the mean.
        aggregate: Set-level figures from the scorer (e.g. label accuracy's confusion matrix).
    """

    model_config = ConfigDict(frozen=True)

    scorer: str
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    unscored: int
    aggregate: dict[str, Any] = Field(default_factory=dict)


class ModelSummary(BaseModel):
    """One model's summary.

    Attributes:
        model: The model's name in the evaluation.
        model_id: The Bedrock model id or ARN.
        examples: Examples evaluated.
        errors: Examples where the model call failed.
        scores: Each scorer's [`ScoreSummary`][haiku_finetune.evaluation.report.ScoreSummary], by scorer name.
        latency_p50: Median call latency in seconds (``None`` without timings, e.g. batch inference).
        latency_p95: 95th-percentile call latency in seconds.
        input_tokens: Prompt tokens over all examples.
        output_tokens: Reply tokens over all examples.
        cost: Invocation cost from the given prices, or ``None`` without prices.
        currency: The prices' currency, when prices were given.
    """

    model_config = ConfigDict(frozen=True)

    model: str
    model_id: str | None
    examples: int
    errors: int
    scores: dict[str, ScoreSummary]
    latency_p50: float | None
    latency_p95: float | None
    input_tokens: int
    output_tokens: int
    cost: float | None = None
    currency: str | None = None


class Comparison(BaseModel):
    """Two models compared under every scorer (see
    [`paired_comparison`][haiku_finetune.evaluation.stats.paired_comparison]).

    Attributes:
        a: The first model.
        b: The second model.
        results: The paired comparison for each scorer, by scorer name.
    """

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    results: dict[str, PairedComparison]

    def __getitem__(self, scorer: str) -> PairedComparison:
        try:
            return self.results[scorer]
        except KeyError:
            raise KeyError(f"no scorer {scorer!r} in this comparison; have {list(self.results)}") from None

    def to_markdown(self) -> str:
        """Return the comparison as a Markdown table."""
        lines = [
            f"| scorer | {self.a} | {self.b} | difference [95% CI] | wins/ties/losses | p | significant |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, c in self.results.items():
            lines.append(
                f"| {name} | {_num(c.mean_a)} | {_num(c.mean_b)} | {_signed(c.mean_difference)} "
                f"[{_signed(c.ci_low)}, {_signed(c.ci_high)}] | {c.wins}/{c.ties}/{c.losses} | "
                f"{c.p_value:.3g} | {'yes: ' + c.better if c.better else 'no'} |"
            )
        if self.results:
            first = next(iter(self.results.values()))
            lines += ["", f"p: {first.test}; significant at alpha = {first.alpha:g}."]
        return "\n".join(lines)

    def __str__(self) -> str:
        return "\n".join(str(c) for c in self.results.values())


class EvaluationReport:
    """The result of [`evaluate`][haiku_finetune.evaluation.evaluate].

    Args:
        rows: One row per example, with every model's output and scores.
        models: Model names in evaluation order, mapped to their Bedrock model ids.
        scorers: Scorer names in order.
        aggregates: Set-level scorer figures, ``{model: {scorer: {...}}}``.
        engine: ``"invoke"`` (call by call) or ``"batch"`` (Bedrock batch inference).
        pricing: Prices to compute invocation cost with: one [`Pricing`][haiku_finetune.pricing.Pricing] for
            every model, or one per model name (models left out get no cost).
        confidence: Coverage of the bootstrap intervals (default 0.95).
        resamples: Bootstrap resamples (and permutation-test draws) for intervals and comparisons.
        seed: Random seed of the bootstrap; the same report always gives the same intervals.
        metadata: Anything else worth saving with the report (e.g. inference settings).
    """

    def __init__(
        self,
        rows: Sequence[ExampleRow],
        *,
        models: Mapping[str, str | None],
        scorers: Sequence[str],
        aggregates: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        engine: str = "invoke",
        pricing: Pricing | Mapping[str, Pricing] | None = None,
        confidence: float = 0.95,
        resamples: int = 2000,
        seed: int = 0,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.rows: list[ExampleRow] = list(rows)
        self.models: dict[str, str | None] = dict(models)
        self.scorers: list[str] = list(scorers)
        self.aggregates: dict[str, dict[str, dict[str, Any]]] = {
            m: {s: dict(v) for s, v in by_scorer.items()} for m, by_scorer in (aggregates or {}).items()
        }
        self.engine = engine
        if isinstance(pricing, Pricing):
            self.pricing: dict[str, Pricing] = dict.fromkeys(self.models, pricing)
        else:
            self.pricing = dict(pricing or {})
        unknown = set(self.pricing) - set(self.models)
        if unknown:
            raise ValueError(f"pricing names unknown model(s) {sorted(unknown)}; models are {list(self.models)}")
        self.confidence = confidence
        self.resamples = resamples
        self.seed = seed
        self.metadata: dict[str, Any] = dict(metadata or {})

    # -- numbers ------------------------------------------------------------------------------------------

    def outputs(self, model: str) -> list[ModelOutput]:
        """Return ``model``'s output on every example, in row order."""
        self._check_model(model)
        return [row.outputs.get(model) or ModelOutput(error="no output recorded") for row in self.rows]

    def scores(self, model: str, scorer: str) -> list[float | None]:
        """Return ``model``'s ``scorer`` value on every example, in row order (``None`` = unscored)."""
        self._check_model(model)
        if scorer not in self.scorers:
            raise KeyError(f"no scorer {scorer!r} in this report; have {self.scorers}")
        return [output.scores.get(scorer) for output in self.outputs(model)]

    @cached_property
    def summary(self) -> dict[str, ModelSummary]:
        """Each model's [`ModelSummary`][haiku_finetune.evaluation.report.ModelSummary], by model name (computed
        once)."""
        return {model: self._summarize(model) for model in self.models}

    def _summarize(self, model: str) -> ModelSummary:
        outputs = self.outputs(model)
        scores: dict[str, ScoreSummary] = {}
        for scorer in self.scorers:
            values = [v for v in self.scores(model, scorer) if v is not None]
            low, high = (
                bootstrap_ci(values, confidence=self.confidence, resamples=self.resamples, seed=self.seed)
                if values
                else (None, None)
            )
            scores[scorer] = ScoreSummary(
                scorer=scorer,
                mean=mean(values) if values else None,
                ci_low=low,
                ci_high=high,
                n=len(values),
                unscored=len(outputs) - len(values),
                aggregate=self.aggregates.get(model, {}).get(scorer, {}),
            )
        latencies = [o.latency for o in outputs if o.latency is not None and o.error is None]
        input_tokens = sum(o.input_tokens or 0 for o in outputs)
        output_tokens = sum(o.output_tokens or 0 for o in outputs)
        pricing = self.pricing.get(model)
        cost = (
            pricing.invoke_cost(input_tokens=input_tokens, output_tokens=output_tokens) if pricing is not None else None
        )
        return ModelSummary(
            model=model,
            model_id=self.models[model],
            examples=len(outputs),
            errors=sum(1 for o in outputs if o.error is not None),
            scores=scores,
            latency_p50=percentile(latencies, 50) if latencies else None,
            latency_p95=percentile(latencies, 95) if latencies else None,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost,
            currency=pricing.currency if pricing is not None else None,
        )

    def compare(self, a: str, b: str, *, scorers: Sequence[str] | None = None, alpha: float = 0.05) -> Comparison:
        """Compare two models example by example under each scorer.

        Wins/ties/losses count the examples where ``a`` scored above/equal to/below ``b``; the mean
        difference gets a paired-bootstrap interval; significance comes from a two-sided paired sign-flip
        permutation test at level ``alpha`` (see [`haiku_finetune.evaluation.stats`][haiku_finetune.evaluation.stats]).
        Examples where
        either model has no score are dropped from that scorer's comparison.

        Args:
            a: The first model's name.
            b: The second model's name.
            scorers: Scorers to compare under (default: all).
            alpha: Significance level.

        Returns:
            The comparison, indexable by scorer name.
        """
        self._check_model(a)
        self._check_model(b)
        if a == b:
            raise ValueError("compare needs two different models")
        names = list(scorers) if scorers is not None else self.scorers
        results = {
            name: paired_comparison(
                self.scores(a, name),
                self.scores(b, name),
                a=a,
                b=b,
                scorer=name,
                alpha=alpha,
                confidence=self.confidence,
                resamples=self.resamples,
                seed=self.seed,
            )
            for name in names
        }
        return Comparison(a=a, b=b, results=results)

    def _check_model(self, model: str) -> None:
        if model not in self.models:
            raise KeyError(f"no model {model!r} in this report; have {list(self.models)}")

    # -- rendering ----------------------------------------------------------------------------------------

    def _table(self) -> tuple[list[str], list[list[str]]]:
        header = ["model", "examples", "errors", *self.scorers, "latency p50", "latency p95", "tokens in", "tokens out"]
        with_cost = any(s.cost is not None for s in self.summary.values())
        if with_cost:
            header.append("cost")
        body: list[list[str]] = []
        for name, s in self.summary.items():
            cells = [name, str(s.examples), str(s.errors)]
            for scorer in self.scorers:
                sc = s.scores[scorer]
                cells.append("n/a" if sc.mean is None else f"{_num(sc.mean)} [{_num(sc.ci_low)}, {_num(sc.ci_high)}]")
            cells += [_seconds(s.latency_p50), _seconds(s.latency_p95), f"{s.input_tokens:,}", f"{s.output_tokens:,}"]
            if with_cost:
                cells.append("n/a" if s.cost is None else f"{s.cost:,.4f} {s.currency}")
            body.append(cells)
        return header, body

    def to_markdown(self) -> str:
        """Return the summary as Markdown: one table row per model, then any confusion matrices."""
        header, body = self._table()
        lines = [
            f"Evaluation of {len(self.rows)} examples ({self.engine} engine); "
            f"means with {self.confidence:.0%} bootstrap intervals.",
            "",
            "| " + " | ".join(_md_cell(h) for h in header) + " |",
            "|" + "---|" * len(header),
        ]
        lines += ["| " + " | ".join(_md_cell(c) for c in cells) + " |" for cells in body]
        for model, summary in self.summary.items():
            for scorer, sc in summary.scores.items():
                matrix = sc.aggregate.get("confusion_matrix")
                if matrix:
                    lines += ["", f"Confusion matrix of {model} ({scorer}; rows: reference, columns: predicted):", ""]
                    lines += _matrix_markdown(matrix)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        header, body = self._table()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in body)
        caption = html.escape(
            f"Evaluation of {len(self.rows)} examples ({self.engine} engine); "
            f"means with {self.confidence:.0%} bootstrap intervals"
        )
        parts = [f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"]
        for model, summary in self.summary.items():
            for scorer, sc in summary.scores.items():
                matrix = sc.aggregate.get("confusion_matrix")
                if matrix:
                    parts.append(_matrix_html(matrix, f"Confusion matrix of {model} ({scorer})"))
        try:
            figure = self.plot()
        except MissingExtraError:
            pass  # the tables say it all; the plot needs the 'plot' extra
        else:
            image = io.BytesIO()
            figure.savefig(image, format="png")
            encoded = base64.b64encode(image.getvalue()).decode("ascii")
            parts.append(f'<img alt="scores by model" src="data:image/png;base64,{encoded}"/>')
        return "".join(parts)

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Plot each scorer's mean per model with its bootstrap interval, one group of bars per scorer.

        Like [`haiku_finetune.metrics.TrainingMetrics.plot`][haiku_finetune.metrics.TrainingMetrics.plot]: matplotlib's
        Agg canvas (no window, the
        global backend left alone), and in Jupyter the figure shows itself inline once.

        Args:
            path: Save the figure here too (format from the suffix, e.g. ``.png``, ``.svg``).

        Returns:
            The ``matplotlib.figure.Figure``.

        Raises:
            MissingExtraError: matplotlib is not installed (the ``plot`` extra).
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as error:
            raise MissingExtraError("EvaluationReport.plot", "plot", "matplotlib") from error

        figure: Any = Figure(figsize=(max(4.0, 1.6 * len(self.scorers) * max(1, len(self.models))), 3.5))
        FigureCanvasAgg(figure)
        axes = figure.subplots()
        width = 0.8 / max(1, len(self.models))
        for index, (model, summary) in enumerate(self.summary.items()):
            means = [summary.scores[s].mean or 0.0 for s in self.scorers]
            errors = [
                [max(0.0, (sc.mean or 0.0) - sc.ci_low) if sc.ci_low is not None else 0.0 for sc in _in(summary)],
                [max(0.0, sc.ci_high - (sc.mean or 0.0)) if sc.ci_high is not None else 0.0 for sc in _in(summary)],
            ]
            xs = [i + index * width for i in range(len(self.scorers))]
            axes.bar(xs, means, width=width, yerr=errors, capsize=3, label=model)
        axes.set_xticks([i + width * (len(self.models) - 1) / 2 for i in range(len(self.scorers))], self.scorers)
        axes.set(ylabel="mean score", title=f"Evaluation of {len(self.rows)} examples")
        axes.legend()
        axes.grid(alpha=0.3, axis="y")
        figure.tight_layout()
        if path is not None:
            target = Path(path)
            image = io.BytesIO()
            figure.savefig(image, format=target.suffix.lstrip(".").lower() or "png")
            atomic_write(target, image.getvalue())

        def png() -> bytes:
            image = io.BytesIO()
            figure.savefig(image, format="png")
            return image.getvalue()

        figure._repr_png_ = png  # Jupyter shows the figure inline, once, instead of "<Figure size ...>"
        return figure

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return f"EvaluationReport(models={list(self.models)}, scorers={self.scorers}, examples={len(self.rows)})"

    def to_pandas(self) -> pandas.DataFrame:
        """Return one DataFrame row per (example, model): id, model, reference, output, error, latency,
        tokens, stop reason and one column per scorer.

        Raises:
            MissingExtraError: pandas is not installed (the ``pandas`` extra).
        """
        try:
            import pandas
        except ImportError as error:
            raise MissingExtraError("EvaluationReport.to_pandas()", "pandas", "pandas") from error
        records: list[dict[str, Any]] = []
        for row in self.rows:
            for model in self.models:
                output = row.outputs.get(model) or ModelOutput(error="no output recorded")
                record: dict[str, Any] = {
                    "id": row.id,
                    "model": model,
                    "reference": row.reference,
                    "output": output.text,
                    "error": output.error,
                    "latency": output.latency,
                    "input_tokens": output.input_tokens,
                    "output_tokens": output.output_tokens,
                    "stop_reason": output.stop_reason,
                }
                for scorer in self.scorers:
                    record[scorer] = output.scores.get(scorer)
                records.append(record)
        columns = [
            "id",
            "model",
            "reference",
            "output",
            "error",
            "latency",
            "input_tokens",
            "output_tokens",
            "stop_reason",
            *self.scorers,
        ]
        frame: pandas.DataFrame = pandas.DataFrame.from_records(records, columns=columns)
        return frame

    # -- persistence --------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the summary and settings as JSON-ready data (what ``summary.json`` holds)."""
        return {
            "format_version": _FORMAT_VERSION,
            "engine": self.engine,
            "examples": len(self.rows),
            "models": self.models,
            "scorers": self.scorers,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "seed": self.seed,
            "pricing": {m: p.model_dump() for m, p in self.pricing.items()},
            "aggregates": self.aggregates,
            "metadata": self.metadata,
            "summary": {m: s.model_dump() for m, s in self.summary.items()},
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``outputs.jsonl`` (one example per line) and ``summary.json`` into ``directory``.

        Each file is written to a temporary file in the same directory and renamed into place, so a crash
        never leaves a half-written file. The directory is created if needed.

        Returns:
            The directory.
        """
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        # default=str: a custom scorer's detail may hold values JSON has no type for (sets, dates, ...).
        lines = b"".join(orjson.dumps(row.model_dump(), default=str) + b"\n" for row in self.rows)
        summary = orjson.dumps(self.to_dict(), default=str, option=orjson.OPT_INDENT_2) + b"\n"
        atomic_write(target / OUTPUTS_FILE, lines)
        atomic_write(target / SUMMARY_FILE, summary)
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> EvaluationReport:
        """Read a report written by [`save`][haiku_finetune.evaluation.report.EvaluationReport.save].

        Raises:
            FileNotFoundError: A file is missing.
            ValueError: The files are not a saved report.
        """
        source = Path(directory)
        meta = orjson.loads((source / SUMMARY_FILE).read_bytes())
        if not isinstance(meta, dict) or meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{source / SUMMARY_FILE} is not a saved evaluation report (format {_FORMAT_VERSION})")
        rows = [
            ExampleRow.model_validate(orjson.loads(line))
            for line in (source / OUTPUTS_FILE).read_bytes().splitlines()
            if line.strip()
        ]
        return cls(
            rows,
            models=meta["models"],
            scorers=meta["scorers"],
            aggregates=meta.get("aggregates"),
            engine=meta.get("engine", "invoke"),
            pricing={m: Pricing.model_validate(p) for m, p in (meta.get("pricing") or {}).items()},
            confidence=meta.get("confidence", 0.95),
            resamples=meta.get("resamples", 2000),
            seed=meta.get("seed", 0),
            metadata=meta.get("metadata"),
        )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}s"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _in(summary: ModelSummary) -> list[ScoreSummary]:
    return list(summary.scores.values())


def _matrix_html(matrix: Mapping[str, Mapping[str, int]], caption: str) -> str:
    columns = list(next(iter(matrix.values())).keys())
    head = "<th>reference \\ predicted</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th>" + "".join(f"<td>{counts.get(c, 0)}</td>" for c in columns) + "</tr>"
        for label, counts in matrix.items()
    )
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _matrix_markdown(matrix: Mapping[str, Mapping[str, int]]) -> list[str]:
    columns = list(next(iter(matrix.values())).keys())
    lines = [
        "| reference \\ predicted | " + " | ".join(_md_cell(c) for c in columns) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for label, counts in matrix.items():
        lines.append(f"| {_md_cell(label)} | " + " | ".join(str(counts.get(c, 0)) for c in columns) + " |")
    return lines
