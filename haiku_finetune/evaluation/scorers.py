"""Scorers: how one model output is judged against its reference.

Every scorer turns ``(output, reference)`` into a [`Score`][haiku_finetune.evaluation.scorers.Score] — a number
(``None`` when the output could
not be scored) plus details kept in the report. Scorers that need the whole set (label accuracy's confusion
matrix) also implement [`Scorer.aggregate`][haiku_finetune.evaluation.scorers.Scorer.aggregate]; scorers that call a
model ([`LlmJudge`][haiku_finetune.evaluation.scorers.LlmJudge]) override
[`Scorer.score_many`][haiku_finetune.evaluation.scorers.Scorer.score_many] to batch their calls. Pure scorers do no I/O;
``jsonschema`` (the ``eval`` extra)
is imported only when a [`JsonSchema`][haiku_finetune.evaluation.scorers.JsonSchema] scorer is built.

Built in: [`ExactMatch`][haiku_finetune.evaluation.scorers.ExactMatch],
[`LabelAccuracy`][haiku_finetune.evaluation.scorers.LabelAccuracy],
[`RougeL`][haiku_finetune.evaluation.scorers.RougeL], [`JsonValid`][haiku_finetune.evaluation.scorers.JsonValid],
[`JsonSchema`][haiku_finetune.evaluation.scorers.JsonSchema], [`Regex`][haiku_finetune.evaluation.scorers.Regex],
[`Contains`][haiku_finetune.evaluation.scorers.Contains],
[`FunctionScorer`][haiku_finetune.evaluation.scorers.FunctionScorer] (any callable) and
[`LlmJudge`][haiku_finetune.evaluation.scorers.LlmJudge].

Longer than ~600 lines on purpose: every built-in scorer is short and sits beside the protocol it implements.
"""

from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import MissingExtraError
from ..tools import ToolCall
from .examples import Example

if TYPE_CHECKING:
    from ..model import FineTunedModel

__all__ = [
    "Contains",
    "ExactMatch",
    "FunctionScorer",
    "JsonSchema",
    "JsonValid",
    "LabelAccuracy",
    "LlmJudge",
    "Regex",
    "RougeL",
    "Score",
    "Scorer",
    "ScoringItem",
    "as_scorer",
    "lcs_length",
    "normalize_text",
    "rouge_l",
    "tokenize",
]


@dataclass(frozen=True)
class Score:
    """The verdict on one output.

    Attributes:
        value: The score (for most scorers 1.0 = pass, 0.0 = fail; ROUGE-L in [0, 1]; a judge's number on
            its own scale), or ``None`` when the output could not be scored (e.g. an unparseable judge reply).
        detail: Anything worth keeping next to the number (the judge's raw reply, a schema error, ...).
    """

    value: float | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringItem:
    """One model output to score, with the example it answers."""

    example: Example
    output: str
    tool_calls: tuple[ToolCall, ...] = ()
    """The tools the model called (``Completion.tool_calls``), when the evaluation offered tools."""

    @property
    def reference(self) -> str:
        """The example's reference answer."""
        return self.example.reference


