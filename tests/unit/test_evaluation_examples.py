"""Test sets: records split into prompt and reference; files, builders and dicts; clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from haiku_finetune.evaluation import Example, load_examples


def _record(question: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "system": "Be brief.",
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        **extra,
    }


def test_final_assistant_message_is_the_reference() -> None:
    multi = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "capital of France?"},
            {"role": "assistant", "content": "Paris"},
        ]
    }
    [example] = load_examples([multi])
    assert example.reference == "Paris"
    assert example.system is None
    assert [m["content"] for m in example.messages] == ["hi", "hello", "capital of France?"]
    assert example.last_user_message == "capital of France?"
    assert example.id == "0"
    assert example.to_record() == {"messages": list(example.messages)}
    assert example.render() == "User: hi\n\nAssistant: hello\n\nUser: capital of France?"


def test_jsonl_file_with_ids_blank_lines_and_max_examples(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    lines = [orjson.dumps(_record(f"q{i}", f"a{i}", id=f"case-{i}")) for i in range(5)]
    path.write_bytes(b"\n".join(lines[:2]) + b"\n\n" + b"\n".join(lines[2:]) + b"\n")
    examples = load_examples(path)
    assert [e.id for e in examples] == [f"case-{i}" for i in range(5)]
    assert examples[0].system == "Be brief."
    assert examples[0].to_record()["system"] == "Be brief."
    assert len(load_examples(str(path), max_examples=2)) == 2


class _Builder:
    """Like DatasetBuilder for this purpose: iterating yields record dicts."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records

    def __iter__(self) -> Any:
        return iter(self._records)


def test_builder_like_iterables_and_record_ids() -> None:
    examples = load_examples(_Builder([_record("q", "a", recordId="r1"), _record("q2", "a2")]))
    assert [e.id for e in examples] == ["r1", "1"]
    assert isinstance(examples[0], Example)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([1, 2], "expected a JSON object"),
        ({"messages": [{"role": "user", "content": "q"}]}, "at least two messages"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}]}, "last message"),
        (
            {"messages": [{"role": "assistant", "content": "q"}, {"role": "assistant", "content": "a"}]},
            "before the reference must be a user",
        ),
        ({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}, "message 0"),
        ({**_record("q", "a"), "system": 5}, "'system' must be a string"),
    ],
)
def test_malformed_records_name_the_record(record: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        load_examples([_record("fine", "ok"), record])
    assert "record 1" in str(caught.value)


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(_record("q", "a")) + b"\n{nope\n")
    with pytest.raises(ValueError, match=r"t\.jsonl line 2: not valid JSON"):
        load_examples(path)


def test_empty_duplicate_and_wrong_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        load_examples([])
    with pytest.raises(ValueError, match="share the id 'x'"):
        load_examples([_record("q", "a", id="x"), _record("q", "a", id="x")])
    with pytest.raises(TypeError, match="JSONL path"):
        load_examples(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_examples"):
        load_examples([_record("q", "a")], max_examples=0)
    with pytest.raises(FileNotFoundError):
        load_examples(tmp_path / "missing.jsonl")
