"""Scorers: each one against hand-worked cases, ROUGE-L's fast LCS against the textbook DP."""

from __future__ import annotations

import builtins
import re
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haiku_finetune.errors import MissingExtraError
from haiku_finetune.evaluation import (
    Contains,
    ExactMatch,
    Example,
    FunctionScorer,
    JsonSchema,
    JsonValid,
    LabelAccuracy,
    LlmJudge,
    Regex,
    RougeL,
    Score,
    ScoringItem,
)
from haiku_finetune.evaluation.scorers import (
    OTHER_LABEL,
    as_scorer,
    lcs_length,
    normalize_text,
    parse_judge_score,
    rouge_l,
    tokenize,
)


def _item(output: str, reference: str, ident: str = "0", question: str = "q?") -> ScoringItem:
    example = Example(id=ident, messages=({"role": "user", "content": question},), reference=reference)
    return ScoringItem(example, output)


# -- exact match -------------------------------------------------------------------------------------------


def test_normalize_text_defaults_fold_case_and_whitespace() -> None:
    assert normalize_text("  Hello \n\t WORLD  ") == "hello world"
    assert normalize_text("Ｈｅｌｌｏ") == "hello"  # NFKC folds full-width letters
    assert normalize_text("Hi, there!", strip_punctuation=True) == "hi there"
    assert normalize_text(" A  B ", lowercase=False, collapse_whitespace=False) == " A  B "


@pytest.mark.parametrize(
    ("output", "reference", "kwargs", "expected"),
    [
        ("Paris", "paris", {}, 1.0),
        ("  Paris \n", "Paris", {}, 1.0),
        ("New   York", "new york", {}, 1.0),
        ("Paris.", "Paris", {}, 0.0),
        ("Paris.", "Paris", {"strip_punctuation": True}, 1.0),
        ("Paris", "paris", {"lowercase": False}, 0.0),
        ("a  b", "a b", {"collapse_whitespace": False}, 0.0),
        ("Lyon", "Paris", {}, 0.0),
    ],
)
def test_exact_match(output: str, reference: str, kwargs: dict[str, Any], expected: float) -> None:
    assert ExactMatch(**kwargs).score(output, reference).value == expected


def test_exact_match_custom_normalizer_replaces_builtin() -> None:
    scorer = ExactMatch(normalizer=lambda s: s.replace("-", ""), name="digits")
    assert scorer.name == "digits"
    assert scorer.score("555-1234", "5551234").value == 1.0
    assert scorer.score("555-1234 ", "5551234").value == 0.0


# -- label accuracy ----------------------------------------------------------------------------------------


