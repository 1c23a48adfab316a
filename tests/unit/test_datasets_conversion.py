"""Conversions into the Messages format: each bad input line reported by number, output written atomically."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune.datasets import convert_csv, convert_openai_chat, convert_prompt_completion, records_from_rows


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prompt_completion_with_system_and_bad_lines(tmp_path: Path) -> None:
    source = _jsonl(
        tmp_path / "pc.jsonl",
        [
            {"prompt": "Where is my order?", "completion": "It ships tomorrow."},
            "{not json",
            {"prompt": "Refund?", "completion": ""},
            {"prompt": "Hi"},
            [1, 2],
            "",
            {"prompt": "Invoice?", "completion": "Sent again."},
        ],
    )
    result = convert_prompt_completion(source, tmp_path / "out.jsonl", system="Be brief.")
    assert [(e.code, e.line) for e in result.errors] == [
        ("invalid_json", 2),
        ("content_type", 3),
        ("missing_key", 4),
        ("not_object", 5),
        ("blank_line", 6),
    ]
    assert result.written == 2 and not result.ok
    assert _read(tmp_path / "out.jsonl") == [
        {
            "system": "Be brief.",
            "messages": [
                {"role": "user", "content": "Where is my order?"},
                {"role": "assistant", "content": "It ships tomorrow."},
            ],
        },
        {
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "Invoice?"}, {"role": "assistant", "content": "Sent again."}],
        },
    ]


def test_prompt_completion_custom_keys_and_missing_source(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "pc.jsonl", [{"input": "q", "output": "a"}])
    result = convert_prompt_completion(source, tmp_path / "o.jsonl", prompt_key="input", completion_key="output")
    assert result.ok and _read(tmp_path / "o.jsonl")[0]["messages"][0] == {"role": "user", "content": "q"}
    with pytest.raises(FileNotFoundError, match="missing"):
        convert_prompt_completion(tmp_path / "missing.jsonl", tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def test_openai_chat_lifts_system_and_joins_text_parts(tmp_path: Path) -> None:
    source = _jsonl(
        tmp_path / "chat.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
                    {"role": "assistant", "content": "Hi."},
                ]
            }
        ],
    )
    result = convert_openai_chat(source, tmp_path / "out.jsonl")
    assert result.ok
    assert _read(tmp_path / "out.jsonl") == [
        {
            "system": "You are terse.",
            "messages": [{"role": "user", "content": "Hello\nthere"}, {"role": "assistant", "content": "Hi."}],
        }
    ]


TOOL_CALL = {
    "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."},
    ]
}
IMAGE = {
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "what is it"}, {"type": "image_url", "image_url": {}}]},
        {"role": "assistant", "content": "A cat."},
    ]
}
NAMED = {"messages": [{"role": "user", "content": "hi", "name": "bob"}, {"role": "assistant", "content": "hello"}]}
LATE_SYSTEM = {
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "x"},
        {"role": "assistant", "content": "y"},
    ]
}


def test_openai_chat_refuses_tools_images_names_with_line_numbers(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "chat.jsonl", [TOOL_CALL, IMAGE, NAMED, LATE_SYSTEM, {"prompt": "x"}])
    result = convert_openai_chat(source, tmp_path / "out.jsonl")
    assert [(e.code, e.line) for e in result.errors] == [
        ("unsupported", 1),
        ("unsupported", 2),
        ("unsupported", 3),
        ("role_invalid", 4),
        ("missing_messages", 5),
    ]
    assert "drop_unsupported=True" in result.errors[0].message
    assert result.written == 0 and (tmp_path / "out.jsonl").read_bytes() == b""


def test_openai_chat_drops_when_asked(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "chat.jsonl", [TOOL_CALL, IMAGE, NAMED])
    result = convert_openai_chat(source, tmp_path / "out.jsonl", drop_unsupported=True)
    assert result.ok and result.dropped == 1 and result.written == 2
    assert _read(tmp_path / "out.jsonl") == [
        {"messages": [{"role": "user", "content": "what is it"}, {"role": "assistant", "content": "A cat."}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    ]


def test_openai_weights_the_last_turn_must_be_trained_on(tmp_path: Path) -> None:
    def chat(*weights: int | None) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        for i, weight in enumerate(weights):
            messages += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
            if weight is not None:
                messages[-1]["weight"] = weight
        return {"messages": messages}

    source = _jsonl(tmp_path / "chat.jsonl", [chat(0, 1), chat(1, 0), chat(None)])
    result = convert_openai_chat(source, tmp_path / "out.jsonl")
    assert [(e.code, e.line) for e in result.errors] == [("unsupported", 2)]
    assert "weight 0" in result.errors[0].message
    assert result.written == 2  # the weights are dropped; the last assistant turn is what Bedrock trains on
    assert _read(tmp_path / "out.jsonl")[0]["messages"][1] == {"role": "assistant", "content": "a0"}
    dropped = convert_openai_chat(source, tmp_path / "dropped.jsonl", drop_unsupported=True)
    assert dropped.ok and dropped.dropped == 1 and dropped.written == 2


def test_csv_columns_system_and_bad_rows(tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text(
        "\ufeffquestion,answer,persona\n"
        '"Where is my order?","It ships, tomorrow.",Be brief.\n'
        "Refund?,,\n"
        '"multi\nline",fine,\n',
        encoding="utf-8",
    )
    result = convert_csv(
        source, tmp_path / "out.jsonl", user_column="question", assistant_column="answer", system_column="persona",
        system="Default.",
    )  # fmt: skip
    assert [(e.code, e.line) for e in result.errors] == [("content_type", 3)]
    assert _read(tmp_path / "out.jsonl") == [
        {
            "system": "Be brief.",
            "messages": [
                {"role": "user", "content": "Where is my order?"},
                {"role": "assistant", "content": "It ships, tomorrow."},
            ],
        },
        {
            "system": "Default.",
            "messages": [{"role": "user", "content": "multi\nline"}, {"role": "assistant", "content": "fine"}],
        },
    ]
    missing = convert_csv(source, tmp_path / "none.jsonl", user_column="prompt")
    assert [(e.code, e.line) for e in missing.errors] == [("missing_column", 1)]
    assert not (tmp_path / "none.jsonl").exists()


def test_rows_and_dataframe() -> None:
    rows = [{"q": "a?", "a": "b."}, {"q": "", "a": "x"}, {"q": "c?", "a": "d."}]
    result = records_from_rows(rows, user_column="q", assistant_column="a")
    assert result.written == 2 and [(e.code, e.line) for e in result.errors] == [("content_type", 2)]
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(rows)
    assert records_from_rows(frame, user_column="q", assistant_column="a").records == result.records


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _jsonl(tmp_path / "pc.jsonl", [{"prompt": f"q{i}", "completion": "a"} for i in range(100)])
    destination = tmp_path / "out.jsonl"
    destination.write_text("previous content\n")

    def exploding(data: Any, **_: Any) -> dict[str, Any]:
        if data["prompt"] == "q50":
            raise RuntimeError("disk full")
        return {"messages": [{"role": "user", "content": data["prompt"]}, {"role": "assistant", "content": "a"}]}

    monkeypatch.setattr("haiku_finetune.datasets.conversion.prompt_completion_record", exploding)
    with pytest.raises(RuntimeError, match="disk full"):
        convert_prompt_completion(source, destination)
    assert destination.read_text() == "previous content\n"  # untouched: the temp file was never renamed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "pc.jsonl"]


def test_converted_output_validates(tmp_path: Path) -> None:
    source = _jsonl(
        tmp_path / "pc.jsonl", [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(40)]
    )
    convert_prompt_completion(source, tmp_path / "out.jsonl")
    assert hf.validate_file(tmp_path / "out.jsonl").ok


def test_csv_fields_longer_than_the_csv_modules_default_limit(tmp_path: Path) -> None:
    long_text = "word " * 40_000  # 200,000 characters: over csv's default 131,072-character field limit
    source = tmp_path / "long.csv"
    source.write_text(f"prompt,completion\n{long_text},short\nq,a\n", encoding="utf-8")
    before = csv.field_size_limit()
    result = convert_csv(source, tmp_path / "out.jsonl")
    assert result.ok and result.written == 2
    assert _read(tmp_path / "out.jsonl")[0]["messages"][0]["content"] == long_text
    assert csv.field_size_limit() == before  # the process-wide limit is put back


def test_csv_bytes_that_are_not_utf8_are_reported_by_line(tmp_path: Path) -> None:
    source = tmp_path / "latin1.csv"
    source.write_bytes(b"prompt,completion\nq1,a1\ncaf\xe9?,a2\nq3,a3\n")  # line 3 is Latin-1
    result = convert_csv(source, tmp_path / "out.jsonl")
    assert [(e.code, e.line) for e in result.errors] == [("invalid_utf8", 3)]
    assert "'prompt'" in result.errors[0].message
    assert [r["messages"][0]["content"] for r in _read(tmp_path / "out.jsonl")] == ["q1", "q3"]

    header = tmp_path / "header.csv"
    header.write_bytes(b"pr\xe9mpt,completion\nq,a\n")
    bad_header = convert_csv(header, tmp_path / "none.jsonl")
    assert [(e.code, e.line) for e in bad_header.errors] == [("invalid_utf8", 1)]
    assert not (tmp_path / "none.jsonl").exists()


def test_csv_malformed_rows_are_reported_at_their_first_line(tmp_path: Path) -> None:
    source = tmp_path / "quotes.csv"
    source.write_text(
        "prompt,completion\n"  # 1
        "q1,a1\n"  # 2
        '"q2"x,a2\n'  # 3: text after a closing quote
        '"multi\nline",a3\n'  # 4-5: a good row over two lines
        "q4,a4\n"  # 6
        '"never closed,a5\n'  # 7: the quote runs on to the end of the file
        "q6,a6\n",  # 8
        encoding="utf-8",
    )
    result = convert_csv(source, tmp_path / "out.jsonl")
    assert [(e.code, e.line) for e in result.errors] == [("invalid_csv", 3), ("invalid_csv", 7)]
    assert "line 7" in result.errors[1].message
    assert [r["messages"][0]["content"] for r in _read(tmp_path / "out.jsonl")] == ["q1", "multi\nline", "q4"]
