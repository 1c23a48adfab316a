"""Evaluation: score models on a held-out test set and prove (or disprove) that a fine-tune helps.

``evaluate(models, data, scorers=[...])`` sends every test prompt to every model (call by call through
``FineTunedModel.batch``, or as a Bedrock batch-inference job), scores each output against the reference and
returns an [`EvaluationReport`][haiku_finetune.evaluation.EvaluationReport] with per-model summaries, per-example rows
and paired comparisons.
`EvaluationJob` runs Bedrock's own model evaluation jobs (automatic metrics or a judge model) and reads
their scores into the same report.
`ToolCallMatch` scores tool use: the right tool, with arguments matching expected values or a JSON Schema.
"""

from .batch_inference import BatchInferenceJob
from .evaluator import evaluate
from .examples import Example, load_examples
from .managed import EvaluationJob, EvaluationRecord
from .report import Comparison, EvaluationReport, ExampleRow, ModelOutput, ModelSummary, ScoreSummary
from .scorers import (
    Contains,
    ExactMatch,
    FunctionScorer,
    JsonSchema,
    JsonValid,
    LabelAccuracy,
    LlmJudge,
    Regex,
    RougeL,
    Score,
    Scorer,
    ScoringItem,
)
from .stats import PairedComparison, bootstrap_ci, paired_comparison, permutation_test, sign_test
from .tool_calls import ToolCallMatch

__all__ = [
    "BatchInferenceJob",
    "Comparison",
    "Contains",
    "EvaluationJob",
    "EvaluationRecord",
    "EvaluationReport",
    "ExactMatch",
    "Example",
    "ExampleRow",
    "FunctionScorer",
    "JsonSchema",
    "JsonValid",
    "LabelAccuracy",
    "LlmJudge",
    "ModelOutput",
    "ModelSummary",
    "PairedComparison",
    "Regex",
    "RougeL",
    "Score",
    "ScoreSummary",
    "Scorer",
    "ScoringItem",
    "ToolCallMatch",
    "bootstrap_ci",
    "evaluate",
    "load_examples",
    "paired_comparison",
    "permutation_test",
    "sign_test",
]