def test_label_accuracy_per_example_and_aggregate_by_hand() -> None:
    scorer = LabelAccuracy(labels=["billing", "bug", "other"])
    pairs = [
        ("billing", "Billing"),
        ("Billing.", "billing"),
        ("bug", "billing"),
        ("bug", "bug"),
        ("I think it's a bug", "bug"),
        ("other", "other"),
    ]
    items = [_item(out, ref, str(i)) for i, (out, ref) in enumerate(pairs)]
    scores = scorer.score_many(items)
    assert [s.value for s in scores] == [1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert scores[4].detail == {"predicted": OTHER_LABEL, "expected": "bug"}
    agg = scorer.aggregate(items, scores)
    assert agg["accuracy"] == pytest.approx(4 / 6)
    assert agg["labels"] == ["billing", "bug", "other"]
    matrix = agg["confusion_matrix"]
    assert matrix["billing"] == {"billing": 2, "bug": 1, "other": 0, OTHER_LABEL: 0}
    assert matrix["bug"] == {"billing": 0, "bug": 1, "other": 0, OTHER_LABEL: 1}
    assert matrix["other"]["other"] == 1
    # billing: predicted twice, both right (precision 1); 3 references, 2 found (recall 2/3)
    billing = agg["per_label"]["billing"]
    assert billing["precision"] == 1.0
    assert billing["recall"] == pytest.approx(2 / 3)
    assert billing["f1"] == pytest.approx(0.8)
    assert billing["support"] == 3
    # bug: predicted twice (1 right), 2 references (1 found)
    bug = agg["per_label"]["bug"]
    assert (bug["precision"], bug["recall"], bug["f1"]) == (0.5, 0.5, 0.5)
    assert agg["macro_f1"] == pytest.approx((0.8 + 0.5 + 1.0) / 3)


def test_label_accuracy_without_labels_uses_references_and_undefined_precision_is_none() -> None:
    scorer = LabelAccuracy()
    items = [_item("yes", "Yes"), _item("yes", "No"), _item("maybe", "No")]
    agg = scorer.aggregate(items, scorer.score_many(items))
    assert agg["labels"] == ["no", "yes"]
    # "maybe" is not a reference label: it is one "(other)" column, not a column of its own
    assert agg["confusion_matrix"]["no"] == {"no": 0, "yes": 1, OTHER_LABEL: 1}
    assert agg["per_label"]["no"]["precision"] is None  # never predicted
    assert agg["per_label"]["no"]["f1"] is None
    assert agg["per_label"]["no"]["recall"] == 0.0


def test_label_accuracy_extract_and_empty_labels() -> None:
    scorer = LabelAccuracy(["Spam", "Ham"], extract=lambda s: s.split(":")[-1])
    assert scorer.score("Label: spam", "Spam").value == 1.0
    assert scorer.label_of("Label: eggs") == OTHER_LABEL
    with pytest.raises(ValueError, match="labels must not be empty"):
        LabelAccuracy([])


# -- ROUGE-L -----------------------------------------------------------------------------------------------


def _dp_lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from("abcde"), max_size=30), st.lists(st.sampled_from("abcde"), max_size=30))
def test_bit_parallel_lcs_matches_dynamic_programming(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == _dp_lcs(a, b)
    assert lcs_length(a, b) == lcs_length(b, a)


def test_rouge_l_by_hand() -> None:
    # reference: the cat sat on the mat (6 tokens); output: the cat lay on the mat today (7 tokens)
    # LCS = the cat on the mat = 5 -> P = 5/7, R = 5/6, F1 = 2PR/(P+R) = 10/13
    precision, recall, f1 = rouge_l("The cat lay on the mat, today.", "the cat sat on the mat")
    assert precision == pytest.approx(5 / 7)
    assert recall == pytest.approx(5 / 6)
    assert f1 == pytest.approx(10 / 13)
    score = RougeL().score("The cat lay on the mat, today.", "the cat sat on the mat")
    assert score.value == pytest.approx(10 / 13)
    assert score.detail["recall"] == pytest.approx(5 / 6)


def test_rouge_l_edges() -> None:
    assert rouge_l("", "") == (1.0, 1.0, 1.0)
    assert rouge_l("", "something") == (0.0, 0.0, 0.0)
    assert rouge_l("alpha", "beta") == (0.0, 0.0, 0.0)
    assert rouge_l("Same words here", "same, words; HERE!")[2] == 1.0
    assert tokenize("Ünïcode wörds_1 & co.") == ["ünïcode", "wörds_1", "co"]


def test_rouge_l_long_texts_are_fast_enough() -> None:
    words = [f"w{i % 97}" for i in range(3000)]
    assert lcs_length(words, list(reversed(words))) > 0  # 3000 x 3000 would take seconds with the DP


# -- JSON --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [('{"a": 1}', 1.0), ("[1, 2]", 1.0), ('```json\n{"a": 1}\n```', 1.0), ("{'a': 1}", 0.0), ("", 0.0)],
)
def test_json_valid(output: str, expected: float) -> None:
    assert JsonValid().score(output, "").value == expected


def test_json_valid_keeps_error_and_fence_can_be_refused() -> None:
    bad = JsonValid().score('{"a": }', "")
    assert "not valid JSON" in bad.detail["error"]
    assert JsonValid(strip_code_fence=False).score('```json\n{"a": 1}\n```', "").value == 0.0


SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["spam", "ham"]}, "confidence": {"type": "number"}},
    "required": ["label"],
}


def test_json_schema_conformance() -> None:
    scorer = JsonSchema(SCHEMA)
    assert scorer.score('{"label": "spam", "confidence": 0.9}', "").value == 1.0
    wrong = scorer.score('{"label": "eggs", "confidence": "high"}', "")
    assert wrong.value == 0.0
    assert any(e.startswith("confidence:") for e in wrong.detail["errors"])
    assert any(e.startswith("label:") for e in wrong.detail["errors"])
    missing = scorer.score("{}", "")
    assert missing.detail["errors"] == ["(root): 'label' is a required property"]
    assert scorer.score("not json", "").detail["errors"][0].startswith("not valid JSON")


def test_json_schema_refuses_invalid_schema() -> None:
    import jsonschema

    with pytest.raises(jsonschema.SchemaError):
        JsonSchema({"type": "no-such-type"})


