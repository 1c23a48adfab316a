"""DatasetBuilder: building, loading, deduplicating, splitting within the limits, writing atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import DatasetBuilder


def _builder(n: int) -> DatasetBuilder:
    builder = DatasetBuilder()
    for i in range(n):
        builder.add(user=f"question {i}", assistant=f"answer {i}", system="Be brief." if i % 2 else None)
    return builder


def test_add_conversation_extend_len_iter() -> None:
    builder = DatasetBuilder()
    assert builder.add(user="q", assistant="a") is builder  # chaining
    builder.add_conversation(
        [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a2"},
        ],
        system="sys",
    )
    source = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}
    builder.extend([source])
    source["messages"][0]["content"] = "changed"  # the builder took a copy
    assert len(builder) == 3
    records = list(builder)
    assert records[0] == {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert records[1]["system"] == "sys" and len(records[1]["messages"]) == 4
    assert records[2]["messages"][0]["content"] == "x"
    with pytest.raises(TypeError, match="user must be a string"):
        builder.add(user=3, assistant="a")  # type: ignore[arg-type]


def test_validate_reports_record_positions() -> None:
    builder = _builder(40)
    builder.add_conversation([{"role": "assistant", "content": "hi"}, {"role": "user", "content": "?"}])
    report = builder.validate()
    assert {(e.code, e.line) for e in report.errors} == {("first_not_user", 41), ("last_not_assistant", 41)}
    assert _builder(40).validate().ok
    assert _builder(40).validate(split="validation").ok  # 40 records fit both splits
    assert _builder(1_001).validate(split="validation").errors[0].code == "too_many_records"


def test_deduplicate_keeps_first_occurrence_in_order() -> None:
    builder = _builder(5)
    builder.extend([next(iter(_builder(3)))])  # a copy of record 0
    builder.add(user="question 2", assistant="answer 2")  # record 2 (no system) again
    assert len(builder) == 7
    unique = builder.deduplicate()
    assert len(unique) == 5 and list(unique) == list(_builder(5))
    assert builder.validate().warnings[0].code == "duplicate_record"
    assert not unique.validate(split="train").warnings


def test_split_is_deterministic_and_respects_the_limits() -> None:
    builder = _builder(200)
    train, validation = builder.split(validation_fraction=0.1, seed=7)
    assert (len(train), len(validation)) == (180, 20)
    again_train, again_validation = builder.split(validation_fraction=0.1, seed=7)
    assert list(again_validation) == list(validation) and list(again_train) == list(train)
    other = builder.split(validation_fraction=0.1, seed=8)[1]
    assert list(other) != list(validation)
    texts = [r["messages"][0]["content"] for r in train] + [r["messages"][0]["content"] for r in validation]
    assert sorted(texts) == sorted(r["messages"][0]["content"] for r in builder)  # a partition
    order = [int(r["messages"][0]["content"].split()[1]) for r in train]
    assert order == sorted(order)  # original order kept
    assert len(builder.split(validation_size=32, seed=1)[1]) == 32

    with pytest.raises(ValueError, match="exactly one"):
        builder.split()
    with pytest.raises(ValueError, match="exactly one"):
        builder.split(validation_fraction=0.1, validation_size=3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        builder.split(validation_fraction=1.0)
    with pytest.raises(ValueError, match="no training data"):
        builder.split(validation_size=200)
    with pytest.raises(ValueError, match="1,000 allowed"):
        _builder(2_000).split(validation_size=1_001)
    with pytest.raises(ValueError, match="10,000"):
        _builder(10_001).split(validation_size=100)


def test_write_is_utf8_lf_atomic_and_matches_sha256(tmp_path: Path) -> None:
    builder = _builder(40)
    builder.add(user="Grüße, 日本", assistant="ok")
    path = builder.write(tmp_path / "train.jsonl")
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data and data.endswith(b"\n")
    assert data.decode("utf-8").count("\n") == 41 and "Grüße, 日本" in data.decode("utf-8")
    assert hashlib.sha256(data).hexdigest() == builder.sha256()
    assert data == builder.to_jsonl_bytes()
    assert list(DatasetBuilder.from_jsonl(path)) == list(builder)


def test_write_refuses_invalid_data_unless_told(tmp_path: Path) -> None:
    target = tmp_path / "train.jsonl"
    target.write_text("old\n")
    too_few = _builder(10)
    with pytest.raises(hf.DatasetValidationError, match="too_few_records"):
        too_few.write(target)
    assert target.read_text() == "old\n"  # nothing half-written, old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl"]
    too_few.write(target, allow_invalid=True)
    assert len(target.read_text().splitlines()) == 10


def test_from_jsonl_lists_unloadable_lines(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    path.write_text(f"{good}\n{{oops\n[1]\n{good}\n")
    with pytest.raises(hf.DatasetValidationError) as caught:
        DatasetBuilder.from_jsonl(path)
    assert [(i.code, i.line) for i in caught.value.issues] == [("invalid_json", 2), ("not_object", 3)]
    with pytest.raises(FileNotFoundError):
        DatasetBuilder.from_jsonl(tmp_path / "missing.jsonl")


def test_from_prompt_completion_openai_chat_records_rows(tmp_path: Path) -> None:
    pc = tmp_path / "pc.jsonl"
    pc.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(3)))
    built = DatasetBuilder.from_prompt_completion(pc, system="S")
    assert len(built) == 3 and next(iter(built))["system"] == "S"

    chat = tmp_path / "chat.jsonl"
    rows: list[dict[str, Any]] = [
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
            ]
        },
        {"messages": [{"role": "user", "content": "q", "name": "n"}, {"role": "assistant", "content": "a"}]},
    ]
    chat.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(hf.DatasetValidationError) as caught:
        DatasetBuilder.from_openai_chat(chat)
    assert [(i.code, i.line) for i in caught.value.issues] == [("unsupported", 2)]
    assert len(DatasetBuilder.from_openai_chat(chat, drop_unsupported=True)) == 2

    assert list(DatasetBuilder.from_records(list(built))) == list(built)
    from_rows = DatasetBuilder.from_rows([{"prompt": "q", "completion": "a"}])
    assert list(from_rows) == [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}]
    with pytest.raises(hf.DatasetValidationError, match="row 1"):
        DatasetBuilder.from_rows([{"prompt": "", "completion": "a"}])