class Scorer:
    """Base class of scorers.

    A subclass implements [`score`][haiku_finetune.evaluation.scorers.Scorer.score] (one output against one reference);
    it may override
    [`score_many`][haiku_finetune.evaluation.scorers.Scorer.score_many] to score a whole list at once (e.g. to batch
    model calls) and [`aggregate`][haiku_finetune.evaluation.scorers.Scorer.aggregate] to add
    set-level figures to the report.

    Attributes:
        name: The scorer's column name in the report; unique within one evaluation.
    """

    name: str = "score"

    def score(self, output: str, reference: str) -> Score:
        """Score one output against its reference."""
        raise NotImplementedError(f"{type(self).__name__} must implement score() or score_many()")

    def score_many(self, items: Sequence[ScoringItem]) -> list[Score]:
        """Score many outputs, in order. The default calls [`score`][haiku_finetune.evaluation.scorers.Scorer.score] for
        each."""
        return [self.score(item.output, item.reference) for item in items]

    def aggregate(self, items: Sequence[ScoringItem], scores: Sequence[Score]) -> dict[str, Any]:
        """Return set-level figures for the report (default: none)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# -- text normalization ------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_text(
    text: str,
    *,
    lowercase: bool = True,
    collapse_whitespace: bool = True,
    strip_punctuation: bool = False,
    unicode_form: Literal["NFC", "NFKC"] | None = "NFKC",
) -> str:
    """Normalize text for comparison.

    Args:
        text: The text.
        lowercase: Compare case-insensitively (``str.casefold``).
        collapse_whitespace: Trim the ends and turn every run of whitespace into one space.
        strip_punctuation: Remove ASCII punctuation.
        unicode_form: Unicode normalization applied first (NFKC folds full-width forms and ligatures).

    Returns:
        The normalized text.
    """
    if unicode_form is not None:
        text = unicodedata.normalize(unicode_form, text)
    if lowercase:
        text = text.casefold()
    if strip_punctuation:
        text = text.translate(_PUNCTUATION)
    if collapse_whitespace:
        text = _WHITESPACE.sub(" ", text).strip()
    return text


class ExactMatch(Scorer):
    """1.0 when the output equals the reference after normalization, else 0.0.

    Args:
        lowercase: Ignore case (default True).
        collapse_whitespace: Ignore leading/trailing whitespace and differences in runs of whitespace
            (default True).
        strip_punctuation: Ignore ASCII punctuation (default False).
        normalizer: A function replacing the built-in normalization entirely.
        name: The report column (default ``"exact_match"``).
    """

    def __init__(
        self,
        *,
        lowercase: bool = True,
        collapse_whitespace: bool = True,
        strip_punctuation: bool = False,
        normalizer: Callable[[str], str] | None = None,
        name: str = "exact_match",
    ) -> None:
        self.name = name
        self._normalize: Callable[[str], str] = normalizer or (
            lambda text: normalize_text(
                text,
                lowercase=lowercase,
                collapse_whitespace=collapse_whitespace,
                strip_punctuation=strip_punctuation,
            )
        )

    def score(self, output: str, reference: str) -> Score:
        """Return 1.0 on a normalized match, else 0.0."""
        return Score(1.0 if self._normalize(output) == self._normalize(reference) else 0.0)


# -- classification ----------------------------------------------------------------------------------------

#: The predicted label of an output that matches none of the allowed labels.
OTHER_LABEL = "(other)"


class LabelAccuracy(Scorer):
    """Classification accuracy, with per-label precision/recall/F1 and a confusion matrix.

    Output and reference are normalized (case, surrounding whitespace and trailing ``.``/``!`` ignored) and
    compared. An output that is not one of the labels is predicted as ``"(other)"`` and counts as wrong; the
    confusion matrix then has one ``"(other)"`` column (not one column per free-text reply). The labels are
    ``labels`` when given, else the labels the references contain (collapsed in
    [`aggregate`][haiku_finetune.evaluation.scorers.LabelAccuracy.aggregate], which sees
    them all; a single [`score`][haiku_finetune.evaluation.scorers.LabelAccuracy.score] compares with its own reference
    only).

    The per-example value is 1.0 (correct) or 0.0.
    [`aggregate`][haiku_finetune.evaluation.scorers.LabelAccuracy.aggregate] adds ``accuracy``, ``labels``,
    ``per_label`` (``{label: {"precision", "recall", "f1", "support"}}``), ``macro_f1`` and
    ``confusion_matrix`` (``{reference label: {predicted label: count}}``). Precision of a label never
    predicted is ``None`` (undefined), as is F1 then.

    Args:
        labels: The allowed labels (default: whatever the references contain).
        extract: A function pulling the label out of a free-text output (applied before normalization).
        lowercase: Compare labels case-insensitively (default True).
        name: The report column (default ``"label_accuracy"``).
    """

    def __init__(
        self,
        labels: Sequence[str] | None = None,
        *,
        extract: Callable[[str], str] | None = None,
        lowercase: bool = True,
        name: str = "label_accuracy",
    ) -> None:
        self.name = name
        self._lowercase = lowercase
        self._extract = extract
        self._labels: dict[str, str] | None = None
        if labels is not None:
            if not labels:
                raise ValueError("labels must not be empty (leave it out to take labels from the references)")
            self._labels = {self._norm(label): label for label in labels}

    def _norm(self, text: str) -> str:
        text = normalize_text(text, lowercase=self._lowercase)
        return text.rstrip(".!").strip()

    def label_of(self, output: str) -> str:
        """Return the predicted label for an output (the allowed label's own spelling, or ``"(other)"``)."""
        key = self._norm(self._extract(output) if self._extract else output)
        if self._labels is None:
            return key
        return self._labels.get(key, OTHER_LABEL)

    def _reference_label(self, reference: str) -> str:
        key = self._norm(reference)
        if self._labels is None:
            return key
        return self._labels.get(key, reference.strip())

    def score(self, output: str, reference: str) -> Score:
        """Return 1.0 when the predicted label is the reference label, else 0.0."""
        predicted, expected = self.label_of(output), self._reference_label(reference)
        return Score(1.0 if predicted == expected else 0.0, {"predicted": predicted, "expected": expected})

    def aggregate(self, items: Sequence[ScoringItem], scores: Sequence[Score]) -> dict[str, Any]:
        """Return accuracy, per-label precision/recall/F1, macro F1 and the confusion matrix."""
        pairs = [(self._reference_label(i.reference), self.label_of(i.output)) for i in items]
        if self._labels is None:
            # The references define the labels: a free-text reply outside them is one "(other)", not a column.
            known = {expected for expected, _ in pairs}
            pairs = [(e, p if p in known else OTHER_LABEL) for e, p in pairs]
        return classification_summary(pairs, labels=list(self._labels.values()) if self._labels else None)


def classification_summary(pairs: Sequence[tuple[str, str]], *, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Compute accuracy, per-label precision/recall/F1 and a confusion matrix from (expected, predicted) pairs.

    Args:
        pairs: ``(expected label, predicted label)`` for each example.
        labels: The label order (default: sorted labels seen among the expected ones). Predicted labels
            outside it get their own columns, after it.

    Returns:
        ``{"accuracy", "labels", "per_label", "macro_f1", "confusion_matrix"}``.
    """
    expected_labels = list(labels) if labels is not None else sorted({e for e, _ in pairs})
    rows = expected_labels + sorted({e for e, _ in pairs} - set(expected_labels))
    columns = rows + sorted({p for _, p in pairs} - set(rows))
    matrix: dict[str, dict[str, int]] = {e: dict.fromkeys(columns, 0) for e in rows}
    for expected, predicted in pairs:
        matrix[expected][predicted] += 1
    predicted_counts = Counter(p for _, p in pairs)
    per_label: dict[str, dict[str, float | int | None]] = {}
    for label in matrix:
        true_positive = matrix[label].get(label, 0)
        support = sum(matrix[label].values())
        predicted_count = predicted_counts.get(label, 0)
        precision = true_positive / predicted_count if predicted_count else None
        recall = true_positive / support if support else None
        if precision is None or recall is None:
            f1 = None
        else:
            f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    f1s = [v["f1"] for v in per_label.values() if v["support"]]
    macro_f1 = sum(f or 0.0 for f in f1s) / len(f1s) if f1s else None
    correct = sum(1 for e, p in pairs if e == p)
    return {
        "accuracy": correct / len(pairs) if pairs else None,
        "labels": list(matrix),
        "per_label": per_label,
        "macro_f1": macro_f1,
        "confusion_matrix": matrix,
    }


# -- ROUGE-L -----------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Split text into ROUGE tokens: runs of Unicode word characters, case-folded (punctuation is dropped)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Return the length of the longest common subsequence of two token sequences.

    Bit-parallel (Hyyrö 2004): one big-integer step per token of ``b``, so long outputs stay fast.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for position, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << position)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        matches = row & masks.get(token, 0)
        row = ((row + matches) | (row - matches)) & full
    return len(a) - row.bit_count()


def rouge_l(output: str, reference: str) -> tuple[float, float, float]:
    """Return ROUGE-L ``(precision, recall, f1)`` of an output against a reference.

    Precision = LCS / output tokens, recall = LCS / reference tokens, F1 their harmonic mean (β = 1, as the
    ``rouge-score`` package reports). Two empty texts score 1.0; one empty text scores 0.0.
    """
    out, ref = tokenize(output), tokenize(reference)
    if not out and not ref:
        return 1.0, 1.0, 1.0
    lcs = lcs_length(ref, out)
    if lcs == 0:
        return 0.0, 0.0, 0.0
    precision, recall = lcs / len(out), lcs / len(ref)
    return precision, recall, 2 * precision * recall / (precision + recall)


class RougeL(Scorer):
    """ROUGE-L F1: longest-common-subsequence overlap of word tokens, in [0, 1].

    Tokens are runs of Unicode letters/digits/underscore after NFKC normalization and case folding; no
    stemming and no stop-word removal (so figures can sit a little below ``rouge-score``'s with its
    stemmer on). The detail keeps precision and recall.

    Args:
        name: The report column (default ``"rouge_l"``).
    """

    def __init__(self, *, name: str = "rouge_l") -> None:
        self.name = name

    def score(self, output: str, reference: str) -> Score:
        """Return the ROUGE-L F1 of ``output`` against ``reference``."""
        precision, recall, f1 = rouge_l(output, reference)
        return Score(f1, {"precision": precision, "recall": recall})


# -- structured output -------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def _strip_fence(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _parse_json(text: str, strip_code_fence: bool) -> tuple[Any, str | None]:
    try:
        return json.loads(_strip_fence(text) if strip_code_fence else text), None
    except json.JSONDecodeError as error:
        return None, f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"


class JsonValid(Scorer):
    """1.0 when the output parses as JSON, else 0.0 (the parse error is kept in the detail).

    Args:
        strip_code_fence: Accept output wrapped in a Markdown code fence (```` ```json ... ``` ````).
        name: The report column (default ``"json_valid"``).
    """

    def __init__(self, *, strip_code_fence: bool = True, name: str = "json_valid") -> None:
        self.name = name
        self._strip = strip_code_fence

    def score(self, output: str, reference: str) -> Score:
        """Return 1.0 when ``output`` is valid JSON."""
        _, error = _parse_json(output, self._strip)
        return Score(0.0, {"error": error}) if error else Score(1.0)


class JsonSchema(Scorer):
    """1.0 when the output is JSON conforming to a JSON Schema, else 0.0 (the reasons are kept).

    Needs the ``eval`` extra (``jsonschema``), imported when the scorer is built. The schema's own
    ``$schema`` picks the draft (default: the newest ``jsonschema`` knows); an invalid schema is refused
    at construction.

    Args:
        schema: The JSON Schema, as a dict.
        strip_code_fence: Accept output wrapped in a Markdown code fence.
        max_errors: How many validation errors to keep per output.
        name: The report column (default ``"json_schema"``).

    Raises:
        MissingExtraError: ``jsonschema`` is not installed.
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        strip_code_fence: bool = True,
        max_errors: int = 5,
        name: str = "json_schema",
    ) -> None:
        try:
            import jsonschema
        except ImportError as error:
            raise MissingExtraError("JsonSchema scorer", "eval", "jsonschema") from error
        document = dict(schema)
        cls = jsonschema.validators.validator_for(document)
        cls.check_schema(document)
        self._validator = cls(document)
        self.name = name
        self._strip = strip_code_fence
        self._max_errors = max_errors

    def score(self, output: str, reference: str) -> Score:
        """Return 1.0 when ``output`` parses and conforms to the schema."""
        document, error = _parse_json(output, self._strip)
        if error:
            return Score(0.0, {"errors": [error]})
        errors = sorted(self._validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        if not errors:
            return Score(1.0)
        messages = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
        return Score(0.0, {"errors": messages[: self._max_errors]})


# -- patterns ----------------------------------------------------------------------------------------------


class Regex(Scorer):
    """1.0 when the output matches a regular expression, else 0.0.

    Args:
        pattern: The regular expression (a string or compiled pattern).
        flags: ``re`` flags when ``pattern`` is a string.
        mode: ``"search"`` (anywhere in the output, default), ``"match"`` (at the start) or ``"fullmatch"``.
        name: The report column (default ``"regex"``).
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        *,
        flags: int = 0,
        mode: Literal["search", "match", "fullmatch"] = "search",
        name: str = "regex",
    ) -> None:
        if mode not in ("search", "match", "fullmatch"):
            raise ValueError(f"mode must be 'search', 'match' or 'fullmatch', got {mode!r}")
        self._pattern = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        self._match = getattr(self._pattern, mode)
        self.name = name

    def score(self, output: str, reference: str) -> Score:
        """Return 1.0 when the pattern matches ``output``."""
        return Score(1.0 if self._match(output) else 0.0)


class Contains(Scorer):
    """1.0 when the output contains a text (by default: the reference itself), else 0.0.

    Args:
        text: The text to look for; ``None`` looks for the reference answer.
        case_sensitive: Compare case-sensitively (default False). Whitespace runs are collapsed either way.
        name: The report column (default ``"contains"``).
    """

    def __init__(self, text: str | None = None, *, case_sensitive: bool = False, name: str = "contains") -> None:
        self._text = text
        self._lowercase = not case_sensitive
        self.name = name

    def score(self, output: str, reference: str) -> Score:
        """Return 1.0 when the (normalized) needle occurs in the (normalized) output."""
        needle = normalize_text(self._text if self._text is not None else reference, lowercase=self._lowercase)
        return Score(1.0 if needle in normalize_text(output, lowercase=self._lowercase) else 0.0)


# -- any function ------------------------------------------------------------------------------------------


class FunctionScorer(Scorer):
    """A scorer from any function ``fn(output, reference)``.

    The function may return a number, a bool (True = 1.0), ``None`` (not scorable) or a
    [`Score`][haiku_finetune.evaluation.scorers.Score].

    Args:
        fn: The scoring function.
        name: The report column (default: the function's ``__name__``).
    """

    def __init__(self, fn: Callable[[str, str], float | bool | Score | None], *, name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionScorer needs a callable, got {type(fn).__name__}")
        self._fn = fn
        self.name = name or getattr(fn, "__name__", "") or "function"
        if self.name == "<lambda>":
            self.name = "function"

    def score(self, output: str, reference: str) -> Score:
        """Call the function and coerce its result to a [`Score`][haiku_finetune.evaluation.scorers.Score]."""
        result = self._fn(output, reference)
        if isinstance(result, Score):
            return result
        if result is None:
            return Score(None)
        if isinstance(result, bool):
            return Score(1.0 if result else 0.0)
        if isinstance(result, (int, float)) and math.isfinite(result):
            return Score(float(result))
        raise TypeError(f"scorer {self.name!r} returned {result!r}; expected a finite number, a bool, None or a Score")


def as_scorer(scorer: Scorer | Callable[[str, str], float | bool | Score | None]) -> Scorer:
    """Return ``scorer`` itself, or a [`FunctionScorer`][haiku_finetune.evaluation.scorers.FunctionScorer] around a
    plain function."""
    if isinstance(scorer, Scorer):
        return scorer
    if callable(scorer):
        return FunctionScorer(scorer)
    raise TypeError(f"not a scorer: {scorer!r}")


# -- LLM as judge ------------------------------------------------------------------------------------------

DEFAULT_RUBRIC = (
    "Judge how well the candidate answer fulfils the request, using the reference answer as the standard: "
    "correctness and completeness first, then clarity. Do not reward length."
)

DEFAULT_JUDGE_TEMPLATE = """You are grading an AI assistant's answer.

Rubric:
{rubric}

<conversation>
{prompt}
</conversation>

<reference_answer>
{reference}
</reference_answer>

<candidate_answer>
{output}
</candidate_answer>

Explain your judgement in one or two sentences, then give the final line exactly as
"Score: N" where N is a number from {low} to {high} ({high} is best)."""

_SCORE_LINE = re.compile(r"score\s*[:=]\s*\**\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*\**\s*(-?\d+(?:\.\d+)?)\s*\**\s*(?:/\s*\d+)?\s*$")


def parse_judge_score(reply: str, low: float, high: float) -> tuple[float | None, str | None]:
    """Pull the score out of a judge's reply.

    Takes the last ``Score: N`` in the reply, else a reply that is only a number (``"4"``, ``"4/5"``).

    Returns:
        ``(score, None)``, or ``(None, reason)`` when there is no score or it is outside ``[low, high]``.
    """
    found = _SCORE_LINE.findall(reply)
    if found:
        text = found[-1]
    else:
        bare = _BARE_NUMBER.match(reply)
        if not bare:
            return None, "no 'Score: N' line in the judge's reply"
        text = bare.group(1)
    value = float(text)
    if not low <= value <= high:
        return None, f"judge score {value:g} is outside the scale {low:g}-{high:g}"
    return value, None


@dataclass(eq=False, repr=False)  # a scorer is one object (identity, Scorer's short repr), not a value
class LlmJudge(Scorer):
    """LLM as judge: a judge model grades each output against the reference with a rubric.

    The judge sees the rubric, the conversation, the reference answer and the candidate answer, and ends
    its reply with ``Score: N``. The value is N on the judge's scale (default 1–5; ``None`` when the reply
    has no usable score); the detail keeps the judge's raw reply. Calls go through the judge's
    ``FineTunedModel.batch`` with ``on_error="return"``, so one failed call leaves one unscored output.

    Args:
        judge: The judge model (often a stronger model than the ones being evaluated).
        rubric: What to judge by (inserted into the template).
        scale: ``(low, high)`` of the score.
        template: The full judge prompt; placeholders ``{rubric}``, ``{prompt}``, ``{reference}``,
            ``{output}``, ``{low}``, ``{high}``.
        system: A system prompt for the judge.
        max_tokens: The judge's reply budget.
        temperature: The judge's temperature (default 0 for repeatable grades).
        concurrency: Parallel judge calls.
        name: The report column (default ``"llm_judge"``).
    """

    judge: FineTunedModel
    rubric: str = DEFAULT_RUBRIC
    _: KW_ONLY
    scale: tuple[float, float] = (1, 5)
    template: str = DEFAULT_JUDGE_TEMPLATE
    system: str | None = None
    max_tokens: int = 512
    temperature: float | None = 0.0
    concurrency: int = 4
    name: str = "llm_judge"

    def __post_init__(self) -> None:
        low, high = self.scale
        if not low < high:
            raise ValueError(f"scale must be (low, high) with low < high, got {self.scale}")
        if "{output}" not in self.template:
            raise ValueError("the judge template must contain an {output} placeholder")
        self.scale = (float(low), float(high))

    def judge_prompt(self, item: ScoringItem) -> str:
        """Return the prompt the judge gets for one output."""
        low, high = self.scale
        return self.template.format(
            rubric=self.rubric,
            prompt=item.example.render(),
            reference=item.reference,
            output=item.output,
            low=f"{low:g}",
            high=f"{high:g}",
        )

    def score(self, output: str, reference: str) -> Score:
        """Judge one output (without the conversation; prefer
        [`score_many`][haiku_finetune.evaluation.scorers.LlmJudge.score_many])."""
        example = Example(id="0", messages=({"role": "user", "content": "(not given)"},), reference=reference)
        return self.score_many([ScoringItem(example, output)])[0]

    def score_many(self, items: Sequence[ScoringItem]) -> list[Score]:
        """Ask the judge about every output (in parallel) and parse each reply."""
        if not items:
            return []
        prompts = [self.judge_prompt(item) for item in items]
        kwargs: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.system is not None:
            kwargs["system"] = self.system
        replies = self.judge.batch(prompts, concurrency=self.concurrency, progress=False, on_error="return", **kwargs)
        scores: list[Score] = []
        for reply in replies:
            if isinstance(reply, BaseException):
                scores.append(Score(None, {"reply": None, "error": f"judge call failed: {reply}"}))
                continue
            value, problem = parse_judge_score(reply.text, *self.scale)
            detail: dict[str, Any] = {"reply": reply.text}
            if problem:
                detail["error"] = problem
            scores.append(Score(value, detail))
        return scores

    def aggregate(self, items: Sequence[ScoringItem], scores: Sequence[Score]) -> dict[str, Any]:
        """Return the scale and how many replies had no usable score."""
        return {"scale": list(self.scale), "unparsed": sum(1 for s in scores if s.value is None)}