def test_json_schema_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "jsonschema":
            raise ImportError("No module named 'jsonschema'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "jsonschema", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingExtraError, match=r"haiku-finetune\[eval\]"):
        JsonSchema(SCHEMA)


# -- regex / contains / callables --------------------------------------------------------------------------


def test_regex_modes() -> None:
    assert Regex(r"\d{3}-\d{4}").score("call 555-1234 now", "").value == 1.0
    assert Regex(r"\d{3}-\d{4}", mode="fullmatch").score("call 555-1234 now", "").value == 0.0
    assert Regex(r"call", mode="match").score("call me", "").value == 1.0
    assert Regex(re.compile("YES", re.IGNORECASE)).score("yes", "").value == 1.0
    assert Regex("yes", flags=re.IGNORECASE, name="yes").name == "yes"
    with pytest.raises(ValueError, match="mode"):
        Regex("x", mode="find")  # type: ignore[arg-type]


def test_contains() -> None:
    assert Contains().score("The answer is  Paris, France.", "paris, france").value == 1.0
    assert Contains(case_sensitive=True).score("the answer is paris", "Paris").value == 0.0
    assert Contains("refund").score("We will refund you", "irrelevant").value == 1.0
    assert Contains("refund").score("No money back", "refund").value == 0.0


def test_function_scorer_coerces_results() -> None:
    def length_ok(output: str, reference: str) -> bool:
        return len(output) <= len(reference)

    scorer = as_scorer(length_ok)
    assert isinstance(scorer, FunctionScorer)
    assert scorer.name == "length_ok"
    assert scorer.score("ab", "abc").value == 1.0
    assert FunctionScorer(lambda o, r: 0.25).score("", "").value == 0.25
    assert FunctionScorer(lambda o, r: 0.25).name == "function"
    assert FunctionScorer(lambda o, r: None).score("", "").value is None
    assert FunctionScorer(lambda o, r: Score(0.5, {"why": "half"})).score("", "").detail == {"why": "half"}
    with pytest.raises(TypeError, match="returned 'x'"):
        FunctionScorer(lambda o, r: "x", name="bad").score("", "")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="not a scorer"):
        as_scorer(42)  # type: ignore[arg-type]


# -- LLM judge ---------------------------------------------------------------------------------------------


class _Reply:
    def __init__(self, text: str) -> None:
        self.text = text


class FakeJudge:
    """Stands in for a FineTunedModel: answers each judge prompt from a script, records the calls."""

    def __init__(self, replies: list[str | BaseException]) -> None:
        self.replies = replies
        self.calls: list[dict[str, Any]] = []

    def batch(self, prompts: list[str], **kwargs: Any) -> list[Any]:
        self.calls.append({"prompts": prompts, **kwargs})
        return [r if isinstance(r, BaseException) else _Reply(r) for r in self.replies[: len(prompts)]]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Good answer.\nScore: 4", 4.0),
        ("Score: 2 ... on reflection\nScore: 3.5", 3.5),
        ("**Score:** 5", 5.0),
        ("4", 4.0),
        ("4/5", 4.0),
        ("SCORE = 1", 1.0),
    ],
)
def test_parse_judge_score(reply: str, expected: float) -> None:
    assert parse_judge_score(reply, 1, 5) == (expected, None)


@pytest.mark.parametrize(("reply", "reason"), [("Great job", "no 'Score: N'"), ("Score: 9", "outside the scale")])
def test_parse_judge_score_refuses(reply: str, reason: str) -> None:
    value, problem = parse_judge_score(reply, 1, 5)
    assert value is None
    assert problem is not None
    assert reason in problem


def test_llm_judge_scores_keep_raw_reply_and_send_full_context() -> None:
    judge = FakeJudge(["Correct.\nScore: 5", "Vague.\nScore: 2", "I refuse", RuntimeError("throttled")])
    scorer = LlmJudge(judge, "Be strict about dates.", system="You are a grader.")  # type: ignore[arg-type]
    items = [
        _item("1969", "1969", "a", question="When did Apollo 11 land?"),
        _item("the sixties", "1969", "b"),
        _item("?", "1969", "c"),
        _item("!", "1969", "d"),
    ]
    scores = scorer.score_many(items)
    assert [s.value for s in scores] == [5.0, 2.0, None, None]
    assert scores[0].detail == {"reply": "Correct.\nScore: 5"}
    assert scores[2].detail["reply"] == "I refuse"
    assert "no 'Score: N'" in scores[2].detail["error"]
    assert "throttled" in scores[3].detail["error"]
    call = judge.calls[0]
    assert call["on_error"] == "return"
    assert call["temperature"] == 0.0
    assert call["system"] == "You are a grader."
    first = call["prompts"][0]
    assert "Be strict about dates." in first
    assert "User: When did Apollo 11 land?" in first
    assert "<candidate_answer>\n1969\n</candidate_answer>" in first
    assert "from 1 to 5" in first
    assert scorer.aggregate(items, scores) == {"scale": [1.0, 5.0], "unparsed": 2}
    assert LlmJudge(FakeJudge(["Score: 3"]), scale=(0, 10)).score("x", "y").value == 3.0  # type: ignore[arg-type]
    assert scorer.score_many([]) == []


def test_llm_judge_checks_its_settings() -> None:
    with pytest.raises(ValueError, match="low < high"):
        LlmJudge(FakeJudge([]), scale=(5, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="output"):
        LlmJudge(FakeJudge([]), template="no placeholder")  # type: ignore[arg-type]
